//! Base connections (docs/aep-api.md#base-connection, #explore, #etags, #deleting): create, get, list, PATCH with If-Match,
//! delete (refused while a flow uses the connection), test, and explore backed by the seeded
//! Zoho org. Secret auth params come back masked.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::kinds::ConnectionKind;
use super::{invalid_spec, specs, SERVICE};
use crate::emulator::errors::{ApiError, ApiResult};
use crate::emulator::faults::ZohoSpec;
use crate::emulator::filter::{self, Collection};
use crate::emulator::gateway::{query_pairs, query_param, Adobe};
use crate::emulator::state::{AppState, ConnectionRel, Ctx, Entity, Rendered, Sandbox};
use crate::emulator::validate::Fields;
use crate::emulator::zoho::ZohoState;

const KIND: &str = "connections";
const PATCHABLE: &[&str] = &["/name", "/description", "/auth/params"];
/// Emulator-chosen code: Zoho refused the base connection's credentials.
const CREDENTIALS_REFUSED: u16 = 1406;
const MASK: &str = "********";

fn validate(body: &Value, zoho_spec: ZohoSpec) -> Result<(Value, ConnectionRel), ApiError> {
    let f = Fields::body(SERVICE, body)?;
    f.string("name", true)?;
    f.string("description", false)?;
    let (spec_id, version) = f.spec_info("connectionSpec", false)?;
    let spec = specs::connection_spec(&spec_id, zoho_spec).ok_or_else(|| invalid_spec(&spec_id))?;
    let needs_auth = spec["authSpec"].as_array().is_some_and(|a| !a.is_empty());
    if let Some(auth) = f.object("auth", needs_auth)? {
        let spec_name = auth.string("specName", true)?.unwrap_or_default();
        let auth_spec = specs::auth_spec(&spec, spec_name).ok_or_else(|| {
            let message = format!(
                "The auth spec '{spec_name}' could not be found for the connection spec ID {spec_id}."
            );
            ApiError::flow(StatusCode::BAD_REQUEST, 1415, "Bad Request", &message)
        })?;
        let params = auth
            .object("params", true)?
            .ok_or_else(|| f.error("auth.params is required."))?;
        let required = auth_spec
            .pointer("/spec/required")
            .and_then(Value::as_array);
        for key in required.into_iter().flatten().filter_map(Value::as_str) {
            params
                .string(key, true)
                .map_err(|_| f.error(format!("auth.params.{key} is required by auth spec '{spec_name}' and must be a non-empty string.")))?;
        }
        let properties = auth_spec
            .pointer("/spec/properties")
            .and_then(Value::as_object);
        for (key, property) in properties.into_iter().flatten() {
            if property.get("type").and_then(Value::as_str) == Some("string") {
                params
                    .string(key, false)
                    .map_err(|_| f.error(format!("auth.params.{key} must be a string.")))?;
            }
        }
    }
    let mut doc = f.keep(&["name", "description", "auth"]);
    doc["connectionSpec"] = json!({"id": spec_id, "version": version});
    Ok((doc, ConnectionRel { spec_id }))
}

pub(super) fn render<'a>(sandbox: &Sandbox, entity: &'a Entity<ConnectionRel>) -> Rendered<'a> {
    let mut value = Rendered::new(&entity.doc, sandbox.meta(entity));
    value.insert("state", json!("enabled"));
    // Secrets stay masked even after the spec is withdrawn from the listing.
    let Some(mut auth) = entity.doc.get("auth").cloned() else {
        return value;
    };
    let spec = specs::connection_spec(&entity.rel.spec_id, ZohoSpec::Listed);
    let spec_name = auth
        .get("specName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let secrets = spec
        .as_ref()
        .and_then(|s| specs::auth_spec(s, &spec_name))
        .map(specs::secret_params)
        .unwrap_or_default();
    if let Some(params) = auth.get_mut("params").and_then(Value::as_object_mut) {
        for key in secrets {
            if let Some(v) = params.get_mut(&key) {
                *v = json!(MASK);
            }
        }
    }
    value.insert("auth", auth);
    value
}

/// This kind, for the generic create, get, list and PATCH handlers ([`super::kinds`]).
pub struct Connections;

impl ConnectionKind for Connections {
    type Rel = ConnectionRel;
    const KIND: &'static str = KIND;
    const COLLECTION: &'static Collection = &filter::CONNECTIONS;
    const COMPUTED: &'static [&'static str] = &["state", "auth"];
    const PATCHABLE: &'static [&'static str] = PATCHABLE;

    fn entities(sandbox: &Sandbox) -> &BTreeMap<String, Entity<ConnectionRel>> {
        &sandbox.connections
    }

    fn entities_mut(sandbox: &mut Sandbox) -> &mut BTreeMap<String, Entity<ConnectionRel>> {
        &mut sandbox.connections
    }

    fn validate(body: &Value, cx: &Ctx<'_>) -> Result<(Value, ConnectionRel), ApiError> {
        validate(body, cx.zoho_spec)
    }

    fn render<'a>(sandbox: &Sandbox, entity: &'a Entity<ConnectionRel>) -> Rendered<'a> {
        render(sandbox, entity)
    }
}

pub async fn delete(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        if !cx.sandbox.connections.contains_key(&id) {
            return Err(ApiError::not_found(SERVICE, KIND, &id));
        }
        let sandbox = &*cx.sandbox;
        let in_use = sandbox.flows.values().any(|(flow, _)| {
            flow.rel.source_ids.iter().any(|source| {
                sandbox
                    .source_connections
                    .get(source)
                    .is_some_and(|s| s.rel.base_connection_id.as_deref() == Some(id.as_str()))
            })
        });
        if in_use {
            let message = format!(
                "The connection {id} cannot be deleted because the base connection is being used in one or more flows. Delete those flows first."
            );
            return Err(ApiError::flow(StatusCode::BAD_REQUEST, 1418, "Bad Request", &message));
        }
        cx.sandbox.connections.remove(&id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// The Zoho credentials in a base connection, as AEP would use them.
fn check_credentials(zoho: &ZohoState, entity: &Entity<ConnectionRel>) -> Result<(), ApiError> {
    let param = |key: &str| {
        entity
            .doc
            .pointer(&format!("/auth/params/{key}"))
            .and_then(Value::as_str)
    };
    zoho.check_credentials(param("clientId"), param("clientSecret"), param("refreshToken"))
        .map_err(|error| {
            let message = format!(
                "Zoho refused the credentials of base connection {} ({error}). Update auth.params with a valid client id, client secret and refresh token.",
                entity.id
            );
            ApiError::flow(StatusCode::BAD_REQUEST, CREDENTIALS_REFUSED, "Bad Request", &message)
        })
}

fn explorable<'a>(cx: &'a Ctx<'_>, id: &str) -> Result<&'a Entity<ConnectionRel>, ApiError> {
    let entity = cx
        .sandbox
        .connections
        .get(id)
        .ok_or_else(|| ApiError::not_found(SERVICE, KIND, id))?;
    let Some(spec) = specs::connection_spec(&entity.rel.spec_id, cx.zoho_spec) else {
        let message = format!(
            "The connection spec {} of connection {id} is no longer available.",
            entity.rel.spec_id
        );
        return Err(ApiError::invalid(SERVICE, message));
    };
    if !specs::is_table_source(&spec) {
        let message = format!(
            "Explore is not supported for connection {id} (connection spec {}).",
            entity.rel.spec_id
        );
        return Err(ApiError::invalid(SERVICE, message));
    }
    check_credentials(cx.zoho, entity)?;
    Ok(entity)
}

pub async fn test(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        explorable(cx, &id)?;
        Ok(Json(json!({"result": true})).into_response())
    })
}

/// `?objectType=root`, `?objectType=table&object=PATH[&preview=true]` (docs/aep-api.md#explore).
pub async fn explore(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let pairs = query_pairs(query.as_deref());
    let object_type = query_param(&pairs, "objectType").map(str::to_ascii_lowercase);
    shared.with_sandbox(&adobe.sandbox, |cx| {
        explorable(cx, &id)?;
        match object_type.as_deref() {
            Some("root") => {
                let tables: Vec<Value> = cx
                    .org
                    .tables()
                    .map(|m| json!({"type": "table", "name": m.api_name, "path": m.api_name, "canPreview": true, "canFetchSchema": true}))
                    .collect();
                Ok(Json(Value::Array(tables)).into_response())
            }
            Some("table") => {
                let Some(object) = query_param(&pairs, "object") else {
                    return Err(ApiError::invalid(SERVICE, "objectType=table needs object=<table path> (from objectType=root)."));
                };
                let module = cx.org.module(object).ok_or_else(|| {
                    let message = format!("The table '{object}' is not found. List tables with objectType=root.");
                    ApiError::flow(StatusCode::NOT_FOUND, 1101, "Resource not found", &message)
                })?;
                let columns: Vec<Value> = module.columns.iter().map(|c| c.to_json()).collect();
                let mut body = json!({"format": "flat", "schema": {"columns": columns}});
                if query_param(&pairs, "preview").is_some_and(|p| p.eq_ignore_ascii_case("true")) {
                    body["data"] = json!(module.rows);
                }
                Ok(Json(body).into_response())
            }
            Some(other) => Err(ApiError::invalid(
                SERVICE,
                format!("objectType '{other}' is not supported by this connection; use root or table."),
            )),
            None => Err(ApiError::invalid(SERVICE, "The objectType query parameter is required (root or table).")),
        }
    })
}
