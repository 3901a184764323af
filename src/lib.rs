//! `provision`: converge Adobe Experience Platform's Zoho CRM source on a TOML profile.
//!
//! `main.rs` parses arguments and calls [`run`]; each command's logic lives in its own module,
//! and `output.rs` is the only place that writes stdout. See `docs/architecture.md`.
#![deny(clippy::print_stdout)]

pub mod api;
pub mod auth;
pub mod check;
pub mod cli;
pub mod commands;
pub mod emulator;
pub mod engine;
pub mod error;
pub mod explore;
pub mod logging;
pub mod output;
pub mod profile;
pub mod progress;
pub mod prompt;
pub mod status;
pub mod zoho_cmd;

use std::path::{Path, PathBuf};

use cli::{Cli, Command, ZohoCommand};
use error::{CliError, CliResult, Exit};
use profile::Profile;

/// Runs one command to completion and returns its exit status.
///
/// Every command that reads a profile loads and validates it first, so an invalid profile exits
/// 78 before any request is sent, whatever the command.
pub async fn run(cli: Cli) -> CliResult {
    let global = cli.global;
    let format = global.output;
    match cli.command {
        Command::Emulator(args) => {
            emulator::run(args).await?;
            Ok(Exit::Ok)
        }
        Command::Apply(args) => {
            let profile = load(args.profile.profile.as_deref())?;
            commands::apply::run(&profile, &args, &global).await
        }
        Command::Plan(args) => {
            let profile = load(args.profile.profile.as_deref())?;
            commands::plan::run(&profile, &args, &global).await
        }
        Command::Destroy(args) => {
            let profile = load(args.profile.profile.as_deref())?;
            commands::destroy::run(&profile, &args, &global).await
        }
        Command::Explore(args) => {
            let (path, module) = explore_target(&args.args);
            if module.is_none() && args.preview.is_some() {
                return Err(CliError::usage(
                    "--preview shows rows of one module: name it, e.g. `provision explore PROFILE Leads --preview 5`",
                ));
            }
            let profile = load(path.as_deref())?;
            let options = explore::ExploreOptions {
                module,
                preview: args.preview,
                create_connection: args.create_connection,
            };
            let explored = explore::explore(&profile, &options).await?;
            if let Some(id) = &explored.created_connection {
                output::note(
                    global.quiet,
                    &format!(
                        "created base connection `{}` (id {id}) in sandbox `{}`",
                        profile.connection.name, profile.adobe.sandbox
                    ),
                );
            }
            if let explore::ExploreReport::Table(table) = &explored.report {
                if let Some(note) = &table.preview_note {
                    tracing::warn!("{note}");
                }
            }
            output::print_explore(format, &explored.report)?;
            Ok(Exit::Ok)
        }
        Command::Status(args) => {
            let profile = load(args.profile.profile.as_deref())?;
            let options = status::StatusOptions {
                runs: args.runs as usize,
                wait: args.wait.then_some(args.timeout),
            };
            let mut progress = progress::WaitProgress::new(global.quiet);
            let report = status::status(&profile, &options, &mut progress).await?;
            output::print_status(format, &report)?;
            match report.wait_failure(args.timeout) {
                Some(failure) => Err(CliError::failed(failure)),
                None => Ok(Exit::Ok),
            }
        }
        Command::Check(args) => {
            let profile = load(args.profile.as_deref())?;
            check::run(&profile, format).await
        }
        Command::Zoho(ZohoCommand::Token(args)) => {
            // Only the [zoho] client settings are read: the user has no refresh token yet.
            zoho_cmd::token(&args, &profile::process_env(), format).await
        }
        Command::Zoho(ZohoCommand::Modules(args)) => {
            let profile = load(args.profile.as_deref())?;
            zoho_cmd::modules(&profile, format).await
        }
    }
}

fn load(path: Option<&Path>) -> Result<Profile, CliError> {
    let profile = profile::load(path)?;
    tracing::debug!(path = %profile.path.display(), dataflows = profile.dataflows.len(), "profile loaded");
    Ok(profile)
}

/// `explore [PROFILE] [MODULE]`: with two arguments, the first is the profile; with one, it is
/// the profile if it ends in `.toml` or names an existing file, else the module.
pub fn explore_target(args: &[String]) -> (Option<PathBuf>, Option<String>) {
    match args {
        [] => (None, None),
        [one] => {
            let path = Path::new(one);
            if one.ends_with(".toml") || path.is_file() {
                (Some(path.to_owned()), None)
            } else {
                (None, Some(one.clone()))
            }
        }
        [profile, module, ..] => (Some(PathBuf::from(profile)), Some(module.clone())),
    }
}
