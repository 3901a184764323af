//! Step 2 of loading: every key and value type of the spanned document, and every
//! `PROVISION_<SECTION>__<KEY>` override, checked against the schema ([`super::schema`]).

use super::raw::Override;
use super::report::{join, position, section_label, unknown_key_message, At, Report, Sites};
use super::schema::{Field, Kind, ROOT, RULE};
use super::types::{Env, PROFILE_ENV};

pub(super) const ENV_PREFIX: &str = "PROVISION_";

pub(super) struct Walk<'a> {
    pub(super) text: &'a str,
    pub(super) lines: Vec<usize>,
    pub(super) sites: Sites,
    pub(super) report: Report<'a>,
}

impl Walk<'_> {
    pub(super) fn pos(&self, span: std::ops::Range<usize>) -> At {
        At::File(position(self.text, &self.lines, span.start))
    }

    pub(super) fn table(&mut self, prefix: &str, table: &toml::de::DeTable<'_>, fields: &[Field]) {
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let path = join(prefix, name);
            let at = self.pos(key.span());
            match fields.iter().find(|f| f.name == name) {
                None => {
                    let message = unknown_key_message(name, &section_label(prefix), fields);
                    self.report.add(&path, at, message);
                }
                Some(f) => {
                    if let At::File(pos) = at {
                        self.sites.file.insert(path.clone(), pos);
                    }
                    self.value(&path, value, f.kind);
                }
            }
        }
    }

    pub(super) fn value(
        &mut self,
        path: &str,
        value: &toml::Spanned<toml::de::DeValue<'_>>,
        kind: Kind,
    ) {
        use toml::de::DeValue as V;
        let at = self.pos(value.span());
        match (kind, value.get_ref()) {
            (Kind::Str | Kind::Secret, V::String(_)) => {}
            (Kind::Bool, V::Boolean(_)) => {}
            (Kind::Timestamp, V::String(_) | V::Datetime(_)) => {}
            (Kind::Int, V::Integer(i)) => {
                if i64::from_str_radix(i.as_str(), i.radix()).is_err() {
                    self.report.add(path, at, "the number is too large");
                }
            }
            (Kind::StrList, V::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if !matches!(item.get_ref(), V::String(_)) {
                        let at = self.pos(item.span());
                        let message =
                            format!("expected a string, found {}", item.get_ref().type_str());
                        self.report.add(&format!("{path}[{i}]"), at, message);
                    }
                }
            }
            (Kind::Table(fields), V::Table(table)) => self.table(path, table, fields),
            (Kind::Mapping, V::String(_)) => {}
            (Kind::Mapping, V::Array(items)) => self.tables(path, items, RULE),
            (Kind::Tables(fields), V::Array(items)) => self.tables(path, items, fields),
            (kind, other) => {
                let message = format!("expected {}, found {}", kind.describe(), other.type_str());
                self.report.add(path, at, message);
            }
        }
    }

    pub(super) fn tables(&mut self, path: &str, items: &toml::de::DeArray<'_>, fields: &[Field]) {
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let at = self.pos(item.span());
            if let At::File(pos) = at {
                self.sites.file.insert(item_path.clone(), pos);
            }
            match item.get_ref() {
                toml::de::DeValue::Table(table) => self.table(&item_path, table, fields),
                other => {
                    let message = format!("expected a table, found {}", other.type_str());
                    self.report.add(&item_path, at, message);
                }
            }
        }
    }

    /// Checks every `PROVISION_<SECTION>__<KEY>` variable against the schema; returns the valid
    /// ones, in the order of their variable names.
    pub(super) fn env_overrides(&mut self, env: &Env) -> Vec<Override> {
        let mut valid = Vec::new();
        let mut vars: Vec<_> = env.iter().collect();
        vars.sort();
        for (var, value) in vars {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if var == PROFILE_ENV {
                continue;
            }
            let rest = rest.to_ascii_lowercase();
            if !rest.contains("__") {
                // Not an override (e.g. some other PROVISION_* setting), unless it looks like a
                // section-qualified key written with a single underscore.
                if let Some(section) = ROOT
                    .iter()
                    .find(|f| rest.starts_with(&format!("{}_", f.name)))
                {
                    let key = &rest[section.name.len() + 1..];
                    let message = format!(
                        "not a valid override: separate the section from the key with two \
                         underscores, e.g. {ENV_PREFIX}{}__{}",
                        section.name.to_ascii_uppercase(),
                        key.to_ascii_uppercase()
                    );
                    self.report.add(&rest, At::Env(var.clone()), message);
                }
                continue;
            }
            let segments: Vec<&str> = rest.split("__").collect();
            if let Some((path, kind)) = self.env_key(var, &segments, value) {
                self.sites.env.insert(path, var.clone());
                valid.push(Override {
                    segments: segments.iter().map(|s| (*s).to_owned()).collect(),
                    kind,
                    value: value.clone(),
                });
            }
        }
        valid
    }

    /// The key `segments` names and its type, if it is a valid override.
    pub(super) fn env_key(
        &mut self,
        var: &str,
        segments: &[&str],
        value: &str,
    ) -> Option<(String, Kind)> {
        let mut fields = ROOT;
        let mut path = String::new();
        for (i, segment) in segments.iter().enumerate() {
            let section = section_label(&path);
            let candidate = join(&path, segment);
            let Some(f) = fields.iter().find(|f| f.name == *segment) else {
                let message = unknown_key_message(segment, &section, fields);
                self.report
                    .add(&candidate, At::Env(var.to_owned()), message);
                return None;
            };
            path = candidate;
            let last = i + 1 == segments.len();
            match (f.kind, last) {
                (Kind::Table(inner), false) => fields = inner,
                (Kind::Tables(_), _) => {
                    let message =
                        "[[dataflows]] entries cannot be overridden from the environment; \
                                   edit the profile, or use ${VAR} in it";
                    self.report.add(&path, At::Env(var.to_owned()), message);
                    return None;
                }
                (Kind::Table(inner), true) => {
                    let example = inner.first().map_or("KEY", |f| f.name).to_ascii_uppercase();
                    let message = format!(
                        "a table cannot be set from one variable; set its keys one by one, \
                         e.g. {var}__{example}"
                    );
                    self.report.add(&path, At::Env(var.to_owned()), message);
                    return None;
                }
                (kind, true) => {
                    return match check_env_value(kind, value) {
                        Ok(()) => Some((path, kind)),
                        Err(message) => {
                            self.report.add(&path, At::Env(var.to_owned()), message);
                            None
                        }
                    };
                }
                (_, false) => {
                    let message = format!(
                        "`{path}` is not a table, so it has no key `{}`",
                        segments[i + 1]
                    );
                    self.report.add(&path, At::Env(var.to_owned()), message);
                    return None;
                }
            }
        }
        None
    }
}

pub(super) fn check_env_value(kind: Kind, value: &str) -> Result<(), String> {
    match kind {
        Kind::Int => value
            .trim()
            .parse::<i64>()
            .map(|_| ())
            .map_err(|_| format!("expected a whole number, found `{value}`")),
        Kind::Bool => match value.trim() {
            "true" | "false" => Ok(()),
            _ => Err(format!("expected true or false, found `{value}`")),
        },
        _ => Ok(()),
    }
}
