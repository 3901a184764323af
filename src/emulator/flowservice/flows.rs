//! Flows (docs/aep-api.md#dataflow to #deleting): create against a known flow spec whose source and target spec
//! lists allow the connections' specs, with existing source/target connections and mapping set;
//! `scheduleParams` checked by the `CRMToAEP` schedule rules (integers or strings, docs/aep-api.md#disagreements #8-#10);
//! get, list, PATCH with If-Match, enable/disable, delete.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Map, Value};

use super::targets::schema_mismatch;
use super::{created, items, list_entities, parse_list, specs, updated, SERVICE};
use crate::emulator::errors::{ApiError, ApiResult};
use crate::emulator::filter;
use crate::emulator::gateway::{query_pairs, query_param, Adobe, JsonBody};
use crate::emulator::patch;
use crate::emulator::runs::Schedule;
use crate::emulator::state::{AppState, Ctx, Entity, FlowRel, FlowRuntime, Rendered, Sandbox};
use crate::emulator::validate::Fields;

const KIND: &str = "flows";
const PATCHABLE: &[&str] = &[
    "/name",
    "/description",
    "/scheduleParams",
    "/transformations",
    "/options",
];

fn spec_ids(spec: &Value, key: &str) -> Vec<String> {
    spec[key]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn not_allowed(kind: &str, id: &str, spec_id: &str, flow_spec: &Value) -> ApiError {
    let message = format!(
        "The connection spec {spec_id} of {kind} {id} is not supported by flow spec {} ({}). Check the flow spec's {kind} spec ids.",
        flow_spec["name"].as_str().unwrap_or_default(),
        flow_spec["id"].as_str().unwrap_or_default(),
    );
    ApiError::flow(StatusCode::BAD_REQUEST, 1413, "Bad Request", &message)
}

/// Reads `mappingVersion` sent as a string (spec) or an integer (docs), docs/aep-api.md#disagreements #10.
fn mapping_version(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn validate(body: &Value, cx: &Ctx<'_>) -> Result<(Value, FlowRel), ApiError> {
    let f = Fields::body(SERVICE, body)?;
    if f.has("state") {
        return Err(ApiError::flow(
            StatusCode::BAD_REQUEST,
            1410,
            "Bad Request",
            "`State` is not allowed in the create flow request.",
        ));
    }
    f.string("name", true)?;
    f.string("description", false)?;
    let flow_spec = f
        .object("flowSpec", true)?
        .ok_or_else(|| f.error("flowSpec is required."))?;
    let flow_spec_id = flow_spec.string("id", true)?.unwrap_or_default().to_owned();
    let flow_spec_version = flow_spec
        .string("version", false)?
        .unwrap_or("1.0")
        .to_owned();
    let spec = specs::flow_spec(&flow_spec_id, cx.zoho_spec).ok_or_else(|| {
        let message =
            format!("The spec ID provided is invalid: flow spec {flow_spec_id} does not exist.");
        ApiError::flow(StatusCode::BAD_REQUEST, 1413, "Bad Request", &message)
    })?;

    let sandbox = &*cx.sandbox;
    let source_ids: Vec<String> = f
        .strings("sourceConnectionIds", true)?
        .unwrap_or_default()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let target_ids: Vec<String> = f
        .strings("targetConnectionIds", true)?
        .unwrap_or_default()
        .into_iter()
        .map(str::to_owned)
        .collect();
    if source_ids.is_empty() || target_ids.is_empty() {
        return Err(f.error(
            "sourceConnectionIds and targetConnectionIds must each name at least one connection.",
        ));
    }
    let allowed_sources = spec_ids(&spec, "sourceConnectionSpecIds");
    for id in &source_ids {
        let source = sandbox.source_connections.get(id).ok_or_else(|| {
            ApiError::bad_reference(
                SERVICE,
                format!(
                    "Source connection {id} does not exist in sandbox {}.",
                    sandbox.name
                ),
            )
        })?;
        if !allowed_sources.contains(&source.rel.spec_id) {
            return Err(not_allowed(
                "source connection",
                id,
                &source.rel.spec_id,
                &spec,
            ));
        }
    }
    let allowed_targets = spec_ids(&spec, "targetConnectionSpecIds");
    let mut target_datasets = Vec::new();
    for id in &target_ids {
        let target = sandbox.target_connections.get(id).ok_or_else(|| {
            ApiError::bad_reference(
                SERVICE,
                format!(
                    "Target connection {id} does not exist in sandbox {}.",
                    sandbox.name
                ),
            )
        })?;
        if !allowed_targets.contains(&target.rel.spec_id) {
            return Err(not_allowed(
                "target connection",
                id,
                &target.rel.spec_id,
                &spec,
            ));
        }
        target_datasets.extend(target.rel.dataset_id.clone());
    }

    let defined: Vec<String> = spec["transformationSpecs"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["name"].as_str())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut delta_column = None;
    let mut mapping = None;
    let mut transformations = Vec::new();
    for (i, transformation) in f
        .array("transformations", false)?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let t = Fields::body(SERVICE, transformation)
            .map_err(|_| f.error(format!("transformations[{i}] must be an object.")))?;
        let name = t.string("name", true)?.unwrap_or_default();
        let params = t
            .object("params", true)?
            .ok_or_else(|| f.error(format!("transformations[{i}].params is required.")))?;
        let mut transformation = transformation.clone();
        match name {
            _ if !defined.iter().any(|d| d == name) => {
                return Err(f.error(format!(
                    "transformations[{i}].name '{name}' is not defined by flow spec {}; use one of {}.",
                    spec["name"].as_str().unwrap_or_default(),
                    defined.join(", ")
                )));
            }
            "Copy" => {
                let delta = params
                    .object("deltaColumn", true)?
                    .ok_or_else(|| f.error("deltaColumn is required."))?;
                let column = delta.string("name", true)?.unwrap_or_default();
                delta.string("dateFormat", false)?;
                delta.string("timezone", false)?;
                delta_column = Some(column.to_owned());
            }
            "Mapping" => {
                let mapping_id = params.string("mappingId", true)?.unwrap_or_default();
                let set = sandbox.mapping_sets.get(mapping_id).ok_or_else(|| {
                    ApiError::bad_reference(
                        SERVICE,
                        format!(
                            "Mapping set {mapping_id} does not exist in sandbox {}.",
                            sandbox.name
                        ),
                    )
                })?;
                let version = match params.get("mappingVersion") {
                    None => set.version,
                    Some(v) => mapping_version(v).ok_or_else(|| {
                        f.error("mappingVersion must be a version number, e.g. \"0\".")
                    })?,
                };
                if version != set.version {
                    let message = format!("Invalid Mapping Version {version} for mapping {mapping_id}; its version is {}.", set.version);
                    return Err(ApiError::flow(
                        StatusCode::BAD_REQUEST,
                        1412,
                        "Bad Request",
                        &message,
                    ));
                }
                for dataset_id in &target_datasets {
                    let dataset_schema = sandbox
                        .datasets
                        .get(dataset_id)
                        .and_then(|d| d.schema_id.clone());
                    if let Some(dataset_schema) = dataset_schema.filter(|s| *s != set.schema_id) {
                        return Err(schema_mismatch(
                            dataset_id,
                            &dataset_schema,
                            &set.schema_id,
                            "mapping",
                        ));
                    }
                }
                transformation["params"]["mappingVersion"] = json!(version.to_string());
                mapping = Some((mapping_id.to_owned(), version));
            }
            _ => {}
        }
        transformations.push(transformation);
    }

    let mut schedule = None;
    let mut doc = f.keep(&[
        "name",
        "description",
        "sourceConnectionIds",
        "targetConnectionIds",
        "options",
    ]);
    if let Some(params) = f.get("scheduleParams") {
        let (parsed, normalized) = Schedule::parse(params).map_err(|m| f.error(m))?;
        schedule = Some(parsed);
        doc["scheduleParams"] = normalized;
    }
    f.object("options", false)?;
    doc["flowSpec"] = json!({"id": flow_spec_id, "version": flow_spec_version});
    doc["transformations"] = json!(transformations);
    let rel = FlowRel {
        flow_spec_id,
        source_ids,
        target_ids,
        mapping,
        delta_column,
        schedule,
    };
    Ok((doc, rel))
}

pub(super) fn render<'a>(
    sandbox: &Sandbox,
    flow: &'a Entity<FlowRel>,
    runtime: &FlowRuntime,
    now: i64,
) -> Rendered<'a> {
    let mut value = Rendered::new(&flow.doc, sandbox.meta(flow));
    let state = if runtime.enabled {
        "enabled"
    } else {
        "disabled"
    };
    value.insert("state", json!(state));
    let sources: Vec<Value> = flow
        .rel
        .source_ids
        .iter()
        .filter_map(|id| sandbox.source_connections.get(id))
        .map(|s| {
            let mut inherited = json!({"id": s.id, "connectionSpec": s.doc["connectionSpec"]});
            if let Some(base) = s
                .rel
                .base_connection_id
                .as_ref()
                .and_then(|b| sandbox.connections.get(b))
            {
                inherited["baseConnection"] =
                    json!({"id": base.id, "connectionSpec": base.doc["connectionSpec"]});
            }
            inherited
        })
        .collect();
    let targets: Vec<Value> = flow
        .rel
        .target_ids
        .iter()
        .filter_map(|id| sandbox.target_connections.get(id))
        .map(|t| json!({"id": t.id, "connectionSpec": t.doc["connectionSpec"]}))
        .collect();
    // `properties` carries the flow spec's kind: the documented filters
    // `inheritedAttributes.properties.isSourceFlow==true` and `...isDestinationFlow==true` (the
    // flows API guide) select on it. Every flow spec the emulator serves is a source flow spec.
    let source_flow = specs::is_source_flow_spec(&flow.rel.flow_spec_id);
    value.insert(
        "inheritedAttributes",
        json!({
            "sourceConnections": sources,
            "targetConnections": targets,
            "properties": {"isSourceFlow": source_flow, "isDestinationFlow": !source_flow},
        }),
    );
    value.insert("runs", json!(format!("/runs?property=flowId=={}", flow.id)));
    value.insert(
        "lastOperation",
        json!({
            "started": flow.updated_at,
            "updated": flow.updated_at,
            "percentCompleted": 100,
            "status": {"value": "COMPLETED", "errors": []},
            "ops": [],
            "operation": runtime.last_operation,
        }),
    );
    if let Some(run) = sandbox.runs.latest(&flow.id) {
        value.insert("lastRunDetails", run.details(now));
    }
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
        let runtime = FlowRuntime {
            enabled: true,
            runs_until: None,
            last_operation: "create",
        };
        cx.sandbox
            .flows
            .insert(entity.id.clone(), (entity, runtime));
        Ok(response)
    })
}

pub async fn get(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let (flow, runtime) = cx
            .sandbox
            .flows
            .get(&id)
            .ok_or_else(|| ApiError::not_found(SERVICE, KIND, &id))?;
        Ok(items(render(cx.sandbox, flow, runtime, cx.now)))
    })
}

pub async fn list(
    State(shared): State<AppState>,
    adobe: Adobe,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = parse_list(&shared, query, &filter::FLOWS)?;
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let (sandbox, now) = (&*cx.sandbox, cx.now);
        let entities = sandbox.flows.values().map(|(flow, _)| flow);
        let computed = &[
            "state",
            "inheritedAttributes",
            "runs",
            "lastOperation",
            "lastRunDetails",
        ];
        Ok(list_entities(
            &query,
            &filter::FLOWS,
            sandbox,
            entities,
            computed,
            &|flow| match sandbox.flows.get(&flow.id) {
                Some((_, runtime)) => render(sandbox, flow, runtime, now),
                // Not reached: the entities listed come from the same map.
                None => Rendered::new(&flow.doc, Map::new()),
            },
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
        let (flow, _) = cx.sandbox.flows.get(&id).ok_or_else(|| ApiError::not_found(SERVICE, KIND, &id))?;
        patch::check_if_match(&headers, &flow.etag, KIND, &id)?;
        let doc = patch::apply(&flow.doc, &body, PATCHABLE)?;
        let (doc, rel) = validate(&doc, cx)?;
        let old_start = flow.rel.schedule.as_ref().map(|s| s.start_s);
        let new_start = rel.schedule.as_ref().map(|s| s.start_s);
        if let (Some(old), Some(new)) = (old_start, new_start) {
            if old != new && old.saturating_mul(1000) <= cx.now {
                return Err(ApiError::invalid(
                    SERVICE,
                    "You cannot update the startTime of a dataflow if the initially scheduled startTime has already occurred.",
                ));
            }
        }
        let now = cx.now;
        let (flow, runtime) = cx.sandbox.flows.get_mut(&id).ok_or_else(|| ApiError::not_found(SERVICE, KIND, &id))?;
        flow.update(doc, rel, now);
        runtime.last_operation = "update";
        Ok(updated(&id, &flow.etag))
    })
}

/// `POST /flows/{id}/action?op=enable|disable` (documented for destinations; §10.4), no body,
/// answering the flow's id and new etag. `op` is taken in either case and the spec's `subOp` is
/// not required; an `If-Match` (optional in the spec) must match when one is sent.
pub async fn action(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let pairs = query_pairs(query.as_deref());
    let op = query_param(&pairs, "op")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let enable = match op.as_str() {
        "enable" => true,
        "disable" => false,
        _ => {
            return Err(ApiError::invalid(
                SERVICE,
                format!("Unsupported operation '{op}'; use op=enable or op=disable."),
            ))
        }
    };
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let now = cx.now;
        let (flow, runtime) = cx
            .sandbox
            .flows
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found(SERVICE, KIND, &id))?;
        if headers.contains_key("if-match") {
            patch::check_if_match(&headers, &flow.etag, KIND, &id)?;
        }
        if enable && !runtime.enabled {
            // Slots missed while disabled are not run after the fact.
            runtime.runs_until = Some(now);
        }
        runtime.enabled = enable;
        runtime.last_operation = if enable { "enable" } else { "disable" };
        let (doc, rel) = (flow.doc.clone(), flow.rel.clone());
        flow.update(doc, rel, now);
        Ok(updated(&id, &flow.etag))
    })
}

pub async fn delete(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        if cx.sandbox.flows.remove(&id).is_none() {
            return Err(ApiError::not_found(SERVICE, KIND, &id));
        }
        cx.sandbox.runs.remove_flow(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
