//! Logs go to stderr; `-v`/`-q` pick the level and `RUST_LOG` overrides both; `--color` says
//! whether they are coloured.

use tracing_subscriber::EnvFilter;

use crate::cli::GlobalArgs;

pub fn init(global: &GlobalArgs) {
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "provision=info,warn",
        (false, _) => "provision=debug,info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // As `--color` decided for stderr (`output::style::set_choice`, called first): by default
        // colour only for a person at a terminal, so CI logs and captured files stay plain text.
        .with_ansi(anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never)
        .try_init();
}
