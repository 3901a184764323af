//! Commands whose logic is not an existing module's: one file per command.

pub mod completions;
pub mod init;
