//! `provision destroy`: deletes what the profile owns, in reverse dependency order (dataflows,
//! then source and target connections, then the base connection, then, with
//! `--include-datasets`, the datasets provision created). Only objects carrying the profile's
//! marker are touched, so a second run finds nothing to delete. It needs no preflight: it must
//! work even after Adobe has withdrawn the Zoho source.

use futures::stream::{self, StreamExt};

use crate::apply::{self, confirm, finish};
use crate::cli::{DestroyArgs, GlobalArgs};
use crate::desired;
use crate::error::{CliError, CliResult, Exit};
use crate::observe::{self, Managed};
use crate::output::{self, ChangesDocument};
use crate::plan::{Action, Change, Kind};
use crate::profile::Profile;
use crate::progress::Progress;

/// Deletes run at most this many at a time.
const CONCURRENCY: usize = 8;

/// The rows of a destroy and the deletes in the order they must run: each phase waits for the
/// one before it.
#[derive(Debug, Clone)]
pub struct DestroyPlan {
    pub changes: Vec<Change>,
    /// Row indices per phase: dataflows, connections, base connections, datasets.
    pub phases: Vec<Vec<usize>>,
}

impl DestroyPlan {
    pub fn has_changes(&self) -> bool {
        self.phases.iter().any(|p| !p.is_empty())
    }
}

/// What destroy deletes and keeps, from the owned objects (pure).
pub fn plan(managed: &Managed, include_datasets: bool) -> DestroyPlan {
    let mut changes = Vec::new();
    let mut phases = vec![Vec::new(); 4];
    let mut push = |phase: Option<usize>, kind, name: &str, id: &str, reason: Option<String>| {
        let module = module_of(managed, kind, name);
        changes.push(Change {
            action: if phase.is_some() {
                Action::Delete
            } else {
                Action::Noop
            },
            kind,
            name: name.to_owned(),
            module,
            id: Some(id.to_owned()),
            reason,
            error: None,
        });
        if let Some(phase) = phase {
            phases[phase].push(changes.len() - 1);
        }
    };
    for f in &managed.flows {
        push(Some(0), Kind::Dataflow, &f.name, f.id.as_str(), None);
    }
    for s in &managed.sources {
        push(
            Some(1),
            Kind::SourceConnection,
            &s.name,
            s.id.as_str(),
            None,
        );
    }
    for t in &managed.targets {
        push(
            Some(1),
            Kind::TargetConnection,
            &t.name,
            t.id.as_str(),
            None,
        );
    }
    for b in &managed.bases {
        let theirs: Vec<&str> = managed
            .foreign_sources
            .iter()
            .filter(|s| s.base_connection_id.as_ref() == Some(&b.id))
            .map(|s| s.id.as_str())
            .collect();
        if theirs.is_empty() {
            push(Some(2), Kind::BaseConnection, &b.name, b.id.as_str(), None);
        } else {
            push(
                None,
                Kind::BaseConnection,
                &b.name,
                b.id.as_str(),
                Some(format!(
                    "kept: source connections provision did not create use it ({}); delete \
                     them first to remove it",
                    theirs.join(", ")
                )),
            );
        }
    }
    for d in &managed.datasets {
        let name = d.name.as_deref().unwrap_or("");
        if include_datasets {
            push(Some(3), Kind::Dataset, name, d.id.as_str(), None);
        } else {
            push(
                None,
                Kind::Dataset,
                name,
                d.id.as_str(),
                Some("kept: datasets are deleted only with --include-datasets".into()),
            );
        }
    }
    for m in &managed.mapping_sets {
        let name = m.name.clone().unwrap_or_default();
        push(
            None,
            Kind::MappingSet,
            &name,
            m.id.as_str(),
            Some("kept: Data Prep has no API to delete mapping sets".into()),
        );
    }
    DestroyPlan { changes, phases }
}

fn module_of(managed: &Managed, kind: Kind, name: &str) -> Option<String> {
    use crate::naming::{module_of, ObjectKind};
    let object = match kind {
        Kind::Dataflow => ObjectKind::Flow,
        Kind::SourceConnection => ObjectKind::Source,
        Kind::TargetConnection => ObjectKind::Target,
        Kind::MappingSet => ObjectKind::Mapping,
        Kind::BaseConnection | Kind::Dataset => return None,
    };
    module_of(name, &managed.prefix, object).map(str::to_owned)
}

/// `provision destroy`.
pub async fn command(profile: &Profile, args: &DestroyArgs, global: &GlobalArgs) -> CliResult {
    let desired = desired::build(profile).map_err(|e| CliError::new(Exit::Profile, e))?;
    let client = apply::client(profile)?;
    let managed = observe::managed(&client, &desired.prefix)
        .await
        .map_err(CliError::failed)?;
    let mut plan = plan(&managed, args.include_datasets);
    let doc = ChangesDocument::new(&profile.path, &plan.changes);
    if !plan.has_changes() {
        output::print_result(global.output, &doc, "destroy")?;
        return Ok(Exit::Ok);
    }
    output::print_destroy_plan(global.output, &doc)?;
    if !args.yes && !confirm("destroy").await? {
        return Err(CliError::failed(anyhow::anyhow!(
            "destroy cancelled; nothing was deleted"
        )));
    }
    let progress = Progress::new(global.quiet);
    execute(&client, &mut plan, &progress).await;
    progress.finish();
    let doc = ChangesDocument::new(&profile.path, &plan.changes);
    output::print_result(global.output, &doc, "destroy")?;
    finish(&plan.changes, None, "destroy")
}

/// Runs the phases in order; a phase with a failure stops the ones after it (they depend on it).
pub async fn execute(client: &crate::api::AepClient, plan: &mut DestroyPlan, progress: &Progress) {
    for phase in plan.phases.clone() {
        let results: Vec<(usize, Result<(), String>)> = stream::iter(phase)
            .map(|row| {
                let change = plan.changes[row].clone();
                async move {
                    let shown = progress.start(&change);
                    let id = change.id.clone().unwrap_or_default();
                    match apply::delete_object(client, change.kind, &id).await {
                        Ok(()) => {
                            shown.done(Some(&id));
                            (row, Ok(()))
                        }
                        Err(e) => {
                            shown.failed(&e.to_string());
                            (row, Err(e.to_string()))
                        }
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut failed = false;
        for (row, result) in results {
            if let Err(e) = result {
                plan.changes[row].error = Some(e);
                failed = true;
            }
        }
        if failed {
            return;
        }
    }
}
