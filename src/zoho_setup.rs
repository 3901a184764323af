//! The logic of `provision zoho token` and `provision zoho modules`: the Zoho credential steps of
//! Adobe's Zoho CRM source documentation, made hard to get wrong (docs/zoho-oauth.md). The OAuth
//! client itself is `auth/zoho.rs`; this module turns the command's options into a request,
//! decides where the refresh token goes, and returns the outcome for `output`.
//!
//! `zoho token` runs before the user has a refresh token, so it reads only the `[zoho]` client
//! settings of a profile ([`profile::load_zoho_client`]), and everything that can fail without a
//! request (flags, the pasted URL, the file to write) is checked before the single-use grant token
//! is spent.

use std::io::Write;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, Serializer};
use url::Url;

use crate::api::crm::{ZohoApiError, ZohoModule};
use crate::api::http::HttpOptions;
use crate::auth::zoho::{
    ClientLocation, DataCentre, ZohoAuthError, ZohoOAuth, ZohoToken, RECOMMENDED_SCOPES,
};
use crate::error::CliError;
use crate::profile::{
    self, check_url, is_loopback, Env, Profile, ZohoClientNeeds, ZohoClientSettings, ZohoRegion,
    ZohoSettings,
};

/// The environment variable the example and local profiles read the refresh token from.
const REFRESH_TOKEN_VAR: &str = "ZOHO_REFRESH_TOKEN";

/// What `--code` held: the grant token itself, and the data centre when the user pasted the whole
/// redirect URL (`...?code=...&location=eu&accounts-server=https%3A%2F%2Faccounts.zoho.eu`).
#[derive(Debug)]
pub struct PastedGrant {
    pub code: SecretString,
    /// From `location`.
    pub region: Option<ZohoRegion>,
    /// From `accounts-server`, else from `location`.
    pub accounts_url: Option<Url>,
}

/// Reads `--code`: a bare grant token, a redirect URL, or its query string. Messages never quote
/// the code.
pub fn parse_grant(input: &str) -> Result<PastedGrant, String> {
    let input = input.trim();
    let query = if input.starts_with("https://") || input.starts_with("http://") {
        let url = Url::parse(input).map_err(|e| {
            format!("--code looks like a URL but cannot be read ({e}); paste the whole URL Zoho redirected to, or only the grant token")
        })?;
        Some(url.query().unwrap_or_default().to_owned())
    } else if input.contains("code=") {
        Some(input.trim_start_matches('?').to_owned())
    } else {
        None
    };
    let Some(query) = query else {
        if input.is_empty() || input.contains(char::is_whitespace) {
            return Err(
                "--code must be the grant token (1000.…) or the whole redirect URL, \
                        without spaces"
                    .to_owned(),
            );
        }
        return Ok(PastedGrant {
            code: SecretString::from(input.to_owned()),
            region: None,
            accounts_url: None,
        });
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    if let Some(error) = get("error") {
        return Err(format!(
            "Zoho redirected with error={error} instead of a grant token: consent was refused, or \
             more than 10 grant tokens were made in 10 minutes; wait, then authorize again with \
             access_type=offline&prompt=consent"
        ));
    }
    let code = get("code").ok_or_else(|| {
        "the pasted URL has no code= parameter; paste the whole URL Zoho redirected to after \
         consent, or only the grant token"
            .to_owned()
    })?;
    let region = match get("location") {
        None => None,
        Some(location) => Some(ZohoRegion::parse(location).ok_or_else(|| {
            format!(
                "the pasted URL names location={location}, which is not a Zoho data centre ({}); \
                 pass --region or --accounts-url",
                ZohoRegion::list()
            )
        })?),
    };
    let accounts_url = match get("accounts-server") {
        Some(server) => Some(trusted_accounts_server(server)?),
        None => region.and_then(|r| Url::parse(r.accounts_url()).ok()),
    };
    Ok(PastedGrant {
        code: SecretString::from(code.to_owned()),
        region,
        accounts_url,
    })
}

/// The client secret goes to the accounts server, so one named by a pasted URL must be Zoho's
/// own (or this machine: the emulator, tests).
fn trusted_accounts_server(server: &str) -> Result<Url, String> {
    let url = check_url(server)
        .map_err(|e| format!("accounts-server in the pasted URL is not usable: {e}"))?;
    if ZohoRegion::from_accounts_url(&url).is_some() || is_loopback(&url) {
        Ok(url)
    } else {
        Err(format!(
            "accounts-server {url} in the pasted URL is not a Zoho accounts server; the client \
             secret is sent only to Zoho's ({}), so pass --accounts-url if you trust this one",
            ZohoRegion::ALL.map(ZohoRegion::accounts_url).join(", ")
        ))
    }
}

/// The accounts server to exchange the grant at, and where that choice came from.
#[derive(Debug, Clone)]
struct Target {
    region: Option<ZohoRegion>,
    accounts_url: Url,
}

fn same_server(a: &Url, b: &Url) -> bool {
    a.as_str().trim_end_matches('/') == b.as_str().trim_end_matches('/')
}

/// Flags first, then the pasted URL, then the profile. A flag that contradicts the pasted URL is
/// a mistake (a grant works only in its own data centre), so it is refused rather than guessed.
fn pick_target(
    args: &TokenOptions,
    pasted: &PastedGrant,
    profile: Option<&ZohoClientSettings>,
) -> Result<Target, CliError> {
    let flag = match (&args.region, &args.accounts_url) {
        (Some(region), _) => Url::parse(region.accounts_url()).ok().map(|url| Target {
            region: Some(*region),
            accounts_url: url,
        }),
        (None, Some(url)) => Some(Target {
            region: ZohoRegion::from_accounts_url(url),
            accounts_url: url.clone(),
        }),
        (None, None) => None,
    };
    let from_paste = pasted.accounts_url.as_ref().map(|url| Target {
        region: pasted.region.or_else(|| ZohoRegion::from_accounts_url(url)),
        accounts_url: url.clone(),
    });
    match (flag, from_paste) {
        (Some(flag), Some(paste)) if !same_server(&flag.accounts_url, &paste.accounts_url) => {
            Err(CliError::usage(format!(
                "the pasted URL says the grant comes from {}, but the flags say {}; a grant token \
                 works only in its own data centre, so drop --region/--accounts-url",
                DataCentre::at(&paste.accounts_url),
                DataCentre::at(&flag.accounts_url),
            )))
        }
        (Some(target), _) | (None, Some(target)) => Ok(target),
        (None, None) => profile
            .and_then(|p| {
                p.accounts_url.clone().map(|url| Target {
                    region: p.region,
                    accounts_url: url,
                })
            })
            .ok_or_else(|| {
                CliError::usage(format!(
                    "no Zoho data centre: pass --region ({}) or --accounts-url, paste the whole \
                     redirect URL as --code, or give a profile with zoho.region",
                    ZohoRegion::list()
                ))
            }),
    }
}

/// Where the refresh token goes.
#[derive(Debug, Clone)]
struct Destination {
    write: Option<PathBuf>,
    force: bool,
    show: bool,
}

impl Destination {
    /// Refuses before the exchange, when the token would have nowhere to go or could not be
    /// written: a grant token works once, and each exchange evicts a refresh token at the cap.
    fn check(&self) -> Result<(), CliError> {
        if self.write.is_none() && !self.show {
            return Err(CliError::usage(
                "say where the refresh token goes: --write FILE (created with mode 0600) or \
                 --show (printed on stdout); nothing was sent to Zoho",
            ));
        }
        let Some(path) = &self.write else {
            return Ok(());
        };
        if path.is_dir() {
            return Err(CliError::usage(format!(
                "--write {} is a directory; name a file in it",
                path.display()
            )));
        }
        if !self.force && std::fs::symlink_metadata(path).is_ok() {
            return Err(CliError::failed(anyhow::anyhow!(
                "{} already exists; pass --force to replace it, or choose another --write path \
                 (nothing was sent to Zoho)",
                path.display()
            )));
        }
        let parent = parent_dir(path);
        if !parent.is_dir() {
            return Err(CliError::failed(anyhow::anyhow!(
                "the directory {} of --write does not exist; create it first (nothing was sent \
                 to Zoho)",
                parent.display()
            )));
        }
        Ok(())
    }

    /// Writes the refresh token to `--write`'s file, if asked; returns the file written.
    fn store(&self, refresh_token: &SecretString) -> Result<Option<String>, CliError> {
        let Some(path) = &self.write else {
            return Ok(None);
        };
        write_secret_file(path, refresh_token, self.force).map_err(|e| {
            CliError::failed(anyhow::anyhow!(
                "the grant was exchanged, but the refresh token could not be written to {} \
                 ({e}); it is not stored anywhere: generate a new grant token and run again \
                 with another --write path",
                path.display()
            ))
        })?;
        Ok(Some(path.display().to_string()))
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Writes `secret` and a newline to `path`, readable by the owner only from the first byte on.
/// Without `force` the file is created exclusively (an existing file or symlink is an error);
/// with it, a new file in the same directory replaces the old one in one rename.
pub fn write_secret_file(path: &Path, secret: &SecretString, force: bool) -> std::io::Result<()> {
    let write = |file: &mut std::fs::File| -> std::io::Result<()> {
        file.write_all(secret.expose_secret().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    };
    if !force {
        let mut file = create_private(path)?;
        if let Err(e) = write(&mut file) {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        return Ok(());
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "token".to_owned());
    let temp = parent_dir(path).join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = create_private(&temp)
        .and_then(|mut file| write(&mut file))
        .and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// The outcome of `zoho token`, for `output.rs`. The refresh token is in it only with `--show`.
#[derive(Debug, Serialize)]
pub struct TokenOutcome {
    /// `us`, `eu`, ... when known.
    pub data_centre: Option<String>,
    pub accounts_url: String,
    /// Zoho's `api_domain`: the CRM API host of the account (AEP's `endpoint`).
    pub api_domain: Option<String>,
    /// The scopes Zoho says it granted; empty when it did not say.
    pub scopes: Vec<String>,
    /// The file the refresh token was written to.
    pub written_to: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_shown"
    )]
    pub refresh_token: Option<SecretString>,
    pub next_steps: Vec<String>,
    pub warnings: Vec<String>,
}

/// `--show` is the one place a refresh token is meant to be printed.
fn serialize_shown<S: Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(secret) => s.serialize_str(secret.expose_secret()),
        None => s.serialize_none(),
    }
}

/// What `zoho token` was asked to do (its flags).
#[derive(Debug, Clone, Default)]
pub struct TokenOptions {
    /// `--code`: the grant token, or the whole redirect URL Zoho showed.
    pub code: String,
    pub profile: Option<PathBuf>,
    pub region: Option<ZohoRegion>,
    pub accounts_url: Option<Url>,
    pub client_id: Option<String>,
    /// The name of the variable that holds the client secret.
    pub client_secret_env: Option<String>,
    pub redirect_uri: Option<String>,
    pub write: Option<PathBuf>,
    pub force: bool,
    pub show: bool,
}

/// The Zoho client to exchange the grant with.
struct Client {
    id: String,
    secret: SecretString,
    /// The `[zoho]` settings of the profile, when one was read.
    profile: Option<ZohoClientSettings>,
}

/// `provision zoho token`: everything that can fail without a request is checked first, then the
/// single-use grant is exchanged and the refresh token goes where the options say.
pub async fn token(options: &TokenOptions, env: &Env) -> Result<TokenOutcome, CliError> {
    let pasted = parse_grant(&options.code).map_err(CliError::usage)?;
    let destination = Destination {
        write: options.write.clone(),
        force: options.force,
        show: options.show,
    };
    destination.check()?;
    let client = zoho_client(options, env, &pasted)?;
    let target = pick_target(options, &pasted, client.profile.as_ref())?;
    tracing::info!(
        accounts_url = %target.accounts_url,
        client_id = %client.id,
        "exchanging the grant token"
    );

    let zoho = crate::clients::zoho(HttpOptions::default())?;
    let token = match zoho
        .exchange_code(
            &target.accounts_url,
            &client.id,
            &client.secret,
            &pasted.code,
            options.redirect_uri.as_deref(),
        )
        .await
    {
        Ok(token) => token,
        Err(error) => {
            return Err(auth_failure(
                &zoho,
                error,
                &target.accounts_url,
                target.region,
                &client.id,
            )
            .await)
        }
    };
    let Some(refresh_token) = token.refresh_token.clone() else {
        return Err(CliError::failed(ZohoAuthError::NoRefreshToken {
            dc: DataCentre::at(&target.accounts_url),
        }));
    };
    let written_to = destination.store(&refresh_token)?;
    let profile = client.profile.as_ref();
    Ok(TokenOutcome {
        data_centre: target.region.map(|r| r.as_str().to_owned()),
        accounts_url: target
            .accounts_url
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
        api_domain: token
            .api_domain
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_owned()),
        scopes: token.scope.clone(),
        written_to: written_to.clone(),
        refresh_token: destination.show.then_some(refresh_token),
        next_steps: next_steps(written_to.as_deref(), profile, &target, &token),
        warnings: warnings(profile, &target, &token),
    })
}

/// The client id and secret from the flags, else from the profile's `[zoho]` (read only as far as
/// the flags leave something to read).
fn zoho_client(
    options: &TokenOptions,
    env: &Env,
    pasted: &PastedGrant,
) -> Result<Client, CliError> {
    let secret_from_flag = match &options.client_secret_env {
        Some(var) => Some(
            profile::secret_from_env(env, var)
                .map_err(|e| CliError::usage(format!("--client-secret-env {var}: {e}")))?,
        ),
        None => None,
    };
    let flags_give_centre =
        options.region.is_some() || options.accounts_url.is_some() || pasted.accounts_url.is_some();
    let profile = match profile::zoho_client_profile(options.profile.as_deref(), env) {
        Some(path) => {
            let needs = ZohoClientNeeds {
                client_id: options.client_id.is_none(),
                client_secret: secret_from_flag.is_none(),
                data_centre: !flags_give_centre,
            };
            Some(profile::load_zoho_client(&path, env, needs)?)
        }
        None => None,
    };
    let id = options
        .client_id
        .clone()
        .or_else(|| profile.as_ref().and_then(|p| p.client_id.clone()))
        .ok_or_else(|| {
            CliError::usage(
                "no Zoho client id: pass --client-id 1000.… or a profile with zoho.client_id",
            )
        })?;
    let secret = secret_from_flag
        .or_else(|| profile.as_ref().and_then(|p| p.client_secret.clone()))
        .ok_or_else(|| {
            CliError::usage(
                "no Zoho client secret: pass --client-secret-env VAR (the name of the variable \
                 that holds it) or a profile with zoho.client_secret",
            )
        })?;
    Ok(Client {
        id,
        secret,
        profile,
    })
}

/// A token request failed: the classified message, and for `invalid_client`, which data centre
/// does know the client.
async fn auth_failure(
    zoho: &ZohoOAuth,
    error: ZohoAuthError,
    accounts_url: &Url,
    region: Option<ZohoRegion>,
    client_id: &str,
) -> CliError {
    if matches!(error, ZohoAuthError::InvalidClient { .. }) {
        let location = zoho.locate_client(accounts_url, region, client_id).await;
        return CliError::failed(anyhow::anyhow!("{error}; {}", located_hint(&location)));
    }
    CliError::failed(error)
}

/// The probe's findings, with the fix when it found the client.
pub fn located_hint(location: &ClientLocation) -> String {
    match location.known.as_slice() {
        [(region, _)] => format!("{location}: use region \"{region}\" (--region {region}, or zoho.region = \"{region}\")"),
        _ => location.to_string(),
    }
}

fn next_steps(
    written_to: Option<&str>,
    profile: Option<&ZohoClientSettings>,
    target: &Target,
    token: &ZohoToken,
) -> Vec<String> {
    let mut steps = Vec::new();
    let store = format!("the profile reads it with refresh_token = \"${{{REFRESH_TOKEN_VAR}}}\"",);
    match written_to {
        Some(file) => steps.push(format!(
            "set {REFRESH_TOKEN_VAR} from {file} in your CI secret store ({store}), or export \
             {REFRESH_TOKEN_VAR}=\"$(cat {file})\" locally; then delete {file}"
        )),
        None => steps.push(format!(
            "set {REFRESH_TOKEN_VAR} to the refresh token above in your CI secret store ({store})"
        )),
    }
    if let Some(profile) = profile {
        if profile.region != target.region
            || profile
                .accounts_url
                .as_ref()
                .is_some_and(|u| !same_server(u, &target.accounts_url))
        {
            let setting = match target.region {
                Some(region) => format!("region = \"{region}\""),
                None => format!(
                    "accounts_url = \"{}\"",
                    target.accounts_url.as_str().trim_end_matches('/')
                ),
            };
            steps.push(format!(
                "set {setting} under [zoho] in {}: the token belongs to this data centre",
                profile.path.display()
            ));
        }
        if let (Some(api), Some(profile_api)) = (&token.api_domain, &profile.api_url) {
            if !same_server(api, profile_api) {
                steps.push(format!(
                    "set api_url = \"{}\" under [zoho] in {}: Zoho names it as this account's API \
                     domain",
                    api.as_str().trim_end_matches('/'),
                    profile.path.display()
                ));
            }
        }
        steps.push(format!(
            "run `provision check {}` to verify the credentials, then `provision apply` to update \
             the base connection",
            profile.path.display()
        ));
    } else {
        steps.push(
            "run `provision check PROFILE` to verify the credentials, then `provision apply`"
                .to_owned(),
        );
    }
    steps
}

fn warnings(
    profile: Option<&ZohoClientSettings>,
    target: &Target,
    token: &ZohoToken,
) -> Vec<String> {
    let mut warnings = vec![
        "each exchange creates a new refresh token: Zoho keeps at most 20 per user and client and \
         silently deletes the oldest, so exchanging again can invalidate a refresh token that AEP \
         already uses"
            .to_owned(),
    ];
    if let Some(profile) = profile {
        if let (Some(theirs), Some(ours)) = (profile.region, target.region) {
            if theirs != ours {
                warnings.push(format!(
                    "{} says zoho.region = \"{theirs}\", but this token is from the {ours} data \
                     centre",
                    profile.path.display()
                ));
            }
        }
    }
    if !token.scope.is_empty() {
        let has = |prefix: &str| token.scope.iter().any(|s| s.starts_with(prefix));
        if !has("ZohoCRM.modules.") {
            warnings.push(format!(
                "the grant has no ZohoCRM.modules.* scope, so AEP cannot read records; generate \
                 the grant token again with the scopes {RECOMMENDED_SCOPES}"
            ));
        }
        if !has("ZohoCRM.settings.") {
            warnings.push(format!(
                "the grant has no ZohoCRM.settings.* scope, so `provision zoho modules` and \
                 `provision check` cannot list modules; generate the grant token again with the \
                 scopes {RECOMMENDED_SCOPES}"
            ));
        }
    }
    warnings
}

/// One module of `zoho modules`.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleRow {
    pub api_name: String,
    pub module_name: Option<String>,
    pub api_supported: Option<bool>,
    /// Whether a `[[dataflows]]` entry names it.
    pub in_profile: bool,
}

/// The outcome of `zoho modules`, for `output.rs`.
#[derive(Debug, Serialize)]
pub struct ModulesOutcome {
    pub api_domain: String,
    pub modules: Vec<ModuleRow>,
    /// Profile modules Zoho does not list (the explore path may still differ from Zoho's name).
    pub missing: Vec<String>,
}

/// Why checking the Zoho credentials failed: the refresh (a credential problem) or the CRM call.
#[derive(Debug)]
pub enum ZohoFailure {
    Refresh {
        error: ZohoAuthError,
        location: Option<ClientLocation>,
    },
    Api(crate::api::crm::ZohoApiError),
}

impl std::fmt::Display for ZohoFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refresh {
                error,
                location: Some(location),
            } => write!(f, "{error}; {}", located_hint(location)),
            Self::Refresh { error, .. } => write!(f, "{error}"),
            Self::Api(error) => write!(f, "{error}"),
        }
    }
}

/// The refresh-token grant (the process's cached token when there is one), and when Zoho does not
/// know the client there, which data centre does.
pub async fn refresh(zoho: &ZohoOAuth, settings: &ZohoSettings) -> Result<ZohoToken, ZohoFailure> {
    match zoho.token(settings).await {
        Ok(token) => Ok(token),
        Err(error @ ZohoAuthError::InvalidClient { .. }) => {
            let location = zoho
                .locate_client(&settings.accounts_url, settings.region, &settings.client_id)
                .await;
            Err(ZohoFailure::Refresh {
                error,
                location: Some(location),
            })
        }
        Err(error) => Err(ZohoFailure::Refresh {
            error,
            location: None,
        }),
    }
}

/// Zoho's module list, the API domain that answered it and the access token that read it.
pub struct ModuleList {
    pub api: Url,
    pub modules: Vec<ZohoModule>,
    /// The token the list was read with: the one handed to [`list_modules`], or the refreshed
    /// one when Zoho had rejected it. Later CRM calls use this one rather than asking again.
    pub token: ZohoToken,
}

/// `GET {api_domain}/crm/v8/settings/modules` with a token from [`refresh`] ([`with_token`]:
/// a rejected token is refreshed once before the failure is reported).
pub async fn list_modules(
    zoho: &ZohoOAuth,
    settings: &ZohoSettings,
    token: &ZohoToken,
) -> Result<ModuleList, ZohoFailure> {
    let crm = zoho.crm();
    let (modules, token) = with_token(zoho, settings, token, |api, access| {
        let crm = &crm;
        async move { crm.list_modules(&api, &access).await }
    })
    .await?;
    Ok(ModuleList {
        api: token.api_domain_or(&settings.api_url),
        modules,
        token,
    })
}

/// Runs the CRM API call `call` with `token`'s API domain and access token. When Zoho rejects the
/// token (`INVALID_TOKEN`: revoked, or expired before its time; docs/zoho-oauth.md#failure-modes
/// #9) the token is forgotten and `call` runs once more with a refreshed one; calls rejected
/// together share that one refresh ([`ZohoOAuth::invalidate_token`]). Returns the answer and the
/// token that got it.
pub async fn with_token<T, F, Fut>(
    zoho: &ZohoOAuth,
    settings: &ZohoSettings,
    token: &ZohoToken,
    call: F,
) -> Result<(T, ZohoToken), ZohoFailure>
where
    F: Fn(Url, SecretString) -> Fut,
    Fut: std::future::Future<Output = Result<T, ZohoApiError>>,
{
    let api = token.api_domain_or(&settings.api_url);
    match call(api, token.access_token.clone()).await {
        Ok(answer) => Ok((answer, token.clone())),
        Err(ZohoApiError::InvalidToken { .. }) => {
            zoho.invalidate_token(token).await;
            let token = refresh(zoho, settings).await?;
            let api = token.api_domain_or(&settings.api_url);
            let answer = call(api, token.access_token.clone())
                .await
                .map_err(ZohoFailure::Api)?;
            Ok((answer, token))
        }
        Err(e) => Err(ZohoFailure::Api(e)),
    }
}

/// `provision zoho modules`: the modules straight from Zoho, to tell a Zoho-side problem from an
/// AEP-side one.
pub async fn modules(profile: &Profile) -> Result<ModulesOutcome, CliError> {
    let zoho = crate::clients::zoho(HttpOptions::default())?;
    let failed = |e: ZohoFailure| CliError::failed(anyhow::anyhow!("{}", describe(&e)));
    let token = refresh(&zoho, &profile.zoho).await.map_err(failed)?;
    let ModuleList { api, modules, .. } = list_modules(&zoho, &profile.zoho, &token)
        .await
        .map_err(failed)?;
    let wanted: Vec<&str> = profile
        .dataflows
        .iter()
        .map(|d| d.module.as_str())
        .collect();
    let rows: Vec<ModuleRow> = modules
        .into_iter()
        .map(|m| ModuleRow {
            in_profile: wanted.contains(&m.api_name.as_str()),
            api_name: m.api_name,
            module_name: m.module_name,
            api_supported: m.api_supported,
        })
        .collect();
    let missing = wanted
        .iter()
        .filter(|w| !rows.iter().any(|r| r.api_name == **w))
        .map(|w| (*w).to_owned())
        .collect();
    Ok(ModulesOutcome {
        api_domain: api.as_str().trim_end_matches('/').to_owned(),
        modules: rows,
        missing,
    })
}

/// The failure, labelled as a credential problem or a scope problem (docs/zoho-oauth.md#failure-modes rule 4).
pub fn describe(failure: &ZohoFailure) -> String {
    match failure {
        ZohoFailure::Refresh { error, .. } if error.is_transient() => {
            format!("Zoho could not be asked: {failure}")
        }
        ZohoFailure::Refresh { .. } => format!("Zoho credential problem: {failure}"),
        ZohoFailure::Api(ZohoApiError::ScopeMismatch { .. }) => {
            format!("Zoho scope problem (the credentials are valid): {failure}")
        }
        ZohoFailure::Api(ZohoApiError::InvalidToken { .. }) => {
            format!("Zoho credential problem: {failure}")
        }
        ZohoFailure::Api(ZohoApiError::Denied { .. }) => {
            format!("Zoho permission problem (the credentials are valid): {failure}")
        }
        ZohoFailure::Api(_) => format!("Zoho CRM API problem: {failure}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_grant_token_has_no_data_centre() {
        let grant = parse_grant(" 1000.abc.def ").unwrap();
        assert_eq!(grant.code.expose_secret(), "1000.abc.def");
        assert!(grant.region.is_none() && grant.accounts_url.is_none());
    }

    #[test]
    fn a_redirect_url_gives_the_data_centre() {
        let grant = parse_grant(
            "https://app.example.com/cb?code=1000.x.y&location=eu&accounts-server=https%3A%2F%2Faccounts.zoho.eu",
        )
        .unwrap();
        assert_eq!(grant.code.expose_secret(), "1000.x.y");
        assert_eq!(grant.region, Some(ZohoRegion::Eu));
        assert_eq!(
            grant.accounts_url.unwrap().as_str(),
            "https://accounts.zoho.eu/"
        );
        let grant = parse_grant("?code=1000.x.y&location=in").unwrap();
        assert_eq!(
            grant.accounts_url.unwrap().as_str(),
            "https://accounts.zoho.in/"
        );
    }

    #[test]
    fn a_foreign_accounts_server_is_refused_without_quoting_the_code() {
        let e = parse_grant(
            "https://app.example.com/cb?code=1000.SECRET&accounts-server=https%3A%2F%2Fevil.example",
        )
        .unwrap_err();
        assert!(e.contains("not a Zoho accounts server"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
    }

    #[test]
    fn errors_in_the_redirect_are_explained() {
        let e = parse_grant("https://app.example.com/cb?error=access_denied").unwrap_err();
        assert!(e.contains("error=access_denied"), "{e}");
        let e = parse_grant("https://app.example.com/cb?state=1").unwrap_err();
        assert!(e.contains("no code= parameter"), "{e}");
        let e = parse_grant("code=1000.x&location=mars").unwrap_err();
        assert!(e.contains("location=mars"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_are_private_and_not_overwritten_without_force() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zoho.token");
        write_secret_file(&path, &SecretString::from("one"), false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let e = write_secret_file(&path, &SecretString::from("two"), false).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\n");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_secret_file(&path, &SecretString::from("two"), true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
