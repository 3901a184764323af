//! Source connections (docs/aep-api.md#source-connection): they must name an existing base connection of the same
//! connection spec; table sources need `data.format = tabular` and `params.tableName`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{json, Value};

use super::kinds::ConnectionKind;
use super::{invalid_spec, specs, SERVICE};
use crate::emulator::errors::{ApiError, ApiResult};
use crate::emulator::filter::{self, Collection};
use crate::emulator::gateway::Adobe;
use crate::emulator::state::{AppState, Ctx, Entity, Rendered, Sandbox, SourceRel};
use crate::emulator::validate::Fields;

const KIND: &str = "sourceConnections";
const PATCHABLE: &[&str] = &["/name", "/description", "/params"];

fn validate(body: &Value, cx: &Ctx<'_>) -> Result<(Value, SourceRel), ApiError> {
    let f = Fields::body(SERVICE, body)?;
    f.string("name", true)?;
    f.string("description", false)?;
    let data = f
        .object("data", true)?
        .ok_or_else(|| f.error("data is required."))?;
    let format = data.string("format", false)?;
    let (spec_id, version) = f.spec_info("connectionSpec", true)?;
    let spec =
        specs::connection_spec(&spec_id, cx.zoho_spec).ok_or_else(|| invalid_spec(&spec_id))?;
    let needs_base = spec["authSpec"].as_array().is_some_and(|a| !a.is_empty());
    let base_connection_id = f.string("baseConnectionId", needs_base)?.map(str::to_owned);
    if let Some(base_id) = &base_connection_id {
        let base = cx.sandbox.connections.get(base_id).ok_or_else(|| {
            ApiError::bad_reference(
                SERVICE,
                format!(
                    "baseConnectionId {base_id} does not name a base connection in sandbox {}.",
                    cx.sandbox.name
                ),
            )
        })?;
        if base.rel.spec_id != spec_id {
            return Err(f.error(format!(
                "connectionSpec.id {spec_id} differs from the connection spec {} of base connection {base_id}.",
                base.rel.spec_id
            )));
        }
    }
    let table_source = specs::is_table_source(&spec);
    let params = f.object("params", table_source)?;
    let mut table = None;
    let mut columns = None;
    if table_source {
        if format != Some("tabular") {
            return Err(f.error("data.format must be \"tabular\" for table-based sources."));
        }
        let params = params.ok_or_else(|| f.error("params is required."))?;
        table = params.string("tableName", true)?.map(str::to_owned);
        if let Some(items) = params.array("columns", false)? {
            let names = items
                .iter()
                .map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| f.error("params.columns must be column objects with a name, as explore returns them."))?;
            columns = Some(names);
        }
    }
    let mut doc = f.keep(&["name", "description", "baseConnectionId", "data", "params"]);
    doc["connectionSpec"] = json!({"id": spec_id, "version": version});
    Ok((
        doc,
        SourceRel {
            spec_id,
            base_connection_id,
            table,
            columns,
        },
    ))
}

pub(super) fn render<'a>(sandbox: &Sandbox, entity: &'a Entity<SourceRel>) -> Rendered<'a> {
    let mut value = Rendered::new(&entity.doc, sandbox.meta(entity));
    value.insert("state", json!("enabled"));
    if let Some(base) = entity
        .rel
        .base_connection_id
        .as_ref()
        .and_then(|id| sandbox.connections.get(id))
    {
        let inherited = json!({"baseConnection": {
            "id": base.id,
            "connectionSpec": base.doc["connectionSpec"],
        }});
        value.insert("inheritedAttributes", inherited);
    }
    value
}

/// This kind, for the generic create, get, list and PATCH handlers ([`super::kinds`]).
pub struct SourceConnections;

impl ConnectionKind for SourceConnections {
    type Rel = SourceRel;
    const KIND: &'static str = KIND;
    const COLLECTION: &'static Collection = &filter::SOURCE_CONNECTIONS;
    const COMPUTED: &'static [&'static str] = &["state", "inheritedAttributes"];
    const PATCHABLE: &'static [&'static str] = PATCHABLE;

    fn entities(sandbox: &Sandbox) -> &BTreeMap<String, Entity<SourceRel>> {
        &sandbox.source_connections
    }

    fn entities_mut(sandbox: &mut Sandbox) -> &mut BTreeMap<String, Entity<SourceRel>> {
        &mut sandbox.source_connections
    }

    fn validate(body: &Value, cx: &Ctx<'_>) -> Result<(Value, SourceRel), ApiError> {
        validate(body, cx)
    }

    fn render<'a>(sandbox: &Sandbox, entity: &'a Entity<SourceRel>) -> Rendered<'a> {
        render(sandbox, entity)
    }
}

/// A source or target connection that a flow uses cannot be deleted (`1447-400`).
pub fn refuse_if_used(sandbox: &Sandbox, id: &str, source: bool) -> Result<(), ApiError> {
    let flows: Vec<&str> = sandbox
        .flows
        .values()
        .filter(|(flow, _)| {
            let ids = if source {
                &flow.rel.source_ids
            } else {
                &flow.rel.target_ids
            };
            ids.iter().any(|i| i == id)
        })
        .map(|(flow, _)| flow.id.as_str())
        .collect();
    if flows.is_empty() {
        return Ok(());
    }
    let message = format!(
        "Found active flows containing id {id}: {}. Delete those flows before deleting this connection.",
        flows.join(", ")
    );
    Err(ApiError::flow(
        StatusCode::BAD_REQUEST,
        1447,
        "Bad Request",
        &message,
    ))
}

pub async fn delete(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        if !cx.sandbox.source_connections.contains_key(&id) {
            return Err(ApiError::not_found(SERVICE, KIND, &id));
        }
        refuse_if_used(cx.sandbox, &id, true)?;
        cx.sandbox.source_connections.remove(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
