//! `provision`: converge Adobe Experience Platform's Zoho CRM source on a TOML profile.
//!
//! `main.rs` parses arguments and calls [`run`], which dispatches to `commands/` (one file per
//! subcommand); the logic lives below the commands, and `output` is the only module that writes
//! stdout. See `docs/architecture.md`.
#![deny(clippy::print_stdout)]

pub mod api;
pub mod auth;
pub mod check;
pub mod cli;
pub mod clients;
pub mod commands;
pub mod emulator;
pub mod engine;
pub mod error;
pub mod explore;
pub mod interrupt;
pub mod logging;
pub mod operate;
pub mod output;
pub mod profile;
pub mod progress;
pub mod prompt;
pub mod status;
pub mod transport;
pub mod validate;
pub mod zoho_setup;

use cli::{Cli, Command, ZohoCommand};
use commands::load_profile;
use error::CliResult;

/// Runs one command to completion and returns its exit status. Each command loads and validates
/// its profile first, so an invalid profile exits 78 before any request is sent. SIGINT and
/// SIGTERM are handled by [`interrupt::run`] (the emulator stops on them by itself).
pub async fn run(cli: Cli) -> CliResult {
    clients::use_token_cache(!cli.global.no_token_cache);
    match cli.command {
        Command::Emulator(args) => commands::emulator::run(args).await,
        command => interrupt::run(dispatch(command, cli.global)).await,
    }
}

async fn dispatch(command: Command, global: cli::GlobalArgs) -> CliResult {
    match command {
        Command::Emulator(args) => commands::emulator::run(args).await,
        Command::Apply(args) => {
            let profile = load_profile(args.profile.profile.as_deref())?;
            commands::apply::run(&profile, &args, &global).await
        }
        Command::Plan(args) => {
            let profile = load_profile(args.profile.profile.as_deref())?;
            commands::plan::run(&profile, &args, &global).await
        }
        Command::Destroy(args) => {
            let profile = load_profile(args.profile.profile.as_deref())?;
            commands::destroy::run(&profile, &args, &global).await
        }
        Command::Import(args) => {
            let profile = load_profile(args.profile.profile.as_deref())?;
            commands::import::run(&profile, &args, &global).await
        }
        Command::Init(args) => commands::init::command(&args, global.output).await,
        Command::Completions(args) => commands::completions::command(args.shell),
        Command::Man => commands::completions::man_command(),
        Command::Explore(args) => commands::explore::run(&args, &global).await,
        Command::Status(args) => commands::status::run(&args, &global).await,
        Command::Run(args) => commands::run::run(&args, &global, commands::run::Op::Run).await,
        Command::Retry(args) => commands::run::run(&args, &global, commands::run::Op::Retry).await,
        Command::Check(args) => commands::check::run(&args, &global).await,
        Command::Zoho(ZohoCommand::Token(args)) => commands::zoho::token(&args, &global).await,
        Command::Zoho(ZohoCommand::Modules(args)) => commands::zoho::modules(&args, &global).await,
        Command::ProfileSchema => commands::profile_schema::run(&global),
    }
}
