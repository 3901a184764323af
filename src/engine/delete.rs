//! The one phased delete, used by `apply` (what a replace leaves, modules no longer in the
//! profile, datasets) and by `destroy` (everything the profile owns): dataflows first, then
//! source and target connections, then base connections, then datasets, so that no delete is
//! refused because something still uses the object. A phase with a failure stops the ones
//! after it (they depend on it).

use futures::stream::{self, StreamExt};
use tracing::Instrument;

use super::kinds;
use super::ledger::{Failed, Ledger};
use super::plan::{Action, Change, Removal};
use super::{Kind, ObjectId};
use crate::api::{AepClient, ApiError};

/// Deletes one object by its typed id; 404 counts as done (a second destroy is a no-op).
pub async fn delete(client: &AepClient, id: &ObjectId) -> Result<(), ApiError> {
    let result = match id {
        ObjectId::Flow(id) => kinds::flow::delete(client, id).await,
        ObjectId::Source(id) => kinds::source::delete(client, id).await,
        ObjectId::Target(id) => kinds::target::delete(client, id).await,
        ObjectId::Base(id) => kinds::base::delete(client, id).await,
        ObjectId::Dataset(id) => kinds::dataset::delete(client, id).await,
        // Data Prep has no delete for mapping sets; they are never planned for removal.
        ObjectId::Mapping(_) => Ok(()),
    };
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// The phase an object of `kind` is deleted in.
fn phase(kind: Kind) -> usize {
    match kind {
        Kind::Dataflow => 0,
        Kind::SourceConnection | Kind::TargetConnection | Kind::MappingSet => 1,
        Kind::BaseConnection => 2,
        Kind::Dataset => 3,
    }
}

/// Deletes `removals` phase by phase, at most `concurrency` at a time, recording each outcome
/// on its row of `ledger`.
pub async fn remove(
    client: &AepClient,
    ledger: &Ledger<'_>,
    removals: &[Removal],
    concurrency: usize,
) -> Result<(), Failed> {
    for n in 0..=phase(Kind::Dataset) {
        let results: Vec<Result<(), Failed>> = stream::iter(removals)
            .filter(|r| std::future::ready(phase(r.kind()) == n))
            .map(|r| delete_one(client, ledger, r))
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        if results.iter().any(Result::is_err) {
            // What a failed phase's objects use cannot go either.
            return Err(Failed);
        }
    }
    Ok(())
}

async fn delete_one(
    client: &AepClient,
    ledger: &Ledger<'_>,
    removal: &Removal,
) -> Result<(), Failed> {
    let row = ledger.change(removal.row);
    let shown_as = Change {
        action: Action::Delete,
        id: Some(removal.id.clone()),
        ..row.clone()
    };
    let module = row.module.as_deref().unwrap_or("-");
    let span = tracing::info_span!("delete", module = %module, kind = %removal.kind());
    let work = async {
        delete(client, &removal.id)
            .instrument(span)
            .await
            .map_err(|e| anyhow::anyhow!("deleting {} {}: {e}", removal.kind(), removal.id))
    };
    ledger
        .delete(removal.row, &removal.id, &shown_as, work)
        .await
}
