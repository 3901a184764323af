//! `GET /runs` (with `property=flowId==a,b`, `orderby`, paging) and `GET /runs/{id}`; the runs
//! themselves come from [`crate::emulator::runs`].

use std::borrow::Cow;

use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use serde_json::{json, Value};

use super::{items, SERVICE};
use crate::emulator::errors::{ApiError, ApiResult};
use crate::emulator::filter::{self, Item, ListQuery};
use crate::emulator::gateway::{query_pairs, Adobe};
use crate::emulator::runs::Run;
use crate::emulator::state::{AppState, Sandbox};

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
