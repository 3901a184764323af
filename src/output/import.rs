//! `import`: before asking, what will be adopted and the entries that describe it; once done, the
//! same with where the entries went (with `--print`, only the entries, as TOML for a file).

use super::{style, table, Render};
use crate::engine::import::{Adopted, ImportReport};
use crate::profile::append;

impl Render for ImportReport {
    fn human(&self) -> String {
        if let Some(signal) = self.interrupted {
            return interrupted(self, signal);
        }
        if self.done && self.print {
            return format!(
                "# {} object(s) adopted from base connection {}\n{}",
                self.adopted.len(),
                self.base_connection,
                append::render(&self.dataflows)
            );
        }
        if self.is_empty() {
            return format!(
                "Nothing to import: base connection {} and every dataflow on it are already \
                 managed by {}, which describes them.\n",
                self.base_connection, self.profile
            );
        }
        let mut out = render_objects(self);
        if self.done {
            out.push_str(&match &self.written_to {
                Some(path) => format!(
                    "\nAdopted. {} [[dataflows]] entr{} appended to {path}.\n",
                    self.dataflows.len(),
                    if self.dataflows.len() == 1 {
                        "y"
                    } else {
                        "ies"
                    }
                ),
                None => {
                    "\nAdopted. The profile already describes every adopted dataflow.\n".to_owned()
                }
            });
        } else if !self.dataflows.is_empty() {
            let whereto = if self.print {
                "printed"
            } else {
                "appended to the profile"
            };
            out.push_str(&format!(
                "\nThe [[dataflows]] entries that describe them ({whereto}):\n\n{}",
                append::render(&self.dataflows)
            ));
        }
        out
    }
}

/// An import a signal stopped: what was adopted, then what was not attempted.
fn interrupted(report: &ImportReport, signal: &str) -> String {
    let header = style::warning(&format!(
        "Import interrupted by {signal}: {} of {} objects adopted, {} not attempted; running the \
         same `provision import` again adopts the rest and writes the [[dataflows]] entries.",
        report.adopted.len(),
        report.adopted.len() + report.not_attempted.len(),
        report.not_attempted.len()
    ));
    let mut out = header + "\n\n" + &render_objects(report);
    if !report.not_attempted.is_empty() {
        out.push_str("\nNot attempted:\n\n");
        out.push_str(&objects_table(&report.not_attempted));
    }
    out
}

fn render_objects(report: &ImportReport) -> String {
    let verb = if report.done { "Adopted" } else { "Will adopt" };
    let mut out = format!(
        "{verb} for {} (base connection {}):\n\n",
        report.profile, report.base_connection
    );
    out.push_str(&objects_table(&report.adopted));
    for note in &report.left_alone {
        out.push_str(&format!("Left alone: {note}.\n"));
    }
    out.push_str(&format!("\nCredentials: {}.\n", report.credentials));
    out
}

/// One row per object: kind, module, name (`"before" -> "after"` when adoption renames it), id.
fn objects_table(objects: &[Adopted]) -> String {
    let rows: Vec<Vec<String>> = objects
        .iter()
        .map(|a| {
            let renamed = if a.name.is_empty() {
                "-".to_owned()
            } else if a.previous_name == a.name {
                a.name.clone()
            } else {
                format!("{:?} -> {:?}", a.previous_name, a.name)
            };
            vec![
                a.kind.as_str().to_owned(),
                a.module.clone().unwrap_or_else(|| "-".into()),
                renamed,
                a.id.clone(),
            ]
        })
        .collect();
    table(&["KIND", "MODULE", "NAME", "ID"], &rows, "  ")
}
