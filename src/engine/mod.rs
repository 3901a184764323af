//! The reconcile engine: what the profile asks for ([`desired`]), what AEP holds ([`observe`]),
//! the plan between them ([`plan`]), and its execution ([`apply`], [`destroy`]).
//!
//! Everything that is particular to one kind of object (its managed name, how it is found, how it
//! is compared with the profile, its create body, the lookup before re-creating it, what can be
//! patched and what forces a replace, and its delete) lives in that kind's module under
//! [`kinds`]; `plan`, `apply` and `destroy` only order the work, run it concurrently and apply
//! the replace rules. See `docs/architecture.md`.

pub mod apply;
pub mod cancel;
pub mod delete;
pub mod desired;
pub mod destroy;
pub mod ensure;
pub mod explore;
pub mod import;
pub mod kind;
pub mod kinds;
pub mod lease;
pub mod ledger;
pub mod naming;
pub mod observe;
pub mod plan;
pub mod saved;
pub mod select;

pub use kind::{Kind, ObjectId};

use crate::api::{AepClient, HttpOptions};
use crate::profile::Profile;

/// The AEP client of a command: one connection pool, token cache and rate limiter.
pub fn client(profile: &Profile) -> anyhow::Result<AepClient> {
    crate::clients::aep(profile, HttpOptions::default())
}

/// Why an `apply` or `destroy` failed, naming what failed, or `None` when nothing did.
pub fn failure(changes: &[plan::Change], error: Option<String>, command: &str) -> Option<String> {
    if let Some(error) = error {
        return Some(format!("{command} failed: {error}"));
    }
    let failed: Vec<&plan::Change> = changes.iter().filter(|c| c.error.is_some()).collect();
    let error = |c: &plan::Change| c.error.clone().unwrap_or_default();
    match failed.as_slice() {
        [] => None,
        [one] => Some(format!(
            "{command} failed: {} {}: {}",
            one.kind,
            one.name,
            error(one)
        )),
        [first, ..] => Some(format!(
            "{command} failed: {} changes failed (first: {} {}: {}); run `provision {command}` \
             again once the cause is fixed",
            failed.len(),
            first.kind,
            first.name,
            error(first)
        )),
    }
}
