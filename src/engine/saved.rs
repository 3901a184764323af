//! Saved plans: `plan --out FILE` writes the plan with what it was computed from, and
//! `apply --plan FILE` applies it only while all of that still holds (docs/pipeline.md, "Gate
//! on a saved plan").
//!
//! The file is one JSON document, versioned by `format` and `version`:
//!
//! - `profile_digest`: SHA-256 of the profile file's bytes and of the profile as loaded
//!   (environment overrides included, secrets as their fingerprint only);
//! - `objects`: every managed object the plan read, by kind, id and name, with its etag (a
//!   dataset: its `updated` time; a mapping set: its version);
//! - `changes`: the plan's rows as `plan --output json` prints them.
//!
//! It holds no secret: ids, names, etags, the values the plan sends, and digests.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::apply::Prepared;
use super::desired::Desired;
use super::observe::Managed;
use super::plan::Change;
use super::Kind;
use crate::profile::Profile;

/// `format` of a saved plan file.
pub const FORMAT: &str = "provision-plan";
/// The version of the file format this build reads and writes.
pub const VERSION: u32 = 1;

/// One managed object the plan read, and the version of it the plan saw.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectVersion {
    /// As `kind` in the JSON output.
    pub kind: String,
    pub id: String,
    pub name: String,
    /// The etag (connections, dataflows), `updated` time (datasets) or version (mapping sets).
    pub etag: Option<String>,
}

/// A saved plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub version: u32,
    pub provision_version: String,
    pub created_at: DateTime<Utc>,
    /// The profile path as given to `plan` (for people; the digest is what is checked).
    pub profile: String,
    pub profile_digest: String,
    pub include_datasets: bool,
    pub objects: Vec<ObjectVersion>,
    pub changes: Value,
}

/// What a saved plan is checked against: the profile and a plan computed again now.
pub struct Current<'a> {
    pub profile: &'a Profile,
    pub desired: &'a Desired,
    pub managed: &'a Managed,
    pub changes: &'a [Change],
    pub include_datasets: bool,
}

impl<'a> Current<'a> {
    /// The plan `prepared` holds, for `profile`.
    pub fn of(profile: &'a Profile, prepared: &'a Prepared, include_datasets: bool) -> Self {
        Self {
            profile,
            desired: &prepared.desired,
            managed: &prepared.observed.managed,
            changes: &prepared.plan.changes,
            include_datasets,
        }
    }
}

impl SavedPlan {
    /// The plan `current` holds, with what it was computed from.
    pub fn new(current: &Current<'_>) -> std::io::Result<Self> {
        Ok(Self {
            format: FORMAT.to_owned(),
            version: VERSION,
            provision_version: env!("CARGO_PKG_VERSION").to_owned(),
            created_at: Utc::now(),
            profile: current.profile.path.display().to_string(),
            profile_digest: digest(current.profile, current.desired)?,
            include_datasets: current.include_datasets,
            objects: objects(current.managed),
            changes: rows(current.changes),
        })
    }

    /// Reads a saved plan from `text`; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            format!("{file} is not a saved plan (not JSON: {e}); write one with `provision plan --out {file}`")
        })?;
        let format = value.get("format").and_then(Value::as_str);
        let version = value.get("version").and_then(Value::as_u64);
        match (format, version) {
            (Some(FORMAT), Some(v)) if v == u64::from(VERSION) => {}
            (Some(FORMAT), v) => {
                return Err(format!(
                    "{file} is a saved plan of format version {}, and this provision reads \
                     version {VERSION}; run `provision plan --out {file}` again with this version",
                    v.map(|v| v.to_string()).unwrap_or_else(|| "none".into())
                ))
            }
            _ => {
                return Err(format!(
                    "{file} is not a saved plan (no \"format\": \"{FORMAT}\"); write one with \
                     `provision plan --out {file}`"
                ))
            }
        }
        serde_json::from_value(value).map_err(|e| {
            format!(
                "{file} is not a valid saved plan ({e}); run `provision plan --out {file}` again"
            )
        })
    }

    /// What changed since the plan was saved, one line each; empty when it still holds.
    pub fn stale(&self, current: &Current<'_>) -> std::io::Result<Vec<String>> {
        let mut changed = Vec::new();
        let digest = digest(current.profile, current.desired)?;
        if digest != self.profile_digest {
            changed.push(format!(
                "the profile {} changed (digest {} -> {})",
                current.profile.path.display(),
                short(&self.profile_digest),
                short(&digest)
            ));
        }
        if current.include_datasets != self.include_datasets {
            changed.push(format!(
                "--include-datasets: {} -> {}",
                self.include_datasets, current.include_datasets
            ));
        }
        changed.extend(object_changes(&self.objects, &objects(current.managed)));
        if changed.is_empty() && rows(current.changes) != self.changes {
            changed.push(
                "the plan computed now differs from the saved one (e.g. the Zoho module's columns \
                 changed)"
                    .to_owned(),
            );
        }
        Ok(changed)
    }
}

fn rows(changes: &[Change]) -> Value {
    serde_json::to_value(changes).unwrap_or(Value::Null)
}

fn short(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}

/// SHA-256 of the profile file's bytes and of the loaded profile (overrides applied; secrets
/// print as redacted, and their [`crate::engine::desired::auth_fingerprint`] stands for them).
pub fn digest(profile: &Profile, desired: &Desired) -> std::io::Result<String> {
    let bytes = std::fs::read(&profile.path)?;
    let mut loaded = profile.clone();
    loaded.path = Default::default();
    let mut hash = Sha256::new();
    for part in [
        bytes.as_slice(),
        format!("{loaded:?}").as_bytes(),
        desired.base.fingerprint.as_bytes(),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha256:{hex}"))
}

/// Every owned object the plan read, sorted.
pub fn objects(managed: &Managed) -> Vec<ObjectVersion> {
    let of = |kind: Kind, id: &str, name: &str, etag: Option<String>| ObjectVersion {
        kind: kind.as_str().to_owned(),
        id: id.to_owned(),
        name: name.to_owned(),
        etag,
    };
    let etag = |e: &Option<crate::api::Etag>| e.as_ref().map(|e| e.as_str().to_owned());
    let mut all: Vec<ObjectVersion> = Vec::new();
    all.extend(
        managed
            .bases
            .iter()
            .map(|b| of(Kind::BaseConnection, b.id.as_str(), &b.name, etag(&b.etag))),
    );
    all.extend(managed.sources.iter().map(|s| {
        of(
            Kind::SourceConnection,
            s.id.as_str(),
            &s.name,
            etag(&s.etag),
        )
    }));
    all.extend(managed.targets.iter().map(|t| {
        of(
            Kind::TargetConnection,
            t.id.as_str(),
            &t.name,
            etag(&t.etag),
        )
    }));
    all.extend(
        managed
            .flows
            .iter()
            .map(|f| of(Kind::Dataflow, f.id.as_str(), &f.name, etag(&f.etag))),
    );
    all.extend(managed.datasets.iter().map(|d| {
        let name = d.name.as_deref().unwrap_or("");
        of(
            Kind::Dataset,
            d.id.as_str(),
            name,
            d.updated.map(|u| format!("updated {u}")),
        )
    }));
    all.extend(managed.mapping_sets.iter().map(|m| {
        let name = m.name.as_deref().unwrap_or("");
        of(
            Kind::MappingSet,
            m.id.as_str(),
            name,
            Some(format!("version {}", m.version)),
        )
    }));
    all.sort();
    all
}

/// Objects that appeared, disappeared or changed between `saved` and `now`.
fn object_changes(saved: &[ObjectVersion], now: &[ObjectVersion]) -> Vec<String> {
    let key = |o: &ObjectVersion| (o.kind.clone(), o.id.clone());
    let before: BTreeMap<_, &ObjectVersion> = saved.iter().map(|o| (key(o), o)).collect();
    let after: BTreeMap<_, &ObjectVersion> = now.iter().map(|o| (key(o), o)).collect();
    let shown = |o: &ObjectVersion| format!("{} {:?} (id {})", o.kind, o.name, o.id);
    let mut out = Vec::new();
    for (k, old) in &before {
        match after.get(k) {
            None => out.push(format!("{} was deleted", shown(old))),
            Some(new) if new.etag != old.etag => out.push(format!(
                "{} was changed (etag {} -> {})",
                shown(old),
                old.etag.as_deref().unwrap_or("none"),
                new.etag.as_deref().unwrap_or("none")
            )),
            Some(_) => {}
        }
    }
    for (k, new) in &after {
        if !before.contains_key(k) {
            out.push(format!("{} appeared", shown(new)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(id: &str, etag: &str) -> ObjectVersion {
        ObjectVersion {
            kind: "dataflow".into(),
            id: id.into(),
            name: format!("p / {id} / flow"),
            etag: Some(etag.into()),
        }
    }

    #[test]
    fn objects_that_changed_appeared_or_went_are_each_named() {
        let saved = [flow("a", "1"), flow("b", "1"), flow("c", "1")];
        let now = [flow("a", "1"), flow("b", "2"), flow("d", "1")];
        assert_eq!(
            object_changes(&saved, &now),
            [
                "dataflow \"p / b / flow\" (id b) was changed (etag 1 -> 2)",
                "dataflow \"p / c / flow\" (id c) was deleted",
                "dataflow \"p / d / flow\" (id d) appeared",
            ]
        );
        assert!(object_changes(&saved, &saved).is_empty());
    }

    #[test]
    fn a_file_of_another_format_or_version_is_refused_with_what_to_do() {
        let other = SavedPlan::parse(r#"{"format": "terraform"}"#, "p.json").unwrap_err();
        assert!(other.contains("is not a saved plan"), "{other}");
        let newer = SavedPlan::parse(r#"{"format": "provision-plan", "version": 2}"#, "p.json")
            .unwrap_err();
        assert!(newer.contains("format version 2"), "{newer}");
        let broken = SavedPlan::parse("{", "p.json").unwrap_err();
        assert!(broken.contains("not JSON"), "{broken}");
    }
}
