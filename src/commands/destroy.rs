//! `provision destroy`: deletes what the profile owns, after showing it and asking (on a
//! terminal, without `--yes`).

use super::finish;
use crate::cli::{DestroyArgs, GlobalArgs};
use crate::engine::{self, desired, destroy, failure, observe};
use crate::error::{CliError, CliResult, Exit};
use crate::interrupt;
use crate::output::{self, ChangesDocument};
use crate::profile::Profile;
use crate::progress::Progress;
use crate::prompt;

pub async fn run(profile: &Profile, args: &DestroyArgs, global: &GlobalArgs) -> CliResult {
    prompt::require_yes_off_terminal(
        args.yes,
        "destroy",
        "deletes objects",
        "nothing was deleted",
    )?;
    let desired = desired::build(profile).map_err(|e| CliError::new(Exit::Profile, e))?;
    let selection = super::select(profile, &args.modules)?;
    let client = engine::client(profile).map_err(CliError::failed)?;
    let mut managed = observe::managed(&client, &desired.prefix)
        .await
        .map_err(CliError::failed)?;
    selection.restrict_managed(&mut managed, &desired);
    let mut plan = destroy::plan(&managed, args.include_datasets, &selection);
    let doc = ChangesDocument::new(&profile.path, &plan.changes);
    if !plan.has_changes() {
        output::print_result(global.output, &doc, "destroy")?;
        return Ok(Exit::Ok);
    }
    output::print_destroy_plan(global.output, &doc)?;
    prompt::confirm_or_cancel(
        args.yes,
        "destroy",
        "destroy cancelled; nothing was deleted",
    )
    .await?;
    let protection = interrupt::protect_writes();
    let progress = Progress::new(global.quiet);
    destroy::execute(&client, &mut plan, &progress, protection.cancel()).await;
    progress.finish();
    let doc = ChangesDocument::new(&profile.path, &plan.changes);
    let failure = failure(&plan.changes, None, "destroy");
    finish(
        global.output,
        &doc,
        "destroy",
        failure,
        protection.interrupted(),
    )
}
