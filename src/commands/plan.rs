//! `provision plan`: what `apply` would change, without writing.

use std::path::Path;

use crate::cli::{GlobalArgs, PlanArgs};
use crate::engine::apply::{prepare_modules, Prepared};
use crate::engine::saved::{Current, SavedPlan};
use crate::engine::{self};
use crate::error::{CliError, CliResult, Exit};
use crate::output::{self, ChangesDocument};
use crate::profile::Profile;
use crate::validate::CONCURRENCY;

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
    if let Some(file) = &args.out {
        save(profile, &prepared, args.include_datasets, file)?;
        let note = format!(
            "Saved the plan to {}; apply exactly it with `provision apply {} --plan {}`.",
            file.display(),
            profile.path.display(),
            file.display()
        );
        output::note(global.quiet, &note);
    }
    let doc = ChangesDocument::new(&profile.path, &prepared.plan.changes);
    output::print_plan(global.output, &doc)?;
    Ok(if args.detailed_exitcode && prepared.plan.has_changes() {
        Exit::ChangesPending
    } else {
        Exit::Ok
    })
}

/// Writes the plan and what it was computed from to `file` (docs/pipeline.md).
fn save(
    profile: &Profile,
    prepared: &Prepared,
    include_datasets: bool,
    file: &Path,
) -> Result<(), CliError> {
    let current = Current::of(profile, prepared, include_datasets);
    let written = SavedPlan::new(&current)
        .map_err(anyhow::Error::from)
        .and_then(|saved| Ok(serde_json::to_vec_pretty(&saved)?))
        .and_then(|bytes| Ok(std::fs::write(file, bytes)?));
    written.map_err(|e| {
        CliError::failed(anyhow::anyhow!(
            "could not save the plan to {}: {e:#}; check that its directory exists and is writable",
            file.display()
        ))
    })
}
