//! `--module M` (repeatable): which of the profile's modules a command works on. Only the
//! selected modules' objects are planned, changed, deleted and shown; the base connection is
//! still ensured by `plan`/`apply` (every module needs it) and kept by `destroy`. Without
//! `--module`, every module of the profile is selected.

use std::collections::BTreeSet;

use super::desired::{nearest, Desired, DesiredModule};
use super::naming;
use super::observe::Managed;
use super::Kind;
use crate::api::MappingSetId;
use crate::profile::Profile;

/// The modules a command works on; `None` for all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection(Option<BTreeSet<String>>);

/// A `--module` that names no `[[dataflows]]` entry of the profile (a usage error, exit 64).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnknownModule(pub String);

impl Selection {
    /// Every module of the profile.
    pub fn all() -> Self {
        Self(None)
    }

    /// The modules given with `--module`, each checked against the profile's `[[dataflows]]`;
    /// none given selects them all.
    pub fn new(profile: &Profile, asked: &[String]) -> Result<Self, UnknownModule> {
        if asked.is_empty() {
            return Ok(Self::all());
        }
        let known: BTreeSet<&str> = profile
            .dataflows
            .iter()
            .map(|d| d.module.as_str())
            .collect();
        for module in asked {
            if !known.contains(module.as_str()) {
                let hint = match nearest(module, known.iter().copied()) {
                    Some(near) => format!("did you mean {near:?}? "),
                    None => String::new(),
                };
                return Err(UnknownModule(format!(
                    "--module {module:?} is not a module of {} ({hint}its modules: {})",
                    profile.path.display(),
                    known.iter().copied().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        Ok(Self(Some(asked.iter().cloned().collect())))
    }

    /// Whether every module is selected.
    pub fn is_all(&self) -> bool {
        self.0.is_none()
    }

    pub fn contains(&self, module: &str) -> bool {
        self.0.as_ref().is_none_or(|s| s.contains(module))
    }

    /// Keeps the selected modules of `desired` only.
    pub fn restrict_desired(&self, desired: &mut Desired) {
        desired.modules.retain(|m| self.contains(&m.module));
    }

    /// Keeps, of what the profile owns, the base connections and the selected modules' objects:
    /// their dataflows, connections and created datasets (named in `desired` before it was
    /// restricted), and every mapping set no other module's dataflow refers to.
    pub fn restrict_managed(&self, managed: &mut Managed, desired: &Desired) {
        if self.is_all() {
            return;
        }
        let prefix = managed.prefix.clone();
        let ours = |name: &str, kind| {
            naming::module_of(name, &prefix, kind).is_some_and(|m| self.contains(m))
        };
        let others: BTreeSet<MappingSetId> = managed
            .flows
            .iter()
            .filter(|f| !ours(&f.name, Kind::Dataflow))
            .filter_map(|f| f.mapping().map(|(_, r)| r.id))
            .collect();
        managed.flows.retain(|f| ours(&f.name, Kind::Dataflow));
        managed
            .sources
            .retain(|s| ours(&s.name, Kind::SourceConnection));
        managed
            .targets
            .retain(|t| ours(&t.name, Kind::TargetConnection));
        managed.mapping_sets.retain(|m| !others.contains(&m.id));
        let datasets: BTreeSet<&str> = desired
            .modules
            .iter()
            .filter(|m| self.contains(&m.module))
            .filter_map(DesiredModule::created_dataset)
            .collect();
        managed
            .datasets
            .retain(|d| d.name.as_deref().is_some_and(|n| datasets.contains(n)));
    }
}
