//! Target connections to the data lake (docs/aep-api.md#target-connection): one per dataset. No base connection:
//! the current flow does not use one (docs/aep-api.md#disagreements #23).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::specs::{SpecRef, DATA_LAKE_SPEC_ID, XED_FULL_CONTENT_TYPE};
use super::wire::{self, de, Created};
use super::{
    AepClient, ApiError, ConnectionSpecId, DatasetId, Etag, PatchOp, Query, Service,
    TargetConnectionId,
};

const PATH: &str = "/targetConnections";

/// A target connection to create, writing into `dataset_id` with schema `schema_id`.
#[derive(Debug, Clone)]
pub struct NewTargetConnection {
    pub name: String,
    pub description: Option<String>,
    /// The XDM schema `$id`; must be the dataset's and the mapping set's (error `1425-400`).
    pub schema_id: String,
    pub dataset_id: DatasetId,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    data: DataBody<'a>,
    params: ParamsBody<'a>,
    connection_spec: SpecRef<ConnectionSpecId>,
}

#[derive(Serialize)]
struct DataBody<'a> {
    schema: SchemaBody<'a>,
}

#[derive(Serialize)]
struct SchemaBody<'a> {
    id: &'a str,
    version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParamsBody<'a> {
    data_set_id: &'a DatasetId,
}

/// A target connection as the service returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetConnection {
    pub id: TargetConnectionId,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub data: TargetData,
    #[serde(default)]
    pub params: TargetParams,
    #[serde(default)]
    pub connection_spec: Option<SpecRef<ConnectionSpecId>>,
    #[serde(flatten, deserialize_with = "de::etag")]
    pub etag: Option<Etag>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TargetData {
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub schema: Option<TargetSchema>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TargetSchema {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetParams {
    #[serde(default)]
    pub data_set_id: Option<DatasetId>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TargetConnection {
    pub fn dataset_id(&self) -> Option<&DatasetId> {
        self.params.data_set_id.as_ref()
    }

    pub fn schema_id(&self) -> Option<&str> {
        self.data.schema.as_ref().and_then(|s| s.id.as_deref())
    }
}

/// `POST /targetConnections` (docs/aep-api.md#target-connection): data lake spec, `data.schema.version` the
/// `xed-full` content type, which resolves to the schema's latest minor version.
pub async fn create_target_connection(
    client: &AepClient,
    new: &NewTargetConnection,
) -> Result<Created<TargetConnectionId>, ApiError> {
    let body = CreateBody {
        name: &new.name,
        description: new.description.as_deref(),
        data: DataBody {
            schema: SchemaBody {
                id: &new.schema_id,
                version: XED_FULL_CONTENT_TYPE,
            },
        },
        params: ParamsBody {
            data_set_id: &new.dataset_id,
        },
        connection_spec: SpecRef::data_lake(),
    };
    client
        .post(Service::FlowService, PATH, &Query::new(), &body)
        .await
}

/// `GET /targetConnections/{id}`; `None` when it does not exist.
pub async fn get_target_connection(
    client: &AepClient,
    id: &TargetConnectionId,
) -> Result<Option<TargetConnection>, ApiError> {
    wire::get_first(
        client,
        Service::FlowService,
        &format!("{PATH}/{id}"),
        "target connection",
    )
    .await
}

/// `GET /targetConnections?{query}`, every page.
pub async fn list_target_connections(
    client: &AepClient,
    query: &Query,
) -> Result<Vec<TargetConnection>, ApiError> {
    wire::list(client, PATH, query, "target connection").await
}

/// The target connections with these ids (`property=id==a,b,c`, chunked).
pub async fn list_target_connections_by_ids(
    client: &AepClient,
    ids: &[TargetConnectionId],
) -> Result<Vec<TargetConnection>, ApiError> {
    let ids: Vec<&str> = ids.iter().map(TargetConnectionId::as_str).collect();
    wire::list_by_ids(client, PATH, &Query::new(), "id", &ids, "target connection").await
}

/// The data lake target connections writing into `dataset` (docs/aep-api.md#find-before-create recipe; the nested
/// `params.dataSetId` filter is an inference from the generic filter rules).
pub async fn list_target_connections_by_dataset(
    client: &AepClient,
    dataset: &DatasetId,
) -> Result<Vec<TargetConnection>, ApiError> {
    let query = Query::new()
        .property_eq("connectionSpec.id", &[DATA_LAKE_SPEC_ID])
        .property_eq("params.dataSetId", &[dataset.as_str()]);
    list_target_connections(client, &query).await
}

/// `DELETE /targetConnections/{id}` -> 204.
pub async fn delete_target_connection(
    client: &AepClient,
    id: &TargetConnectionId,
) -> Result<(), ApiError> {
    client
        .delete(Service::FlowService, &format!("{PATH}/{id}"))
        .await
}

/// `PATCH /targetConnections/{id}` with a JSON Patch array and `If-Match: {etag}` verbatim
/// (Flow Service API reference, `patchTargetConnection`). provision sends only `/name`
/// and `/description`, when `import` adopts a target connection made elsewhere: Adobe advises
/// against changing what a target connection carries on its own (docs/aep-api.md#source-connection).
pub async fn patch_target_connection(
    client: &AepClient,
    id: &TargetConnectionId,
    etag: &Etag,
    ops: &[PatchOp],
) -> Result<Created<TargetConnectionId>, ApiError> {
    client
        .patch(Service::FlowService, &format!("{PATH}/{id}"), etag, ops)
        .await
}
