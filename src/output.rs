//! The only module that writes to stdout: human tables and the JSON documents of contract §4.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::plan::{self, Action, Change, Summary};

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
        .as_deref()
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
