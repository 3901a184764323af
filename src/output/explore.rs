//! `explore`: the module list, or one module's columns and sample rows.

use serde_json::Value;

use super::{cell, dash, table, yes_no, Render};
use crate::explore::{ExploreReport, ModuleList, SchemaReport, TableReport};

/// `explore --schema`: one row per leaf field.
impl Render for SchemaReport {
    fn human(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .fields
            .iter()
            .map(|f| vec![f.path.clone(), f.kind.clone(), dash(f.format.as_deref())])
            .collect();
        format!(
            "Schema {} ({} fields)\n{}",
            self.schema,
            self.fields.len(),
            table(&["PATH", "TYPE", "FORMAT"], &rows, "  ")
        )
    }
}

impl Render for ExploreReport {
    fn human(&self) -> String {
        match self {
            ExploreReport::Modules(list) => render_modules(list),
            ExploreReport::Table(table) => render_table_report(table),
        }
    }
}

fn render_modules(list: &ModuleList) -> String {
    let mut out = format!(
        "{} Zoho modules seen by base connection `{}`:\n",
        list.modules.len(),
        list.connection
    );
    let rows: Vec<Vec<String>> = list
        .modules
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                m.path.clone(),
                yes_no(m.can_preview),
                yes_no(m.can_fetch_schema),
                if m.in_profile { "yes" } else { "" }.to_owned(),
            ]
        })
        .collect();
    out.push_str(&table(
        &["NAME", "PATH", "PREVIEW", "SCHEMA", "IN PROFILE"],
        &rows,
        "",
    ));
    out.push_str("\nUse a module's PATH as `module` in the profile; `provision explore PROFILE PATH` shows its columns.\n");
    out
}

fn render_table_report(report: &TableReport) -> String {
    let candidates = report
        .columns
        .iter()
        .filter(|c| c.delta_column_candidate)
        .count();
    let mut out = format!(
        "Zoho module `{}`: {} columns ({candidates} date-time, marked *, can be the delta_column)\n",
        report.module,
        report.columns.len()
    );
    let rows: Vec<Vec<String>> = report
        .columns
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                dash(c.source_type.as_deref()),
                dash(c.xdm_type.as_deref()),
                dash(c.format.as_deref()),
                if c.delta_column_candidate { "*" } else { "" }.to_owned(),
            ]
        })
        .collect();
    out.push_str(&table(
        &["COLUMN", "TYPE", "XDM TYPE", "FORMAT", "DELTA"],
        &rows,
        "",
    ));
    if !report.rows.is_empty() {
        out.push_str(&format!("\n{} sample rows:\n", report.rows.len()));
        let names: Vec<&str> = report.columns.iter().map(|c| c.name.as_str()).collect();
        let rows: Vec<Vec<String>> = report
            .rows
            .iter()
            .map(|row| {
                names
                    .iter()
                    .map(|name| cell(row.get(*name).unwrap_or(&Value::Null)))
                    .collect()
            })
            .collect();
        out.push_str(&table(&names, &rows, ""));
    }
    out
}
