//! `provision check [PROFILE]`: the preflight report; exit 1 when any check failed.

use super::load_profile;
use crate::api::HttpOptions;
use crate::check;
use crate::cli::{GlobalArgs, ProfileArg};
use crate::error::{CliResult, Exit};
use crate::output;

pub async fn run(args: &ProfileArg, global: &GlobalArgs) -> CliResult {
    let profile = load_profile(args.profile.as_deref())?;
    let report = check::checks(&profile, HttpOptions::default()).await?;
    output::print_report(global.output, &report)?;
    Ok(if report.failed() > 0 {
        Exit::Failed
    } else {
        Exit::Ok
    })
}
