//! Executes a [`Plan`]: the base connection, then every module's chain concurrently (bounded by
//! `--concurrency`), then the datasets to delete. Within a module, the source connection, the
//! dataset and target connection, and the mapping set are written at the same time; the dataflow
//! follows; what it replaced is deleted last (dataflows before connections, so no delete is ever
//! refused with `1418-400`).
//!
//! Every create goes through [`ensure`]: a create that may have committed without an answer is
//! looked up before being tried again, and a twin made at the same moment by a concurrent run is
//! resolved by keeping the oldest. Every PATCH carries the etag it was computed from; a `412`
//! re-reads the object, recomputes the change and tries once more.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::IsTerminal;
use std::sync::Mutex;

use chrono::Utc;
use futures::stream::{self, StreamExt};

use crate::api::catalog::{self, NewDataset};
use crate::api::connections::{self, AuthParams, Connection, NewConnection};
use crate::api::dataprep::{self, MappingSetRef, NewMapping, NewMappingSet};
use crate::api::error::ApiErrorKind;
use crate::api::explore::{self, Column};
use crate::api::flows::{self, DeltaColumn, Flow, IntervalEncoding, NewFlow};
use crate::api::http::HttpOptions;
use crate::api::source::{self, NewSourceConnection};
use crate::api::specs::{
    ConnectionSpec, SpecRef, BASIC_AUTHENTICATION, DATA_LAKE_SPEC_ID, ZOHO_CRM_SPEC_VERSION,
};
use crate::api::target::{self, NewTargetConnection};
use crate::api::{
    AepClient, ApiError, ConnectionId, Created, DatasetId, Etag, FlowId, MappingSetId, PatchOp,
    Query, SourceConnectionId, TargetConnectionId, LIST_LIMIT,
};
use crate::cli::{ApplyArgs, GlobalArgs, PlanArgs};
use crate::desired::{self, Desired, DesiredModule, Resolved};
use crate::error::{CliError, CliResult, Exit};
use crate::naming;
use crate::observe::{self, Observed};
use crate::output::{self, ChangesDocument};
use crate::plan::{
    self, Action, BaseStep, Change, FlowStep, Inputs, Kind, MappingStep, ModuleStep, Plan, Removal,
    Row, Slot,
};
use crate::profile::{DatasetTarget, Profile};
use crate::progress::Progress;
use crate::transport::{CallKind, RetryPolicy, Verdict};

/// How `scheduleParams.interval` is sent (reference §13 #8: the flow spec's validator says
/// integer).
const INTERVAL_ENCODING: IntervalEncoding = IntervalEncoding::Integer;
/// Modules `plan` explores at the same time.
const PLAN_CONCURRENCY: usize = 8;

/// Options of one apply.
#[derive(Debug, Clone)]
pub struct Options {
    /// Modules converged at the same time.
    pub concurrency: usize,
}

/// What an apply ended with: every change with the id it ended with (and an `error` on those
/// that failed), and a message for a failure that belongs to no single change.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub changes: Vec<Change>,
    pub error: Option<String>,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.changes.iter().any(|c| c.error.is_some())
    }
}

/// A change failed; its row carries the message.
#[derive(Debug)]
struct Failed;

/// Everything the tasks of one apply share.
struct Run<'a> {
    client: &'a AepClient,
    profile: &'a Profile,
    desired: &'a Desired,
    observed: &'a Observed,
    progress: &'a Progress,
    changes: Mutex<Vec<Change>>,
    concurrency: usize,
}

/// Applies `plan`, made from `observed` with `inputs`. Modules not explored yet (the base
/// connection did not exist or was being rotated) are explored once the base connection is in
/// place, and their part of the plan is computed again with their columns.
pub async fn execute(
    client: &AepClient,
    profile: &Profile,
    prepared: Prepared,
    options: &Options,
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
        progress,
        changes: Mutex::new(plan.changes.clone()),
        concurrency: options.concurrency.max(1),
    };
    let Ok(base) = run.base(&plan.base).await else {
        return run.outcome(None);
    };
    let plan = if plan.to_explore().is_empty() {
        plan
    } else {
        match run.explore_and_replan(&plan, &base, &inputs).await {
            Ok(plan) => plan,
            Err(message) => return run.outcome(message),
        }
    };
    let chains = stream::iter(plan.modules.iter())
        .map(|step| run.module(step, &base))
        .buffer_unordered(run.concurrency)
        .collect::<Vec<_>>();
    let removed = run.remove(&plan.removed);
    let (_, _) = futures::join!(chains, removed);
    let _ = run.remove(&plan.datasets).await;
    run.outcome(None)
}

impl Run<'_> {
    fn outcome(&self, error: Option<String>) -> Outcome {
        Outcome {
            changes: self.lock().clone(),
            error,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Change>> {
        // A panic while holding the lock cannot happen (only plain field writes happen under
        // it); recover the data rather than propagate a poison.
        self.changes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn change(&self, row: Row) -> Change {
        self.lock()[row].clone()
    }

    /// Runs `work` for the change at `row` with progress shown, and records the id it ends
    /// with or the error.
    async fn step<T, F>(&self, row: Row, work: F) -> Result<T, Failed>
    where
        T: ToString,
        F: Future<Output = anyhow::Result<T>>,
    {
        let shown = self.progress.start(&self.change(row));
        match work.await {
            Ok(value) => {
                let id = value.to_string();
                shown.done(Some(&id));
                self.lock()[row].id = Some(id);
                Ok(value)
            }
            Err(error) => {
                let message = format!("{error:#}");
                shown.failed(&message);
                self.lock()[row].error = Some(message);
                Err(Failed)
            }
        }
    }

    fn fail(&self, row: Row, message: String) {
        self.progress.note(&format!("error: {message}"));
        self.lock()[row].error = Some(message);
    }

    fn marker(&self) -> String {
        naming::owner_marker(&self.desired.prefix)
    }

    // ---- base connection -------------------------------------------------------------------

    async fn base(&self, step: &BaseStep) -> Result<ConnectionId, Failed> {
        match step {
            BaseStep::Keep { connection, .. } => Ok(connection.id.clone()),
            BaseStep::Create { row } => self.step(*row, self.create_base()).await,
            BaseStep::Update {
                row,
                connection,
                rotate_auth,
                description,
            } => {
                self.step(
                    *row,
                    self.update_base(connection, *rotate_auth, *description),
                )
                .await
            }
        }
    }

    async fn create_base(&self) -> anyhow::Result<ConnectionId> {
        create_base_connection(
            self.client,
            self.profile,
            &self.desired.base,
            &self.observed.preflight.connection_spec,
        )
        .await
    }

    async fn auth_params(&self) -> anyhow::Result<AuthParams> {
        base_connection_params(self.profile, &self.observed.preflight.connection_spec).await
    }

    async fn update_base(
        &self,
        current: &Connection,
        rotate_auth: bool,
        description: bool,
    ) -> anyhow::Result<ConnectionId> {
        let client = self.client;
        let id = &current.id;
        let mut etag = current.etag.clone();
        if rotate_auth {
            let params = &self.auth_params().await?;
            // Secrets cannot be read back to tell whether a lost PATCH landed: send it again.
            etag = self
                .patch_connection(
                    id,
                    etag,
                    |tag| async move {
                        connections::patch_connection_auth(client, id, &tag, params).await
                    },
                    |_| true,
                )
                .await?;
        }
        if rotate_auth || description {
            let wanted = self.desired.base.description.as_str();
            let ops = [PatchOp::replace("/description", wanted)];
            let ops = &ops;
            self.patch_connection(
                id,
                etag,
                |tag| async move { connections::patch_connection(client, id, &tag, ops).await },
                |fresh| fresh.description.as_deref() != Some(wanted),
            )
            .await?;
        }
        Ok(id.clone())
    }

    /// Sends a base connection PATCH with `etag`. When the etag was stale (412) or the answer
    /// was lost, re-reads the connection and sends it once more with the fresh etag, if `needed`
    /// says the change is still missing. Returns the etag the connection ended with.
    async fn patch_connection<F, Fut>(
        &self,
        id: &ConnectionId,
        etag: Option<Etag>,
        send: F,
        needed: impl Fn(&Connection) -> bool,
    ) -> anyhow::Result<Option<Etag>>
    where
        F: Fn(Etag) -> Fut,
        Fut: Future<Output = Result<Created<ConnectionId>, ApiError>>,
    {
        let first = match etag {
            Some(tag) => send(tag).await,
            None => Err(missing_etag("connection", id.as_str())),
        };
        match first {
            Ok(done) => Ok(done.etag),
            Err(e) if stale_or_lost(&e) => {
                tracing::info!(connection = %id, error = %e, "re-reading the base connection before patching again");
                let fresh = self.reread_connection(id).await?;
                if !needed(&fresh) {
                    return Ok(fresh.etag);
                }
                let tag = fresh
                    .etag
                    .ok_or_else(|| missing_etag("connection", id.as_str()))?;
                Ok(send(tag).await?.etag)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn reread_connection(&self, id: &ConnectionId) -> anyhow::Result<Connection> {
        connections::get_connection(self.client, id)
            .await?
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "base connection {id} disappeared while it was being updated; run apply again"
                )
            })
    }

    // ---- explore ---------------------------------------------------------------------------

    /// Explores the modules the plan could not finish, checks their columns, and plans again.
    async fn explore_and_replan(
        &self,
        plan: &Plan,
        base: &ConnectionId,
        inputs: &Inputs,
    ) -> Result<Plan, Option<String>> {
        let modules: Vec<&ModuleStep> = plan.modules.iter().filter(|m| m.needs_explore()).collect();
        self.progress.note(&format!(
            "exploring {} module{} of base connection {base}",
            modules.len(),
            if modules.len() == 1 { "" } else { "s" }
        ));
        let names: Vec<&str> = modules.iter().map(|m| m.module.as_str()).collect();
        let results = explore_modules(self.client, base, &names, self.concurrency).await;
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
                        self.fail(step.source.row(), message);
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
        let base_row = self.change(0);
        let mut changes = replanned.changes.clone();
        changes[0] = base_row;
        *self.lock() = changes;
        Ok(replanned)
    }

    // ---- one module ------------------------------------------------------------------------

    async fn module(&self, step: &ModuleStep, base: &ConnectionId) -> Result<(), Failed> {
        let Some(dm) = self.desired.module(&step.module) else {
            return Err(Failed);
        };
        let resolved = step.resolved.as_ref();
        let source = self.source(step, dm, resolved, base);
        let target = async {
            let dataset = self.dataset(step, dm).await?;
            self.target(step, dm, &dataset).await
        };
        let mapping = self.mapping(step, dm, resolved);
        let (source, target, mapping) = futures::join!(source, target, mapping);
        let (source, target, mapping) = (source?, target?, mapping?);
        self.flow(step, dm, &source, &target, &mapping).await?;
        self.remove(&step.removals).await
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
            self.fail(row, unexplored(&dm.module));
            return Err(Failed);
        };
        let new = NewSourceConnection {
            name: dm.source_name.clone(),
            description: Some(self.marker()),
            base_connection_id: base.clone(),
            table_name: dm.module.clone(),
            columns: resolved.columns.clone(),
            connection_spec: SpecRef::zoho_crm(),
        };
        let client = self.client;
        let seen: BTreeSet<&str> = self
            .observed
            .managed
            .sources
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        let want: BTreeSet<&str> = resolved.columns.iter().map(|c| c.name.as_str()).collect();
        let prefix = self.desired.prefix.as_str();
        self.step(row, async {
            Ok(ensure(
                || async {
                    source::create_source_connection(client, &new)
                        .await
                        .map(|c| c.id)
                },
                || async {
                    let query = Query::new()
                        .property_eq("baseConnectionId", &[base.as_str()])
                        .property_eq("params.tableName", &[dm.module.as_str()])
                        .param("limit", LIST_LIMIT.to_string());
                    let all = source::list_source_connections(client, &query).await?;
                    Ok(all
                        .into_iter()
                        .filter(|s| {
                            s.name == dm.source_name
                                && naming::is_owned(s.description.as_deref(), prefix)
                                && !seen.contains(s.id.as_str())
                                && s.params
                                    .columns
                                    .iter()
                                    .map(|c| c.name.as_str())
                                    .collect::<BTreeSet<_>>()
                                    == want
                        })
                        .map(|s| Found {
                            created_at: s.created_at,
                            id: s.id,
                        })
                        .collect())
                },
                Some(|id: SourceConnectionId| async move {
                    source::delete_source_connection(client, &id).await
                }),
            )
            .await?)
        })
        .await
    }

    async fn dataset(&self, step: &ModuleStep, dm: &DesiredModule) -> Result<DatasetId, Failed> {
        let (row, name) = match (&step.dataset, &dm.dataset) {
            (_, DatasetTarget::Existing { id }) => return Ok(DatasetId::from(id.as_str())),
            (Some(Slot::Keep { id, .. }), _) => return Ok(id.clone()),
            (Some(Slot::Create { row }), DatasetTarget::Create { name }) => (*row, name),
            (None, DatasetTarget::Create { .. }) => {
                self.fail(
                    step.target.row(),
                    format!(
                        "module {:?}: no dataset step was planned; run plan again",
                        dm.module
                    ),
                );
                return Err(Failed);
            }
        };
        let mut new = NewDataset::new(name.clone(), dm.schema_id.clone());
        new.description = Some(self.marker());
        let client = self.client;
        let marker = self.marker();
        let seen: BTreeSet<&str> = self
            .observed
            .managed
            .datasets
            .iter()
            .map(|d| d.id.as_str())
            .collect();
        self.step(row, async {
            Ok(ensure(
                || catalog::create_dataset(client, &new),
                || async {
                    let query = Query::new()
                        .property_eq("name", &[name.as_str()])
                        .param("properties", "name,description,schemaRef,created");
                    let all = catalog::list_datasets(client, &query).await?;
                    Ok(all
                        .into_iter()
                        .filter(|d| {
                            d.name.as_deref() == Some(name.as_str())
                                && d.description.as_deref() == Some(marker.as_str())
                                && d.schema_id() == Some(dm.schema_id.as_str())
                                && !seen.contains(d.id.as_str())
                        })
                        .map(|d| Found {
                            created_at: d.created,
                            id: d.id,
                        })
                        .collect())
                },
                Some(|id: DatasetId| async move { catalog::delete_dataset(client, &id).await }),
            )
            .await?)
        })
        .await
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
        let new = NewTargetConnection {
            name: dm.target_name.clone(),
            description: Some(self.marker()),
            schema_id: dm.schema_id.clone(),
            dataset_id: dataset.clone(),
        };
        let client = self.client;
        let prefix = self.desired.prefix.as_str();
        let seen: BTreeSet<&str> = self
            .observed
            .managed
            .targets
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        self.step(row, async {
            Ok(ensure(
                || async {
                    target::create_target_connection(client, &new)
                        .await
                        .map(|c| c.id)
                },
                || async {
                    let query = Query::new()
                        .property_eq("connectionSpec.id", &[DATA_LAKE_SPEC_ID])
                        .property_eq("params.dataSetId", &[dataset.as_str()])
                        .param("limit", LIST_LIMIT.to_string());
                    let all = target::list_target_connections(client, &query).await?;
                    Ok(all
                        .into_iter()
                        .filter(|t| {
                            t.name == dm.target_name
                                && naming::is_owned(t.description.as_deref(), prefix)
                                && t.dataset_id() == Some(dataset)
                                && t.schema_id() == Some(dm.schema_id.as_str())
                                && !seen.contains(t.id.as_str())
                        })
                        .map(|t| Found {
                            created_at: t.created_at,
                            id: t.id,
                        })
                        .collect())
                },
                Some(|id: TargetConnectionId| async move {
                    target::delete_target_connection(client, &id).await
                }),
            )
            .await?)
        })
        .await
    }

    async fn mapping(
        &self,
        step: &ModuleStep,
        dm: &DesiredModule,
        resolved: Option<&Resolved>,
    ) -> Result<MappingSetRef, Failed> {
        let row = match &step.mapping {
            MappingStep::Keep { id, version, .. } => {
                return Ok(MappingSetRef {
                    id: id.clone(),
                    version: *version,
                })
            }
            MappingStep::Create { row } => *row,
        };
        let Some(rules) = resolved.map(|r| r.rules.clone()).or_else(|| dm.rules()) else {
            self.fail(row, unexplored(&dm.module));
            return Err(Failed);
        };
        let prefix = self.desired.prefix.as_str();
        let mut new = NewMappingSet::new(
            dm.schema_id.clone(),
            rules
                .iter()
                .map(|r| NewMapping::attribute(r.source.clone(), r.destination.clone()))
                .collect(),
        );
        let description = naming::mapping_set_description(prefix, &dm.module);
        new.name = Some(naming::mapping_sets_name(prefix));
        new.description = Some(description.clone());
        let client = self.client;
        let seen: BTreeSet<&MappingSetId> = self
            .observed
            .managed
            .mapping_sets
            .iter()
            .map(|m| &m.id)
            .collect();
        let rules = &rules;
        let schema = dm.schema_id.as_str();
        let description = description.as_str();
        self.step(row, async {
            Ok(ensure(
                || async { dataprep::create_mapping_set(client, &new).await.map(SetRef) },
                || async {
                    let name = naming::mapping_sets_name(prefix);
                    let all = dataprep::list_mapping_sets(client, Some(&name)).await?;
                    Ok(all
                        .into_iter()
                        // Every module's set has the same name, and modules may map the same
                        // rules: only the module's own description tells its twin from another
                        // module's set made by this very run.
                        .filter(|m| {
                            m.name.as_deref() == Some(name.as_str())
                                && m.description() == Some(description)
                                && plan::holds(m, rules, schema)
                                && !seen.contains(&m.id)
                        })
                        .map(|m| Found {
                            created_at: m.created_date,
                            id: SetRef(m.reference()),
                        })
                        .collect())
                },
                // Data Prep has no DELETE for mapping sets: a twin stays, unused.
                NO_DELETE,
            )
            .await?)
        })
        .await
        .map(|set| set.0)
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
                self.step(*row, self.update_flow(flow, dm, mapping)).await
            }
            FlowStep::Create { row } => {
                let new = NewFlow {
                    name: dm.flow_name.clone(),
                    description: Some(self.marker()),
                    flow_spec: SpecRef::new(
                        self.observed.preflight.flow_spec.id.clone(),
                        self.observed
                            .preflight
                            .flow_spec
                            .version
                            .as_deref()
                            .unwrap_or(ZOHO_CRM_SPEC_VERSION),
                    ),
                    source_connection_ids: vec![source.clone()],
                    target_connection_ids: vec![target.clone()],
                    delta_column: DeltaColumn::named(dm.delta_column.clone()),
                    mapping: mapping.clone(),
                    schedule: dm.schedule.clone(),
                    interval_encoding: INTERVAL_ENCODING,
                };
                let client = self.client;
                let prefix = self.desired.prefix.as_str();
                let spec = &self.observed.preflight.flow_spec.id;
                let seen: BTreeSet<&str> = self
                    .observed
                    .managed
                    .flows
                    .iter()
                    .map(|f| f.id.as_str())
                    .collect();
                self.step(*row, async {
                    Ok(ensure(
                        || async { flows::create_flow(client, &new).await.map(|c| c.id) },
                        || async {
                            let all =
                                flows::list_flows_by_names(client, spec, &[dm.flow_name.as_str()])
                                    .await?;
                            Ok(all
                                .into_iter()
                                .filter(|f| {
                                    f.name == dm.flow_name
                                        && naming::is_owned(f.description.as_deref(), prefix)
                                        && f.source_connection_ids == [source.clone()]
                                        && f.target_connection_ids == [target.clone()]
                                        && !seen.contains(f.id.as_str())
                                })
                                .map(|f| Found {
                                    created_at: f.created_at,
                                    id: f.id,
                                })
                                .collect())
                        },
                        Some(|id: FlowId| async move { flows::delete_flow(client, &id).await }),
                    )
                    .await?)
                })
                .await
            }
        }
    }

    /// PATCHes the schedule and the Mapping transformation; a stale etag (412), or an answer lost
    /// to a timeout or 5xx, re-reads the flow and re-applies only what is still different.
    async fn update_flow(
        &self,
        flow: &Flow,
        dm: &DesiredModule,
        mapping: &MappingSetRef,
    ) -> anyhow::Result<FlowId> {
        let ops = flow_ops(flow, dm, mapping);
        if ops.is_empty() {
            return Ok(flow.id.clone());
        }
        let answer = match &flow.etag {
            Some(etag) => flows::patch_flow(self.client, &flow.id, etag, &ops).await,
            None => Err(missing_etag("flow", flow.id.as_str())),
        };
        match answer {
            Ok(_) => Ok(flow.id.clone()),
            Err(e) if stale_or_lost(&e) => {
                tracing::info!(flow = %flow.id, error = %e, "re-reading the dataflow before patching again");
                let fresh = flows::get_flow(self.client, &flow.id)
                    .await?
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "dataflow {} disappeared while it was being updated; run apply again",
                            flow.id
                        )
                    })?;
                let ops = flow_ops(&fresh, dm, mapping);
                if !ops.is_empty() {
                    let etag = fresh
                        .etag
                        .clone()
                        .ok_or_else(|| missing_etag("flow", flow.id.as_str()))?;
                    flows::patch_flow(self.client, &fresh.id, &etag, &ops).await?;
                }
                Ok(flow.id.clone())
            }
            Err(e) => Err(e.into()),
        }
    }

    // ---- deletes ---------------------------------------------------------------------------

    /// Deletes `removals`: dataflows first, then the rest (the base connection and datasets
    /// refuse to go while something uses them). An object already gone counts as deleted.
    async fn remove(&self, removals: &[Removal]) -> Result<(), Failed> {
        let (flows, others): (Vec<&Removal>, Vec<&Removal>) =
            removals.iter().partition(|r| r.kind == Kind::Dataflow);
        let mut ok = true;
        for phase in [flows, others] {
            let results: Vec<Result<(), Failed>> = stream::iter(phase)
                .map(|r| self.delete(r))
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
            ok &= results.iter().all(Result::is_ok);
            if !ok {
                // Connections of a dataflow that could not be deleted cannot go either.
                return Err(Failed);
            }
        }
        Ok(())
    }

    async fn delete(&self, removal: &Removal) -> Result<(), Failed> {
        let row = self.change(removal.row);
        let shown = self.progress.start(&Change {
            action: Action::Delete,
            id: Some(removal.id.clone()),
            ..row.clone()
        });
        match delete_object(self.client, removal.kind, &removal.id).await {
            Ok(()) => {
                shown.done(Some(&removal.id));
                if row.action == Action::Delete {
                    self.lock()[removal.row].id = Some(removal.id.clone());
                }
                Ok(())
            }
            Err(e) => {
                let message = format!("deleting {} {}: {e}", removal.kind, removal.id);
                shown.failed(&e.to_string());
                self.lock()[removal.row].error = Some(message);
                Err(Failed)
            }
        }
    }
}

/// Deletes one object by kind and id; 404 counts as done (a second destroy is a no-op).
pub async fn delete_object(client: &AepClient, kind: Kind, id: &str) -> Result<(), ApiError> {
    let result = match kind {
        Kind::Dataflow => flows::delete_flow(client, &FlowId::from(id)).await,
        Kind::SourceConnection => {
            source::delete_source_connection(client, &SourceConnectionId::from(id)).await
        }
        Kind::TargetConnection => {
            target::delete_target_connection(client, &TargetConnectionId::from(id)).await
        }
        Kind::BaseConnection => {
            connections::delete_connection(client, &ConnectionId::from(id)).await
        }
        Kind::Dataset => catalog::delete_dataset(client, &DatasetId::from(id)).await,
        Kind::MappingSet => Ok(()),
    };
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// A mapping set reference: shown by its id in progress lines and rows, ordered by id.
#[derive(Clone, PartialEq, Eq)]
struct SetRef(MappingSetRef);

impl std::fmt::Display for SetRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.id)
    }
}

impl PartialOrd for SetRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SetRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.0.id, self.0.version).cmp(&(&other.0.id, other.0.version))
    }
}

type NoDelete = fn(SetRef) -> std::future::Ready<Result<(), ApiError>>;
const NO_DELETE: Option<NoDelete> = None;

fn unexplored(module: &str) -> String {
    format!("module {module:?} was not explored, so its columns are unknown; run apply again")
}

fn missing_etag(what: &str, id: &str) -> ApiError {
    ApiError::decode(
        &format!("GET {what} {id}"),
        format!("the {what} {id} came back without an etag, which a PATCH needs"),
    )
}

/// The JSON Patch ops that make `flow`'s schedule and Mapping transformation what the profile
/// and `mapping` ask for.
pub fn flow_ops(flow: &Flow, dm: &DesiredModule, mapping: &MappingSetRef) -> Vec<PatchOp> {
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

/// Explores one module's table: its columns, or a message naming the module and the nearest
/// table names when explore does not know it.
async fn explore_module(
    client: &AepClient,
    base: &ConnectionId,
    module: &str,
) -> Result<Vec<Column>, String> {
    match explore::explore_table(client, base, module, false).await {
        Ok(details) if !details.columns.is_empty() => Ok(details.columns),
        Ok(_) => Err(format!(
            "module {module:?}: explore lists no columns for it; check the module's path with \
             `provision explore`"
        )),
        Err(e) if e.is_not_found() || e.status == Some(400) => {
            let tables = explore::explore_root(client, base)
                .await
                .unwrap_or_default();
            let hint = desired::nearest(module, tables.iter().map(|t| t.path.as_str()))
                .map(|p| format!(" (did you mean {p:?}?)"))
                .unwrap_or_default();
            Err(format!(
                "module {module:?}: the base connection's explore does not know this module{hint}; \
                 use a path that `provision explore` lists ({e})"
            ))
        }
        Err(e) => Err(format!("module {module:?}: explore failed: {e}")),
    }
}

/// One object a lookup found.
pub struct Found<I> {
    pub id: I,
    /// Epoch milliseconds, when the service says.
    pub created_at: Option<i64>,
}

/// A PATCH that must be recomputed from a fresh read: its etag was stale (412), or it may have
/// been carried out without an answer.
fn stale_or_lost(error: &ApiError) -> bool {
    error.is_precondition_failed() || may_have_committed(error)
}

/// Whether a failed write may still have been carried out (no answer, or a server error).
pub fn may_have_committed(error: &ApiError) -> bool {
    match error.kind {
        ApiErrorKind::Transport | ApiErrorKind::Decode => true,
        ApiErrorKind::Status => error.status.is_some_and(|s| s >= 500),
    }
}

/// Creates one object without ever duplicating it; the one create function every kind uses.
///
/// - `create` is sent. When it fails in a way that may hide a commit ([`may_have_committed`]),
///   `lookup` looks for the object; it is created again only when absent, with the backoff and
///   deadline the HTTP retry policy gives a read.
/// - After a create, `lookup` runs again: a twin made at the same moment by a concurrent run is
///   resolved by keeping the oldest (`createdAt`, then id); when that is not ours, ours is
///   deleted (if `delete` is given) and the survivor is used.
///
/// `lookup` returns the objects equivalent to the one being created (same name, owned, same
/// content) that did not exist when the plan was made.
pub async fn ensure<I, C, CF, L, LF, D, DF>(
    create: C,
    lookup: L,
    delete: Option<D>,
) -> Result<I, ApiError>
where
    I: Clone + PartialEq + Ord + std::fmt::Display,
    C: Fn() -> CF,
    CF: Future<Output = Result<I, ApiError>>,
    L: Fn() -> LF,
    LF: Future<Output = Result<Vec<Found<I>>, ApiError>>,
    D: Fn(I) -> DF,
    DF: Future<Output = Result<(), ApiError>>,
{
    // Once the look-up has shown the object absent, sending the create again is as safe as a
    // read: it is repeated for as long as the retry policy's deadline allows.
    let mut attempts = RetryPolicy::default().start(CallKind::Read);
    let ours = loop {
        attempts.begin();
        match create().await {
            Ok(id) => break id,
            Err(e) if may_have_committed(&e) => {
                tracing::warn!(error = %e, "the create may have been carried out; looking it up before trying again");
                if let Some(found) = oldest(lookup().await?) {
                    return Ok(found.id);
                }
                match attempts.next_delay(Verdict::Transient(e.retry_after)) {
                    Ok(wait) => tokio::time::sleep(wait).await,
                    Err(_) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    };
    let found = lookup().await?;
    let mine = found.iter().find(|f| f.id == ours).map(|f| f.created_at);
    let Some(survivor) = oldest(found.into_iter().filter(|f| f.id != ours).collect()) else {
        return Ok(ours);
    };
    // Ours is older only when the service shows it with an earlier (createdAt, id).
    let ours_first = match mine {
        Some(at) => key(at, &ours) < key(survivor.created_at, &survivor.id),
        None => false,
    };
    if ours_first {
        return Ok(ours);
    }
    tracing::warn!(ours = %ours, survivor = %survivor.id, "a concurrent run created the same object first; keeping the oldest");
    if let Some(delete) = delete {
        if let Err(e) = delete(ours.clone()).await {
            tracing::warn!(id = %ours, error = %e, "could not delete the duplicate; the next apply deletes it");
        }
    }
    Ok(survivor.id)
}

fn key<I: Ord + Clone>(at: Option<i64>, id: &I) -> (i64, I) {
    (at.unwrap_or(i64::MAX), id.clone())
}

fn oldest<I: Ord + Clone>(found: Vec<Found<I>>) -> Option<Found<I>> {
    found.into_iter().min_by_key(|f| key(f.created_at, &f.id))
}

/// Explores `modules` through `base`, at most `concurrency` at a time: each module's columns, or
/// a message naming it.
async fn explore_modules(
    client: &AepClient,
    base: &ConnectionId,
    modules: &[&str],
    concurrency: usize,
) -> Vec<(String, Result<Vec<Column>, String>)> {
    let mut results: Vec<(String, Result<Vec<Column>, String>)> =
        stream::iter(modules.iter().copied())
            .map(|m| async move { (m.to_owned(), explore_module(client, base, m).await) })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    results
}

/// The modules the plan left unexplored, explored: for `plan`, which cannot write.
pub async fn explore_for_plan(
    client: &AepClient,
    base: &ConnectionId,
    modules: &[&str],
    concurrency: usize,
) -> Result<BTreeMap<String, Vec<Column>>, String> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for (module, result) in explore_modules(client, base, modules, concurrency).await {
        match result {
            Ok(cols) => {
                out.insert(module, cols);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("\n"))
    }
}

/// The existing base connection a plan can explore through, and whether its credentials are
/// about to be replaced (explore may then fail, as the old ones may be revoked already).
pub fn explorable_base(plan: &Plan) -> Option<(&ConnectionId, bool)> {
    match &plan.base {
        BaseStep::Keep { connection, .. } => Some((&connection.id, false)),
        BaseStep::Update {
            connection,
            rotate_auth,
            ..
        } => Some((&connection.id, *rotate_auth)),
        BaseStep::Create { .. } => None,
    }
}

// ---- the `plan` and `apply` commands -----------------------------------------------------

/// What `plan` and `apply` start from.
pub struct Prepared {
    pub desired: Desired,
    pub observed: Observed,
    pub plan: Plan,
    pub inputs: Inputs,
}

/// The AEP client of a command: one connection pool, token cache and rate limiter.
pub fn client(profile: &Profile) -> Result<AepClient, CliError> {
    crate::clients::aep(profile, HttpOptions::default()).map_err(CliError::failed)
}

/// Observes, plans, explores what the plan needs and plans again: no writes.
pub async fn prepare(
    client: &AepClient,
    profile: &Profile,
    include_datasets: bool,
    concurrency: usize,
) -> Result<Prepared, CliError> {
    let desired = desired::build(profile).map_err(|e| CliError::new(Exit::Profile, e))?;
    let observed = observe::observe(client, &desired.prefix)
        .await
        .map_err(CliError::failed)?;
    let mut inputs = Inputs {
        explored: BTreeMap::new(),
        now: Utc::now(),
        include_datasets,
    };
    let mut plan = plan::plan(&desired, &observed.managed, &inputs).map_err(CliError::failed)?;
    let modules: Vec<String> = plan.to_explore().into_iter().map(str::to_owned).collect();
    if let (Some((base, rotating)), false) = (explorable_base(&plan), modules.is_empty()) {
        let modules: Vec<&str> = modules.iter().map(String::as_str).collect();
        match explore_for_plan(client, base, &modules, concurrency).await {
            Ok(explored) => {
                inputs.explored = explored;
                plan =
                    plan::plan(&desired, &observed.managed, &inputs).map_err(CliError::failed)?;
            }
            // Apply explores again once the new credentials are in place.
            Err(e) if rotating => {
                tracing::warn!(error = %e, "explore failed with the credentials being replaced; the affected modules are planned again after the base connection is updated");
            }
            Err(e) => return Err(CliError::failed(anyhow::anyhow!(e))),
        }
    }
    Ok(Prepared {
        desired,
        observed,
        plan,
        inputs,
    })
}

/// `provision plan`.
pub async fn plan_command(profile: &Profile, args: &PlanArgs, global: &GlobalArgs) -> CliResult {
    let client = client(profile)?;
    let prepared = prepare(&client, profile, args.include_datasets, PLAN_CONCURRENCY).await?;
    let doc = ChangesDocument::new(&profile.path, &prepared.plan.changes);
    output::print_plan(global.output, &doc)?;
    Ok(if args.detailed_exitcode && prepared.plan.has_changes() {
        Exit::ChangesPending
    } else {
        Exit::Ok
    })
}

/// `provision apply`.
pub async fn apply_command(profile: &Profile, args: &ApplyArgs, global: &GlobalArgs) -> CliResult {
    let concurrency = usize::from(args.concurrency);
    let client = client(profile)?.with_max_concurrency(concurrency);
    let prepared = prepare(&client, profile, args.include_datasets, concurrency).await?;
    let doc = ChangesDocument::new(&profile.path, &prepared.plan.changes);
    if !prepared.plan.has_changes() {
        output::print_result(global.output, &doc, "apply")?;
        return Ok(Exit::Ok);
    }
    output::print_pending(global.output, &doc)?;
    if !args.yes && !confirm("apply").await? {
        return Err(CliError::failed(anyhow::anyhow!(
            "apply cancelled; nothing was changed"
        )));
    }
    let progress = Progress::new(global.quiet);
    let outcome = execute(
        &client,
        profile,
        prepared,
        &Options { concurrency },
        &progress,
    )
    .await;
    progress.finish();
    let doc = ChangesDocument::new(&profile.path, &outcome.changes);
    output::print_result(global.output, &doc, "apply")?;
    finish(&outcome.changes, outcome.error, "apply")
}

/// The exit of `apply`/`destroy`: 0, or 1 with a message naming what failed.
pub fn finish(changes: &[Change], error: Option<String>, command: &str) -> CliResult {
    let failed: Vec<&Change> = changes.iter().filter(|c| c.error.is_some()).collect();
    if let Some(error) = error {
        return Err(CliError::failed(anyhow::anyhow!(
            "{command} failed: {error}"
        )));
    }
    match failed.as_slice() {
        [] => Ok(Exit::Ok),
        [one] => Err(CliError::failed(anyhow::anyhow!(
            "{command} failed: {} {}: {}",
            one.kind,
            one.name,
            one.error.as_deref().unwrap_or_default()
        ))),
        many => Err(CliError::failed(anyhow::anyhow!(
            "{command} failed: {} changes failed (first: {} {}: {}); run `provision {command}` \
             again once the cause is fixed",
            many.len(),
            many[0].kind,
            many[0].name,
            many[0].error.as_deref().unwrap_or_default()
        ))),
    }
}

/// Asks on stderr when stdin is a terminal; a pipe proceeds (contract §1: prompts only on a
/// TTY without `--yes`).
pub async fn confirm(command: &str) -> Result<bool, CliError> {
    if !std::io::stdin().is_terminal() {
        return Ok(true);
    }
    let question =
        format!("\nDo you want to {command} these changes? Only 'yes' will be accepted: ");
    let answer = tokio::task::spawn_blocking(move || {
        eprint!("{question}");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| CliError::failed(anyhow::anyhow!("could not read the answer: {e}")))?
    .map_err(|e| CliError::failed(anyhow::anyhow!("could not read the answer: {e}")))?;
    Ok(answer.trim() == "yes")
}

/// Creates the profile's base connection through [`ensure`] (never twice, even after a lost
/// answer or a concurrent run); the one place a base connection is created, by `apply` and by
/// `explore --create-connection`.
pub async fn create_base_connection(
    client: &AepClient,
    profile: &Profile,
    base: &desired::DesiredBase,
    spec: &ConnectionSpec,
) -> anyhow::Result<ConnectionId> {
    let params = base_connection_params(profile, spec).await?;
    let new = NewConnection::zoho(base.name.clone(), Some(base.description.clone()), params);
    let prefix = base.name.as_str();
    let found = ensure(
        || async {
            connections::create_connection(client, &new)
                .await
                .map(|c| c.id)
        },
        || async {
            let (owned, _) = crate::observe::base_connections(client, prefix).await?;
            Ok(owned
                .into_iter()
                .map(|c| Found {
                    created_at: c.created_at,
                    id: c.id,
                })
                .collect())
        },
        Some(|id: ConnectionId| async move { connections::delete_connection(client, &id).await }),
    )
    .await?;
    Ok(found)
}

/// `auth.params` of the Zoho base connection (reference §4): the profile's Zoho client and
/// refresh token, plus what a fresh refresh says (the access token and the account's API domain,
/// the `endpoint`), checked against the connection spec's `required` list so that a spec change
/// is reported before AEP rejects the connection.
async fn base_connection_params(
    profile: &Profile,
    spec: &ConnectionSpec,
) -> anyhow::Result<AuthParams> {
    let zoho = crate::clients::zoho(HttpOptions::default())?;
    let token = zoho.token(&profile.zoho).await.map_err(|e| {
        anyhow::anyhow!("the Zoho refresh token could not be used, so the base connection cannot be written: {e}")
    })?;
    let endpoint = token.api_domain_or(&profile.zoho.api_url);
    let ours = AuthParams::new()
        .plain("endpoint", endpoint.as_str().trim_end_matches('/'))
        .plain(
            "accountsUrl",
            profile.zoho.accounts_url.as_str().trim_end_matches('/'),
        )
        .plain("clientId", profile.zoho.client_id.clone())
        .secret("clientSecret", profile.zoho.client_secret.clone())
        .secret("accessToken", token.access_token.clone())
        .secret("refreshToken", profile.zoho.refresh_token.clone());
    let Some(auth) = spec.basic_auth() else {
        anyhow::bail!(
            "the Zoho CRM connection spec {} has no \"{BASIC_AUTHENTICATION}\" auth spec any more; \
             provision cannot build a base connection for it (run `provision check` for details)",
            spec.id
        );
    };
    let missing: Vec<String> = auth
        .required()
        .into_iter()
        .filter(|name| !ours.contains(name))
        .map(|name| match auth.property_description(name) {
            Some(about) => format!("{name} ({about})"),
            None => name.to_owned(),
        })
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the Zoho CRM connection spec requires auth params the profile cannot provide: {}; \
             provision sends endpoint, accountsUrl, clientId, clientSecret, accessToken and \
             refreshToken",
            missing.join(", ")
        );
    }
    // Send only what the spec knows (when it lists its properties), so that a stricter
    // validator does not reject an extra param.
    let known = auth.property_names();
    Ok(if known.is_empty() {
        ours
    } else {
        ours.retain(|name| known.contains(&name))
    })
}
