use std::process::ExitCode;

use clap::Parser;
use provision::cli::Cli;
use provision::error::Exit;

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
            return ExitCode::from(code as u8);
        }
    };
    provision::logging::init(&cli.global);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(Exit::Failed.code() as u8);
        }
    };
    match runtime.block_on(provision::run(cli)) {
        Ok(exit) => ExitCode::from(exit.code() as u8),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit.code() as u8)
        }
    }
}
