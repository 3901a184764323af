//! Destroy: deletes what the profile owns, in reverse dependency order (dataflows, then source
//! and target connections, then the base connection, then, with `--include-datasets`, the
//! datasets provision created), through the same phased delete as `apply`. Only objects carrying
//! the profile's marker are touched, so a second run finds nothing to delete. It needs no
//! preflight: it must work even after Adobe has withdrawn the Zoho source.

use tracing::Instrument;

use super::cancel::Cancel;
use super::delete::remove;
use super::ledger::Ledger;
use super::observe::{Managed, ModuleObjects};
use super::plan::{removal_rows, Action, Change, Removal, Rows};
use super::select::Selection;
use super::Kind;
use crate::api::AepClient;
use crate::progress::Progress;

/// The rows of a destroy and the deletes it runs (in phases, by kind).
#[derive(Debug, Clone)]
pub struct DestroyPlan {
    pub changes: Vec<Change>,
    pub removals: Vec<Removal>,
}

impl DestroyPlan {
    pub fn has_changes(&self) -> bool {
        !self.removals.is_empty()
    }
}

/// What destroy deletes and keeps, from the owned objects (pure). With `--module` (a
/// `selection` of some modules), the base connection is kept: the other modules use it.
pub fn plan(managed: &Managed, include_datasets: bool, selection: &Selection) -> DestroyPlan {
    let mut rows = Rows::default();
    let everything = ModuleObjects {
        flows: managed.flows.iter().collect(),
        sources: managed.sources.iter().collect(),
        targets: managed.targets.iter().collect(),
    };
    let mut removals = removal_rows(&everything, &managed.prefix, None, &mut rows);
    for b in &managed.bases {
        let theirs: Vec<&str> = managed
            .foreign_sources
            .iter()
            .filter(|s| s.base_connection_id.as_ref() == Some(&b.id))
            .map(|s| s.id.as_str())
            .collect();
        let change = Change::new(Action::Delete, Kind::BaseConnection, &b.name).with_id(&b.id);
        if !selection.is_all() {
            rows.push(kept(change).with_reason(
                "kept: only the modules given with --module are destroyed, and the others use it",
            ));
        } else if theirs.is_empty() {
            let row = rows.push(change);
            removals.push(Removal {
                row,
                id: (&b.id).into(),
            });
        } else {
            rows.push(kept(change).with_reason(format!(
                "kept: source connections provision did not create use it ({}); delete them \
                 first to remove it",
                theirs.join(", ")
            )));
        }
    }
    for d in &managed.datasets {
        let name = d.name.as_deref().unwrap_or("");
        let change = Change::new(Action::Delete, Kind::Dataset, name).with_id(&d.id);
        if include_datasets {
            let row = rows.push(change);
            removals.push(Removal {
                row,
                id: (&d.id).into(),
            });
        } else {
            rows.push(
                kept(change).with_reason("kept: datasets are deleted only with --include-datasets"),
            );
        }
    }
    for m in &managed.mapping_sets {
        let name = m.name.clone().unwrap_or_default();
        let change = Change::new(Action::Noop, Kind::MappingSet, &name).with_id(&m.id);
        rows.push(change.with_reason("kept: Data Prep has no API to delete mapping sets"));
    }
    DestroyPlan {
        changes: rows.0,
        removals,
    }
}

fn kept(change: Change) -> Change {
    Change {
        action: Action::Noop,
        ..change
    }
}

/// Runs the deletes, none after `cancel`; each row ends with its id or its error, and its
/// `outcome`.
pub async fn execute(
    client: &AepClient,
    plan: &mut DestroyPlan,
    progress: &Progress,
    cancel: &Cancel,
) {
    let ledger = Ledger::new(std::mem::take(&mut plan.changes), progress, cancel);
    let _ = remove(
        client,
        &ledger,
        &plan.removals,
        crate::validate::CONCURRENCY,
    )
    .instrument(tracing::info_span!("destroy"))
    .await;
    plan.changes = ledger.settled();
}
