//! `GET /runs` (with `property=flowId==a,b`, `orderby`, paging), `GET /runs/{id}`, on-demand
//! runs (`POST /runs`, on-demand-ingestion.md) and retries (`POST /runs/{id}/action?op=re-trigger`,
//! retry-flows.md); the runs themselves come from [`crate::emulator::runs`].
//!
//! An on-demand run needs a flow scheduled `once` (the tutorial's precondition) and
//! `params.startTime`, `windowStartTime` and `windowEndTime` (the flow spec's `runSpec`), as
//! integers or digit strings. The tutorial gives them in unix seconds and flow-service.yaml in
//! milliseconds, so a value of 10^11 or more is read as milliseconds. `params.deltaColumn` is needed
//! only while the flow has none; it is then written into the flow's `Copy` transformation, and a
//! different one later is refused. The run is scheduled at `startTime` (now if that has passed)
//! and answered `201 {"items": [{"id", "etag"}]}`, the tutorial's shape.
//!
//! A retry (`op=re-trigger`, or the spec's `RE_TRIGGER`) takes a failed run, or a successful one
//! that ingested no records, and creates a new run of the same flow now, judged on the flow's
//! objects as they are now; it answers `200 {"id", "etag"}` of the new run. Any other run is
//! refused with a 400.

use std::borrow::Cow;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::{items, SERVICE};
use crate::emulator::errors::{ApiError, ApiResult};
use crate::emulator::filter::{self, Item, ListQuery};
use crate::emulator::gateway::{query_pairs, query_param, Adobe, JsonBody};
use crate::emulator::runs::{self, Frequency, Run};
use crate::emulator::state::{AppState, Ctx, Sandbox};
use crate::emulator::validate::Fields;

/// A run as a list sees it: `id`, `flowId` and `createdAt`, what `status` filters and sorts on,
/// are read in place; any other field comes from the full render, which otherwise runs only for
/// the page. A runs query for a hundred flows matches hundreds of runs, and rendering each one
/// for every page made a page cost about 10 ms.
struct RunView<'a> {
    sandbox: &'a Sandbox,
    run: &'a Run,
    now: i64,
}

impl RunView<'_> {
    fn render(&self) -> Value {
        self.run.render(self.sandbox, self.now)
    }
}

impl Item for RunView<'_> {
    fn top(&self, key: &str) -> Option<Cow<'_, Value>> {
        match key {
            "id" => Some(Cow::Owned(json!(self.run.id))),
            "flowId" => Some(Cow::Owned(json!(self.run.flow_id))),
            "createdAt" => Some(Cow::Owned(json!(self.run.scheduled_at()))),
            _ => self.render().get(key).cloned().map(Cow::Owned),
        }
    }
}

pub async fn list(
    State(shared): State<AppState>,
    adobe: Adobe,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let pairs = query_pairs(query.as_deref());
    let query = ListQuery::parse(&pairs, &filter::RUNS, shared.faults().page_cap())?;
    let body = shared.with_sandbox(&adobe.sandbox, |cx| {
        let (sandbox, now) = (&*cx.sandbox, cx.now);
        let view = |run| RunView { sandbox, run, now };
        // A flowId filter narrows through the per-flow index instead of visiting every run.
        let runs: Vec<RunView<'_>> = match query.equal_values("flowId") {
            Some(flow_ids) => flow_ids
                .iter()
                .flat_map(|id| sandbox.runs.of_flow(id))
                .map(view)
                .collect(),
            None => sandbox.runs.all().map(view).collect(),
        };
        Ok(query.respond(
            runs,
            |view| view.run.render_json(sandbox, now),
            &filter::RUNS,
        ))
    })?;
    Ok(axum::Json(body).into_response())
}

pub async fn get(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let run = cx
            .sandbox
            .runs
            .get(&id)
            .ok_or_else(|| ApiError::not_found(SERVICE, "runs", &id))?;
        Ok(items(run.render(cx.sandbox, cx.now)))
    })
}

/// An epoch time of a run request: seconds, or milliseconds from 10^11 on.
fn epoch_ms(params: &Fields<'_>, key: &str) -> Result<i64, ApiError> {
    let value = params
        .get(key)
        .ok_or_else(|| params.error(format!("params.{key} is required (unix time).")))?;
    let number = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .filter(|n| *n >= 0)
    .ok_or_else(|| params.error(format!("params.{key} must be unix time, as an integer.")))?;
    Ok(if number >= 100_000_000_000 {
        number
    } else {
        number.saturating_mul(1000)
    })
}

/// The run's id and etag as the service answers them.
fn id_and_etag(cx: &Ctx<'_>, id: &str) -> Value {
    let etag = cx
        .sandbox
        .runs
        .get(id)
        .map(|run| run.render(cx.sandbox, cx.now)["etag"].clone())
        .unwrap_or_default();
    json!({"id": id, "etag": etag})
}

/// `POST /runs`: an on-demand run of a flow scheduled `once`.
pub async fn create(
    State(shared): State<AppState>,
    adobe: Adobe,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let f = Fields::body(SERVICE, &body)?;
    let flow_id = f.string("flowId", true)?.unwrap_or_default().to_owned();
    let params = f
        .object("params", true)?
        .ok_or_else(|| f.error("params is required."))?;
    let start = epoch_ms(&params, "startTime")?;
    let window_start = epoch_ms(&params, "windowStartTime")?;
    let window_end = epoch_ms(&params, "windowEndTime")?;
    if window_start > window_end {
        return Err(f.error("params.windowStartTime must not be after params.windowEndTime."));
    }
    let delta = match params.object("deltaColumn", false)? {
        Some(delta) => Some(delta.string("name", true)?.unwrap_or_default().to_owned()),
        None => None,
    };
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let now = cx.now;
        let (flow, _) = cx.sandbox.flows.get_mut(&flow_id).ok_or_else(|| {
            ApiError::bad_reference(
                SERVICE,
                format!("Flow {flow_id} does not exist in sandbox {}.", adobe.sandbox),
            )
        })?;
        let once = flow
            .rel
            .schedule
            .as_ref()
            .is_some_and(|s| s.frequency == Frequency::Once);
        if !once {
            return Err(ApiError::invalid(
                SERVICE,
                format!("On-demand runs need a flow scheduled for one-time ingestion; flow {flow_id} is not scheduled with frequency once."),
            ));
        }
        match (&flow.rel.delta_column, delta) {
            (Some(current), Some(asked)) if *current != asked => {
                return Err(ApiError::invalid(
                    SERVICE,
                    format!("The deltaColumn of flow {flow_id} is '{current}' (its Copy transformation); it cannot be changed through run parameters."),
                ));
            }
            (None, None) => {
                return Err(f.error(format!(
                    "params.deltaColumn is required for the first run of flow {flow_id}, which has none."
                )));
            }
            (None, Some(asked)) => {
                // The first run's delta column becomes the flow's Copy transformation.
                let mut doc = flow.doc.clone();
                let mut rel = flow.rel.clone();
                let copy = json!({"name": "Copy", "params": {"deltaColumn": {"name": asked}}});
                let transformations = doc["transformations"].as_array_mut();
                match transformations {
                    Some(list) => match list.iter_mut().find(|t| t["name"] == "Copy") {
                        Some(existing) => {
                            existing["params"]["deltaColumn"] = json!({"name": asked})
                        }
                        None => list.insert(0, copy),
                    },
                    None => doc["transformations"] = json!([copy]),
                }
                rel.delta_column = Some(asked);
                flow.update(doc, rel, now);
            }
            _ => {}
        }
        let id = runs::run_now(cx.sandbox, &flow_id, start.max(now), cx.org, cx.zoho)
            .ok_or_else(|| ApiError::not_found(SERVICE, "flows", &flow_id))?;
        let created = id_and_etag(cx, &id);
        Ok((StatusCode::CREATED, Json(json!({"items": [created]}))).into_response())
    })
}

/// `POST /runs/{id}/action?op=re-trigger`: retries a failed run as a new run.
pub async fn action(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let pairs = query_pairs(query.as_deref());
    let op = query_param(&pairs, "op").unwrap_or_default();
    if !op.replace('_', "-").eq_ignore_ascii_case("re-trigger") {
        return Err(ApiError::invalid(
            SERVICE,
            format!("Unsupported operation '{op}' on a run; use op=re-trigger."),
        ));
    }
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let now = cx.now;
        let run = cx
            .sandbox
            .runs
            .get(&id)
            .ok_or_else(|| ApiError::not_found(SERVICE, "runs", &id))?;
        if !run.retriable(now) {
            return Err(ApiError::invalid(
                SERVICE,
                format!(
                    "Run {id} is {}; only a failed run, or a successful one that ingested no records, can be retried.",
                    run.status(now)
                ),
            ));
        }
        let flow_id = run.flow_id.clone();
        let new_id = runs::run_now(cx.sandbox, &flow_id, now, cx.org, cx.zoho)
            .ok_or_else(|| ApiError::not_found(SERVICE, "flows", &flow_id))?;
        Ok(Json(id_and_etag(cx, &new_id)).into_response())
    })
}
