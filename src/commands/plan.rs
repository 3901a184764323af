//! `provision plan`: what `apply` would change, without writing.

use crate::cli::{GlobalArgs, PlanArgs};
use crate::engine::{self, apply::prepare_modules};
use crate::error::{CliError, CliResult, Exit};
use crate::output::{self, ChangesDocument};
use crate::profile::Profile;

/// Modules `plan` explores at the same time.
const CONCURRENCY: usize = 8;

pub async fn run(profile: &Profile, args: &PlanArgs, global: &GlobalArgs) -> CliResult {
    let client = engine::client(profile).map_err(CliError::failed)?;
    let selection = super::select(profile, &args.modules)?;
    let prepared = prepare_modules(
        &client,
        profile,
        args.include_datasets,
        CONCURRENCY,
        &selection,
    )
    .await?;
    let doc = ChangesDocument::new(&profile.path, &prepared.plan.changes);
    output::print_plan(global.output, &doc)?;
    Ok(if args.detailed_exitcode && prepared.plan.has_changes() {
        Exit::ChangesPending
    } else {
        Exit::Ok
    })
}
