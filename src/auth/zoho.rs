//! The Zoho OAuth client (docs/zoho-oauth.md): the refresh-token grant that `check` uses to prove the
//! profile's Zoho credentials work, the authorization-code exchange behind `provision zoho token`,
//! and [`ZohoOAuth::crm`], the CRM API client (`api/crm.rs`) over the same connection pool.
//!
//! Zoho's token endpoint answers errors with HTTP 200 and an `error` key, so success is decided by
//! the body (an `access_token`), never by the status. Every error names the data centre it came
//! from and says what to do. Credentials travel in a form body, never in Basic auth, and neither
//! request nor response bodies are logged.
//!
//! ```no_run
//! # async fn demo(profile: &provision::profile::Profile) -> anyhow::Result<()> {
//! use provision::transport::HttpOptions;
//! use provision::auth::zoho::ZohoOAuth;
//!
//! let zoho = ZohoOAuth::new(HttpOptions::default())?;
//! let token = zoho.token(&profile.zoho).await?; // cached for the rest of the process
//! let api = token.api_domain_or(&profile.zoho.api_url);
//! let modules = zoho.crm().list_modules(&api, &token.access_token).await?;
//! # let _ = modules; Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::Mutex;
use tracing::Instrument;
use url::Url;

use super::token_cache::TokenCache;
use crate::api::crm::{CrmPace, ZohoCrm};
use crate::profile::{check_url, is_loopback, ZohoRegion, ZohoSettings};
use crate::transport::error::{looks_like_html, truncate};
use crate::transport::{describe_transport, retry_after, HttpOptions};
use crate::transport::{CallKind, RetryPolicy, Verdict};

/// Zoho access tokens live one hour; longer stated lifetimes are misread units (docs/zoho-oauth.md#token-response).
const MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// `expires_in` above this is in milliseconds (legacy answers).
const MS_THRESHOLD: u64 = 86_400;
/// Reuse a cached access token until this long before it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(300);
/// How long one data-centre probe may take (see [`ZohoOAuth::locate_client`]).
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The placeholder secret and refresh token a probe sends: a probe asks only whether the client
/// id exists at an accounts server, so no real secret leaves for a data centre that may not be
/// the client's.
const PROBE_PLACEHOLDER: &str = "provision-data-centre-probe";
/// The read-only scopes to request when generating a grant token (docs/zoho-oauth.md#scopes).
pub use crate::api::crm::RECOMMENDED_SCOPES;

/// An access token from Zoho's token endpoint.
#[derive(Debug, Clone)]
pub struct ZohoToken {
    pub access_token: SecretString,
    /// Only on the authorization-code grant (and only with `access_type=offline` or a Self
    /// Client); Zoho does not rotate refresh tokens, so a refresh never returns one.
    pub refresh_token: Option<SecretString>,
    /// The CRM API host of the account, from the answer (`api_domain`). Prefer it over any table.
    pub api_domain: Option<Url>,
    /// Lifetime, after the `expires_in_sec` / milliseconds rules and capped at one hour.
    pub expires_in: Duration,
    /// Granted scopes, when Zoho lists them (space-separated in the answer).
    pub scope: Vec<String>,
    /// Read from the [`TokenCache`] (an earlier command's refresh), not refreshed by this one.
    pub from_cache: bool,
}

impl ZohoToken {
    /// The API domain Zoho named, else `fallback` (the profile's `zoho.api_url`).
    pub fn api_domain_or(&self, fallback: &Url) -> Url {
        self.api_domain.clone().unwrap_or_else(|| fallback.clone())
    }
}

/// The accounts server a token request went to, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataCentre {
    pub region: Option<ZohoRegion>,
    /// The accounts server, without a trailing slash.
    pub accounts_url: String,
}

impl DataCentre {
    pub fn of(settings: &ZohoSettings) -> Self {
        Self {
            region: settings
                .region
                .or_else(|| ZohoRegion::from_accounts_url(&settings.accounts_url)),
            accounts_url: settings
                .accounts_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
        }
    }

    pub fn at(accounts_url: &Url) -> Self {
        Self {
            region: ZohoRegion::from_accounts_url(accounts_url),
            accounts_url: accounts_url.as_str().trim_end_matches('/').to_owned(),
        }
    }
}

impl fmt::Display for DataCentre {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.accounts_url;
        match self.region {
            Some(region) => write!(f, "the Zoho {region} data centre ({url})"),
            None => write!(f, "the Zoho accounts server at {url}"),
        }
    }
}

/// The accounts servers of the other data centres, where a client id that one server does not
/// know (`invalid_client`) may be registered. For a Zoho accounts server these are the other
/// regions' real servers; a loopback server (the emulator, tests) serves the other data centres
/// under `/dc/{region}`; for any other host (a proxy) there is nothing to ask.
pub fn other_data_centres(
    accounts_url: &Url,
    configured: Option<ZohoRegion>,
) -> Vec<(ZohoRegion, Url)> {
    let home = configured.or_else(|| ZohoRegion::from_accounts_url(accounts_url));
    let known_host = ZohoRegion::from_accounts_url(accounts_url).is_some();
    let same = |url: &Url| {
        url.as_str().trim_end_matches('/') == accounts_url.as_str().trim_end_matches('/')
    };
    ZohoRegion::ALL
        .into_iter()
        .filter(|r| Some(*r) != home)
        .filter_map(|r| {
            let url = if known_host {
                Url::parse(r.accounts_url()).ok()?
            } else if is_loopback(accounts_url) {
                let mut url = accounts_url.clone();
                url.set_path(&format!("/dc/{r}"));
                url.set_query(None);
                url
            } else {
                return None;
            };
            (!same(&url)).then_some((r, url))
        })
        .collect()
}

/// What asking the other data centres about a client id found (see
/// [`ZohoOAuth::locate_client`]).
#[derive(Debug, Clone, Default)]
pub struct ClientLocation {
    pub client_id: String,
    /// Data centres whose accounts server knows the client id.
    pub known: Vec<(ZohoRegion, Url)>,
    /// How many accounts servers were asked.
    pub asked: usize,
    /// Servers that gave no usable answer, with why.
    pub unanswered: Vec<(ZohoRegion, String)>,
}

impl fmt::Display for ClientLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = &self.client_id;
        if self.asked == 0 {
            return write!(
                f,
                "which data centre client `{id}` belongs to cannot be told: the accounts server is \
                 not a Zoho one"
            );
        }
        let places = |list: &[(ZohoRegion, Url)]| {
            list.iter()
                .map(|(r, url)| format!("{r} ({})", url.as_str().trim_end_matches('/')))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let asked = format!(
            "asked the {} other data centres' accounts servers with the client id only (no secret)",
            self.asked
        );
        if self.known.is_empty() {
            write!(f, "{asked}: none knows client `{id}`")?;
        } else {
            write!(
                f,
                "{asked}: client `{id}` is registered in {}",
                places(&self.known)
            )?;
        }
        if !self.unanswered.is_empty() {
            let list = self
                .unanswered
                .iter()
                .map(|(r, why)| format!("{r}: {why}"))
                .collect::<Vec<_>>()
                .join("; ");
            write!(f, " (no answer from {list})")?;
        }
        Ok(())
    }
}

/// Which grant a token request used (the same `invalid_code` means different things).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    AuthorizationCode,
    RefreshToken,
}

/// Why a token request failed, classified as docs/zoho-oauth.md#token-errors and #failure-modes describe.
#[derive(Debug)]
pub enum ZohoAuthError {
    /// `invalid_code`: an expired/used grant token, or a revoked/evicted refresh token.
    InvalidCode { dc: DataCentre, grant: Grant },
    /// `invalid_client`: the client id is unknown at this accounts server (usually the wrong DC).
    InvalidClient { dc: DataCentre, client_id: String },
    /// `invalid_client_secret`.
    InvalidClientSecret { dc: DataCentre, client_id: String },
    /// `invalid_redirect_uri`.
    InvalidRedirectUri {
        dc: DataCentre,
        redirect_uri: Option<String>,
    },
    /// "Access Denied" with "too many requests"/"throttle": wait, do not retry in a loop.
    Throttled { dc: DataCentre, detail: String },
    /// `access_denied` without throttling wording (grant-token limit, or consent denied).
    AccessDenied {
        dc: DataCentre,
        detail: Option<String>,
    },
    /// Any other `error` value.
    Rejected {
        dc: DataCentre,
        error: String,
        detail: Option<String>,
    },
    /// A success-looking answer without an `access_token`.
    NoAccessToken { dc: DataCentre },
    /// The exchange succeeded but Zoho returned no refresh token (docs/zoho-oauth.md#failure-modes #10); the
    /// caller decides whether that is an error.
    NoRefreshToken { dc: DataCentre },
    /// An `api_domain` we will not send a token to.
    BadApiDomain { dc: DataCentre, api_domain: String },
    /// HTTP 5xx, an HTML page, or no answer: an outage, not a credential problem.
    Transient { dc: DataCentre, detail: String },
}

impl ZohoAuthError {
    /// Worth trying again later (throttling or an outage), as opposed to a credential problem.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Transient { .. })
    }

    pub fn data_centre(&self) -> &DataCentre {
        match self {
            Self::InvalidCode { dc, .. }
            | Self::InvalidClient { dc, .. }
            | Self::InvalidClientSecret { dc, .. }
            | Self::InvalidRedirectUri { dc, .. }
            | Self::Throttled { dc, .. }
            | Self::AccessDenied { dc, .. }
            | Self::Rejected { dc, .. }
            | Self::NoAccessToken { dc }
            | Self::NoRefreshToken { dc }
            | Self::BadApiDomain { dc, .. }
            | Self::Transient { dc, .. } => dc,
        }
    }

    /// A short stable name, e.g. for JSON output: `invalid_code`, `transient`, ...
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidCode { .. } => "invalid_code",
            Self::InvalidClient { .. } => "invalid_client",
            Self::InvalidClientSecret { .. } => "invalid_client_secret",
            Self::InvalidRedirectUri { .. } => "invalid_redirect_uri",
            Self::Throttled { .. } => "throttled",
            Self::AccessDenied { .. } => "access_denied",
            Self::Rejected { .. } => "rejected",
            Self::NoAccessToken { .. } => "no_access_token",
            Self::NoRefreshToken { .. } => "no_refresh_token",
            Self::BadApiDomain { .. } => "bad_api_domain",
            Self::Transient { .. } => "transient",
        }
    }
}

impl fmt::Display for ZohoAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCode { dc, grant: Grant::AuthorizationCode } => write!(
                f,
                "{dc} rejected the grant token (invalid_code): a grant token works only once, expires \
                 minutes after it is created, and only works in the data centre it came from; generate \
                 a new one (API console → Self Client → Generate Code, pick 10 minutes) and exchange it \
                 right away, once"
            ),
            Self::InvalidCode { dc, grant: Grant::RefreshToken } => write!(
                f,
                "{dc} rejected zoho.refresh_token (invalid_code): it was revoked, replaced, or belongs \
                 to another data centre (each user can hold 20 refresh tokens per client; a 21st deletes \
                 the oldest); generate a new grant token, run `provision zoho token --code ...` and \
                 update the refresh token the profile reads"
            ),
            Self::InvalidClient { dc, client_id } => write!(
                f,
                "{dc} does not know client id `{client_id}` (invalid_client): use the data centre where \
                 the client was created (zoho.region: {}), or enable this data centre for the client \
                 under Multi-DC in the Zoho API console",
                ZohoRegion::list()
            ),
            Self::InvalidClientSecret { dc, client_id } => write!(
                f,
                "{dc} rejected the client secret of client `{client_id}` (invalid_client_secret): copy \
                 it again from the Zoho API console (for a multi-DC client with separate secrets, use \
                 this data centre's secret)"
            ),
            Self::InvalidRedirectUri { dc, redirect_uri } => {
                let uri = redirect_uri.as_deref().unwrap_or("(none)");
                write!(
                    f,
                    "{dc} rejected the redirect URI `{uri}` (invalid_redirect_uri): it must match the \
                     client's Authorized Redirect URI exactly (scheme, host, path and trailing slash); \
                     for a Self Client, omit --redirect-uri"
                )
            }
            Self::Throttled { dc, detail } => write!(
                f,
                "{dc} is throttling token requests for this client ({detail}): wait up to 10 minutes \
                 before trying again (Zoho allows about 10 access tokens per refresh token per 10 minutes)"
            ),
            Self::AccessDenied { dc, detail } => {
                let detail = detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
                write!(
                    f,
                    "{dc} denied the request (access_denied{detail}): too many grant tokens were made \
                     in the last 10 minutes, or consent was refused; wait 10 minutes and generate a new \
                     grant token"
                )
            }
            Self::Rejected { dc, error, detail } => {
                let detail = detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
                write!(
                    f,
                    "{dc} rejected the token request ({error}{detail}); check zoho.client_id, the \
                     client secret and the refresh token"
                )
            }
            Self::NoAccessToken { dc } => write!(
                f,
                "{dc} answered without an access_token or an error; check that zoho.accounts_url is a \
                 Zoho accounts server"
            ),
            Self::NoRefreshToken { dc } => write!(
                f,
                "{dc} returned no refresh token: re-authorize with access_type=offline&prompt=consent, \
                 or use a Self Client grant token"
            ),
            Self::BadApiDomain { dc, api_domain } => write!(
                f,
                "{dc} named the API domain `{api_domain}`, which is not an https:// URL; refusing to \
                 send the access token there"
            ),
            Self::Transient { dc, detail } => write!(
                f,
                "{dc} is unavailable ({detail}); this is not a credential problem, try again later"
            ),
        }
    }
}

impl std::error::Error for ZohoAuthError {}

/// The Zoho OAuth and CRM client. Cheap to create; holds one connection pool, an in-memory
/// access-token cache (its own, or a [`TokenMemory`] shared with other clients) and, when given
/// one, the on-disk [`TokenCache`] shared by later commands (Zoho throttles clients that
/// refresh too often).
pub struct ZohoOAuth {
    http: reqwest::Client,
    retry: RetryPolicy,
    cached: TokenMemory,
    disk: Option<TokenCache>,
    crm_pace: CrmPace,
}

/// The access token clients hold in memory; clones share it, so that the clients of one command
/// (its validation, the base connection's write) refresh once between them.
#[derive(Clone, Default)]
pub struct TokenMemory(Arc<Mutex<Option<CachedToken>>>);

impl fmt::Debug for ZohoOAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZohoOAuth").finish_non_exhaustive()
    }
}

struct CachedToken {
    settings: ZohoSettings,
    token: ZohoToken,
    reuse_until: Instant,
}

impl ZohoOAuth {
    /// A client under `options` (timeouts and retry policy). Commands build theirs with
    /// [`crate::clients::Clients`].
    pub fn new(options: HttpOptions) -> anyhow::Result<Self> {
        Ok(Self {
            http: options.client()?,
            retry: options.retry_policy(),
            cached: TokenMemory::default(),
            disk: None,
            crm_pace: CrmPace::default(),
        })
    }

    /// Keeps its access token in `memory`, shared with the other clients given it.
    pub fn sharing(mut self, memory: TokenMemory) -> Self {
        self.cached = memory;
        self
    }

    /// Also reads and writes access tokens in `cache` (none: this process only).
    pub fn with_token_cache(mut self, cache: Option<TokenCache>) -> Self {
        self.disk = cache;
        self
    }

    /// An access token for the profile's Zoho settings: the cached one (this process's, else the
    /// [`TokenCache`]'s) while it is valid for a few more minutes, else a [`refresh`](Self::refresh),
    /// which is then cached.
    pub async fn token(&self, settings: &ZohoSettings) -> Result<ZohoToken, ZohoAuthError> {
        let mut cached = self.cached.0.lock().await;
        if let Some(c) = cached.as_ref() {
            let same = c.settings.accounts_url == settings.accounts_url
                && c.settings.client_id == settings.client_id
                && c.settings.client_secret.expose_secret()
                    == settings.client_secret.expose_secret()
                && c.settings.refresh_token.expose_secret()
                    == settings.refresh_token.expose_secret();
            if same && Instant::now() < c.reuse_until {
                return Ok(c.token.clone());
            }
        }
        let from_disk = self
            .disk
            .as_ref()
            .and_then(|disk| disk.load(settings, EXPIRY_MARGIN));
        let (token, left) = match from_disk {
            Some(found) => found,
            None => {
                let token = self.refresh(settings).await?;
                if let Some(disk) = &self.disk {
                    disk.store(settings, &token);
                }
                let left = token.expires_in;
                (token, left)
            }
        };
        let margin = EXPIRY_MARGIN.min(left / 2);
        *cached = Some(CachedToken {
            settings: settings.clone(),
            reuse_until: Instant::now() + left - margin,
            token: token.clone(),
        });
        Ok(token)
    }

    /// The Zoho CRM API client, sharing this client's connection pool and retry policy.
    pub fn crm(&self) -> ZohoCrm {
        ZohoCrm::with_client(self.http.clone(), self.retry).sharing(self.crm_pace.clone())
    }

    /// Forgets the cached access token if it is still `rejected` (after the CRM API said
    /// `INVALID_TOKEN`, i.e. HTTP 401), in this process and in the [`TokenCache`]; so that many
    /// calls rejected with the same token cause one refresh, not one each (Zoho allows about
    /// ten refreshes in ten minutes).
    pub async fn invalidate_token(&self, rejected: &ZohoToken) {
        let mut cached = self.cached.0.lock().await;
        let still_cached = cached.as_ref().is_some_and(|c| {
            c.token.access_token.expose_secret() == rejected.access_token.expose_secret()
        });
        if !still_cached {
            return;
        }
        let forgotten = cached.take();
        if let (Some(disk), Some(c)) = (&self.disk, forgotten) {
            disk.remove(&c.settings);
        }
    }

    /// The refresh-token grant: `POST {accounts_url}/oauth/v2/token` with
    /// `grant_type=refresh_token`. Always asks Zoho (see [`token`](Self::token) for the cached form).
    pub async fn refresh(&self, settings: &ZohoSettings) -> Result<ZohoToken, ZohoAuthError> {
        let dc = DataCentre::of(settings);
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", settings.client_id.as_str()),
            ("client_secret", settings.client_secret.expose_secret()),
            ("refresh_token", settings.refresh_token.expose_secret()),
        ];
        let context = Context {
            dc,
            grant: Grant::RefreshToken,
            client_id: &settings.client_id,
            redirect_uri: None,
        };
        self.token_request(&settings.accounts_url, &form, &context)
            .await
    }

    /// The authorization-code grant: exchanges a grant token (from a Self Client or the redirect
    /// after consent) for an access token and, normally, a refresh token. `redirect_uri` is sent
    /// only when given (web clients; a Self Client has none). A missing refresh token is not an
    /// error here; see [`ZohoAuthError::NoRefreshToken`] for the message to show.
    pub async fn exchange_code(
        &self,
        accounts_url: &Url,
        client_id: &str,
        client_secret: &SecretString,
        code: &SecretString,
        redirect_uri: Option<&str>,
    ) -> Result<ZohoToken, ZohoAuthError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("client_secret", client_secret.expose_secret()),
            ("code", code.expose_secret()),
        ];
        if let Some(uri) = redirect_uri {
            form.push(("redirect_uri", uri));
        }
        let context = Context {
            dc: DataCentre::at(accounts_url),
            grant: Grant::AuthorizationCode,
            client_id,
            redirect_uri,
        };
        self.token_request(accounts_url, &form, &context).await
    }

    /// Asks the other data centres' accounts servers (see [`other_data_centres`]) whether they
    /// know `client_id`, after `accounts_url` answered `invalid_client`. Each is asked once, all
    /// at the same time, each for at most a few seconds, with a placeholder secret and refresh
    /// token: an unknown client id gets `invalid_client`, a known one `invalid_client_secret` (or
    /// `invalid_code`), and no real secret or token is sent anywhere new.
    pub async fn locate_client(
        &self,
        accounts_url: &Url,
        configured: Option<ZohoRegion>,
        client_id: &str,
    ) -> ClientLocation {
        let candidates = other_data_centres(accounts_url, configured);
        let asked = candidates.len();
        let answers =
            futures::future::join_all(candidates.into_iter().map(|(region, url)| async move {
                let answer = tokio::time::timeout(PROBE_TIMEOUT, self.probe(&url, client_id)).await;
                (region, url, answer)
            }))
            .await;
        let mut location = ClientLocation {
            client_id: client_id.to_owned(),
            asked,
            ..ClientLocation::default()
        };
        for (region, url, answer) in answers {
            match answer {
                Ok(Ok(true)) => location.known.push((region, url)),
                Ok(Ok(false)) => {}
                Ok(Err(e)) => location.unanswered.push((region, e)),
                Err(_) => location.unanswered.push((
                    region,
                    format!("no answer within {}s", PROBE_TIMEOUT.as_secs()),
                )),
            }
        }
        location
    }

    /// Whether the accounts server at `accounts_url` knows `client_id`: one refresh-token request
    /// with placeholders, never retried.
    async fn probe(&self, accounts_url: &Url, client_id: &str) -> Result<bool, String> {
        let url = join_path(accounts_url, "/oauth/v2/token");
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("client_secret", PROBE_PLACEHOLDER),
            ("refresh_token", PROBE_PLACEHOLDER),
        ];
        let context = Context {
            dc: DataCentre::at(accounts_url),
            grant: Grant::RefreshToken,
            client_id,
            redirect_uri: None,
        };
        let timeout = self.retry.start(CallKind::Read).attempt_timeout();
        match self
            .token_once(&url, &form, &context, timeout)
            .await
            .map_err(|(e, _)| e)
        {
            Err(ZohoAuthError::InvalidClient { .. }) => Ok(false),
            Ok(_)
            | Err(ZohoAuthError::InvalidClientSecret { .. } | ZohoAuthError::InvalidCode { .. }) => {
                Ok(true)
            }
            Err(ZohoAuthError::Transient { detail, .. }) => Err(detail),
            Err(e) => Err(e.code().to_owned()),
        }
    }

    async fn token_request(
        &self,
        accounts_url: &Url,
        form: &[(&str, &str)],
        context: &Context<'_>,
    ) -> Result<ZohoToken, ZohoAuthError> {
        let url = join_path(accounts_url, "/oauth/v2/token");
        // Only outages are retried: a throttled client must wait minutes, not seconds. A refresh
        // changes nothing when repeated; a grant code is single use, so its exchange is retried
        // only within the attempts.
        let kind = match context.grant {
            Grant::RefreshToken => CallKind::Read,
            Grant::AuthorizationCode => CallKind::Write,
        };
        self.retry
            .run(
                "the Zoho token request",
                kind,
                |timeout| self.token_once(&url, form, context, timeout),
                |(error, retry_after): &(ZohoAuthError, Option<Duration>)| match error {
                    ZohoAuthError::Transient { .. } => Verdict::Transient(*retry_after),
                    _ => Verdict::Fail,
                },
            )
            .await
            .map_err(|(error, _)| error)
    }

    async fn token_once(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        context: &Context<'_>,
        timeout: Duration,
    ) -> Result<ZohoToken, (ZohoAuthError, Option<Duration>)> {
        // The event names the call; the span adds nothing it repeats.
        let span = tracing::info_span!("http");
        async {
            let started = Instant::now();
            let transient = |e: reqwest::Error| {
                let error = ZohoAuthError::Transient {
                    dc: context.dc.clone(),
                    detail: describe_transport(&e),
                };
                (error, None)
            };
            let response = self
                .http
                .post(url.clone())
                .form(form)
                .timeout(timeout)
                .send()
                .await
                .map_err(transient)?;
            let status = response.status().as_u16();
            let wait = retry_after(response.headers());
            let body = response.bytes().await.map_err(transient)?;
            tracing::info!(
                status,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "POST /oauth/v2/token"
            );
            classify_token(status, &body, context).map_err(|e| (e, wait))
        }
        .instrument(span)
        .await
    }
}

/// What a token request was, for classifying its answer.
struct Context<'a> {
    dc: DataCentre,
    grant: Grant,
    client_id: &'a str,
    redirect_uri: Option<&'a str>,
}

fn join_path(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}{path}"));
    url.set_query(None);
    url
}

/// Reads a token-endpoint answer whatever its status (docs/zoho-oauth.md#token-errors: errors come as HTTP 200).
fn classify_token(
    status: u16,
    body: &[u8],
    context: &Context<'_>,
) -> Result<ZohoToken, ZohoAuthError> {
    let Ok(Value::Object(json)) = serde_json::from_slice::<Value>(body) else {
        return Err(not_json(status, body, context));
    };
    let answer = TokenAnswer { json: &json };
    if let Some(error) = answer.field("error") {
        return Err(answer.error(error, status, context));
    }
    answer.token(status, context)
}

/// A token-endpoint answer that is not a JSON object: a gateway's page, or nothing.
fn not_json(status: u16, body: &[u8], context: &Context<'_>) -> ZohoAuthError {
    let text = String::from_utf8_lossy(body);
    let detail = if looks_like_html(&text) {
        format!("HTTP {status} with an HTML page instead of JSON")
    } else if text.trim().is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        // The body is not JSON, so it cannot be a token answer; it may still echo the request.
        format!("HTTP {status} with an answer that is not JSON")
    };
    let dc = context.dc.clone();
    if status >= 500 || status == 429 || looks_like_html(&text) || status == 200 {
        ZohoAuthError::Transient { dc, detail }
    } else {
        ZohoAuthError::Rejected {
            dc,
            error: format!("HTTP {status}"),
            detail: None,
        }
    }
}

/// A token-endpoint answer that is a JSON object.
struct TokenAnswer<'a> {
    json: &'a serde_json::Map<String, Value>,
}

impl TokenAnswer<'_> {
    /// A non-empty string field.
    fn field(&self, name: &str) -> Option<&str> {
        self.json
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// A number, or a string of digits.
    fn number(&self, name: &str) -> Option<u64> {
        match self.json.get(name) {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The answer carries `error`: what it means.
    fn error(&self, error: &str, status: u16, context: &Context<'_>) -> ZohoAuthError {
        let dc = || context.dc.clone();
        let description = self.field("error_description").map(|d| truncate(d, 200));
        let wording =
            format!("{error} {}", description.as_deref().unwrap_or("")).to_ascii_lowercase();
        // Throttling is recognised by wording and `status: failure`, not by the `error` string,
        // which Zoho sometimes localises.
        if self.field("status") == Some("failure")
            || wording.contains("too many requests")
            || wording.contains("throttle")
        {
            let detail = description.unwrap_or_else(|| error.to_owned());
            return ZohoAuthError::Throttled { dc: dc(), detail };
        }
        match error {
            "invalid_code" => ZohoAuthError::InvalidCode {
                dc: dc(),
                grant: context.grant,
            },
            "invalid_client" => ZohoAuthError::InvalidClient {
                dc: dc(),
                client_id: context.client_id.to_owned(),
            },
            "invalid_client_secret" => ZohoAuthError::InvalidClientSecret {
                dc: dc(),
                client_id: context.client_id.to_owned(),
            },
            "invalid_redirect_uri" => ZohoAuthError::InvalidRedirectUri {
                dc: dc(),
                redirect_uri: context.redirect_uri.map(str::to_owned),
            },
            e if e.eq_ignore_ascii_case("access_denied")
                || e.eq_ignore_ascii_case("access denied") =>
            {
                ZohoAuthError::AccessDenied {
                    dc: dc(),
                    detail: description,
                }
            }
            _ if status >= 500 || status == 429 => ZohoAuthError::Transient {
                dc: dc(),
                detail: format!("HTTP {status}: {}", truncate(error, 100)),
            },
            other => ZohoAuthError::Rejected {
                dc: dc(),
                error: truncate(other, 100),
                detail: description,
            },
        }
    }

    /// The answer carries no `error`: the token, with its lifetime, API domain and scopes.
    fn token(&self, status: u16, context: &Context<'_>) -> Result<ZohoToken, ZohoAuthError> {
        let dc = || context.dc.clone();
        let Some(access_token) = self.field("access_token") else {
            // A 429 without Zoho's throttling wording is an HTTP rate limit (a gateway's): retried
            // after its Retry-After, unlike Zoho's own token throttling above.
            return Err(if status >= 500 || status == 429 {
                ZohoAuthError::Transient {
                    dc: dc(),
                    detail: format!("HTTP {status}"),
                }
            } else {
                ZohoAuthError::NoAccessToken { dc: dc() }
            });
        };
        let api_domain = match self.field("api_domain") {
            None => None,
            Some(domain) => Some(check_url(domain).map_err(|_| ZohoAuthError::BadApiDomain {
                dc: dc(),
                api_domain: truncate(domain, 100),
            })?),
        };
        let expires_in = match (self.number("expires_in_sec"), self.number("expires_in")) {
            (Some(seconds), _) => Duration::from_secs(seconds),
            (None, Some(n)) if n > MS_THRESHOLD => Duration::from_millis(n),
            (None, Some(seconds)) => Duration::from_secs(seconds),
            (None, None) => MAX_LIFETIME,
        }
        .min(MAX_LIFETIME);
        Ok(ZohoToken {
            access_token: SecretString::from(access_token.to_owned()),
            refresh_token: self
                .field("refresh_token")
                .map(|t| SecretString::from(t.to_owned())),
            api_domain,
            expires_in,
            scope: self
                .field("scope")
                .map(|s| {
                    s.split([' ', ','])
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            from_cache: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context<'static> {
        Context {
            dc: DataCentre::at(&Url::parse("https://accounts.zoho.eu").expect("url")),
            grant: Grant::RefreshToken,
            client_id: "1000.ABC",
            redirect_uri: None,
        }
    }

    #[test]
    fn expires_in_rules() {
        let ok = |body: &str| {
            classify_token(200, body.as_bytes(), &context())
                .expect("token")
                .expires_in
        };
        assert_eq!(
            ok(r#"{"access_token":"a","expires_in":3600}"#),
            Duration::from_secs(3600)
        );
        assert_eq!(
            ok(r#"{"access_token":"a","expires_in":1800}"#),
            Duration::from_secs(1800)
        );
        assert_eq!(
            ok(r#"{"access_token":"a","expires_in":3600000}"#),
            Duration::from_secs(3600)
        );
        assert_eq!(
            ok(r#"{"access_token":"a","expires_in":1800000}"#),
            Duration::from_secs(1800)
        );
        assert_eq!(
            ok(r#"{"access_token":"a","expires_in_sec":600,"expires_in":600000}"#),
            Duration::from_secs(600)
        );
        assert_eq!(
            ok(r#"{"access_token":"a","expires_in":7200}"#),
            Duration::from_secs(3600)
        );
        assert_eq!(ok(r#"{"access_token":"a"}"#), Duration::from_secs(3600));
    }

    #[test]
    fn localised_throttle_is_recognised_by_status() {
        let body = r#"{"error_description":"...","error":"拒绝访问","status":"failure"}"#;
        let e = classify_token(400, body.as_bytes(), &context()).expect_err("throttled");
        assert!(matches!(e, ZohoAuthError::Throttled { .. }), "{e:?}");
        assert!(e.is_transient());
    }

    #[test]
    fn other_data_centres_are_zohos_own_or_the_emulators() {
        let urls = |base: &str, configured| {
            other_data_centres(&Url::parse(base).expect("url"), configured)
                .into_iter()
                .map(|(r, u)| format!("{r} {}", u.as_str().trim_end_matches('/')))
                .collect::<Vec<_>>()
        };
        let real = urls("https://accounts.zoho.eu", None);
        assert_eq!(real.len(), 8);
        assert!(real.contains(&"us https://accounts.zoho.com".to_owned()));
        assert!(real.contains(&"ca https://accounts.zohocloud.ca".to_owned()));
        assert!(!real.iter().any(|u| u.starts_with("eu ")));

        let local = urls("http://127.0.0.1:9/dc/eu", None);
        assert_eq!(local.len(), 8);
        assert!(local.contains(&"us http://127.0.0.1:9/dc/us".to_owned()));
        let home = urls("http://127.0.0.1:9", Some(ZohoRegion::Us));
        assert_eq!(home.len(), 8);
        assert!(!home.iter().any(|u| u.starts_with("us ")));

        assert!(urls("https://zoho-proxy.example.com", None).is_empty());
    }

    #[test]
    fn http_api_domain_is_refused() {
        let body = r#"{"access_token":"a","api_domain":"http://evil.example"}"#;
        let e = classify_token(200, body.as_bytes(), &context()).expect_err("refused");
        assert!(matches!(e, ZohoAuthError::BadApiDomain { .. }), "{e:?}");
    }
}
