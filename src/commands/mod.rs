//! One module per subcommand: each turns its arguments into options, calls the logic, prints
//! through [`crate::output`] and returns the exit code. Commands do not import each other; what
//! two share lives below them (the engine, [`crate::prompt`]).

pub mod apply;
pub mod destroy;
pub mod plan;
