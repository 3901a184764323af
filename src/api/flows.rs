//! Dataflows (docs/aep-api.md#dataflow, #reading-a-flow, #etags, #deleting): create, read, list, patch, delete.
//!
//! Value types on the wire (docs/aep-api.md#value-types, #disagreements #8-#10): `startTime` is sent as an integer
//! (epoch seconds), `backfill` as a boolean, `mappingVersion` as a string, and `interval` as an
//! integer unless [`IntervalEncoding::String`] is chosen. Reads accept strings and numbers.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};

use super::dataprep::MappingSetRef;
use super::runs::normalize_status;
use super::specs::SpecRef;
use super::wire::{self, de, Created};
use super::{
    AepClient, ApiError, Etag, FlowId, FlowSpecId, MappingSetId, PatchOp, Query, RunId, Service,
    SourceConnectionId, TargetConnectionId,
};

const PATH: &str = "/flows";

/// How `scheduleParams.interval` is written: the flow spec's own schema says integer, the
/// OpenAPI spec and GET output say string (docs/aep-api.md#disagreements #8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IntervalEncoding {
    #[default]
    Integer,
    String,
}

/// `scheduleParams`, typed. The profile converts its schedules to and from this type
/// (`crate::profile`'s `aep.rs`), so desired and actual schedules compare with `==`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleParams {
    /// Epoch seconds.
    pub start_time: i64,
    /// `once`, `minute`, `hour`, `day` or `week`, lower case.
    pub frequency: String,
    /// Absent for `once`.
    pub interval: Option<u32>,
    /// Absent for `once`.
    pub backfill: Option<bool>,
}

impl ScheduleParams {
    fn is_once(&self) -> bool {
        self.frequency == "once"
    }

    /// The body of `scheduleParams`; `interval` and `backfill` are left out for `once`, which
    /// the flow spec forbids them for.
    pub fn to_json(&self, encoding: IntervalEncoding) -> Value {
        let mut body = Map::new();
        body.insert("startTime".into(), json!(self.start_time));
        body.insert("frequency".into(), json!(self.frequency));
        if !self.is_once() {
            if let Some(interval) = self.interval {
                body.insert("interval".into(), interval_value(interval, encoding));
            }
            if let Some(backfill) = self.backfill {
                body.insert("backfill".into(), json!(backfill));
            }
        }
        Value::Object(body)
    }

    /// The JSON Patch ops that turn `self` (the flow's current schedule) into `desired`.
    pub fn patch_to(&self, desired: &ScheduleParams, encoding: IntervalEncoding) -> Vec<PatchOp> {
        let mut ops = Vec::new();
        if self.start_time != desired.start_time {
            ops.push(PatchOp::replace(
                "/scheduleParams/startTime",
                desired.start_time,
            ));
        }
        if self.frequency != desired.frequency {
            ops.push(PatchOp::replace(
                "/scheduleParams/frequency",
                desired.frequency.clone(),
            ));
        }
        let interval = |i: Option<u32>| i.map(|i| interval_value(i, encoding));
        let backfill = |b: Option<bool>| b.map(Value::Bool);
        let (want_interval, want_backfill) = if desired.is_once() {
            (None, None)
        } else {
            (desired.interval, desired.backfill)
        };
        field_ops(
            &mut ops,
            "/scheduleParams/interval",
            interval(self.interval),
            interval(want_interval),
        );
        field_ops(
            &mut ops,
            "/scheduleParams/backfill",
            backfill(self.backfill),
            backfill(want_backfill),
        );
        ops
    }
}

fn interval_value(interval: u32, encoding: IntervalEncoding) -> Value {
    match encoding {
        IntervalEncoding::Integer => json!(interval),
        IntervalEncoding::String => json!(interval.to_string()),
    }
}

fn field_ops(ops: &mut Vec<PatchOp>, path: &str, current: Option<Value>, desired: Option<Value>) {
    match (current, desired) {
        (None, Some(v)) => ops.push(PatchOp::add(path, v)),
        (Some(_), None) => ops.push(PatchOp::remove(path)),
        (Some(c), Some(d)) if c != d => ops.push(PatchOp::replace(path, d)),
        _ => {}
    }
}

impl<'de> Deserialize<'de> for ScheduleParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire {
            #[serde(deserialize_with = "de::i64_lenient")]
            start_time: i64,
            frequency: String,
            #[serde(default, deserialize_with = "de::opt_u32")]
            interval: Option<u32>,
            #[serde(default, deserialize_with = "de::opt_bool")]
            backfill: Option<bool>,
        }
        let w = Wire::deserialize(d)?;
        Ok(Self {
            start_time: w.start_time,
            frequency: w.frequency.to_ascii_lowercase(),
            interval: w.interval,
            backfill: w.backfill,
        })
    }
}

/// The Copy transformation's delta column (docs/aep-api.md#dataflow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeltaColumn {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

impl DeltaColumn {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            date_format: None,
            timezone: None,
        }
    }
}

/// `{"name": "Copy", "params": {"deltaColumn": {...}}}`.
pub fn copy_transformation(delta: &DeltaColumn) -> Value {
    json!({"name": "Copy", "params": {"deltaColumn": delta}})
}

/// `{"name": "Mapping", "params": {"mappingId": ..., "mappingVersion": "<n>"}}`, the version a
/// string (docs/aep-api.md#disagreements #10). Also the value for `replace /transformations/{index}`.
pub fn mapping_transformation(mapping: &MappingSetRef) -> Value {
    json!({"name": "Mapping", "params": {
        "mappingId": mapping.id,
        "mappingVersion": mapping.version.to_string(),
    }})
}

/// A dataflow to create.
#[derive(Debug, Clone)]
pub struct NewFlow {
    pub name: String,
    pub description: Option<String>,
    pub flow_spec: SpecRef<FlowSpecId>,
    pub source_connection_ids: Vec<SourceConnectionId>,
    pub target_connection_ids: Vec<TargetConnectionId>,
    pub delta_column: DeltaColumn,
    pub mapping: MappingSetRef,
    pub schedule: ScheduleParams,
    pub interval_encoding: IntervalEncoding,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    flow_spec: &'a SpecRef<FlowSpecId>,
    source_connection_ids: &'a [SourceConnectionId],
    target_connection_ids: &'a [TargetConnectionId],
    transformations: [Value; 2],
    schedule_params: Value,
}

/// A dataflow as the service returns it (docs/aep-api.md#reading-a-flow).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    pub id: FlowId,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub flow_spec: Option<SpecRef<FlowSpecId>>,
    /// `enabled` or `disabled`.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(flatten, deserialize_with = "de::etag")]
    pub etag: Option<Etag>,
    #[serde(default, deserialize_with = "de::vec_or_null")]
    pub source_connection_ids: Vec<SourceConnectionId>,
    #[serde(default, deserialize_with = "de::vec_or_null")]
    pub target_connection_ids: Vec<TargetConnectionId>,
    #[serde(default)]
    pub schedule_params: Option<ScheduleParams>,
    /// Loose: read [`Flow::delta_column`] and [`Flow::mapping`] for the parts provision sets.
    #[serde(default, deserialize_with = "de::vec_or_null")]
    pub transformations: Vec<Value>,
    #[serde(default)]
    pub last_run_details: Option<LastRunDetails>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LastRunDetails {
    #[serde(default)]
    pub id: Option<RunId>,
    /// Lower case, e.g. `success`, `failed`.
    #[serde(default, deserialize_with = "normalized_state")]
    pub state: Option<String>,
    /// Epoch milliseconds.
    #[serde(rename = "startedAtUTC", default, deserialize_with = "de::opt_i64")]
    pub started_at_utc: Option<i64>,
    #[serde(rename = "completedAtUTC", default, deserialize_with = "de::opt_i64")]
    pub completed_at_utc: Option<i64>,
}

fn normalized_state<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(de::opt_string(d)?.map(|s| normalize_status(&s)))
}

impl Flow {
    fn transformation(&self, name: &str) -> Option<(usize, &Value)> {
        self.transformations.iter().enumerate().find(|(_, t)| {
            t.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// The Copy transformation's `deltaColumn`.
    pub fn delta_column(&self) -> Option<DeltaColumn> {
        let (_, copy) = self.transformation("Copy")?;
        serde_json::from_value(copy.pointer("/params/deltaColumn")?.clone()).ok()
    }

    /// The Mapping transformation's mapping set and its index in `transformations` (the path
    /// of a `replace /transformations/{index}` op).
    pub fn mapping(&self) -> Option<(usize, MappingSetRef)> {
        let (index, mapping) = self.transformation("Mapping")?;
        let id = mapping.pointer("/params/mappingId")?.as_str()?;
        let version = match mapping.pointer("/params/mappingVersion") {
            Some(Value::Number(n)) => u32::try_from(n.as_u64()?).ok()?,
            Some(Value::String(s)) => s.trim().parse().ok()?,
            None | Some(Value::Null) => 0,
            Some(_) => return None,
        };
        Some((
            index,
            MappingSetRef {
                id: MappingSetId::from(id),
                version,
            },
        ))
    }

    pub fn is_enabled(&self) -> bool {
        self.state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("enabled"))
    }
}

/// `POST /flows` (docs/aep-api.md#dataflow): Copy then Mapping transformations and `scheduleParams`.
pub async fn create_flow(client: &AepClient, new: &NewFlow) -> Result<Created<FlowId>, ApiError> {
    let body = CreateBody {
        name: &new.name,
        description: new.description.as_deref(),
        flow_spec: &new.flow_spec,
        source_connection_ids: &new.source_connection_ids,
        target_connection_ids: &new.target_connection_ids,
        transformations: [
            copy_transformation(&new.delta_column),
            mapping_transformation(&new.mapping),
        ],
        schedule_params: new.schedule.to_json(new.interval_encoding),
    };
    client
        .post(Service::FlowService, PATH, &Query::new(), &body)
        .await
}

/// `GET /flows/{id}`; `None` when it does not exist.
pub async fn get_flow(client: &AepClient, id: &FlowId) -> Result<Option<Flow>, ApiError> {
    wire::get_first(
        client,
        Service::FlowService,
        &format!("{PATH}/{id}"),
        "flow",
    )
    .await
}

/// `GET /flows?{query}`, every page. Documented filters: `id`, `name`, `description`,
/// `flowSpec.id`, `state`, `sourceConnectionIds[]`, `targetConnectionIds[]` (docs/aep-api.md#filters).
/// The Flow Service has no prefix or regex filter (`~` is "not implemented").
pub async fn list_flows(client: &AepClient, query: &Query) -> Result<Vec<Flow>, ApiError> {
    wire::list(client, PATH, query, "flow").await
}

/// Every flow of one flow spec, e.g. `CRMToAEP`.
pub async fn list_flows_by_spec(
    client: &AepClient,
    spec: &FlowSpecId,
) -> Result<Vec<Flow>, ApiError> {
    let query = Query::new().property_eq("flowSpec.id", &[spec.as_str()]);
    list_flows(client, &query).await
}

/// The flows of `spec` named any of `names` (`property=name==a,b,c`, chunked). Names holding
/// a comma cannot be matched this way (a comma separates values).
pub async fn list_flows_by_names(
    client: &AepClient,
    spec: &FlowSpecId,
    names: &[&str],
) -> Result<Vec<Flow>, ApiError> {
    let base = Query::new().property_eq("flowSpec.id", &[spec.as_str()]);
    wire::list_by_ids(client, PATH, &base, "name", names, "flow").await
}

/// Every flow, of any flow spec, that reads from any of `sources`
/// (`property=sourceConnectionIds[]==a,b,c`, chunked; docs/aep-api.md#filters).
pub async fn list_flows_by_sources(
    client: &AepClient,
    sources: &[SourceConnectionId],
) -> Result<Vec<Flow>, ApiError> {
    let ids: Vec<&str> = sources.iter().map(SourceConnectionId::as_str).collect();
    let key = "sourceConnectionIds[]";
    wire::list_by_ids(client, PATH, &Query::new(), key, &ids, "flow").await
}

/// The flows with these ids (`property=id==a,b,c`, chunked).
pub async fn list_flows_by_ids(client: &AepClient, ids: &[FlowId]) -> Result<Vec<Flow>, ApiError> {
    let ids: Vec<&str> = ids.iter().map(FlowId::as_str).collect();
    wire::list_by_ids(client, PATH, &Query::new(), "id", &ids, "flow").await
}

/// `PATCH /flows/{id}` with a JSON Patch array and `If-Match: {etag}` verbatim (docs/aep-api.md#etags)
///. A stale etag fails with 412 (`1404-412`): re-read the flow and try again.
pub async fn patch_flow(
    client: &AepClient,
    id: &FlowId,
    etag: &Etag,
    ops: &[PatchOp],
) -> Result<Created<FlowId>, ApiError> {
    client
        .patch(Service::FlowService, &format!("{PATH}/{id}"), etag, ops)
        .await
}

/// `DELETE /flows/{id}` -> 204.
pub async fn delete_flow(client: &AepClient, id: &FlowId) -> Result<(), ApiError> {
    client
        .delete(Service::FlowService, &format!("{PATH}/{id}"))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_json_follows_the_interval_encoding_and_omits_once_fields() {
        let params = ScheduleParams {
            start_time: 1_796_083_200,
            frequency: "minute".into(),
            interval: Some(15),
            backfill: Some(true),
        };
        assert_eq!(
            params.to_json(IntervalEncoding::Integer),
            json!({"startTime": 1_796_083_200, "frequency": "minute", "interval": 15, "backfill": true})
        );
        assert_eq!(
            params.to_json(IntervalEncoding::String)["interval"],
            json!("15")
        );
        let once = ScheduleParams {
            frequency: "once".into(),
            interval: Some(1),
            backfill: Some(true),
            ..params
        };
        assert_eq!(
            once.to_json(IntervalEncoding::Integer),
            json!({"startTime": 1_796_083_200, "frequency": "once"})
        );
    }

    #[test]
    fn schedule_patches_touch_only_what_differs() {
        let current: ScheduleParams = serde_json::from_value(json!({
            "startTime": "1796083200", "frequency": "hour", "interval": "1", "backfill": "true"
        }))
        .unwrap();
        assert!(current
            .patch_to(&current.clone(), IntervalEncoding::Integer)
            .is_empty());
        let desired = ScheduleParams {
            frequency: "day".into(),
            interval: Some(2),
            ..current.clone()
        };
        assert_eq!(
            current.patch_to(&desired, IntervalEncoding::Integer),
            vec![
                PatchOp::replace("/scheduleParams/frequency", "day"),
                PatchOp::replace("/scheduleParams/interval", 2),
            ]
        );
        let once = ScheduleParams {
            frequency: "once".into(),
            ..current.clone()
        };
        assert_eq!(
            current.patch_to(&once, IntervalEncoding::Integer),
            vec![
                PatchOp::replace("/scheduleParams/frequency", "once"),
                PatchOp::remove("/scheduleParams/interval"),
                PatchOp::remove("/scheduleParams/backfill"),
            ]
        );
    }
}
