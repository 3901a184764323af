//! `check`: one row per check and a summary line.

use super::Render;
use crate::check::{Report, Status};

impl Render for Report {
    fn human(&self) -> String {
        render_check(self)
    }
}

fn render_check(report: &Report) -> String {
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
