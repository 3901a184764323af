//! Schema Registry lookups of the seeded schema, so that `check` can verify a schema id and
//! `init`, `explore --schema` and the profile validation can list its fields:
//! `GET /data/foundation/schemaregistry/tenant/schemas/{url-encoded $id or meta:altId}` with an
//! `Accept: application/vnd.adobe.xed...+json; version=1` header. The `xed-full` forms answer the
//! resolved schema (Adobe's "Look up a schema": `$ref` and `allOf` resolved, every field under
//! `properties`); the others answer the schema as composed (`allOf` of the class and field groups).
//!
//! The resolved schema holds what the profile class and two standard field groups give (Demographic
//! Details: `person.name.*`, `person.birthDate`; Personal Contact Details: `personalEmail.*`,
//! `mobilePhone.*`, `homeAddress.*`) and, under the tenant namespace `_acme`, a `zoho` object
//! with one field per column of the seeded Zoho modules: what `mapping = "auto"` with
//! `mapping_prefix = "_acme.zoho"` maps every column to.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::catalog::canonical_schema;
use super::errors::{ApiError, ApiResult, Service, SCHEMA_BASE};
use super::gateway::Adobe;
use super::seed::{self, Kind, ZohoOrg};
use super::state::AppState;

/// The seeded tenant's namespace (`meta:tenantNamespace`).
const TENANT: &str = "_acme";

pub fn routes() -> Router<AppState> {
    Router::new().route(
        &format!("{SCHEMA_BASE}/tenant/schemas/{{*id}}"),
        get(schema),
    )
}

async fn schema(
    _: Adobe,
    State(shared): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
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
    if accept.starts_with("application/vnd.adobe.xed-full") {
        return Ok(Json(resolved_schema(&shared.org)).into_response());
    }
    Ok(Json(seed::schema_json()).into_response())
}

/// The seeded schema in the resolved (`xed-full`) form.
pub fn resolved_schema(org: &ZohoOrg) -> Value {
    let mut doc = seed::schema_json();
    let object = doc.as_object_mut().expect("the seeded schema is an object");
    object.remove("allOf");
    object.insert(
        "meta:extends".into(),
        json!([
            "https://ns.adobe.com/xdm/context/profile",
            "https://ns.adobe.com/xdm/context/profile-person-details",
            "https://ns.adobe.com/xdm/context/profile-personal-details",
            "https://ns.adobe.com/acme/mixins/zoho_crm"
        ]),
    );
    let mut properties = standard_fields();
    properties.insert(
        TENANT.into(),
        object_node(
            "Tenant fields",
            [("zoho".to_owned(), object_node("Zoho CRM", zoho_fields(org)))]
                .into_iter()
                .collect(),
        ),
    );
    object.insert("properties".into(), Value::Object(properties));
    doc
}

/// The profile class and the standard field groups, as the resolved form shows them.
fn standard_fields() -> Map<String, Value> {
    let string = |title: &str| json!({"title": title, "type": "string", "meta:xdmType": "string"});
    let formatted = |title: &str, format: &str, xdm: &str| json!({"title": title, "type": "string", "format": format, "meta:xdmType": xdm});
    let boolean =
        |title: &str| json!({"title": title, "type": "boolean", "meta:xdmType": "boolean"});
    let object = |title: &str, fields: Vec<(&str, Value)>| {
        object_node(
            title,
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        )
    };
    let mut map = Map::new();
    map.insert(
        "_id".into(),
        formatted("Identifier", "uri-reference", "string"),
    );
    map.insert("personID".into(), string("Person ID"));
    map.insert(
        "_repo".into(),
        object(
            "Repository",
            vec![
                (
                    "createDate",
                    formatted("Create Date", "date-time", "date-time"),
                ),
                (
                    "modifyDate",
                    formatted("Modify Date", "date-time", "date-time"),
                ),
            ],
        ),
    );
    map.insert(
        "person".into(),
        object(
            "Person",
            vec![
                (
                    "name",
                    object(
                        "Full name",
                        vec![
                            ("courtesyTitle", string("Courtesy title")),
                            ("firstName", string("First name")),
                            ("middleName", string("Middle name")),
                            ("lastName", string("Last name")),
                            ("fullName", string("Full name")),
                        ],
                    ),
                ),
                ("birthDate", formatted("Birth date", "date", "date")),
                ("gender", string("Gender")),
            ],
        ),
    );
    map.insert(
        "personalEmail".into(),
        object(
            "Personal email",
            vec![
                ("address", formatted("Address", "email", "string")),
                ("primary", boolean("Primary")),
                ("status", string("Status")),
                ("type", string("Type")),
            ],
        ),
    );
    map.insert(
        "mobilePhone".into(),
        object(
            "Mobile phone",
            vec![
                ("number", string("Number")),
                ("primary", boolean("Primary")),
                ("status", string("Status")),
            ],
        ),
    );
    map.insert(
        "homeAddress".into(),
        object(
            "Home address",
            vec![
                ("street1", string("Street 1")),
                ("city", string("City")),
                ("postalCode", string("Postal code")),
                ("country", string("Country")),
                ("countryCode", string("Country code")),
            ],
        ),
    );
    map
}

/// One field per distinct column name of the org's modules, typed as explore types the column.
fn zoho_fields(org: &ZohoOrg) -> Map<String, Value> {
    let mut fields = BTreeMap::new();
    for column in org.modules.iter().flat_map(|m| &m.columns) {
        fields.entry(column.name.clone()).or_insert_with(|| {
            let title = column.name.replace('_', " ");
            match column.kind {
                Kind::Double(..) | Kind::Long(..) => {
                    json!({"title": title, "type": "number", "meta:xdmType": "number"})
                }
                Kind::Boolean => {
                    json!({"title": title, "type": "boolean", "meta:xdmType": "boolean"})
                }
                Kind::Date => {
                    json!({"title": title, "type": "string", "format": "date", "meta:xdmType": "date"})
                }
                Kind::DateTime => json!({
                    "title": title, "type": "string", "format": "date-time", "meta:xdmType": "date-time"
                }),
                _ => json!({"title": title, "type": "string", "meta:xdmType": "string"}),
            }
        });
    }
    fields.into_iter().collect()
}

fn object_node(title: &str, properties: Map<String, Value>) -> Value {
    json!({"title": title, "type": "object", "meta:xdmType": "object", "properties": properties})
}
