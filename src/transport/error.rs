//! One typed error for every failed remote call, parsed leniently from every error shape of
//! docs/aep-api.md#errors.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// What went wrong with a call, coarsely: enough to decide whether to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// The service answered with a non-success status.
    Status,
    /// No answer: connect error, reset, timeout.
    Transport,
    /// An answer we could not understand (bad JSON, wrong shape, HTML from a gateway).
    Decode,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    /// `METHOD /path` of the call, without query (never carries a secret).
    pub call: String,
    pub kind: ApiErrorKind,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// e.g. `FLOW-1439-404`, `401013`.
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
    /// From a `Retry-After` header, when the service sent one.
    pub retry_after: Option<Duration>,
}

/// The most of an unparsed body that goes into a message.
const BODY_EXCERPT: usize = 512;

impl ApiError {
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    /// The gateway rejected the access token as invalid or expired (`401013`): a fresh IMS token
    /// may succeed. The request was not processed.
    pub fn is_expired_token(&self) -> bool {
        self.status == Some(401)
            && (self.code.as_deref() == Some("401013")
                || self
                    .message
                    .to_ascii_lowercase()
                    .contains("token is not valid")
                || self.message.to_ascii_lowercase().contains("expired"))
    }

    /// 429: the service is throttling. The request was not processed.
    pub fn is_throttled(&self) -> bool {
        self.status == Some(429)
    }

    /// A 5xx answer.
    pub fn is_server_error(&self) -> bool {
        self.status.is_some_and(|s| s >= 500)
    }

    /// An error that says nothing about the request itself: no answer, throttling, or a server
    /// fault. The same read may succeed later.
    pub fn is_transient(&self) -> bool {
        self.kind == ApiErrorKind::Transport || self.is_throttled() || self.is_server_error()
    }

    /// 412: the `If-Match` etag is stale (docs/aep-api.md#etags).
    pub fn is_precondition_failed(&self) -> bool {
        self.status == Some(412)
    }

    /// Builds the error for a non-success answer from its status, body and `x-request-id`.
    pub fn status(call: &str, status: u16, body: &[u8], request_id: Option<String>) -> Self {
        let parsed = parse_error_body(body);
        let message = parsed
            .message
            .unwrap_or_else(|| describe_unparsed(status, body));
        Self {
            call: call.to_owned(),
            kind: ApiErrorKind::Status,
            status: Some(status),
            code: parsed.code,
            message,
            request_id: request_id.or(parsed.request_id),
            retry_after: None,
        }
    }

    pub fn transport(call: &str, message: impl Into<String>) -> Self {
        Self {
            call: call.to_owned(),
            kind: ApiErrorKind::Transport,
            status: None,
            code: None,
            message: message.into(),
            request_id: None,
            retry_after: None,
        }
    }

    pub fn decode(call: &str, message: impl Into<String>) -> Self {
        Self {
            call: call.to_owned(),
            kind: ApiErrorKind::Decode,
            status: None,
            code: None,
            message: message.into(),
            request_id: None,
            retry_after: None,
        }
    }

    /// What the user can do about it, for the errors whose cause is known (docs/aep-api.md#errors).
    pub fn hint(&self) -> Option<&'static str> {
        let code = self.code.as_deref().unwrap_or("");
        let hint = match (self.status, code) {
            (_, "invalid_client" | "unauthorized_client") => "check adobe.client_id and adobe.client_secret (Developer Console → project → OAuth Server-to-Server credential)",
            (_, "invalid_scope") => "check adobe.scopes against the scopes the Developer Console lists for the credential",
            (_, "403010" | "401013") => "check adobe.client_id/client_secret and that the credential is not revoked",
            (_, "403000" | "403003") => "check adobe.client_id: it is sent as x-api-key",
            (_, "400003" | "403027") => "check adobe.org_id (…@AdobeOrg) and that the org has an AEP product profile",
            (_, "403025") => "check adobe.org_id: the credential is not entitled for that org (it must be the Organization ID, …@AdobeOrg, of the Developer Console project that holds the credential); when it is, add the Experience Platform API to that project",
            (_, c) if c.ends_with("2000-401") => "check adobe.org_id: the access token has no access to that org (use the Organization ID, …@AdobeOrg, of the Developer Console project that holds the credential)",
            (_, c) if c.ends_with("-403") => "the credential lacks a permission: check its product profile (sources manage/view, datasets) in the Admin Console",
            (_, c) if c.starts_with("FLOW-210") && c.ends_with("-404") => "check adobe.sandbox: the sandbox was not found",
            (Some(401), _) => "check the Adobe credential (adobe.client_id, adobe.client_secret, adobe.org_id)",
            (Some(403), _) => "the credential lacks a permission: check its product profile in the Admin Console",
            (Some(429), _) => "the service is throttling requests; try again later or lower --concurrency",
            (Some(s), _) if s >= 500 => "the service failed; try again later",
            (None, _) if self.kind == ApiErrorKind::Transport => "check the network and the URL settings (adobe.platform_url, adobe.ims_url)",
            _ => return None,
        };
        Some(hint)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed", self.call)?;
        if let Some(status) = self.status {
            write!(f, " with {status}")?;
        }
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        if let Some(hint) = self.hint() {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

#[derive(Default)]
struct ParsedBody {
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

/// Takes the message from the first present of `report.detailed-message`, `detail`,
/// `errorMessage`, `message`, `error_description`, `title`; the code from `type`'s last path
/// segment, `error_code`, `code` or an OAuth `error`; the request id from `report.request-id`.
/// A list of errors (`[...]` or `{"errors": [...]}`) is read from its first element.
fn parse_error_body(body: &[u8]) -> ParsedBody {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return ParsedBody::default();
    };
    let value = match &value {
        Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
        Value::Object(map) => match map.get("errors") {
            Some(Value::Array(items)) if !items.is_empty() => {
                let mut first = items[0].clone();
                // Keep the envelope's request id when the item has none.
                if let (Value::Object(item), Some(report)) = (&mut first, map.get("report")) {
                    item.entry("report").or_insert_with(|| report.clone());
                }
                first
            }
            _ => value.clone(),
        },
        _ => return ParsedBody::default(),
    };
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let code_of = |v: Option<&Value>| match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let message = text(value.pointer("/report/detailed-message"))
        .or_else(|| text(value.get("detail")))
        .or_else(|| text(value.get("errorMessage")))
        .or_else(|| text(value.get("message")))
        .or_else(|| text(value.get("error_description")))
        .or_else(|| text(value.get("title")))
        .or_else(|| text(value.get("error")));
    // `type` is a URI ending in the code (`…/errors/FLOW-1439-404`), except placeholder URIs such
    // as `/placeholder/type/uri`, whose last segment is not a code.
    let code = text(value.get("type"))
        .and_then(|t| t.rsplit('/').next().map(str::to_owned))
        .filter(|c| c.chars().any(|ch| ch.is_ascii_digit()))
        .or_else(|| code_of(value.get("error_code")))
        .or_else(|| code_of(value.get("code")))
        .or_else(|| text(value.get("error")));
    let request_id = text(value.pointer("/report/request-id"))
        .or_else(|| text(value.get("request_id")))
        .or_else(|| text(value.get("requestId")));
    ParsedBody {
        code,
        message,
        request_id,
    }
}

/// A message for a body without a recognisable error shape: an HTML gateway page, plain text or
/// nothing at all.
fn describe_unparsed(status: u16, body: &[u8]) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error");
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return format!("{reason} (empty body)");
    }
    if looks_like_html(text) {
        let title = html_title(text)
            .map(|t| format!(": {t}"))
            .unwrap_or_default();
        return format!("{reason}: an HTML page came back instead of JSON (a gateway or proxy answered?){title}");
    }
    format!("{reason}: {}", truncate(text, BODY_EXCERPT))
}

pub(crate) fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .trim_start()
        .chars()
        .take(512)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with('<')
        && ["<!doctype", "<html", "<head", "<body", "<title"]
            .iter()
            .any(|tag| head.contains(tag))
}

fn html_title(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let title = text.get(start..end)?.trim();
    (!title.is_empty()).then(|| truncate(title, 120))
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> ApiError {
        ApiError::status("GET /x", 400, body.as_bytes(), None)
    }

    #[test]
    fn placeholder_type_is_not_a_code() {
        let e = parse(
            r#"{"type":"/placeholder/type/uri","status":400,"title":"BadRequestError","detail":"A valid content-type must be specified"}"#,
        );
        assert_eq!(e.code, None);
        assert_eq!(e.message, "A valid content-type must be specified");
    }

    #[test]
    fn html_title_is_shown() {
        let e = ApiError::status(
            "GET /x",
            502,
            b"<html><head><title>502 Bad Gateway</title></head></html>",
            None,
        );
        assert!(e.message.contains("HTML page"), "{}", e.message);
        assert!(e.message.contains("502 Bad Gateway"), "{}", e.message);
    }

    #[test]
    fn long_text_is_cut() {
        let body = "x".repeat(5000);
        let e = ApiError::status("GET /x", 500, body.as_bytes(), None);
        assert!(e.message.len() < 600);
    }
}
