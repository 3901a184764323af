//! `provision status [PROFILE] [--runs N] [--wait] [--timeout DURATION]`.

use super::load_profile;
use crate::cli::{GlobalArgs, StatusArgs};
use crate::error::{CliError, CliResult, Exit};
use crate::output;
use crate::progress::WaitProgress;
use crate::status::{self, StatusOptions};

pub async fn run(args: &StatusArgs, global: &GlobalArgs) -> CliResult {
    let profile = load_profile(args.profile.profile.as_deref())?;
    let options = StatusOptions {
        runs: args.runs as usize,
        wait: args.wait.then_some(args.timeout),
    };
    let mut progress = WaitProgress::new(global.quiet);
    let report = status::status(&profile, &options, &mut progress).await?;
    output::print_report(global.output, &report)?;
    match report.wait_failure(args.timeout) {
        Some(failure) => Err(CliError::failed(failure)),
        None => Ok(Exit::Ok),
    }
}
