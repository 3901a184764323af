//! Dataflows: one per module, named `{prefix} / {module} / flow`, linking the module's source
//! and target connections through its mapping set. The schedule and the Mapping transformation
//! are patched (with the etag they were computed from), and the state (`enabled`) is set with
//! `POST /flows/{id}/action?op=enable|disable`; a different source or target connection, delta
//! column, or a start time that has already passed replaces the dataflow (and its pair).

use std::collections::BTreeSet;

use chrono::DateTime;
use serde_json::Value;

use super::{seen, source, target, Attributes, Diff, Wanted as _};
use crate::api::dataprep::MappingSetRef;
use crate::api::flows::{self, DeltaColumn, Flow, IntervalEncoding, NewFlow, ScheduleParams};
use crate::api::source::SourceConnection;
use crate::api::specs::{
    FlowSpec, SpecRef, CRM_TO_AEP_FLOW_SPEC_ID, CRM_TO_AEP_FLOW_SPEC_NAME, ZOHO_CRM_SPEC_VERSION,
};
use crate::api::target::TargetConnection;
use crate::api::{
    AepClient, ApiError, Etag, FlowId, MappingSetId, PatchOp, Query, SourceConnectionId,
    TargetConnectionId, LIST_LIMIT,
};
use crate::engine::desired::DesiredModule;
use crate::engine::ensure::{patch_with_reread, unless_empty, Create, Found, Patchable};
use crate::engine::observe::Managed;
use crate::engine::{naming, Kind};

/// How `scheduleParams.interval` is sent: the `CRMToAEP` flow spec's validator says integer.
pub const INTERVAL_ENCODING: IntervalEncoding = IntervalEncoding::Integer;

/// The owned dataflows of the profile with this prefix, in one paged list call.
pub async fn observe(client: &AepClient, prefix: &str) -> Result<Vec<Flow>, ApiError> {
    let marker = naming::owner_marker(prefix);
    let query = Query::new()
        .property_eq("flowSpec.id", &[CRM_TO_AEP_FLOW_SPEC_ID])
        .property_eq("description", &[marker.as_str()])
        .param("limit", LIST_LIMIT.to_string());
    let all = flows::list_flows(client, &query).await?;
    Ok(all
        .into_iter()
        .filter(|f| {
            naming::is_owned(f.description.as_deref(), prefix)
                && naming::module_of(&f.name, prefix, Kind::Dataflow).is_some()
        })
        .collect())
}

/// A dataflow that can stay as its module's (possibly patched), with the one source and one
/// target connection it links.
#[derive(Clone, Copy)]
pub struct Current<'a> {
    pub flow: &'a Flow,
    pub source: &'a SourceConnection,
    pub target: &'a TargetConnection,
}

/// The owned source and target connections `flow` links, when it links exactly one of each.
pub fn linked<'a>(
    flow: &Flow,
    managed: &'a Managed,
) -> (Option<&'a SourceConnection>, Option<&'a TargetConnection>) {
    let source = match flow.source_connection_ids.as_slice() {
        [id] => managed.sources.iter().find(|s| &s.id == id),
        _ => None,
    };
    let target = match flow.target_connection_ids.as_slice() {
        [id] => managed.targets.iter().find(|t| &t.id == id),
        _ => None,
    };
    (source, target)
}

/// What decides whether a module's dataflow can stay.
pub struct Wanted<'a> {
    pub dm: &'a DesiredModule,
    pub source: source::Wanted<'a>,
    pub target: target::Wanted<'a>,
    /// The current time (epoch seconds): a start time already passed cannot be patched.
    pub now: i64,
}

impl Wanted<'_> {
    /// `flow` as the module's current dataflow, or why it must be replaced.
    pub fn check<'a>(&self, flow: &'a Flow, managed: &'a Managed) -> Result<Current<'a>, String> {
        let (source, target) = linked(flow, managed);
        let mut reasons = Vec::new();
        match source {
            None => reasons.push("its source connection is missing".to_owned()),
            Some(s) if !self.source.matches(s) => {
                reasons.push(format!("source {}", self.source.diff(s)))
            }
            Some(_) => {}
        }
        match target {
            None => reasons.push("its target connection is missing".to_owned()),
            Some(t) if !self.target.matches(t) => {
                reasons.push(format!("target {}", self.target.diff(t)))
            }
            Some(_) => {}
        }
        let delta = flow.delta_column().map(|d| d.name);
        if delta.as_deref() != Some(self.dm.delta_column.as_str()) {
            reasons.push(format!(
                "delta_column: {} -> {}",
                delta.as_deref().unwrap_or("none"),
                self.dm.delta_column
            ));
        }
        if let Some(current) = &flow.schedule_params {
            let want = self.dm.schedule.start_time;
            if current.start_time != want && current.start_time <= self.now {
                reasons.push(format!(
                    "schedule.start: {} -> {} (the current start has passed, and Adobe does not \
                     allow changing it then)",
                    rfc3339(current.start_time),
                    rfc3339(want)
                ));
            }
        }
        match (source, target) {
            (Some(source), Some(target)) if reasons.is_empty() => Ok(Current {
                flow,
                source,
                target,
            }),
            _ => Err(reasons.join("; ")),
        }
    }
}

/// The patchable differences of a dataflow that stays, one [`Diff`] per attribute: the
/// schedule's fields, the mapping reference (`mapping` is the set it must use, `None` for a set
/// still to create) and the state (`enabled`), compared with what AEP holds, so that an edit
/// made in Adobe's UI shows as an update and `apply` restores the profile's value.
pub fn patch_diff(
    flow: &Flow,
    dm: &DesiredModule,
    mapping: Option<(&MappingSetId, u32)>,
) -> Vec<Diff> {
    let mut diff = schedule_diff(flow.schedule_params.as_ref(), &dm.schedule);
    let current = flow.mapping().map(|(_, r)| r);
    let shown = |r: &MappingSetRef| Value::from(format!("{} version {}", r.id, r.version));
    let from = current.as_ref().map(shown).unwrap_or(Value::Null);
    match mapping {
        Some((id, version)) => {
            if current
                .as_ref()
                .is_none_or(|r| &r.id != id || r.version != version)
            {
                diff.push(Diff::new(
                    "mapping",
                    from,
                    format!("{id} version {version}"),
                ));
            }
        }
        None => {
            let from = current.map(|r| Value::from(r.id.to_string()));
            diff.push(Diff::new(
                "mapping",
                from.unwrap_or(Value::Null),
                "a new mapping set",
            ))
        }
    }
    diff.extend(state_diff(flow, dm.enabled));
    diff
}

/// The state to restore: only when AEP says which state the dataflow is in.
pub fn state_diff(flow: &Flow, enabled: bool) -> Option<Diff> {
    let current = flow.state.as_deref()?.to_ascii_lowercase();
    let want = if enabled { "enabled" } else { "disabled" };
    (current != want).then(|| Diff::new("state", current, want))
}

/// Per-field differences for a schedule PATCH (`schedule.interval: 1 -> 2`).
pub fn schedule_diff(current: Option<&ScheduleParams>, desired: &ScheduleParams) -> Vec<Diff> {
    let Some(current) = current else {
        return vec![Diff::new("schedule", Value::Null, "set")];
    };
    let mut out = Vec::new();
    if current.start_time != desired.start_time {
        out.push(Diff::new(
            "schedule.start",
            rfc3339(current.start_time),
            rfc3339(desired.start_time),
        ));
    }
    if current.frequency != desired.frequency {
        out.push(Diff::new(
            "schedule.frequency",
            current.frequency.as_str(),
            desired.frequency.as_str(),
        ));
    }
    let once = desired.frequency == "once";
    let want_interval = if once { None } else { desired.interval };
    if current.interval != want_interval {
        out.push(Diff::new(
            "schedule.interval",
            current.interval,
            want_interval,
        ));
    }
    let want_backfill = if once { None } else { desired.backfill };
    if current.backfill != want_backfill {
        out.push(Diff::new(
            "schedule.backfill",
            current.backfill,
            want_backfill,
        ));
    }
    out
}

/// The differences that replace a dataflow rather than patch it: the delta column, and a start
/// time already passed (its pair's differences are on the pair's own rows).
pub fn replace_diff(flow: &Flow, dm: &DesiredModule, now: i64) -> Vec<Diff> {
    let mut out = Vec::new();
    let delta = flow.delta_column().map(|d| d.name);
    if delta.as_deref() != Some(dm.delta_column.as_str()) {
        out.push(Diff::new("delta_column", delta, dm.delta_column.as_str()));
    }
    if let Some(current) = &flow.schedule_params {
        let want = dm.schedule.start_time;
        if current.start_time != want && current.start_time <= now {
            out.push(Diff::new(
                "schedule.start",
                rfc3339(current.start_time),
                rfc3339(want),
            ));
        }
    }
    out
}

/// What a new dataflow is sent: its pair, dataset, delta column, schedule, and the state it is
/// left in.
pub fn attributes(dm: &DesiredModule, dataset: &str) -> Attributes {
    Attributes::default()
        .with("source_connection", dm.source_name.as_str())
        .with("target_connection", dm.target_name.as_str())
        .with("mapping_set", dm.mapping_name.as_str())
        .with("dataset", dataset)
        .with("delta_column", dm.delta_column.as_str())
        .with("schedule", schedule_attributes(&dm.schedule))
        // Flow Service creates a dataflow enabled; with `enabled = false` apply disables it
        // right after (`op=disable`).
        .with("state", if dm.enabled { "enabled" } else { "disabled" })
}

/// The schedule in words and in the values Flow Service is sent.
pub fn schedule_attributes(schedule: &ScheduleParams) -> Value {
    let start = rfc3339(schedule.start_time);
    let once = schedule.frequency == "once";
    let words = if once {
        format!("once, at {start}")
    } else {
        let n = schedule.interval.unwrap_or(1);
        let unit = &schedule.frequency;
        let every = if n == 1 {
            format!("every {unit}")
        } else {
            format!("every {n} {unit}s")
        };
        let backfill = if schedule.backfill.unwrap_or(false) {
            "the first run backfills existing records"
        } else {
            "new and changed records only"
        };
        format!("{every} from {start}; {backfill}")
    };
    let mut values = serde_json::Map::new();
    values.insert("in_words".into(), words.into());
    values.insert("frequency".into(), schedule.frequency.as_str().into());
    if !once {
        values.insert("interval".into(), schedule.interval.into());
        values.insert("backfill".into(), schedule.backfill.into());
    }
    values.insert("start".into(), start.into());
    Value::Object(values)
}

fn rfc3339(epoch_seconds: i64) -> String {
    DateTime::from_timestamp(epoch_seconds, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| epoch_seconds.to_string())
}

/// The JSON Patch ops that make `flow`'s schedule and Mapping transformation what the profile
/// and `mapping` ask for.
pub fn patch_ops(flow: &Flow, dm: &DesiredModule, mapping: &MappingSetRef) -> Vec<PatchOp> {
    let mut ops = match &flow.schedule_params {
        Some(current) => current.patch_to(&dm.schedule, INTERVAL_ENCODING),
        None => vec![PatchOp::add(
            "/scheduleParams",
            dm.schedule.to_json(INTERVAL_ENCODING),
        )],
    };
    match flow.mapping() {
        Some((_, current)) if &current == mapping => {}
        Some((index, _)) => ops.push(PatchOp::replace(
            format!("/transformations/{index}"),
            flows::mapping_transformation(mapping),
        )),
        None => ops.push(PatchOp::add(
            "/transformations/-",
            flows::mapping_transformation(mapping),
        )),
    }
    ops
}

/// PATCHes the schedule and the Mapping transformation, then enables or disables the dataflow
/// when its state differs from `enabled`; a stale etag (412), or an answer lost to a timeout or
/// 5xx, re-reads the flow and re-applies only what is still different.
pub async fn update(
    client: &AepClient,
    flow: &Flow,
    dm: &DesiredModule,
    mapping: &MappingSetRef,
) -> anyhow::Result<FlowId> {
    patch(client, flow, dm, mapping).await?;
    if state_diff(flow, dm.enabled).is_some() {
        set_state(client, &flow.id, dm.enabled).await?;
    }
    Ok(flow.id.clone())
}

/// `POST /flows/{id}/action?op=enable|disable`. Adobe documents the action for destination
/// dataflows only (docs/aep-api.md#flow-actions): a refusal is reported with the call and the
/// answer, and what to do, never retried or worked around.
pub async fn set_state(client: &AepClient, id: &FlowId, enabled: bool) -> anyhow::Result<()> {
    let op = if enabled { "enable" } else { "disable" };
    match flows::set_enabled(client, id, enabled).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_transient() => Err(e.into()),
        Err(e) => Err(anyhow::anyhow!(
            "POST /flows/{id}/action?op={op} was refused: {e}; Adobe documents this action for \
             destination dataflows, and this service does not accept it for this source \
             dataflow: {op} it in Adobe's UI (Sources > Dataflows), or set `enabled` back to \
             the dataflow's current state in the profile"
        )),
    }
}

/// The schedule and Mapping PATCH of [`update`]; after a re-read, only what the fresh dataflow
/// still lacks is sent.
async fn patch(
    client: &AepClient,
    flow: &Flow,
    dm: &DesiredModule,
    mapping: &MappingSetRef,
) -> anyhow::Result<()> {
    let ops = patch_ops(flow, dm, mapping);
    if ops.is_empty() {
        return Ok(());
    }
    let send = |etag: Etag, ops: Vec<PatchOp>| async move {
        flows::patch_flow(client, &flow.id, &etag, &ops).await
    };
    let remaining = |fresh: &Flow| unless_empty(patch_ops(fresh, dm, mapping));
    patch_with_reread(client, &flow.id, flow.etag.clone(), ops, send, remaining).await?;
    Ok(())
}

impl Patchable for Flow {
    type Id = FlowId;
    const NAME: &'static str = "dataflow";

    fn etag(&self) -> Option<Etag> {
        self.etag.clone()
    }

    async fn read(client: &AepClient, id: &FlowId) -> Result<Option<Self>, ApiError> {
        flows::get_flow(client, id).await
    }
}

/// A dataflow to create, and what tells its twin.
pub struct Draft<'a> {
    pub body: NewFlow,
    pub prefix: &'a str,
    /// The dataflows observed before the plan.
    pub seen: BTreeSet<&'a FlowId>,
}

/// What a new dataflow links.
pub struct Links<'a> {
    pub source: &'a SourceConnectionId,
    pub target: &'a TargetConnectionId,
    pub mapping: &'a MappingSetRef,
}

impl<'a> Draft<'a> {
    pub fn new(
        dm: &DesiredModule,
        prefix: &'a str,
        spec: &FlowSpec,
        links: Links<'_>,
        observed: &'a [Flow],
    ) -> Self {
        let version = spec.version.as_deref().unwrap_or(ZOHO_CRM_SPEC_VERSION);
        Self {
            body: NewFlow {
                name: dm.flow_name.clone(),
                description: Some(naming::owner_marker(prefix)),
                flow_spec: SpecRef::new(spec.id.clone(), version),
                source_connection_ids: vec![links.source.clone()],
                target_connection_ids: vec![links.target.clone()],
                delta_column: DeltaColumn::named(dm.delta_column.clone()),
                mapping: links.mapping.clone(),
                schedule: dm.schedule.clone(),
                interval_encoding: INTERVAL_ENCODING,
            },
            prefix,
            seen: seen(observed, |f| &f.id),
        }
    }
}

impl Create for Draft<'_> {
    type Id = FlowId;

    async fn create(&self, client: &AepClient) -> Result<Self::Id, ApiError> {
        flows::create_flow(client, &self.body).await.map(|c| c.id)
    }

    async fn lookup(&self, client: &AepClient) -> Result<Vec<Found<Self::Id>>, ApiError> {
        let body = &self.body;
        let spec = &body.flow_spec.id;
        let all = flows::list_flows_by_names(client, spec, &[body.name.as_str()]).await?;
        Ok(Found::among(
            all,
            |f| {
                f.name == body.name
                    && naming::is_owned(f.description.as_deref(), self.prefix)
                    && f.source_connection_ids == body.source_connection_ids
                    && f.target_connection_ids == body.target_connection_ids
                    && !self.seen.contains(&f.id)
            },
            |f| (f.id, f.created_at),
        ))
    }
}

pub async fn delete(client: &AepClient, id: &FlowId) -> Result<(), ApiError> {
    flows::delete_flow(client, id).await
}

// Adoption (import).

/// Whether a dataflow made elsewhere already carries this profile's marker; an error naming it
/// when another profile manages it, or when a `[[dataflows]]` entry cannot describe it: another
/// flow spec, not exactly one source and one target connection, no delta column, no mapping
/// set, no schedule.
pub fn adoptable(f: &Flow, prefix: &str) -> Result<bool, String> {
    let owned = super::claim(
        "dataflow",
        f.id.as_str(),
        &f.name,
        f.description.as_deref(),
        prefix,
    )?;
    let spec = f.flow_spec.as_ref().map(|s| s.id.as_str());
    let problem = if spec != Some(CRM_TO_AEP_FLOW_SPEC_ID) {
        format!(
            "uses flow spec {}, not {CRM_TO_AEP_FLOW_SPEC_NAME} ({CRM_TO_AEP_FLOW_SPEC_ID}); \
             provision manages only Zoho CRM dataflows into datasets",
            spec.unwrap_or("none")
        )
    } else if f.source_connection_ids.len() != 1 || f.target_connection_ids.len() != 1 {
        format!(
            "links {} source and {} target connections; a [[dataflows]] entry describes exactly \
             one of each",
            f.source_connection_ids.len(),
            f.target_connection_ids.len()
        )
    } else if f.delta_column().is_none() {
        "has no delta column (no Copy transformation with params.deltaColumn)".to_owned()
    } else if f.mapping().is_none() {
        "has no mapping set (no Mapping transformation)".to_owned()
    } else if f.schedule_params.is_none() {
        "has no schedule (scheduleParams)".to_owned()
    } else {
        return Ok(owned);
    };
    Err(format!("dataflow {:?} (id {}) {problem}", f.name, f.id))
}

/// Marks a dataflow made elsewhere as the profile's (name and description only; its schedule,
/// state and links are left as they are, and the profile entry describes them).
pub async fn adopt(
    client: &AepClient,
    f: &Flow,
    prefix: &str,
    module: &str,
) -> Result<(), ApiError> {
    let object = super::Adoptee {
        kind: Kind::Dataflow,
        id: f.id.as_str(),
        name: &f.name,
        description: f.description.as_deref(),
        etag: f.etag.as_ref(),
    };
    super::adopt_as(object, prefix, module, |etag: Etag, ops| async move {
        flows::patch_flow(client, &f.id, &etag, &ops).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn flow(spec: &str, sources: &[&str]) -> Flow {
        serde_json::from_value(json!({
            "id": "f1", "name": "Leads from the UI",
            "flowSpec": {"id": spec, "version": "1.0"},
            "sourceConnectionIds": sources, "targetConnectionIds": ["t1"],
            "transformations": [
                {"name": "Copy", "params": {"deltaColumn": {"name": "Modified_Time"}}},
                {"name": "Mapping", "params": {"mappingId": "m1", "mappingVersion": "0"}},
            ],
            "scheduleParams": {"startTime": 1_798_761_600, "frequency": "once"},
        }))
        .expect("a flow")
    }

    #[test]
    fn adoption_refuses_other_flow_specs_and_several_sources_by_name() {
        assert_eq!(
            adoptable(&flow(CRM_TO_AEP_FLOW_SPEC_ID, &["s1"]), "p"),
            Ok(false)
        );
        let other = adoptable(&flow("9753525b-82c7-4dce-8a9b-5ccfce2b9876", &["s1"]), "p")
            .expect_err("another flow spec");
        assert!(
            other.starts_with("dataflow \"Leads from the UI\" (id f1) uses flow spec 9753525b"),
            "{other}"
        );
        let two =
            adoptable(&flow(CRM_TO_AEP_FLOW_SPEC_ID, &["s1", "s2"]), "p").expect_err("two sources");
        assert!(
            two.contains("links 2 source and 1 target connections"),
            "{two}"
        );
    }
}
