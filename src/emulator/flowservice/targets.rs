//! Target connections (docs/aep-api.md#target-connection): the data lake spec, an existing dataset in
//! `params.dataSetId`, and when `data.schema.id` is given, the dataset's schema.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{json, Value};

use super::kinds::ConnectionKind;
use super::sources::refuse_if_used;
use super::{invalid_spec, specs, SERVICE};
use crate::emulator::errors::{ApiError, ApiResult};
use crate::emulator::filter::{self, Collection};
use crate::emulator::gateway::Adobe;
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

/// This kind, for the generic create, get, list and PATCH handlers ([`super::kinds`]).
pub struct TargetConnections;

impl ConnectionKind for TargetConnections {
    type Rel = TargetRel;
    const KIND: &'static str = KIND;
    const COLLECTION: &'static Collection = &filter::TARGET_CONNECTIONS;
    const COMPUTED: &'static [&'static str] = &["state"];
    const PATCHABLE: &'static [&'static str] = PATCHABLE;

    fn entities(sandbox: &Sandbox) -> &BTreeMap<String, Entity<TargetRel>> {
        &sandbox.target_connections
    }

    fn entities_mut(sandbox: &mut Sandbox) -> &mut BTreeMap<String, Entity<TargetRel>> {
        &mut sandbox.target_connections
    }

    fn validate(body: &Value, cx: &Ctx<'_>) -> Result<(Value, TargetRel), ApiError> {
        validate(body, cx)
    }

    fn render<'a>(sandbox: &Sandbox, entity: &'a Entity<TargetRel>) -> Rendered<'a> {
        render(sandbox, entity)
    }
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
