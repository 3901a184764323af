//! `provision emulator`: serves the local stand-in until interrupted.

use crate::cli::EmulatorArgs;
use crate::emulator;
use crate::error::{CliResult, Exit};

pub async fn run(args: EmulatorArgs) -> CliResult {
    emulator::run(args).await?;
    Ok(Exit::Ok)
}
