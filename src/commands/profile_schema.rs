//! `provision profile-schema`: the profile's JSON Schema, for editors (taplo, VS Code's Even
//! Better TOML). It is always JSON, whatever `--output` says.

use crate::cli::GlobalArgs;
use crate::error::{CliResult, Exit};
use crate::output;
use crate::profile;

pub fn run(_global: &GlobalArgs) -> CliResult {
    output::print_json(&profile::json_schema())?;
    Ok(Exit::Ok)
}
