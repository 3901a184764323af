//! Dataflow runs (docs/aep-api.md#runs): listed for many flows at once with one filtered, paged
//! query (`property=flowId==a,b,c`). Run fields are spelled two ways (`activities`/`activites`,
//! `etag`/`eTag`) and statuses come in several casings, so everything is read leniently.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::wire::{self, de};
use super::{AepClient, ApiError, Etag, FlowId, Query, RunId, Service};
use serde::Serialize;

const PATH: &str = "/runs";

/// A run as the service returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub id: RunId,
    pub flow_id: FlowId,
    /// Epoch milliseconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub updated_at: Option<i64>,
    #[serde(flatten, deserialize_with = "de::etag")]
    pub etag: Option<Etag>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub metrics: RunMetrics,
    /// `activities` (docs) or `activites` (OpenAPI).
    #[serde(flatten, deserialize_with = "activities")]
    pub activities: Vec<Activity>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunMetrics {
    #[serde(default, deserialize_with = "de::null_default")]
    pub duration_summary: DurationSummary,
    #[serde(default, deserialize_with = "de::null_default")]
    pub record_summary: RecordSummary,
    #[serde(default, deserialize_with = "de::null_default")]
    pub status_summary: StatusSummary,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DurationSummary {
    /// Epoch milliseconds.
    #[serde(rename = "startedAtUTC", default, deserialize_with = "de::opt_i64")]
    pub started_at_utc: Option<i64>,
    #[serde(rename = "completedAtUTC", default, deserialize_with = "de::opt_i64")]
    pub completed_at_utc: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordSummary {
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub input_record_count: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub output_record_count: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub failed_record_count: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub created_record_count: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub skipped_record_count: Option<u64>,
}

/// `statusSummary` of a run or an activity.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StatusSummary {
    /// Normalised by [`normalize_status`]: `success`, `failed`, `in_progress`, ...; unknown
    /// values are kept.
    #[serde(default, deserialize_with = "normalized")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "de::vec_or_null")]
    pub errors: Vec<RunError>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub extensions: StatusExtensions,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StatusExtensions {
    #[serde(default, deserialize_with = "de::vec_or_null")]
    pub errors: Vec<RunError>,
}

/// An error reported by a run or one of its activities, e.g. `CONNECTOR-2001-500`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunError {
    #[serde(default, deserialize_with = "de::opt_string")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub record_count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    #[serde(default, deserialize_with = "de::opt_string")]
    pub id: Option<String>,
    /// e.g. `Copy Activity`, `Promotion Activity`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub status_summary: StatusSummary,
}

/// Statuses after which a run changes no more.
const FINISHED: &[&str] = &[
    "success",
    "completed",
    "failed",
    "partial_success",
    "partial_failure",
    "cancelled",
    "canceled",
];

impl Run {
    /// The normalised status, when the run reports one.
    pub fn status(&self) -> Option<&str> {
        self.metrics.status_summary.status.as_deref()
    }

    pub fn is_finished(&self) -> bool {
        self.status().is_some_and(|s| FINISHED.contains(&s))
    }

    pub fn is_failed(&self) -> bool {
        matches!(self.status(), Some("failed" | "partial_failure"))
    }

    pub fn started_at(&self) -> Option<i64> {
        self.metrics.duration_summary.started_at_utc
    }

    pub fn completed_at(&self) -> Option<i64> {
        self.metrics.duration_summary.completed_at_utc
    }

    /// Every error the run reports: its own, then its activities' (`statusSummary.errors` and
    /// `statusSummary.extensions.errors`).
    pub fn errors(&self) -> Vec<&RunError> {
        let summaries = std::iter::once(&self.metrics.status_summary)
            .chain(self.activities.iter().map(|a| &a.status_summary));
        summaries
            .flat_map(|s| s.errors.iter().chain(s.extensions.errors.iter()))
            .collect()
    }
}

/// `CODE: message`, either part optional.
pub fn error_text(code: Option<&str>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(one), None) | (None, Some(one)) => one.to_owned(),
        (None, None) => "no error details".into(),
    }
}

/// Lower snake case: `Failed` -> `failed`, `inProgress` and `IN_PROGRESS` -> `in_progress`.
pub fn normalize_status(status: &str) -> String {
    let mut out = String::with_capacity(status.len() + 2);
    let mut previous_lower = false;
    for c in status.trim().chars() {
        if c == '-' || c == ' ' || c == '_' {
            if !out.ends_with('_') {
                out.push('_');
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        out.extend(c.to_lowercase());
    }
    out
}

fn normalized<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(de::opt_string(d)?.map(|s| normalize_status(&s)))
}

fn activities<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Activity>, D::Error> {
    #[derive(Deserialize)]
    struct Either {
        #[serde(default)]
        activities: Option<Vec<Activity>>,
        #[serde(default)]
        activites: Option<Vec<Activity>>,
    }
    let either = Either::deserialize(d)?;
    Ok(either.activities.or(either.activites).unwrap_or_default())
}

/// The runs of `flow_ids`, every page: `GET /runs?property=flowId==a,b,c[&orderby=..][&limit=..]`,
/// one query per [`wire::filter_chunks`] group of flows. `orderby` is e.g. `-createdAt` (newest first);
/// the order holds within one query, not across chunks. No request is made for no flows.
pub async fn list_runs(
    client: &AepClient,
    flow_ids: &[FlowId],
    limit_per_page: Option<u32>,
    orderby: Option<&str>,
) -> Result<Vec<Run>, ApiError> {
    let mut base = Query::new();
    if let Some(orderby) = orderby {
        base = base.param("orderby", orderby);
    }
    if let Some(limit) = limit_per_page {
        base = base.param("limit", limit.to_string());
    }
    let ids: Vec<&str> = flow_ids.iter().map(FlowId::as_str).collect();
    wire::list_by_ids(client, PATH, &base, "flowId", &ids, "run").await
}

/// `GET /runs?{query}`, every page, for filters [`list_runs`] does not cover (e.g. a time
/// window on `metrics.durationSummary.startedAtUTC`, docs/aep-api.md#runs).
pub async fn list_runs_query(client: &AepClient, query: &Query) -> Result<Vec<Run>, ApiError> {
    wire::list(client, PATH, query, "run").await
}

/// How many of each flow's newest runs a query wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    /// The newest runs, whatever their status.
    pub newest: usize,
    /// At least this many finished runs, with every newer unfinished one (so that a verdict on
    /// the newest finished run does not depend on how many runs are in progress).
    pub finished: usize,
}

impl Wanted {
    pub fn newest(n: usize) -> Self {
        Self {
            newest: n,
            finished: 0,
        }
    }

    /// Whether a flow with `count` runs, `finished` of them finished, needs more.
    fn short(&self, count: usize, finished: usize) -> bool {
        count < self.newest || finished < self.finished
    }
}

/// The newest `per_flow` runs of each flow (newest first), reading pages of
/// `orderby=-createdAt` only until every flow has `per_flow` runs or the runs run out, so that
/// flows with long histories do not cost a page per hundred old runs.
pub async fn list_recent_runs(
    client: &AepClient,
    flow_ids: &[FlowId],
    per_flow: usize,
) -> Result<Vec<Run>, ApiError> {
    list_recent_runs_since(client, flow_ids, Wanted::newest(per_flow), &HashMap::new()).await
}

/// Like [`list_recent_runs`] for the runs `wanted`, knowing for some flows the earliest
/// `createdAt` (epoch ms) any of their runs can have (e.g. the flow's own creation, or its
/// schedule's start). Once the pages read reach back past that time, no more runs of that flow
/// can follow, so a flow with fewer runs than wanted (a new one, or one whose start is still
/// ahead) stops the paging there instead of pulling the whole history of the flows queried with
/// it.
pub async fn list_recent_runs_since(
    client: &AepClient,
    flow_ids: &[FlowId],
    wanted: Wanted,
    not_before: &HashMap<FlowId, i64>,
) -> Result<Vec<Run>, ApiError> {
    if wanted.newest == 0 && wanted.finished == 0 {
        return Ok(Vec::new());
    }
    let call = format!("GET {PATH}");
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&FlowId> = flow_ids.iter().filter(|id| seen.insert(*id)).collect();
    // The groups are independent queries: send them at the same time (the client's limiter
    // still bounds what is in flight), so that many flows cost one round of pages, not one per
    // group.
    let groups = wire::filter_chunks(&unique, |id| id.as_str())
        .into_iter()
        .map(|chunk| recent_runs_of(client, &call, chunk, wanted, not_before));
    let runs = futures::future::try_join_all(groups).await?;
    Ok(runs.into_iter().flatten().collect())
}

/// [`list_recent_runs_since`] for one group of flows: one query, read page by page.
async fn recent_runs_of(
    client: &AepClient,
    call: &str,
    chunk: &[&FlowId],
    wanted: Wanted,
    not_before: &HashMap<FlowId, i64>,
) -> Result<Vec<Run>, ApiError> {
    let ids: Vec<&str> = chunk.iter().map(|id| id.as_str()).collect();
    let per_flow = wanted.newest.max(wanted.finished);
    let page_size = (per_flow * chunk.len()).clamp(1, super::LIST_LIMIT);
    let query = Query::new()
        .param("orderby", "-createdAt")
        .param("limit", page_size.to_string())
        .property_eq("flowId", &ids);
    let items: Vec<Value> = client
        .list_while(Service::FlowService, PATH, &query, |items: &[Value]| {
            let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
            let mut oldest: Option<i64> = None;
            for item in items {
                if let Some(flow) = item.get("flowId").and_then(Value::as_str) {
                    let (count, finished) = counts.entry(flow).or_default();
                    *count += 1;
                    *finished += usize::from(raw_is_finished(item));
                }
                if let Some(created) = item.get("createdAt").and_then(int_of) {
                    oldest = Some(oldest.map_or(created, |o| o.min(created)));
                }
            }
            chunk.iter().any(|id| {
                let (count, finished) = counts.get(id.as_str()).copied().unwrap_or((0, 0));
                let exhausted = matches!(
                    (not_before.get(*id), oldest),
                    (Some(floor), Some(oldest)) if oldest < *floor
                );
                wanted.short(count, finished) && !exhausted
            })
        })
        .await?;
    let runs: Vec<Run> = wire::decode_items(call, "run", items)?;
    let mut kept: HashMap<FlowId, (usize, usize)> = HashMap::new();
    let mut out = Vec::new();
    for run in runs {
        let (count, finished) = kept.entry(run.flow_id.clone()).or_default();
        if wanted.short(*count, *finished) {
            *count += 1;
            *finished += usize::from(run.is_finished());
            out.push(run);
        }
    }
    Ok(out)
}

/// [`Run::is_finished`] on a run not decoded yet.
fn raw_is_finished(item: &Value) -> bool {
    item.pointer("/metrics/statusSummary/status")
        .and_then(Value::as_str)
        .is_some_and(|s| FINISHED.contains(&normalize_status(s).as_str()))
}

/// `createdAt` as a number or a string of digits.
fn int_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_normalised_to_lower_snake_case() {
        for (raw, want) in [
            ("success", "success"),
            ("Failed", "failed"),
            ("inProgress", "in_progress"),
            ("IN_PROGRESS", "in_progress"),
            ("PARTIAL_SUCCESS", "partial_success"),
            ("in-progress", "in_progress"),
            ("somethingNew", "something_new"),
        ] {
            assert_eq!(normalize_status(raw), want, "{raw}");
        }
    }
}

/// The body of `POST /runs` (docs/aep-api.md#flow-actions): an on-demand run of a dataflow
/// scheduled `once`. Times are epoch seconds; `deltaColumn` is sent every time (the service takes
/// it from the flow's Copy transformation after the first run and refuses a different one).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewRun {
    pub flow_id: FlowId,
    pub params: RunParams,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunParams {
    pub start_time: i64,
    pub window_start_time: i64,
    pub window_end_time: i64,
    pub delta_column: DeltaName,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeltaName {
    pub name: String,
}

/// The answer of `POST /runs` in any of its three documented shapes (docs/aep-api.md#disagreements
/// #13): `{"items": [{"id", "etag"}]}`, `{"id", "etag"}` or a full run.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Started {
    Items { items: Vec<StartedId> },
    One(StartedId),
}

#[derive(Debug, Deserialize)]
struct StartedId {
    id: RunId,
}

/// `POST /runs`: starts an on-demand run and returns its id.
pub async fn start_run(client: &AepClient, run: &NewRun) -> Result<RunId, ApiError> {
    let answer: Started = client
        .post(Service::FlowService, PATH, &Query::new(), run)
        .await?;
    match answer {
        Started::One(one) => Ok(one.id),
        Started::Items { items } => items.into_iter().next().map(|i| i.id).ok_or_else(|| {
            ApiError::decode(
                "POST /runs",
                "the answer lists no run (an empty `items`)".to_owned(),
            )
        }),
    }
}

/// `POST /runs/{id}/action?op=re-trigger` (docs/aep-api.md#flow-actions, #disagreements #15):
/// retries a failed run; answers the new run's id.
pub async fn retrigger(client: &AepClient, run: &RunId) -> Result<RunId, ApiError> {
    let answer: StartedId = client
        .post_empty(
            Service::FlowService,
            &format!("{PATH}/{run}/action"),
            &Query::new().param("op", "re-trigger"),
        )
        .await?;
    Ok(answer.id)
}
