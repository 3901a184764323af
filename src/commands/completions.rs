//! `provision completions SHELL` and the man page, both generated from the clap definitions in
//! `cli.rs`, so that they list exactly the commands and flags the binary accepts.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::{CliResult, Exit};
use crate::output;

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "provision", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The man page, in roff.
pub fn man_page() -> anyhow::Result<String> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `provision completions SHELL`.
pub fn command(shell: Shell) -> CliResult {
    output::print_text(&script(shell))?;
    Ok(Exit::Ok)
}

/// `provision man` (hidden; `make man` writes it to target/man/provision.1).
pub fn man_command() -> CliResult {
    output::print_text(&man_page()?)?;
    Ok(Exit::Ok)
}
