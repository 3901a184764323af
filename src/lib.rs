//! `provision`: converge Adobe Experience Platform's Zoho CRM source on a TOML profile.
//!
//! `main.rs` parses arguments and calls [`run`]; each command's logic lives in its own module,
//! and `output.rs` is the only place that writes stdout.
#![deny(clippy::print_stdout)]

pub mod api;
pub mod apply;
pub mod auth;
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

use cli::{Cli, Command};
use error::{CliError, CliResult};

/// Runs one command to completion and returns its exit status.
pub async fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Emulator(args) => {
            emulator::run(args).await?;
            Ok(error::Exit::Ok)
        }
        Command::Apply(args) => apply::apply_command(&args, &cli.global).await,
        Command::Plan(args) => apply::plan_command(&args, &cli.global).await,
        Command::Destroy(args) => destroy::command(&args, &cli.global).await,
        Command::Explore(_) => not_implemented("explore"),
        Command::Status(_) => not_implemented("status"),
        Command::Check(_) => not_implemented("check"),
        Command::Zoho(_) => not_implemented("zoho"),
    }
}

fn not_implemented(command: &str) -> CliResult {
    Err(CliError::failed(anyhow::anyhow!(
        "`provision {command}` is not implemented yet"
    )))
}
