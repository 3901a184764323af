//! The plan: `(desired, observed) -> Plan`, pure (no I/O). Each [`Change`] is one row of the
//! output (docs/cli.md#json-output); the steps next to them tell `apply` what to do and in which order.
//!
//! Identity is by name and marker ([`crate::naming`]); within one module, which of several owned
//! objects is current is decided by linkage and content:
//!
//! - A dataflow is *current* when its source connection, target connection, delta column and
//!   start time are what the profile asks for. Other owned dataflows of the module are left over
//!   from an interrupted replace and are deleted once the current one exists. Two current ones
//!   are an error: provision never guesses between look-alikes.
//! - A source or target connection no dataflow links (an *orphan*, left by an interrupted run)
//!   is reused when its content matches, so a re-run finishes the work instead of duplicating
//!   it; orphans that do not match are deleted.
//! - Source and target connections are never patched (docs/aep-api.md#source-connection): a change to either, to the
//!   dataset, the delta column, or a start time already passed, replaces the module's source
//!   connection, target connection and dataflow together (new ones first, then the old ones are
//!   deleted). Schedule and mapping changes patch the dataflow. Mapping sets are only ever
//!   created (Data Prep documents no update or delete): a changed mapping moves the dataflow to a
//!   new mapping set, or back to an unreferenced one that already holds the rules.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::api::catalog::Dataset;
use crate::api::connections::Connection;
use crate::api::dataprep::MappingSet;
use crate::api::explore::Column;
use crate::api::flows::{Flow, ScheduleParams};
use crate::api::source::SourceConnection;
use crate::api::target::TargetConnection;
use crate::api::{DatasetId, FlowId, MappingSetId, SourceConnectionId, TargetConnectionId};
use crate::desired::{Desired, DesiredModule, Resolved, Rule};
use crate::naming;
use crate::observe::Managed;
use crate::profile::DatasetTarget;

/// What happens to one object (docs/cli.md#json-output `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    Noop,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Noop => "noop",
        }
    }
}

/// The kind of object (docs/cli.md#json-output `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    BaseConnection,
    SourceConnection,
    Dataset,
    TargetConnection,
    MappingSet,
    Dataflow,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BaseConnection => "base_connection",
            Kind::SourceConnection => "source_connection",
            Kind::Dataset => "dataset",
            Kind::TargetConnection => "target_connection",
            Kind::MappingSet => "mapping_set",
            Kind::Dataflow => "dataflow",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the plan; after `apply`, `id` is the id the object ended with and `error` says
/// why the change failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub action: Action,
    pub kind: Kind,
    pub name: String,
    pub module: Option<String>,
    pub id: Option<String>,
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Counts per action (docs/cli.md#json-output `summary`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub noop: usize,
}

/// A plan that cannot be made: ambiguous matches, name clashes, columns explore does not list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// The index of a [`Change`] in [`Plan::changes`].
pub type Row = usize;

/// The base connection step.
#[derive(Debug, Clone)]
pub enum BaseStep {
    Keep {
        row: Row,
        connection: Connection,
    },
    Create {
        row: Row,
    },
    /// Rotated credentials and/or a changed description.
    Update {
        row: Row,
        connection: Connection,
        rotate_auth: bool,
        description: bool,
    },
}

impl BaseStep {
    pub fn row(&self) -> Row {
        match self {
            BaseStep::Keep { row, .. }
            | BaseStep::Create { row }
            | BaseStep::Update { row, .. } => *row,
        }
    }
}

/// Keep an existing object or create a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot<I> {
    Keep { row: Row, id: I },
    Create { row: Row },
}

impl<I> Slot<I> {
    pub fn row(&self) -> Row {
        match self {
            Slot::Keep { row, .. } | Slot::Create { row } => *row,
        }
    }
}

/// Mapping sets are only created (Data Prep documents neither an update nor a delete); a
/// changed mapping moves the dataflow to a new mapping set.
#[derive(Debug, Clone, PartialEq)]
pub enum MappingStep {
    Keep {
        row: Row,
        id: MappingSetId,
        version: u32,
    },
    Create {
        row: Row,
    },
}

impl MappingStep {
    pub fn row(&self) -> Row {
        match self {
            MappingStep::Keep { row, .. } | MappingStep::Create { row } => *row,
        }
    }
}

#[derive(Debug, Clone)]
pub enum FlowStep {
    Keep {
        row: Row,
        id: FlowId,
    },
    /// PATCH the schedule and/or the Mapping transformation.
    Update {
        row: Row,
        flow: Box<Flow>,
    },
    /// A new dataflow; for a replace, the old one is among the module's removals.
    Create {
        row: Row,
    },
}

impl FlowStep {
    pub fn row(&self) -> Row {
        match self {
            FlowStep::Keep { row, .. }
            | FlowStep::Update { row, .. }
            | FlowStep::Create { row } => *row,
        }
    }
}

/// An object to delete; `row` is its own `delete` row or the `replace` row it completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub row: Row,
    pub kind: Kind,
    pub id: String,
}

/// Everything `apply` does for one module of the profile.
#[derive(Debug, Clone)]
pub struct ModuleStep {
    pub module: String,
    /// Columns and rules from explore; `None` until the module has been explored.
    pub resolved: Option<Resolved>,
    pub source: Slot<SourceConnectionId>,
    /// `None` when the profile names an existing dataset (provision does not manage it).
    pub dataset: Option<Slot<DatasetId>>,
    pub target: Slot<TargetConnectionId>,
    pub mapping: MappingStep,
    pub flow: FlowStep,
    /// After the dataflow is in place: dataflows first, then source and target connections.
    pub removals: Vec<Removal>,
}

impl ModuleStep {
    /// Whether apply still has to explore the module before writing it.
    pub fn needs_explore(&self) -> bool {
        self.resolved.is_none()
            && (matches!(self.source, Slot::Create { .. })
                || matches!(self.mapping, MappingStep::Create { .. }))
    }
}

/// The whole plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub base: BaseStep,
    pub modules: Vec<ModuleStep>,
    /// Modules no longer in the profile: dataflows first, then connections.
    pub removed: Vec<Removal>,
    /// Datasets to delete last (`--include-datasets`).
    pub datasets: Vec<Removal>,
}

/// What the plan is computed from besides the desired state and the managed objects.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Explore columns per module, for the modules explored so far.
    pub explored: BTreeMap<String, Vec<Column>>,
    /// The current time: a start time already passed cannot be patched.
    pub now: DateTime<Utc>,
    /// Also delete datasets provision created that the profile no longer uses.
    pub include_datasets: bool,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        summarize(&self.changes)
    }

    /// Whether applying would write anything.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::Noop)
    }

    /// The modules that need explore before the plan is final (their columns decide whether the
    /// source connection and mapping set are current).
    pub fn to_explore(&self) -> Vec<&str> {
        self.modules
            .iter()
            .filter(|m| m.needs_explore())
            .map(|m| m.module.as_str())
            .collect()
    }
}

pub fn summarize(changes: &[Change]) -> Summary {
    let mut s = Summary::default();
    for c in changes {
        match c.action {
            Action::Create => s.create += 1,
            Action::Update => s.update += 1,
            Action::Replace => s.replace += 1,
            Action::Delete => s.delete += 1,
            Action::Noop => s.noop += 1,
        }
    }
    s
}

/// Computes the plan. Errors are ambiguities and name clashes provision refuses to resolve by
/// guessing, and mapped columns explore does not list.
pub fn plan(desired: &Desired, managed: &Managed, inputs: &Inputs) -> Result<Plan, PlanError> {
    let mut rows = Rows::default();
    let base = plan_base(desired, managed, &mut rows)?;
    check_foreign_sources(desired, managed)?;
    let linked = Linked::of(managed);
    let mut claimed = BTreeSet::new();
    let mut modules = Vec::with_capacity(desired.modules.len());
    for dm in &desired.modules {
        modules.push(plan_module(
            dm,
            managed,
            inputs,
            &linked,
            &mut claimed,
            &mut rows,
        )?);
    }
    let removed = plan_removed_modules(desired, managed, &mut rows);
    let datasets = plan_datasets(desired, managed, inputs, &mut rows);
    Ok(Plan {
        changes: rows.0,
        base,
        modules,
        removed,
        datasets,
    })
}

#[derive(Default)]
struct Rows(Vec<Change>);

impl Rows {
    fn push(
        &mut self,
        action: Action,
        kind: Kind,
        name: &str,
        module: Option<&str>,
        id: Option<String>,
        reason: Option<String>,
    ) -> Row {
        self.0.push(Change {
            action,
            kind,
            name: name.to_owned(),
            module: module.map(str::to_owned),
            id,
            reason,
            error: None,
        });
        self.0.len() - 1
    }
}

fn plan_base(desired: &Desired, managed: &Managed, rows: &mut Rows) -> Result<BaseStep, PlanError> {
    let name = &desired.base.name;
    let Some(current) = managed.base().map_err(PlanError)? else {
        let row = rows.push(Action::Create, Kind::BaseConnection, name, None, None, None);
        return Ok(BaseStep::Create { row });
    };
    let id = Some(current.id.to_string());
    let (text, fingerprint) = current
        .description
        .as_deref()
        .and_then(|d| naming::parse_base_description(d, &desired.prefix))
        .unwrap_or((None, None));
    let mut reasons = Vec::new();
    let rotate_auth = fingerprint != Some(desired.base.fingerprint.as_str());
    if rotate_auth {
        reasons.push(format!(
            "auth: the profile's Zoho credentials changed (fingerprint {} -> {})",
            fingerprint.unwrap_or("none"),
            desired.base.fingerprint
        ));
    }
    let description = text != desired.base.user_description.as_deref();
    if description {
        reasons.push(format!(
            "description: {:?} -> {:?}",
            text.unwrap_or(""),
            desired.base.user_description.as_deref().unwrap_or("")
        ));
    }
    if reasons.is_empty() {
        let row = rows.push(Action::Noop, Kind::BaseConnection, name, None, id, None);
        return Ok(BaseStep::Keep {
            row,
            connection: current.clone(),
        });
    }
    let row = rows.push(
        Action::Update,
        Kind::BaseConnection,
        name,
        None,
        id,
        Some(reasons.join("; ")),
    );
    Ok(BaseStep::Update {
        row,
        connection: current.clone(),
        rotate_auth,
        description,
    })
}

/// A hand-made source connection on the managed base connection with a managed name would be
/// confused with provision's own: refuse instead.
fn check_foreign_sources(desired: &Desired, managed: &Managed) -> Result<(), PlanError> {
    for dm in &desired.modules {
        if let Some(s) = managed
            .foreign_sources
            .iter()
            .find(|s| s.name == dm.source_name)
        {
            return Err(PlanError(format!(
                "a source connection named {:?} (id {}) exists on the base connection but was not \
                 created by provision; provision never adopts it: delete or rename it, then run \
                 again",
                s.name, s.id
            )));
        }
    }
    Ok(())
}

/// Which owned connections some owned dataflow links.
struct Linked<'a> {
    sources: BTreeSet<&'a str>,
    targets: BTreeSet<&'a str>,
}

impl<'a> Linked<'a> {
    fn of(managed: &'a Managed) -> Self {
        Self {
            sources: managed
                .flows
                .iter()
                .flat_map(|f| f.source_connection_ids.iter().map(|i| i.as_str()))
                .collect(),
            targets: managed
                .flows
                .iter()
                .flat_map(|f| f.target_connection_ids.iter().map(|i| i.as_str()))
                .collect(),
        }
    }
}

/// What the module's source and target connections must hold.
struct Wanted<'a> {
    dm: &'a DesiredModule,
    /// Column names; `None` while unknown (auto mapping not yet explored).
    columns: Option<BTreeSet<String>>,
    rules: Option<Vec<Rule>>,
    /// The dataset the target must write into; `None` while it does not exist yet.
    dataset: Option<DatasetId>,
    /// How the dataset is described in reasons.
    dataset_label: String,
    now: i64,
}

impl Wanted<'_> {
    fn source_matches(&self, s: &SourceConnection) -> bool {
        s.params.table_name.as_deref() == Some(self.dm.module.as_str())
            && self
                .columns
                .as_ref()
                .is_some_and(|want| &column_names(s) == want)
    }

    fn source_diff(&self, s: &SourceConnection) -> String {
        let table = s.params.table_name.as_deref().unwrap_or("");
        if table != self.dm.module {
            return format!("table: {table:?} -> {:?}", self.dm.module);
        }
        match &self.columns {
            Some(want) => {
                let have = column_names(s);
                let added: Vec<&str> = want.difference(&have).map(String::as_str).collect();
                let removed: Vec<&str> = have.difference(want).map(String::as_str).collect();
                let mut parts = Vec::new();
                if !added.is_empty() {
                    parts.push(format!("+ {}", added.join(", + ")));
                }
                if !removed.is_empty() {
                    parts.push(format!("- {}", removed.join(", - ")));
                }
                format!("columns: {}", parts.join(", "))
            }
            None => "columns: to be read from explore (mapping = \"auto\")".to_owned(),
        }
    }

    fn target_matches(&self, t: &TargetConnection) -> bool {
        self.dataset
            .as_ref()
            .is_some_and(|d| t.dataset_id() == Some(d))
            && t.schema_id() == Some(self.dm.schema_id.as_str())
    }

    fn target_diff(&self, t: &TargetConnection) -> String {
        let mut parts = Vec::new();
        let have = t.dataset_id().map(|d| d.as_str()).unwrap_or("none");
        if self.dataset.as_ref().map(|d| d.as_str()) != Some(have) {
            parts.push(format!("dataset: {have} -> {}", self.dataset_label));
        }
        let schema = t.schema_id().unwrap_or("none");
        if schema != self.dm.schema_id {
            parts.push(format!("schema: {schema} -> {}", self.dm.schema_id));
        }
        parts.join(", ")
    }

    /// Why `flow` cannot stay as the module's dataflow, or `None` when it can (possibly patched).
    fn flow_blocker(&self, flow: &Flow, managed: &Managed) -> Option<String> {
        let source = single(&flow.source_connection_ids)
            .and_then(|id| managed.sources.iter().find(|s| &s.id == id));
        let target = single(&flow.target_connection_ids)
            .and_then(|id| managed.targets.iter().find(|t| &t.id == id));
        let mut reasons = Vec::new();
        match source {
            None => reasons.push("its source connection is missing".to_owned()),
            Some(s) if !self.source_matches(s) => {
                reasons.push(format!("source {}", self.source_diff(s)))
            }
            Some(_) => {}
        }
        match target {
            None => reasons.push("its target connection is missing".to_owned()),
            Some(t) if !self.target_matches(t) => {
                reasons.push(format!("target {}", self.target_diff(t)))
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
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

fn single<T>(items: &[T]) -> Option<&T> {
    match items {
        [one] => Some(one),
        _ => None,
    }
}

fn column_names(s: &SourceConnection) -> BTreeSet<String> {
    s.params.columns.iter().map(|c| c.name.clone()).collect()
}

fn rfc3339(epoch_seconds: i64) -> String {
    DateTime::from_timestamp(epoch_seconds, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| epoch_seconds.to_string())
}

/// Oldest first: `createdAt`, then id.
fn oldest<'a, T>(items: &[&'a T], created: impl Fn(&T) -> (Option<i64>, String)) -> Option<&'a T> {
    items
        .iter()
        .min_by_key(|t| {
            let (at, id) = created(t);
            (at.unwrap_or(i64::MAX), id)
        })
        .copied()
}

fn ids<T>(items: &[&T], id: impl Fn(&T) -> String) -> String {
    items.iter().map(|t| id(t)).collect::<Vec<_>>().join(", ")
}

fn plan_module(
    dm: &DesiredModule,
    managed: &Managed,
    inputs: &Inputs,
    linked: &Linked<'_>,
    claimed: &mut BTreeSet<MappingSetId>,
    rows: &mut Rows,
) -> Result<ModuleStep, PlanError> {
    let module = dm.module.as_str();
    let objects = managed.module(module);
    let resolved = inputs
        .explored
        .get(module)
        .map(|cols| dm.resolve(cols))
        .transpose()
        .map_err(|e| PlanError(e.0))?;
    let columns = match &resolved {
        Some(r) => Some(r.columns.iter().map(|c| c.name.clone()).collect()),
        None => dm.column_names(),
    };
    let rules = resolved
        .as_ref()
        .map(|r| r.rules.clone())
        .or_else(|| dm.rules());

    // The dataset comes first: whether a target connection is current depends on it.
    let (dataset_found, dataset_label) = match &dm.dataset {
        DatasetTarget::Existing { id } => (Some(DatasetId::from(id.as_str())), id.clone()),
        DatasetTarget::Create { name } => {
            let found = owned_dataset(managed, name, dm)?;
            (found.map(|d| d.id.clone()), format!("create {name:?}"))
        }
    };
    let wanted = Wanted {
        dm,
        columns,
        rules,
        dataset: dataset_found.clone(),
        dataset_label,
        now: inputs.now.timestamp(),
    };

    let current: Vec<&Flow> = objects
        .flows
        .iter()
        .copied()
        .filter(|f| wanted.flow_blocker(f, managed).is_none())
        .collect();
    if current.len() > 1 {
        return Err(PlanError(format!(
            "module {module:?}: {} dataflows named {:?} match the profile (ids {}); provision will \
             not guess which one to keep: delete all but one (e.g. in the AEP UI) and run again",
            current.len(),
            dm.flow_name,
            ids(&current, |f| f.id.to_string())
        )));
    }
    let kept = current.first().copied();
    let old = if kept.is_some() {
        None
    } else {
        oldest(&objects.flows, |f| (f.created_at, f.id.to_string()))
    };
    let replace_reason = old.and_then(|f| wanted.flow_blocker(f, managed));
    let old_source = old
        .and_then(|f| single(&f.source_connection_ids))
        .and_then(|id| managed.sources.iter().find(|s| &s.id == id));
    let old_target = old
        .and_then(|f| single(&f.target_connection_ids))
        .and_then(|id| managed.targets.iter().find(|t| &t.id == id));

    // Source connection.
    let source = plan_connection(
        rows,
        ConnectionRow {
            kind: Kind::SourceConnection,
            what: "source connections",
            name: &dm.source_name,
            module,
        },
        kept.map(|f| f.source_connection_ids[0].clone()),
        &objects.sources,
        &linked.sources,
        old_source,
        |s| &s.id,
        |s| wanted.source_matches(s),
        |s| wanted.source_diff(s),
        replace_reason.as_deref(),
    )?;

    // Dataset (only when the profile asks provision to create it).
    let dataset = match &dm.dataset {
        DatasetTarget::Existing { .. } => None,
        DatasetTarget::Create { name } => Some(match &dataset_found {
            Some(id) => {
                let row = rows.push(
                    Action::Noop,
                    Kind::Dataset,
                    name,
                    Some(module),
                    Some(id.to_string()),
                    None,
                );
                Slot::Keep {
                    row,
                    id: id.clone(),
                }
            }
            None => {
                let row = rows.push(
                    Action::Create,
                    Kind::Dataset,
                    name,
                    Some(module),
                    None,
                    None,
                );
                Slot::Create { row }
            }
        }),
    };

    // Target connection.
    let target = plan_connection(
        rows,
        ConnectionRow {
            kind: Kind::TargetConnection,
            what: "target connections",
            name: &dm.target_name,
            module,
        },
        kept.map(|f| f.target_connection_ids[0].clone()),
        &objects.targets,
        &linked.targets,
        old_target,
        |t| &t.id,
        |t| wanted.target_matches(t),
        |t| wanted.target_diff(t),
        replace_reason.as_deref(),
    )?;

    // Mapping set: the one the dataflow uses while it holds the desired rules; else one left
    // unreferenced (by an interrupted run, or an earlier mapping) holding exactly them; else a
    // new one. Mapping sets are only ever created: Data Prep documents no update or delete.
    let referenced = kept
        .or(old)
        .and_then(|f| f.mapping())
        .and_then(|(_, r)| managed.mapping_sets.iter().find(|m| m.id == r.id));
    let chosen = referenced
        .filter(|set| mapping_diff(set, &wanted).is_none())
        .or_else(|| {
            let rules = wanted.rules.as_ref()?;
            let free: Vec<&MappingSet> = managed
                .unreferenced_mapping_sets()
                .into_iter()
                .filter(|m| !claimed.contains(&m.id) && holds(m, rules, &dm.schema_id))
                .collect();
            oldest(&free, |m| (m.created_date, m.id.to_string()))
        });
    let mapping = match chosen {
        Some(set) => {
            claimed.insert(set.id.clone());
            let reason = (Some(set) != referenced && referenced.is_some())
                .then(|| "holds the new rules already (left by an earlier run)".to_owned());
            let row = rows.push(
                Action::Noop,
                Kind::MappingSet,
                &dm.mapping_name,
                Some(module),
                Some(set.id.to_string()),
                reason,
            );
            MappingStep::Keep {
                row,
                id: set.id.clone(),
                version: set.version,
            }
        }
        None => {
            let reason = referenced.and_then(|set| mapping_diff(set, &wanted));
            let row = rows.push(
                Action::Create,
                Kind::MappingSet,
                &dm.mapping_name,
                Some(module),
                None,
                reason,
            );
            MappingStep::Create { row }
        }
    };

    // Dataflow.
    let flow = match (kept, old) {
        (Some(flow), _) => {
            let mut reasons = schedule_diff(flow.schedule_params.as_ref(), &dm.schedule);
            let current_ref = flow.mapping().map(|(_, r)| r);
            let mapping_changes = match &mapping {
                MappingStep::Keep { id, version, .. } => current_ref
                    .as_ref()
                    .is_none_or(|r| &r.id != id || r.version != *version)
                    .then(|| {
                        format!(
                            "mapping: {} -> {id} version {version}",
                            current_ref
                                .as_ref()
                                .map(|r| format!("{} version {}", r.id, r.version))
                                .unwrap_or_else(|| "none".into())
                        )
                    }),
                MappingStep::Create { .. } => Some(format!(
                    "mapping: {} -> a new mapping set",
                    current_ref
                        .as_ref()
                        .map(|r| r.id.to_string())
                        .unwrap_or_else(|| "none".into())
                )),
            };
            reasons.extend(mapping_changes);
            if reasons.is_empty() {
                let row = rows.push(
                    Action::Noop,
                    Kind::Dataflow,
                    &dm.flow_name,
                    Some(module),
                    Some(flow.id.to_string()),
                    None,
                );
                FlowStep::Keep {
                    row,
                    id: flow.id.clone(),
                }
            } else {
                let row = rows.push(
                    Action::Update,
                    Kind::Dataflow,
                    &dm.flow_name,
                    Some(module),
                    Some(flow.id.to_string()),
                    Some(reasons.join(", ")),
                );
                FlowStep::Update {
                    row,
                    flow: Box::new(flow.clone()),
                }
            }
        }
        (None, Some(flow)) => {
            let row = rows.push(
                Action::Replace,
                Kind::Dataflow,
                &dm.flow_name,
                Some(module),
                Some(flow.id.to_string()),
                replace_reason.clone(),
            );
            FlowStep::Create { row }
        }
        (None, None) => {
            let row = rows.push(
                Action::Create,
                Kind::Dataflow,
                &dm.flow_name,
                Some(module),
                None,
                None,
            );
            FlowStep::Create { row }
        }
    };

    // What goes once the dataflow is in place: the replaced dataflow and pair (completing
    // their `replace` rows), then leftovers of interrupted runs.
    let mut removals = Vec::new();
    let keep_source = match &source {
        Slot::Keep { id, .. } => Some(id.as_str()),
        Slot::Create { .. } => None,
    };
    let keep_target = match &target {
        Slot::Keep { id, .. } => Some(id.as_str()),
        Slot::Create { .. } => None,
    };
    let keep_flow = kept.map(|f| f.id.as_str());
    let mut flows: Vec<&Flow> = objects
        .flows
        .iter()
        .copied()
        .filter(|f| Some(f.id.as_str()) != keep_flow)
        .collect();
    flows.sort_by_key(|f| {
        (
            Some(f.id.as_str()) != old.map(|o| o.id.as_str()),
            f.id.clone(),
        )
    });
    for f in flows {
        let row = if Some(f.id.as_str()) == old.map(|o| o.id.as_str()) {
            flow.row()
        } else {
            rows.push(
                Action::Delete,
                Kind::Dataflow,
                &f.name,
                Some(module),
                Some(f.id.to_string()),
                Some(
                    "an older dataflow of this module, left over from an interrupted replace"
                        .into(),
                ),
            )
        };
        removals.push(Removal {
            row,
            kind: Kind::Dataflow,
            id: f.id.to_string(),
        });
    }
    let connections = [
        ConnectionRemovals {
            kind: Kind::SourceConnection,
            found: objects
                .sources
                .iter()
                .map(|s| (s.id.as_str(), s.name.as_str()))
                .collect(),
            keep: keep_source,
            replaced: old_source.map(|o| (o.id.as_str(), source.row())),
            linked: &linked.sources,
        },
        ConnectionRemovals {
            kind: Kind::TargetConnection,
            found: objects
                .targets
                .iter()
                .map(|t| (t.id.as_str(), t.name.as_str()))
                .collect(),
            keep: keep_target,
            replaced: old_target.map(|o| (o.id.as_str(), target.row())),
            linked: &linked.targets,
        },
    ];
    for connections in connections {
        connections.push_into(rows, &mut removals, module);
    }

    Ok(ModuleStep {
        module: module.to_owned(),
        resolved,
        source,
        dataset,
        target,
        mapping,
        flow,
        removals,
    })
}

/// A module's connections of one kind other than the one it keeps: the one the replaced
/// dataflow used completes its `replace` row; any other is a leftover with a `delete` row.
struct ConnectionRemovals<'a> {
    kind: Kind,
    /// `(id, name)` of every owned connection of this kind for the module.
    found: Vec<(&'a str, &'a str)>,
    keep: Option<&'a str>,
    /// The connection of the dataflow being replaced, with the row of its replacement.
    replaced: Option<(&'a str, Row)>,
    /// Connections some owned dataflow links.
    linked: &'a BTreeSet<&'a str>,
}

impl ConnectionRemovals<'_> {
    fn push_into(self, rows: &mut Rows, removals: &mut Vec<Removal>, module: &str) {
        for (id, name) in self.found {
            if Some(id) == self.keep {
                continue;
            }
            let row = match self.replaced {
                Some((replaced, row)) if replaced == id => row,
                _ => rows.push(
                    Action::Delete,
                    self.kind,
                    name,
                    Some(module),
                    Some(id.to_owned()),
                    Some(leftover_reason(self.linked.contains(id))),
                ),
            };
            removals.push(Removal {
                row,
                kind: self.kind,
                id: id.to_owned(),
            });
        }
    }
}

fn leftover_reason(linked: bool) -> String {
    if linked {
        "used only by an older dataflow of this module, which is deleted".to_owned()
    } else {
        "not used by any dataflow (left over from an interrupted run)".to_owned()
    }
}
/// Which connection a [`plan_connection`] row is about.
struct ConnectionRow<'a> {
    kind: Kind,
    /// Plural, for messages: "source connections".
    what: &'a str,
    name: &'a str,
    module: &'a str,
}

/// Plans a module's source or target connection (Adobe says not to update them, docs/aep-api.md#source-connection):
/// the one the kept dataflow links; else one no dataflow links that already matches the profile
/// (left by an interrupted run), reused; else a new one, replacing the old dataflow's if any.
#[allow(clippy::too_many_arguments)]
fn plan_connection<T, I: Clone + std::fmt::Display>(
    rows: &mut Rows,
    of: ConnectionRow<'_>,
    kept: Option<I>,
    owned: &[&T],
    linked: &BTreeSet<&str>,
    old: Option<&T>,
    id_of: impl Fn(&T) -> &I,
    matches: impl Fn(&T) -> bool,
    diff: impl Fn(&T) -> String,
    replace_reason: Option<&str>,
) -> Result<Slot<I>, PlanError> {
    let ConnectionRow {
        kind,
        what,
        name,
        module,
    } = of;
    if let Some(id) = kept {
        let row = rows.push(
            Action::Noop,
            kind,
            name,
            Some(module),
            Some(id.to_string()),
            None,
        );
        return Ok(Slot::Keep { row, id });
    }
    let orphans: Vec<&T> = owned
        .iter()
        .copied()
        .filter(|c| !linked.contains(id_of(c).to_string().as_str()) && matches(c))
        .collect();
    if orphans.len() > 1 {
        return Err(twins(
            module,
            what,
            name,
            &ids(&orphans, |c| id_of(c).to_string()),
        ));
    }
    let reuse = orphans.first().map(|c| id_of(c).clone());
    let (action, id, reason) = match (old, &reuse) {
        (Some(c), _) => (
            Action::Replace,
            Some(id_of(c).to_string()),
            Some(if matches(c) {
                format!(
                    "a new pair for the new dataflow ({})",
                    replace_reason.unwrap_or_default()
                )
            } else {
                diff(c)
            }),
        ),
        (None, Some(id)) => (
            Action::Noop,
            Some(id.to_string()),
            Some("exists, not yet linked to a dataflow".to_owned()),
        ),
        (None, None) => (Action::Create, None, None),
    };
    let row = rows.push(action, kind, name, Some(module), id, reason);
    Ok(match reuse {
        Some(id) => Slot::Keep { row, id },
        None => Slot::Create { row },
    })
}

fn twins(module: &str, what: &str, name: &str, ids: &str) -> PlanError {
    PlanError(format!(
        "module {module:?}: several {what} named {name:?} match the profile and no dataflow uses \
         them (ids {ids}); provision will not guess which one to use: delete all but one and run \
         again"
    ))
}

/// The owned dataset named `name`: two are ambiguous, and one with another schema cannot serve.
fn owned_dataset<'a>(
    managed: &'a Managed,
    name: &str,
    dm: &DesiredModule,
) -> Result<Option<&'a Dataset>, PlanError> {
    let found: Vec<&Dataset> = managed
        .datasets
        .iter()
        .filter(|d| d.name.as_deref() == Some(name))
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => {
            let schema = one.schema_id().unwrap_or("none");
            if schema != dm.schema_id {
                return Err(PlanError(format!(
                    "module {:?}: dataset {name:?} (id {}) was created with schema {schema}, but the \
                     profile now says {}; a dataset's schema cannot change: give the dataset a new \
                     name in the profile (the old one is kept), or delete it and run again",
                    dm.module, one.id, dm.schema_id
                )));
            }
            Ok(Some(one))
        }
        many => Err(PlanError(format!(
            "module {:?}: {} datasets named {name:?} are marked as managed by provision (ids {}); \
             provision will not guess which one to use: delete all but one and run again",
            dm.module,
            many.len(),
            ids(many, |d| d.id.to_string())
        ))),
    }
}

/// The rules of a mapping set, sorted and without duplicates.
fn rules_of(set: &MappingSet) -> Vec<Rule> {
    let mut rules: Vec<Rule> = set
        .rules()
        .into_iter()
        .map(|(s, d)| Rule {
            source: s.to_owned(),
            destination: d.to_owned(),
        })
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

/// Whether `set` holds exactly `rules` (sorted) for the schema `schema_id`.
pub fn holds(set: &MappingSet, rules: &[Rule], schema_id: &str) -> bool {
    set.schema_id() == Some(schema_id) && rules_of(set) == rules
}

/// Why the mapping set no longer serves (a new one is needed), or `None` when it holds the
/// desired rules. Unknown rules (auto mapping not explored yet) count as a change, checked again
/// at apply.
fn mapping_diff(set: &MappingSet, wanted: &Wanted<'_>) -> Option<String> {
    let Some(want) = &wanted.rules else {
        return Some("mapping = \"auto\": rules from explore, compared at apply".to_owned());
    };
    let have = rules_of(set);
    let mut parts = Vec::new();
    let schema = set.schema_id().unwrap_or("none");
    if schema != wanted.dm.schema_id {
        parts.push(format!("schema: {schema} -> {}", wanted.dm.schema_id));
    }
    for r in want.iter().filter(|r| !have.contains(r)) {
        parts.push(format!("+ {} -> {}", r.source, r.destination));
    }
    for r in have.iter().filter(|r| !want.contains(r)) {
        parts.push(format!("- {} -> {}", r.source, r.destination));
    }
    (!parts.is_empty()).then(|| format!("mapping: {}", parts.join(", ")))
}

/// Per-field reasons for a schedule PATCH (`schedule.interval: 1 -> 2`).
pub fn schedule_diff(current: Option<&ScheduleParams>, desired: &ScheduleParams) -> Vec<String> {
    let Some(current) = current else {
        return vec!["schedule: none -> set".to_owned()];
    };
    let mut out = Vec::new();
    if current.start_time != desired.start_time {
        out.push(format!(
            "schedule.start: {} -> {}",
            rfc3339(current.start_time),
            rfc3339(desired.start_time)
        ));
    }
    if current.frequency != desired.frequency {
        out.push(format!(
            "schedule.frequency: {} -> {}",
            current.frequency, desired.frequency
        ));
    }
    let once = desired.frequency == "once";
    let show = |v: Option<String>| v.unwrap_or_else(|| "none".into());
    let want_interval = if once { None } else { desired.interval };
    if current.interval != want_interval {
        out.push(format!(
            "schedule.interval: {} -> {}",
            show(current.interval.map(|i| i.to_string())),
            show(want_interval.map(|i| i.to_string()))
        ));
    }
    let want_backfill = if once { None } else { desired.backfill };
    if current.backfill != want_backfill {
        out.push(format!(
            "schedule.backfill: {} -> {}",
            show(current.backfill.map(|b| b.to_string())),
            show(want_backfill.map(|b| b.to_string()))
        ));
    }
    out
}

/// Owned objects of modules the profile no longer has: dataflows first, then connections.
/// Their mapping sets stay (Data Prep cannot delete them).
fn plan_removed_modules(desired: &Desired, managed: &Managed, rows: &mut Rows) -> Vec<Removal> {
    let mut flows = Vec::new();
    let mut connections = Vec::new();
    for module in managed.modules() {
        if desired.module(module).is_some() {
            continue;
        }
        let objects = managed.module(module);
        let reason = || Some("the module is no longer in the profile".to_owned());
        for f in &objects.flows {
            let row = rows.push(
                Action::Delete,
                Kind::Dataflow,
                &f.name,
                Some(module),
                Some(f.id.to_string()),
                reason(),
            );
            flows.push(Removal {
                row,
                kind: Kind::Dataflow,
                id: f.id.to_string(),
            });
        }
        for s in &objects.sources {
            let row = rows.push(
                Action::Delete,
                Kind::SourceConnection,
                &s.name,
                Some(module),
                Some(s.id.to_string()),
                reason(),
            );
            connections.push(Removal {
                row,
                kind: Kind::SourceConnection,
                id: s.id.to_string(),
            });
        }
        for t in &objects.targets {
            let row = rows.push(
                Action::Delete,
                Kind::TargetConnection,
                &t.name,
                Some(module),
                Some(t.id.to_string()),
                reason(),
            );
            connections.push(Removal {
                row,
                kind: Kind::TargetConnection,
                id: t.id.to_string(),
            });
        }
    }
    flows.extend(connections);
    flows
}

/// With `--include-datasets`: owned datasets no module of the profile uses any more.
fn plan_datasets(
    desired: &Desired,
    managed: &Managed,
    inputs: &Inputs,
    rows: &mut Rows,
) -> Vec<Removal> {
    if !inputs.include_datasets {
        return Vec::new();
    }
    let wanted: BTreeSet<&str> = desired
        .modules
        .iter()
        .filter_map(|m| match &m.dataset {
            DatasetTarget::Create { name } => Some(name.as_str()),
            DatasetTarget::Existing { .. } => None,
        })
        .collect();
    managed
        .datasets
        .iter()
        .filter(|d| !d.name.as_deref().is_some_and(|n| wanted.contains(n)))
        .map(|d| {
            let row = rows.push(
                Action::Delete,
                Kind::Dataset,
                d.name.as_deref().unwrap_or(""),
                None,
                Some(d.id.to_string()),
                Some("no module of the profile uses it (--include-datasets)".into()),
            );
            Removal {
                row,
                kind: Kind::Dataset,
                id: d.id.to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::tests::{columns, dataflow, profile};
    use crate::desired::{self, Desired};
    use crate::profile::Dataflow;
    use serde_json::{json, Value};

    const SCHEMA: &str = "https://ns.adobe.com/acme/schemas/zoho_crm";

    fn desired(flows: Vec<Dataflow>) -> Desired {
        desired::build(&profile(flows)).unwrap()
    }

    fn leads() -> Dataflow {
        dataflow(
            "Leads",
            &[
                ("Email", "personalEmail.address"),
                ("First_Name", "person.name.firstName"),
            ],
        )
    }

    fn contacts() -> Dataflow {
        let mut d = dataflow("Contacts", &[("Email", "personalEmail.address")]);
        d.dataset = DatasetTarget::Existing {
            id: "6889f4f89b982b2b90bc1208".into(),
        };
        d
    }

    fn inputs() -> Inputs {
        Inputs {
            explored: BTreeMap::new(),
            now: DateTime::parse_from_rfc3339("2026-11-29T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            include_datasets: false,
        }
    }

    fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    /// What a finished apply of `d` leaves behind, with ids derived from the module names.
    fn converged(d: &Desired) -> Managed {
        let p = &d.prefix;
        let marker = naming::owner_marker(p);
        let mut m = Managed {
            prefix: p.clone(),
            bases: vec![from(json!({
                "id": "base-1", "name": p, "description": d.base.description,
                "connectionSpec": {"id": crate::api::specs::ZOHO_CRM_SPEC_ID, "version": "1.0"},
                "etag": "\"b1\"", "createdAt": 1
            }))],
            ..Managed::default()
        };
        for dm in &d.modules {
            let md = &dm.module;
            let cols: Vec<Value> = dm
                .column_names()
                .unwrap()
                .into_iter()
                .map(|c| json!({"name": c, "type": "string"}))
                .collect();
            m.sources.push(from(json!({
                "id": format!("src-{md}"), "name": dm.source_name, "description": marker,
                "baseConnectionId": "base-1", "params": {"tableName": md, "columns": cols},
                "createdAt": 10
            })));
            let dataset = match &dm.dataset {
                DatasetTarget::Existing { id } => id.clone(),
                DatasetTarget::Create { name } => {
                    m.datasets.push(Dataset {
                        id: format!("ds-{md}").as_str().into(),
                        name: Some(name.clone()),
                        description: Some(marker.clone()),
                        schema_ref: Some(crate::api::catalog::SchemaRef {
                            id: SCHEMA.into(),
                            content_type: None,
                        }),
                        tags: Default::default(),
                        created: Some(10),
                        updated: None,
                    });
                    format!("ds-{md}")
                }
            };
            m.targets.push(from(json!({
                "id": format!("tgt-{md}"), "name": dm.target_name, "description": marker,
                "data": {"schema": {"id": SCHEMA}}, "params": {"dataSetId": dataset},
                "createdAt": 10
            })));
            let mappings: Vec<Value> = dm
                .rules()
                .unwrap()
                .into_iter()
                .map(|r| json!({"sourceType": "ATTRIBUTE", "source": r.source, "destination": r.destination}))
                .collect();
            m.mapping_sets.push(from(json!({
                "id": format!("map-{md}"), "version": 0, "name": naming::mapping_sets_name(p),
                "outputSchema": {"schemaRef": {"id": SCHEMA}}, "mappings": mappings,
                "tags": [{"name": "description", "values": [naming::mapping_set_description(p, md)]}],
                "createdDate": 10
            })));
            m.flows.push(from(json!({
                "id": format!("flow-{md}"), "name": dm.flow_name, "description": marker,
                "etag": "\"f1\"", "createdAt": 10,
                "sourceConnectionIds": [format!("src-{md}")],
                "targetConnectionIds": [format!("tgt-{md}")],
                "transformations": [
                    {"name": "Copy", "params": {"deltaColumn": {"name": dm.delta_column}}},
                    {"name": "Mapping", "params": {"mappingId": format!("map-{md}"), "mappingVersion": "0"}}
                ],
                "scheduleParams": {"startTime": dm.schedule.start_time.to_string(), "frequency": "hour", "interval": "1", "backfill": "true"}
            })));
        }
        m
    }

    fn rows(plan: &Plan) -> Vec<(Action, Kind, String)> {
        plan.changes
            .iter()
            .map(|c| (c.action, c.kind, c.name.clone()))
            .collect()
    }

    fn changed(plan: &Plan) -> Vec<(Action, Kind, Option<String>, Option<String>)> {
        plan.changes
            .iter()
            .filter(|c| c.action != Action::Noop)
            .map(|c| (c.action, c.kind, c.id.clone(), c.reason.clone()))
            .collect()
    }

    /// The plan's only changes delete the Leads dataflow, then its source and target connections.
    fn assert_deletes_the_leads_chain(p: &Plan) {
        let deletes: Vec<(Action, Kind, String)> = changed(p)
            .into_iter()
            .map(|c| (c.0, c.1, c.2.unwrap_or_default()))
            .collect();
        let expected = [
            (Kind::Dataflow, "flow-Leads"),
            (Kind::SourceConnection, "src-Leads"),
            (Kind::TargetConnection, "tgt-Leads"),
        ]
        .map(|(kind, id)| (Action::Delete, kind, id.to_owned()));
        assert_eq!(deletes, expected);
    }

    #[test]
    fn a_fresh_profile_plans_every_object_in_dependency_order() {
        let d = desired(vec![leads(), contacts()]);
        let plan = plan(
            &d,
            &Managed {
                prefix: "p".into(),
                ..Managed::default()
            },
            &inputs(),
        )
        .unwrap();
        use Action::Create;
        assert_eq!(
            rows(&plan),
            vec![
                (Create, Kind::BaseConnection, "p".into()),
                (Create, Kind::SourceConnection, "p / Leads / source".into()),
                (Create, Kind::Dataset, "Zoho Leads".into()),
                (Create, Kind::TargetConnection, "p / Leads / target".into()),
                (Create, Kind::MappingSet, "p / Leads / mapping".into()),
                (Create, Kind::Dataflow, "p / Leads / flow".into()),
                (
                    Create,
                    Kind::SourceConnection,
                    "p / Contacts / source".into()
                ),
                (
                    Create,
                    Kind::TargetConnection,
                    "p / Contacts / target".into()
                ),
                (Create, Kind::MappingSet, "p / Contacts / mapping".into()),
                (Create, Kind::Dataflow, "p / Contacts / flow".into()),
            ]
        );
        assert_eq!(plan.to_explore(), ["Leads", "Contacts"]);
        assert_eq!(
            plan.summary(),
            Summary {
                create: 10,
                ..Summary::default()
            }
        );
    }

    #[test]
    fn a_converged_profile_plans_nothing_and_needs_no_explore() {
        let d = desired(vec![leads(), contacts()]);
        let plan = plan(&d, &converged(&d), &inputs()).unwrap();
        assert!(!plan.has_changes(), "{:#?}", changed(&plan));
        assert_eq!(plan.summary().noop, 10);
        assert!(plan.to_explore().is_empty());
        assert!(plan.changes.iter().all(|c| c.id.is_some()));
    }

    #[test]
    fn a_schedule_change_is_one_dataflow_update_with_the_field() {
        let mut l = leads();
        l.schedule.interval = Some(2);
        let before = desired(vec![leads()]);
        let plan = plan(&desired(vec![l]), &converged(&before), &inputs()).unwrap();
        assert_eq!(
            changed(&plan),
            vec![(
                Action::Update,
                Kind::Dataflow,
                Some("flow-Leads".into()),
                Some("schedule.interval: 1 -> 2".into())
            )]
        );
        assert!(matches!(plan.modules[0].flow, FlowStep::Update { .. }));
    }

    #[test]
    fn a_future_start_is_patched_but_a_passed_one_replaces_the_chain() {
        let before = desired(vec![leads()]);
        let mut later = leads();
        later.schedule.start = DateTime::parse_from_rfc3339("2027-02-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let p = plan(
            &desired(vec![later.clone()]),
            &converged(&before),
            &inputs(),
        )
        .unwrap();
        assert_eq!(
            changed(&p)[0].3.as_deref(),
            Some("schedule.start: 2027-01-01T00:00:00Z -> 2027-02-01T00:00:00Z")
        );
        let mut after_start = inputs();
        after_start.now = DateTime::parse_from_rfc3339("2027-01-15T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let p = plan(&desired(vec![later]), &converged(&before), &after_start).unwrap();
        let c = changed(&p);
        assert_eq!(
            c.iter().map(|c| (c.0, c.1)).collect::<Vec<_>>(),
            [
                (Action::Replace, Kind::SourceConnection),
                (Action::Replace, Kind::TargetConnection),
                (Action::Replace, Kind::Dataflow)
            ]
        );
        assert!(
            c[2].3
                .as_deref()
                .unwrap()
                .contains("the current start has passed"),
            "{c:?}"
        );
    }

    #[test]
    fn a_new_mapped_column_replaces_the_source_target_and_dataflow() {
        let before = desired(vec![leads()]);
        let l = dataflow(
            "Leads",
            &[
                ("Email", "personalEmail.address"),
                ("First_Name", "person.name.firstName"),
                ("Phone", "mobilePhone.number"),
            ],
        );
        let p = plan(&desired(vec![l]), &converged(&before), &inputs()).unwrap();
        assert_eq!(
            changed(&p),
            vec![
                (
                    Action::Replace,
                    Kind::SourceConnection,
                    Some("src-Leads".into()),
                    Some("columns: + Phone".into())
                ),
                (
                    Action::Replace,
                    Kind::TargetConnection,
                    Some("tgt-Leads".into()),
                    Some("a new pair for the new dataflow (source columns: + Phone)".into())
                ),
                (
                    Action::Create,
                    Kind::MappingSet,
                    None,
                    Some("mapping: + Phone -> mobilePhone.number".into())
                ),
                (
                    Action::Replace,
                    Kind::Dataflow,
                    Some("flow-Leads".into()),
                    Some("source columns: + Phone".into())
                ),
            ]
        );
        let m = &p.modules[0];
        assert_eq!(
            m.removals,
            vec![
                Removal {
                    row: m.flow.row(),
                    kind: Kind::Dataflow,
                    id: "flow-Leads".into()
                },
                Removal {
                    row: m.source.row(),
                    kind: Kind::SourceConnection,
                    id: "src-Leads".into()
                },
                Removal {
                    row: m.target.row(),
                    kind: Kind::TargetConnection,
                    id: "tgt-Leads".into()
                },
            ]
        );
        // The new source needs explore's column objects.
        assert_eq!(p.to_explore(), ["Leads"]);
    }

    #[test]
    fn a_changed_destination_moves_the_dataflow_to_a_new_mapping_set() {
        let before = desired(vec![leads()]);
        let l = dataflow(
            "Leads",
            &[
                ("Email", "workEmail.address"),
                ("First_Name", "person.name.firstName"),
            ],
        );
        let p = plan(&desired(vec![l]), &converged(&before), &inputs()).unwrap();
        assert_eq!(
            changed(&p),
            vec![
                (
                    Action::Create,
                    Kind::MappingSet,
                    None,
                    Some(
                        "mapping: + Email -> workEmail.address, - Email -> personalEmail.address"
                            .into()
                    )
                ),
                (
                    Action::Update,
                    Kind::Dataflow,
                    Some("flow-Leads".into()),
                    Some("mapping: map-Leads -> a new mapping set".into())
                ),
            ]
        );
    }

    #[test]
    fn a_dataset_change_creates_the_dataset_and_replaces_the_chain() {
        let before = desired(vec![contacts()]);
        let mut c = contacts();
        c.dataset = DatasetTarget::Create {
            name: "Zoho Contacts".into(),
        };
        let p = plan(&desired(vec![c]), &converged(&before), &inputs()).unwrap();
        let c = changed(&p);
        assert_eq!(c[1], (Action::Create, Kind::Dataset, None, None));
        assert_eq!(
            c[2],
            (
                Action::Replace,
                Kind::TargetConnection,
                Some("tgt-Contacts".into()),
                Some("dataset: 6889f4f89b982b2b90bc1208 -> create \"Zoho Contacts\"".into())
            )
        );
        assert_eq!(c[3].0, Action::Replace);
        assert_eq!(c[3].1, Kind::Dataflow);
        assert!(c[3]
            .3
            .as_deref()
            .unwrap()
            .starts_with("target dataset: 6889f4f89b982b2b90bc1208 -> create"));
    }

    #[test]
    fn a_removed_module_deletes_its_flow_then_connections_and_keeps_its_dataset() {
        let before = desired(vec![leads(), contacts()]);
        let p = plan(&desired(vec![contacts()]), &converged(&before), &inputs()).unwrap();
        assert_deletes_the_leads_chain(&p);
        assert_eq!(
            p.removed.iter().map(|r| r.kind).collect::<Vec<_>>(),
            [
                Kind::Dataflow,
                Kind::SourceConnection,
                Kind::TargetConnection
            ]
        );
        let mut with_datasets = inputs();
        with_datasets.include_datasets = true;
        let p = plan(
            &desired(vec![contacts()]),
            &converged(&before),
            &with_datasets,
        )
        .unwrap();
        assert_eq!(
            p.datasets,
            vec![Removal {
                row: p.changes.len() - 1,
                kind: Kind::Dataset,
                id: "ds-Leads".into()
            }]
        );
    }

    #[test]
    fn rotated_zoho_credentials_update_the_base_connection() {
        let d = desired(vec![leads()]);
        let mut m = converged(&d);
        m.bases[0].description =
            Some("Zoho CRM (managed by provision: p; auth 000000000000)".into());
        let p = plan(&d, &m, &inputs()).unwrap();
        let c = changed(&p);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].0, c[0].1), (Action::Update, Kind::BaseConnection));
        assert!(c[0].3.as_deref().unwrap().starts_with(
            "auth: the profile's Zoho credentials changed (fingerprint 000000000000 -> "
        ));
        assert!(matches!(
            p.base,
            BaseStep::Update {
                rotate_auth: true,
                description: false,
                ..
            }
        ));
    }

    #[test]
    fn a_same_named_base_connection_not_made_by_provision_stops_the_plan() {
        let d = desired(vec![leads()]);
        let mut m = Managed {
            prefix: "p".into(),
            ..Managed::default()
        };
        m.foreign_bases.push(from(
            json!({"id": "theirs", "name": "p", "description": "made in the UI"}),
        ));
        let err = plan(&d, &m, &inputs()).unwrap_err();
        assert!(
            err.0
                .contains("(id theirs) but was not created by provision"),
            "{err}"
        );
        let mut m = converged(&d);
        let twin = m.bases[0].clone();
        m.bases.push(crate::api::connections::Connection {
            id: "base-2".into(),
            ..twin
        });
        let err = plan(&d, &m, &inputs()).unwrap_err();
        assert!(
            err.0.contains("2 base connections named \"p\"") && err.0.contains("base-1, base-2"),
            "{err}"
        );
    }

    #[test]
    fn two_current_dataflows_for_one_module_stop_the_plan() {
        let d = desired(vec![leads()]);
        let mut m = converged(&d);
        let mut twin = m.flows[0].clone();
        twin.id = "flow-twin".into();
        m.flows.push(twin);
        let err = plan(&d, &m, &inputs()).unwrap_err();
        assert!(err.0.contains("2 dataflows named \"p / Leads / flow\" match the profile (ids flow-Leads, flow-twin)"), "{err}");
    }

    #[test]
    fn an_interrupted_replace_finishes_by_deleting_the_old_chain() {
        // The profile moved Leads to a new column; a previous apply created the new source,
        // target and dataflow, then died before deleting the old ones.
        let old = desired(vec![leads()]);
        let new_flow = dataflow(
            "Leads",
            &[
                ("Email", "personalEmail.address"),
                ("First_Name", "person.name.firstName"),
                ("Phone", "p.n"),
            ],
        );
        let new = desired(vec![new_flow]);
        let mut m = converged(&old);
        let fresh = converged(&new);
        let rename = |v: String| v.replace("Leads", "Leads2");
        let mut s = fresh.sources[0].clone();
        s.id = rename(s.id.to_string()).into();
        let mut t = fresh.targets[0].clone();
        t.id = rename(t.id.to_string()).into();
        let mut f = fresh.flows[0].clone();
        f.id = "flow-new".into();
        f.source_connection_ids = vec![s.id.clone()];
        f.target_connection_ids = vec![t.id.clone()];
        f.created_at = Some(20);
        m.mapping_sets = fresh.mapping_sets.clone();
        m.sources.push(s);
        m.targets.push(t);
        m.flows.push(f);
        let p = plan(&new, &m, &inputs()).unwrap();
        assert_deletes_the_leads_chain(&p);
        assert!(
            matches!(&p.modules[0].flow, FlowStep::Keep { id, .. } if id.as_str() == "flow-new")
        );
    }

    #[test]
    fn orphans_of_an_interrupted_first_apply_are_reused_not_duplicated() {
        let d = desired(vec![leads()]);
        let mut m = converged(&d);
        m.flows.clear();
        let p = plan(&d, &m, &inputs()).unwrap();
        assert_eq!(
            changed(&p),
            vec![(Action::Create, Kind::Dataflow, None, None)]
        );
        assert!(
            matches!(&p.modules[0].source, Slot::Keep { id, .. } if id.as_str() == "src-Leads")
        );
        assert!(
            matches!(&p.modules[0].target, Slot::Keep { id, .. } if id.as_str() == "tgt-Leads")
        );
        assert!(
            matches!(&p.modules[0].mapping, MappingStep::Keep { id, .. } if id.as_str() == "map-Leads")
        );
        assert_eq!(
            p.changes[1].reason.as_deref(),
            Some("exists, not yet linked to a dataflow")
        );
    }

    #[test]
    fn explore_columns_are_checked_at_plan_time() {
        let d = desired(vec![leads()]);
        let mut i = inputs();
        i.explored.insert(
            "Leads".into(),
            columns(&["EMail", "First_Name", "Modified_Time"]),
        );
        let err = plan(
            &d,
            &Managed {
                prefix: "p".into(),
                ..Managed::default()
            },
            &i,
        )
        .unwrap_err();
        assert!(
            err.0
                .contains("mapping source \"Email\" (did you mean \"EMail\"?)"),
            "{err}"
        );
    }

    #[test]
    fn a_dataset_whose_schema_changed_cannot_be_reused() {
        let d = desired(vec![leads()]);
        let mut m = converged(&d);
        m.datasets[0].schema_ref = Some(crate::api::catalog::SchemaRef {
            id: "https://ns.adobe.com/acme/schemas/other".into(),
            content_type: None,
        });
        let err = plan(&d, &m, &inputs()).unwrap_err();
        assert!(
            err.0
                .contains("was created with schema https://ns.adobe.com/acme/schemas/other"),
            "{err}"
        );
    }

    #[test]
    fn an_unreferenced_mapping_set_is_claimed_by_one_module_only() {
        // Two modules want the same rules; one mapping set with those rules is unreferenced.
        let mut contacts = contacts();
        contacts.mapping = leads().mapping;
        let d = desired(vec![leads(), contacts]);
        let mut m = converged(&d);
        m.flows.clear();
        m.mapping_sets.truncate(1);
        let p = plan(&d, &m, &inputs()).unwrap();
        assert!(
            matches!(&p.modules[0].mapping, MappingStep::Keep { id, .. } if id.as_str() == "map-Leads")
        );
        assert!(matches!(p.modules[1].mapping, MappingStep::Create { .. }));
    }

    #[test]
    fn auto_mappings_need_explore_and_are_current_once_explored() {
        let mut deals = dataflow("Deals", &[]);
        deals.mapping = crate::profile::Mapping::Auto {
            prefix: "_acme.zoho".into(),
        };
        let d = desired(vec![deals]);
        let explored = columns(&["Amount", "Modified_Time"]);
        // What an apply with these columns leaves behind.
        let mut resolved_profile = dataflow(
            "Deals",
            &[
                ("Amount", "_acme.zoho.Amount"),
                ("Modified_Time", "_acme.zoho.Modified_Time"),
            ],
        );
        resolved_profile.dataset = d.modules[0].dataset.clone();
        let m = converged(&desired(vec![resolved_profile]));
        let unexplored = plan(&d, &m, &inputs()).unwrap();
        assert_eq!(unexplored.to_explore(), ["Deals"]);
        let mut i = inputs();
        i.explored.insert("Deals".into(), explored);
        let p = plan(&d, &m, &i).unwrap();
        assert!(!p.has_changes(), "{:#?}", changed(&p));
        // A column Zoho added since is a new source column: the chain is replaced.
        i.explored.insert(
            "Deals".into(),
            columns(&["Amount", "Stage", "Modified_Time"]),
        );
        let p = plan(&d, &m, &i).unwrap();
        assert_eq!(p.changes[1].reason.as_deref(), Some("columns: + Stage"));
    }
}
