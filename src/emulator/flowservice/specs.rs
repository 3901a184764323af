//! Connection specs and flow specs (docs/aep-api.md#connection-specs, #flow-spec): the Zoho CRM spec with its "Basic
//! Authentication" auth spec, the data lake spec, a few neighbours, and the `CRMToAEP` and
//! `CloudStorageToAEP` flow specs. `zoho_spec` decides whether the Zoho spec exists and whether
//! `CRMToAEP` lists it (docs/aep-api.md#zoho-source-deprecation).

use serde_json::{json, Value};

use crate::emulator::faults::ZohoSpec;
use crate::emulator::seed::{
    CLOUD_FLOW_SPEC_ID, CRM_FLOW_SPEC_ID, DATA_LAKE_SPEC_ID, PROVIDER_ID, S3_SPEC_ID,
    SALESFORCE_SPEC_ID, ZOHO_SPEC_ID,
};

const PERMISSIONS: &str = r#"{"view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
    "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}]}"#;

fn permissions() -> Value {
    serde_json::from_str(PERMISSIONS).unwrap_or_default()
}

fn zoho() -> Value {
    json!({
        "id": ZOHO_SPEC_ID,
        "name": "zoho-crm",
        "providerId": PROVIDER_ID,
        "version": "1.0",
        "authSpec": [{
            "name": "Basic Authentication",
            "type": "BasicAuthentication",
            "spec": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "description": "Defines the auth params required for connecting to Zoho CRM.",
                "properties": {
                    "endpoint": {"type": "string", "description": "The endpoint of the Zoho CRM server you are making your request to: the api_domain of your Zoho token response, e.g. https://www.zohoapis.com."},
                    "accountsUrl": {"type": "string", "description": "The Zoho accounts URL of your data centre, used to generate your access and refresh tokens, e.g. https://accounts.zoho.com. The URL must be domain-specific."},
                    "clientId": {"type": "string", "description": "The client ID of your Zoho user account."},
                    "clientSecret": {"type": "string", "format": "password", "description": "The client secret of your Zoho user account."},
                    "accessToken": {"type": "string", "format": "password", "description": "The access token of your Zoho user account."},
                    "refreshToken": {"type": "string", "format": "password", "description": "The refresh token, obtained with access_type=offline."}
                },
                "required": ["endpoint", "accountsUrl", "clientId", "clientSecret", "refreshToken"]
            }
        }],
        "sourceSpec": {
            "attributes": {"uiAttributes": {"isSource": true, "isPreview": true, "isBeta": false, "category": {"key": "crm"}, "documentationLink": "https://experienceleague.adobe.com/docs/experience-platform/sources/connectors/crm/zoho.html"}},
            "spec": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "description": "Source connection params for a Zoho CRM module.",
                "properties": {"tableName": {"type": "string", "description": "The path of the module, from explore."}},
                "required": ["tableName"]
            }
        },
        "exploreSpec": {
            "name": "Table",
            "type": "Table",
            "requestSpec": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"},
            "responseSpec": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}
        },
        "attributes": {"category": "crm", "isSource": true, "isPreview": true, "isTabular": true},
        "permissionsInfo": permissions()
    })
}

fn table_source(id: &str, name: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "providerId": PROVIDER_ID,
        "version": "1.0",
        "authSpec": [{"name": "Basic Authentication", "type": "BasicAuthentication", "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {"username": {"type": "string"}, "password": {"type": "string", "format": "password"}},
            "required": ["username", "password"]
        }}],
        "sourceSpec": {"spec": {"type": "object", "properties": {"tableName": {"type": "string"}}, "required": ["tableName"]}},
        "attributes": {"category": "crm", "isSource": true, "isTabular": true},
        "permissionsInfo": permissions()
    })
}

fn data_lake() -> Value {
    json!({
        "id": DATA_LAKE_SPEC_ID,
        "name": "Data Lake",
        "providerId": "c669a9e0-1a2f-4d53-9cb0-4fbe6cf5b566",
        "version": "1.0",
        "authSpec": [],
        "targetSpec": {
            "name": "Data Lake",
            "spec": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "description": "Target connection params for the data lake.",
                "properties": {"dataSetId": {"type": "string", "description": "The id of the target dataset."}},
                "required": ["dataSetId"]
            }
        },
        "attributes": {"isDestination": true, "isTarget": true},
        "permissionsInfo": permissions()
    })
}

fn s3() -> Value {
    json!({
        "id": S3_SPEC_ID,
        "name": "amazon-s3",
        "providerId": PROVIDER_ID,
        "version": "1.0",
        "authSpec": [{"name": "Access Key", "type": "KeyBased", "spec": {
            "type": "object",
            "properties": {"s3AccessKey": {"type": "string"}, "s3SecretKey": {"type": "string", "format": "password"}},
            "required": ["s3AccessKey", "s3SecretKey"]
        }}],
        "attributes": {"category": "cloud storage", "isSource": true},
        "permissionsInfo": permissions()
    })
}

/// All connection specs visible under `zoho`.
pub fn connection_specs(zoho_spec: ZohoSpec) -> Vec<Value> {
    let mut specs = Vec::with_capacity(5);
    if zoho_spec != ZohoSpec::Removed {
        specs.push(zoho());
    }
    specs.push(table_source(SALESFORCE_SPEC_ID, "salesforce"));
    specs.push(table_source(
        "38ad80fe-8b06-4938-94f4-d4ee80266b07",
        "microsoft-dynamics",
    ));
    specs.push(data_lake());
    specs.push(s3());
    specs
}

pub fn connection_spec(id: &str, zoho_spec: ZohoSpec) -> Option<Value> {
    connection_specs(zoho_spec)
        .into_iter()
        .find(|s| s["id"] == id)
}

fn crm_to_aep(zoho_spec: ZohoSpec) -> Value {
    let mut sources = vec![
        json!("3416976c-a9ca-4bba-901a-1f08f66978ff"),
        json!("38ad80fe-8b06-4938-94f4-d4ee80266b07"),
        json!(SALESFORCE_SPEC_ID),
    ];
    if zoho_spec == ZohoSpec::Listed {
        sources.push(json!(ZOHO_SPEC_ID));
    }
    json!({
        "id": CRM_FLOW_SPEC_ID,
        "name": "CRMToAEP",
        "providerId": PROVIDER_ID,
        "version": "1.0",
        "sourceConnectionSpecIds": sources,
        "targetConnectionSpecIds": [DATA_LAKE_SPEC_ID],
        "optionSpec": {"name": "OptionSpec", "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {
                "errorDiagnosticsEnabled": {"type": "boolean", "default": false},
                "partialIngestionPercent": {"type": "number", "exclusiveMinimum": 0}
            }
        }},
        "transformationSpecs": [
            {"name": "Copy", "spec": {
                "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                "properties": {"deltaColumn": {"type": "object", "properties": {
                    "name": {"type": "string"}, "dateFormat": {"type": "string"}, "timezone": {"type": "string"}
                }, "required": ["name"]}},
                "required": ["deltaColumn"]
            }},
            {"name": "Mapping", "spec": {
                "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                "properties": {"mappingId": {"type": "string"}, "mappingVersion": {"type": "string"}}
            }}
        ],
        "scheduleSpec": {"name": "PeriodicSchedule", "type": "Periodic", "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {
                "startTime": {"type": "integer", "description": "epoch time"},
                "frequency": {"type": "string", "enum": ["once", "minute", "hour", "day", "week"]},
                "interval": {"type": "integer"},
                "backfill": {"type": "boolean", "default": true}
            },
            "required": ["startTime", "frequency"],
            "if": {"properties": {"frequency": {"const": "once"}}},
            "then": {"allOf": [{"not": {"required": ["interval"]}}, {"not": {"required": ["backfill"]}}]},
            "else": {"required": ["interval"], "if": {"properties": {"frequency": {"const": "minute"}}},
                     "then": {"properties": {"interval": {"minimum": 15}}},
                     "else": {"properties": {"interval": {"minimum": 1}}}}
        }},
        "runSpec": {"name": "ProviderParams", "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {
                "startTime": {"type": "integer"}, "windowStartTime": {"type": "integer"},
                "windowEndTime": {"type": "integer"}, "deltaColumn": {"type": "object"}
            },
            "required": ["startTime", "windowStartTime", "windowEndTime", "deltaColumn"]
        }},
        "attributes": {"isSourceFlow": true, "frequency": "batch", "notification": {"category": "sources"}, "isDraftModeSupported": true},
        "permissionsInfo": permissions()
    })
}

fn cloud_storage_to_aep() -> Value {
    json!({
        "id": CLOUD_FLOW_SPEC_ID,
        "name": "CloudStorageToAEP",
        "providerId": PROVIDER_ID,
        "version": "1.0",
        "sourceConnectionSpecIds": [S3_SPEC_ID],
        "targetConnectionSpecIds": [DATA_LAKE_SPEC_ID],
        "transformationSpecs": [{"name": "Mapping", "spec": {"type": "object", "properties": {
            "mappingId": {"type": "string"}, "mappingVersion": {"type": "string"}
        }}}],
        "scheduleSpec": {"name": "PeriodicSchedule", "type": "Periodic", "spec": {"type": "object"}},
        "attributes": {"isSourceFlow": true, "frequency": "batch"},
        "permissionsInfo": permissions()
    })
}

pub fn flow_specs(zoho_spec: ZohoSpec) -> Vec<Value> {
    vec![crm_to_aep(zoho_spec), cloud_storage_to_aep()]
}

pub fn flow_spec(id: &str, zoho_spec: ZohoSpec) -> Option<Value> {
    flow_specs(zoho_spec).into_iter().find(|s| s["id"] == id)
}

/// Whether flow spec `id` is one of the source flow specs (`attributes.isSourceFlow`).
pub fn is_source_flow_spec(id: &str) -> bool {
    static SOURCE_FLOW_SPECS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SOURCE_FLOW_SPECS
        .get_or_init(|| {
            flow_specs(ZohoSpec::Listed)
                .into_iter()
                .filter(|spec| spec["attributes"]["isSourceFlow"].as_bool() == Some(true))
                .filter_map(|spec| spec["id"].as_str().map(str::to_owned))
                .collect()
        })
        .iter()
        .any(|s| s == id)
}

/// The auth spec named `name` of a connection spec.
pub fn auth_spec<'a>(spec: &'a Value, name: &str) -> Option<&'a Value> {
    spec.get("authSpec")?
        .as_array()?
        .iter()
        .find(|a| a.get("name").and_then(Value::as_str) == Some(name))
}

/// Whether a connection spec describes a table source (explorable, `tableName` required).
pub fn is_table_source(spec: &Value) -> bool {
    spec.pointer("/attributes/isTabular")
        .and_then(Value::as_bool)
        == Some(true)
}

pub fn is_target(spec: &Value) -> bool {
    spec.pointer("/attributes/isTarget")
        .and_then(Value::as_bool)
        == Some(true)
}

/// The names of auth params whose values are secrets (`format: password`).
pub fn secret_params(auth_spec: &Value) -> Vec<String> {
    auth_spec
        .pointer("/spec/properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .filter(|(_, p)| p.get("format").and_then(Value::as_str) == Some("password"))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}
