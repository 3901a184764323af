//! `provision run` and `provision retry`: start an on-demand run of each selected dataflow
//! scheduled `once` (`POST /runs`), or re-trigger the newest run of each selected dataflow when
//! it failed (`POST /runs/{id}/action?op=re-trigger`); docs/aep-api.md#flow-actions. With
//! `--wait`, the runs started are waited for with `status --wait`'s code
//! ([`status::wait_for_runs`]).
//!
//! Requests: one list of the profile's dataflows, for `retry` one query of their newest runs,
//! then one POST per dataflow acted on, [`CONCURRENCY`] at a time. A dataflow that is refused (a
//! recurring schedule for `run`) or left alone (a newest run that did not fail for `retry`) is
//! reported with the reason.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::api::runs::{self, DeltaName, NewRun, RunParams, Wanted};
use crate::api::{AepClient, FlowId, RunId};
use crate::engine::select::Selection;
use crate::profile::Profile;
use crate::progress::WaitProgress;
use crate::status::{self, Managed, Observed, WaitSummary, WaitUntil};
use crate::validate::CONCURRENCY;

/// Which command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `run`: an on-demand run of each `once` dataflow.
    Run,
    /// `retry`: re-trigger each newest run that failed.
    Retry,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Run => "run",
            Op::Retry => "retry",
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The `run`/`retry` document: `{"runs": [{"module", "flow_id", "run_id", "status", "reason"}]}`.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub runs: Vec<RunOutcome>,
    /// Only with `--wait`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitSummary>,
    #[serde(skip)]
    pub op: Op,
}

/// What happened to one selected dataflow.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub module: String,
    pub flow_id: Option<FlowId>,
    /// The run started (or re-triggered); `null` when none was.
    pub run_id: Option<RunId>,
    /// `started`, then with `--wait` the run's final status (`success`, `failed`, ...);
    /// `refused` (the dataflow cannot be run this way), `skipped` (left alone) or `error` (the
    /// request failed).
    pub status: String,
    pub reason: Option<String>,
}

/// [`RunOutcome::status`] of a dataflow that cannot be run this way.
const REFUSED: &str = "refused";
/// [`RunOutcome::status`] of a dataflow whose request failed.
const ERROR: &str = "error";

impl RunOutcome {
    fn new(o: &Observed, status: &str, reason: Option<String>) -> Self {
        Self {
            module: o.module.clone(),
            flow_id: o.flow.as_ref().map(|f| f.id.clone()),
            run_id: None,
            status: status.to_owned(),
            reason,
        }
    }

    fn started(o: &Observed, run: RunId) -> Self {
        Self {
            run_id: Some(run),
            ..Self::new(o, "started", None)
        }
    }
}

impl RunReport {
    /// Why the command exits 1: a dataflow refused, a request that failed, or (with `--wait`) a
    /// run that failed or did not finish in time; `None` when all went well.
    pub fn failure(&self, timeout: Duration) -> Option<anyhow::Error> {
        let op = self.op.name();
        let bad: Vec<String> = self
            .runs
            .iter()
            .filter(|r| r.status == REFUSED || r.status == ERROR)
            .map(|r| format!("{}: {}", r.module, r.reason.as_deref().unwrap_or(&r.status)))
            .collect();
        if !bad.is_empty() {
            return Some(anyhow::anyhow!("{op} failed:\n  {}", bad.join("\n  ")));
        }
        self.wait.as_ref()?.failure(op, timeout)
    }
}

/// Runs `run` or `retry` for the selected modules of `profile`.
pub async fn operate(
    profile: &Profile,
    op: Op,
    selection: &Selection,
    wait: Option<Duration>,
    progress: &mut WaitProgress,
) -> anyhow::Result<RunReport> {
    let mut managed = Managed::read(profile, selection, wait).await?;
    if op == Op::Retry {
        managed
            .fetch_runs(Wanted::newest(1))
            .await
            .context("listing the newest runs of the selected dataflows")?;
    }
    let Managed {
        client,
        observed,
        wait,
        ..
    } = managed;
    // Each dataflow's POST is independent of the others' and a failed one is that dataflow's
    // outcome, so they go out together; `buffered` keeps the outcomes in the selection's order.
    let mut outcomes: Vec<RunOutcome> = stream::iter(&observed)
        .map(|o| act(&client, op, o))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let wait = match wait {
        Some(until) => Some(wait_for(&client, observed, &mut outcomes, until, progress).await?),
        None => None,
    };
    Ok(RunReport {
        runs: outcomes,
        wait,
        op,
    })
}

/// What `op` does to one dataflow: its POST, or the reason it got none.
async fn act(client: &AepClient, op: Op, o: &Observed) -> RunOutcome {
    match op {
        Op::Run => start(client, o).await,
        Op::Retry => retrigger(client, o).await,
    }
}

/// `POST /runs` for a dataflow scheduled `once`; any other is refused with the reason. The
/// window is everything up to now (from the epoch): the dataflow's delta column is what the
/// service reads records by, and a one-time dataflow has no earlier window to continue from.
async fn start(client: &AepClient, o: &Observed) -> RunOutcome {
    let Some(flow) = &o.flow else {
        return RunOutcome::new(o, REFUSED, Some(not_created()));
    };
    let schedule = flow.schedule_params.as_ref();
    if schedule.is_none_or(|s| s.frequency != "once") {
        let now = schedule.map_or_else(|| "no schedule".to_owned(), status::describe_schedule);
        return RunOutcome::new(
            o,
            REFUSED,
            Some(format!(
                "the dataflow runs on a schedule ({now}); Adobe runs on demand only dataflows \
                 scheduled once: set schedule.frequency = \"once\" for this module and apply, or \
                 use `provision retry` for a failed run"
            )),
        );
    }
    let Some(delta) = flow.delta_column() else {
        let reason = "the dataflow has no delta column (its Copy transformation); run apply";
        return RunOutcome::new(o, REFUSED, Some(reason.to_owned()));
    };
    let now = Utc::now().timestamp();
    let body = NewRun {
        flow_id: flow.id.clone(),
        params: RunParams {
            start_time: now,
            window_start_time: 0,
            window_end_time: now,
            delta_column: DeltaName { name: delta.name },
        },
    };
    match runs::start_run(client, &body).await {
        Ok(run) => RunOutcome::started(o, run),
        Err(e) => RunOutcome::new(o, ERROR, Some(format!("POST /runs: {e}"))),
    }
}

/// `POST /runs/{id}/action?op=re-trigger` when the newest run failed; otherwise left alone.
async fn retrigger(client: &AepClient, o: &Observed) -> RunOutcome {
    if o.flow.is_none() {
        return RunOutcome::new(o, "skipped", Some(not_created()));
    }
    let Some(newest) = o.runs.first() else {
        return RunOutcome::new(o, "skipped", Some("the dataflow has no run yet".into()));
    };
    let status = newest.status().unwrap_or("unknown");
    if !newest.is_finished() || status != "failed" {
        let reason = format!("its newest run {} is {status}, not failed", newest.id);
        return RunOutcome::new(o, "skipped", Some(reason));
    }
    match runs::retrigger(client, &newest.id).await {
        Ok(run) => RunOutcome::started(o, run),
        Err(e) => RunOutcome::new(
            o,
            ERROR,
            Some(format!("re-trigger of run {}: {e}", newest.id)),
        ),
    }
}

fn not_created() -> String {
    "the dataflow does not exist yet; run `provision apply` first".to_owned()
}

/// Waits for the runs started, then reports each one's final status.
async fn wait_for(
    client: &AepClient,
    observed: Vec<Observed>,
    outcomes: &mut [RunOutcome],
    until: WaitUntil,
    progress: &mut WaitProgress,
) -> anyhow::Result<WaitSummary> {
    let mut started: Vec<Observed> = observed
        .into_iter()
        .zip(outcomes.iter())
        .filter_map(|(o, outcome)| {
            let awaited = outcome.run_id.clone()?;
            Some(Observed {
                awaited: Some(awaited),
                runs: Vec::new(),
                ..o
            })
        })
        .collect();
    let summary =
        status::wait_for_runs(client, &mut started, Wanted::newest(1), until, progress).await?;
    for outcome in outcomes.iter_mut() {
        let Some(run_id) = &outcome.run_id else {
            continue;
        };
        let newest = started
            .iter()
            .filter_map(|o| o.runs.first())
            .find(|r| &r.id == run_id);
        if let Some(status) = newest.and_then(|r| r.status()) {
            outcome.status = status.to_owned();
        }
    }
    Ok(summary)
}
