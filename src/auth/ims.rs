//! Adobe IMS OAuth server-to-server tokens (docs/aep-api.md#ims-token): `POST {ims_url}/ims/token/v3` with a
//! form body, cached until shortly before `expires_in`. Neither the request nor the response body
//! is ever logged: one holds the client secret, the other the token.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tracing::Instrument;
use url::Url;

use crate::transport::{describe_transport, header_text, retry_after, HttpOptions};
use crate::transport::{ApiError, ApiErrorKind, CallKind, RetryPolicy, Verdict};

/// An OAuth server-to-server credential of an Adobe Developer Console project.
#[derive(Clone)]
pub struct ImsCredentials {
    /// e.g. `https://ims-na1.adobelogin.com`; the token endpoint is `{ims_url}/ims/token/v3`.
    pub ims_url: Url,
    /// Also sent as `x-api-key` on every AEP call.
    pub client_id: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for ImsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImsCredentials")
            .field("ims_url", &self.ims_url.as_str())
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Refresh this long before the token's stated expiry (at most half its lifetime).
const EXPIRY_MARGIN: Duration = Duration::from_secs(300);
const CALL: &str = "POST /ims/token/v3";

pub struct ImsAuth {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    scopes: String,
    retry: RetryPolicy,
    cached: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for ImsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImsAuth")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

struct CachedToken {
    token: SecretString,
    refresh_at: Instant,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: Option<SecretString>,
    /// Seconds for v3 server-to-server tokens (the deprecated JWT exchange used milliseconds).
    expires_in: Option<u64>,
}

impl ImsAuth {
    /// A token source for `credentials`, sending through `http` under the retry policy of
    /// `options` (the AEP client passes its own, so both follow one policy).
    pub fn new(http: reqwest::Client, credentials: &ImsCredentials, options: &HttpOptions) -> Self {
        let mut token_url = credentials.ims_url.clone();
        let base = token_url.path().trim_end_matches('/').to_owned();
        token_url.set_path(&format!("{base}/ims/token/v3"));
        token_url.set_query(None);
        Self {
            http,
            token_url,
            client_id: credentials.client_id.clone(),
            client_secret: credentials.client_secret.clone(),
            scopes: credentials.scopes.join(","),
            retry: options.retry_policy(),
            cached: Mutex::new(None),
        }
    }

    /// A valid access token, from the cache or freshly issued. Concurrent callers share one request.
    pub async fn token(&self) -> Result<SecretString, ApiError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if Instant::now() < c.refresh_at {
                return Ok(c.token.clone());
            }
        }
        let fresh = self.request_token().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets the cached token.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// Forgets the cached token if it is still `rejected` (after the gateway said `401013`), so
    /// that many tasks failing with the same token cause one new token, not one each.
    pub async fn invalidate_token(&self, rejected: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == rejected.expose_secret())
        {
            *cached = None;
        }
    }

    /// Requests a token; retries on 429, 5xx and transport errors (minting a token has no effect
    /// that a repeat could double), under the retry policy.
    async fn request_token(&self) -> Result<CachedToken, ApiError> {
        self.retry
            .run(
                CALL,
                CallKind::Read,
                |timeout| self.request_once(timeout),
                |error: &ApiError| {
                    if error.is_throttled() {
                        Verdict::Throttled(error.retry_after)
                    } else if error.is_server_error() || error.kind == ApiErrorKind::Transport {
                        Verdict::Transient(error.retry_after)
                    } else {
                        Verdict::Fail
                    }
                },
            )
            .await
    }

    async fn request_once(&self, timeout: Duration) -> Result<CachedToken, ApiError> {
        // The event names the call; the span adds nothing it repeats.
        let span = tracing::info_span!("http");
        async {
            let started = Instant::now();
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.expose_secret()),
                ("scope", self.scopes.as_str()),
            ];
            let response = self
                .http
                .post(self.token_url.clone())
                .form(&form)
                .timeout(timeout)
                .send()
                .await
                .map_err(|e| ApiError::transport(CALL, describe_transport(&e)))?;
            let status = response.status().as_u16();
            let wait = retry_after(response.headers());
            let request_id = header_text(response.headers(), "x-request-id");
            let bytes = response
                .bytes()
                .await
                .map_err(|e| ApiError::transport(CALL, describe_transport(&e)))?;
            tracing::info!(
                status,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "{CALL}"
            );
            if !(200..300).contains(&status) {
                let mut error = ApiError::status(CALL, status, &bytes, request_id);
                error.retry_after = wait;
                return Err(error);
            }
            // The body holds the token: its parse error must not quote it.
            let parsed: TokenResponse = serde_json::from_slice(&bytes).map_err(|_| {
                ApiError::decode(
                    CALL,
                    "the IMS answer is not the JSON token response expected; check adobe.ims_url",
                )
            })?;
            let Some(token) = parsed
                .access_token
                .filter(|t| !t.expose_secret().is_empty())
            else {
                return Err(ApiError::decode(
                    CALL,
                    "the IMS answer has no access_token; check adobe.ims_url",
                ));
            };
            // A token without a stated lifetime is used for one minute, then asked for again.
            let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(60));
            let margin = EXPIRY_MARGIN.min(lifetime / 2);
            Ok(CachedToken {
                token,
                refresh_at: Instant::now() + lifetime - margin,
            })
        }
        .instrument(span)
        .await
    }
}
