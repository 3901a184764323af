//! Schema Registry lookups of the seeded schema, so that `check` can verify a schema id:
//! `GET /data/foundation/schemaregistry/tenant/schemas/{url-encoded $id or meta:altId}` with
//! `Accept: application/vnd.adobe.xed+json;version=1` (any `xed` variant).

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::catalog::canonical_schema;
use super::errors::{ApiError, ApiResult, Service, SCHEMA_BASE};
use super::gateway::Adobe;
use super::seed;
use super::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        &format!("{SCHEMA_BASE}/tenant/schemas/{{*id}}"),
        get(schema),
    )
}

async fn schema(_: Adobe, Path(id): Path<String>, headers: HeaderMap) -> ApiResult {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !accept.starts_with("application/vnd.adobe.xed") || !accept.contains("version=") {
        return Err(ApiError::problem(
            Service::SchemaRegistry,
            StatusCode::NOT_ACCEPTABLE,
            1010,
            "Not Acceptable",
            "Send Accept: application/vnd.adobe.xed+json;version=1 to read a schema.",
        ));
    }
    let id = id.trim_start_matches('/');
    if canonical_schema(id).is_none() {
        return Err(ApiError::problem(
            Service::SchemaRegistry,
            StatusCode::NOT_FOUND,
            1010,
            "Not Found",
            &format!("The schema {id} was not found in the tenant container."),
        ));
    }
    Ok(Json(seed::schema_json()).into_response())
}
