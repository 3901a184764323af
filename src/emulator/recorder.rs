//! The request log: every request to an emulated service (not to `/_emulator/`), with the status
//! it got. Secret values (client secrets, tokens) are redacted before they are stored, so the
//! log can be printed by tests and demos.

use axum::body::{to_bytes, Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::errors::{ApiError, REQUEST_ID};
use super::state::AppState;

/// At most this many requests are kept; older ones are dropped first.
pub const LOG_CAPACITY: usize = 50_000;
const BODY_LIMIT: usize = 8 * 1024 * 1024;
const REDACTED: &str = "[redacted]";
const SECRET_KEYS: &[&str] = &[
    "client_secret",
    "clientSecret",
    "refresh_token",
    "refreshToken",
    "access_token",
    "accessToken",
    "password",
    "code",
];

/// One request the emulator answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, secret values redacted.
    pub query: Option<String>,
    pub status: u16,
    /// The body as JSON: JSON bodies as sent, form bodies as an object of strings; secret values
    /// redacted. `None` when there was no body or it was neither.
    pub body: Option<Value>,
    /// Request header names, lower case.
    pub headers: Vec<String>,
    /// When the request arrived (RFC 3339, real time).
    pub time: String,
    /// The `x-request-id` the emulator answered with.
    pub request_id: String,
    /// The length of the response body, bytes (what the client downloaded, headers aside).
    #[serde(default)]
    pub response_bytes: u64,
}

impl RecordedRequest {
    /// The decoded query parameters, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .as_deref()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
    }
}

/// The outermost middleware: assigns the request id, buffers the body for the log, answers with
/// `x-request-id` and records the request.
pub async fn record(State(shared): State<AppState>, request: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({"error_code": "413000", "message": "Request body too large"}),
            );
            return error.into_response();
        }
    };
    let mut entry = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(redact_query),
        status: 0,
        body: logged_body(parts.headers.get(header::CONTENT_TYPE), &bytes),
        headers: parts
            .headers
            .keys()
            .map(|k| k.as_str().to_owned())
            .collect(),
        time,
        request_id: request_id.clone(),
        response_bytes: 0,
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    let mut response = REQUEST_ID
        .scope(request_id.clone(), next.run(request))
        .await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    entry.status = response.status().as_u16();
    let size = response.body().size_hint();
    entry.response_bytes = size.exact().unwrap_or_else(|| size.lower());
    shared.push_request(entry);
    response
}

fn logged_body(content_type: Option<&HeaderValue>, bytes: &[u8]) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    let content_type = content_type.and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut value = if content_type.starts_with("application/x-www-form-urlencoded") {
        let form: Map<String, Value> = url::form_urlencoded::parse(bytes)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        Value::Object(form)
    } else {
        serde_json::from_slice(bytes).ok()?
    };
    redact(&mut value);
    Some(value)
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if SECRET_KEYS.contains(&key.as_str()) && value.is_string() {
                    *value = Value::String(REDACTED.to_owned());
                } else {
                    redact(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn redact_query(query: &str) -> String {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            let v = if SECRET_KEYS.contains(&k.as_ref()) {
                REDACTED.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    if pairs
        .iter()
        .all(|(k, _)| !SECRET_KEYS.contains(&k.as_str()))
    {
        return query.to_owned();
    }
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_bodies_and_queries() {
        let form = HeaderValue::from_static("application/x-www-form-urlencoded");
        let body = logged_body(
            Some(&form),
            b"grant_type=refresh_token&client_secret=s3cret&refresh_token=1000.x",
        );
        assert_eq!(
            body,
            Some(
                serde_json::json!({"grant_type": "refresh_token", "client_secret": REDACTED, "refresh_token": REDACTED})
            )
        );
        let json = HeaderValue::from_static("application/json");
        let body = logged_body(
            Some(&json),
            br#"{"auth":{"params":{"clientId":"1000.A","clientSecret":"s"}}}"#,
        );
        assert_eq!(
            body,
            Some(
                serde_json::json!({"auth": {"params": {"clientId": "1000.A", "clientSecret": REDACTED}}})
            )
        );
        assert_eq!(
            redact_query("a=1&client_secret=x"),
            "a=1&client_secret=%5Bredacted%5D"
        );
        assert_eq!(redact_query("property=name%3D%3Dx"), "property=name%3D%3Dx");
    }
}
