//! The control API under `/_emulator/` (never part of the real services). It needs no auth and
//! is outside the request log, faults and rate limits.
//!
//! The endpoints are listed in the module documentation of [`super`].

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::faults::Faults;
use super::gateway::{query_pairs, query_param};
use super::seed;
use super::state::{AppState, Shared};
use super::{catalog, flowservice};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_emulator/health", get(health))
        .route("/_emulator/requests", get(requests).delete(clear_requests))
        .route(
            "/_emulator/faults",
            get(faults).put(put_faults).patch(patch_faults),
        )
        .route("/_emulator/clock", get(clock))
        .route("/_emulator/clock/advance", post(advance))
        .route("/_emulator/zoho/grant-codes", post(grant_code))
        .route("/_emulator/state", get(state))
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": message.into()})),
    )
        .into_response()
}

async fn health(State(shared): State<AppState>) -> Response {
    Json(json!({"status": "ok", "url": shared.base_url()})).into_response()
}

async fn requests(State(shared): State<AppState>) -> Response {
    Json(shared.requests()).into_response()
}

async fn clear_requests(State(shared): State<AppState>) -> Response {
    shared.clear_requests();
    StatusCode::NO_CONTENT.into_response()
}

async fn faults(State(shared): State<AppState>) -> Response {
    Json(shared.faults()).into_response()
}

/// Replaces every setting; fields left out take their fault-free defaults.
async fn put_faults(State(shared): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(faults) => {
            shared.set_faults(faults.clone());
            Json(faults).into_response()
        }
        Err(e) => bad_request(format!("invalid fault settings: {e}")),
    }
}

/// Changes only the settings given.
async fn patch_faults(State(shared): State<AppState>, body: Bytes) -> Response {
    let current = serde_json::to_value(shared.faults()).unwrap_or_default();
    let changes: Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(changes) => changes,
        Err(e) => return bad_request(format!("the body must be a JSON object of settings: {e}")),
    };
    let mut merged = current.as_object().cloned().unwrap_or_default();
    merged.extend(changes);
    match serde_json::from_value::<Faults>(Value::Object(merged)) {
        Ok(faults) => {
            shared.set_faults(faults.clone());
            Json(faults).into_response()
        }
        Err(e) => bad_request(format!("invalid fault settings: {e}")),
    }
}

fn clock_json(shared: &Shared) -> Value {
    let now = shared.clock.now_ms();
    let rfc3339 = chrono::DateTime::from_timestamp_millis(now)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    json!({
        "now_ms": now,
        "now": rfc3339,
        "wall_ms": shared.clock.wall_ms(),
        "time_scale": shared.clock.scale(),
    })
}

async fn clock(State(shared): State<AppState>) -> Response {
    Json(clock_json(&shared)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: Option<f64>,
    by: Option<String>,
}

/// `POST /_emulator/clock/advance` with `{"seconds": 3600}`, `{"by": "1h"}` or `?by=1h`.
async fn advance(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let pairs = query_pairs(query.as_deref());
    let request = if body.is_empty() {
        Advance {
            seconds: None,
            by: query_param(&pairs, "by").map(str::to_owned),
        }
    } else {
        match serde_json::from_slice::<Advance>(&body) {
            Ok(request) => request,
            Err(e) => {
                return bad_request(format!(
                    "expected {{\"seconds\": N}} or {{\"by\": \"1h\"}}: {e}"
                ))
            }
        }
    };
    let duration = match (request.seconds, request.by) {
        (Some(seconds), None) if seconds.is_finite() && seconds >= 0.0 => {
            Duration::from_secs_f64(seconds)
        }
        (None, Some(by)) => match humantime::parse_duration(&by) {
            Ok(duration) => duration,
            Err(e) => return bad_request(format!("invalid duration '{by}': {e}")),
        },
        _ => return bad_request("give exactly one of seconds (non-negative) or by (e.g. \"90s\")"),
    };
    shared.clock.advance(duration);
    Json(clock_json(&shared)).into_response()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct GrantRequest {
    redirect_uri: Option<String>,
    scope: Option<String>,
}

/// Mints a Zoho grant code, as the API console's Self Client (no `redirect_uri`) or the
/// consent redirect (with one) would. Returns the code and the redirect URL form.
pub fn mint(shared: &Shared, redirect_uri: Option<String>, scope: Option<String>) -> Value {
    let now = shared.clock.wall_ms();
    let base = shared.base_url();
    let code = shared
        .data()
        .zoho
        .mint_code(now, redirect_uri.clone(), scope);
    let target = redirect_uri.unwrap_or_else(|| format!("{base}/callback"));
    let separator = if target.contains('?') { '&' } else { '?' };
    json!({
        "code": code,
        "redirect_url": format!("{target}{separator}code={code}&location=us&accounts-server={base}"),
        "location": "us",
        "accounts_server": base,
        "expires_in": 180,
    })
}

async fn grant_code(State(shared): State<AppState>, body: Bytes) -> Response {
    let request = if body.is_empty() {
        GrantRequest::default()
    } else {
        match serde_json::from_slice::<GrantRequest>(&body) {
            Ok(request) => request,
            Err(e) => {
                return bad_request(format!("expected {{\"redirect_uri\"?, \"scope\"?}}: {e}"))
            }
        }
    };
    Json(mint(&shared, request.redirect_uri, request.scope)).into_response()
}

/// Everything each sandbox holds, as the services render it (secrets masked), plus the runs.
pub fn dump(shared: &Shared, only: Option<&str>) -> Value {
    let mut sandboxes = Map::new();
    for name in seed::SANDBOXES
        .iter()
        .filter(|n| only.is_none_or(|o| o == **n))
    {
        let sandbox = shared.with_sandbox(name, |cx| {
            let mut value = flowservice::dump(cx);
            value["dataSets"] = json!(catalog::dump(cx.sandbox));
            value["mappingSets"] = json!(cx
                .sandbox
                .mapping_sets
                .values()
                .map(|m| m.doc.clone())
                .collect::<Vec<_>>());
            Ok(value)
        });
        if let Ok(value) = sandbox {
            sandboxes.insert((*name).to_owned(), value);
        }
    }
    json!({"sandboxes": sandboxes})
}

async fn state(State(shared): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let pairs = query_pairs(query.as_deref());
    Json(dump(&shared, query_param(&pairs, "sandbox"))).into_response()
}
