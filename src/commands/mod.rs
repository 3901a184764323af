//! One file per subcommand: each turns its parsed arguments into options, calls the logic below
//! it, prints through [`crate::output`] and returns the exit code. Commands do not import each
//! other; what two of them share lives below them (the engine, [`crate::prompt`]).

pub mod apply;
pub mod check;
pub mod completions;
pub mod destroy;
pub mod emulator;
pub mod explore;
pub mod import;
pub mod init;
pub mod plan;
pub mod profile_schema;
pub mod status;
pub mod zoho;

use std::path::Path;

use crate::engine::apply::PrepareError;
use crate::error::{CliError, Exit};
use crate::profile::{self, Profile};

/// Loads and validates the profile: an invalid one exits 78 before any request is sent,
/// whatever the command.
pub(crate) fn load_profile(path: Option<&Path>) -> Result<Profile, CliError> {
    let profile = profile::load(path)?;
    tracing::debug!(path = %profile.path.display(), dataflows = profile.dataflows.len(), "profile loaded");
    Ok(profile)
}

impl From<PrepareError> for CliError {
    fn from(error: PrepareError) -> Self {
        match error {
            PrepareError::Profile(e) => CliError::new(Exit::Profile, e),
            PrepareError::Failed(e) => CliError::failed(e),
        }
    }
}
