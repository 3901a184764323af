//! One file per subcommand: each turns its parsed arguments into options, calls the logic below
//! it, prints through [`crate::output`] and returns the exit code. Commands do not import each
//! other; what two of them share lives below them (the engine, [`crate::prompt`]).

pub mod apply;
pub mod check;
pub mod completions;
pub mod destroy;
pub mod emulator;
pub mod explore;
pub mod import;
pub mod init;
pub mod plan;
pub mod profile_schema;
pub mod run;
pub mod status;
pub mod zoho;

use std::path::Path;

use crate::cli::OutputFormat;
use crate::engine::apply::PrepareError;
use crate::engine::select::{Selection, UnknownModule};
use crate::error::{CliError, CliResult, Exit};
use crate::interrupt::signal_name;
use crate::output::{self, ChangesDocument};
use crate::profile::{self, Profile};

/// Loads and validates the profile: an invalid one exits 78 before any request is sent,
/// whatever the command.
pub(crate) fn load_profile(path: Option<&Path>) -> Result<Profile, CliError> {
    let profile = profile::load(path)?;
    tracing::debug!(path = %profile.path.display(), dataflows = profile.dataflows.len(), "profile loaded");
    Ok(profile)
}

/// The modules `--module` selects; one the profile does not have is a usage error (exit 64)
/// naming the nearest module.
pub(crate) fn select(profile: &Profile, modules: &[String]) -> Result<Selection, CliError> {
    Selection::new(profile, modules).map_err(|e: UnknownModule| CliError::new(Exit::Usage, e))
}

impl From<PrepareError> for CliError {
    fn from(error: PrepareError) -> Self {
        match error {
            PrepareError::Profile(e) => CliError::new(Exit::Profile, e),
            PrepareError::Failed(e) => CliError::failed(e),
        }
    }
}

/// How `apply` and `destroy` end once they have written: the result (each failure listed once),
/// and exit 0, 1 with `failure`, or 130/143 when `interrupted`. Under `--output json` a failed
/// or interrupted run's document is printed at the edge, with its `error`.
pub(crate) fn finish(
    format: OutputFormat,
    doc: &ChangesDocument<'_>,
    command: &str,
    failure: Option<String>,
    interrupted: Option<Exit>,
) -> CliResult {
    let (error, human) = match (interrupted, failure) {
        (None, None) => {
            output::print_result(format, doc, command)?;
            return Ok(Exit::Ok);
        }
        (Some(exit), failure) => {
            let signal = signal_name(exit);
            let message = format!(
                "{command} interrupted by {signal}; run `provision {command}` again to finish{}",
                failure.map(|f| format!(" ({f})")).unwrap_or_default()
            );
            let human = output::render_interrupted(doc, command, signal);
            (CliError::new(exit, anyhow::anyhow!(message)), human)
        }
        (None, Some(failure)) => {
            let human = output::render_result(doc, command);
            (CliError::failed(anyhow::anyhow!(failure)), human)
        }
    };
    if format == OutputFormat::Json {
        return Err(error.with_document(doc));
    }
    output::print_text(&human)?;
    let listed = doc.changes.iter().filter(|c| c.error.is_some()).count();
    let error = match (interrupted, listed) {
        (Some(exit), _) => error.shown_as(format!(
            "{command} interrupted by {}; run `provision {command}` again to finish",
            signal_name(exit)
        )),
        // The failure belongs to no change: the result does not show it.
        (None, 0) => error,
        (None, n) => error.shown_as(format!(
            "{command} failed: {n} change{} failed (listed above); run `provision {command}` \
             again once the cause is fixed",
            if n == 1 { "" } else { "s" }
        )),
    };
    Err(error)
}
