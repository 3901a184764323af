//! `provision apply`: plans, shows the plan, asks (on a terminal, without `--yes`), takes the
//! profile's lease (waiting up to `--lock-timeout` for another apply's), converges, and lets the
//! lease go. With `--plan FILE`: applies the saved plan, once it is shown to still hold.

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use crate::api::{AepClient, ConnectionId};

use super::finish;
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::engine::apply::{execute, prepare_modules, Options, Prepared};
use crate::engine::lease::{self, Holder, Take};
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
    let selection = super::select(profile, &args.modules)?;
    let run_id = lease::run_id();
    let deadline = Instant::now() + args.lock_timeout;
    // A saved plan was reviewed when it was made: applying it is the consent (as Terraform's
    // `apply PLANFILE`).
    let yes = args.yes || saved.is_some();
    let mut confirmed = false;
    loop {
        let mut prepared =
            prepare_modules(&client, profile, include_datasets, concurrency, &selection).await?;
        // Checked before the lease is taken, against this observation: the lease is written
        // with the base connection's etag seen here, so a change made since (another apply
        // takes the lease before it writes) makes the take fail with 412, and the loop
        // observes and checks again. This run's own lease is never part of what is checked.
        if let Some((file, saved)) = &saved {
            still_holds(profile, &prepared, saved, include_datasets, file)?;
        }
        let doc = ChangesDocument::new(&profile.path, &prepared.plan.changes);
        if !prepared.plan.has_changes() {
            output::print_result(global.output, &doc, "apply")?;
            return Ok(Exit::Ok);
        }
        if !confirmed {
            output::print_pending(global.output, &doc)?;
            prompt::confirm_or_cancel(yes, "apply", "apply cancelled; nothing was changed").await?;
            confirmed = true;
        }
        let taken = lease::take(&client, &mut prepared, &run_id)
            .await
            .map_err(CliError::failed)?;
        let lease = match taken {
            Take::Held(lease) => lease,
            // Another run took or let go of the lease since the observation: observe again.
            Take::Changed => continue,
            Take::Busy(id, holder) => {
                wait_for(&client, &id, &run_id, holder, deadline, args.lock_timeout).await?;
                continue;
            }
        };
        let protection = interrupt::protect_writes();
        let progress = Progress::new(global.quiet);
        let options = Options {
            concurrency,
            cancel: protection.cancel().clone(),
        };
        let work = execute(&client, profile, prepared, &options, &lease, &progress);
        let outcome = lease.hold(&client, work).await;
        progress.finish();
        if outcome.contended {
            tracing::warn!(run = lease.run(), "a concurrent apply created the base connection first; waiting for its lease, then planning again");
            continue;
        }
        lease.release(&client).await;
        let doc = ChangesDocument::new(&profile.path, &outcome.changes);
        let failure = failure(&outcome.changes, outcome.error, "apply");
        return finish(
            global.output,
            &doc,
            "apply",
            failure,
            protection.interrupted(),
        );
    }
}

/// Waits for another run's lease on base connection `id` to go, until `deadline`.
async fn wait_for(
    client: &AepClient,
    id: &ConnectionId,
    run_id: &str,
    holder: Holder,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), CliError> {
    tracing::warn!(
        connection = %id,
        holder = %holder.run,
        until = %holder.until,
        "another apply of this profile holds its lease; waiting for it (--lock-timeout {})",
        humantime::format_duration(timeout)
    );
    match lease::wait(client, id, run_id, holder, deadline)
        .await
        .map_err(CliError::failed)?
    {
        Ok(()) => Ok(()),
        Err(holder) => {
            Err(CliError::failed(anyhow::anyhow!(
            "base connection {id} is locked by apply run {} until {}; gave up after waiting {} \
             (--lock-timeout). Run apply again once that run has finished; if it was killed, \
             its lease expires at that time and the next apply takes it over",
            holder.run,
            holder.until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            humantime::format_duration(timeout)
        )))
        }
    }
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
