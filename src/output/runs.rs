//! `run` / `retry`: one line per selected dataflow (module, run, status, reason).

use super::{duration, table, Render};
use crate::operate::RunReport;

impl Render for RunReport {
    fn human(&self) -> String {
        if self.runs.is_empty() {
            return "the profile has no [[dataflows]] entries\n".to_owned();
        }
        let rows: Vec<Vec<String>> = self
            .runs
            .iter()
            .map(|r| {
                vec![
                    r.module.clone(),
                    r.run_id
                        .as_ref()
                        .map_or_else(|| "-".into(), |id| id.to_string()),
                    r.status.clone(),
                    r.reason.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let mut out = table(&["MODULE", "RUN", "STATUS", "REASON"], &rows, "");
        if let Some(wait) = &self.wait {
            out.push_str(&format!(
                "\nwaited {} for the runs started by {}\n",
                duration(wait.waited_seconds as i64),
                self.op
            ));
        }
        out
    }
}
