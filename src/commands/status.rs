//! `provision status [PROFILE] [--runs N] [--wait] [--timeout DURATION]`.

use super::load_profile;
use crate::cli::{GlobalArgs, StatusArgs};
use crate::error::{CliError, CliResult, Exit};
use crate::output;
use crate::progress::WaitProgress;
use crate::status::{self, StatusOptions};

/// Runs per dataflow in the JSON document when `--runs` is not given.
const DEFAULT_RUNS: usize = 3;

pub async fn run(args: &StatusArgs, global: &GlobalArgs) -> CliResult {
    let profile = load_profile(args.profile.profile.as_deref())?;
    let modules = super::select(&profile, &args.modules)?;
    let options = StatusOptions {
        modules,
        runs: args.runs.map_or(DEFAULT_RUNS, |n| n as usize),
        detailed: args.runs.is_some() || global.verbose > 0,
        wait: args.wait.then_some(args.timeout),
    };
    let mut progress = WaitProgress::new(global.quiet);
    let report = status::status(&profile, &options, &mut progress).await?;
    if let Some(failure) = report.wait_failure(args.timeout) {
        let error = CliError::failed(failure);
        return Err(output::failed_report(global.output, &report, error));
    }
    output::print_report(global.output, &report)?;
    Ok(Exit::Ok)
}
