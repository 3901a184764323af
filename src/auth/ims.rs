//! Adobe IMS OAuth server-to-server tokens (reference §2): `POST {ims_url}/ims/token/v3` with a
//! form body, cached until shortly before `expires_in`.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use url::Url;

use crate::api::ApiError;
use crate::profile::AdobeSettings;

/// Refresh this long before the token's stated expiry.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

pub struct ImsAuth {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    scopes: String,
    cached: Mutex<Option<CachedToken>>,
}

struct CachedToken {
    token: SecretString,
    refresh_at: Instant,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    expires_in: u64,
}

impl ImsAuth {
    pub fn new(http: reqwest::Client, adobe: &AdobeSettings) -> Self {
        let mut token_url = adobe.ims_url.clone();
        let base = token_url.path().trim_end_matches('/').to_owned();
        token_url.set_path(&format!("{base}/ims/token/v3"));
        Self {
            http,
            token_url,
            client_id: adobe.client_id.clone(),
            client_secret: adobe.client_secret.clone(),
            scopes: adobe.scopes.join(","),
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

    /// Forgets the cached token (after the gateway said `401013`).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn request_token(&self) -> Result<CachedToken, ApiError> {
        let call = "POST /ims/token/v3";
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
            .send()
            .await
            .map_err(|e| ApiError::transport(call, e.without_url().to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ApiError::transport(call, e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(ApiError::status(call, status.as_u16(), &bytes, None));
        }
        let parsed: TokenResponse = serde_json::from_slice(&bytes).map_err(|_| {
            ApiError::decode(
                call,
                "the IMS token response has no access_token/expires_in",
            )
        })?;
        let lifetime = Duration::from_secs(parsed.expires_in);
        let refresh_at = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN.min(lifetime / 2));
        Ok(CachedToken {
            token: parsed.access_token,
            refresh_at,
        })
    }
}
