//! Connection specs and flow specs (docs/aep-api.md#connection-specs, #flow-spec), and the fixed ids and content types
//! `provision` works with. Both lookups are read only: they let `check` and `apply` stop early
//! when Adobe has withdrawn the Zoho source (docs/aep-api.md#zoho-source-deprecation).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::wire::{self, de};
use super::{AepClient, ApiError, ConnectionSpecId, FlowSpecId, Query, Service};

/// The Zoho CRM connection spec (docs/aep-api.md#connection-specs).
pub const ZOHO_CRM_SPEC_ID: &str = "929e4450-0237-4ed2-9404-b7e1e0a00309";
pub const ZOHO_CRM_SPEC_VERSION: &str = "1.0";
/// The data lake connection spec, used by every target connection (docs/aep-api.md#target-connection).
pub const DATA_LAKE_SPEC_ID: &str = "c604ff05-7f1a-43c0-8e18-33bf874cb11c";
pub const DATA_LAKE_SPEC_VERSION: &str = "1.0";
/// The flow spec for table-based sources such as CRMs (docs/aep-api.md#flow-spec, #disagreements #2).
pub const CRM_TO_AEP_FLOW_SPEC_ID: &str = "14518937-270c-4525-bdec-c2ba7cce3860";
pub const CRM_TO_AEP_FLOW_SPEC_NAME: &str = "CRMToAEP";
pub const CRM_TO_AEP_FLOW_SPEC_VERSION: &str = "1.0";
/// The auth spec Zoho base connections use (docs/aep-api.md#connection-specs, #base-connection).
pub const BASIC_AUTHENTICATION: &str = "Basic Authentication";
/// `schemaRef.contentType` of a dataset (docs/aep-api.md#dataset, #disagreements #12).
pub const XED_CONTENT_TYPE: &str = "application/vnd.adobe.xed+json;version=1";
/// `data.schema.version` of a target connection and `outputSchema.schemaRef.contentType` of a
/// mapping set (docs/aep-api.md#target-connection, #mapping-set).
pub const XED_FULL_CONTENT_TYPE: &str = "application/vnd.adobe.xed-full+json;version=1";

/// `{"id": ..., "version": "1.0"}`: a reference to a connection spec or flow spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecRef<I> {
    pub id: I,
    /// Always sent on writes; some reads leave it out.
    #[serde(
        default,
        deserialize_with = "de::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<String>,
}

impl<I> SpecRef<I> {
    pub fn new(id: I, version: &str) -> Self {
        Self {
            id,
            version: Some(version.to_owned()),
        }
    }
}

impl SpecRef<ConnectionSpecId> {
    pub fn zoho_crm() -> Self {
        Self::new(ZOHO_CRM_SPEC_ID.into(), ZOHO_CRM_SPEC_VERSION)
    }

    pub fn data_lake() -> Self {
        Self::new(DATA_LAKE_SPEC_ID.into(), DATA_LAKE_SPEC_VERSION)
    }
}

impl SpecRef<FlowSpecId> {
    pub fn crm_to_aep() -> Self {
        Self::new(CRM_TO_AEP_FLOW_SPEC_ID.into(), CRM_TO_AEP_FLOW_SPEC_VERSION)
    }
}

/// A connection spec, as much of it as `provision` reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionSpec {
    pub id: ConnectionSpecId,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub version: Option<String>,
    #[serde(default)]
    pub provider_id: Option<String>,
    /// An array in the docs; a single object is accepted too.
    #[serde(default, deserialize_with = "one_or_many")]
    pub auth_spec: Vec<AuthSpec>,
}

impl ConnectionSpec {
    /// The auth spec named `name` (compared without regard to case).
    pub fn auth_spec(&self, name: &str) -> Option<&AuthSpec> {
        self.auth_spec
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The "Basic Authentication" auth spec Zoho base connections use.
    pub fn basic_auth(&self) -> Option<&AuthSpec> {
        self.auth_spec(BASIC_AUTHENTICATION)
    }
}

/// One entry of `authSpec`: its name and the JSON schema of `auth.params`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuthSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// A JSON schema (`properties`, `required`), kept loose.
    #[serde(default)]
    pub spec: Value,
}

impl AuthSpec {
    /// `spec.required`: the params a base connection must carry.
    pub fn required(&self) -> Vec<&str> {
        self.spec
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// The names in `spec.properties`: every param the service knows.
    pub fn property_names(&self) -> Vec<&str> {
        self.spec
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// `spec.properties.{name}.description`, for messages about a missing or bad param.
    pub fn property_description(&self, name: &str) -> Option<&str> {
        self.spec
            .get("properties")?
            .get(name)?
            .get("description")?
            .as_str()
    }
}

/// A flow spec, loosely typed: its transformation and schedule specs differ in shape between
/// the docs and the OpenAPI spec (docs/aep-api.md#flow-spec, #disagreements #17), so they stay JSON.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowSpec {
    pub id: FlowSpecId,
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub version: Option<String>,
    #[serde(default, deserialize_with = "de::vec_or_null")]
    pub source_connection_spec_ids: Vec<ConnectionSpecId>,
    #[serde(default, deserialize_with = "de::vec_or_null")]
    pub target_connection_spec_ids: Vec<ConnectionSpecId>,
    /// `transformationSpecs` (array or object) or `transformationSpec`; `Null` when absent.
    #[serde(flatten, deserialize_with = "transformation_specs")]
    pub transformation_specs: Value,
    #[serde(default)]
    pub schedule_spec: Value,
    #[serde(default)]
    pub attributes: Value,
}

impl FlowSpec {
    /// Whether the flow spec accepts sources of this connection spec.
    pub fn allows_source(&self, spec: &ConnectionSpecId) -> bool {
        self.source_connection_spec_ids.contains(spec)
    }

    /// Whether the flow spec accepts targets of this connection spec.
    pub fn allows_target(&self, spec: &ConnectionSpecId) -> bool {
        self.target_connection_spec_ids.contains(spec)
    }
}

/// `GET /connectionSpecs/{id}`; `None` when the spec does not exist (404 or no items).
pub async fn connection_spec(
    client: &AepClient,
    id: &ConnectionSpecId,
) -> Result<Option<ConnectionSpec>, ApiError> {
    let path = format!("/connectionSpecs/{id}");
    let call = format!("GET {path}");
    let Some(value) = client
        .get_opt::<Value>(Service::FlowService, &path, &Query::new())
        .await?
    else {
        return Ok(None);
    };
    let specs: Vec<ConnectionSpec> =
        wire::decode_items(&call, "connection spec", wire::unwrap_items(&call, value)?)?;
    let position = specs.iter().position(|s| &s.id == id).unwrap_or(0);
    Ok(specs.into_iter().nth(position))
}

/// `GET /flowSpecs?property=name=={name}`; the answer may be `{"items": [...]}` or the bare
/// object (docs/aep-api.md#flow-spec). `None` when no flow spec has exactly that name.
pub async fn flow_spec_by_name(
    client: &AepClient,
    name: &str,
) -> Result<Option<FlowSpec>, ApiError> {
    let path = "/flowSpecs";
    let call = format!("GET {path}");
    let query = Query::new().property_eq("name", &[name]);
    let value: Value = client.get(Service::FlowService, path, &query).await?;
    let specs: Vec<FlowSpec> =
        wire::decode_items(&call, "flow spec", wire::unwrap_items(&call, value)?)?;
    Ok(specs.into_iter().find(|s| s.name == name))
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<AuthSpec>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<AuthSpec>),
        One(AuthSpec),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::Many(v)) => v,
        Some(OneOrMany::One(one)) => vec![one],
    })
}

fn transformation_specs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Either {
        #[serde(default)]
        transformation_specs: Option<Value>,
        #[serde(default)]
        transformation_spec: Option<Value>,
    }
    let either = Either::deserialize(d)?;
    Ok(either
        .transformation_specs
        .or(either.transformation_spec)
        .unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn basic_auth_params_are_read_from_the_auth_spec() {
        let spec: ConnectionSpec = serde_json::from_value(json!({
            "id": ZOHO_CRM_SPEC_ID,
            "authSpec": [{"name": "Basic Authentication", "type": "OAuth2", "spec": {
                "properties": {"endpoint": {"type": "string", "description": "the CRM endpoint"},
                               "clientSecret": {"type": "string"}},
                "required": ["endpoint", "clientSecret"]}}]
        }))
        .unwrap();
        let basic = spec.basic_auth().unwrap();
        assert_eq!(basic.required(), ["endpoint", "clientSecret"]);
        assert_eq!(basic.property_names(), ["clientSecret", "endpoint"]);
        assert_eq!(
            basic.property_description("endpoint"),
            Some("the CRM endpoint")
        );
        assert!(spec.auth_spec("OAuth 2 Refresh Code").is_none());
    }

    #[test]
    fn spec_refs_serialise_with_their_version() {
        assert_eq!(
            serde_json::to_value(SpecRef::zoho_crm()).unwrap(),
            json!({"id": ZOHO_CRM_SPEC_ID, "version": "1.0"})
        );
    }
}
