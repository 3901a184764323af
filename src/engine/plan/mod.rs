//! The plan: `(desired, observed) -> Plan`, pure (no I/O). Each [`Change`] is one row of the
//! output (`docs/pipeline.md`, "JSON output"); the steps next to them tell `apply` what to do
//! and in which order. `plan/module.rs` plans one module; what matches, what is patched and what
//! forces a replace is asked of each kind's module in [`crate::engine::kinds`].
//!
//! Identity is by name and marker ([`crate::engine::naming`]); within one module, which of
//! several owned objects is current is decided by linkage and content:
//!
//! - A dataflow is *current* when its source connection, target connection, delta column and
//!   start time are what the profile asks for. Other owned dataflows of the module are left over
//!   from an interrupted replace and are deleted once the current one exists. Two current ones
//!   are an error: provision never guesses between look-alikes.
//! - A source or target connection no dataflow links (an *orphan*, left by an interrupted run)
//!   is reused when its content matches, so a re-run finishes the work instead of duplicating
//!   it; orphans that do not match are deleted.
//! - Source and target connections are never patched (Adobe documents no update for them): a
//!   change to either, to the dataset, the delta column, or a start time already passed,
//!   replaces the module's source connection, target connection and dataflow together (new ones
//!   first, then the old ones are deleted). Schedule and mapping changes patch the dataflow.
//!   Mapping sets are only ever created (Data Prep documents no update or delete): a changed
//!   mapping moves the dataflow to a new mapping set, or back to an unreferenced one that
//!   already holds the rules.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::api::connections::Connection;
use crate::api::explore::Column;
use crate::api::flows::Flow;
use crate::api::{DatasetId, FlowId, MappingSetId, SourceConnectionId, TargetConnectionId};
use crate::engine::desired::{Desired, DesiredModule, Resolved};
use crate::engine::kinds::{self, Attributes, Diff};
use crate::engine::observe::{Managed, ModuleObjects};
use crate::engine::{naming, Kind, ObjectId};

mod module;

pub(crate) use module::mapping_row;

/// What happens to one object (`action` in the JSON output).
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

/// What became of one change in an `apply` or `destroy` (`outcome` in the JSON output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Written, or nothing to write (`noop`).
    Done,
    Failed,
    /// Not started: an earlier step it depends on failed, or the run stopped first.
    NotAttempted,
}

/// One row of the plan; after `apply`, `id` is the id the object ended with, `error` says
/// why the change failed and `outcome` what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub action: Action,
    pub kind: Kind,
    pub name: String,
    pub module: Option<String>,
    pub id: Option<ObjectId>,
    pub reason: Option<String>,
    /// Create and replace: the values that will be sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Attributes>,
    /// Update and replace: what differs, attribute by attribute.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<Diff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

impl Change {
    /// A row with no module, id or reason yet; the `with_*` methods add them.
    pub fn new(action: Action, kind: Kind, name: &str) -> Self {
        Self {
            action,
            kind,
            name: name.to_owned(),
            module: None,
            id: None,
            reason: None,
            attributes: None,
            diff: Vec::new(),
            error: None,
            outcome: None,
        }
    }

    pub fn with_module(mut self, module: Option<&str>) -> Self {
        self.module = module.map(str::to_owned);
        self
    }

    pub fn with_id(mut self, id: impl Into<ObjectId>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn with_attributes(mut self, attributes: Attributes) -> Self {
        self.attributes = Some(attributes);
        self
    }

    pub fn with_diff(mut self, diff: Vec<Diff>) -> Self {
        self.diff = diff;
        self
    }
}

/// Counts per action (`summary` in the JSON output).
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
    pub id: ObjectId,
}

impl Removal {
    pub fn kind(&self) -> Kind {
        self.id.kind()
    }
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

    /// Whether nothing of the module's chain exists yet (a first apply, or a module new to the
    /// profile): its explore can then only fill in the columns and rules to send, never change
    /// what happens to its dataset and target connection, so apply starts those beside it.
    pub fn is_new(&self) -> bool {
        matches!(
            (&self.source, &self.target, &self.flow),
            (
                Slot::Create { .. },
                Slot::Create { .. },
                FlowStep::Create { .. }
            )
        ) && self.removals.is_empty()
    }
}

/// The whole plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub base: BaseStep,
    pub modules: Vec<ModuleStep>,
    /// The objects of modules no longer in the profile, module by module ([`crate::engine::delete::remove`]
    /// deletes them phase by phase: dataflows first, then connections).
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
        let mut planner = module::Planner {
            dm,
            managed,
            linked: &linked,
            claimed: &mut claimed,
            rows: &mut rows,
        };
        modules.push(planner.plan(inputs)?);
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

/// The rows of a plan as they are added.
#[derive(Default)]
pub(crate) struct Rows(pub(crate) Vec<Change>);

impl Rows {
    pub(crate) fn push(&mut self, change: Change) -> Row {
        self.0.push(change);
        self.0.len() - 1
    }
}

fn plan_base(desired: &Desired, managed: &Managed, rows: &mut Rows) -> Result<BaseStep, PlanError> {
    let name = &desired.base.name;
    let Some(current) = managed.base().map_err(PlanError)? else {
        let change = Change::new(Action::Create, Kind::BaseConnection, name)
            .with_attributes(kinds::base::attributes(desired));
        let row = rows.push(change);
        return Ok(BaseStep::Create { row });
    };
    let diff = kinds::base::diff(current, desired);
    let change = Change::new(Action::Noop, Kind::BaseConnection, name).with_id(&current.id);
    if diff.reasons.is_empty() {
        let row = rows.push(change);
        return Ok(BaseStep::Keep {
            row,
            connection: current.clone(),
        });
    }
    let row = rows.push(Change {
        action: Action::Update,
        ..change
            .with_reason(diff.reasons.join("; "))
            .with_diff(diff.entries)
    });
    Ok(BaseStep::Update {
        row,
        connection: current.clone(),
        rotate_auth: diff.rotate_auth,
        description: diff.description,
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
    sources: BTreeSet<&'a SourceConnectionId>,
    targets: BTreeSet<&'a TargetConnectionId>,
}

impl<'a> Linked<'a> {
    fn of(managed: &'a Managed) -> Self {
        Self {
            sources: managed
                .flows
                .iter()
                .flat_map(|f| &f.source_connection_ids)
                .collect(),
            targets: managed
                .flows
                .iter()
                .flat_map(|f| &f.target_connection_ids)
                .collect(),
        }
    }
}

/// Delete rows for `objects` (dataflows first, then source and target connections), each with
/// the module its name gives and `reason`; the removals in the order they can run. Used for the
/// modules the profile no longer has, and by `destroy` for everything the profile owns.
pub(crate) fn removal_rows(
    objects: &ModuleObjects<'_>,
    prefix: &str,
    reason: Option<&str>,
    rows: &mut Rows,
) -> Vec<Removal> {
    let named = |kind: Kind, name: &str, id: ObjectId| (kind, name.to_owned(), id);
    let all = objects
        .flows
        .iter()
        .map(|f| named(Kind::Dataflow, &f.name, (&f.id).into()))
        .chain(
            objects
                .sources
                .iter()
                .map(|s| named(Kind::SourceConnection, &s.name, (&s.id).into())),
        )
        .chain(
            objects
                .targets
                .iter()
                .map(|t| named(Kind::TargetConnection, &t.name, (&t.id).into())),
        );
    all.map(|(kind, name, id)| {
        let mut change = Change::new(Action::Delete, kind, &name)
            .with_module(naming::module_of(&name, prefix, kind))
            .with_id(id.clone());
        change.reason = reason.map(str::to_owned);
        Removal {
            row: rows.push(change),
            id,
        }
    })
    .collect()
}

/// Owned objects of modules the profile no longer has, module by module (the delete runs them
/// phase by phase: dataflows, then connections). Their mapping sets stay (Data Prep cannot
/// delete them).
fn plan_removed_modules(desired: &Desired, managed: &Managed, rows: &mut Rows) -> Vec<Removal> {
    managed
        .modules()
        .into_iter()
        .filter(|module| desired.module(module).is_none())
        .flat_map(|module| {
            let reason = Some("the module is no longer in the profile");
            removal_rows(&managed.module(module), &managed.prefix, reason, rows)
        })
        .collect()
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
        .filter_map(DesiredModule::created_dataset)
        .collect();
    managed
        .datasets
        .iter()
        .filter(|d| !d.name.as_deref().is_some_and(|n| wanted.contains(n)))
        .map(|d| {
            let name = d.name.as_deref().unwrap_or("");
            let change = Change::new(Action::Delete, Kind::Dataset, name)
                .with_id(&d.id)
                .with_reason("no module of the profile uses it (--include-datasets)");
            Removal {
                row: rows.push(change),
                id: (&d.id).into(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
