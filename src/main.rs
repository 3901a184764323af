use std::process::ExitCode;

use clap::Parser;
use provision::cli::Cli;
use provision::error::{CliError, Exit};
use provision::output;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; everything else clap rejects is a usage error (64).
            let code = if e.use_stderr() {
                Exit::Usage.code()
            } else {
                0
            };
            let _ = e.print();
            if e.use_stderr() && json_requested(std::env::args()) {
                let message = e
                    .kind()
                    .as_str()
                    .unwrap_or("invalid arguments")
                    .to_lowercase();
                output::print_error_document(&CliError::usage(format!(
                    "{message}; see `provision --help`"
                )));
            }
            return ExitCode::from(code as u8);
        }
    };
    output::style::set_choice(cli.global.color);
    provision::logging::init(&cli.global);
    let format = cli.global.output;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(Exit::Failed.code() as u8);
        }
    };
    let result = runtime.block_on(provision::run(cli));
    // Whatever was cut off by an interrupt (a prompt's blocking read) is not waited for.
    runtime.shutdown_background();
    match result {
        Ok(exit) => ExitCode::from(exit.code() as u8),
        Err(e) => {
            output::print_failure(format, &e);
            ExitCode::from(e.exit.code() as u8)
        }
    }
}

/// Whether the arguments clap rejected ask for `--output json` (so that the failure still
/// prints its one JSON document).
fn json_requested(args: impl Iterator<Item = String>) -> bool {
    let args: Vec<String> = args.collect();
    args.iter().any(|a| a == "--output=json")
        || args
            .windows(2)
            .any(|pair| pair[0] == "--output" && pair[1] == "json")
}
