//! The `[[dataflows]]` entries `provision import` writes, rendered with `toml_edit` and appended
//! to a profile file without disturbing its comments or layout (or printed, with `--print`).

use std::path::Path;

use anyhow::Context as _;
use serde::{Serialize, Serializer};
use serde_json::{json, Value as Json};
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use super::types::{Frequency, MappingRule, Schedule};

/// One `[[dataflows]]` entry describing an adopted dataflow: its dataset by `{ id }` (provision
/// never manages a dataset it did not create), the explicit mapping read from its mapping set,
/// its own schedule and state.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub module: String,
    pub dataset_id: String,
    pub delta_column: String,
    /// Written only when it differs from the file's `[defaults].schema_id`.
    pub schema_id: Option<String>,
    pub mapping: Vec<MappingRule>,
    pub schedule: Schedule,
    pub enabled: bool,
}

impl Entry {
    /// The entry as the JSON of `import --output json` (the profile's keys).
    pub fn to_json(&self) -> Json {
        let mut entry = json!({
            "module": self.module,
            "dataset": {"id": self.dataset_id},
            "delta_column": self.delta_column,
            "schedule": schedule_json(&self.schedule),
            "enabled": self.enabled,
            "mapping": self.mapping.iter()
                .map(|r| json!({"source": r.source, "destination": r.destination}))
                .collect::<Vec<_>>(),
        });
        if let Some(schema) = &self.schema_id {
            entry["schema_id"] = json!(schema);
        }
        entry
    }

    fn table(&self) -> Table {
        let mut t = Table::new();
        t.insert("module", toml_edit::value(self.module.as_str()));
        let mut dataset = InlineTable::new();
        dataset.insert("id", self.dataset_id.as_str().into());
        t.insert("dataset", toml_edit::value(dataset));
        t.insert("delta_column", toml_edit::value(self.delta_column.as_str()));
        if let Some(schema) = &self.schema_id {
            t.insert("schema_id", toml_edit::value(schema.as_str()));
        }
        t.insert("schedule", toml_edit::value(schedule_table(&self.schedule)));
        t.insert("enabled", toml_edit::value(self.enabled));
        let mut mapping = Array::new();
        for rule in &self.mapping {
            let mut r = InlineTable::new();
            r.insert("source", rule.source.as_str().into());
            r.insert("destination", rule.destination.as_str().into());
            mapping.push_formatted(Value::InlineTable(r).decorated("\n  ", ""));
        }
        mapping.set_trailing_comma(true);
        mapping.set_trailing("\n");
        t.insert("mapping", toml_edit::value(mapping));
        t
    }
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

fn start(schedule: &Schedule) -> String {
    schedule
        .start
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn schedule_json(schedule: &Schedule) -> Json {
    let mut s = json!({"frequency": schedule.frequency.as_str(), "start": start(schedule)});
    if schedule.frequency != Frequency::Once {
        if let Some(interval) = schedule.interval {
            s["interval"] = json!(interval);
        }
        if let Some(backfill) = schedule.backfill {
            s["backfill"] = json!(backfill);
        }
    }
    s
}

fn schedule_table(schedule: &Schedule) -> InlineTable {
    let mut s = InlineTable::new();
    s.insert("frequency", schedule.frequency.as_str().into());
    if schedule.frequency != Frequency::Once {
        if let Some(interval) = schedule.interval {
            s.insert("interval", i64::from(interval).into());
        }
    }
    s.insert("start", start(schedule).into());
    if schedule.frequency != Frequency::Once {
        if let Some(backfill) = schedule.backfill {
            s.insert("backfill", backfill.into());
        }
    }
    s
}

/// The literal `[defaults].schema_id` of a profile's text (`None` when absent or `${VAR}`), so
/// that entries repeat the schema only when it differs.
pub fn defaults_schema_id(text: &str) -> Option<String> {
    let doc: DocumentMut = text.parse().ok()?;
    let schema = doc.get("defaults")?.get("schema_id")?.as_str()?;
    (!schema.contains("${")).then(|| schema.to_owned())
}

/// The entries as TOML text (`[[dataflows]]` tables), for `import --print`.
pub fn render(entries: &[Entry]) -> String {
    let mut doc = DocumentMut::new();
    let mut tables = ArrayOfTables::new();
    for entry in entries {
        tables.push(entry.table());
    }
    doc.insert("dataflows", Item::ArrayOfTables(tables));
    doc.to_string()
}

/// Appends `entries` to the profile at `path` after the existing `[[dataflows]]` (or at the
/// end), the first preceded by `# {comment}`; every other line of the file is kept as it was.
/// The file is replaced in one rename, keeping its permissions.
pub fn append(path: &Path, entries: &[Entry], comment: &str) -> anyhow::Result<()> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {shown}"))?;
    let mut doc: DocumentMut = text
        .parse()
        .with_context(|| format!("{shown} is not valid TOML; fix it and run import again"))?;
    // Comments after the file's last key belong where they are: before the new entries.
    let tail = doc.trailing().as_str().unwrap_or_default().to_owned();
    doc.set_trailing("");
    let item = doc
        .entry("dataflows")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
    let Item::ArrayOfTables(tables) = item else {
        anyhow::bail!(
            "{shown}: `dataflows` is not an array of tables ([[dataflows]]); fix the profile, or \
             run import with --print and add the entries by hand"
        );
    };
    for (i, entry) in entries.iter().enumerate() {
        let mut table = entry.table();
        if i == 0 {
            table
                .decor_mut()
                .set_prefix(format!("{tail}\n# {comment}\n"));
        }
        tables.push(table);
    }
    let tmp = path.with_file_name(format!(
        ".{}.import.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("profile")
    ));
    std::fs::write(&tmp, doc.to_string()).with_context(|| format!("writing next to {shown}"))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {shown}"))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn entry(frequency: Frequency) -> Entry {
        Entry {
            module: "Leads".into(),
            dataset_id: "ds1".into(),
            delta_column: "Modified_Time".into(),
            schema_id: None,
            mapping: vec![MappingRule {
                source: "Email".into(),
                destination: "personalEmail.address".into(),
            }],
            schedule: Schedule {
                frequency,
                interval: Some(1),
                start: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
                backfill: Some(true),
            },
            enabled: false,
        }
    }

    #[test]
    fn entries_render_as_the_profile_writes_them() {
        let text = render(&[entry(Frequency::Hour), entry(Frequency::Once)]);
        assert_eq!(
            text,
            r#"[[dataflows]]
module = "Leads"
dataset = { id = "ds1" }
delta_column = "Modified_Time"
schedule = { frequency = "hour", interval = 1, start = "2026-12-01T00:00:00Z", backfill = true }
enabled = false
mapping = [
  { source = "Email", destination = "personalEmail.address" },
]

[[dataflows]]
module = "Leads"
dataset = { id = "ds1" }
delta_column = "Modified_Time"
schedule = { frequency = "once", start = "2026-12-01T00:00:00Z" }
enabled = false
mapping = [
  { source = "Email", destination = "personalEmail.address" },
]
"#
        );
    }

    #[test]
    fn defaults_schema_is_read_only_when_literal() {
        assert_eq!(
            defaults_schema_id("[defaults]\nschema_id = \"s\"\n").as_deref(),
            Some("s")
        );
        assert_eq!(
            defaults_schema_id("[defaults]\nschema_id = \"${S}\"\n"),
            None
        );
        assert_eq!(defaults_schema_id("x = 1\n"), None);
    }
}
