//! Source connections (docs/aep-api.md#source-connection): one per Zoho module. What they read is never PATCHed: a
//! changed source means a new source connection and a new flow (docs/aep-api.md#source-connection,
//! update-dataflows.md); only `import` PATCHes the name and description of one it adopts.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::explore::Column;
use super::specs::SpecRef;
use super::wire::{self, de, Created};
use super::{
    AepClient, ApiError, ConnectionId, ConnectionSpecId, Etag, PatchOp, Query, Service,
    SourceConnectionId,
};

const PATH: &str = "/sourceConnections";

/// A source connection to create over one table of a base connection.
#[derive(Debug, Clone)]
pub struct NewSourceConnection {
    pub name: String,
    pub description: Option<String>,
    pub base_connection_id: ConnectionId,
    /// The explore `path` of the table.
    pub table_name: String,
    /// The columns to ingest, as explore returned them.
    pub columns: Vec<Column>,
    pub connection_spec: SpecRef<ConnectionSpecId>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    base_connection_id: &'a ConnectionId,
    data: DataBody,
    params: ParamsBody<'a>,
    connection_spec: &'a SpecRef<ConnectionSpecId>,
}

#[derive(Serialize)]
struct DataBody {
    format: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParamsBody<'a> {
    table_name: &'a str,
    columns: &'a [Column],
}

/// A source connection as the service returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceConnection {
    pub id: SourceConnectionId,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub base_connection_id: Option<ConnectionId>,
    #[serde(default)]
    pub state: Option<String>,
    /// `{"format": "tabular"}` for table sources.
    #[serde(default)]
    pub data: Value,
    #[serde(default)]
    pub params: SourceParams,
    #[serde(default)]
    pub connection_spec: Option<SpecRef<ConnectionSpecId>>,
    #[serde(flatten, deserialize_with = "de::etag")]
    pub etag: Option<Etag>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub updated_at: Option<i64>,
}

/// `params` of a table source; anything else (file sources' `path`, ...) stays in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceParams {
    #[serde(default)]
    pub table_name: Option<String>,
    #[serde(default, deserialize_with = "de::vec_or_null")]
    pub columns: Vec<Column>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /sourceConnections` with `data.format = "tabular"` (docs/aep-api.md#source-connection).
pub async fn create_source_connection(
    client: &AepClient,
    new: &NewSourceConnection,
) -> Result<Created<SourceConnectionId>, ApiError> {
    let body = CreateBody {
        name: &new.name,
        description: new.description.as_deref(),
        base_connection_id: &new.base_connection_id,
        data: DataBody { format: "tabular" },
        params: ParamsBody {
            table_name: &new.table_name,
            columns: &new.columns,
        },
        connection_spec: &new.connection_spec,
    };
    client
        .post(Service::FlowService, PATH, &Query::new(), &body)
        .await
}

/// `GET /sourceConnections/{id}`; `None` when it does not exist.
pub async fn get_source_connection(
    client: &AepClient,
    id: &SourceConnectionId,
) -> Result<Option<SourceConnection>, ApiError> {
    wire::get_first(
        client,
        Service::FlowService,
        &format!("{PATH}/{id}"),
        "source connection",
    )
    .await
}

/// `GET /sourceConnections?{query}`, every page. Documented filters: `id`, `baseConnectionId`,
/// `connectionSpec.id`, `params.tableName` (docs/aep-api.md#filters).
pub async fn list_source_connections(
    client: &AepClient,
    query: &Query,
) -> Result<Vec<SourceConnection>, ApiError> {
    wire::list(client, PATH, query, "source connection").await
}

/// Every source connection of one base connection, in one paged query.
pub async fn list_source_connections_of(
    client: &AepClient,
    base: &ConnectionId,
) -> Result<Vec<SourceConnection>, ApiError> {
    let query = Query::new().property_eq("baseConnectionId", &[base.as_str()]);
    list_source_connections(client, &query).await
}

/// The source connections with these ids (`property=id==a,b,c`, chunked).
pub async fn list_source_connections_by_ids(
    client: &AepClient,
    ids: &[SourceConnectionId],
) -> Result<Vec<SourceConnection>, ApiError> {
    let ids: Vec<&str> = ids.iter().map(SourceConnectionId::as_str).collect();
    wire::list_by_ids(client, PATH, &Query::new(), "id", &ids, "source connection").await
}

/// `DELETE /sourceConnections/{id}` -> 204.
pub async fn delete_source_connection(
    client: &AepClient,
    id: &SourceConnectionId,
) -> Result<(), ApiError> {
    client
        .delete(Service::FlowService, &format!("{PATH}/{id}"))
        .await
}

/// `PATCH /sourceConnections/{id}` with a JSON Patch array and `If-Match: {etag}` verbatim
/// (Flow Service API reference, `patchSourceConnection`). provision sends only `/name`
/// and `/description`, when `import` adopts a source connection made elsewhere: Adobe advises
/// against changing what a source connection carries on its own (docs/aep-api.md#source-connection).
pub async fn patch_source_connection(
    client: &AepClient,
    id: &SourceConnectionId,
    etag: &Etag,
    ops: &[PatchOp],
) -> Result<Created<SourceConnectionId>, ApiError> {
    client
        .patch(Service::FlowService, &format!("{PATH}/{id}"), etag, ops)
        .await
}
