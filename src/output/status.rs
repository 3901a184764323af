//! `status`: one line per dataflow (state, schedule, last run, records, health), or with `--runs`
//! / `-v` each dataflow's newest runs and their errors.

use super::{duration, seconds, style, table, Render};
use crate::api::runs::error_text;
use crate::status::{DataflowStatus, RunView, StatusReport, WaitResult};

impl Render for StatusReport {
    fn human(&self) -> String {
        let mut out = if self.dataflows.is_empty() {
            "the profile has no [[dataflows]] entries\n".to_owned()
        } else if self.detailed {
            render_detailed(&self.dataflows)
        } else {
            render_compact(&self.dataflows)
        };
        out.push_str(&render_footer(self));
        out
    }
}

/// One line per dataflow.
fn render_compact(flows: &[DataflowStatus]) -> String {
    let rows: Vec<Vec<String>> = flows
        .iter()
        .map(|flow| {
            let last = flow.runs.first();
            vec![
                flow.module.clone(),
                flow.state.clone().unwrap_or_else(|| "-".into()),
                flow.schedule
                    .as_ref()
                    .map_or_else(|| "-".into(), |s| s.description.clone()),
                last.map_or_else(
                    || "-".into(),
                    |run| match run.started_at {
                        Some(t) => format!("{} {}", run.status, seconds(t)),
                        None => run.status.clone(),
                    },
                ),
                last.filter(|run| run.has_records).map_or_else(
                    || "-".into(),
                    |run| {
                        let r = run.records;
                        format!("{}/{}/{}", r.input, r.output, r.failed)
                    },
                ),
                // The last column: its escapes do not shift the others.
                style::health(flow.health.status, &flow.health.message),
            ]
        })
        .collect();
    table(
        &[
            "MODULE",
            "STATE",
            "SCHEDULE",
            "LAST RUN",
            "RECORDS IN/OUT/FAILED",
            "HEALTH",
        ],
        &rows,
        "",
    )
}

/// Each dataflow's fields, newest runs and errors.
fn render_detailed(flows: &[DataflowStatus]) -> String {
    let mut out = String::new();
    for (index, flow) in flows.iter().enumerate() {
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
        field(
            "health",
            &style::health(flow.health.status, &flow.health.message),
        );
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
    out
}

/// What follows the flows: owned flows no longer in the profile, and the wait's outcome.
fn render_footer(report: &StatusReport) -> String {
    let mut out = String::new();
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
        short_id(run),
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
