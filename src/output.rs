//! The only module that writes to stdout: human tables and the JSON documents of contract §4.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::cli::OutputFormat;
use crate::engine::plan::{self, Action, Change, Summary};
use crate::explore::{ExploreReport, ModuleList, TableReport};
use crate::status::{error_text, RunView, StatusReport, WaitResult};

/// Prints exactly one JSON document on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints human text on stdout as is.
pub fn print_text(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}

/// Prints `value` as JSON or `human` as text, per `--output`.
pub fn print<T: Serialize>(format: OutputFormat, value: &T, human: &str) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => print_json(value),
        OutputFormat::Human => print_text(human),
    }
}

/// Prints `explore`'s result: the module list or one module's columns (and rows).
pub fn print_explore(format: OutputFormat, report: &ExploreReport) -> anyhow::Result<()> {
    let human = match report {
        ExploreReport::Modules(list) => render_modules(list),
        ExploreReport::Table(table) => render_table_report(table),
    };
    print(format, report, &human)
}

/// Prints `status`'s report.
pub fn print_status(format: OutputFormat, report: &StatusReport) -> anyhow::Result<()> {
    print(format, report, &render_status(report))
}

/// A note for the user on stderr (not a log line: shown unless `-q`).
pub fn note(quiet: bool, text: &str) {
    if !quiet {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
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

fn render_status(report: &StatusReport) -> String {
    let mut out = String::new();
    if report.dataflows.is_empty() {
        out.push_str("the profile has no [[dataflows]] entries\n");
    }
    for (index, flow) in report.dataflows.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}\n", flow.name));
        let mut field = |label: &str, value: &str| {
            out.push_str(&format!("  {label:<9} {value}\n"));
        };
        field("module", &flow.module);
        field("id", flow.id.as_ref().map_or("-", |id| id.as_str()));
        field("state", flow.state.as_deref().unwrap_or("-"));
        field(
            "schedule",
            flow.schedule
                .as_ref()
                .map_or("-", |s| s.description.as_str()),
        );
        field("health", &flow.health.message);
        if flow.runs.is_empty() {
            continue;
        }
        let rows: Vec<Vec<String>> = flow.runs.iter().map(run_row).collect();
        let runs = table(
            &[
                "RUN",
                "STATUS",
                "STARTED",
                "COMPLETED",
                "DURATION",
                "INPUT",
                "OUTPUT",
                "FAILED",
            ],
            &rows,
            "  ",
        );
        out.push_str(&format!("  last {} runs:\n", flow.runs.len()));
        out.push_str(&runs);
        // Each distinct error once, with the runs (by RUN column) that reported it.
        let mut errors: Vec<(String, Vec<String>)> = Vec::new();
        for run in &flow.runs {
            for error in &run.errors {
                let text = error_text(error.code.as_deref(), error.message.as_deref());
                let short = short_id(run);
                match errors.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, runs)) => runs.push(short),
                    None => errors.push((text, vec![short])),
                }
            }
        }
        for (text, runs) in errors {
            let label = if runs.len() == 1 { "run" } else { "runs" };
            out.push_str(&format!("    {label} {}: {text}\n", runs.join(", ")));
        }
    }
    if !report.not_in_profile.is_empty() {
        out.push_str("\nnot in the profile any more, but marked as managed by it:\n");
        for (name, id) in &report.not_in_profile {
            out.push_str(&format!("  {name} ({id})\n"));
        }
    }
    if let Some(wait) = &report.wait {
        let result = match wait.result {
            WaitResult::Success => "every newest run succeeded",
            WaitResult::Failed => "a newest run failed",
            WaitResult::Timeout => "timed out",
            WaitResult::Blocked => "stopped early: a dataflow cannot finish before the timeout",
        };
        out.push_str(&format!(
            "\nwait: {result} (after {})\n",
            duration(wait.waited_seconds as i64)
        ));
    }
    out
}

/// The run id's first block: enough to tell a flow's runs apart; `--output json` has the full id.
fn short_id(run: &RunView) -> String {
    run.id
        .as_str()
        .split('-')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn run_row(run: &RunView) -> Vec<String> {
    let records = |n: u64| {
        if run.has_records {
            n.to_string()
        } else {
            "-".to_owned()
        }
    };
    vec![
        run.id
            .as_str()
            .split('-')
            .next()
            .unwrap_or_default()
            .to_owned(),
        run.status.clone(),
        run.started_at.map_or_else(|| "-".to_owned(), seconds),
        run.completed_at.map_or_else(|| "-".to_owned(), seconds),
        run.duration_seconds
            .map_or_else(|| "-".to_owned(), duration),
        records(run.records.input),
        records(run.records.output),
        records(run.records.failed),
    ]
}

fn seconds(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `1h 2m`, `3m 20s`, `45s`.
fn duration(total: i64) -> String {
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m"),
    }
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

fn dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

/// A preview cell: strings as they are, null as empty, anything else as JSON; cut at 40 chars.
fn cell(value: &Value) -> String {
    const MAX: usize = 40;
    let text = match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = text.replace(['\n', '\r', '\t'], " ");
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Left-aligned columns separated by two spaces, each line starting with `indent`.
fn table<H: AsRef<str>>(headers: &[H], rows: &[Vec<String>], indent: &str) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.as_ref().chars().count()).collect();
    for row in rows {
        for (width, value) in widths.iter_mut().zip(row) {
            *width = (*width).max(value.chars().count());
        }
    }
    let line = |values: Vec<&str>| {
        let cells: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        format!("{indent}{}\n", cells.join("  ").trim_end())
    };
    let mut out = line(headers.iter().map(AsRef::as_ref).collect());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `check`: one row per check and a summary line, or `{"checks": [...]}` (contract §4).
pub fn print_check(format: OutputFormat, report: &crate::check::Report) -> anyhow::Result<()> {
    print(format, report, &render_check(report))
}

fn render_check(report: &crate::check::Report) -> String {
    use crate::check::Status;
    let width = report
        .checks
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0)
        .max("CHECK".len());
    let mut out = format!("{:<width$}  {:<7}  DETAIL\n", "CHECK", "RESULT");
    for check in &report.checks {
        let result = match check.status {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::Skipped => "skipped",
        };
        out.push_str(&format!(
            "{:<width$}  {result:<7}  {}\n",
            check.name, check.detail
        ));
    }
    out.push_str(&format!(
        "\n{} passed, {} failed, {} skipped\n",
        report.count(Status::Ok),
        report.count(Status::Fail),
        report.count(Status::Skipped)
    ));
    out
}

/// `zoho token`: the data centre, API domain, scopes, where the refresh token went, the next
/// steps and the warnings. The refresh token itself only when `--show` put it in `outcome`.
pub fn print_zoho_token(
    format: OutputFormat,
    outcome: &crate::zoho_cmd::TokenOutcome,
) -> anyhow::Result<()> {
    print(format, outcome, &render_zoho_token(outcome))
}

fn render_zoho_token(outcome: &crate::zoho_cmd::TokenOutcome) -> String {
    use secrecy::ExposeSecret;
    let mut out = String::from("Zoho grant token exchanged.\n");
    let centre = match &outcome.data_centre {
        Some(region) => format!("{region} ({})", outcome.accounts_url),
        None => outcome.accounts_url.clone(),
    };
    out.push_str(&format!("  data centre    {centre}\n"));
    out.push_str(&format!(
        "  API domain     {}\n",
        outcome
            .api_domain
            .as_deref()
            .unwrap_or("(Zoho did not say; use the data centre's default)")
    ));
    let scopes = if outcome.scopes.is_empty() {
        "(Zoho did not list them)".to_owned()
    } else {
        outcome.scopes.join(", ")
    };
    out.push_str(&format!("  scopes         {scopes}\n"));
    if let Some(file) = &outcome.written_to {
        out.push_str(&format!("  refresh token  written to {file} (mode 0600)\n"));
    }
    if let Some(token) = &outcome.refresh_token {
        out.push_str(&format!("  refresh token  {}\n", token.expose_secret()));
    }
    out.push_str("\nNext:\n");
    for (i, step) in outcome.next_steps.iter().enumerate() {
        out.push_str(&format!("  {}. {step}\n", i + 1));
    }
    for warning in &outcome.warnings {
        out.push_str(&format!("\nwarning: {warning}\n"));
    }
    out
}

/// `zoho modules`: api_name, module_name and api_supported per module.
pub fn print_zoho_modules(
    format: OutputFormat,
    outcome: &crate::zoho_cmd::ModulesOutcome,
) -> anyhow::Result<()> {
    print(format, outcome, &render_zoho_modules(outcome))
}

fn render_zoho_modules(outcome: &crate::zoho_cmd::ModulesOutcome) -> String {
    let width = outcome
        .modules
        .iter()
        .map(|m| m.api_name.chars().count())
        .max()
        .unwrap_or(0)
        .max("API_NAME".len());
    let name_width = outcome
        .modules
        .iter()
        .map(|m| m.module_name.as_deref().unwrap_or("-").chars().count())
        .max()
        .unwrap_or(0)
        .max("MODULE_NAME".len());
    let mut out = format!(
        "{:<width$}  {:<name_width$}  API_SUPPORTED  IN_PROFILE\n",
        "API_NAME", "MODULE_NAME"
    );
    for m in &outcome.modules {
        let supported = match m.api_supported {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        out.push_str(&format!(
            "{:<width$}  {:<name_width$}  {supported:<13}  {}\n",
            m.api_name,
            m.module_name.as_deref().unwrap_or("-"),
            if m.in_profile { "yes" } else { "" }
        ));
    }
    out.push_str(&format!(
        "\n{} modules from {}\n",
        outcome.modules.len(),
        outcome.api_domain
    ));
    if !outcome.missing.is_empty() {
        out.push_str(&format!(
            "not listed by Zoho: {} (a profile module must be a Zoho module's api_name)\n",
            outcome.missing.join(", ")
        ));
    }
    out
}

/// The document `plan`, `apply` and `destroy` print with `--output json` (contract §4).
#[derive(Debug, Clone, Serialize)]
pub struct ChangesDocument<'a> {
    pub profile: String,
    pub changes: &'a [Change],
    pub summary: Summary,
}

impl<'a> ChangesDocument<'a> {
    pub fn new(profile: &Path, changes: &'a [Change]) -> Self {
        Self {
            profile: profile.display().to_string(),
            changes,
            summary: plan::summarize(changes),
        }
    }
}

/// `plan`: the changes as a Terraform-like list, or the JSON document.
pub fn print_plan(format: OutputFormat, doc: &ChangesDocument<'_>) -> anyhow::Result<()> {
    print(format, doc, &render_plan(doc, "apply"))
}

/// `apply` before it writes: the plan (human output only; JSON prints one document at the end).
pub fn print_pending(format: OutputFormat, doc: &ChangesDocument<'_>) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => Ok(()),
        OutputFormat::Human => print_text(&render_plan(doc, "apply")),
    }
}

/// `apply` and `destroy` when done: what happened to each change.
pub fn print_result(
    format: OutputFormat,
    doc: &ChangesDocument<'_>,
    command: &str,
) -> anyhow::Result<()> {
    print(format, doc, &render_result(doc, command))
}

/// `destroy` before it deletes.
pub fn print_destroy_plan(format: OutputFormat, doc: &ChangesDocument<'_>) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => Ok(()),
        OutputFormat::Human => print_text(&render_plan(doc, "destroy")),
    }
}

fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
        Action::Noop => " ",
    }
}

fn change_line(out: &mut String, prefix: &str, change: &Change) {
    let id = change
        .id
        .as_ref()
        .map(|id| format!("  (id {id})"))
        .unwrap_or_default();
    out.push_str(&format!(
        "  {prefix:<3} {:<17} {}{id}\n",
        change.kind.as_str(),
        change.name
    ));
    if let Some(reason) = &change.reason {
        out.push_str(&format!("        # {reason}\n"));
    }
    if let Some(error) = &change.error {
        out.push_str(&format!("        error: {error}\n"));
    }
}

/// Terraform-like: one line per change, then the objects left as they are for a reason
/// (`=`), then a summary; unchanged objects are only counted.
pub fn render_plan(doc: &ChangesDocument<'_>, command: &str) -> String {
    let s = doc.summary;
    let total = doc.changes.len();
    if s.create + s.update + s.replace + s.delete == 0 {
        return format!(
            "No changes: Adobe Experience Platform matches {} ({total} object{} checked).\n",
            doc.profile,
            if total == 1 { "" } else { "s" }
        );
    }
    let mut out = format!(
        "`provision {command}` will make these changes for {}:\n\n",
        doc.profile
    );
    for change in doc.changes.iter().filter(|c| c.action != Action::Noop) {
        change_line(&mut out, symbol(change.action), change);
    }
    kept_lines(&mut out, doc.changes);
    out.push_str(&format!("\nPlan: {}.\n", counts(s, command, false)));
    out
}

/// Unchanged objects that carry a reason (kept by destroy, reused after an interrupted run).
fn kept_lines(out: &mut String, changes: &[Change]) {
    let kept: Vec<&Change> = changes
        .iter()
        .filter(|c| c.action == Action::Noop && c.reason.is_some())
        .collect();
    if !kept.is_empty() {
        out.push('\n');
        for change in kept {
            change_line(out, "=", change);
        }
    }
}

/// `3 to create, ... 2 unchanged` (plan) or `3 created, ...` (done); destroy only deletes.
fn counts(s: Summary, command: &str, done: bool) -> String {
    let verb = |planned: &str, made: &str| {
        if done {
            made.to_owned()
        } else {
            planned.to_owned()
        }
    };
    if command == "destroy" {
        return format!(
            "{} {}, {} kept",
            s.delete,
            verb("to delete", "deleted"),
            s.noop
        );
    }
    format!(
        "{} {}, {} {}, {} {}, {} {}, {} unchanged",
        s.create,
        verb("to create", "created"),
        s.update,
        verb("to update", "updated"),
        s.replace,
        verb("to replace", "replaced"),
        s.delete,
        verb("to delete", "deleted"),
        s.noop
    )
}

/// After `apply`/`destroy`: each change made (with the id it ended with) and the failures.
pub fn render_result(doc: &ChangesDocument<'_>, command: &str) -> String {
    let s = doc.summary;
    let failed: Vec<&Change> = doc.changes.iter().filter(|c| c.error.is_some()).collect();
    let made: Vec<&Change> = doc
        .changes
        .iter()
        .filter(|c| c.action != Action::Noop && c.error.is_none())
        .collect();
    if made.is_empty() && failed.is_empty() {
        return render_plan(doc, command);
    }
    let mut out = String::new();
    if failed.is_empty() {
        out.push_str(&format!(
            "{} complete: {}.\n",
            capitalized(command),
            counts(s, command, true)
        ));
    } else {
        out.push_str(&format!(
            "{} failed: {} of {} changes failed; running `provision {command}` again continues \
             from where this run stopped.\n",
            capitalized(command),
            failed.len(),
            s.create + s.update + s.replace + s.delete
        ));
    }
    if !made.is_empty() {
        out.push('\n');
        for change in &made {
            change_line(&mut out, symbol(change.action), change);
        }
    }
    if !failed.is_empty() {
        out.push_str("\nFailed:\n");
        for change in &failed {
            change_line(&mut out, "!", change);
        }
    }
    out
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
