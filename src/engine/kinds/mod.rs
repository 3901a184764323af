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
