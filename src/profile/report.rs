//! Problems found while loading a profile, and where each came from: a file line and column, or
//! an environment variable. All of them are reported at once, sorted by position.

use std::collections::HashMap;
use std::path::Path;

use super::schema::Field;
use super::types::ProfileError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Pos {
    pub(super) line: usize,
    pub(super) column: usize,
}

#[derive(Debug, Clone)]
pub(super) enum At {
    File(Pos),
    /// The value came from this environment variable.
    Env(String),
    /// Only the file is known (e.g. a missing section).
    Nowhere,
}

#[derive(Debug)]
pub(super) struct Problem {
    pub(super) key: String,
    pub(super) at: At,
    pub(super) message: String,
}

/// Where each key's value came from: a file position or an environment variable.
#[derive(Default)]
pub(super) struct Sites {
    pub(super) file: HashMap<String, Pos>,
    pub(super) env: HashMap<String, String>,
}

impl Sites {
    /// The origin of `key`, else of its nearest ancestor that has one.
    pub(super) fn at(&self, key: &str) -> At {
        let mut key = key;
        loop {
            if let Some(var) = self.env.get(key) {
                return At::Env(var.clone());
            }
            if let Some(pos) = self.file.get(key) {
                return At::File(*pos);
            }
            match key.rfind(['.', '[']) {
                Some(i) => key = &key[..i],
                None => return At::Nowhere,
            }
        }
    }
}

pub(super) struct Report<'a> {
    pub(super) path: &'a Path,
    pub(super) problems: Vec<Problem>,
}

impl Report<'_> {
    pub(super) fn add(&mut self, key: &str, at: At, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.to_owned(),
            at,
            message: message.into(),
        });
    }

    pub(super) fn into_error(mut self) -> ProfileError {
        self.problems.sort_by_key(|p| match &p.at {
            At::File(pos) => (0, *pos, String::new()),
            At::Env(var) => (1, Pos { line: 0, column: 0 }, var.clone()),
            At::Nowhere => (2, Pos { line: 0, column: 0 }, p.key.clone()),
        });
        let file = self.path.display();
        let lines: Vec<String> = self
            .problems
            .iter()
            .map(|p| {
                let key = if p.key.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", p.key)
                };
                match &p.at {
                    At::File(pos) => {
                        format!("{file}:{}:{}: {key}{}", pos.line, pos.column, p.message)
                    }
                    At::Env(var) => format!("{var}: {key}{}", p.message),
                    At::Nowhere => format!("{file}: {key}{}", p.message),
                }
            })
            .collect();
        let mut message = lines.join("\n");
        if lines.len() > 1 {
            message = format!("{} problems in profile {file}:\n{message}", lines.len());
        }
        ProfileError { message }
    }
}

/// Byte offsets at which the lines of `text` start, for [`position`].
pub(super) fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The line and column of byte `offset`. A position is taken for every key and value, so the
/// line is found by binary search in `starts` ([`line_starts`]) rather than by counting lines
/// from the top each time, which made a 200-module profile cost a tenth of a second.
pub(super) fn position(text: &str, starts: &[usize], offset: usize) -> Pos {
    let offset = offset.min(text.len());
    let mut start = offset;
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let line = starts.partition_point(|&s| s <= start).max(1);
    let line_start = starts.get(line - 1).copied().unwrap_or(0).min(start);
    let column = text[line_start..start].chars().count() + 1;
    Pos { line, column }
}

/// The valid key closest to `unknown`, if one is close enough to be a likely typo.
pub(super) fn nearest<'a>(
    unknown: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = unknown.to_ascii_lowercase();
    candidates
        .map(|c| {
            let score = if c == lower {
                1.0
            } else if c.contains(&lower) && lower.len() >= 3 || lower.contains(c) {
                0.9
            } else {
                strsim::jaro_winkler(&lower, c)
            };
            (c, score)
        })
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

pub(super) fn unknown_key_message(name: &str, section: &str, fields: &[Field]) -> String {
    let valid = fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ");
    let place = if section.is_empty() {
        "at the top level".to_owned()
    } else {
        format!("in {section}")
    };
    match nearest(name, fields.iter().map(|f| f.name)) {
        Some(near) => {
            format!("unknown key `{name}`; did you mean `{near}`? (valid keys {place}: {valid})")
        }
        None => format!("unknown key `{name}` (valid keys {place}: {valid})"),
    }
}

pub(super) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// `[adobe]`, `[defaults.schedule]`, `[[dataflows]]` entry 2 ... for messages.
pub(super) fn section_label(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else if let Some(rest) = prefix.strip_prefix("dataflows[") {
        let index = rest.split(']').next().unwrap_or("");
        let tail = rest
            .split_once("].")
            .map(|(_, t)| format!(" ({t})"))
            .unwrap_or_default();
        format!("[[dataflows]] entry {index}{tail}")
    } else {
        format!("[{prefix}]")
    }
}
