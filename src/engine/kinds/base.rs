//! The base connection: one per profile, named `{connection.name}` itself, holding the Zoho
//! OAuth client and refresh token. Zoho secrets cannot be read back, so its description ends
//! with a short fingerprint of the credentials it was given ([`description_with_auth`]); a
//! different fingerprint means the profile's credentials were rotated. Its credentials and
//! description are patched (with the etag they were computed from); it is never replaced, and
//! deleted only by `destroy`.

use std::future::Future;
use std::sync::PoisonError;

use crate::api::connections::{self, AuthParams, Connection, NewConnection};
use crate::api::specs::{ConnectionSpec, BASIC_AUTHENTICATION, ZOHO_CRM_SPEC_ID};
use crate::api::{AepClient, ApiError, ConnectionId, ConnectionSpecId, Etag, PatchOp};
use crate::engine::desired::{Desired, DesiredBase};
use crate::engine::ensure::{
    ensure_checked_beside, patch_with_reread, unless_empty, Create, Ensured, Found, Patchable,
};
use crate::engine::naming::{is_owned, owner_marker};
use crate::profile::Profile;

/// The Zoho base connections named `prefix`: (owned, not owned).
pub async fn observe(
    client: &AepClient,
    prefix: &str,
) -> Result<(Vec<Connection>, Vec<Connection>), ApiError> {
    let all = connections::list_connections_by_name(
        client,
        prefix,
        &ConnectionSpecId::from(ZOHO_CRM_SPEC_ID),
    )
    .await?;
    Ok(all
        .into_iter()
        .filter(|c| c.name == prefix)
        .partition(|c| is_owned(c.description.as_deref(), prefix)))
}

/// The base connection's description without a credentials fingerprint: the user's text
/// followed by the marker in parentheses (still recognised as owned; `apply` adds the
/// fingerprint with [`description_with_auth`]).
pub fn description(user_description: Option<&str>, prefix: &str) -> String {
    with_user_text(user_description, format!("({})", owner_marker(prefix)))
}

/// The base connection's description as `apply` writes it: the user's text, then the marker and
/// the credentials' fingerprint in parentheses, e.g.
/// `Zoho CRM production (managed by provision: p; auth 3f9a2c1b7d4e)`.
pub fn description_with_auth(
    user_description: Option<&str>,
    prefix: &str,
    fingerprint: &str,
) -> String {
    with_user_text(
        user_description,
        format!("({}; auth {fingerprint})", owner_marker(prefix)),
    )
}

fn with_user_text(user_description: Option<&str>, tail: String) -> String {
    match user_description {
        Some(text) if !text.trim().is_empty() => format!("{} {tail}", text.trim()),
        _ => tail,
    }
}

/// The parts of an owned base connection's description: the user's text (if any) and the
/// credentials' fingerprint (absent when an older description carries only the marker).
pub fn parse_description<'a>(
    description: &'a str,
    prefix: &str,
) -> Option<(Option<&'a str>, Option<&'a str>)> {
    if !is_owned(Some(description), prefix) {
        return None;
    }
    let marker = owner_marker(prefix);
    if description == marker {
        return Some((None, None));
    }
    let (text, inner) = description.strip_suffix(')')?.rsplit_once('(')?;
    let fingerprint = crate::engine::naming::without_lease(inner)
        .strip_prefix(&marker)
        .and_then(|rest| rest.strip_prefix("; auth "));
    let text = text.trim();
    Some(((!text.is_empty()).then_some(text), fingerprint))
}

/// What differs between the owned base connection and the profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// The profile's Zoho credentials changed: the auth params are sent again.
    pub rotate_auth: bool,
    /// The user's description changed.
    pub description: bool,
    /// Why, for the row.
    pub reasons: Vec<String>,
    /// The same, attribute by attribute (no secret: the credentials show as their fingerprint).
    pub entries: Vec<super::Diff>,
}

/// How `current` differs from `desired` (both patchable; a base connection is never replaced).
pub fn diff(current: &Connection, desired: &Desired) -> Diff {
    let (text, fingerprint) = current
        .description
        .as_deref()
        .and_then(|d| parse_description(d, &desired.prefix))
        .unwrap_or((None, None));
    let mut diff = Diff {
        rotate_auth: fingerprint != Some(desired.base.fingerprint.as_str()),
        description: text != desired.base.user_description.as_deref(),
        reasons: Vec::new(),
        entries: Vec::new(),
    };
    if diff.rotate_auth {
        diff.reasons.push(format!(
            "auth: the profile's Zoho credentials changed (fingerprint {} -> {})",
            fingerprint.unwrap_or("none"),
            desired.base.fingerprint
        ));
        diff.entries.push(super::Diff::new(
            "auth.fingerprint",
            fingerprint,
            desired.base.fingerprint.as_str(),
        ));
    }
    if diff.description {
        diff.entries.push(super::Diff::new(
            "description",
            text,
            desired.base.user_description.as_deref(),
        ));
        diff.reasons.push(format!(
            "description: {:?} -> {:?}",
            text.unwrap_or(""),
            desired.base.user_description.as_deref().unwrap_or("")
        ));
    }
    diff
}

/// What a new base connection is sent, without secrets: the connection spec, the user's
/// description, and the credentials as their fingerprint.
pub fn attributes(desired: &Desired) -> super::Attributes {
    super::Attributes::default()
        .with("connection_spec", "Zoho CRM")
        .with("description", desired.base.user_description.as_deref())
        .with(
            "auth",
            format!(
                "Zoho OAuth refresh token (fingerprint {})",
                desired.base.fingerprint
            ),
        )
}

/// A base connection to create, and what tells its twin (every owned one: there is one per
/// profile).
struct Draft<'a> {
    body: NewConnection,
    prefix: &'a str,
    /// The etag the create answered with: the lease is later written with it.
    etag: std::sync::Mutex<Option<Etag>>,
}

impl Create for Draft<'_> {
    type Id = ConnectionId;

    async fn create(&self, client: &AepClient) -> Result<Self::Id, ApiError> {
        let created = connections::create_connection(client, &self.body).await?;
        *self.etag.lock().unwrap_or_else(PoisonError::into_inner) = created.etag;
        Ok(created.id)
    }

    async fn lookup(&self, client: &AepClient) -> Result<Vec<Found<Self::Id>>, ApiError> {
        let (owned, _) = observe(client, self.prefix).await?;
        Ok(Found::among(owned, |_| true, |c| (c.id, c.created_at)))
    }
}

/// Creates the profile's base connection through [`ensure_checked_beside`] (never twice, even after a lost
/// answer or a concurrent run); the one place a base connection is created, by `apply` and by
/// `explore --create-connection`.
pub async fn create(
    client: &AepClient,
    profile: &Profile,
    base: &DesiredBase,
    spec: &ConnectionSpec,
) -> anyhow::Result<ConnectionId> {
    let (ensured, _, _) = create_checked(client, profile, base, spec, |_| async {}).await?;
    Ok(ensured.id)
}

/// [`create`], saying whether the surviving base connection is the one this run made (its
/// description, and so the lease it carries, is then this run's) and, when it is, the etag its
/// create answered with. `beside` runs with the new connection's id during its twin check
/// ([`ensure_checked_beside`]); its result comes last (`None` when it did not run).
pub async fn create_checked<F, Fut, T>(
    client: &AepClient,
    profile: &Profile,
    base: &DesiredBase,
    spec: &ConnectionSpec,
    beside: F,
) -> anyhow::Result<(Ensured<ConnectionId>, Option<Etag>, Option<T>)>
where
    F: FnOnce(ConnectionId) -> Fut,
    Fut: Future<Output = T>,
{
    let params = auth_params(client, profile, spec).await?;
    let new = Draft {
        body: NewConnection::zoho(base.name.clone(), Some(base.description.clone()), params),
        prefix: base.name.as_str(),
        etag: std::sync::Mutex::default(),
    };
    let delete_twin = |id: ConnectionId| async move { delete(client, &id).await };
    let (ensured, beside) = ensure_checked_beside(client, &new, beside, delete_twin).await?;
    let etag = match ensured.ours {
        true => new
            .etag
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner),
        false => None,
    };
    Ok((ensured, etag, beside))
}

/// Patches the credentials (when rotated) and the description of `current`; returns the etag it
/// ended with.
pub async fn update(
    client: &AepClient,
    profile: &Profile,
    spec: &ConnectionSpec,
    current: &Connection,
    desired: &DesiredBase,
    rotate_auth: bool,
) -> anyhow::Result<Option<Etag>> {
    let id = &current.id;
    let mut etag = current.etag.clone();
    if rotate_auth {
        let params = auth_params(client, profile, spec).await?;
        etag = patch_auth(client, id, etag, &params).await?;
    }
    let wanted = desired.description.as_str();
    let ops = || vec![PatchOp::replace("/description", wanted)];
    let still_needed = |fresh: &Connection| match fresh.description.as_deref() {
        Some(have) if have == wanted => Vec::new(),
        _ => ops(),
    };
    patch_fields(client, id, etag, ops(), still_needed).await
}

/// PATCHes the credentials with `etag` (re-read once when stale or lost,
/// [`patch_with_reread`]); returns the etag the connection ended with.
async fn patch_auth(
    client: &AepClient,
    id: &ConnectionId,
    etag: Option<Etag>,
    params: &AuthParams,
) -> anyhow::Result<Option<Etag>> {
    let send = |tag: Etag, params| async move {
        connections::patch_connection_auth(client, id, &tag, params).await
    };
    // Secrets cannot be read back to tell whether a lost PATCH landed: after a re-read the
    // credentials are always sent again.
    let always = |_: &Connection| Some(params);
    patch_with_reread(client, id, etag, params, send, always).await
}

/// PATCHes `ops` with `etag`. After a re-read (stale or lost, [`patch_with_reread`]) what
/// `still_needed` computes from the fresh connection is sent instead, nothing when that is empty:
/// the connection may have been edited meanwhile, so the first ops may no longer be the change.
/// Returns the etag the connection ended with.
async fn patch_fields(
    client: &AepClient,
    id: &ConnectionId,
    etag: Option<Etag>,
    ops: Vec<PatchOp>,
    still_needed: impl FnOnce(&Connection) -> Vec<PatchOp>,
) -> anyhow::Result<Option<Etag>> {
    let send = |tag: Etag, ops: Vec<PatchOp>| async move {
        connections::patch_connection(client, id, &tag, &ops).await
    };
    let remaining = |fresh: &Connection| unless_empty(still_needed(fresh));
    patch_with_reread(client, id, etag, ops, send, remaining).await
}

impl Patchable for Connection {
    type Id = ConnectionId;
    const NAME: &'static str = "base connection";

    fn etag(&self) -> Option<Etag> {
        self.etag.clone()
    }

    async fn read(client: &AepClient, id: &ConnectionId) -> Result<Option<Self>, ApiError> {
        connections::get_connection(client, id).await
    }
}

/// `auth.params` of the Zoho base connection (Adobe's Zoho CRM source tutorial,
/// <https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/create/crm/zoho>): the profile's Zoho client
/// and refresh token, plus what a fresh refresh says (the access token and the account's API
/// domain, the `endpoint`), checked against the connection spec's `required` list so that a
/// spec change is reported before AEP rejects the connection. The refresh uses `client`'s retry
/// policy.
async fn auth_params(
    client: &AepClient,
    profile: &Profile,
    spec: &ConnectionSpec,
) -> anyhow::Result<AuthParams> {
    let zoho = crate::clients::zoho(client.options().clone())?;
    let token = zoho.token(&profile.zoho).await.map_err(|e| {
        anyhow::anyhow!("the Zoho refresh token could not be used, so the base connection cannot be written: {e}")
    })?;
    let endpoint = token.api_domain_or(&profile.zoho.api_url);
    let ours = AuthParams::new()
        .plain("endpoint", endpoint.as_str().trim_end_matches('/'))
        .plain(
            "accountsUrl",
            profile.zoho.accounts_url.as_str().trim_end_matches('/'),
        )
        .plain("clientId", profile.zoho.client_id.clone())
        .secret("clientSecret", profile.zoho.client_secret.clone())
        .secret("accessToken", token.access_token.clone())
        .secret("refreshToken", profile.zoho.refresh_token.clone());
    let Some(auth) = spec.basic_auth() else {
        anyhow::bail!(
            "the Zoho CRM connection spec {} has no \"{BASIC_AUTHENTICATION}\" auth spec any more; \
             provision cannot build a base connection for it (run `provision check` for details)",
            spec.id
        );
    };
    let missing: Vec<String> = auth
        .required()
        .into_iter()
        .filter(|name| !ours.contains(name))
        .map(|name| match auth.property_description(name) {
            Some(about) => format!("{name} ({about})"),
            None => name.to_owned(),
        })
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the Zoho CRM connection spec requires auth params the profile cannot provide: {}; \
             provision sends endpoint, accountsUrl, clientId, clientSecret, accessToken and \
             refreshToken",
            missing.join(", ")
        );
    }
    // Send only what the spec knows (when it lists its properties), so that a stricter
    // validator does not reject an extra param.
    let known = auth.property_names();
    Ok(if known.is_empty() {
        ours
    } else {
        ours.retain(|name| known.contains(&name))
    })
}

// Adoption (import).

/// Whether a base connection made elsewhere already carries this profile's marker; an error
/// naming it when it does not use the Zoho CRM connection spec or another profile manages it.
pub fn adoptable(c: &Connection, prefix: &str) -> Result<bool, String> {
    let spec = c.connection_spec.as_ref().map(|s| s.id.as_str());
    if spec != Some(ZOHO_CRM_SPEC_ID) {
        return Err(format!(
            "base connection {:?} (id {}) uses connection spec {}, not Zoho CRM's \
             ({ZOHO_CRM_SPEC_ID}); provision imports only Zoho CRM base connections",
            c.name,
            c.id,
            spec.unwrap_or("none")
        ));
    }
    super::claim(
        "base connection",
        c.id.as_str(),
        &c.name,
        c.description.as_deref(),
        prefix,
    )
}

/// The auth params an adopted base connection is given: the profile's Zoho credentials, after
/// a refresh that proves they work (read before any write, so that wrong credentials change
/// nothing).
pub async fn adoption_params(
    client: &AepClient,
    profile: &Profile,
    spec: &ConnectionSpec,
) -> anyhow::Result<AuthParams> {
    auth_params(client, profile, spec).await
}

/// Marks a base connection made elsewhere as the profile's. Zoho secrets cannot be read back,
/// so nothing tells whether the connection holds the profile's credentials: they are sent
/// (`/auth/params`, the same PATCH as a rotation), then the profile's name and the description
/// with the marker and the credentials' fingerprint, so that `plan` compares the profile's
/// credentials with the ones sent here from now on.
pub async fn adopt(
    client: &AepClient,
    current: &Connection,
    desired: &DesiredBase,
    params: &AuthParams,
) -> anyhow::Result<()> {
    let id = &current.id;
    let etag = patch_auth(client, id, current.etag.clone(), params).await?;
    // Computed again from a re-read connection: a rename meanwhile needs its own `/name` op.
    let ops_for = |have: &Connection| {
        super::adoption_ops(
            &have.name,
            have.description.as_deref(),
            &desired.name,
            &desired.description,
        )
    };
    patch_fields(client, id, etag, ops_for(current), ops_for).await?;
    Ok(())
}

pub async fn delete(client: &AepClient, id: &ConnectionId) -> Result<(), ApiError> {
    connections::delete_connection(client, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_description_keeps_the_users_text_and_the_fingerprint() {
        let d = description_with_auth(Some("Zoho CRM production"), "p", "0123456789ab");
        assert_eq!(
            d,
            "Zoho CRM production (managed by provision: p; auth 0123456789ab)"
        );
        assert_eq!(
            parse_description(&d, "p"),
            Some((Some("Zoho CRM production"), Some("0123456789ab")))
        );
        let bare = description_with_auth(None, "p", "ab");
        assert_eq!(bare, "(managed by provision: p; auth ab)");
        assert_eq!(parse_description(&bare, "p"), Some((None, Some("ab"))));
        let plain = description(Some("x"), "p");
        assert_eq!(plain, "x (managed by provision: p)");
        assert_eq!(parse_description(&plain, "p"), Some((Some("x"), None)));
        assert_eq!(
            parse_description("x (managed by provision: p)", "p"),
            Some((Some("x"), None))
        );
        assert_eq!(parse_description("x", "p"), None);
    }
}
