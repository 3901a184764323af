//! Data Prep mapping sets (docs/aep-api.md#mapping-set): create answers **200** with id and version, in the
//! current `outputSchema` + `mappings[{sourceType, source, destination}]` form or the legacy
//! `xdmSchema` + `mappings[{sourceAttribute, destinationXdmPath}]` form (docs/aep-api.md#disagreements #11). A mapping set
//! never changes once created; a changed mapping is a new mapping set. When the body carries an
//! `inputSchema`, attribute sources are checked against its columns (create refuses, validate
//! reports them); otherwise the columns are checked when the flow runs. Every destination must be a
//! field of the output schema's resolved form (create refuses the set otherwise).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::catalog::canonical_schema;
use super::errors::{ApiError, ApiResult, Service, DATAPREP_BASE};
use super::gateway::{query_pairs, query_param, Adobe, JsonBody};
use super::schemaregistry::resolved_schema;
use super::seed::{self, ZohoOrg};
use super::state::{AppState, MappingSet};
use super::validate::Fields;
use crate::api::schemas::read_schema;

const SERVICE: Service = Service::DataPrep;
const SOURCE_TYPES: &[&str] = &["ATTRIBUTE", "EXPRESSION", "STATIC"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            &format!("{DATAPREP_BASE}/mappingSets"),
            get(list).post(create),
        )
        .route(
            &format!("{DATAPREP_BASE}/mappingSets/validate"),
            post(validate),
        )
        .route(&format!("{DATAPREP_BASE}/mappingSets/{{id}}"), get(get_one))
}

struct Mapping {
    source_type: String,
    source: String,
    destination: String,
    name: Option<String>,
    description: Option<String>,
}

struct Parsed {
    name: Option<String>,
    /// `[{"name", "values"}]`, kept as sent (the spec's `MappingSet.tags`).
    tags: Option<Value>,
    schema_id: String,
    content_type: String,
    legacy: Option<Value>,
    input_schema: Option<Value>,
    mappings: Vec<Mapping>,
}

fn parse(body: &Value) -> Result<Parsed, ApiError> {
    let f = Fields::body(SERVICE, body)?;
    let name = f.string("name", false)?.map(str::to_owned);
    let tags = f.array("tags", false)?.cloned();
    if let Some(tags) = &tags {
        if !tags.iter().all(|t| t["name"].is_string()) {
            return Err(f.error("tags must be objects with a name and values."));
        }
    }
    f.integer("version")?;
    f.boolean("allowNullValues")?;
    f.string("supportVersion", false)?;
    // The legacy form sends `"id": null`; otherwise an id is a string.
    match f.get("id") {
        None | Some(Value::String(_)) => {}
        Some(Value::Null) if f.has("xdmSchema") => {}
        Some(_) => return Err(f.error("id must be a string.")),
    }
    let input_schema = f
        .object("inputSchema", false)?
        .map(|_| body["inputSchema"].clone());
    let items = f.array("mappings", true)?.unwrap_or(&Vec::new()).clone();
    if items.is_empty() {
        return Err(f.error("mappings must hold at least one mapping."));
    }
    let (schema_id, content_type, legacy) = if f.has("outputSchema") {
        let output = f
            .object("outputSchema", true)?
            .ok_or_else(|| f.error("outputSchema is required."))?;
        let schema_ref = output
            .object("schemaRef", true)?
            .ok_or_else(|| f.error("outputSchema.schemaRef is required."))?;
        let id = schema_ref
            .string("id", true)?
            .unwrap_or_default()
            .to_owned();
        let content_type = schema_ref
            .string("contentType", false)?
            .unwrap_or("application/vnd.adobe.xed-full+json;version=1")
            .to_owned();
        (id, content_type, None)
    } else if f.has("xdmSchema") {
        let id = f.string("xdmSchema", true)?.unwrap_or_default().to_owned();
        let version = f.string("xdmVersion", false)?.unwrap_or("1.0").to_owned();
        let legacy = json!({"xdmSchema": id, "xdmVersion": version});
        (
            id,
            "application/vnd.adobe.xed-full+json;version=1".to_owned(),
            Some(legacy),
        )
    } else {
        return Err(
            f.error("outputSchema.schemaRef.id is required (or, in the legacy form, xdmSchema).")
        );
    };
    let schema_id = canonical_schema(&schema_id)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::bad_reference(
                SERVICE,
                format!("The output schema {schema_id} does not exist in the Schema Registry."),
            )
        })?;
    let mut mappings = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let m = Fields::body(SERVICE, item)
            .map_err(|_| f.error(format!("mappings[{i}] must be an object.")))?;
        let at = |e: ApiError| {
            let message = e.body["report"]["detailed-message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            f.error(format!("mappings[{i}]: {message}"))
        };
        m.integer("version").map_err(at)?;
        m.integer("functionVersion").map_err(at)?;
        m.string("id", false).map_err(at)?;
        m.strings("expressionAttributes", false).map_err(at)?;
        let mapping = if legacy.is_some() {
            m.boolean("identity").map_err(at)?;
            Mapping {
                source_type: "ATTRIBUTE".into(),
                source: m
                    .string("sourceAttribute", true)
                    .map_err(at)?
                    .unwrap_or_default()
                    .to_owned(),
                destination: m
                    .string("destinationXdmPath", true)
                    .map_err(at)?
                    .unwrap_or_default()
                    .to_owned(),
                name: None,
                description: None,
            }
        } else {
            let source_type = m
                .string("sourceType", true)
                .map_err(at)?
                .unwrap_or_default();
            if !SOURCE_TYPES.contains(&source_type) {
                return Err(f.error(format!(
                    "mappings[{i}].sourceType '{source_type}' is not one of ATTRIBUTE, EXPRESSION, STATIC."
                )));
            }
            Mapping {
                source_type: source_type.to_owned(),
                source: m
                    .string("source", true)
                    .map_err(at)?
                    .unwrap_or_default()
                    .to_owned(),
                destination: m
                    .string("destination", true)
                    .map_err(at)?
                    .unwrap_or_default()
                    .to_owned(),
                name: m.string("name", false).map_err(at)?.map(str::to_owned),
                description: m
                    .string("description", false)
                    .map_err(at)?
                    .map(str::to_owned),
            }
        };
        mappings.push(mapping);
    }
    Ok(Parsed {
        name,
        tags: tags.map(Value::Array),
        schema_id,
        content_type,
        legacy,
        input_schema,
        mappings,
    })
}

/// The attribute sources missing from the `inputSchema` columns, with their mapping index.
fn unknown_sources(parsed: &Parsed) -> Vec<(usize, &str)> {
    let Some(columns) = parsed
        .input_schema
        .as_ref()
        .and_then(|s| s.pointer("/jsonSchema/properties"))
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    parsed
        .mappings
        .iter()
        .enumerate()
        .filter(|(_, m)| m.source_type == "ATTRIBUTE" && !columns.contains_key(&m.source))
        .map(|(i, m)| (i, m.source.as_str()))
        .collect()
}

/// The attribute destinations that are not fields of the output schema (its resolved form, as
/// the Schema Registry serves it), with their mapping index. The live service refuses a mapping set
/// whose destination is not in the target schema; its exact code is not documented
/// (docs/emulator.md#choices-where-adobes-documentation-is-silent).
fn unknown_destinations<'a>(parsed: &'a Parsed, org: &ZohoOrg) -> Vec<(usize, &'a str)> {
    let schema = read_schema(&parsed.schema_id, &resolved_schema(org));
    parsed
        .mappings
        .iter()
        .enumerate()
        .filter(|(_, m)| schema.field(&m.destination).is_none())
        .map(|(i, m)| (i, m.destination.as_str()))
        .collect()
}

async fn create(
    State(shared): State<AppState>,
    adobe: Adobe,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let parsed = parse(&body)?;
    if let Some((i, source)) = unknown_sources(&parsed).first() {
        return Err(ApiError::invalid(
            SERVICE,
            format!("mappings[{i}].source '{source}' is not a column of the input schema."),
        ));
    }
    if let Some((i, destination)) = unknown_destinations(&parsed, &shared.org).first() {
        return Err(ApiError::invalid(
            SERVICE,
            format!(
                "mappings[{i}].destination '{destination}' is not a field of the output schema {}.",
                parsed.schema_id
            ),
        ));
    }
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let user = format!("{}@AdobeID", seed::IMS_CLIENT_ID);
        let audit = json!({"createdDate": cx.now, "modifiedDate": cx.now, "createdBy": user, "modifiedBy": user});
        let mappings: Vec<Value> = parsed
            .mappings
            .iter()
            .map(|m| {
                let mut value = json!({
                    "id": uuid::Uuid::new_v4().simple().to_string(),
                    "version": 0,
                    "sourceType": m.source_type,
                    "source": m.source,
                    "destination": m.destination,
                    "identity": false,
                    "primaryIdentity": false,
                    "functionVersion": 0,
                    "sourceAttribute": m.source,
                    "destinationXdmPath": m.destination,
                });
                for (key, v) in audit.as_object().into_iter().flatten() {
                    value[key] = v.clone();
                }
                if let Some(name) = &m.name {
                    value["name"] = json!(name);
                }
                if let Some(description) = &m.description {
                    value["description"] = json!(description);
                }
                value
            })
            .collect();
        let mut doc = json!({
            "id": id,
            "version": 0,
            "outputSchema": {"schemaRef": {"id": parsed.schema_id, "contentType": parsed.content_type}},
            "mappings": mappings,
        });
        for (key, v) in audit.as_object().into_iter().flatten().chain(parsed.legacy.iter().flat_map(|l| l.as_object().into_iter().flatten())) {
            doc[key] = v.clone();
        }
        if let Some(name) = &parsed.name {
            doc["name"] = json!(name);
        }
        if let Some(tags) = &parsed.tags {
            doc["tags"] = tags.clone();
        }
        if let Some(input) = &parsed.input_schema {
            doc["inputSchema"] = input.clone();
        }
        let mut response = json!({"id": id, "version": 0});
        for (key, v) in audit.as_object().into_iter().flatten() {
            response[key] = v.clone();
        }
        let sources = parsed
            .mappings
            .iter()
            .filter(|m| m.source_type == "ATTRIBUTE")
            .map(|m| m.source.clone())
            .collect();
        cx.sandbox.mapping_sets.insert(
            id.clone(),
            MappingSet {
                id,
                version: 0,
                created: cx.now,
                name: parsed.name.clone(),
                schema_id: parsed.schema_id.clone(),
                sources,
                doc,
            },
        );
        Ok(Json(response).into_response())
    })
}

async fn validate(_: Adobe, JsonBody(body): JsonBody) -> ApiResult {
    let parsed = parse(&body)?;
    let unknown = unknown_sources(&parsed);
    let results: Vec<Value> = parsed
        .mappings
        .iter()
        .enumerate()
        .map(|(i, m)| match unknown.iter().find(|(j, _)| *j == i) {
            None => json!({"status": "SUCCESS", "errors": null}),
            Some(_) => json!({"status": "FAILED", "errors": [{
                "source": m.source, "destination": m.destination, "sourceType": m.source_type,
                "columnName": m.source,
                "exception": format!("Column '{}' is not in the input schema.", m.source),
            }]}),
        })
        .collect();
    Ok(Json(json!({"validationResponse": results})).into_response())
}

fn not_found(id: &str) -> ApiError {
    ApiError::problem(
        SERVICE,
        StatusCode::NOT_FOUND,
        1439,
        "Not Found",
        &format!("The mapping set {id} was not found. Verify the mapping set ID and version."),
    )
    .report("id", id)
}

async fn get_one(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let pairs = query_pairs(query.as_deref());
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let set = cx
            .sandbox
            .mapping_sets
            .get(&id)
            .ok_or_else(|| not_found(&id))?;
        if let Some(version) = query_param(&pairs, "version") {
            if version.trim().parse::<i64>().ok() != Some(set.version) {
                return Err(not_found(&id));
            }
        }
        Ok(Json(set.doc.clone()).into_response())
    })
}

/// `limit` when a list request gives none (data-prep.yaml's default).
const DEFAULT_LIMIT: usize = 10;

async fn list(
    State(shared): State<AppState>,
    adobe: Adobe,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let pairs = query_pairs(query.as_deref());
    // data-prep.yaml marks `limit` and `start` required but gives them defaults (10 and 0), and
    // clients (aepp's getMappingSets) omit `start`: an absent one takes its default.
    let number = |key: &str, minimum: usize, default: usize| -> Result<usize, ApiError> {
        let Some(raw) = query_param(&pairs, key) else {
            return Ok(default);
        };
        raw.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= minimum)
            .ok_or_else(|| {
                ApiError::invalid(
                    SERVICE,
                    format!("{key} must be an integer of at least {minimum}, not '{raw}'."),
                )
            })
    };
    // data-prep.yaml gives `limit` no maximum: pages are capped, and `_page.limit` says which
    // page size was applied.
    let limit = number("limit", 1, DEFAULT_LIMIT)?.min(shared.faults().page_cap());
    let start = number("start", 0, 0)?;
    let name = query_param(&pairs, "name");
    let (page, total) = shared.with_sandbox(&adobe.sandbox, |cx| {
        let mut sets: Vec<&MappingSet> = cx
            .sandbox
            .mapping_sets
            .values()
            .filter(|s| name.is_none_or(|n| s.name.as_deref() == Some(n)))
            .collect();
        sets.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        let total = sets.len();
        let page: Vec<Value> = sets
            .into_iter()
            .skip(start)
            .take(limit)
            .map(|s| s.doc.clone())
            .collect();
        Ok((page, total))
    })?;
    let mut links = json!({});
    if start + page.len() < total {
        let mut next = format!("/mappingSets?limit={limit}&start={}", start + limit);
        if let Some(name) = name {
            let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
            next.push_str(&format!("&name={encoded}"));
        }
        links = json!({"next": {"href": next}});
    }
    Ok(
        Json(
            json!({"data": page, "_page": {"count": page.len(), "limit": limit}, "_links": links}),
        )
        .into_response(),
    )
}
