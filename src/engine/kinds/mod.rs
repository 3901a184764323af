//! One module per kind of object provision manages. Each owns, for its kind: the managed name
//! (and ownership marker where it differs from the common one in [`super::naming`]), the
//! observation filter, the match and diff against the desired state, the create body with the
//! lookup [`super::ensure::ensure`] runs before creating again, what can be patched and what
//! forces a replace, and its typed delete.
//!
//! | kind | patched | replaced | deleted |
//! |---|---|---|---|
//! | [`base`] | credentials, description | never | by `destroy` |
//! | [`source`] | never (Adobe documents no update) | table or columns change | with its dataflow |
//! | [`dataset`] | never | never (a new name makes a new one) | `--include-datasets` |
//! | [`target`] | never | dataset or schema change | with its dataflow |
//! | [`mapping`] | never (a changed mapping makes a new set) | never | never (no API) |
//! | [`flow`] | schedule, mapping reference | when its pair, delta column or a passed start changes | first |

pub mod base;
pub mod dataset;
pub mod flow;
pub mod mapping;
pub mod source;
pub mod target;

use std::collections::BTreeSet;
use std::fmt;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

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
