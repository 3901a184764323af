//! One module per kind of object provision manages. Each owns, for its kind: the managed name
//! (and ownership marker where it differs from the common one in [`super::naming`]), the
//! observation filter, the match and diff against the desired state, the create body with the
//! lookup [`super::ensure`] runs before creating again, what can be patched and what
//! forces a replace, and its typed delete.
//!
//! | kind | patched | replaced | deleted |
//! |---|---|---|---|
//! | [`base`] | credentials, description | never | by `destroy` |
//! | [`source`] | never (Adobe documents no update) | table or columns change | with its dataflow |
//! | [`dataset`] | never | never (a new name makes a new one) | `--include-datasets` |
//! | [`target`] | never | dataset or schema change | with its dataflow |
//! | [`mapping`] | never (a changed mapping makes a new set) | never | never (no API) |
//! | [`flow`] | schedule, mapping reference, state (enable/disable action) | when its pair, delta column or a passed start changes | first |
//!
//! Adoption (`provision import`): each kind also says whether an object made elsewhere (Adobe's
//! UI, a script) may be adopted (`adoptable`) and marks it (`adopt`): a PATCH of its name and
//! description with `If-Match`, never a recreate. Mapping sets and datasets are not patched:
//! Data Prep documents no update for mapping sets (the dataflow's link tells which set serves a
//! module), and a dataset the profile names by `{ id }` is never managed.

pub mod base;
pub mod dataset;
pub mod flow;
pub mod mapping;
pub mod source;
pub mod target;

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::api::{ApiError, Created, Etag, PatchOp};
use crate::engine::ensure::missing_etag;
use crate::engine::{naming, Kind};

/// What one kind's object must hold to serve the profile: compared with what AEP holds.
pub trait Wanted<T> {
    fn matches(&self, have: &T) -> bool;
    /// Why `have` does not match, for the row's reason.
    fn diff(&self, have: &T) -> String;
    /// The same, attribute by attribute (list items one by one), for the row's `diff`.
    fn entries(&self, have: &T) -> Vec<Diff>;
}

/// Lists the ids in `items` with `id`: `a, b, c`.
pub(crate) fn ids<T>(items: &[&T], id: impl Fn(&T) -> String) -> String {
    items.iter().map(|t| id(t)).collect::<Vec<_>>().join(", ")
}

/// The ids of the objects the plan was made from: a lookup's result excludes them, since a twin
/// is something made after the plan.
pub(crate) fn seen<'a, T, I: Ord + 'a>(
    items: &'a [T],
    id: impl Fn(&'a T) -> &'a I,
) -> BTreeSet<&'a I> {
    items.iter().map(id).collect()
}

/// One attribute that differs between what AEP holds and what the profile asks for
/// (`diff` in the JSON output): `schedule.interval: 1 -> 30`. A list that changes (mapping
/// `rules`, `columns`) gives one entry per added item (`from` null) and per removed item (`to`
/// null), never one long line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    pub path: String,
    pub from: Value,
    pub to: Value,
}

impl Diff {
    pub fn new(path: &str, from: impl Into<Value>, to: impl Into<Value>) -> Self {
        Self {
            path: path.to_owned(),
            from: from.into(),
            to: to.into(),
        }
    }

    /// An item added to the list at `path`.
    pub fn added(path: &str, item: impl Into<Value>) -> Self {
        Self::new(path, Value::Null, item)
    }

    /// An item removed from the list at `path`.
    pub fn removed(path: &str, item: impl Into<Value>) -> Self {
        Self::new(path, item, Value::Null)
    }
}

/// A value as people read it: strings without quotes, null as `none`.
pub fn shown(value: &Value) -> String {
    match value {
        Value::Null => "none".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `path: from -> to`; an added list item `+ path: item`, a removed one `- path: item`.
impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.from, &self.to) {
            (Value::Null, to) if !to.is_null() && self.is_item() => {
                write!(f, "+ {}: {}", self.path, shown(to))
            }
            (from, Value::Null) if !from.is_null() && self.is_item() => {
                write!(f, "- {}: {}", self.path, shown(from))
            }
            (from, to) => write!(f, "{}: {} -> {}", self.path, shown(from), shown(to)),
        }
    }
}

impl Diff {
    /// Whether the entry is one item of a list (a mapping set's `rules`, a source's `columns`).
    fn is_item(&self) -> bool {
        LIST_PATHS.contains(&self.path.as_str())
    }
}

/// The attribute paths that hold lists, whose diffs are one entry per item.
pub const LIST_PATHS: [&str; 2] = ["rules", "columns"];

/// The values a create or replace sends (`attributes` in the JSON output), in the order people
/// read them; each kind's module builds its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes(pub Vec<(String, Value)>);

impl Attributes {
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.push((key.to_owned(), value.into()));
        self
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// Whether an object made elsewhere may be adopted by the profile `prefix`: `Ok(true)` when it
/// already carries this profile's marker, `Ok(false)` when it carries none, and an error naming
/// it when another profile manages it.
pub fn claim(
    what: &str,
    id: &str,
    name: &str,
    description: Option<&str>,
    prefix: &str,
) -> Result<bool, String> {
    match naming::owner(description) {
        None => Ok(false),
        Some(owner) if owner == prefix => Ok(true),
        Some(other) => Err(format!(
            "{what} {name:?} (id {id}) is managed by another profile (connection.name = \
             {other:?}); provision never takes an object from another profile: import it with \
             that profile instead"
        )),
    }
}

/// The JSON Patch ops that give an adopted object its managed `name` and `description`; empty
/// when it has both already.
pub fn adoption_ops(
    have_name: &str,
    have_description: Option<&str>,
    name: &str,
    description: &str,
) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    if have_name != name {
        ops.push(PatchOp::replace("/name", name));
    }
    match have_description {
        Some(d) if d == description => {}
        Some(_) => ops.push(PatchOp::replace("/description", description)),
        None => ops.push(PatchOp::add("/description", description)),
    }
    ops
}

/// What an adopted object is: its kind and id, the name and description it has, and the etag
/// it was read with.
pub(crate) struct Adoptee<'a> {
    pub kind: Kind,
    pub id: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub etag: Option<&'a Etag>,
}

/// Gives a per-module object made elsewhere its managed name and the marker as description, in
/// one PATCH sent by `send` with the etag it was read with (nothing when it has both already). A
/// stale etag is not retried: the object changed while `import` ran, and the next `import` reads
/// it again (what it already marked stays this profile's).
pub(crate) async fn adopt_as<Id, F, Fut>(
    object: Adoptee<'_>,
    prefix: &str,
    module: &str,
    send: F,
) -> Result<(), ApiError>
where
    F: FnOnce(Etag, Vec<PatchOp>) -> Fut,
    Fut: Future<Output = Result<Created<Id>, ApiError>>,
{
    let name = naming::object_name(prefix, module, object.kind);
    let description = naming::owner_marker(prefix);
    let ops = adoption_ops(object.name, object.description, &name, &description);
    if ops.is_empty() {
        return Ok(());
    }
    let etag = object
        .etag
        .cloned()
        .ok_or_else(|| missing_etag(object.kind.as_str(), object.id))?;
    send(etag, ops).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_of_another_profile_are_refused_and_ours_are_known() {
        assert_eq!(claim("dataflow", "f1", "x", None, "p"), Ok(false));
        assert_eq!(
            claim("dataflow", "f1", "x", Some("by hand"), "p"),
            Ok(false)
        );
        assert_eq!(
            claim("dataflow", "f1", "x", Some("managed by provision: p"), "p"),
            Ok(true)
        );
        let refused = claim(
            "dataflow",
            "f1",
            "x",
            Some("a (managed by provision: q)"),
            "p",
        )
        .expect_err("another profile's");
        assert!(refused.contains("dataflow \"x\" (id f1)"), "{refused}");
        assert!(refused.contains("\"q\""), "{refused}");
    }

    #[test]
    fn adoption_renames_and_marks_only_what_differs() {
        let ops = adoption_ops("Leads flow", None, "p / Leads / flow", "m");
        let json = serde_json::to_value(&ops).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"op": "replace", "path": "/name", "value": "p / Leads / flow"},
                {"op": "add", "path": "/description", "value": "m"},
            ])
        );
        let ops = adoption_ops("p / Leads / flow", Some("old"), "p / Leads / flow", "m");
        assert_eq!(ops, vec![PatchOp::replace("/description", "m")]);
        assert!(adoption_ops("n", Some("m"), "n", "m").is_empty());
    }
}
