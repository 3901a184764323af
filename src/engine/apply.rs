//! Executes a [`Plan`]: the base connection, then every module's chain concurrently (bounded by
//! `--concurrency`), then the datasets to delete. Within a module, the source connection, the
//! dataset and target connection, and the mapping set are written at the same time; the dataflow
//! follows; what it replaced is deleted last (dataflows before connections, so no delete is ever
//! refused with `1418-400`). A new module that still has to be explored (the base connection is
//! created by this run) explores within its chain, beside its dataset and target connection:
//! only its source connection and mapping set wait for the columns.
//!
//! Every create goes through [`ensure_leased`] with the create of its kind's module: a create
//! that may have committed without an answer is looked up before being tried again. The run
//! holds the profile's lease, so no concurrent apply makes a twin; only the base connection, which
//! carries the lease, is created with a twin check (a twin made at the same moment by a
//! concurrent run is resolved by keeping the oldest). Every PATCH carries the etag it was
//! computed from; a `412` re-reads the object, recomputes the change and tries once more.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use chrono::Utc;
use futures::stream::{self, StreamExt};
use tracing::Instrument;

use super::cancel::Cancel;
use super::delete::remove;
use super::desired::{self, Desired, DesiredError, DesiredModule, Resolved, Rule};
use super::ensure::{ensure_leased, Create, Ensured};
use super::explore::{explorable_base, explore_module, explore_modules};
use super::kinds::{self, mapping::SetRef};
use super::lease::Lease;
use super::ledger::{Failed, Ledger};
use super::observe::{self, Observed};
use super::plan::{
    self, BaseStep, Change, FlowStep, Inputs, MappingStep, ModuleStep, Plan, Row, Slot,
};
use super::select::Selection;
use crate::api::dataprep::MappingSetRef;
use crate::api::explore::Column;
use crate::api::{
    AepClient, ConnectionId, DatasetId, FlowId, MappingSetId, SourceConnectionId,
    TargetConnectionId,
};
use crate::profile::{DatasetTarget, Profile};
use crate::progress::Progress;

/// Options of one apply.
#[derive(Debug, Clone)]
pub struct Options {
    /// Modules converged at the same time.
    pub concurrency: usize,
    /// Stops new writes (an interrupt); [`Cancel::default`] for a run nothing interrupts.
    pub cancel: Cancel,
}

/// What an apply ended with: every change with the id it ended with, its `outcome` (and an
/// `error` on those that failed), and a message for a failure that belongs to no single change.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub changes: Vec<Change>,
    pub error: Option<String>,
    /// A concurrent apply created the base connection (and so holds the lease) first: nothing
    /// else was written; wait for its lease and plan again.
    pub contended: bool,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.changes.iter().any(|c| c.error.is_some())
    }
}

/// What `plan` and `apply` start from.
pub struct Prepared {
    pub desired: Desired,
    pub observed: Observed,
    pub plan: Plan,
    pub inputs: Inputs,
}

/// Why `prepare` could not make a plan.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The profile's managed names cannot be built from it.
    #[error(transparent)]
    Profile(#[from] DesiredError),
    /// Observing, planning or exploring failed.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Observes, plans, explores and validates what the plan will write ([`crate::validate`]), and
/// plans again: no writes.
pub async fn prepare(
    client: &AepClient,
    profile: &Profile,
    include_datasets: bool,
    concurrency: usize,
) -> Result<Prepared, PrepareError> {
    prepare_modules(
        client,
        profile,
        include_datasets,
        concurrency,
        &Selection::all(),
    )
    .await
}

/// [`prepare`] for the `selection`'s modules only (`--module`); the base connection is always
/// planned.
pub async fn prepare_modules(
    client: &AepClient,
    profile: &Profile,
    include_datasets: bool,
    concurrency: usize,
    selection: &Selection,
) -> Result<Prepared, PrepareError> {
    let mut desired = desired::build(profile)?;
    let mut observed = observe::observe(client, &desired.prefix)
        .await
        .map_err(anyhow::Error::from)?;
    selection.restrict_managed(&mut observed.managed, &desired);
    selection.restrict_desired(&mut desired);
    let mut inputs = Inputs {
        explored: BTreeMap::new(),
        now: Utc::now(),
        include_datasets,
    };
    let mut plan = plan::plan(&desired, &observed.managed, &inputs).map_err(anyhow::Error::from)?;
    let scope = validation_scope(&plan);
    let mut columns = BTreeMap::new();
    let explorable = explorable_base(&plan);
    // No existing base connection, or one whose credentials are rotated: this run sends them.
    let writes_credentials = explorable.is_none_or(|(_, rotating)| rotating);
    if let (Some((base, rotating)), false) = (explorable, scope.is_empty()) {
        let modules: Vec<&str> = scope.iter().map(String::as_str).collect();
        for (module, result) in explore_modules(client, base, &modules, concurrency).await {
            match result {
                // Apply explores again once the new credentials are in place; the validation
                // reads these modules' columns from Zoho's CRM API meanwhile.
                Err(e) if rotating => {
                    tracing::warn!(error = %e, "explore failed with the credentials being replaced; the affected modules are planned again after the base connection is updated");
                }
                result => {
                    columns.insert(module, result);
                }
            }
        }
    }
    let unmapped = crate::validate::before_write(
        client,
        profile,
        &scope,
        &columns,
        writes_credentials,
        concurrency,
    )
    .await
    .map_err(|e| anyhow::anyhow!(e))?;
    for module in &mut desired.modules {
        module.unmapped = unmapped.get(&module.module).cloned().unwrap_or_default();
    }
    let needed: BTreeSet<&str> = plan.to_explore().into_iter().collect();
    for (module, result) in columns {
        if let (true, Ok(cols)) = (needed.contains(module.as_str()), result) {
            inputs.explored.insert(module, cols);
        }
    }
    if !scope.is_empty() {
        plan = plan::plan(&desired, &observed.managed, &inputs).map_err(anyhow::Error::from)?;
    }
    Ok(Prepared {
        desired,
        observed,
        plan,
        inputs,
    })
}

/// The modules `plan` and `apply` validate: those the plan creates, replaces or updates, and those
/// it cannot plan without their columns. What exists unchanged was read by the list calls.
fn validation_scope(plan: &Plan) -> BTreeSet<String> {
    let changed = plan
        .changes
        .iter()
        .filter(|c| c.action != plan::Action::Noop && c.action != plan::Action::Delete)
        .filter_map(|c| c.module.as_deref());
    changed
        .chain(plan.to_explore())
        .map(str::to_owned)
        .collect()
}

/// Everything the tasks of one apply share.
struct Run<'a> {
    client: &'a AepClient,
    profile: &'a Profile,
    desired: &'a Desired,
    observed: &'a Observed,
    ledger: Ledger<'a>,
    concurrency: usize,
    /// The lease this run holds: creates need no twin check.
    lease: &'a Lease,
    /// Mapping sets some module of the run reuses (no two modules share one).
    claimed: Mutex<BTreeSet<MappingSetId>>,
}

/// Modules explored while the new base connection's twin check ran: each one's columns, or a
/// message naming it.
type Explored = BTreeMap<String, Result<Vec<Column>, String>>;

/// Applies `prepared.plan`. Modules not explored yet (the base connection did not exist or was
/// being rotated) are explored once the base connection is in place, and their part of the plan
/// is computed again with their columns. `lease` (taken by [`super::lease::take`]) keeps other
/// applies of the profile from writing meanwhile, so the creates skip their twin checks.
pub async fn execute(
    client: &AepClient,
    profile: &Profile,
    prepared: Prepared,
    options: &Options,
    lease: &Lease,
    progress: &Progress,
) -> Outcome {
    let Prepared {
        desired,
        observed,
        plan,
        inputs,
    } = prepared;
    let run = Run {
        client,
        profile,
        desired: &desired,
        observed: &observed,
        ledger: Ledger::new(plan.changes.clone(), progress, &options.cancel),
        concurrency: options.concurrency.max(1),
        lease,
        claimed: Mutex::default(),
    };
    // Reads that can fill the twin check's round trip: the first new modules' explores.
    let first_new: Vec<&str> = plan
        .modules
        .iter()
        .filter(|m| m.needs_explore() && m.is_new())
        .map(|m| m.module.as_str())
        .take(run.concurrency - 1)
        .collect();
    let (base, mut early) = match run.base(&plan.base, &first_new).await {
        Ok((Ensured { id, ours: true }, explored)) => (id, explored),
        Ok((Ensured { ours: false, .. }, _)) => {
            return Outcome {
                contended: true,
                ..run.outcome(None)
            }
        }
        Err(Failed) => return run.outcome(None),
    };
    // Only new modules can explore inside their chains; with any other module left to explore
    // (credentials being rotated), everything is explored and planned again first.
    let replan = plan
        .modules
        .iter()
        .any(|m| m.needs_explore() && !m.is_new());
    let plan = if replan {
        // The modules explored early are handed over whole: none is explored in its chain then.
        let early = std::mem::take(&mut early);
        match run.explore_and_replan(&plan, &base, &inputs, early).await {
            Ok(plan) => plan,
            Err(message) => return run.outcome(message),
        }
    } else {
        run.note_exploring(plan.to_explore().len(), &base);
        plan
    };
    run.claimed
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .extend(plan.modules.iter().filter_map(|m| match &m.mapping {
            MappingStep::Keep { id, .. } => Some(id.clone()),
            MappingStep::Create { .. } => None,
        }));
    let chains = stream::iter(plan.modules.iter())
        .map(|step| {
            let span = tracing::info_span!("module", module = %step.module);
            let explored = early.remove(&step.module);
            run.module(step, &base, explored).instrument(span)
        })
        .buffer_unordered(run.concurrency)
        .collect::<Vec<_>>();
    let removed = remove(client, &run.ledger, &plan.removed, run.concurrency)
        .instrument(tracing::info_span!("removed modules"));
    let (_, _) = futures::join!(chains, removed);
    let _ = remove(client, &run.ledger, &plan.datasets, run.concurrency).await;
    run.outcome(None)
}

impl Run<'_> {
    fn outcome(&self, error: Option<String>) -> Outcome {
        Outcome {
            changes: self.ledger.settled(),
            error,
            contended: false,
        }
    }

    /// Creates one object through [`ensure_leased`], recording the result on `row`.
    async fn create<C: Create>(&self, row: Row, new: C) -> Result<C::Id, Failed> {
        let work = async { Ok(ensure_leased(self.client, &new).await?) };
        self.ledger.step(row, work).await
    }

    /// The base connection, and whether this run may go on with it: `ours` is `false` when a
    /// concurrent run created it first (so that run's lease is on it). A new one's twin check
    /// runs beside the explores of the `early` modules, which come back with it.
    async fn base(
        &self,
        step: &BaseStep,
        early: &[&str],
    ) -> Result<(Ensured<ConnectionId>, Explored), Failed> {
        let spec = &self.observed.preflight.connection_spec;
        let (client, profile, base) = (self.client, self.profile, &self.desired.base);
        let existing = |id: &ConnectionId| Ensured {
            id: id.clone(),
            ours: true,
        };
        match step {
            BaseStep::Keep { connection, .. } => Ok((existing(&connection.id), Explored::new())),
            BaseStep::Create { row } => {
                let mut explored = Explored::new();
                let work = async {
                    let explore_early = |id: ConnectionId| async move {
                        explore_modules(client, &id, early, early.len()).await
                    };
                    let (created, etag, beside) =
                        kinds::base::create_checked(client, profile, base, spec, explore_early)
                            .await?;
                    explored.extend(beside.into_iter().flatten());
                    if created.ours {
                        self.lease.created(&created.id, etag);
                    }
                    Ok(created)
                };
                let created = self.ledger.step(*row, work).await?;
                Ok((created, explored))
            }
            BaseStep::Update {
                row,
                connection,
                rotate_auth,
                ..
            } => {
                let work = async {
                    let etag =
                        kinds::base::update(client, profile, spec, connection, base, *rotate_auth)
                            .await?;
                    self.lease.updated(etag, &base.description);
                    Ok(connection.id.clone())
                };
                let id = self.ledger.step(*row, work).await?;
                Ok((existing(&id), Explored::new()))
            }
        }
    }

    fn note_exploring(&self, modules: usize, base: &ConnectionId) {
        if modules > 0 {
            self.ledger.progress.note(&format!(
                "exploring {modules} module{} of base connection {base}",
                if modules == 1 { "" } else { "s" }
            ));
        }
    }

    /// Explores the modules the plan could not finish, checks their columns, and plans again.
    /// Those in `early` (explored beside the base connection's twin check) are not explored again.
    async fn explore_and_replan(
        &self,
        plan: &Plan,
        base: &ConnectionId,
        inputs: &Inputs,
        early: Explored,
    ) -> Result<Plan, Option<String>> {
        let modules: Vec<&ModuleStep> = plan.modules.iter().filter(|m| m.needs_explore()).collect();
        self.note_exploring(modules.len(), base);
        let names: Vec<&str> = modules
            .iter()
            .map(|m| m.module.as_str())
            .filter(|m| !early.contains_key(*m))
            .collect();
        let mut results = explore_modules(self.client, base, &names, self.concurrency).await;
        results.extend(early);
        let mut explored = inputs.explored.clone();
        let mut failed = false;
        for (module, result) in results {
            // Checked here too (the plan would stop at the first bad module) so that every
            // module's error lands on its own row.
            let checked = result.and_then(|cols| {
                let dm = self
                    .desired
                    .module(&module)
                    .ok_or_else(|| format!("module {module:?} is not in the profile"))?;
                dm.resolve(&cols).map_err(|e| e.0)?;
                Ok(cols)
            });
            match checked {
                Ok(cols) => {
                    explored.insert(module, cols);
                }
                Err(message) => {
                    failed = true;
                    if let Some(step) = modules.iter().find(|m| m.module == module) {
                        self.ledger.fail(step.source.row(), message);
                    }
                }
            }
        }
        if failed {
            return Err(None);
        }
        let inputs = Inputs {
            explored,
            ..inputs.clone()
        };
        let replanned = plan::plan(self.desired, &self.observed.managed, &inputs)
            .map_err(|e| Some(e.to_string()))?;
        // The base connection is row 0 of every plan; keep what happened to it.
        let mut changes = replanned.changes.clone();
        changes[0] = self.ledger.change(0);
        *self.ledger.lock() = changes;
        Ok(replanned)
    }

    /// One module's chain: the source connection, the dataset then target connection, and the
    /// mapping set at the same time (a new module's explore first, beside the dataset and target
    /// connection, for the other two); then the dataflow; then what it replaced. `early` is the
    /// module's explore if it ran beside the base connection's twin check.
    async fn module(
        &self,
        step: &ModuleStep,
        base: &ConnectionId,
        early: Option<Result<Vec<Column>, String>>,
    ) -> Result<(), Failed> {
        let Some(dm) = self.desired.module(&step.module) else {
            return Err(Failed);
        };
        let source_and_mapping = async {
            let explored;
            let (resolved, mapping) = match step.needs_explore() {
                true => {
                    explored = self.explore_new(step, dm, base, early).await?;
                    (explored.0.as_ref(), &explored.1)
                }
                false => (step.resolved.as_ref(), &step.mapping),
            };
            let source = self.source(step, dm, resolved, base);
            let mapping = self.mapping(mapping, dm, resolved);
            let (source, mapping) = futures::join!(source, mapping);
            Ok::<_, Failed>((source?, mapping?))
        };
        let target = async {
            let dataset = self.dataset(step, dm).await?;
            self.target(step, dm, &dataset).await
        };
        let (source_and_mapping, target) = futures::join!(source_and_mapping, target);
        let ((source, mapping), target) = (source_and_mapping?, target?);
        self.flow(step, dm, &source, &target, &mapping).await?;
        remove(self.client, &self.ledger, &step.removals, self.concurrency).await
    }

    /// Explores a new module ([`ModuleStep::is_new`]) and checks its columns as planning would;
    /// then settles what the plan left open without them: the source connection's columns and,
    /// for `mapping = "auto"`, the rules (which may already be held by a set an earlier run left).
    /// A failure lands on the source connection's row; the mapping set is then not created.
    /// `early` is its explore when that already ran.
    async fn explore_new(
        &self,
        step: &ModuleStep,
        dm: &DesiredModule,
        base: &ConnectionId,
        early: Option<Result<Vec<Column>, String>>,
    ) -> Result<(Option<Resolved>, MappingStep), Failed> {
        let row = step.source.row();
        let explored = match early {
            Some(explored) => explored,
            None => explore_module(self.client, base, &dm.module).await,
        };
        let resolved = match explored.and_then(|cols| dm.resolve(&cols).map_err(|e| e.0)) {
            Ok(resolved) => resolved,
            Err(message) => {
                self.ledger.fail(row, message);
                return Err(Failed);
            }
        };
        let names = resolved.column_names();
        self.ledger.lock()[row].attributes =
            Some(kinds::source::attributes(&dm.module, Some(&names)));
        let mapping = self.settle_mapping(&step.mapping, dm, &resolved.rules);
        Ok((Some(resolved), mapping))
    }

    /// The mapping step of a new module once explore has told its rules, decided as planning
    /// does ([`plan::mapping_row`]): explicit rules were known to the plan already; `"auto"`
    /// rules may be held by a set an earlier run left, which is then reused.
    fn settle_mapping(
        &self,
        planned: &MappingStep,
        dm: &DesiredModule,
        rules: &[Rule],
    ) -> MappingStep {
        let (MappingStep::Create { row }, None) = (planned, dm.rules()) else {
            return planned.clone();
        };
        let mut claimed = self.claimed.lock().unwrap_or_else(PoisonError::into_inner);
        let managed = &self.observed.managed;
        let (change, kept) = plan::mapping_row(dm, managed, None, Some(rules), &mut claimed);
        self.ledger.lock()[*row] = change;
        match kept {
            Some(set) => MappingStep::Keep {
                row: *row,
                id: set.id.clone(),
                version: set.version,
            },
            None => MappingStep::Create { row: *row },
        }
    }

    async fn source(
        &self,
        step: &ModuleStep,
        dm: &DesiredModule,
        resolved: Option<&Resolved>,
        base: &ConnectionId,
    ) -> Result<SourceConnectionId, Failed> {
        let row = match &step.source {
            Slot::Keep { id, .. } => return Ok(id.clone()),
            Slot::Create { row } => *row,
        };
        let Some(resolved) = resolved else {
            self.ledger.fail(row, unexplored(&dm.module));
            return Err(Failed);
        };
        let observed = &self.observed.managed.sources;
        let new =
            kinds::source::Draft::new(dm, &self.desired.prefix, base, &resolved.columns, observed);
        self.create(row, new).await
    }

    async fn dataset(&self, step: &ModuleStep, dm: &DesiredModule) -> Result<DatasetId, Failed> {
        let (row, name) = match (&step.dataset, &dm.dataset) {
            (_, DatasetTarget::Existing { id }) => return Ok(DatasetId::from(id.as_str())),
            (Some(Slot::Keep { id, .. }), _) => return Ok(id.clone()),
            (Some(Slot::Create { row }), DatasetTarget::Create { name }) => (*row, name),
            (None, DatasetTarget::Create { .. }) => {
                let message = format!(
                    "module {:?}: no dataset step was planned; run plan again",
                    dm.module
                );
                self.ledger.fail(step.target.row(), message);
                return Err(Failed);
            }
        };
        let observed = &self.observed.managed.datasets;
        let new = kinds::dataset::Draft::new(name, dm, &self.desired.prefix, observed);
        self.create(row, new).await
    }

    async fn target(
        &self,
        step: &ModuleStep,
        dm: &DesiredModule,
        dataset: &DatasetId,
    ) -> Result<TargetConnectionId, Failed> {
        let row = match &step.target {
            Slot::Keep { id, .. } => return Ok(id.clone()),
            Slot::Create { row } => *row,
        };
        let observed = &self.observed.managed.targets;
        let new = kinds::target::Draft::new(dm, &self.desired.prefix, dataset, observed);
        self.create(row, new).await
    }

    async fn mapping(
        &self,
        step: &MappingStep,
        dm: &DesiredModule,
        resolved: Option<&Resolved>,
    ) -> Result<MappingSetRef, Failed> {
        let row = match step {
            MappingStep::Keep { id, version, .. } => {
                return Ok(MappingSetRef {
                    id: id.clone(),
                    version: *version,
                })
            }
            MappingStep::Create { row } => *row,
        };
        let Some(rules) = resolved.map(|r| r.rules.clone()).or_else(|| dm.rules()) else {
            self.ledger.fail(row, unexplored(&dm.module));
            return Err(Failed);
        };
        let observed = &self.observed.managed.mapping_sets;
        let new = kinds::mapping::Draft::new(dm, &self.desired.prefix, &rules, observed);
        let SetRef(set) = self.create(row, new).await?;
        Ok(set)
    }

    async fn flow(
        &self,
        step: &ModuleStep,
        dm: &DesiredModule,
        source: &SourceConnectionId,
        target: &TargetConnectionId,
        mapping: &MappingSetRef,
    ) -> Result<FlowId, Failed> {
        match &step.flow {
            FlowStep::Keep { id, .. } => Ok(id.clone()),
            FlowStep::Update { row, flow } => {
                let work = kinds::flow::update(self.client, flow, dm, mapping);
                self.ledger.step(*row, work).await
            }
            FlowStep::Create { row } => {
                let links = kinds::flow::Links {
                    source,
                    target,
                    mapping,
                };
                let spec = &self.observed.preflight.flow_spec;
                let observed = &self.observed.managed.flows;
                let new = kinds::flow::Draft::new(dm, &self.desired.prefix, spec, links, observed);
                let id = self.create(*row, new).await?;
                if !dm.enabled {
                    // A new dataflow is enabled (docs/aep-api.md#dataflow): disable it now.
                    let work = async {
                        kinds::flow::set_state(self.client, &id, false).await?;
                        Ok::<_, anyhow::Error>(id.clone())
                    };
                    self.ledger.step(*row, work).await?;
                }
                Ok(id)
            }
        }
    }
}

fn unexplored(module: &str) -> String {
    format!("module {module:?} was not explored, so its columns are unknown; run apply again")
}
