//! Catalog datasets (docs/aep-api.md#dataset). Catalog answers lists as an object keyed by dataset id and
//! pages with `limit`/`start`, not `_links`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::specs::XED_CONTENT_TYPE;
use super::wire::{self, de};
use super::{AepClient, ApiError, DatasetId, Query, Service};

const PATH: &str = "/dataSets";
/// Catalog returns at most 100 objects per request (catalog.yaml `limit`).
pub const PAGE_SIZE: usize = 100;
/// The fields a listing asks for, to keep answers small.
const LIST_PROPERTIES: &str = "name,description,schemaRef,tags";

/// A dataset to create.
#[derive(Debug, Clone)]
pub struct NewDataset {
    pub name: String,
    pub description: Option<String>,
    pub schema_id: String,
    /// `schemaRef.contentType`; [`XED_CONTENT_TYPE`] unless a sandbox needs the older form
    /// (docs/aep-api.md#disagreements #12).
    pub content_type: String,
    /// Sent only when not empty (e.g. `unifiedProfile` for Profile ingestion, when asked for).
    pub tags: BTreeMap<String, Vec<String>>,
}

impl NewDataset {
    pub fn new(name: impl Into<String>, schema_id: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: None,
            schema_id: schema_id.into(),
            content_type: XED_CONTENT_TYPE.to_owned(),
            tags: BTreeMap::new(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    schema_ref: SchemaRef,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: &'a BTreeMap<String, Vec<String>>,
}

/// `schemaRef`: the XDM schema `$id` and content type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaRef {
    pub id: String,
    #[serde(default)]
    pub content_type: Option<String>,
}

/// A dataset as Catalog returns it (the id is the key it was listed under).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub id: DatasetId,
    pub name: Option<String>,
    pub description: Option<String>,
    pub schema_ref: Option<SchemaRef>,
    pub tags: BTreeMap<String, Vec<String>>,
    /// Epoch milliseconds.
    pub created: Option<i64>,
    pub updated: Option<i64>,
}

impl Dataset {
    pub fn schema_id(&self) -> Option<&str> {
        self.schema_ref.as_ref().map(|s| s.id.as_str())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DatasetWire {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    schema_ref: Option<SchemaRef>,
    #[serde(default, deserialize_with = "lenient_tags")]
    tags: BTreeMap<String, Vec<String>>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    created: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    updated: Option<i64>,
}

/// `POST /dataSets` -> `201 ["@/dataSets/{id}"]`; returns the id without its prefix.
pub async fn create_dataset(client: &AepClient, new: &NewDataset) -> Result<DatasetId, ApiError> {
    let body = CreateBody {
        name: &new.name,
        description: new.description.as_deref(),
        schema_ref: SchemaRef {
            id: new.schema_id.clone(),
            content_type: Some(new.content_type.clone()),
        },
        tags: &new.tags,
    };
    let refs: Vec<String> = client
        .post(Service::Catalog, PATH, &Query::new(), &body)
        .await?;
    refs.first()
        .map(|r| r.trim_start_matches("@/dataSets/").trim())
        .filter(|id| !id.is_empty())
        .map(DatasetId::from)
        .ok_or_else(|| {
            ApiError::decode(
                &format!("POST {PATH}"),
                "the dataset was created but the answer holds no `@/dataSets/{id}` reference; \
                 look it up by name before creating it again",
            )
        })
}

/// `GET /dataSets/{id}` (an object keyed by id); `None` when it does not exist.
pub async fn get_dataset(client: &AepClient, id: &DatasetId) -> Result<Option<Dataset>, ApiError> {
    let path = format!("{PATH}/{id}");
    let Some(value) = client
        .get_opt::<Value>(Service::Catalog, &path, &Query::new())
        .await?
    else {
        return Ok(None);
    };
    let datasets = keyed_datasets(&format!("GET {path}"), value)?;
    let position = datasets.iter().position(|d| &d.id == id).unwrap_or(0);
    Ok(datasets.into_iter().nth(position))
}

/// `GET /dataSets?{query}` with `limit`/`start` paging until a short page.
pub async fn list_datasets(client: &AepClient, query: &Query) -> Result<Vec<Dataset>, ApiError> {
    let items = wire::offset_pages(
        client,
        Service::Catalog,
        PATH,
        query,
        PAGE_SIZE,
        |call, page| {
            Ok(wire::OffsetPage {
                items: keyed_items(call, page)?,
                page_limit: None,
            })
        },
    )
    .await?;
    wire::decode_items::<IdWire>(&format!("GET {PATH}"), "dataset", items)
        .map(|v| v.into_iter().map(Dataset::from).collect())
}

/// The datasets named exactly `name` (names are not unique; compare `schemaRef.id` too).
pub async fn list_datasets_by_name(
    client: &AepClient,
    name: &str,
) -> Result<Vec<Dataset>, ApiError> {
    let query = Query::new()
        .property_eq("name", &[name])
        .param("properties", LIST_PROPERTIES);
    list_datasets(client, &query).await
}

/// `DELETE /dataSets/{id}`.
pub async fn delete_dataset(client: &AepClient, id: &DatasetId) -> Result<(), ApiError> {
    client
        .delete(Service::Catalog, &format!("{PATH}/{id}"))
        .await
}

/// A dataset object with its key put back in as `id`.
#[derive(Deserialize)]
struct IdWire {
    id: DatasetId,
    #[serde(flatten)]
    rest: DatasetWire,
}

impl From<IdWire> for Dataset {
    fn from(w: IdWire) -> Self {
        Dataset {
            id: w.id,
            name: w.rest.name,
            description: w.rest.description,
            schema_ref: w.rest.schema_ref,
            tags: w.rest.tags,
            created: w.rest.created,
            updated: w.rest.updated,
        }
    }
}

/// `{"<id>": {...}, ...}` -> `[{"id": "<id>", ...}, ...]`.
fn keyed_items(call: &str, page: Value) -> Result<Vec<Value>, ApiError> {
    match page {
        Value::Object(map) => Ok(map
            .into_iter()
            .map(|(id, mut item)| {
                if let Value::Object(fields) = &mut item {
                    fields.insert("id".to_owned(), Value::String(id));
                }
                item
            })
            .collect()),
        Value::Null => Ok(Vec::new()),
        other => Err(ApiError::decode(
            call,
            format!(
                "expected an object keyed by dataset id, got {}",
                wire::kind_of(&other)
            ),
        )),
    }
}

fn keyed_datasets(call: &str, value: Value) -> Result<Vec<Dataset>, ApiError> {
    let items = keyed_items(call, value)?;
    wire::decode_items::<IdWire>(call, "dataset", items)
        .map(|v| v.into_iter().map(Dataset::from).collect())
}

/// Tags are `{name: [strings]}`; values of another shape are skipped rather than making the
/// whole dataset unreadable (tags are written by many systems).
fn lenient_tags<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    let raw = Option::<BTreeMap<String, Value>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .filter_map(|(k, v)| {
            let values = v.as_array()?;
            Some((
                k,
                values
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
            ))
        })
        .collect())
}
