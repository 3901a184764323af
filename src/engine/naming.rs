//! Deterministic names and the ownership marker: how `provision` recognises, on a fresh runner
//! with no local state, the platform objects it created (the platform is the state).
//!
//! Every managed object is named `{connection.name} / {module} / {kind}` (the base connection is
//! named `{connection.name}` itself, a created dataset carries the name the profile gives it), and
//! its description carries [`owner_marker`]. An object whose name matches but whose description
//! lacks the marker is not ours: it is never adopted, changed or deleted.
//!
//! Two exceptions, both forced by the services:
//! - Data Prep filters mapping sets only by exact `name` and has no description field, so every
//!   mapping set of one profile shares the name [`super::kinds::mapping::sets_name`]: one filtered list finds
//!   them all. Which module a mapping set serves is told by the dataflow that refers to it (or,
//!   for one left unreferenced by an interrupted run, by its rules); its `description` tag names
//!   the module for people, but tags are not relied on (not every service keeps them).
//! - Zoho secrets cannot be read back from a base connection, so its description ends with a
//!   short fingerprint of the credentials it was given
//!   ([`super::kinds::base::description_with_auth`]); a different fingerprint means the profile's
//!   credentials were rotated.

use super::Kind;

/// `{prefix} / {module} / {kind}`, e.g. `zoho-crm-prod / Leads / flow`.
/// (The base connection and datasets are named by the profile; they are shown by their kind.)
pub fn object_name(prefix: &str, module: &str, kind: Kind) -> String {
    let suffix = kind.suffix().unwrap_or(kind.as_str());
    format!("{prefix} / {module} / {suffix}")
}

/// The module of a managed name of kind `kind`, or `None` when `name` is not one of this
/// profile's names of that kind.
pub fn module_of<'a>(name: &'a str, prefix: &str, kind: Kind) -> Option<&'a str> {
    let rest = name.strip_prefix(prefix)?.strip_prefix(" / ")?;
    let module = rest.strip_suffix(kind.suffix()?)?.strip_suffix(" / ")?;
    (!module.is_empty()).then_some(module)
}

/// The exact description of every per-module object provision creates, and the suffix of the
/// base connection's description. Exact, so that one `property=description==...` filter lists
/// everything one profile owns.
pub fn owner_marker(prefix: &str) -> String {
    format!("managed by provision: {prefix}")
}

/// What separates an apply's lease from the rest of a base connection's marker:
/// `(managed by provision: p; auth 3f9a2c1b7d4e; lease <run> until <RFC 3339>)` (`engine::lease`).
pub const LEASE_TAG: &str = "; lease ";

/// The inside of a marker's parentheses split at the lease that may end it: what comes before,
/// and the lease (`<run> until <time>`). The one place a lease is found in a marker.
pub fn split_lease(inner: &str) -> (&str, Option<&str>) {
    match inner.rsplit_once(LEASE_TAG) {
        Some((kept, lease)) => (kept, Some(lease)),
        None => (inner, None),
    }
}

/// The inside of a marker's parentheses without the lease that may end it.
pub fn without_lease(inner: &str) -> &str {
    split_lease(inner).0
}

/// Whether `description` marks an object as owned by the profile whose prefix is `prefix`:
/// exactly the marker, or text ending in `(marker)` or `(marker; auth <fingerprint>)`, either
/// possibly followed by an apply's lease (`; lease <run> until <time>`).
pub fn is_owned(description: Option<&str>, prefix: &str) -> bool {
    let Some(d) = description else {
        return false;
    };
    let marker = owner_marker(prefix);
    if d == marker {
        return true;
    }
    let Some(inner) = d
        .strip_suffix(')')
        .and_then(|d| d.rsplit_once('('))
        .map(|(_, inner)| without_lease(inner))
    else {
        return false;
    };
    inner == marker
        || inner
            .strip_prefix(&marker)
            .and_then(|rest| rest.strip_prefix("; auth "))
            .is_some_and(|fp| !fp.is_empty() && !fp.contains(' '))
}

/// The prefix of the profile whose marker `description` carries, whichever profile that is (for
/// `import`, which must refuse what another profile manages).
pub fn owner(description: Option<&str>) -> Option<&str> {
    const HEAD: &str = "managed by provision: ";
    let d = description?;
    if let Some(prefix) = d.strip_prefix(HEAD) {
        return Some(prefix);
    }
    let (_, inner) = d.strip_suffix(')')?.rsplit_once('(')?;
    let rest = without_lease(inner).strip_prefix(HEAD)?;
    Some(
        rest.split_once("; auth ")
            .map_or(rest, |(prefix, _)| prefix),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefix_module_kind_and_parse_back() {
        let name = object_name("zoho-crm-prod", "Leads", Kind::Dataflow);
        assert_eq!(name, "zoho-crm-prod / Leads / flow");
        assert_eq!(
            module_of(&name, "zoho-crm-prod", Kind::Dataflow),
            Some("Leads")
        );
        assert_eq!(
            module_of(&name, "zoho-crm-prod", Kind::SourceConnection),
            None
        );
        assert_eq!(module_of(&name, "zoho-crm", Kind::Dataflow), None);
        assert_eq!(
            module_of("zoho-crm-prod /  / flow", "zoho-crm-prod", Kind::Dataflow),
            None
        );
    }

    #[test]
    fn ownership_needs_the_exact_marker_for_this_prefix() {
        assert!(is_owned(Some("managed by provision: p"), "p"));
        assert!(is_owned(
            Some("Zoho CRM production (managed by provision: p)"),
            "p"
        ));
        assert!(is_owned(
            Some("Zoho CRM production (managed by provision: p; auth 0123456789ab)"),
            "p"
        ));
        assert!(!is_owned(Some("managed by provision: p2"), "p"));
        assert!(!is_owned(
            Some("x (managed by provision: p2; auth 01)"),
            "p"
        ));
        assert!(!is_owned(Some("x (managed by provision: p; other)"), "p"));
        assert!(!is_owned(Some("made by hand"), "p"));
        assert!(!is_owned(None, "p"));
    }

    #[test]
    fn the_owner_is_read_from_any_marker() {
        assert_eq!(owner(Some("managed by provision: p")), Some("p"));
        assert_eq!(
            owner(Some("x (managed by provision: q; auth 01)")),
            Some("q")
        );
        assert_eq!(owner(Some("x (managed by provision: r)")), Some("r"));
        // An apply's lease on the marker does not change the owner.
        assert_eq!(
            owner(Some(
                "(managed by provision: r; lease apply-1 until 2026-12-06T09:00:00Z)"
            )),
            Some("r")
        );
        assert_eq!(
            owner(Some(
                "x (managed by provision: q; auth 01; lease apply-1 until 2026-12-06T09:00:00Z)"
            )),
            Some("q")
        );
        assert_eq!(owner(Some("made by hand (in the UI)")), None);
        assert_eq!(owner(None), None);
    }
}
