//! The only module that writes to stdout: human tables and the JSON documents every command
//! prints. Each command hands it a report that implements [`Render`]; the human rendering of each
//! report lives in a submodule named after it. Nothing here imports a command.
#![allow(clippy::print_stdout)]

mod changes;
mod check;
mod explore;
mod import;
mod runs;
mod status;
pub mod style;
mod zoho;

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::cli::OutputFormat;
use crate::engine::plan::{self, Action, Change, Outcome, Summary};
use crate::error::{CliError, ErrorDocument};

/// Prints exactly one JSON document on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints human text on stdout as is; its colours (see [`style`]) only reach a terminal.
pub fn print_text(text: &str) -> anyhow::Result<()> {
    let mut out = anstream::stdout().lock();
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

/// A report a command prints: its JSON document is how it serializes, its human text is
/// [`Render::human`].
pub trait Render: Serialize {
    fn human(&self) -> String;
}

/// Prints `report` as one JSON document or as human text, per `--output`.
pub fn print_report<R: Render>(format: OutputFormat, report: &R) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => print_json(report),
        OutputFormat::Human => print_text(&report.human()),
    }
}

/// A note for the user on stderr (not a log line: shown unless `-q`).
pub fn note(quiet: bool, text: &str) {
    if !quiet {
        let _ = writeln!(anstream::stderr().lock(), "{text}");
    }
}

/// A command that failed with a report to show: its human text now, its JSON document later,
/// with the error in it ([`print_failure`]).
pub fn failed_report<R: Render>(format: OutputFormat, report: &R, error: CliError) -> CliError {
    match format {
        OutputFormat::Json => error.with_document(report),
        OutputFormat::Human => {
            let _ = print_text(&report.human());
            error
        }
    }
}

/// How every failure ends (docs/cli.md#json-output): under `--output json`, exactly one JSON
/// document on stdout, the command's own where it has one, with `"error": {"message",
/// "exit_code", "kind"}`; and the message once on stderr (a brief line instead when the
/// command's human output already listed the details).
pub fn print_failure(format: OutputFormat, error: &CliError) {
    let brief = match format {
        OutputFormat::Json => {
            print_error_document(error);
            None
        }
        OutputFormat::Human => error.shown.clone(),
    };
    let text = brief.unwrap_or_else(|| error.message());
    let _ = writeln!(
        anstream::stderr().lock(),
        "{} {text}",
        style::error("error:")
    );
}

/// The JSON half of [`print_failure`] alone (a usage error: clap has printed the message).
pub fn print_error_document(error: &CliError) {
    let _ = match &error.document {
        Some(document) => print_json(document),
        None => print_json(&ErrorDocument {
            error: error.body(),
        }),
    };
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

/// The document `plan`, `apply` and `destroy` print with `--output json` (docs/cli.md#json-output).
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

/// One change: its line (its symbol coloured by action; `!` failed, `=` kept), its reason, and
/// with `detail` the attributes it sends and what differs (an update's reason is its
/// differences, so it is not repeated), then its error.
fn change_line(out: &mut String, prefix: &str, change: &Change, detail: bool) {
    let id = change
        .id
        .as_ref()
        .map(|id| format!("  (id {id})"))
        .unwrap_or_default();
    let padded = format!("{prefix:<3}");
    let symbol = match prefix {
        "!" => style::error(&padded),
        "=" => padded,
        _ => style::action(change.action, &padded),
    };
    out.push_str(&format!(
        "  {symbol} {:<17} {}{id}\n",
        change.kind.as_str(),
        change.name
    ));
    let repeated = detail && change.action == Action::Update && !change.diff.is_empty();
    if let Some(reason) = change.reason.as_ref().filter(|_| !repeated) {
        out.push_str(&format!("        # {reason}\n"));
    }
    if detail {
        changes::detail_lines(out, change.attributes.as_ref(), &change.diff);
    }
    if let Some(error) = &change.error {
        out.push_str(&format!("        {} {error}\n", style::error("error:")));
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
        change_line(&mut out, symbol(change.action), change, true);
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
            change_line(out, "=", change, false);
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

/// After `apply`/`destroy`: each change made (with the id it ended with), then, when some
/// failed, the failures and what was not attempted.
pub fn render_result(doc: &ChangesDocument<'_>, command: &str) -> String {
    let s = doc.summary;
    let lists = Lists::of(doc.changes);
    if lists.made.is_empty() && lists.failed.is_empty() && lists.skipped.is_empty() {
        return render_plan(doc, command);
    }
    let header = if lists.failed.is_empty() && lists.skipped.is_empty() {
        format!(
            "{} complete: {}.",
            capitalized(command),
            counts(s, command, true)
        )
    } else {
        style::error(&format!(
            "{} failed: {} failed, {} not attempted, {} done; running `provision {command}` \
             again continues from where this run stopped.",
            capitalized(command),
            lists.failed.len(),
            lists.skipped.len(),
            lists.made.len(),
        ))
    };
    header + "\n" + &lists.render()
}

/// After an interrupted `apply`/`destroy` (`signal`: `SIGINT` or `SIGTERM`): what was done, what
/// failed, and what was not attempted (the writes the interrupt stopped before they started).
pub fn render_interrupted(doc: &ChangesDocument<'_>, command: &str, signal: &str) -> String {
    let s = doc.summary;
    let lists = Lists::of(doc.changes);
    let header = style::warning(&format!(
        "{} interrupted by {signal}: {} of {} changes made, {} not attempted; running \
         `provision {command}` again continues from where this run stopped.",
        capitalized(command),
        lists.made.len(),
        s.create + s.update + s.replace + s.delete,
        lists.skipped.len(),
    ));
    header + "\n" + &lists.render()
}

/// The changes of a run by outcome (unchanged objects left out).
struct Lists<'a> {
    made: Vec<&'a Change>,
    failed: Vec<&'a Change>,
    skipped: Vec<&'a Change>,
}

impl<'a> Lists<'a> {
    fn of(changes: &'a [Change]) -> Self {
        let with = |outcome: Outcome| -> Vec<&'a Change> {
            changes
                .iter()
                .filter(|c| c.action != Action::Noop && c.outcome == Some(outcome))
                .collect()
        };
        Self {
            made: with(Outcome::Done),
            failed: with(Outcome::Failed),
            skipped: with(Outcome::NotAttempted),
        }
    }

    /// The made, failed and not attempted changes, each list under its heading.
    fn render(&self) -> String {
        let mut out = String::new();
        let sections = [
            ("", &self.made, None),
            ("Failed:", &self.failed, Some("!")),
            ("Not attempted:", &self.skipped, None),
        ];
        for (title, changes, mark) in sections {
            if changes.is_empty() {
                continue;
            }
            out.push('\n');
            if !title.is_empty() {
                out.push_str(&format!("{title}\n"));
            }
            for change in changes.iter() {
                change_line(
                    &mut out,
                    mark.unwrap_or(symbol(change.action)),
                    change,
                    false,
                );
            }
        }
        out
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
