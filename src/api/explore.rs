//! Exploring a base connection's tables (docs/aep-api.md#explore): the root listing, one table's columns,
//! and preview rows. `objectType` is sent in lower case, as the live service takes it (docs/aep-api.md#disagreements #3).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::wire;
use super::{AepClient, ApiError, ConnectionId, Query, Service};

/// One entry of `objectType=root`: a table (a Zoho module).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExploreItem {
    /// `table` for tabular sources.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    /// The value for `object=` and for a source connection's `params.tableName`.
    pub path: String,
    #[serde(default)]
    pub can_preview: bool,
    #[serde(default)]
    pub can_fetch_schema: bool,
}

/// A table's structure and, when asked for, sample rows.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDetails {
    /// e.g. `flat`.
    pub format: Option<String>,
    pub columns: Vec<Column>,
    /// Preview rows, column name to value; empty unless `preview` was asked for.
    pub data: Vec<Map<String, Value>>,
}

/// One column as explore returns it. Both documented shapes are read (`xdm` with optional
/// `meta:xdmType`, or `meta.originalType`; docs/aep-api.md#explore-columns, #disagreements #25), and fields not modelled
/// here are kept in `extra`, so that serialising a column reproduces what explore sent: source
/// connections copy explore's column objects verbatim (docs/aep-api.md#source-connection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// The source type, e.g. `string`, `double`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xdm: Option<XdmType>,
    #[serde(
        rename = "meta:xdmType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta_xdm_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ColumnMeta>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XdmType {
    /// `string`, `boolean`, `number`, ...
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// e.g. `date-time`, `date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnMeta {
    #[serde(
        rename = "originalType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub original_type: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Column {
    /// The XDM type (`xdm.type`), when explore gave one.
    pub fn xdm_type(&self) -> Option<&str> {
        self.xdm.as_ref().and_then(|x| x.kind.as_deref())
    }

    /// The XDM format: `xdm.format`, else `meta:xdmType`.
    pub fn format(&self) -> Option<&str> {
        self.xdm
            .as_ref()
            .and_then(|x| x.format.as_deref())
            .or(self.meta_xdm_type.as_deref())
    }

    /// Whether the column holds a date-time, i.e. can be a delta column (docs/aep-api.md#dataflow).
    /// With only `meta.originalType` to go by, a `DateTime`/`Timestamp` source type counts.
    pub fn is_date_time(&self) -> bool {
        if self
            .format()
            .is_some_and(|f| f.eq_ignore_ascii_case("date-time"))
        {
            return true;
        }
        self.meta
            .as_ref()
            .and_then(|m| m.original_type.as_deref())
            .is_some_and(|t| {
                ["datetime", "date-time", "timestamp"]
                    .iter()
                    .any(|d| t.eq_ignore_ascii_case(d))
            })
    }
}

/// `GET /connections/{id}/explore?objectType=root`: the tables the connection sees. The
/// answer is a bare array; `{"items": [...]}` is accepted too.
pub async fn explore_root(
    client: &AepClient,
    connection: &ConnectionId,
) -> Result<Vec<ExploreItem>, ApiError> {
    let path = format!("/connections/{connection}/explore");
    let call = format!("GET {path}");
    let query = Query::new().param("objectType", "root");
    let value: Value = client.get(Service::FlowService, &path, &query).await?;
    wire::decode_items(&call, "explore entry", wire::unwrap_items(&call, value)?)
}

/// `GET /connections/{id}/explore?objectType=table&object={path}[&preview=true]`.
pub async fn explore_table(
    client: &AepClient,
    connection: &ConnectionId,
    table_path: &str,
    preview: bool,
) -> Result<TableDetails, ApiError> {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(default)]
        format: Option<String>,
        #[serde(default)]
        schema: Option<WireSchema>,
        #[serde(default)]
        data: Option<Vec<Map<String, Value>>>,
    }
    #[derive(Deserialize)]
    struct WireSchema {
        #[serde(default)]
        columns: Option<Vec<Column>>,
    }

    let path = format!("/connections/{connection}/explore");
    let mut query = Query::new()
        .param("objectType", "table")
        .param("object", table_path);
    if preview {
        query = query.param("preview", "true");
    }
    let wire: Wire = client.get(Service::FlowService, &path, &query).await?;
    Ok(TableDetails {
        format: wire.format,
        columns: wire.schema.and_then(|s| s.columns).unwrap_or_default(),
        data: wire.data.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_round_trip_verbatim_in_both_shapes() {
        for column in [
            json!({"name": "Datefield", "type": "string", "meta:xdmType": "date-time",
                   "xdm": {"type": "string", "format": "date-time"}}),
            json!({"name": "Owner", "type": "string", "meta": {"originalType": "String"}}),
            json!({"name": "X", "type": "string", "xdm": {"type": "string", "maxLength": 30},
                   "nullable": true}),
        ] {
            let parsed: Column = serde_json::from_value(column.clone()).unwrap();
            assert_eq!(serde_json::to_value(&parsed).unwrap(), column);
        }
    }

    #[test]
    fn date_time_columns_are_recognised_in_both_shapes() {
        let col = |v: Value| serde_json::from_value::<Column>(v).unwrap();
        assert!(
            col(json!({"name": "a", "xdm": {"type": "string", "format": "date-time"}}))
                .is_date_time()
        );
        assert!(col(json!({"name": "a", "meta:xdmType": "date-time"})).is_date_time());
        assert!(col(json!({"name": "a", "meta": {"originalType": "DateTime"}})).is_date_time());
        assert!(
            !col(json!({"name": "a", "xdm": {"type": "string", "format": "date"}})).is_date_time()
        );
        assert!(!col(json!({"name": "a", "meta": {"originalType": "String"}})).is_date_time());
    }
}
