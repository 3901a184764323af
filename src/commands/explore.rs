//! `provision explore [PROFILE] [MODULE] [--preview N] [--create-connection]`.

use std::path::{Path, PathBuf};

use super::load_profile;
use crate::cli::{ExploreArgs, GlobalArgs};
use crate::error::{CliError, CliResult, Exit};
use crate::explore::{self, ExploreOptions, ExploreReport};
use crate::output;

pub async fn run(args: &ExploreArgs, global: &GlobalArgs) -> CliResult {
    if args.schema.is_some() {
        return schema(args, global).await;
    }
    let (path, module) = explore_target(&args.args);
    if module.is_none() && args.preview.is_some() {
        return Err(CliError::usage(
            "--preview shows rows of one module: name it, e.g. `provision explore PROFILE Leads --preview 5`",
        ));
    }
    let profile = load_profile(path.as_deref())?;
    let options = ExploreOptions {
        module,
        preview: args.preview,
        create_connection: args.create_connection,
    };
    let explored = explore::explore(&profile, &options).await?;
    if let Some(id) = &explored.created_connection {
        output::note(
            global.quiet,
            &format!(
                "created base connection `{}` (id {id}) in sandbox `{}`",
                profile.connection.name, profile.adobe.sandbox
            ),
        );
    }
    if let ExploreReport::Table(table) = &explored.report {
        if let Some(note) = &table.preview_note {
            tracing::warn!("{note}");
        }
    }
    output::print_report(global.output, &explored.report)?;
    Ok(Exit::Ok)
}

/// `explore [PROFILE] --schema [SCHEMA_ID]`: the target schema's leaf fields.
async fn schema(args: &ExploreArgs, global: &GlobalArgs) -> CliResult {
    let (path, module) = explore_target(&args.args);
    if args.preview.is_some() || args.create_connection {
        return Err(CliError::usage(
            "--schema reads the Schema Registry only: drop --preview and --create-connection",
        ));
    }
    if let Some(module) = module {
        return Err(CliError::usage(format!(
            "--schema lists the schema's fields, not a module's columns: drop `{module}` \
             (`provision explore PROFILE --schema [SCHEMA_ID]`)"
        )));
    }
    let profile = load_profile(path.as_deref())?;
    let report = explore::schema_fields(&profile, args.schema.as_deref()).await?;
    output::print_report(global.output, &report)?;
    Ok(Exit::Ok)
}

/// `explore [PROFILE] [MODULE]`: with two arguments, the first is the profile; with one, it is
/// the profile if it ends in `.toml` or names an existing file, else the module.
pub fn explore_target(args: &[String]) -> (Option<PathBuf>, Option<String>) {
    match args {
        [] => (None, None),
        [one] => {
            let path = Path::new(one);
            if one.ends_with(".toml") || path.is_file() {
                (Some(path.to_owned()), None)
            } else {
                (None, Some(one.clone()))
            }
        }
        [profile, module, ..] => (Some(PathBuf::from(profile)), Some(module.clone())),
    }
}
