//! Data Prep mapping sets (docs/aep-api.md#mapping-set), in the current `outputSchema` + `source`/`destination`
//! format (docs/aep-api.md#disagreements #11). data-prep.yaml has no DELETE for mapping sets: they cannot be removed
//! through the API, only left unused.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::catalog::SchemaRef;
use super::specs::XED_FULL_CONTENT_TYPE;
use super::wire::{self, de};
use super::{AepClient, ApiError, MappingSetId, Query, Service};

const PATH: &str = "/mappingSets";
/// Page size asked for listings. `limit` is required and data-prep.yaml gives it no maximum;
/// one page this size holds every mapping set of a profile of up to 1000 modules, so that
/// observing costs one request however many modules there are. A service that applies a
/// smaller page says so in `_page.limit`, and the rest is read page by page
/// ([`wire::offset_pages`]).
pub const PAGE_SIZE: usize = 1000;
/// The tag that carries a mapping set's description: the spec gives mapping sets `name` and
/// `tags` but no `description` field.
pub const DESCRIPTION_TAG: &str = "description";

/// A mapping set to create or validate.
#[derive(Debug, Clone)]
pub struct NewMappingSet {
    /// Sent as `name`; the spec has the field but the docs never set it, so whether the service
    /// keeps it is unverified (docs/aep-api.md#mapping-set).
    pub name: Option<String>,
    /// Sent as the tag `{"name": "description", "values": [...]}`.
    pub description: Option<String>,
    /// The target XDM schema `$id`.
    pub schema_id: String,
    /// `outputSchema.schemaRef.contentType`, [`XED_FULL_CONTENT_TYPE`] by default.
    pub content_type: String,
    pub mappings: Vec<NewMapping>,
}

impl NewMappingSet {
    pub fn new(schema_id: impl Into<String>, mappings: Vec<NewMapping>) -> Self {
        Self {
            name: None,
            description: None,
            schema_id: schema_id.into(),
            content_type: XED_FULL_CONTENT_TYPE.to_owned(),
            mappings,
        }
    }
}

/// One mapping: `{"sourceType": "ATTRIBUTE", "source": ..., "destination": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewMapping {
    pub source_type: SourceType,
    pub source: String,
    pub destination: String,
}

impl NewMapping {
    /// An input attribute copied to an XDM path.
    pub fn attribute(source: impl Into<String>, destination: impl Into<String>) -> Self {
        Self {
            source_type: SourceType::Attribute,
            source: source.into(),
            destination: destination.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SourceType {
    Attribute,
    Expression,
    Static,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    output_schema: OutputSchemaBody,
    mappings: &'a [NewMapping],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<Tag>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutputSchemaBody {
    schema_ref: SchemaRef,
}

impl<'a> Body<'a> {
    fn of(new: &'a NewMappingSet) -> Self {
        Body {
            name: new.name.as_deref(),
            output_schema: OutputSchemaBody {
                schema_ref: SchemaRef {
                    id: new.schema_id.clone(),
                    content_type: Some(new.content_type.clone()),
                },
            },
            mappings: &new.mappings,
            tags: new
                .description
                .iter()
                .map(|d| Tag {
                    name: DESCRIPTION_TAG.to_owned(),
                    values: vec![d.clone()],
                })
                .collect(),
        }
    }
}

/// A mapping set tag: `{"name": ..., "values": [...]}` (`value` is accepted on reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(default)]
    pub name: String,
    #[serde(default, alias = "value", deserialize_with = "de::vec_or_null")]
    pub values: Vec<String>,
}

/// What a create returns: the id and version a flow's Mapping transformation refers to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MappingSetRef {
    pub id: MappingSetId,
    #[serde(deserialize_with = "de::u32_lenient")]
    pub version: u32,
}

/// A mapping set as Data Prep returns it; legacy-format fields are read too (docs/aep-api.md#disagreements #11).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingSet {
    pub id: MappingSetId,
    #[serde(deserialize_with = "de::u32_lenient")]
    pub version: u32,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub output_schema: Option<OutputSchema>,
    /// Legacy format: the schema `$id`.
    #[serde(default)]
    pub xdm_schema: Option<String>,
    #[serde(default, deserialize_with = "de::vec_or_null")]
    pub mappings: Vec<Mapping>,
    #[serde(default, deserialize_with = "de::vec_or_null")]
    pub tags: Vec<Tag>,
    /// Epoch milliseconds; tells the oldest of two look-alike mapping sets.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub created_date: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputSchema {
    #[serde(default)]
    pub schema_ref: Option<SchemaRef>,
}

/// One mapping as read. Both `source` and the legacy `sourceAttribute` may be present.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mapping {
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub destination: Option<String>,
    #[serde(default)]
    pub source_attribute: Option<String>,
    #[serde(default)]
    pub destination_xdm_path: Option<String>,
}

impl Mapping {
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref().or(self.source_attribute.as_deref())
    }

    pub fn destination(&self) -> Option<&str> {
        self.destination
            .as_deref()
            .or(self.destination_xdm_path.as_deref())
    }
}

impl MappingSet {
    /// The output schema `$id` (`outputSchema.schemaRef.id`, else the legacy `xdmSchema`).
    pub fn schema_id(&self) -> Option<&str> {
        self.output_schema
            .as_ref()
            .and_then(|o| o.schema_ref.as_ref())
            .map(|r| r.id.as_str())
            .or(self.xdm_schema.as_deref())
    }

    /// The description carried in the [`DESCRIPTION_TAG`] tag.
    pub fn description(&self) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.name == DESCRIPTION_TAG)
            .and_then(|t| t.values.first())
            .map(String::as_str)
    }

    /// `(source, destination)` pairs, in order, for comparing with the desired mapping.
    pub fn rules(&self) -> Vec<(&str, &str)> {
        self.mappings
            .iter()
            .filter_map(|m| Some((m.source()?, m.destination()?)))
            .collect()
    }

    pub fn reference(&self) -> MappingSetRef {
        MappingSetRef {
            id: self.id.clone(),
            version: self.version,
        }
    }
}

/// The outcome of `POST /mappingSets/validate`: one entry per mapping.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingValidation {
    #[serde(default, deserialize_with = "de::vec_or_null")]
    pub validation_response: Vec<MappingCheck>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MappingCheck {
    /// `SUCCESS` or `FAILED`.
    #[serde(default)]
    pub status: Option<String>,
    /// `TransformErrorInfo` objects (`source`, `destination`, `exception`, ...), kept loose.
    #[serde(default, deserialize_with = "de::vec_or_null")]
    pub errors: Vec<Value>,
}

impl MappingValidation {
    pub fn is_valid(&self) -> bool {
        self.validation_response.iter().all(|c| {
            c.status
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("success"))
                && c.errors.is_empty()
        })
    }
}

/// `POST /mappingSets` -> `200 {"id", "version", ...}`.
pub async fn create_mapping_set(
    client: &AepClient,
    new: &NewMappingSet,
) -> Result<MappingSetRef, ApiError> {
    client
        .post(Service::DataPrep, PATH, &Query::new(), &Body::of(new))
        .await
}

/// `PUT /mappingSets/{id}` with the full new content -> the mapping set with its new `version`
/// (data-prep.yaml `putMappingSet`; not in Adobe's tutorials). Lets a changed mapping
/// keep its mapping set, since mapping sets cannot be deleted.
pub async fn update_mapping_set(
    client: &AepClient,
    id: &MappingSetId,
    new: &NewMappingSet,
) -> Result<MappingSet, ApiError> {
    client
        .put(Service::DataPrep, &format!("{PATH}/{id}"), &Body::of(new))
        .await
}

/// `GET /mappingSets/{id}` (the latest version); `None` when it does not exist.
pub async fn get_mapping_set(
    client: &AepClient,
    id: &MappingSetId,
) -> Result<Option<MappingSet>, ApiError> {
    client
        .get_opt(Service::DataPrep, &format!("{PATH}/{id}"), &Query::new())
        .await
}

/// `GET /mappingSets?limit=..&start=..[&name=..]`, every page. `start` is taken as an item
/// offset, as in Catalog; the docs' wording ("offset of the pages") leaves it open.
pub async fn list_mapping_sets(
    client: &AepClient,
    name: Option<&str>,
) -> Result<Vec<MappingSet>, ApiError> {
    let mut query = Query::new();
    if let Some(name) = name {
        query = query.param("name", name);
    }
    let items = wire::offset_pages(
        client,
        Service::DataPrep,
        PATH,
        &query,
        PAGE_SIZE,
        page_data,
    )
    .await?;
    wire::decode_items(&format!("GET {PATH}"), "mapping set", items)
}

/// `POST /mappingSets/validate` with the body a create would send.
pub async fn validate_mapping_set(
    client: &AepClient,
    new: &NewMappingSet,
) -> Result<MappingValidation, ApiError> {
    client
        .post(
            Service::DataPrep,
            &format!("{PATH}/validate"),
            &Query::new(),
            &Body::of(new),
        )
        .await
}

/// `{"data": [...], "_page": {"count", "limit"}}`; the spec's example has `data` as one object.
/// `_page.limit` is the page size the service applied, which may be smaller than the `limit`
/// asked.
fn page_data(call: &str, page: Value) -> Result<wire::OffsetPage, ApiError> {
    let Value::Object(mut map) = page else {
        return Err(ApiError::decode(
            call,
            format!(
                "expected an object with `data`, got {}",
                wire::kind_of(&page)
            ),
        ));
    };
    let page_limit = map
        .get("_page")
        .and_then(|p| p.get("limit"))
        .and_then(Value::as_u64)
        .and_then(|l| usize::try_from(l).ok());
    let items = match map.remove("data") {
        Some(Value::Array(items)) => items,
        Some(item @ Value::Object(_)) => vec![item],
        Some(Value::Null) | None => Vec::new(),
        Some(other) => {
            return Err(ApiError::decode(
                call,
                format!(
                    "expected `data` to be a list, got {}",
                    wire::kind_of(&other)
                ),
            ))
        }
    };
    Ok(wire::OffsetPage { items, page_limit })
}
