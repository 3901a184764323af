//! `provision zoho token` and `provision zoho modules`.

use super::load_profile;
use crate::cli::{GlobalArgs, ProfileArg, ZohoTokenArgs};
use crate::error::{CliResult, Exit};
use crate::output;
use crate::profile;
use crate::zoho_setup::{self, TokenOptions};

/// `zoho token`: only the `[zoho]` client settings of a profile are read, since the user has no
/// refresh token yet.
pub async fn token(args: &ZohoTokenArgs, global: &GlobalArgs) -> CliResult {
    let options = TokenOptions {
        code: args.code.clone(),
        profile: args.profile.clone(),
        region: args.region,
        accounts_url: args.accounts_url.clone(),
        client_id: args.client_id.clone(),
        client_secret_env: args.client_secret_env.clone(),
        redirect_uri: args.redirect_uri.clone(),
        write: args.write.clone(),
        force: args.force,
        show: args.show,
    };
    let outcome = zoho_setup::token(&options, &profile::process_env()).await?;
    output::print_report(global.output, &outcome)?;
    Ok(Exit::Ok)
}

/// `zoho modules`: the modules straight from Zoho, to tell a Zoho-side problem from an AEP-side
/// one.
pub async fn modules(args: &ProfileArg, global: &GlobalArgs) -> CliResult {
    let profile = load_profile(args.profile.as_deref())?;
    let outcome = zoho_setup::modules(&profile).await?;
    output::print_report(global.output, &outcome)?;
    Ok(Exit::Ok)
}
