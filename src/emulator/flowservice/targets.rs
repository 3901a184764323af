//! Target connections (reference §7.3): the data lake spec, an existing dataset in
//! `params.dataSetId`, and when `data.schema.id` is given, the dataset's schema.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};

use super::sources::refuse_if_used;
use super::{
    created, invalid_spec, items, list_entities, parse_list, patch_entity, specs, SERVICE,
};
use crate::emulator::errors::{ApiError, ApiResult};
use crate::emulator::filter;
use crate::emulator::gateway::{Adobe, JsonBody};
use crate::emulator::state::{AppState, Ctx, Entity, Rendered, Sandbox, TargetRel};
use crate::emulator::validate::Fields;

const KIND: &str = "targetConnections";
const PATCHABLE: &[&str] = &["/name", "/description", "/params"];

pub fn schema_mismatch(
    dataset_id: &str,
    dataset_schema: &str,
    other: &str,
    what: &str,
) -> ApiError {
    let message = format!(
        "Error while matching schema in target dataset {dataset_id} ({dataset_schema}) with schema in {what} ({other}). Schema with same id and version must be used in both {what} and target dataset."
    );
    ApiError::flow(StatusCode::BAD_REQUEST, 1425, "Bad Request", &message)
}

fn validate(body: &Value, cx: &Ctx<'_>) -> Result<(Value, TargetRel), ApiError> {
    let f = Fields::body(SERVICE, body)?;
    f.string("name", false)?;
    f.string("description", false)?;
    let data = f
        .object("data", true)?
        .ok_or_else(|| f.error("data is required."))?;
    data.string("format", false)?;
    let schema_id = match data.object("schema", false)? {
        Some(schema) => {
            schema.string("version", false)?;
            schema.string("id", true)?.map(str::to_owned)
        }
        None => None,
    };
    let (spec_id, version) = f.spec_info("connectionSpec", false)?;
    let spec =
        specs::connection_spec(&spec_id, cx.zoho_spec).ok_or_else(|| invalid_spec(&spec_id))?;
    if !specs::is_target(&spec) {
        return Err(invalid_spec(&spec_id));
    }
    let params = f
        .object("params", true)?
        .ok_or_else(|| f.error("params is required."))?;
    let dataset_id = params
        .string("dataSetId", true)?
        .unwrap_or_default()
        .to_owned();
    let dataset = cx.sandbox.datasets.get(&dataset_id).ok_or_else(|| {
        ApiError::bad_reference(
            SERVICE,
            format!("params.dataSetId {dataset_id} does not name a dataset in sandbox {}. You must provide a valid dataset ID.", cx.sandbox.name),
        )
    })?;
    if let (Some(given), Some(actual)) = (&schema_id, &dataset.schema_id) {
        if crate::emulator::catalog::canonical_schema(given) != Some(actual.as_str()) {
            return Err(schema_mismatch(
                &dataset_id,
                actual,
                given,
                "target connection",
            ));
        }
    }
    let mut doc = f.keep(&["name", "description", "data", "params"]);
    doc["connectionSpec"] = json!({"id": spec_id, "version": version});
    Ok((
        doc,
        TargetRel {
            spec_id,
            dataset_id: Some(dataset_id),
        },
    ))
}

pub(super) fn render<'a>(sandbox: &Sandbox, entity: &'a Entity<TargetRel>) -> Rendered<'a> {
    let mut value = Rendered::new(&entity.doc, sandbox.meta(entity));
    value.insert("state", json!("enabled"));
    value
}

pub async fn create(
    State(shared): State<AppState>,
    adobe: Adobe,
    JsonBody(body): JsonBody,
) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let (doc, rel) = validate(&body, cx)?;
        let entity = Entity::new(doc, rel, cx.now);
        let response = created(KIND, &entity.id, &entity.etag);
        cx.sandbox
            .target_connections
            .insert(entity.id.clone(), entity);
        Ok(response)
    })
}

pub async fn get(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let entity = cx
            .sandbox
            .target_connections
            .get(&id)
            .ok_or_else(|| ApiError::not_found(SERVICE, KIND, &id))?;
        Ok(items(render(cx.sandbox, entity)))
    })
}

pub async fn list(
    State(shared): State<AppState>,
    adobe: Adobe,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = parse_list(&shared, query, &filter::TARGET_CONNECTIONS)?;
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let sandbox = &*cx.sandbox;
        let entities = sandbox.target_connections.values();
        Ok(list_entities(
            &query,
            &filter::TARGET_CONNECTIONS,
            sandbox,
            entities,
            &["state"],
            &|e| render(sandbox, e),
        ))
    })
}

pub async fn patch(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        patch_entity(
            cx,
            |sandbox| &mut sandbox.target_connections,
            KIND,
            &id,
            &headers,
            &body,
            PATCHABLE,
            validate,
        )
    })
}

pub async fn delete(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        if !cx.sandbox.target_connections.contains_key(&id) {
            return Err(ApiError::not_found(SERVICE, KIND, &id));
        }
        refuse_if_used(cx.sandbox, &id, false)?;
        cx.sandbox.target_connections.remove(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
