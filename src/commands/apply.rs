//! `provision apply`: plans, shows the plan, asks (on a terminal, without `--yes`), converges.

use crate::cli::{ApplyArgs, GlobalArgs};
use crate::engine::apply::{execute, prepare_modules, Options};
use crate::engine::{self, failure};
use crate::error::{CliError, CliResult, Exit};
use crate::output::{self, ChangesDocument};
use crate::profile::Profile;
use crate::progress::Progress;
use crate::prompt;

pub async fn run(profile: &Profile, args: &ApplyArgs, global: &GlobalArgs) -> CliResult {
    let concurrency = usize::from(args.concurrency);
    let client = engine::client(profile)
        .map_err(CliError::failed)?
        .with_max_concurrency(concurrency);
    let selection = super::select(profile, &args.modules)?;
    let prepared = prepare_modules(
        &client,
        profile,
        args.include_datasets,
        concurrency,
        &selection,
    )
    .await?;
    let doc = ChangesDocument::new(&profile.path, &prepared.plan.changes);
    if !prepared.plan.has_changes() {
        output::print_result(global.output, &doc, "apply")?;
        return Ok(Exit::Ok);
    }
    output::print_pending(global.output, &doc)?;
    prompt::confirm_or_cancel(args.yes, "apply", "apply cancelled; nothing was changed").await?;
    let progress = Progress::new(global.quiet);
    let options = Options { concurrency };
    let outcome = execute(&client, profile, prepared, &options, &progress).await;
    progress.finish();
    let doc = ChangesDocument::new(&profile.path, &outcome.changes);
    output::print_result(global.output, &doc, "apply")?;
    prompt::exit(failure(&outcome.changes, outcome.error, "apply"))
}
