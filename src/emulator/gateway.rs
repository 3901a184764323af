//! The Adobe I/O gateway in front of Flow Service, Catalog, Data Prep and the Schema Registry:
//! the required headers of docs/aep-api.md#common-conventions and the errors the gateway and the services answer when
//! one is missing or wrong (docs/aep-api.md#errors), checked in the order the gateway applies them.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::Value;

use super::errors::{ApiError, Service};
use super::seed;
use super::state::AppState;

/// A request that passed the gateway: a valid token for the org, and a known sandbox.
#[derive(Debug, Clone)]
pub struct Adobe {
    pub sandbox: String,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

impl FromRequestParts<AppState> for Adobe {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let service = Service::of(parts.uri.path());
        let headers = &parts.headers;
        let Some(authorization) = header_str(headers, header::AUTHORIZATION.as_str()) else {
            return Err(ApiError::gateway(
                StatusCode::FORBIDDEN,
                "403010",
                "Oauth token is missing.",
            ));
        };
        let invalid_token = || {
            ApiError::gateway(
                StatusCode::UNAUTHORIZED,
                "401013",
                "Oauth token is not valid",
            )
        };
        let token = match authorization.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(invalid_token()),
        };
        let now = state.clock.wall_ms();
        let client_id = state
            .data()
            .ims
            .client_of(token, now)
            .ok_or_else(invalid_token)?;
        match header_str(headers, "x-api-key") {
            None | Some("") => {
                return Err(ApiError::gateway(
                    StatusCode::FORBIDDEN,
                    "403000",
                    "Api Key is required",
                ))
            }
            Some(key) if key != client_id => {
                return Err(ApiError::gateway(
                    StatusCode::FORBIDDEN,
                    "403003",
                    "Api Key is invalid",
                ))
            }
            Some(_) => {}
        }
        match header_str(headers, "x-gw-ims-org-id") {
            None | Some("") => {
                return Err(ApiError::gateway(
                    StatusCode::BAD_REQUEST,
                    "400003",
                    "Missing header",
                ))
            }
            Some(org) if org != seed::ORG_ID => {
                return Err(ApiError::gateway(
                    StatusCode::FORBIDDEN,
                    "403025",
                    "Profile is not valid",
                ))
            }
            Some(_) => {}
        }
        let sandbox = match header_str(headers, "x-sandbox-name") {
            None | Some("") => {
                return Err(ApiError::problem(
                    service,
                    StatusCode::BAD_REQUEST,
                    2105,
                    "Bad Request",
                    "The x-sandbox-name header is missing. Send the all-lowercase name of the sandbox, e.g. prod.",
                ))
            }
            Some(name) => name.to_owned(),
        };
        if !state.data().sandboxes.contains_key(&sandbox) {
            let message = format!(
                "Sandbox {sandbox} is not found for org {}. Check the x-sandbox-name header.",
                seed::ORG_ID
            );
            return Err(ApiError::problem(
                service,
                StatusCode::NOT_FOUND,
                2103,
                "Sandbox not found",
                &message,
            ));
        }
        Ok(Adobe { sandbox })
    }
}

/// A JSON request body behind `Content-Type: application/json` (or `application/*+json`).
pub struct JsonBody(pub Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let service = Service::of(request.uri().path());
        let content_type = header_str(request.headers(), header::CONTENT_TYPE.as_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let essence = content_type.split(';').next().unwrap_or("").trim();
        let is_json = essence == "application/json"
            || (essence.starts_with("application/") && essence.ends_with("+json"));
        if !is_json {
            return Err(ApiError::content_type());
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            ApiError::invalid(service, format!("The request body could not be read: {e}"))
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            ApiError::invalid(service, format!("The request body is not valid JSON: {e}"))
        })
    }
}

/// The query string's pairs in order, decoded (`+` is a space, as in forms).
pub fn query_pairs(parts_query: Option<&str>) -> Vec<(String, String)> {
    parts_query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// The first value of query parameter `name`.
pub fn query_param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
