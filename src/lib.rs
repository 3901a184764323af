//! `provision`: converge Adobe Experience Platform's Zoho CRM source on a TOML profile.
//!
//! `main.rs` parses arguments and calls [`run`]; each command's logic lives in its own module,
//! and `output.rs` is the only place that writes stdout. See `docs/architecture.md`.
#![deny(clippy::print_stdout)]

pub mod api;
pub mod apply;
pub mod auth;
pub mod check;
pub mod cli;
pub mod desired;
pub mod destroy;
pub mod emulator;
pub mod error;
pub mod logging;
pub mod naming;
pub mod observe;
pub mod output;
pub mod plan;
pub mod profile;
pub mod progress;
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
    let format = cli.global.output;
    match cli.command {
        Command::Emulator(args) => {
            emulator::run(args).await?;
            Ok(Exit::Ok)
        }
        Command::Apply(args) => {
            let profile = load(args.profile.profile.as_deref())?;
            apply::apply_command(&profile, &args, &cli.global).await
        }
        Command::Plan(args) => {
            let profile = load(args.profile.profile.as_deref())?;
            apply::plan_command(&profile, &args, &cli.global).await
        }
        Command::Destroy(args) => {
            let profile = load(args.profile.profile.as_deref())?;
            destroy::command(&profile, &args, &cli.global).await
        }
        Command::Explore(args) => {
            let (path, _module) = explore_target(&args.args);
            let _profile = load(path.as_deref())?;
            not_implemented("explore")
        }
        Command::Status(args) => {
            let _profile = load(args.profile.profile.as_deref())?;
            not_implemented("status")
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

fn not_implemented(command: &str) -> CliResult {
    Err(CliError::failed(anyhow::anyhow!(
        "`provision {command}` is not implemented yet; the profile is valid, but this command \
         does nothing so far"
    )))
}
