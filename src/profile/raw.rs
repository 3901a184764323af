//! Step 3 of loading: the file's values with the valid environment overrides laid over them, as
//! one TOML table ([`Node`]). The key walk (step 2) has already checked every key and type
//! against the schema, so the accessors here only read: no key or type is described twice.

use secrecy::SecretString;

use super::schema::Kind;

/// A valid `PROVISION_<SECTION>__<KEY>` override: the key's path, its type and the raw value.
pub(super) struct Override {
    pub(super) segments: Vec<String>,
    pub(super) kind: Kind,
    pub(super) value: String,
}

/// One table of the layered profile.
#[derive(Default)]
pub(super) struct Node(toml::Table);

/// `mapping`: `"auto"` (or another word, reported later) or a list of rules.
pub(super) enum RawMapping {
    Keyword(String),
    Rules(Vec<Node>),
}

/// The file, then the environment overrides in order.
pub(super) fn layer(text: &str, overrides: Vec<Override>) -> Result<Node, toml::de::Error> {
    let mut root: toml::Table = toml::from_str(text)?;
    for o in overrides {
        let value = env_value(o.kind, &o.value);
        insert(&mut root, &o.segments, value);
    }
    Ok(Node(root))
}

/// Sets the key at `path`, creating the tables on the way. The walk only accepts overrides whose
/// parents are tables, so nothing else is ever in the way.
fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) {
    match path {
        [] => {}
        [last] => {
            table.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let Some(inner) = entry.as_table_mut() {
                insert(inner, rest, value);
            }
        }
    }
}

/// An override's value with the type of its key (the walk has checked that it parses).
fn env_value(kind: Kind, value: &str) -> toml::Value {
    match kind {
        Kind::Int => value
            .trim()
            .parse::<i64>()
            .map_or_else(|_| value.into(), toml::Value::Integer),
        Kind::Bool => value
            .trim()
            .parse::<bool>()
            .map_or_else(|_| value.into(), toml::Value::Boolean),
        _ => value.into(),
    }
}

impl Node {
    /// A string, or a TOML date-time as RFC 3339 text.
    pub(super) fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            toml::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    pub(super) fn secret(&self, key: &str) -> Option<SecretString> {
        self.str(key).map(SecretString::from)
    }

    pub(super) fn int(&self, key: &str) -> Option<i64> {
        self.0.get(key)?.as_integer()
    }

    pub(super) fn bool(&self, key: &str) -> Option<bool> {
        self.0.get(key)?.as_bool()
    }

    /// An array of strings from the file, or a comma-separated list from the environment.
    pub(super) fn list(&self, key: &str) -> Option<Vec<String>> {
        match self.0.get(key)? {
            toml::Value::String(csv) => Some(csv.split(',').map(|s| s.trim().to_owned()).collect()),
            toml::Value::Array(items) => Some(
                items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// A sub-table, if present.
    pub(super) fn table(&self, key: &str) -> Option<Node> {
        self.0.get(key)?.as_table().cloned().map(Node)
    }

    /// A top-level section, empty when absent.
    pub(super) fn section(&self, key: &str) -> Node {
        self.table(key).unwrap_or_default()
    }

    /// An array of tables (`[[dataflows]]`), empty when absent.
    pub(super) fn tables(&self, key: &str) -> Vec<Node> {
        self.0
            .get(key)
            .and_then(toml::Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_table().cloned().map(Node))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn mapping(&self, key: &str) -> Option<RawMapping> {
        match self.0.get(key)? {
            toml::Value::Array(_) => Some(RawMapping::Rules(self.tables(key))),
            _ => self.str(key).map(RawMapping::Keyword),
        }
    }
}
