//! The only module that writes to stdout: human tables and the JSON documents of contract §4.
#![allow(clippy::print_stdout)]

use std::io::Write;

use serde::Serialize;

use crate::cli::OutputFormat;

/// Prints exactly one JSON document on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints human text on stdout as is.
pub fn print_text(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}

/// Prints `value` as JSON or `human` as text, per `--output`.
pub fn print<T: Serialize>(format: OutputFormat, value: &T, human: &str) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => print_json(value),
        OutputFormat::Human => print_text(human),
    }
}
