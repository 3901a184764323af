//! One module per subcommand: each turns its arguments into options, calls the logic, prints
//! through [`crate::output`] and returns the exit code. Commands do not import each other; what
//! two share lives below them (the engine, [`crate::prompt`]).

pub mod apply;
pub mod destroy;
pub mod plan;

use crate::engine::apply::PrepareError;
use crate::error::{CliError, Exit};

impl From<PrepareError> for CliError {
    fn from(error: PrepareError) -> Self {
        match error {
            PrepareError::Profile(e) => CliError::new(Exit::Profile, e),
            PrepareError::Failed(e) => CliError::failed(e),
        }
    }
}
