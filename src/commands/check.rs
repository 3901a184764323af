//! `provision check [PROFILE]`: the preflight report; exit 1 when any check failed.

use super::load_profile;
use crate::api::HttpOptions;
use crate::check;
use crate::cli::{GlobalArgs, ProfileArg};
use crate::error::{CliError, CliResult, Exit};
use crate::output;

pub async fn run(args: &ProfileArg, global: &GlobalArgs) -> CliResult {
    let profile = load_profile(args.profile.as_deref())?;
    let report = check::checks(&profile, HttpOptions::default()).await?;
    let failed = report.failed();
    if failed > 0 {
        let error = CliError::failed(anyhow::anyhow!(
            "{failed} check{} failed; fix what they say and run `provision check` again",
            if failed == 1 { "" } else { "s" }
        ));
        return Err(output::failed_report(global.output, &report, error));
    }
    output::print_report(global.output, &report)?;
    Ok(Exit::Ok)
}
