//! Deterministic names and the ownership marker: how `provision` recognises, on a fresh runner
//! with no local state, the platform objects it created (issue: the platform is the state).
//!
//! Every managed object is named `{connection.name} / {module} / {kind}` (the base connection is
//! named `{connection.name}` itself), and its description carries [`owner_marker`]. An object
//! whose name matches but whose description lacks the marker is not ours: it is never adopted,
//! changed or deleted.

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

/// The exact description of every per-module object provision creates, and the suffix of the
/// base connection's description. Exact, so that one `property=description==...` filter lists
/// everything one profile owns.
pub fn owner_marker(prefix: &str) -> String {
    format!("managed by provision: {prefix}")
}

/// Whether `description` marks an object as owned by the profile whose prefix is `prefix`.
pub fn is_owned(description: Option<&str>, prefix: &str) -> bool {
    description.is_some_and(|d| {
        d == owner_marker(prefix) || d.ends_with(&format!("({})", owner_marker(prefix)))
    })
}

/// The base connection's description: the user's text followed by the marker in parentheses.
pub fn base_connection_description(user_description: Option<&str>, prefix: &str) -> String {
    match user_description {
        Some(text) if !text.trim().is_empty() => {
            format!("{} ({})", text.trim(), owner_marker(prefix))
        }
        _ => owner_marker(prefix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefix_module_kind() {
        assert_eq!(
            object_name("zoho-crm-prod", "Leads", ObjectKind::Flow),
            "zoho-crm-prod / Leads / flow"
        );
    }

    #[test]
    fn ownership_needs_the_exact_marker_for_this_prefix() {
        assert!(is_owned(Some("managed by provision: p"), "p"));
        assert!(is_owned(
            Some("Zoho CRM production (managed by provision: p)"),
            "p"
        ));
        assert!(!is_owned(Some("managed by provision: p2"), "p"));
        assert!(!is_owned(Some("made by hand"), "p"));
        assert!(!is_owned(None, "p"));
    }

    #[test]
    fn base_description_keeps_the_users_text() {
        assert_eq!(
            base_connection_description(Some("Zoho CRM production"), "p"),
            "Zoho CRM production (managed by provision: p)"
        );
        assert_eq!(
            base_connection_description(None, "p"),
            "managed by provision: p"
        );
    }
}
