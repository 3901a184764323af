//! `provision check`: the preflight of docs/cli.md#commands, without a single write. Each finding is a
//! named check that passed, failed or was skipped (with the reason), so that a release pipeline
//! can stop before `apply` and say exactly what to fix. The Zoho side (refresh, CRM API) and the
//! AEP side (IMS, specs, base connection and explore, datasets, schemas) run at the same time, and
//! within each side every independent request does too.
//!
//! An invalid profile never gets here: it exits 78 before any request, as every command does.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::connections::{self, Connection};
use crate::api::explore::{self, ExploreItem};
use crate::api::specs::{
    self, ConnectionSpec, FlowSpec, BASIC_AUTHENTICATION, CRM_TO_AEP_FLOW_SPEC_NAME,
    DATA_LAKE_SPEC_ID, ZOHO_CRM_SPEC_ID,
};
use crate::api::{AepClient, ApiError, ConnectionId, ConnectionSpecId, HttpOptions};
use crate::auth::zoho::ZohoOAuth;
use crate::clients::Clients;
use crate::engine::desired::did_you_mean;
use crate::engine::explore::explore_modules;
use crate::engine::naming;
use crate::profile::{Dataflow, Profile};
use crate::validate::{self, Columns, Facts, CONCURRENCY};
use crate::zoho_setup::{self, ModuleList, ZohoFailure};

/// What `check` says when Adobe no longer offers the Zoho CRM source (docs/aep-api.md#zoho-source-deprecation).
pub const DEPRECATED: &str = "Adobe has deprecated or removed the Zoho CRM source for this org";

/// The base connection's `auth.params` and what in the profile provides each (docs/aep-api.md#connection-specs, #base-connection).
/// A required param missing from this list is one `provision` cannot fill.
pub const ZOHO_AUTH_PARAMS: [(&str, &str); 6] = [
    ("endpoint", "zoho.api_url"),
    ("accountsUrl", "zoho.accounts_url"),
    ("clientId", "zoho.client_id"),
    ("clientSecret", "zoho.client_secret"),
    (
        "accessToken",
        "a fresh access token from zoho.refresh_token",
    ),
    ("refreshToken", "zoho.refresh_token"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    Skipped,
}

/// One named check (docs/cli.md#json-output: `{"name", "ok", "detail"}`, plus `status`).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    /// `false` only when the check failed: a skipped check found nothing wrong.
    pub ok: bool,
    pub status: Status,
    pub detail: String,
}

impl Check {
    fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: status != Status::Fail,
            status,
            detail: detail.into(),
        }
    }

    pub(crate) fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Status::Ok, detail)
    }

    pub(crate) fn fail(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Status::Fail, detail)
    }

    pub(crate) fn skip(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(name, Status::Skipped, detail)
    }
}

/// Every check, in the order they are shown.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub profile: String,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.count(Status::Fail)
    }

    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

/// Runs every check against the services the profile names: the credential and spec checks
/// here, then the one validation of every module, dataset, schema and destination
/// ([`crate::validate`]). Sends only GETs (and the token requests that authenticate them).
pub async fn checks(profile: &Profile, options: HttpOptions) -> anyhow::Result<Report> {
    let Clients {
        aep: client, zoho, ..
    } = Clients::from_profile(profile, options)?;
    let ((zoho_checks, listed), (aep_checks, explored, mut facts)) =
        tokio::join!(zoho_side(profile, &zoho), aep_side(profile, &client));
    facts.columns = module_columns(profile, &client, &zoho, listed, &explored).await;

    let flows: Vec<&Dataflow> = profile.dataflows.iter().collect();
    let mut checks = vec![profile_check(profile)];
    checks.extend(aep_checks);
    checks.extend(zoho_checks);
    checks.extend(
        flows
            .iter()
            .flat_map(|f| validate::module_checks(f, &facts)),
    );
    checks.extend(validate::target_checks(profile, &flows, &facts));
    Ok(Report {
        profile: profile.path.display().to_string(),
        checks,
    })
}

/// Every module's columns: from explore when the base connection exists, else from Zoho's CRM API.
async fn module_columns(
    profile: &Profile,
    client: &AepClient,
    zoho: &ZohoOAuth,
    listed: Option<ModuleList>,
    explored: &Explored,
) -> BTreeMap<String, Columns> {
    let modules: Vec<&str> = profile
        .dataflows
        .iter()
        .map(|d| d.module.as_str())
        .collect();
    match explored {
        Explored::Tables { id, tables } => {
            let (listed, unlisted): (Vec<&str>, Vec<&str>) = modules
                .iter()
                .partition(|m| tables.iter().any(|t| t.path == **m));
            let paths = || tables.iter().map(|t| t.path.as_str());
            let mut columns: BTreeMap<String, Columns> = unlisted
                .iter()
                .map(|m| {
                    let near = did_you_mean(m, paths());
                    let message = format!(
                        "module {m:?}: the base connection's explore lists no table with this \
                         path{near}; use a path that `provision explore` lists ({} tables)",
                        tables.len()
                    );
                    (m.to_string(), Columns::Missing(message))
                })
                .collect();
            let explored = explore_modules(client, id, &listed, CONCURRENCY).await;
            for (module, result) in explored {
                let result = result.as_deref().map_err(String::as_str);
                columns.insert(module, validate::explored_columns(result));
            }
            columns
        }
        Explored::Skipped(_) if listed.is_some() => {
            validate::zoho_columns(zoho, profile, &modules, CONCURRENCY, listed).await
        }
        Explored::Skipped(reason) | Explored::Unreachable(reason) => {
            let reason = if listed.is_some() {
                reason.clone()
            } else {
                format!("{reason}, and Zoho's API did not answer (see zoho_api)")
            };
            modules
                .iter()
                .map(|m| (m.to_string(), Columns::Unknown(reason.clone())))
                .collect()
        }
    }
}

fn profile_check(profile: &Profile) -> Check {
    let modules: Vec<&str> = profile
        .dataflows
        .iter()
        .map(|d| d.module.as_str())
        .collect();
    let flows = match modules.len() {
        0 => "no dataflows".to_owned(),
        1 => format!("1 dataflow ({})", modules[0]),
        n => format!("{n} dataflows ({})", modules.join(", ")),
    };
    Check::pass(
        "profile",
        format!("{} is valid: {flows}", profile.path.display()),
    )
}

// ---------------------------------------------------------------------------------------------
// Zoho: the refresh token in its data centre, then one real CRM call (docs/zoho-oauth.md#scopes: a
// refresh succeeds whatever the scopes, so only an API call proves them).

/// The Zoho checks, and the module list when Zoho's API answered (for the module checks).
async fn zoho_side(profile: &Profile, zoho: &ZohoOAuth) -> (Vec<Check>, Option<ModuleList>) {
    let settings = &profile.zoho;
    let token = match zoho_setup::refresh(zoho, settings).await {
        Ok(token) => token,
        Err(failure) => {
            return (
                vec![
                    Check::fail("zoho_refresh", zoho_setup::describe(&failure)),
                    Check::skip("zoho_api", "no Zoho access token (see zoho_refresh)"),
                ],
                None,
            )
        }
    };
    let place = match settings.region {
        Some(region) => format!(
            "the {region} data centre ({})",
            trim(settings.accounts_url.as_str())
        ),
        None => format!(
            "the accounts server {}",
            trim(settings.accounts_url.as_str())
        ),
    };
    let refresh = match &token.api_domain {
        Some(api) if trim(api.as_str()) != trim(settings.api_url.as_str()) => Check::fail(
            "zoho_refresh",
            format!(
                "the refresh token works in {place}, but Zoho names {} as this account's API \
                 domain while zoho.api_url is {}; set api_url = \"{}\" under [zoho] (AEP's \
                 connection sends its requests there)",
                trim(api.as_str()),
                trim(settings.api_url.as_str()),
                trim(api.as_str())
            ),
        ),
        api => {
            // A cached token proves the refresh token worked when it was cached, not now.
            let what = if token.from_cache {
                format!(
                    "an access token the refresh token made in {place} is cached and still valid \
                     (--no-token-cache asks Zoho again)"
                )
            } else {
                format!("the refresh token works in {place}")
            };
            Check::pass(
                "zoho_refresh",
                format!(
                    "{what}; API domain {}",
                    trim(api.as_ref().unwrap_or(&settings.api_url).as_str())
                ),
            )
        }
    };
    match zoho_setup::list_modules(zoho, settings, &token).await {
        Ok(list) => {
            let readable = list
                .modules
                .iter()
                .filter(|m| m.api_supported == Some(true))
                .count();
            let detail = format!(
                "GET {}/crm/v8/settings/modules listed {} modules ({readable} readable through \
                 the API): the token's scopes are enough",
                trim(list.api.as_str()),
                list.modules.len()
            );
            (vec![refresh, Check::pass("zoho_api", detail)], Some(list))
        }
        Err(failure) => {
            let check = Check::fail("zoho_api", zoho_setup::describe(&failure));
            // A token the API rejects after a fresh refresh is a credential problem after all.
            let refresh = match failure {
                ZohoFailure::Refresh { .. } => {
                    Check::fail("zoho_refresh", zoho_setup::describe(&failure))
                }
                ZohoFailure::Api(_) => refresh,
            };
            (vec![refresh, check], None)
        }
    }
}

fn trim(url: &str) -> &str {
    url.trim_end_matches('/')
}

// ---------------------------------------------------------------------------------------------
// AEP: IMS, then org/sandbox (the CRMToAEP lookup, a list that answers even when nothing
// matches), then everything else at once.

/// Whether explore can list the modules' columns, for the per-module checks.
enum Explored {
    /// The base connection `id` exists and explore listed these tables.
    Tables {
        id: ConnectionId,
        tables: Vec<ExploreItem>,
    },
    /// No base connection to explore through (or explore failed), and why.
    Skipped(String),
    /// AEP did not accept the credentials: nothing else on its side can be read.
    Unreachable(String),
}

/// (IMS to base connection, explore findings, the datasets and schemas the dataflows use)
async fn aep_side(profile: &Profile, client: &AepClient) -> (Vec<Check>, Explored, Facts) {
    let adobe = &profile.adobe;
    let mut checks = Vec::new();
    if let Err(e) = client.ims().token().await {
        checks.push(Check::fail("ims_token", e.to_string()));
        let reason = "no IMS token (see ims_token)";
        return skipped_after(checks, reason);
    }
    checks.push(Check::pass(
        "ims_token",
        format!(
            "token issued by {} for client {}",
            trim(adobe.ims_url.as_str()),
            adobe.client_id
        ),
    ));

    let flow_spec = match specs::flow_spec_by_name(client, CRM_TO_AEP_FLOW_SPEC_NAME).await {
        Ok(found) => found,
        Err(e) => {
            checks.push(Check::fail(
                "org_sandbox",
                format!(
                    "org {} / sandbox {} not confirmed: {e}",
                    adobe.org_id, adobe.sandbox
                ),
            ));
            let reason = "the org or sandbox was not accepted (see org_sandbox)";
            return skipped_after(checks, reason);
        }
    };
    checks.push(Check::pass(
        "org_sandbox",
        format!(
            "org {} and sandbox {} accept the credential (GET /flowSpecs answered)",
            adobe.org_id, adobe.sandbox
        ),
    ));

    let zoho_spec = ConnectionSpecId::from(ZOHO_CRM_SPEC_ID);
    let flows: Vec<&Dataflow> = profile.dataflows.iter().collect();
    let mut targets = Facts::default();
    // The datasets and schemas need nothing but an org and sandbox that accept the credential:
    // they are read beside the specs and the base connection, not after Zoho's side.
    let (connection_spec, (base, explored), ()) = tokio::join!(
        specs::connection_spec(client, &zoho_spec),
        base_connection(profile, client, &zoho_spec),
        validate::read_targets(client, &flows, &mut targets),
    );
    let removed = matches!(connection_spec, Ok(None));
    checks.push(connection_spec_check(
        &profile.adobe.sandbox,
        connection_spec,
    ));
    checks.push(if removed {
        Check::skip(
            "zoho_flow_spec",
            "the Zoho CRM connection spec is gone (see zoho_connection_spec)",
        )
    } else {
        flow_spec_check(&profile.adobe.sandbox, flow_spec.as_ref())
    });
    checks.push(base);
    (checks, explored, targets)
}

/// The checks that could not run because `reason`.
fn skipped_after(mut checks: Vec<Check>, reason: &str) -> (Vec<Check>, Explored, Facts) {
    for name in [
        "org_sandbox",
        "zoho_connection_spec",
        "zoho_flow_spec",
        "base_connection",
    ] {
        if !checks.iter().any(|c| c.name == name) {
            checks.push(Check::skip(name, reason));
        }
    }
    let unread = Facts {
        unread: Some(reason.to_owned()),
        ..Facts::default()
    };
    (checks, Explored::Unreachable(reason.to_owned()), unread)
}

fn connection_spec_check(sandbox: &str, found: Result<Option<ConnectionSpec>, ApiError>) -> Check {
    const NAME: &str = "zoho_connection_spec";
    let spec = match found {
        Err(e) => return Check::fail(NAME, e.to_string()),
        Ok(None) => {
            return Check::fail(
                NAME,
                format!(
                    "{DEPRECATED}: connection spec {ZOHO_CRM_SPEC_ID} does not exist in sandbox \
                     {sandbox} (GET /connectionSpecs/{ZOHO_CRM_SPEC_ID} answered 404)"
                ),
            )
        }
        Ok(Some(spec)) => spec,
    };
    let label = format!(
        "connection spec {ZOHO_CRM_SPEC_ID}{}",
        spec.name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default()
    );
    let Some(auth) = spec.basic_auth() else {
        let names: Vec<&str> = spec.auth_spec.iter().map(|a| a.name.as_str()).collect();
        return Check::fail(
            NAME,
            format!(
                "{label} has no \"{BASIC_AUTHENTICATION}\" auth spec (it offers: {}); Adobe changed \
                 the source, so provision cannot create its base connection",
                if names.is_empty() { "none".to_owned() } else { names.join(", ") }
            ),
        );
    };
    let required = auth.required();
    let unknown: Vec<String> = required
        .iter()
        .filter(|r| !ZOHO_AUTH_PARAMS.iter().any(|(p, _)| p == *r))
        .map(|r| match auth.property_description(r) {
            Some(d) => format!("`{r}` ({d})"),
            None => format!("`{r}`"),
        })
        .collect();
    if !unknown.is_empty() {
        return Check::fail(
            NAME,
            format!(
                "{label}: \"{BASIC_AUTHENTICATION}\" requires {}, which provision does not provide; \
                 Adobe changed the source's credentials",
                unknown.join(", ")
            ),
        );
    }
    let provided: Vec<String> = required
        .iter()
        .map(|r| {
            let from = ZOHO_AUTH_PARAMS
                .iter()
                .find(|(p, _)| p == r)
                .map_or("", |(_, from)| from);
            format!("{r} <- {from}")
        })
        .collect();
    Check::pass(
        NAME,
        format!(
            "{label} is present; \"{BASIC_AUTHENTICATION}\" requires {} params, all from the \
             profile: {}",
            provided.len(),
            provided.join(", ")
        ),
    )
}

fn flow_spec_check(sandbox: &str, found: Option<&FlowSpec>) -> Check {
    const NAME: &str = "zoho_flow_spec";
    let Some(flow) = found else {
        return Check::fail(
            NAME,
            format!(
                "{DEPRECATED}: sandbox {sandbox} has no {CRM_TO_AEP_FLOW_SPEC_NAME} flow spec, so no \
                 Zoho dataflow can be created"
            ),
        );
    };
    let zoho = ConnectionSpecId::from(ZOHO_CRM_SPEC_ID);
    if !flow.allows_source(&zoho) {
        return Check::fail(
            NAME,
            format!(
                "{DEPRECATED}: the {CRM_TO_AEP_FLOW_SPEC_NAME} flow spec ({}) no longer lists the \
                 Zoho CRM connection spec ({ZOHO_CRM_SPEC_ID}) among its sources, so no Zoho \
                 dataflow can be created",
                flow.id
            ),
        );
    }
    if !flow.allows_target(&ConnectionSpecId::from(DATA_LAKE_SPEC_ID)) {
        return Check::fail(
            NAME,
            format!(
                "the {CRM_TO_AEP_FLOW_SPEC_NAME} flow spec ({}) does not list the data lake \
                 ({DATA_LAKE_SPEC_ID}) among its targets, so no Zoho dataflow can be created",
                flow.id
            ),
        );
    }
    Check::pass(
        NAME,
        format!(
            "{CRM_TO_AEP_FLOW_SPEC_NAME} ({}) lists Zoho CRM as a source and the data lake as a \
             target",
            flow.id
        ),
    )
}

/// The base connection the profile names, and what explore sees through it. A same-named
/// connection that provision does not own is reported: `apply` will not adopt it.
async fn base_connection(
    profile: &Profile,
    client: &AepClient,
    spec: &ConnectionSpecId,
) -> (Check, Explored) {
    const NAME: &str = "base_connection";
    let name = &profile.connection.name;
    let found = match connections::list_connections_by_name(client, name, spec).await {
        Ok(found) => found,
        Err(e) => {
            return (
                Check::fail(NAME, e.to_string()),
                Explored::Skipped(
                    "the base connection lookup failed (see base_connection)".to_owned(),
                ),
            )
        }
    };
    let owned = |c: &&Connection| naming::is_owned(c.description.as_deref(), name);
    let Some(connection) = found.iter().find(owned).or(found.first()) else {
        return (
            Check::pass(
                NAME,
                format!("`{name}` does not exist yet; `provision apply` creates it"),
            ),
            Explored::Skipped(format!(
                "base connection `{name}` does not exist yet, so explore cannot be asked"
            )),
        );
    };
    let tables = match explore::explore_root(client, &connection.id).await {
        Ok(tables) => tables,
        Err(e) => {
            return (
                Check::fail(
                    NAME,
                    format!(
                        "`{name}` ({}) exists, but explore failed: {e}; if the Zoho credentials \
                         changed, `provision apply` updates them",
                        connection.id
                    ),
                ),
                Explored::Skipped("explore failed (see base_connection)".to_owned()),
            )
        }
    };
    let check = if owned(&connection) {
        Check::pass(
            NAME,
            format!(
                "`{name}` ({}) exists and explore lists {} tables",
                connection.id,
                tables.len()
            ),
        )
    } else {
        Check::fail(
            NAME,
            format!(
                "a base connection named `{name}` ({}) exists but provision did not create it (its \
                 description lacks \"{}\"), so `apply` will not adopt it; rename it, or choose \
                 another connection.name",
                connection.id,
                naming::owner_marker(name)
            ),
        )
    };
    (
        check,
        Explored::Tables {
            id: connection.id.clone(),
            tables,
        },
    )
}
