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
//! | [`flow`] | schedule, mapping reference, state (enable/disable action) | when its pair, delta column or a passed start changes | first |

pub mod base;
pub mod dataset;
pub mod flow;
pub mod mapping;
pub mod source;
pub mod target;

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// What one kind's object must hold to serve the profile: compared with what AEP holds.
pub trait Wanted<T> {
    fn matches(&self, have: &T) -> bool;
    /// Why `have` does not match, for the row's reason.
    fn diff(&self, have: &T) -> String;
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

/// One attribute that differs between what AEP holds and what the profile sets: its path in
/// the profile's terms (`schedule.interval`, `state`), the value AEP holds (`null` when absent)
/// and the value the profile asks for. A plan row lists them in `diff`; its `reason` is their
/// text (`schedule.interval: 1 -> 2`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn shown(v: &Value) -> String {
            match v {
                Value::Null => "none".to_owned(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        }
        write!(
            f,
            "{}: {} -> {}",
            self.path,
            shown(&self.from),
            shown(&self.to)
        )
    }
}
