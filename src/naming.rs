//! Deterministic names and the ownership marker: how `provision` recognises, on a fresh runner
//! with no local state, the platform objects it created (issue: the platform is the state).
//!
//! Every managed object is named `{connection.name} / {module} / {kind}` (the base connection is
//! named `{connection.name}` itself, a created dataset carries the name the profile gives it), and
//! its description carries [`owner_marker`]. An object whose name matches but whose description
//! lacks the marker is not ours: it is never adopted, changed or deleted.
//!
//! Two exceptions, both forced by the services:
//! - Data Prep filters mapping sets only by exact `name` and has no description field, so every
//!   mapping set of one profile shares the name [`mapping_sets_name`]: one filtered list finds
//!   them all. Which module a mapping set serves is told by the dataflow that refers to it (or,
//!   for one left unreferenced by an interrupted run, by its rules); its `description` tag names
//!   the module for people, but tags are not relied on (not every service keeps them).
//! - Zoho secrets cannot be read back from a base connection, so its description ends with a
//!   short fingerprint of the credentials it was given
//!   ([`base_connection_description_with_auth`]); a different fingerprint means the profile's
//!   credentials were rotated.

/// The kinds of per-module objects, as they appear at the end of a managed name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    Source,
    Dataset,
    Target,
    Mapping,
    Flow,
}

impl ObjectKind {
    pub fn suffix(self) -> &'static str {
        match self {
            ObjectKind::Source => "source",
            ObjectKind::Dataset => "dataset",
            ObjectKind::Target => "target",
            ObjectKind::Mapping => "mapping",
            ObjectKind::Flow => "flow",
        }
    }
}

/// `{prefix} / {module} / {kind}`, e.g. `zoho-crm-prod / Leads / flow`.
pub fn object_name(prefix: &str, module: &str, kind: ObjectKind) -> String {
    format!("{prefix} / {module} / {}", kind.suffix())
}

/// The module of a managed name of kind `kind`, or `None` when `name` is not one of this
/// profile's names of that kind.
pub fn module_of<'a>(name: &'a str, prefix: &str, kind: ObjectKind) -> Option<&'a str> {
    let rest = name.strip_prefix(prefix)?.strip_prefix(" / ")?;
    let module = rest.strip_suffix(kind.suffix())?.strip_suffix(" / ")?;
    (!module.is_empty()).then_some(module)
}

/// The name every mapping set of one profile shares, so that one `GET /mappingSets?name=...`
/// lists them all.
pub fn mapping_sets_name(prefix: &str) -> String {
    format!("{prefix} / mappings")
}

/// The description of a mapping set: its per-module name, then the marker in parentheses.
pub fn mapping_set_description(prefix: &str, module: &str) -> String {
    format!(
        "{} ({})",
        object_name(prefix, module, ObjectKind::Mapping),
        owner_marker(prefix)
    )
}

/// The exact description of every per-module object provision creates, and the suffix of the
/// base connection's description. Exact, so that one `property=description==...` filter lists
/// everything one profile owns.
pub fn owner_marker(prefix: &str) -> String {
    format!("managed by provision: {prefix}")
}

/// Whether `description` marks an object as owned by the profile whose prefix is `prefix`:
/// exactly the marker, or text ending in `(marker)` or `(marker; auth <fingerprint>)`.
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
        .map(|(_, inner)| inner)
    else {
        return false;
    };
    inner == marker
        || inner
            .strip_prefix(&marker)
            .and_then(|rest| rest.strip_prefix("; auth "))
            .is_some_and(|fp| !fp.is_empty() && !fp.contains(' '))
}

/// The base connection's description without a credentials fingerprint: the user's text
/// followed by the marker in parentheses (still recognised as owned; `apply` adds the
/// fingerprint with [`base_connection_description_with_auth`]).
pub fn base_connection_description(user_description: Option<&str>, prefix: &str) -> String {
    with_user_text(user_description, format!("({})", owner_marker(prefix)))
}

/// The base connection's description as `apply` writes it: the user's text, then the marker and
/// the credentials' fingerprint in parentheses, e.g.
/// `Zoho CRM production (managed by provision: p; auth 3f9a2c1b7d4e)`.
pub fn base_connection_description_with_auth(
    user_description: Option<&str>,
    prefix: &str,
    fingerprint: &str,
) -> String {
    with_user_text(
        user_description,
        format!("({}; auth {fingerprint})", owner_marker(prefix)),
    )
}

fn with_user_text(user_description: Option<&str>, tail: String) -> String {
    match user_description {
        Some(text) if !text.trim().is_empty() => format!("{} {tail}", text.trim()),
        _ => tail,
    }
}

/// The parts of an owned base connection's description: the user's text (if any) and the
/// credentials' fingerprint (absent when an older description carries only the marker).
pub fn parse_base_description<'a>(
    description: &'a str,
    prefix: &str,
) -> Option<(Option<&'a str>, Option<&'a str>)> {
    if !is_owned(Some(description), prefix) {
        return None;
    }
    let marker = owner_marker(prefix);
    if description == marker {
        return Some((None, None));
    }
    let (text, inner) = description.strip_suffix(')')?.rsplit_once('(')?;
    let fingerprint = inner
        .strip_prefix(&marker)
        .and_then(|rest| rest.strip_prefix("; auth "));
    let text = text.trim();
    Some(((!text.is_empty()).then_some(text), fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefix_module_kind_and_parse_back() {
        let name = object_name("zoho-crm-prod", "Leads", ObjectKind::Flow);
        assert_eq!(name, "zoho-crm-prod / Leads / flow");
        assert_eq!(
            module_of(&name, "zoho-crm-prod", ObjectKind::Flow),
            Some("Leads")
        );
        assert_eq!(module_of(&name, "zoho-crm-prod", ObjectKind::Source), None);
        assert_eq!(module_of(&name, "zoho-crm", ObjectKind::Flow), None);
        assert_eq!(
            module_of("zoho-crm-prod /  / flow", "zoho-crm-prod", ObjectKind::Flow),
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
    fn base_description_keeps_the_users_text_and_the_fingerprint() {
        let d =
            base_connection_description_with_auth(Some("Zoho CRM production"), "p", "0123456789ab");
        assert_eq!(
            d,
            "Zoho CRM production (managed by provision: p; auth 0123456789ab)"
        );
        assert_eq!(
            parse_base_description(&d, "p"),
            Some((Some("Zoho CRM production"), Some("0123456789ab")))
        );
        let bare = base_connection_description_with_auth(None, "p", "ab");
        assert_eq!(bare, "(managed by provision: p; auth ab)");
        assert_eq!(parse_base_description(&bare, "p"), Some((None, Some("ab"))));
        let plain = base_connection_description(Some("x"), "p");
        assert_eq!(plain, "x (managed by provision: p)");
        assert_eq!(parse_base_description(&plain, "p"), Some((Some("x"), None)));
        assert_eq!(
            parse_base_description("x (managed by provision: p)", "p"),
            Some((Some("x"), None))
        );
        assert_eq!(parse_base_description("x", "p"), None);
    }

    #[test]
    fn mapping_sets_share_a_name_and_carry_their_module_in_the_description() {
        assert_eq!(mapping_sets_name("p"), "p / mappings");
        let d = mapping_set_description("p", "Leads");
        assert_eq!(d, "p / Leads / mapping (managed by provision: p)");
        assert!(is_owned(Some(&d), "p"));
    }
}
