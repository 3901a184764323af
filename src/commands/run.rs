//! `provision run|retry [PROFILE] [--module M]... [--wait] [--timeout DURATION]`.

use super::load_profile;
use crate::cli::{GlobalArgs, RunArgs};
use crate::error::{CliError, CliResult, Exit};
use crate::operate;
pub use crate::operate::Op;
use crate::output;
use crate::progress::WaitProgress;

pub async fn run(args: &RunArgs, global: &GlobalArgs, op: Op) -> CliResult {
    let profile = load_profile(args.profile.profile.as_deref())?;
    let selection = super::select(&profile, &args.modules)?;
    let mut progress = WaitProgress::new(global.quiet);
    let wait = args.wait.then_some(args.timeout);
    let report = operate::operate(&profile, op, &selection, wait, &mut progress).await?;
    if let Some(failure) = report.failure(args.timeout) {
        let error = CliError::failed(failure);
        return Err(output::failed_report(global.output, &report, error));
    }
    output::print_report(global.output, &report)?;
    Ok(Exit::Ok)
}
