//! The profile's schema, described once: every key the profile accepts, its type, its default,
//! its allowed values and its description. The loader's key and type walk ([`super::walk`]) and
//! `provision profile-schema` ([`json_schema`]) both read these tables, so they cannot disagree.
//!
//! Adding a key: one [`Field`] here (with its description), then read and check its value in
//! [`super::validate`] and add it to the public type in [`super::types`]. Nothing else lists keys.

use serde_json::{json, Map, Value};

use super::regions::ZohoRegion;
use super::types::DEFAULT_SCOPES;
use super::types::{Frequency, DEFAULT_DELTA_COLUMN, DEFAULT_IMS_URL, DEFAULT_PLATFORM_URL};

/// The type of a profile value.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Str,
    /// A string whose value is never echoed in messages.
    Secret,
    Int,
    Bool,
    /// An array of strings (or, from the environment, a comma-separated list).
    StrList,
    /// An RFC 3339 string or a TOML offset date-time.
    Timestamp,
    Table(&'static [Field]),
    /// `"auto"` or an array of `{ source, destination }` tables.
    Mapping,
    /// An array of tables (`[[dataflows]]`).
    Tables(&'static [Field]),
}

impl Kind {
    /// How the type is named in "expected ..., found ..." messages.
    pub(super) fn describe(self) -> &'static str {
        match self {
            Kind::Str | Kind::Secret => "a string",
            Kind::Int => "a whole number",
            Kind::Bool => "true or false",
            Kind::StrList => "an array of strings",
            Kind::Timestamp => "an RFC 3339 date-time such as \"2026-12-01T00:00:00Z\"",
            Kind::Table(_) => "a table",
            Kind::Mapping => "\"auto\" or an array of { source = \"...\", destination = \"...\" }",
            Kind::Tables(_) => "an array of tables ([[...]])",
        }
    }
}

/// One key of a table.
#[derive(Clone, Copy)]
pub(super) struct Field {
    pub(super) name: &'static str,
    pub(super) kind: Kind,
    /// The description shown by editors (from `provision profile-schema`).
    doc: &'static str,
    /// The value used when the key is absent, if there is a fixed one.
    default: Option<fn() -> Value>,
    /// The only values accepted (after `${VAR}` expansion).
    values: Option<fn() -> Vec<&'static str>>,
    /// The smallest number accepted.
    minimum: Option<i64>,
}

const fn field(name: &'static str, kind: Kind, doc: &'static str) -> Field {
    Field {
        name,
        kind,
        doc,
        default: None,
        values: None,
        minimum: None,
    }
}

impl Field {
    const fn default(mut self, default: fn() -> Value) -> Self {
        self.default = Some(default);
        self
    }

    const fn values(mut self, values: fn() -> Vec<&'static str>) -> Self {
        self.values = Some(values);
        self
    }

    const fn minimum(mut self, minimum: i64) -> Self {
        self.minimum = Some(minimum);
        self
    }
}

fn default_scopes() -> Value {
    json!(DEFAULT_SCOPES)
}
fn default_ims_url() -> Value {
    json!(DEFAULT_IMS_URL)
}
fn default_platform_url() -> Value {
    json!(DEFAULT_PLATFORM_URL)
}
fn default_delta_column() -> Value {
    json!(DEFAULT_DELTA_COLUMN)
}
fn default_true() -> Value {
    json!(true)
}
fn regions() -> Vec<&'static str> {
    ZohoRegion::ALL.map(ZohoRegion::as_str).to_vec()
}
fn auto_unmapped() -> Vec<&'static str> {
    vec!["fail", "skip"]
}
fn default_auto_unmapped() -> Value {
    json!("fail")
}
fn frequencies() -> Vec<&'static str> {
    Frequency::ALL.map(Frequency::as_str).to_vec()
}

/// The rule every URL key follows, appended to its description.
macro_rules! url_rule {
    () => {
        " An https:// URL (http:// only to 127.0.0.1, ::1 or localhost), without user name, \
         password, query or fragment."
    };
}

pub(super) const ADOBE: &[Field] = &[
    field(
        "org_id",
        Kind::Str,
        "Required. The IMS organization id, ending in @AdobeOrg (Developer Console → project → credential).",
    ),
    field(
        "sandbox",
        Kind::Str,
        "Required. The sandbox name: lower-case letters, digits and hyphens, e.g. \"prod\".",
    ),
    field(
        "client_id",
        Kind::Str,
        "Required. The OAuth Server-to-Server client id; also sent as x-api-key.",
    ),
    field(
        "client_secret",
        Kind::Secret,
        "Required secret. Write \"${AEP_CLIENT_SECRET}\" (a literal secret is accepted only in a \
         file readable by its owner alone).",
    ),
    field(
        "scopes",
        Kind::StrList,
        "The IMS scopes, one per string (comma-separated in PROVISION_ADOBE__SCOPES).",
    )
    .default(default_scopes),
    field(
        "ims_url",
        Kind::Str,
        concat!(
            "The Adobe IMS host; the token endpoint is {ims_url}/ims/token/v3.",
            url_rule!()
        ),
    )
    .default(default_ims_url),
    field(
        "platform_url",
        Kind::Str,
        concat!(
            "The Adobe Experience Platform API host.",
            url_rule!()
        ),
    )
    .default(default_platform_url),
];

pub(super) const ZOHO: &[Field] = &[
    field(
        "region",
        Kind::Str,
        "The Zoho data centre. Required unless accounts_url is set.",
    )
    .values(regions),
    field(
        "client_id",
        Kind::Str,
        "Required. The Zoho API console client id, 1000.…",
    ),
    field(
        "client_secret",
        Kind::Secret,
        "Required secret. Write \"${ZOHO_CLIENT_SECRET}\".",
    ),
    field(
        "refresh_token",
        Kind::Secret,
        "Required secret. Write \"${ZOHO_REFRESH_TOKEN}\"; `provision zoho token` makes one.",
    ),
    field(
        "accounts_url",
        Kind::Str,
        concat!(
            "The Zoho OAuth server; defaults to the region's. A known Zoho accounts server also sets \
         the region.",
            url_rule!()
        ),
    ),
    field(
        "api_url",
        Kind::Str,
        concat!(
            "The Zoho CRM API domain; defaults to the region's. Required when accounts_url is not a \
         Zoho accounts server.",
            url_rule!()
        ),
    ),
];

pub(super) const CONNECTION: &[Field] = &[
    field(
        "name",
        Kind::Str,
        "Required. The base connection's name and the prefix of every managed resource's name; no \
         comma, no leading or trailing spaces.",
    ),
    field(
        "description",
        Kind::Str,
        "The base connection's description.",
    ),
];

pub(super) const SCHEDULE: &[Field] = &[
    field(
        "frequency",
        Kind::Str,
        "Required. How often the dataflow runs.",
    )
    .values(frequencies),
    field(
        "interval",
        Kind::Int,
        "Runs every `interval` units of `frequency`: at least 15 for minute, at least 1 otherwise; \
         absent for once.",
    )
    .minimum(1),
    field(
        "start",
        Kind::Timestamp,
        "Required. The first run, as an RFC 3339 date-time with a time zone, e.g. \
         \"2026-12-01T00:00:00Z\".",
    ),
    field(
        "backfill",
        Kind::Bool,
        "Load the data from before `start` too; absent for once.",
    )
    .default(default_true),
];

pub(super) const DEFAULTS: &[Field] = &[
    field(
        "schema_id",
        Kind::Str,
        "The target XDM schema $id of every dataflow that does not name one.",
    ),
    field(
        "mapping_prefix",
        Kind::Str,
        "The XDM path under which mapping = \"auto\" maps the columns, e.g. \"_acme.zoho\".",
    ),
    field(
        "auto_unmapped",
        Kind::Str,
        "What mapping = \"auto\" does with a column the target schema has no {mapping_prefix}.C field \
         for: \"fail\" (plan and apply stop and list them) or \"skip\" (the column is ingested \
         but not mapped).",
    )
    .values(auto_unmapped)
    .default(default_auto_unmapped),
    field(
        "delta_column",
        Kind::Str,
        "The date-time column Zoho updates on edit, for incremental loads.",
    )
    .default(default_delta_column),
    field(
        "schedule",
        Kind::Table(SCHEDULE),
        "The schedule of every dataflow that does not have one (replaced as a whole).",
    ),
];

pub(super) const DATASET: &[Field] = &[
    field(
        "create",
        Kind::Bool,
        "true: provision creates (and owns) a dataset named `name`.",
    ),
    field("name", Kind::Str, "The name of the dataset to create."),
    field(
        "id",
        Kind::Str,
        "The id of an existing dataset, never changed or deleted.",
    ),
];

pub(super) const RULE: &[Field] = &[
    field("source", Kind::Str, "The Zoho column, e.g. \"Email\"."),
    field(
        "destination",
        Kind::Str,
        "The XDM path, e.g. \"personalEmail.address\"; each destination once.",
    ),
];

pub(super) const DATAFLOW: &[Field] = &[
    field(
        "module",
        Kind::Str,
        "Required. The Zoho module's explore path, e.g. \"Leads\"; one dataflow per module; no comma.",
    ),
    field(
        "dataset",
        Kind::Table(DATASET),
        "Required. { create = true, name = \"...\" } or { id = \"...\" }.",
    ),
    field(
        "delta_column",
        Kind::Str,
        "The date-time column for incremental loads; defaults to [defaults], else Modified_Time.",
    ),
    field(
        "schema_id",
        Kind::Str,
        "The target XDM schema $id; defaults to [defaults] (required in one of them).",
    ),
    field(
        "mapping_prefix",
        Kind::Str,
        "The XDM path mapping = \"auto\" maps the columns under; defaults to [defaults].",
    ),
    field(
        "auto_unmapped",
        Kind::Str,
        "\"fail\" or \"skip\": what mapping = \"auto\" does with a column the schema has no field \
         for; defaults to [defaults], else \"fail\".",
    )
    .values(auto_unmapped),
    field(
        "mapping",
        Kind::Mapping,
        "Required. \"auto\" (each explored column C maps to {mapping_prefix}.C) or a non-empty \
         array of { source, destination } rules.",
    ),
    field(
        "schedule",
        Kind::Table(SCHEDULE),
        "The schedule; defaults to [defaults] (required in one of them).",
    ),
    field(
        "enabled",
        Kind::Bool,
        "false keeps the dataflow but disabled; true (the default) runs it on its schedule.",
    )
    .default(default_true),
];

pub(super) const ROOT: &[Field] = &[
    field(
        "adobe",
        Kind::Table(ADOBE),
        "The Adobe Experience Platform credential and sandbox.",
    ),
    field(
        "zoho",
        Kind::Table(ZOHO),
        "The Zoho CRM OAuth client and data centre.",
    ),
    field(
        "connection",
        Kind::Table(CONNECTION),
        "The base connection provision manages.",
    ),
    field(
        "defaults",
        Kind::Table(DEFAULTS),
        "Values applied to every [[dataflows]] entry that does not set them.",
    ),
    field(
        "dataflows",
        Kind::Tables(DATAFLOW),
        "One entry per Zoho module to load into Adobe Experience Platform.",
    ),
];

/// The profile's JSON Schema (draft 2020-12), for editors (taplo, Even Better TOML) and for
/// checking profiles outside provision. Built from the same tables the loader checks keys with.
pub fn json_schema() -> Value {
    let mut schema = table_schema(ROOT);
    let object = schema.as_object_mut().expect("a table schema is an object");
    let mut head = Map::new();
    head.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    head.insert("title".into(), json!("provision profile"));
    head.insert(
        "description".into(),
        json!(
            "A provision profile: the Zoho CRM and Adobe Experience Platform settings and one \
             dataflow per Zoho module. Any string may use ${VAR}; any key may be overridden by \
             PROVISION_<SECTION>__<KEY>. See docs/profile.md."
        ),
    );
    head.append(object);
    Value::Object(head)
}

fn table_schema(fields: &[Field]) -> Value {
    let properties: Map<String, Value> = fields
        .iter()
        .map(|f| (f.name.to_owned(), field_schema(f)))
        .collect();
    json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    })
}

fn field_schema(f: &Field) -> Value {
    let mut schema = kind_schema(f.kind);
    let object = schema.as_object_mut().expect("a field schema is an object");
    object.insert("description".into(), json!(f.doc));
    if let Some(default) = f.default {
        object.insert("default".into(), default());
    }
    if let Some(minimum) = f.minimum {
        object.insert("minimum".into(), json!(minimum));
    }
    if let Some(values) = f.values {
        // `${VAR}` is expanded before the value is checked, so a reference is accepted too.
        object.remove("type");
        object.insert(
            "anyOf".into(),
            json!([{ "enum": values() }, variable_reference()]),
        );
    }
    schema
}

/// A string holding a `${VAR}` reference.
fn variable_reference() -> Value {
    json!({ "type": "string", "pattern": "\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}" })
}

fn kind_schema(kind: Kind) -> Value {
    match kind {
        Kind::Str => json!({ "type": "string" }),
        Kind::Secret => json!({ "type": "string", "writeOnly": true }),
        Kind::Int => json!({ "type": "integer" }),
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::StrList => json!({ "type": "array", "items": { "type": "string" } }),
        Kind::Timestamp => json!({ "type": "string", "format": "date-time" }),
        Kind::Table(fields) => table_schema(fields),
        Kind::Mapping => json!({
            "anyOf": [
                { "enum": ["auto"] },
                variable_reference(),
                { "type": "array", "minItems": 1, "items": table_schema(RULE) },
            ]
        }),
        Kind::Tables(fields) => json!({ "type": "array", "items": table_schema(fields) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_lists_every_key_with_a_description() {
        let schema = json_schema();
        let adobe = &schema["properties"]["adobe"]["properties"];
        assert_eq!(adobe["ims_url"]["default"], DEFAULT_IMS_URL);
        let region = &schema["properties"]["zoho"]["properties"]["region"];
        assert_eq!(region["anyOf"][0]["enum"][1], "eu");
        fn walk(fields: &[Field], schema: &Value) {
            for f in fields {
                let s = &schema["properties"][f.name];
                assert!(s["description"].is_string(), "{} has a description", f.name);
                match f.kind {
                    Kind::Table(inner) => walk(inner, s),
                    Kind::Tables(inner) => walk(inner, &s["items"]),
                    _ => {}
                }
            }
        }
        walk(ROOT, &schema);
    }
}
