//! Adobe IMS: `POST /ims/token/v3` with `grant_type=client_credentials` (docs/aep-api.md#ims-token).
//! Parameters may come in the form body or the query string. Issued tokens expire after the
//! configured `token_ttl` of wall time; the gateway then answers `401013`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use super::errors::ApiError;
use super::seed;
use super::state::AppState;

#[derive(Debug, Default)]
pub struct ImsState {
    tokens: HashMap<String, IssuedToken>,
}

#[derive(Debug)]
struct IssuedToken {
    client_id: String,
    expires_at: i64,
}

impl ImsState {
    /// The client a token was issued to, while it is valid at wall time `now`.
    pub fn client_of(&self, token: &str, now: i64) -> Option<String> {
        self.tokens
            .get(token)
            .filter(|t| t.expires_at > now)
            .map(|t| t.client_id.clone())
    }

    fn issue(&mut self, client_id: &str, now: i64, ttl_ms: i64) -> String {
        self.tokens.retain(|_, t| t.expires_at > now);
        let token = format!(
            "eyJhbGciOiJSUzI1NiIsIng1dSI6Imltc19uYTEta2V5LWF0LTEuY2VyIn0.{}.{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        self.tokens.insert(
            token.clone(),
            IssuedToken {
                client_id: client_id.to_owned(),
                expires_at: now + ttl_ms,
            },
        );
        token
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/ims/token/v3", post(token))
}

/// Form-body parameters win over query parameters of the same name.
pub fn form_params(query: Option<&str>, body: &[u8]) -> HashMap<String, String> {
    let mut params: HashMap<String, String> = query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    params.extend(url::form_urlencoded::parse(body).into_owned());
    params
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> ApiError {
    ApiError::new(
        status,
        json!({"error": error, "error_description": description}),
    )
}

async fn token(State(shared): State<AppState>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let params = form_params(query.as_deref(), &body);
    let get = |key: &str| {
        params
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let result = (|| {
        match get("grant_type") {
            Some("client_credentials") => {}
            Some(other) => {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    &format!("grant_type {other} is not supported; use client_credentials"),
                ))
            }
            None => {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "grant_type parameter is missing",
                ))
            }
        }
        let Some(client_id) = get("client_id") else {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_id parameter is missing",
            ));
        };
        if client_id != seed::IMS_CLIENT_ID {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                "invalid client_id parameter",
            ));
        }
        if get("client_secret") != Some(seed::IMS_CLIENT_SECRET) {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "invalid client_secret parameter",
            ));
        }
        if get("scope").is_none() {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "scope parameter is missing",
            ));
        }
        Ok(client_id.to_owned())
    })();
    let client_id = match result {
        Ok(client_id) => client_id,
        Err(error) => return error.into_response(),
    };
    let ttl = shared.faults().token_ttl;
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4);
    let now = shared.clock.wall_ms();
    let access_token = shared.data().ims.issue(&client_id, now, ttl_ms);
    Json(json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": ttl.as_secs(),
    }))
    .into_response()
}
