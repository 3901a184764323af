//! Explore for the engine: the columns of the modules a plan cannot finish without, read
//! through the base connection at most `concurrency` at a time.

use futures::stream::{self, StreamExt};

use super::desired;
use super::plan::{BaseStep, Plan};
use crate::api::explore::{self, Column};
use crate::api::{AepClient, ConnectionId};

/// Explores one module's table: its columns, or a message naming the module and the nearest
/// table names when explore does not know it.
pub async fn explore_module(
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
            let hint = desired::did_you_mean(module, tables.iter().map(|t| t.path.as_str()));
            Err(format!(
                "module {module:?}: the base connection's explore does not know this module{hint}; \
                 use a path that `provision explore` lists ({e})"
            ))
        }
        Err(e) => Err(format!("module {module:?}: explore failed: {e}")),
    }
}

/// Explores `modules` through `base`, at most `concurrency` at a time: each module's columns, or
/// a message naming it, sorted by module.
pub async fn explore_modules(
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
