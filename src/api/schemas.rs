//! The Schema Registry, read only: whether the target XDM schema exists (`check`, `apply`), and
//! its resolved form turned into the leaf fields a mapping `destination` may name (`init`,
//! `explore --schema`, the profile validation).

use serde::de::IgnoredAny;
use serde::Serialize;
use serde_json::Value;

use super::crm::ZohoField;
use super::specs::{XED_CONTENT_TYPE, XED_FULL_CONTENT_TYPE};
use super::{AepClient, ApiError, Query, Service};

/// A target schema as its fields: every leaf of the resolved schema, in path order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct XdmSchema {
    /// The schema's `$id`.
    pub id: String,
    pub title: Option<String>,
    /// `meta:tenantNamespace`, e.g. `_acme`: the org's own fields live under it.
    pub tenant_namespace: Option<String>,
    pub fields: Vec<XdmField>,
}

/// One leaf field: its dotted path (a mapping `destination`), JSON type and string format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct XdmField {
    /// e.g. `personalEmail.address`, `_acme.zoho.Email`.
    pub path: String,
    /// `string`, `number`, `integer`, `boolean` or `array`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For strings: `date-time`, `date`, `email`, `uri`, ...
    pub format: Option<String>,
}

impl XdmField {
    /// Whether a Zoho column's values can land in this field: Zoho's `data_type` (and
    /// `json_type`) against the field's type and string format. `init` proposes only such
    /// pairs; a mapping validation can reject the others.
    pub fn accepts(&self, column: &ZohoField) -> bool {
        let field = self;
        let format = field.format.as_deref();
        let string = field.kind == "string";
        match column.data_type.as_str() {
            "datetime" => string && format == Some("date-time"),
            "date" => string && format == Some("date"),
            "boolean" => field.kind == "boolean",
            "double" | "currency" | "percent" | "decimal" => field.kind == "number",
            "integer" | "bigint" if column.json_type.as_deref() != Some("string") => {
                matches!(field.kind.as_str(), "integer" | "number")
            }
            "email" => string && matches!(format, None | Some("email")),
            "website" => string && matches!(format, None | Some("uri")),
            // Lookups arrive from the Zoho CRM source as their display name.
            "lookup" | "ownerlookup" => string && format.is_none(),
            _ => {
                column.json_type.as_deref().is_none_or(|t| t == "string")
                    && string
                    && format.is_none()
            }
        }
    }
}

impl XdmSchema {
    /// The field at a dotted path.
    pub fn field(&self, path: &str) -> Option<&XdmField> {
        self.fields.iter().find(|f| f.path == path)
    }

    /// Whether a path is under the tenant namespace (the org's own fields).
    pub fn is_tenant_field(&self, path: &str) -> bool {
        self.tenant_namespace
            .as_deref()
            .is_some_and(|ns| path.split('.').next() == Some(ns))
    }
}

/// `GET /tenant/schemas/{url-encoded $id}` with `Accept: application/vnd.adobe.xed-full+json;
/// version=1` (Adobe's "Look up a schema": `$ref` and `allOf` resolved, every field under
/// `properties`), read into its leaf fields; `None` on 404.
pub async fn full_schema(
    client: &AepClient,
    schema_id: &str,
) -> Result<Option<XdmSchema>, ApiError> {
    let path = format!("/tenant/schemas/{}", encode_segment(schema_id));
    let found: Option<Value> = client
        .get_opt_accept(
            Service::SchemaRegistry,
            &path,
            &Query::new(),
            XED_FULL_CONTENT_TYPE,
        )
        .await?;
    Ok(found.map(|doc| read_schema(schema_id, &doc)))
}

/// Reads a resolved schema document: its `$id`, title, tenant namespace and leaf fields.
pub fn read_schema(schema_id: &str, doc: &Value) -> XdmSchema {
    let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut fields = Vec::new();
    if let Some(properties) = doc.get("properties").and_then(Value::as_object) {
        collect_leaves("", properties, &mut fields);
    }
    fields.sort_by(|a, b| a.path.cmp(&b.path));
    XdmSchema {
        id: text("$id").unwrap_or_else(|| schema_id.to_owned()),
        title: text("title"),
        tenant_namespace: text("meta:tenantNamespace"),
        fields,
    }
}

/// Walks `properties`: an object with `properties` is a branch; anything else with a `type` is a
/// leaf. Objects without `properties` (maps such as `identityMap`) have no fixed leaf path and are
/// left out; an array is one leaf (its items are not addressed by a dotted path).
fn collect_leaves(
    prefix: &str,
    properties: &serde_json::Map<String, Value>,
    out: &mut Vec<XdmField>,
) {
    for (name, node) in properties {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let kind = node.get("type").and_then(Value::as_str);
        match (kind, node.get("properties").and_then(Value::as_object)) {
            (_, Some(children)) => collect_leaves(&path, children, out),
            (Some("object") | None, None) => {}
            (Some(kind), None) => out.push(XdmField {
                path,
                kind: kind.to_owned(),
                format: node
                    .get("format")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }),
        }
    }
}

/// `GET /tenant/schemas/{url-encoded $id}` with `Accept: application/vnd.adobe.xed+json;version=1`;
/// `false` on 404. Only tenant schemas are looked up: a dataflow target is always one.
pub async fn schema_exists(client: &AepClient, schema_id: &str) -> Result<bool, ApiError> {
    let path = format!("/tenant/schemas/{}", encode_segment(schema_id));
    let found: Option<IgnoredAny> = client
        .get_opt_accept(
            Service::SchemaRegistry,
            &path,
            &Query::new(),
            XED_CONTENT_TYPE,
        )
        .await?;
    Ok(found.is_some())
}

/// Percent-encodes everything but unreserved characters, so a `$id` URI (`https://...`) is one
/// path segment.
fn encode_segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        // form encoding writes a space as `+`; a literal `+` is already `%2B`.
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolved_schema_becomes_its_leaf_paths() {
        let doc = serde_json::json!({
            "$id": "https://ns.adobe.com/acme/schemas/x",
            "title": "X",
            "meta:tenantNamespace": "_acme",
            "properties": {
                "personalEmail": {"type": "object", "properties": {
                    "address": {"type": "string", "format": "email"},
                    "primary": {"type": "boolean"}
                }},
                "identityMap": {"type": "object", "additionalProperties": {"type": "array"}},
                "segmentMembership": {"type": "array", "items": {"type": "string"}},
                "_acme": {"type": "object", "properties": {"zoho": {"type": "object", "properties": {
                    "Modified_Time": {"type": "string", "format": "date-time"}
                }}}}
            }
        });
        let schema = read_schema("ignored", &doc);
        let paths: Vec<(&str, &str, Option<&str>)> = schema
            .fields
            .iter()
            .map(|f| (f.path.as_str(), f.kind.as_str(), f.format.as_deref()))
            .collect();
        assert_eq!(
            paths,
            [
                ("_acme.zoho.Modified_Time", "string", Some("date-time")),
                ("personalEmail.address", "string", Some("email")),
                ("personalEmail.primary", "boolean", None),
                ("segmentMembership", "array", None),
            ]
        );
        assert_eq!(schema.id, "https://ns.adobe.com/acme/schemas/x");
        assert!(schema.is_tenant_field("_acme.zoho.Modified_Time"));
        assert!(!schema.is_tenant_field("personalEmail.address"));
    }

    #[test]
    fn schema_ids_become_one_path_segment() {
        assert_eq!(
            encode_segment("https://ns.adobe.com/acme/schemas/zoho crm+1"),
            "https%3A%2F%2Fns.adobe.com%2Facme%2Fschemas%2Fzoho%20crm%2B1"
        );
    }
}
