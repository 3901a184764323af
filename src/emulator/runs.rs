//! Dataflow runs over emulated time. An enabled flow with a schedule gets a run at every
//! `startTime + k * interval` that has passed (`once`: one run at `startTime`). Runs are created
//! lazily whenever a request looks at flows or runs, and each run's state is computed from the
//! clock: `scheduled`, then `inProgress` 30 emulated seconds later, then `success` or `failed`
//! one to four emulated minutes after that.
//!
//! A run's outcome is decided when it is created, from the flow's source connection, base
//! connection credentials, Zoho module, delta column and mapping set: a mapping that reads a
//! column the module (or the source connection's column list) lacks fails with `MAPPER-3700-400`.
//!
//! To bound memory, a new flow whose start lies far in the past gets only its
//! [`BACKFILL_RUNS`] most recent slots, and each flow keeps its [`MAX_RUNS_PER_FLOW`] newest runs.

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::seed::{self, ZohoOrg};
use super::state::{new_uuid, Sandbox};
use super::zoho::ZohoState;

pub const BACKFILL_RUNS: usize = 3;
pub const MAX_RUNS_PER_FLOW: usize = 100;
const QUEUE_MS: i64 = 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Once,
    Minute,
    Hour,
    Day,
    Week,
}

/// A validated `scheduleParams` (docs/aep-api.md#schedule-rules).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub start_s: i64,
    pub frequency: Frequency,
    pub interval: i64,
    pub backfill: bool,
}

/// Reads an integer sent as a number or as a string of digits (docs/aep-api.md#disagreements #8-#9).
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Schedule {
    /// Validates `scheduleParams` by the `CRMToAEP` schedule spec and returns it with the form a
    /// GET shows (the values as sent).
    pub fn parse(params: &Value) -> Result<(Self, Value), String> {
        let Some(map) = params.as_object() else {
            return Err("scheduleParams must be an object".into());
        };
        let start_s = match map.get("startTime") {
            None => return Err("scheduleParams.startTime is required (epoch seconds)".into()),
            Some(v) => integer(v)
                .filter(|s| *s >= 0)
                .ok_or("scheduleParams.startTime must be epoch seconds, as an integer")?,
        };
        let frequency = match map.get("frequency").and_then(Value::as_str) {
            None => {
                return Err(
                    "scheduleParams.frequency is required: once, minute, hour, day or week".into(),
                )
            }
            Some("once") => Frequency::Once,
            Some("minute") => Frequency::Minute,
            Some("hour") => Frequency::Hour,
            Some("day") => Frequency::Day,
            Some("week") => Frequency::Week,
            Some(other) => {
                return Err(format!(
                    "scheduleParams.frequency '{other}' is not one of once, minute, hour, day, week"
                ))
            }
        };
        let backfill = match map.get("backfill") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
            Some(_) => return Err("scheduleParams.backfill must be a boolean".into()),
        };
        let interval = if frequency == Frequency::Once {
            if map.contains_key("interval") || map.contains_key("backfill") {
                return Err(
                    "scheduleParams.interval and backfill must be absent when frequency is once"
                        .into(),
                );
            }
            0
        } else {
            let interval = map
                .get("interval")
                .ok_or("scheduleParams.interval is required unless frequency is once")?;
            let interval = integer(interval).ok_or("scheduleParams.interval must be an integer")?;
            let minimum = if frequency == Frequency::Minute {
                15
            } else {
                1
            };
            if interval < minimum {
                return Err(format!(
                    "scheduleParams.interval must be at least {minimum} for frequency {}",
                    map.get("frequency")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ));
            }
            interval
        };
        let schedule = Self {
            start_s,
            frequency,
            interval,
            backfill,
        };
        // Adobe's GET examples show the values as they were sent (strings in the tutorials'
        // flows), so they are kept as sent: an integer interval comes back an integer.
        Ok((schedule, Value::Object(map.clone())))
    }

    fn period_ms(&self) -> Option<i64> {
        let unit = match self.frequency {
            Frequency::Once => return None,
            Frequency::Minute => 60_000,
            Frequency::Hour => 3_600_000,
            Frequency::Day => 86_400_000,
            Frequency::Week => 604_800_000,
        };
        Some(unit * self.interval)
    }

    /// The schedule slots in `(after, now]` (all slots up to `now` when `after` is `None`),
    /// keeping the most recent `cap`.
    pub fn due_slots(&self, after: Option<i64>, now: i64, cap: usize) -> Vec<i64> {
        let start = self.start_s.saturating_mul(1000);
        if now < start {
            return Vec::new();
        }
        let Some(period) = self.period_ms() else {
            return if after.is_none_or(|a| a < start) {
                vec![start]
            } else {
                Vec::new()
            };
        };
        let last = (now - start) / period;
        let first = match after {
            Some(a) if a >= start => (a - start) / period + 1,
            _ => 0,
        };
        let first = first.max(last - cap as i64 + 1);
        (first..=last).map(|k| start + k * period).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activity {
    Copy,
    Promotion,
}

#[derive(Debug, Clone)]
struct RunError {
    code: String,
    message: String,
    activity: Activity,
}

#[derive(Debug, Clone)]
pub struct Run {
    /// The run as `GET /runs` shows it once it has completed, when it no longer changes:
    /// rendered once, because `status` reads hundreds of runs per request.
    completed_json: OnceLock<Box<RawValue>>,
    pub id: String,
    pub flow_id: String,
    flow_spec_id: String,
    scheduled_at: i64,
    started_at: i64,
    completed_at: i64,
    errors: Vec<RunError>,
    input_records: u64,
    input_bytes: u64,
    copy_id: String,
    promotion_id: String,
    batch_id: String,
}

impl Run {
    pub fn scheduled_at(&self) -> i64 {
        self.scheduled_at
    }

    pub fn status(&self, now: i64) -> &'static str {
        if now < self.started_at {
            "scheduled"
        } else if now < self.completed_at {
            "inProgress"
        } else if self.errors.is_empty() {
            "success"
        } else {
            "failed"
        }
    }

    fn updated_at(&self, now: i64) -> i64 {
        [self.completed_at, self.started_at, self.scheduled_at]
            .into_iter()
            .find(|t| *t <= now)
            .unwrap_or(self.scheduled_at)
    }

    /// Whether `POST /runs/{id}/action?op=re-trigger` may retry the run: it failed, or it
    /// succeeded with no records ingested (retry-flows.md).
    pub fn retriable(&self, now: i64) -> bool {
        match self.status(now) {
            "failed" => true,
            "success" => self.input_records == 0,
            _ => false,
        }
    }

    /// `lastRunDetails` of the run's flow.
    pub fn details(&self, now: i64) -> Value {
        let mut details = json!({"id": self.id, "state": self.status(now)});
        if now >= self.started_at {
            details["startedAtUTC"] = json!(self.started_at);
        }
        if now >= self.completed_at {
            details["completedAtUTC"] = json!(self.completed_at);
        }
        details
    }

    /// [`Run::render`] as JSON text, from the cache once the run has completed (the clock only
    /// moves forward, so a completed run's rendering is final).
    pub fn render_json(&self, sandbox: &Sandbox, now: i64) -> Box<RawValue> {
        let render = || {
            serde_json::value::to_raw_value(&self.render(sandbox, now))
                .expect("a JSON value always serializes")
        };
        if now < self.completed_at {
            return render();
        }
        self.completed_json.get_or_init(render).clone()
    }

    /// The run as `GET /runs` returns it (docs/aep-api.md#runs).
    pub fn render(&self, sandbox: &Sandbox, now: i64) -> Value {
        let status = self.status(now);
        let started = now >= self.started_at;
        let completed = now >= self.completed_at;
        let failed = status == "failed";
        let output_records = if failed { 0 } else { self.input_records };
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|e| json!({"code": e.code, "message": e.message}))
            .collect();

        let mut duration = Map::new();
        if started {
            duration.insert("startedAtUTC".into(), json!(self.started_at));
        }
        if completed {
            duration.insert("completedAtUTC".into(), json!(self.completed_at));
        }
        let mut status_summary = json!({"status": status});
        if completed && failed {
            status_summary["errors"] = json!(errors);
        }
        let mut metrics = json!({"durationSummary": duration, "statusSummary": status_summary});
        if completed {
            metrics["sizeSummary"] = json!({
                "inputBytes": self.input_bytes,
                "outputBytes": if failed { 0 } else { self.input_bytes * 2 / 3 },
            });
            metrics["recordSummary"] = json!({
                "inputRecordCount": self.input_records,
                "outputRecordCount": output_records,
                "failedRecordCount": self.input_records - output_records,
            });
            metrics["fileSummary"] = json!({
                "inputFileCount": 1,
                "outputFileCount": if failed { 0 } else { 1 },
                "activityRefs": [self.copy_id],
            });
        }

        let activities = if started {
            vec![
                self.activity(Activity::Copy, "Copy Activity", now),
                self.activity(Activity::Promotion, "Promotion Activity", now),
            ]
        } else {
            Vec::new()
        };
        let updated = self.updated_at(now);
        let etag = format!(
            "\"{}-0000-0200-0000-{:012x}\"",
            &self.id[..8],
            updated & 0xffff_ffff_ffff
        );
        json!({
            "id": self.id,
            "flowId": self.flow_id,
            "flowSpec": {"id": self.flow_spec_id, "version": "1.0"},
            "createdAt": self.scheduled_at,
            "updatedAt": updated,
            "createdBy": format!("{}@AdobeID", seed::IMS_CLIENT_ID),
            "updatedBy": format!("{}@AdobeID", seed::IMS_CLIENT_ID),
            "createdClient": seed::IMS_CLIENT_ID,
            "updatedClient": seed::IMS_CLIENT_ID,
            "sandboxId": sandbox.id,
            "sandboxName": sandbox.name,
            "imsOrgId": seed::ORG_ID,
            "providerRefId": self.batch_id,
            "etag": etag,
            "metrics": metrics,
            "activities": activities,
        })
    }

    fn activity(&self, activity: Activity, name: &str, now: i64) -> Value {
        let completed = now >= self.completed_at;
        let own_errors: Vec<Value> = self
            .errors
            .iter()
            .filter(|e| e.activity == activity)
            .map(|e| json!({"code": e.code, "message": e.message, "recordCount": self.input_records}))
            .collect();
        let copy_failed = self.errors.iter().any(|e| e.activity == Activity::Copy);
        let status = match (completed, activity) {
            (false, _) => "inProgress",
            (true, _) if !own_errors.is_empty() => "failed",
            // Promotion never starts when the copy failed.
            (true, Activity::Promotion) if copy_failed => "cancelled",
            (true, _) => "success",
        };
        let id = match activity {
            Activity::Copy => &self.copy_id,
            Activity::Promotion => &self.promotion_id,
        };
        let mut status_summary = json!({"status": status});
        if completed && !own_errors.is_empty() {
            status_summary["extensions"] = json!({"errors": own_errors});
        }
        let mut value = json!({
            "id": id,
            "name": name,
            "updatedAtUTC": self.updated_at(now),
            "durationSummary": {"startedAtUTC": self.started_at},
            "statusSummary": status_summary,
        });
        if completed {
            value["durationSummary"]["completedAtUTC"] = json!(self.completed_at);
            let output = if status == "success" {
                self.input_records
            } else {
                0
            };
            value["recordSummary"] = json!({
                "inputRecordCount": if activity == Activity::Promotion && copy_failed { 0 } else { self.input_records },
                "outputRecordCount": output,
                "failedRecordCount": if own_errors.is_empty() { 0 } else { self.input_records },
            });
            if activity == Activity::Promotion && status == "success" {
                value["fileSummary"] = json!({"extensions": {"manifest": {"fileInfo": format!(
                    "https://platform.adobe.io/data/foundation/export/batches/{}/meta?path=input_files",
                    self.batch_id
                )}}});
            }
        }
        value
    }
}

/// Runs of one sandbox, indexed by flow.
#[derive(Debug, Default)]
pub struct RunStore {
    runs: HashMap<String, Run>,
    by_flow: HashMap<String, VecDeque<String>>,
}

impl RunStore {
    pub fn get(&self, id: &str) -> Option<&Run> {
        self.runs.get(id)
    }

    pub fn all(&self) -> impl Iterator<Item = &Run> {
        self.runs.values()
    }

    /// The runs of `flow_id`, oldest first.
    pub fn of_flow<'a>(&'a self, flow_id: &str) -> impl Iterator<Item = &'a Run> + 'a {
        self.by_flow
            .get(flow_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.runs.get(id))
    }

    pub fn latest(&self, flow_id: &str) -> Option<&Run> {
        self.of_flow(flow_id).last()
    }

    pub fn remove_flow(&mut self, flow_id: &str) {
        for id in self.by_flow.remove(flow_id).into_iter().flatten() {
            self.runs.remove(&id);
        }
    }

    fn push(&mut self, run: Run) {
        let ids = self.by_flow.entry(run.flow_id.clone()).or_default();
        ids.push_back(run.id.clone());
        while ids.len() > MAX_RUNS_PER_FLOW {
            if let Some(old) = ids.pop_front() {
                self.runs.remove(&old);
            }
        }
        self.runs.insert(run.id.clone(), run);
    }
}

/// Creates the runs every enabled flow of `sandbox` is due by emulated time `now`.
pub fn materialize(sandbox: &mut Sandbox, org: &ZohoOrg, zoho: &ZohoState, now: i64) {
    let Sandbox {
        flows,
        runs,
        source_connections,
        connections,
        mapping_sets,
        ..
    } = sandbox;
    for (flow_id, (flow, runtime)) in flows.iter_mut() {
        if !runtime.enabled {
            continue;
        }
        let Some(schedule) = &flow.rel.schedule else {
            continue;
        };
        let cap = if runtime.runs_until.is_none() {
            BACKFILL_RUNS
        } else {
            MAX_RUNS_PER_FLOW
        };
        let slots = schedule.due_slots(runtime.runs_until, now, cap);
        runtime.runs_until = Some(now);
        if slots.is_empty() {
            continue;
        }
        let assessment = assess(
            &flow.rel,
            source_connections,
            connections,
            mapping_sets,
            org,
            zoho,
        );
        for slot in slots {
            runs.push(new_run(flow_id, &flow.rel.flow_spec_id, slot, &assessment));
        }
    }
}

fn new_run(flow_id: &str, flow_spec_id: &str, slot: i64, assessment: &Assessment) -> Run {
    let id = new_uuid();
    let spread = i64::from(id.as_bytes()[0]) * 200;
    let duration = 60_000 + (assessment.records as i64) * 2_000 + spread;
    Run {
        flow_id: flow_id.to_owned(),
        flow_spec_id: flow_spec_id.to_owned(),
        scheduled_at: slot,
        started_at: slot + QUEUE_MS,
        completed_at: slot + QUEUE_MS + duration,
        errors: assessment.errors.clone(),
        input_records: assessment.records,
        input_bytes: assessment.bytes,
        copy_id: new_uuid(),
        promotion_id: new_uuid(),
        batch_id: uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        id,
        completed_json: OnceLock::new(),
    }
}

/// Creates one run of `flow_id` outside its schedule (an on-demand run, or the retry of a failed
/// one), scheduled at `at` (epoch ms) and judged on the flow's objects as they are now. Returns
/// the new run's id, or `None` when the flow does not exist.
pub fn run_now(
    sandbox: &mut Sandbox,
    flow_id: &str,
    at: i64,
    org: &ZohoOrg,
    zoho: &ZohoState,
) -> Option<String> {
    let (flow, _) = sandbox.flows.get(flow_id)?;
    let assessment = assess(
        &flow.rel,
        &sandbox.source_connections,
        &sandbox.connections,
        &sandbox.mapping_sets,
        org,
        zoho,
    );
    let run = new_run(flow_id, &flow.rel.flow_spec_id, at, &assessment);
    let id = run.id.clone();
    sandbox.runs.push(run);
    Some(id)
}

struct Assessment {
    records: u64,
    bytes: u64,
    errors: Vec<RunError>,
}

fn connector_error(message: String) -> Assessment {
    Assessment {
        records: 0,
        bytes: 0,
        errors: vec![RunError {
            code: "CONNECTOR-2001-500".into(),
            message,
            activity: Activity::Copy,
        }],
    }
}

fn assess(
    flow: &super::state::FlowRel,
    sources: &std::collections::BTreeMap<String, super::state::Entity<super::state::SourceRel>>,
    connections: &std::collections::BTreeMap<
        String,
        super::state::Entity<super::state::ConnectionRel>,
    >,
    mapping_sets: &std::collections::BTreeMap<String, super::state::MappingSet>,
    org: &ZohoOrg,
    zoho: &ZohoState,
) -> Assessment {
    let Some(source) = flow.source_ids.first().and_then(|id| sources.get(id)) else {
        return connector_error("The flow's source connection no longer exists.".into());
    };
    let base = source
        .rel
        .base_connection_id
        .as_ref()
        .and_then(|id| connections.get(id));
    let Some(base) = base else {
        return connector_error("The source connection's base connection no longer exists.".into());
    };
    let param = |key: &str| {
        base.doc
            .pointer(&format!("/auth/params/{key}"))
            .and_then(Value::as_str)
    };
    if let Err(error) = zoho.check_credentials(
        param("clientId"),
        param("clientSecret"),
        param("refreshToken"),
    ) {
        return connector_error(format!(
            "Zoho refused the base connection's credentials ({error}). Update auth.params of base connection {} with a valid client and refresh token.",
            base.id
        ));
    }
    let table = source.rel.table.as_deref().unwrap_or_default();
    let Some(module) = org.module(table) else {
        return connector_error(format!("Table '{table}' was not found in Zoho CRM."));
    };
    let records = module.rows.len() as u64;
    let bytes = module
        .rows
        .iter()
        .map(|r| serde_json::to_string(r).map_or(0, |s| s.len() as u64))
        .sum();
    if let Some(delta) = &flow.delta_column {
        match module.column(delta) {
            None => {
                return connector_error(format!(
                    "Delta column '{delta}' was not found in table '{table}'."
                ))
            }
            // Incremental reads compare timestamps, so the delta column must be a date-time.
            Some(column) if !column.is_date_time() => {
                return connector_error(format!(
                    "Delta column '{delta}' of table '{table}' is not a date-time column; pick one with meta:xdmType date-time, e.g. Modified_Time."
                ))
            }
            Some(_) => {}
        }
    }
    let mut errors = Vec::new();
    if let Some((mapping_id, _)) = &flow.mapping {
        let sources_read = mapping_sets
            .get(mapping_id)
            .map(|m| m.sources.as_slice())
            .unwrap_or_default();
        let missing: Vec<&str> = sources_read
            .iter()
            .filter(|column| {
                module.column(column).is_none()
                    || source
                        .rel
                        .columns
                        .as_ref()
                        .is_some_and(|cols| !cols.contains(column))
            })
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            errors.push(RunError {
                code: "MAPPER-3700-400".into(),
                message: format!(
                    "Mapping {mapping_id} reads column(s) {} that are not in the source data of table '{table}'.",
                    missing.join(", ")
                ),
                activity: Activity::Promotion,
            });
        }
    }
    Assessment {
        records,
        bytes,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_the_spec_rules_and_accept_strings() {
        let parse = |v: Value| Schedule::parse(&v).map(|(s, n)| (s.interval, n));
        assert_eq!(
            parse(
                json!({"startTime": "1612310466", "frequency": "minute", "interval": "15", "backfill": "true"})
            ),
            Ok((
                15,
                json!({"startTime": "1612310466", "frequency": "minute", "interval": "15", "backfill": "true"})
            ))
        );
        assert!(parse(
            json!({"startTime": 1, "frequency": "hour", "interval": 1, "backfill": true})
        )
        .is_ok());
        assert!(parse(json!({"startTime": 1, "frequency": "minute", "interval": 14})).is_err());
        assert!(parse(json!({"startTime": 1, "frequency": "hour", "interval": 0})).is_err());
        assert!(parse(json!({"startTime": 1, "frequency": "hour"})).is_err());
        assert!(parse(json!({"startTime": 1, "frequency": "once", "interval": 1})).is_err());
        assert!(parse(json!({"startTime": 1, "frequency": "once"})).is_ok());
        assert!(parse(json!({"frequency": "once"})).is_err());
        assert!(parse(json!({"startTime": 1, "frequency": "hourly", "interval": 1})).is_err());
    }

    #[test]
    fn slots_are_capped_and_never_repeat() {
        let (hourly, _) =
            Schedule::parse(&json!({"startTime": 0, "frequency": "hour", "interval": 1}))
                .unwrap_or_else(|e| panic!("{e}"));
        let hour = 3_600_000;
        assert_eq!(
            hourly.due_slots(None, 10 * hour, 3),
            vec![8 * hour, 9 * hour, 10 * hour]
        );
        assert_eq!(
            hourly.due_slots(Some(10 * hour), 12 * hour + 5, 100),
            vec![11 * hour, 12 * hour]
        );
        assert!(hourly
            .due_slots(Some(12 * hour + 5), 12 * hour + 10, 100)
            .is_empty());
        let (once, _) = Schedule::parse(&json!({"startTime": 60, "frequency": "once"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(once.due_slots(None, 59_000, 3).is_empty());
        assert_eq!(once.due_slots(Some(59_000), 61_000, 3), vec![60_000]);
        assert!(once.due_slots(Some(61_000), 90_000, 3).is_empty());
    }
}
