//! `provision import`: adopts a Zoho CRM base connection made elsewhere and every dataflow built
//! on it, after showing what it will do and asking (on a terminal, without `--yes`); then appends
//! the `[[dataflows]]` entries to the profile, or prints them (`--print`). A signal while it
//! adopts stops it between objects (exit 130/143), reporting what was not attempted.

use crate::cli::{GlobalArgs, ImportArgs, OutputFormat};
use crate::engine::import::{self, Adoption, ImportReport};
use crate::engine::{self, desired, kinds, observe};
use crate::error::{CliError, CliResult, Exit};
use crate::interrupt;
use crate::output::{self, Render as _};
use crate::profile::{append, Profile};
use crate::prompt;

pub async fn run(profile: &Profile, args: &ImportArgs, global: &GlobalArgs) -> CliResult {
    prompt::require_yes_off_terminal(
        args.yes,
        "import",
        "changes objects in Adobe Experience Platform",
        "nothing was changed",
    )?;
    let desired = desired::build(profile).map_err(|e| CliError::new(Exit::Profile, e))?;
    let client = engine::client(profile).map_err(CliError::failed)?;
    let text = std::fs::read_to_string(&profile.path).ok();
    let defaults_schema = text.as_deref().and_then(append::defaults_schema_id);
    let found = import::read(
        &client,
        profile,
        &args.base_connection,
        defaults_schema.as_deref(),
    )
    .await
    .map_err(CliError::failed)?;
    let mut report = ImportReport::new(profile, &found, args.print);
    if report.is_empty() {
        report.done = true;
        output::print_report(global.output, &report)?;
        return Ok(Exit::Ok);
    }
    // Everything that can fail before a write is done now: the Zoho refresh included.
    let params = match found.base_owned {
        true => None,
        false => {
            let preflight = observe::preflight(&client)
                .await
                .map_err(CliError::failed)?;
            let spec = &preflight.connection_spec;
            let params = kinds::base::adoption_params(&client, profile, spec)
                .await
                .map_err(CliError::failed)?;
            Some(params)
        }
    };
    output::note(global.quiet, &report.human());
    prompt::confirm_or_cancel(args.yes, "import", "import cancelled; nothing was changed").await?;
    let protection = interrupt::protect_writes();
    let adoption = import::adopt(
        &client,
        &found,
        &desired.base,
        params.as_ref(),
        protection.cancel(),
    )
    .await;
    if let Some(exit) = protection.interrupted() {
        return Err(interrupted(global.output, report, adoption, exit));
    }
    drop(protection);
    if let Some(error) = adoption.error {
        return Err(CliError::failed(error));
    }
    let entries = found.entries();
    if !args.print && !entries.is_empty() {
        let comment = format!(
            "Imported by `provision import` from base connection {}",
            found.base.id
        );
        append::append(&profile.path, &entries, &comment).map_err(|e| {
            CliError::failed(e.context(
                "the objects were adopted, but the profile could not be written: run import \
                 again with --print and add the entries by hand",
            ))
        })?;
        report.written_to = Some(profile.path.display().to_string());
    }
    report.done = true;
    output::print_report(global.output, &report)?;
    Ok(Exit::Ok)
}

/// How an import a signal stopped ends (exit 130 or 143): what was adopted and what was not
/// attempted, shown now under `--output human`, else as the JSON document with its `error`.
/// Nothing is appended to the profile; the next `import` adopts the rest and appends the entries.
fn interrupted(
    format: OutputFormat,
    mut report: ImportReport,
    adoption: Adoption,
    exit: Exit,
) -> CliError {
    let signal = interrupt::signal_name(exit);
    report.interrupted(signal, &adoption);
    let failure = adoption
        .error
        .map(|e| format!(" ({e:#})"))
        .unwrap_or_default();
    let error = CliError::new(
        exit,
        anyhow::anyhow!(
            "import interrupted by {signal}; run `provision import` again to finish{failure}"
        ),
    );
    output::failed_report(format, &report, error)
}
