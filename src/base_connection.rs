//! The profile's Zoho CRM base connection: finding it and creating it. The one place that decides
//! which connection is the profile's (name, Zoho connection spec and ownership marker) and that
//! builds its `auth.params` (reference §4), so that `apply` and `explore --create-connection`
//! create it the same way.

use anyhow::{anyhow, Context};
use url::Url;

use crate::api::connections::{
    create_connection, list_connections_by_name, AuthParams, Connection, NewConnection,
};
use crate::api::specs::ZOHO_CRM_SPEC_ID;
use crate::api::{AepClient, ApiError, ApiErrorKind, ConnectionId, ConnectionSpecId, Created};
use crate::auth::zoho::ZohoOAuth;
use crate::naming::{base_connection_description, is_owned, owner_marker};
use crate::profile::Profile;

/// The profile's base connection, if it exists: the connection named `connection.name`, of the
/// Zoho CRM spec, whose description carries this profile's ownership marker.
///
/// A connection of that name without the marker belongs to someone else: it is never used, and
/// creating another of the same name would make lookups ambiguous, so that is an error. So are
/// several connections carrying the marker.
pub async fn find_base_connection(
    client: &AepClient,
    profile: &Profile,
) -> anyhow::Result<Option<Connection>> {
    let name = &profile.connection.name;
    let spec = ConnectionSpecId::from(ZOHO_CRM_SPEC_ID);
    let found = list_connections_by_name(client, name, &spec)
        .await
        .with_context(|| format!("looking up base connection `{name}`"))?;
    let (mut owned, foreign): (Vec<_>, Vec<_>) = found
        .into_iter()
        .filter(|c| &c.name == name)
        .partition(|c| is_owned(c.description.as_deref(), name));
    match owned.len() {
        0 if foreign.is_empty() => Ok(None),
        0 => Err(anyhow!(
            "a base connection named `{name}` exists (id {}) but is not managed by provision: its \
             description lacks `{}`. provision neither uses nor changes it; set another \
             [connection] name in {}, or add the marker to its description if it is really \
             this profile's",
            ids(&foreign),
            owner_marker(name),
            profile.path.display()
        )),
        1 => Ok(owned.pop()),
        _ => Err(anyhow!(
            "{} base connections named `{name}` are marked as managed by this profile (ids {}); \
             delete all but one in Adobe Experience Platform (Sources > Accounts), then try again",
            owned.len(),
            ids(&owned)
        )),
    }
}

fn ids(connections: &[Connection]) -> String {
    connections
        .iter()
        .map(|c| c.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Creates the profile's base connection (`POST /connections`, reference §4) with a fresh Zoho
/// access token: `endpoint` is the CRM API domain Zoho names for the account (else the
/// profile's `zoho.api_url`), `accountsUrl` the data centre's accounts server.
///
/// A create that failed with a 5xx or no answer may still have taken effect, so before
/// reporting the failure the connection is looked up once; if it is there, it is returned.
pub async fn create_base_connection(
    client: &AepClient,
    zoho: &ZohoOAuth,
    profile: &Profile,
) -> anyhow::Result<Created<ConnectionId>> {
    let name = &profile.connection.name;
    let token = zoho
        .token(&profile.zoho)
        .await
        .with_context(|| format!("getting a Zoho access token for base connection `{name}`"))?;
    let endpoint = token.api_domain_or(&profile.zoho.api_url);
    let params = AuthParams::new()
        .plain("endpoint", without_trailing_slash(&endpoint))
        .plain(
            "accountsUrl",
            without_trailing_slash(&profile.zoho.accounts_url),
        )
        .plain("clientId", profile.zoho.client_id.clone())
        .secret("clientSecret", profile.zoho.client_secret.clone())
        .secret("accessToken", token.access_token.clone())
        .secret("refreshToken", profile.zoho.refresh_token.clone());
    let description = base_connection_description(profile.connection.description.as_deref(), name);
    let new = NewConnection::zoho(name.clone(), Some(description), params);
    match create_connection(client, &new).await {
        Ok(created) => Ok(created),
        Err(error) if may_have_taken_effect(&error) => {
            tracing::warn!(%error, "creating base connection `{name}` got no clear answer; looking it up");
            match find_base_connection(client, profile).await {
                Ok(Some(found)) => Ok(Created {
                    id: found.id,
                    etag: found.etag,
                }),
                _ => Err(anyhow!(error))
                    .with_context(|| format!("creating base connection `{name}`")),
            }
        }
        Err(error) => {
            Err(anyhow!(error)).with_context(|| format!("creating base connection `{name}`"))
        }
    }
}

fn may_have_taken_effect(error: &ApiError) -> bool {
    error.is_server_error() || error.kind == ApiErrorKind::Transport
}

/// `https://www.zohoapis.com`, as Adobe's examples write these URLs.
fn without_trailing_slash(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}
