//! `provision apply`: plans, shows the plan, asks (on a terminal, without `--yes`), converges.
//! With `--plan FILE`: applies the saved plan, once it is shown to still hold.

use std::path::Path;

use super::finish;
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::engine::apply::{execute, prepare, Options, Prepared};
use crate::engine::saved::{Current, SavedPlan};
use crate::engine::{self, failure};
use crate::error::{CliError, CliResult, Exit};
use crate::interrupt;
use crate::output::{self, ChangesDocument};
use crate::profile::Profile;
use crate::progress::Progress;
use crate::prompt;

pub async fn run(profile: &Profile, args: &ApplyArgs, global: &GlobalArgs) -> CliResult {
    let concurrency = usize::from(args.concurrency);
    let saved = args.plan.as_deref().map(read_saved).transpose()?;
    let include_datasets = saved
        .as_ref()
        .map_or(args.include_datasets, |(_, s)| s.include_datasets);
    let client = engine::client(profile)
        .map_err(CliError::failed)?
        .with_max_concurrency(concurrency);
    let prepared = prepare(&client, profile, include_datasets, concurrency).await?;
    if let Some((file, saved)) = &saved {
        still_holds(profile, &prepared, saved, include_datasets, file)?;
    }
    let doc = ChangesDocument::new(&profile.path, &prepared.plan.changes);
    if !prepared.plan.has_changes() {
        output::print_result(global.output, &doc, "apply")?;
        return Ok(Exit::Ok);
    }
    output::print_pending(global.output, &doc)?;
    // A saved plan was reviewed when it was made: applying it is the consent (as Terraform's
    // `apply PLANFILE`).
    let yes = args.yes || saved.is_some();
    prompt::confirm_or_cancel(yes, "apply", "apply cancelled; nothing was changed").await?;
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

/// The saved plan at `file` (exit 1 when it cannot be read as one).
fn read_saved(file: &Path) -> Result<(String, SavedPlan), CliError> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| {
        CliError::failed(anyhow::anyhow!(
            "could not read the saved plan {shown}: {e}; write it with `provision plan --out {shown}`"
        ))
    })?;
    let saved =
        SavedPlan::parse(&text, &shown).map_err(|e| CliError::failed(anyhow::anyhow!(e)))?;
    Ok((shown, saved))
}

/// Refuses (exit 1, before any write) a saved plan whose profile or objects changed since.
fn still_holds(
    profile: &Profile,
    prepared: &Prepared,
    saved: &SavedPlan,
    include_datasets: bool,
    file: &str,
) -> Result<(), CliError> {
    let current = Current::of(profile, prepared, include_datasets);
    let changed = saved.stale(&current).map_err(|e| {
        CliError::failed(anyhow::anyhow!(
            "could not read the profile {}: {e}",
            profile.path.display()
        ))
    })?;
    if changed.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = changed.iter().map(|c| format!("  - {c}")).collect();
    Err(CliError::failed(anyhow::anyhow!(
        "the saved plan {file} is out of date, so nothing was applied; since it was saved:\n{}\n\
         run `provision plan {} --out {file}` again, review it, then apply it",
        list.join("\n"),
        profile.path.display()
    )))
}
