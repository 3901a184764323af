//! `GET /runs` (with `property=flowId==a,b`, `orderby`, paging) and `GET /runs/{id}`; the runs
//! themselves come from [`crate::emulator::runs`].

use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use serde_json::Value;

use super::{items, SERVICE};
use crate::emulator::errors::{ApiError, ApiResult};
use crate::emulator::filter::{self, ListQuery};
use crate::emulator::gateway::{query_pairs, Adobe};
use crate::emulator::state::AppState;

pub async fn list(
    State(shared): State<AppState>,
    adobe: Adobe,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let pairs = query_pairs(query.as_deref());
    let query = ListQuery::parse(&pairs, &filter::RUNS)?;
    let runs: Vec<Value> = shared.with_sandbox(&adobe.sandbox, |cx| {
        let sandbox = &*cx.sandbox;
        // A flowId filter narrows through the per-flow index instead of rendering every run.
        let rendered = match query.equal_values("flowId") {
            Some(flow_ids) => flow_ids
                .iter()
                .flat_map(|id| sandbox.runs.of_flow(id))
                .map(|run| run.render(sandbox, cx.now))
                .collect(),
            None => sandbox
                .runs
                .all()
                .map(|run| run.render(sandbox, cx.now))
                .collect(),
        };
        Ok(rendered)
    })?;
    Ok(axum::Json(query.respond(runs, Value::clone, &filter::RUNS)).into_response())
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
