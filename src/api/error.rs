//! One typed error for every failed remote call, parsed leniently from every error shape of
//! reference §11.

use std::fmt;

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
    /// Seconds from a `Retry-After` header, when the service sent one.
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    pub fn status(call: &str, status: u16, body: &[u8], request_id: Option<String>) -> Self {
        let (code, message) = parse_error_body(body);
        let message = message.unwrap_or_else(|| {
            if body.is_empty() {
                String::from("(empty body)")
            } else {
                truncate(&String::from_utf8_lossy(body), 512)
            }
        });
        Self {
            call: call.to_owned(),
            kind: ApiErrorKind::Status,
            status: Some(status),
            code,
            message,
            request_id,
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
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Takes the message from the first present of `report.detailed-message`, `detail`,
/// `errorMessage`, `message`, `title`; the code from `type`'s last path segment or `error_code`.
fn parse_error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
    let message = text(value.pointer("/report/detailed-message"))
        .or_else(|| text(value.get("detail")))
        .or_else(|| text(value.get("errorMessage")))
        .or_else(|| text(value.get("message")))
        .or_else(|| text(value.get("title")));
    let code = text(value.get("type"))
        .and_then(|t| t.rsplit('/').next().map(str::to_owned))
        .filter(|c| !c.is_empty() && c != "type")
        .or_else(|| match value.get("error_code") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        });
    (code, message)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
