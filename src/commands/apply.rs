//! `provision apply`: plans, shows the plan, asks (on a terminal, without `--yes`), converges.

use super::finish;
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::engine::apply::{execute, prepare, Options};
use crate::engine::{self, failure};
use crate::error::{CliError, CliResult, Exit};
use crate::interrupt;
use crate::output::{self, ChangesDocument};
use crate::profile::Profile;
use crate::progress::Progress;
use crate::prompt;

pub async fn run(profile: &Profile, args: &ApplyArgs, global: &GlobalArgs) -> CliResult {
    let concurrency = usize::from(args.concurrency);
    let client = engine::client(profile)
        .map_err(CliError::failed)?
        .with_max_concurrency(concurrency);
    let prepared = prepare(&client, profile, args.include_datasets, concurrency).await?;
    let doc = ChangesDocument::new(&profile.path, &prepared.plan.changes);
    if !prepared.plan.has_changes() {
        output::print_result(global.output, &doc, "apply")?;
        return Ok(Exit::Ok);
    }
    output::print_pending(global.output, &doc)?;
    prompt::confirm_or_cancel(args.yes, "apply", "apply cancelled; nothing was changed").await?;
    let protection = interrupt::protect_writes();
    let progress = Progress::new(global.quiet);
    let options = Options {
        concurrency,
        cancel: protection.cancel().clone(),
    };
    let outcome = execute(&client, profile, prepared, &options, &progress).await;
    progress.finish();
    let doc = ChangesDocument::new(&profile.path, &outcome.changes);
    let failure = failure(&outcome.changes, outcome.error, "apply");
    finish(
        global.output,
        &doc,
        "apply",
        failure,
        protection.interrupted(),
    )
}
