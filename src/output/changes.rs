//! The detail lines under one change of a plan: the attributes a create or replace sends (a list
//! one item per line, its added items marked `+` and its removed ones listed with `-`), and an
//! update's or replace's other differences one attribute per line.

use serde_json::Value;

use crate::engine::kinds::{shown, Attributes, Diff};

/// Under the change line, past its symbol.
const INDENT: &str = "        ";

/// The schedule's values in the order people set them; any other key after them.
const ORDER: [&str; 4] = ["frequency", "interval", "start", "backfill"];

/// The attributes, then the differences the attribute lists did not show.
pub(super) fn detail_lines(out: &mut String, attributes: Option<&Attributes>, diff: &[Diff]) {
    let lists: Vec<&str> = attributes
        .map(|a| {
            a.0.iter()
                .filter(|(_, v)| v.is_array())
                .map(|(k, _)| k.as_str())
                .collect()
        })
        .unwrap_or_default();
    if let Some(attributes) = attributes {
        attribute_lines(out, attributes, diff);
    }
    for d in diff.iter().filter(|d| !lists.contains(&d.path.as_str())) {
        out.push_str(&format!("{INDENT}{d}\n"));
    }
}

/// `key: value` per attribute, keys aligned; a list gives its items on their own lines; the
/// schedule reads `every hour from ..., ... (frequency = hour, interval = 1, ...)`.
fn attribute_lines(out: &mut String, attributes: &Attributes, diff: &[Diff]) {
    let width = attributes
        .0
        .iter()
        .map(|(k, _)| k.chars().count() + 1)
        .max()
        .unwrap_or(0);
    for (key, value) in &attributes.0 {
        let label = format!("{key}:");
        match value {
            Value::Array(items) => list_lines(out, &label, key, items, diff),
            other => out.push_str(&format!("{INDENT}{label:<width$} {}\n", words(other))),
        }
    }
}

/// A list attribute: its count (and what changed), then one item per line.
fn list_lines(out: &mut String, label: &str, key: &str, items: &[Value], diff: &[Diff]) {
    let ours = || diff.iter().filter(move |d| d.path == key);
    let added: Vec<String> = ours()
        .filter(|d| d.from.is_null())
        .map(|d| shown(&d.to))
        .collect();
    let removed: Vec<String> = ours()
        .filter(|d| d.to.is_null())
        .map(|d| shown(&d.from))
        .collect();
    let n = items.len();
    let mut count = format!("{n} item{}", if n == 1 { "" } else { "s" });
    if !added.is_empty() || !removed.is_empty() {
        count.push_str(&format!(
            ": {} added, {} removed",
            added.len(),
            removed.len()
        ));
    }
    out.push_str(&format!("{INDENT}{label} ({count})\n"));
    for item in items.iter().map(shown) {
        let mark = if added.contains(&item) { '+' } else { ' ' };
        out.push_str(&format!("{INDENT}  {mark} {item}\n"));
    }
    for item in &removed {
        out.push_str(&format!("{INDENT}  - {item}\n"));
    }
}

/// A value on one line: an object with `in_words` reads as those words, then its values.
fn words(value: &Value) -> String {
    let Value::Object(map) = value else {
        return shown(value);
    };
    let rank = |k: &str| ORDER.iter().position(|o| *o == k).unwrap_or(ORDER.len());
    let mut entries: Vec<(&String, &Value)> = map
        .iter()
        .filter(|(k, _)| k.as_str() != "in_words")
        .collect();
    entries.sort_by_key(|(k, _)| rank(k));
    let values: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{k} = {}", shown(v)))
        .collect();
    match map.get("in_words") {
        Some(text) => format!("{} ({})", shown(text), values.join(", ")),
        None => values.join(", "),
    }
}
