//! `provision status`: the dataflows a profile manages, their schedules, their newest runs and a
//! one-line health verdict each; with `--wait`, block until every flow's newest run has finished.
//!
//! Requests scale with pages, not with flows (docs/aep-api.md#runs, #filters): one filtered list finds
//! every flow this profile owns ([`observe::dataflows_of`]:
//! `property=flowSpec.id==CRMToAEP&property=description==<marker>`),
//! then one filtered, paged query fetches the newest runs of all of them at once
//! (`property=flowId==a,b,c`, about 100 ids per query, the queries at once). `--wait` lists the flows once and repeats only
//! the runs query, every [`POLL_INTERVAL`].
//!
//! `--wait` decisions:
//! - a flow with no run yet is not finished: its first run is still to come;
//! - it stops early, exit 1, when a flow can never finish in time: the flow does not exist yet,
//!   it is disabled and has no run, or its first run is scheduled after the `--timeout`
//!   deadline. Waiting for those would only burn the whole timeout;
//! - otherwise it waits until every newest run has finished (even when one has already failed,
//!   so that the report shows every flow's outcome) or the deadline passes.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::api::flows::{Flow, ScheduleParams};
use crate::api::http::HttpOptions;
use crate::api::runs::{error_text, list_recent_runs_since, Run, Wanted};
use crate::api::{AepClient, ApiError, FlowId, RunId};
use crate::engine::naming::object_name;
use crate::engine::observe;
use crate::engine::select::Selection;
use crate::engine::Kind;
use crate::profile::Profile;
use crate::progress::WaitProgress;

/// How often `--wait` asks for runs: often enough to notice a finished run quickly, rarely
/// enough that many waiting pipelines do not load the service.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Slack on the earliest time a flow's runs can carry, for clock differences between the
/// service's components.
const CLOCK_SLACK_MS: i64 = 60_000;
/// How many finished runs the health verdict looks at, with any newer runs still in progress,
/// whatever `--runs` shows: the verdict must not change with how much history is shown.
pub const HEALTH_FINISHED_RUNS: usize = 3;
/// How many run errors the report keeps per run.
const MAX_ERRORS_PER_RUN: usize = 5;

/// What `status` shows and whether it waits.
#[derive(Debug, Clone)]
pub struct StatusOptions {
    /// How many of each flow's newest runs to show.
    pub runs: usize,
    /// Human output: each flow's runs and errors, not one line per flow.
    pub detailed: bool,
    /// `--wait`: the timeout.
    pub wait: Option<Duration>,
    /// `--module`: only these modules' dataflows.
    pub modules: Selection,
}

/// The status of every dataflow of the profile; its JSON is docs/cli.md#json-output's `status` document.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub dataflows: Vec<DataflowStatus>,
    /// Only with `--wait`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitSummary>,
    /// Flows that carry this profile's marker but whose module is no longer in the profile.
    #[serde(skip)]
    pub not_in_profile: Vec<(String, FlowId)>,
    /// Human output: each flow's runs and errors, not one line per flow.
    #[serde(skip)]
    pub detailed: bool,
}

impl StatusReport {
    /// Why `--wait` did not end in success, naming each flow at fault; `None` without `--wait`
    /// or when every newest run succeeded.
    pub fn wait_failure(&self, timeout: Duration) -> Option<anyhow::Error> {
        self.wait.as_ref()?.failure("status", timeout)
    }
}

impl WaitSummary {
    /// Why `{command} --wait` did not end in success, naming each flow at fault; `None` when
    /// every newest run succeeded.
    pub fn failure(&self, command: &str, timeout: Duration) -> Option<anyhow::Error> {
        let what = match self.result {
            WaitResult::Success => return None,
            WaitResult::Failed => "the newest run of some dataflows failed".to_owned(),
            WaitResult::Timeout => format!(
                "timed out after {}; unfinished or failed",
                humantime::format_duration(timeout)
            ),
            WaitResult::Blocked => {
                "stopped early: some dataflows cannot finish before the timeout".to_owned()
            }
        };
        Some(anyhow::anyhow!(
            "{command} --wait: {what}:\n  {}",
            self.problems.join("\n  ")
        ))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DataflowStatus {
    pub name: String,
    pub module: String,
    /// `null` when the flow does not exist yet.
    pub id: Option<FlowId>,
    /// `enabled` or `disabled`; `null` when the flow does not exist yet.
    pub state: Option<String>,
    pub schedule: Option<ScheduleView>,
    /// Newest first.
    pub runs: Vec<RunView>,
    pub health: Health,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleView {
    pub frequency: String,
    pub interval: Option<u32>,
    pub start: Option<DateTime<Utc>>,
    pub backfill: Option<bool>,
    /// In words, e.g. `every 1 hour from 2026-12-01 00:00 UTC`.
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    pub id: RunId,
    /// Lower snake case: `success`, `failed`, `in_progress`, `scheduled`, ...
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i64>,
    pub records: Records,
    pub errors: Vec<RunErrorView>,
    /// Whether the run reported record counts (in-progress runs do not; `records` is 0 then).
    #[serde(skip)]
    pub has_records: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Records {
    pub input: u64,
    pub output: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunErrorView {
    pub code: Option<String>,
    pub message: Option<String>,
}

/// The one-line verdict on a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub status: HealthStatus,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// The newest finished run succeeded.
    Healthy,
    /// The newest finished run succeeded but reported failed records.
    Degraded,
    /// The newest finished run failed.
    Failing,
    /// The newest run has not finished, and no run has finished before it.
    Running,
    /// No run yet.
    Waiting,
    Disabled,
    /// The profile has the module, the platform has no flow for it.
    NotCreated,
}

/// The outcome of `--wait`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitSummary {
    pub result: WaitResult,
    pub waited_seconds: u64,
    /// One line per flow that made the result anything but `success`.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitResult {
    /// Every flow's newest run succeeded.
    Success,
    /// Every newest run finished, and at least one failed.
    Failed,
    /// The timeout passed first.
    Timeout,
    /// A flow could not finish before the timeout (see the module docs).
    Blocked,
}

/// One managed flow as observed: the profile's module, its managed name, and the flow with its
/// newest runs (newest first) when it exists.
#[derive(Debug, Clone)]
pub struct Observed {
    pub module: String,
    pub name: String,
    pub flow: Option<Flow>,
    pub runs: Vec<Run>,
    /// A run just started (`run`, `retry`): until the runs list it, the flow is not finished.
    pub awaited: Option<RunId>,
}

/// Runs `status` for `profile`; `progress` shows `--wait`'s progress on stderr.
pub async fn status(
    profile: &Profile,
    options: &StatusOptions,
    progress: &mut WaitProgress,
) -> anyhow::Result<StatusReport> {
    let Managed {
        client,
        mut observed,
        not_in_profile,
        wait,
    } = Managed::read(profile, &options.modules, options.wait).await?;
    let wanted = Wanted {
        newest: options.runs.max(1),
        finished: HEALTH_FINISHED_RUNS,
    };
    let wait = match wait {
        Some(until) => Some(wait_for_runs(&client, &mut observed, wanted, until, progress).await?),
        None => {
            fetch_runs(&client, &mut observed, wanted)
                .await
                .context(RUNS_CONTEXT)?;
            None
        }
    };
    let now = Utc::now().timestamp_millis();
    Ok(StatusReport {
        dataflows: observed
            .iter()
            .map(|o| dataflow_status(o, options.runs, now))
            .collect(),
        wait,
        not_in_profile,
        detailed: options.detailed,
    })
}

/// The client and the managed dataflows of a profile, read once by `status`, `run` and `retry`.
pub struct Managed {
    pub client: AepClient,
    /// The selected modules' flows, in profile order (see `managed_flows`).
    pub observed: Vec<Observed>,
    /// Owned flows whose module left the profile.
    pub not_in_profile: Vec<(String, FlowId)>,
    /// Only a waiting command (`--wait`) has one: its first reads are tried again until its
    /// deadline, and its wait ends then too, so that `--timeout` bounds the whole command.
    pub wait: Option<WaitUntil>,
}

/// A `--wait`: the `--timeout` given, counted from the command's first read (so that reads that
/// outlasted an outage before the wait are not given the time again).
#[derive(Debug, Clone, Copy)]
pub struct WaitUntil {
    pub started: Instant,
    pub timeout: Duration,
}

impl WaitUntil {
    pub fn deadline(&self) -> Instant {
        self.started + self.timeout
    }
}

impl Managed {
    /// Connects for `profile` and lists the dataflows of the `modules` selected. A command that
    /// waits (`wait` is its timeout) polls again itself and reports an outage while it lasts: its
    /// reads give up within the attempts instead of outlasting the outage inside one call, and
    /// its first reads are tried again every [`POLL_INTERVAL`] within the timeout instead.
    pub async fn read(
        profile: &Profile,
        modules: &Selection,
        wait: Option<Duration>,
    ) -> anyhow::Result<Self> {
        let wait = wait.map(|timeout| WaitUntil {
            started: Instant::now(),
            timeout,
        });
        let deadline = wait.map(|until| until.deadline());
        let http = HttpOptions {
            patient_reads: wait.is_none(),
            not_after: deadline,
            ..HttpOptions::default()
        };
        let client = crate::clients::aep(profile, http)?;
        let prefix = &profile.connection.name;
        let (observed, not_in_profile) =
            patiently(deadline, || managed_flows(&client, profile, modules))
                .await
                .with_context(|| format!("listing the dataflows managed by `{prefix}`"))?;
        Ok(Self {
            client,
            observed,
            not_in_profile,
            wait,
        })
    }

    /// [`fetch_runs`] for the flows read, tried again as patiently as the list of the flows.
    pub async fn fetch_runs(&mut self, wanted: Wanted) -> Result<(), ApiError> {
        // `patiently`'s loop written out: its closure cannot lend `self.observed` mutably.
        loop {
            match fetch_runs(&self.client, &mut self.observed, wanted).await {
                Err(e) if try_again(&e, self.wait.map(|until| until.deadline())).await => {}
                other => return other,
            }
        }
    }
}

const RUNS_CONTEXT: &str = "listing the runs of the managed dataflows";

/// `read`, tried again every [`POLL_INTERVAL`] while it fails transiently and `deadline` (only
/// `--wait` has one) leaves time for another try: a waiting command outlasts a short outage.
async fn patiently<T, F, Fut>(deadline: Option<Instant>, mut read: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    loop {
        match read().await {
            Err(e) if try_again(&e, deadline).await => {}
            other => return other,
        }
    }
}

/// Whether a read that failed with `error` is to be tried again (see [`patiently`]); after
/// [`POLL_INTERVAL`] when it is.
async fn try_again(error: &ApiError, deadline: Option<Instant>) -> bool {
    if !(error.is_transient() && deadline.is_some_and(|d| Instant::now() + POLL_INTERVAL < d)) {
        return false;
    }
    tracing::warn!("{error}; trying again in {}s", POLL_INTERVAL.as_secs());
    tokio::time::sleep(POLL_INTERVAL).await;
    true
}

/// Every dataflow of the profile, in profile order: one list of the flows carrying the profile's
/// ownership marker, matched to the profile's modules by managed name. Also returns the owned
/// flows whose module left the profile.
async fn managed_flows(
    client: &AepClient,
    profile: &Profile,
    modules: &Selection,
) -> Result<(Vec<Observed>, Vec<(String, FlowId)>), ApiError> {
    let prefix = &profile.connection.name;
    let mut by_name: BTreeMap<String, Vec<Flow>> = BTreeMap::new();
    for flow in observe::dataflows_of(client, prefix).await? {
        by_name.entry(flow.name.clone()).or_default().push(flow);
    }
    let mut observed = Vec::new();
    for dataflow in profile
        .dataflows
        .iter()
        .filter(|d| modules.contains(&d.module))
    {
        let name = object_name(prefix, &dataflow.module, Kind::Dataflow);
        let flows = by_name.remove(&name).unwrap_or_default();
        if flows.len() > 1 {
            let ids: Vec<&str> = flows.iter().map(|f| f.id.as_str()).collect();
            tracing::warn!(
                "{} dataflows are named `{name}` and marked as this profile's (ids {}); delete \
                 all but one",
                flows.len(),
                ids.join(", ")
            );
        }
        if flows.is_empty() {
            observed.push(Observed {
                module: dataflow.module.clone(),
                name: name.clone(),
                flow: None,
                runs: Vec::new(),
                awaited: None,
            });
        }
        for flow in flows {
            observed.push(Observed {
                module: dataflow.module.clone(),
                name: name.clone(),
                flow: Some(flow),
                runs: Vec::new(),
                awaited: None,
            });
        }
    }
    let orphans = by_name
        .into_values()
        .flatten()
        .filter(|_| modules.is_all())
        .map(|f| (f.name, f.id))
        .collect();
    Ok((observed, orphans))
}

/// Reads the newest runs `wanted` of every flow in `observed`, then waits until each flow's
/// newest run has finished (or `until` passes): `status --wait`, and `run --wait` and
/// `retry --wait` for the runs they started. A transient failure to read the runs does not end
/// the wait.
pub async fn wait_for_runs(
    client: &AepClient,
    observed: &mut [Observed],
    wanted: Wanted,
    until: WaitUntil,
    progress: &mut WaitProgress,
) -> anyhow::Result<WaitSummary> {
    let polls = Polls {
        client,
        wanted,
        until,
    };
    let began = Instant::now();
    let outage = match fetch_runs(client, observed, wanted).await {
        Err(e) if e.is_transient() => Some(Outage::new(began, e.to_string())),
        Err(e) => return Err(e).context(RUNS_CONTEXT),
        Ok(()) => None,
    };
    polls.wait(observed, outage, progress).await
}

/// Replaces each observed flow's runs with the newest ones `wanted`, in one paged query per
/// group of about a hundred flows. No request is made when no flow exists.
async fn fetch_runs(
    client: &AepClient,
    observed: &mut [Observed],
    wanted: Wanted,
) -> Result<(), ApiError> {
    let flows: Vec<&Flow> = observed.iter().filter_map(|o| o.flow.as_ref()).collect();
    if flows.is_empty() {
        return Ok(());
    }
    let ids: Vec<FlowId> = flows.iter().map(|f| f.id.clone()).collect();
    let not_before: HashMap<FlowId, i64> = flows
        .iter()
        .filter_map(|f| earliest_run(f).map(|t| (f.id.clone(), t)))
        .collect();
    let runs = list_recent_runs_since(client, &ids, wanted, &not_before).await?;
    let mut by_flow: HashMap<FlowId, Vec<Run>> = HashMap::new();
    for run in runs {
        by_flow.entry(run.flow_id.clone()).or_default().push(run);
    }
    for o in observed.iter_mut() {
        o.runs = o
            .flow
            .as_ref()
            .and_then(|f| by_flow.get(&f.id).cloned())
            .unwrap_or_default();
        o.runs.sort_by_key(|r| std::cmp::Reverse(run_time(r)));
    }
    Ok(())
}

/// No run of `flow` can be older than the flow itself or its schedule's start, whichever is
/// earlier (epoch ms).
fn earliest_run(flow: &Flow) -> Option<i64> {
    let start = flow
        .schedule_params
        .as_ref()
        .map(|s| s.start_time.saturating_mul(1000));
    let earliest = match (flow.created_at, start) {
        (Some(created), Some(start)) => created.min(start),
        (one, other) => one.or(other)?,
    };
    Some(earliest - CLOCK_SLACK_MS)
}

/// What orders runs newest first: `createdAt`, else the start.
fn run_time(run: &Run) -> i64 {
    run.created_at.or(run.started_at()).unwrap_or(0)
}

/// The runs query of `--wait`, repeated until an answer ends the wait or `timeout` passes.
struct Polls<'a> {
    client: &'a AepClient,
    wanted: Wanted,
    until: WaitUntil,
}

/// Runs that could not be read: since the start of the first read that failed, and the latest
/// error.
struct Outage {
    since: Instant,
    cause: String,
}

impl Outage {
    fn new(since: Instant, cause: String) -> Self {
        tracing::warn!("could not read the runs ({cause}); still waiting");
        Self { since, cause }
    }

    /// The problem line when the deadline passes during the outage.
    fn problem(&self) -> String {
        format!(
            "could not read the runs for the last {} s: {}",
            self.since.elapsed().as_secs(),
            self.cause
        )
    }
}

impl Polls<'_> {
    /// Polls the runs until every flow's newest run has finished, a flow is found that cannot
    /// finish in time, or the timeout passes. A read that fails transiently (5xx, 429, no
    /// answer) says nothing about the runs: it is reported on stderr and the polling goes on;
    /// only an answer, or the deadline, ends the wait.
    async fn wait(
        &self,
        observed: &mut [Observed],
        mut outage: Option<Outage>,
        progress: &mut WaitProgress,
    ) -> anyhow::Result<WaitSummary> {
        let WaitUntil { started, timeout } = self.until;
        // The deadline on the services' clock, for the schedules' times.
        let left = self
            .until
            .deadline()
            .saturating_duration_since(Instant::now());
        let deadline_ms =
            Utc::now().timestamp_millis() + i64::try_from(left.as_millis()).unwrap_or(i64::MAX / 2);
        // Until one read succeeds, an existing flow's empty list of runs is not "no run yet".
        let mut runs_read = outage.is_none();
        loop {
            let now = Utc::now().timestamp_millis();
            let states: Vec<(String, FlowWait)> = observed
                .iter()
                .map(|o| {
                    let state = match o.flow {
                        Some(_) if !runs_read => FlowWait::Pending("runs not read yet".into()),
                        _ => wait_state(o, now, deadline_ms),
                    };
                    (o.module.clone(), state)
                })
                .collect();
            progress.update(&progress_lines(&states), started.elapsed(), timeout);
            let summary = |result, problems| WaitSummary {
                result,
                waited_seconds: started.elapsed().as_secs(),
                problems,
            };
            if outage.is_none() {
                if let Some((result, problems)) = wait_verdict(&states) {
                    progress.finish();
                    return Ok(summary(result, problems));
                }
            }
            let remaining = timeout.saturating_sub(started.elapsed());
            if remaining.is_zero() {
                progress.finish();
                let mut unfinished: Vec<String> = outage.iter().map(Outage::problem).collect();
                unfinished.extend(problems(&states, |s| matches!(s, FlowWait::Failed(_))));
                unfinished.extend(problems(&states, |s| matches!(s, FlowWait::Pending(_))));
                return Ok(summary(WaitResult::Timeout, unfinished));
            }
            tokio::time::sleep(POLL_INTERVAL.min(remaining)).await;
            // The client gives up at the deadline ([`HttpOptions::not_after`]): a read retrying
            // through an outage, or waiting for an answer, does not carry the wait past it.
            let began = Instant::now();
            match fetch_runs(self.client, observed, self.wanted).await {
                Ok(()) => {
                    runs_read = true;
                    if let Some(ended) = outage.take() {
                        tracing::info!(
                            "the runs can be read again after {} s",
                            ended.since.elapsed().as_secs()
                        );
                    }
                }
                Err(e) if e.is_transient() => match &mut outage {
                    Some(ongoing) => ongoing.cause = e.to_string(),
                    None => outage = Some(Outage::new(began, e.to_string())),
                },
                Err(e) => return Err(e).context(RUNS_CONTEXT),
            }
        }
    }
}

/// The end of the wait the states already decide: a flow that cannot finish in time, or every
/// newest run finished.
fn wait_verdict(states: &[(String, FlowWait)]) -> Option<(WaitResult, Vec<String>)> {
    let blocked = problems(states, |s| matches!(s, FlowWait::Blocked(_)));
    if !blocked.is_empty() {
        return Some((WaitResult::Blocked, blocked));
    }
    if states
        .iter()
        .any(|(_, s)| matches!(s, FlowWait::Pending(_)))
    {
        return None;
    }
    let failed = problems(states, |s| matches!(s, FlowWait::Failed(_)));
    let result = if failed.is_empty() {
        WaitResult::Success
    } else {
        WaitResult::Failed
    };
    Some((result, failed))
}

fn problems(states: &[(String, FlowWait)], pick: impl Fn(&FlowWait) -> bool) -> Vec<String> {
    states
        .iter()
        .filter(|(_, s)| pick(s))
        .map(|(module, s)| format!("{module}: {}", s.detail()))
        .collect()
}

fn progress_lines(states: &[(String, FlowWait)]) -> Vec<(String, bool, String)> {
    states
        .iter()
        .map(|(module, s)| {
            let done = matches!(s, FlowWait::Succeeded(_) | FlowWait::Failed(_));
            (module.clone(), done, s.detail().to_owned())
        })
        .collect()
}

/// Where one flow stands for `--wait`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowWait {
    /// The newest run succeeded.
    Succeeded(String),
    /// The newest run finished and failed.
    Failed(String),
    /// The newest run has not finished, or there is none yet.
    Pending(String),
    /// The flow cannot finish before the deadline.
    Blocked(String),
}

impl FlowWait {
    fn detail(&self) -> &str {
        match self {
            FlowWait::Succeeded(d) | FlowWait::Failed(d) | FlowWait::Pending(d) => d,
            FlowWait::Blocked(d) => d,
        }
    }
}

/// Where `observed` stands at `now` for a wait that ends at `deadline` (both epoch ms).
pub fn wait_state(observed: &Observed, now: i64, deadline: i64) -> FlowWait {
    let Some(flow) = &observed.flow else {
        return FlowWait::Blocked("the dataflow is not created yet (run apply)".into());
    };
    let Some(newest) = observed.runs.first() else {
        if !flow.is_enabled() {
            return FlowWait::Blocked("the dataflow is disabled and has no run".into());
        }
        let start = flow.schedule_params.as_ref().map(|s| s.start_time * 1000);
        return match start {
            Some(start) if start > deadline => FlowWait::Blocked(format!(
                "its first run is scheduled for {}, after the --timeout deadline ({})",
                minutes(start),
                minutes(deadline)
            )),
            Some(start) if start > now => {
                FlowWait::Pending(format!("first run scheduled for {}", minutes(start)))
            }
            _ => FlowWait::Pending("no run yet".into()),
        };
    };
    if let Some(awaited) = observed.awaited.as_ref().filter(|id| **id != newest.id) {
        return FlowWait::Pending(format!("run {awaited} not listed yet"));
    }
    let status = newest.status().unwrap_or("unknown");
    if !newest.is_finished() {
        return FlowWait::Pending(format!("run {} {status}", newest.id));
    }
    if succeeded(newest) {
        FlowWait::Succeeded(format!("run {} {status}", newest.id))
    } else {
        let first = newest
            .errors()
            .first()
            .map(|e| format!(": {}", error_text(e.code.as_deref(), e.message.as_deref())))
            .unwrap_or_default();
        FlowWait::Failed(format!("run {} {status}{first}", newest.id))
    }
}

/// A finished run that loaded its data (perhaps with some failed records).
fn succeeded(run: &Run) -> bool {
    matches!(
        run.status(),
        Some("success" | "completed" | "partial_success")
    )
}

/// The JSON/human view of one observed flow, with its newest `shown` runs.
fn dataflow_status(observed: &Observed, shown: usize, now: i64) -> DataflowStatus {
    let flow = observed.flow.as_ref();
    DataflowStatus {
        name: observed.name.clone(),
        module: observed.module.clone(),
        id: flow.map(|f| f.id.clone()),
        state: flow.map(|f| {
            f.state
                .as_deref()
                .map_or_else(|| "unknown".to_owned(), str::to_ascii_lowercase)
        }),
        schedule: flow
            .and_then(|f| f.schedule_params.as_ref())
            .map(schedule_view),
        runs: observed.runs.iter().take(shown).map(run_view).collect(),
        health: health(flow, health_window(&observed.runs), now),
    }
}

fn schedule_view(params: &ScheduleParams) -> ScheduleView {
    ScheduleView {
        frequency: params.frequency.clone(),
        interval: params.interval,
        start: DateTime::from_timestamp(params.start_time, 0),
        backfill: params.backfill,
        description: describe_schedule(params),
    }
}

/// A schedule in words: `every 1 hour from 2026-12-01 00:00 UTC`, `once at ...`.
pub fn describe_schedule(params: &ScheduleParams) -> String {
    let start = DateTime::from_timestamp(params.start_time, 0).map_or_else(
        || format!("epoch second {}", params.start_time),
        |t| {
            if t.timestamp() % 60 == 0 {
                t.format("%Y-%m-%d %H:%M UTC").to_string()
            } else {
                t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
            }
        },
    );
    if params.frequency == "once" {
        return format!("once at {start}");
    }
    let interval = params.interval.unwrap_or(1);
    let unit = if interval == 1 {
        params.frequency.clone()
    } else {
        format!("{}s", params.frequency)
    };
    format!("every {interval} {unit} from {start}")
}

fn run_view(run: &Run) -> RunView {
    let records = &run.metrics.record_summary;
    let has_records = records.input_record_count.is_some()
        || records.output_record_count.is_some()
        || records.failed_record_count.is_some();
    let mut errors: Vec<RunErrorView> = Vec::new();
    for e in run.errors() {
        let view = RunErrorView {
            code: e.code.clone(),
            message: e.message.clone(),
        };
        if !errors.contains(&view) && errors.len() < MAX_ERRORS_PER_RUN {
            errors.push(view);
        }
    }
    let started = run.started_at();
    let completed = run.completed_at();
    RunView {
        id: run.id.clone(),
        status: run.status().unwrap_or("unknown").to_owned(),
        started_at: started.and_then(DateTime::from_timestamp_millis),
        completed_at: completed.and_then(DateTime::from_timestamp_millis),
        duration_seconds: match (started, completed) {
            (Some(s), Some(c)) if c >= s => Some((c - s) / 1000),
            _ => None,
        },
        records: Records {
            input: records.input_record_count.unwrap_or(0),
            output: records.output_record_count.unwrap_or(0),
            failed: records.failed_record_count.unwrap_or(0),
        },
        errors,
        has_records,
    }
}

/// The runs the health verdict looks at: the newest ones up to the
/// [`HEALTH_FINISHED_RUNS`]th finished one, however many were read to show.
fn health_window(runs: &[Run]) -> &[Run] {
    let mut finished = 0;
    let end = runs
        .iter()
        .position(|run| {
            finished += usize::from(run.is_finished());
            finished == HEALTH_FINISHED_RUNS
        })
        .map_or(runs.len(), |last| last + 1);
    &runs[..end]
}

/// The verdict on a flow from its newest runs (newest first) at `now` (epoch ms).
pub fn health(flow: Option<&Flow>, runs: &[Run], now: i64) -> Health {
    let Some(flow) = flow else {
        return verdict(
            HealthStatus::NotCreated,
            "not created yet (run apply)".into(),
        );
    };
    let newest_finished = runs.iter().position(Run::is_finished);
    if !flow.is_enabled() {
        let last = newest_finished
            .map(|i| format!("; its last run {}", outcome_words(&runs[i])))
            .unwrap_or_default();
        return verdict(
            HealthStatus::Disabled,
            format!("disabled: no new runs are scheduled{last}"),
        );
    }
    let Some(index) = newest_finished else {
        return not_finished_yet(flow, runs.first(), now);
    };
    let newest = &runs[index];
    let in_flight = if index > 0 {
        format!("; a newer run is {}", runs[0].status().unwrap_or("unknown"))
    } else {
        String::new()
    };
    let when = newest
        .completed_at()
        .map(|t| format!(" at {}", minutes(t)))
        .unwrap_or_default();
    if succeeded(newest) {
        succeeded_verdict(&runs[index..], &when, &in_flight)
    } else {
        failing_verdict(&runs[index..], &when, &in_flight)
    }
}

fn verdict(status: HealthStatus, message: String) -> Health {
    Health { status, message }
}

/// A finished run's outcome in words: `succeeded`, `failed`, `ended cancelled`.
fn outcome_words(run: &Run) -> String {
    match run.status() {
        Some("success" | "completed") => "succeeded".into(),
        Some("partial_success") => "partly succeeded".into(),
        Some("failed") => "failed".into(),
        Some(other) => format!("ended {other}"),
        None => "finished".into(),
    }
}

/// No run has finished: the first one is running, or none has started yet.
fn not_finished_yet(flow: &Flow, newest: Option<&Run>, now: i64) -> Health {
    if let Some(running) = newest {
        let status = running.status().unwrap_or("unknown");
        return verdict(
            HealthStatus::Running,
            format!("first run {status}, none finished yet"),
        );
    }
    let start = flow.schedule_params.as_ref().map(|s| s.start_time * 1000);
    let message = match start {
        Some(start) if start > now => {
            format!("waiting: first run scheduled for {}", minutes(start))
        }
        Some(start) => format!("waiting: no run yet (first one due {})", minutes(start)),
        None => "waiting: no run yet".into(),
    };
    verdict(HealthStatus::Waiting, message)
}

/// The newest finished run (`finished[0]`) succeeded: healthy, or degraded when it reported
/// failed records.
fn succeeded_verdict(finished: &[Run], when: &str, in_flight: &str) -> Health {
    let newest = &finished[0];
    let records = &newest.metrics.record_summary;
    let failed_records = records.failed_record_count.unwrap_or(0);
    let loaded = records
        .output_record_count
        .map(|n| format!(", {n} records loaded"))
        .unwrap_or_default();
    let earlier_failures = finished
        .iter()
        .filter(|r| r.is_finished() && !succeeded(r))
        .count();
    let history = if earlier_failures > 0 {
        format!(
            "; {earlier_failures} of the last {} runs failed",
            finished.len()
        )
    } else {
        String::new()
    };
    if failed_records > 0 || newest.status() == Some("partial_success") {
        return verdict(
            HealthStatus::Degraded,
            format!(
                "degraded: last run finished{when} with {failed_records} failed records{loaded}{history}{in_flight}"
            ),
        );
    }
    verdict(
        HealthStatus::Healthy,
        format!("healthy: last run succeeded{when}{loaded}{history}{in_flight}"),
    )
}

/// The newest finished run (`finished[0]`) failed: how many in a row, and the first error's
/// code.
fn failing_verdict(finished: &[Run], when: &str, in_flight: &str) -> Health {
    let newest = &finished[0];
    let streak = finished
        .iter()
        .take_while(|r| r.is_finished() && !succeeded(r))
        .count();
    let runs_failed = if streak > 1 {
        format!("the last {streak} runs failed")
    } else {
        format!("last run {}", newest.status().unwrap_or("failed"))
    };
    // The code is enough for one line; the runs' errors carry the messages.
    let cause = newest
        .errors()
        .first()
        .map(|e| match &e.code {
            Some(code) => format!(": {code}"),
            None => format!(": {}", error_text(None, e.message.as_deref())),
        })
        .unwrap_or_default();
    verdict(
        HealthStatus::Failing,
        format!("failing: {runs_failed}{when}{cause}{in_flight}"),
    )
}

/// Epoch ms as `2026-12-01 00:00 UTC`.
fn minutes(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(
        || format!("epoch ms {ms}"),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const HOUR_MS: i64 = 3_600_000;
    /// 2026-12-01T00:00:00Z.
    const START_S: i64 = 1_796_083_200;

    fn flow(state: &str, start_s: i64) -> Flow {
        serde_json::from_value(json!({
            "id": "f1", "name": "p / Leads / flow", "state": state, "createdAt": 1_000,
            "scheduleParams": {"startTime": start_s.to_string(), "frequency": "hour",
                               "interval": "1", "backfill": "true"}
        }))
        .unwrap()
    }

    fn run(id: &str, status: &str, created: i64, extra: Value) -> Run {
        let mut value = json!({
            "id": id, "flowId": "f1", "createdAt": created,
            "metrics": {"statusSummary": {"status": status},
                        "durationSummary": {"startedAtUTC": created + 30_000}}
        });
        if matches!(status.to_lowercase().as_str(), "success" | "failed") {
            value["metrics"]["durationSummary"]["completedAtUTC"] = json!(created + 120_000);
            value["metrics"]["recordSummary"] =
                json!({"inputRecordCount": 42, "outputRecordCount": 42, "failedRecordCount": 0});
        }
        if let Value::Object(map) = extra {
            for (k, v) in map {
                value[k] = v;
            }
        }
        serde_json::from_value(value).unwrap()
    }

    fn failed(id: &str, created: i64) -> Run {
        run(
            id,
            "Failed",
            created,
            json!({"activities": [{"statusSummary": {"status": "failed", "extensions": {"errors": [
                {"code": "MAPPER-3700-400", "message": "column Nope is missing"}]}}}]}),
        )
    }

    fn observed(flow: Option<Flow>, runs: Vec<Run>) -> Observed {
        Observed {
            module: "Leads".into(),
            name: "p / Leads / flow".into(),
            flow,
            runs,
            awaited: None,
        }
    }

    #[test]
    fn schedules_read_as_words() {
        let params = |frequency: &str, interval: Option<u32>| ScheduleParams {
            start_time: START_S,
            frequency: frequency.into(),
            interval,
            backfill: Some(true),
        };
        assert_eq!(
            describe_schedule(&params("hour", Some(1))),
            "every 1 hour from 2026-12-01 00:00 UTC"
        );
        assert_eq!(
            describe_schedule(&params("minute", Some(15))),
            "every 15 minutes from 2026-12-01 00:00 UTC"
        );
        assert_eq!(
            describe_schedule(&params("once", None)),
            "once at 2026-12-01 00:00 UTC"
        );
    }

    #[test]
    fn health_follows_the_newest_finished_run() {
        let start = START_S * 1000;
        let f = flow("enabled", START_S);
        let ok = run("r2", "success", start + HOUR_MS, json!({}));
        let h = health(
            Some(&f),
            &[ok.clone(), failed("r1", start)],
            start + 2 * HOUR_MS,
        );
        assert_eq!(h.status, HealthStatus::Healthy);
        assert_eq!(
            h.message,
            "healthy: last run succeeded at 2026-12-01 01:02 UTC, 42 records loaded; 1 of the last 2 runs failed"
        );

        let h = health(
            Some(&f),
            &[
                failed("r3", start + 2 * HOUR_MS),
                failed("r2", start + HOUR_MS),
                ok,
            ],
            start + 3 * HOUR_MS,
        );
        assert_eq!(h.status, HealthStatus::Failing);
        assert_eq!(
            h.message,
            "failing: the last 2 runs failed at 2026-12-01 02:02 UTC: MAPPER-3700-400"
        );

        let running = run("r4", "inProgress", start + 3 * HOUR_MS, json!({}));
        let h = health(
            Some(&f),
            std::slice::from_ref(&running),
            start + 3 * HOUR_MS,
        );
        assert_eq!(h.status, HealthStatus::Running);
        let h = health(
            Some(&f),
            &[running, failed("r3", start + 2 * HOUR_MS)],
            start + 3 * HOUR_MS,
        );
        assert_eq!(h.status, HealthStatus::Failing);
        assert!(
            h.message.ends_with("; a newer run is in_progress"),
            "{}",
            h.message
        );
    }

    #[test]
    fn health_without_runs_or_flow() {
        let start = START_S * 1000;
        let h = health(None, &[], start);
        assert_eq!(
            (h.status, h.message.as_str()),
            (HealthStatus::NotCreated, "not created yet (run apply)")
        );
        let h = health(Some(&flow("enabled", START_S)), &[], start - HOUR_MS);
        assert_eq!(
            h.message,
            "waiting: first run scheduled for 2026-12-01 00:00 UTC"
        );
        let h = health(Some(&flow("disabled", START_S)), &[], start);
        assert_eq!(h.status, HealthStatus::Disabled);
    }

    #[test]
    fn waiting_treats_missing_runs_as_unfinished_unless_they_cannot_come_in_time() {
        let start = START_S * 1000;
        let f = flow("enabled", START_S);
        let pending = wait_state(
            &observed(Some(f.clone()), vec![]),
            start - 60_000,
            start + 1,
        );
        assert!(matches!(pending, FlowWait::Pending(_)), "{pending:?}");
        let blocked = wait_state(
            &observed(Some(f.clone()), vec![]),
            start - HOUR_MS,
            start - 1,
        );
        assert_eq!(
            blocked,
            FlowWait::Blocked(
                "its first run is scheduled for 2026-12-01 00:00 UTC, after the --timeout \
                 deadline (2026-11-30 23:59 UTC)"
                    .into()
            )
        );
        assert!(matches!(
            wait_state(&observed(None, vec![]), start, start),
            FlowWait::Blocked(_)
        ));
        assert!(matches!(
            wait_state(
                &observed(Some(flow("disabled", START_S)), vec![]),
                start,
                start
            ),
            FlowWait::Blocked(_)
        ));
        let newest_failed = observed(Some(f.clone()), vec![failed("r1", start)]);
        assert_eq!(
            wait_state(&newest_failed, start + HOUR_MS, start + 2 * HOUR_MS),
            FlowWait::Failed("run r1 failed: MAPPER-3700-400: column Nope is missing".into())
        );
        let running = observed(Some(f), vec![run("r2", "IN_PROGRESS", start, json!({}))]);
        assert_eq!(
            wait_state(&running, start, start + HOUR_MS),
            FlowWait::Pending("run r2 in_progress".into())
        );
    }

    #[test]
    fn run_views_carry_records_errors_and_duration() {
        let view = run_view(&failed("r1", START_S * 1000));
        assert_eq!(view.status, "failed");
        assert_eq!(view.duration_seconds, Some(90));
        assert_eq!(
            view.records,
            Records {
                input: 42,
                output: 42,
                failed: 0
            }
        );
        assert_eq!(
            serde_json::to_value(&view.errors).unwrap(),
            json!([{"code": "MAPPER-3700-400", "message": "column Nope is missing"}])
        );
        let pending = run_view(&run("r2", "scheduled", START_S * 1000, json!({})));
        assert!(!pending.has_records);
        assert_eq!(pending.completed_at, None);
    }

    #[test]
    fn the_earliest_run_is_bounded_by_creation_or_start() {
        let f = flow("enabled", START_S);
        assert_eq!(earliest_run(&f), Some(1_000 - CLOCK_SLACK_MS));
    }
}
