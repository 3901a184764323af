//! The one place where the remote-service clients are built from a profile: the AEP client (with
//! its IMS token source) and the Zoho OAuth client, both under one [`HttpOptions`], so every
//! call a command makes (IMS, Zoho, AEP, and the create-then-look-up loop of `apply`) follows
//! the same timeouts and retry policy ([`crate::transport::RetryPolicy`]).
//!
//! This is also where the profile's settings become the clients' own settings types: `api` and
//! `auth` know nothing of the profile.
//!
//! ```no_run
//! # fn demo(profile: &provision::profile::Profile) -> anyhow::Result<()> {
//! use provision::clients::Clients;
//! use provision::transport::HttpOptions;
//!
//! let clients = Clients::from_profile(profile, HttpOptions::default())?;
//! let policy = clients.aep.retry_policy(); // the policy every call of this command follows
//! # let _ = policy; Ok(()) }
//! ```

use std::sync::OnceLock;

use crate::api::{AepClient, AepSettings};
use crate::auth::ims::ImsCredentials;
use crate::auth::token_cache::TokenCache;
use crate::auth::zoho::{TokenMemory, ZohoOAuth};
use crate::profile::{AdobeSettings, Profile};
use crate::transport::{HttpOptions, RetryPolicy};

/// The clients of one command. Cheap to clone the AEP client out of; build once per command.
#[derive(Debug)]
pub struct Clients {
    pub aep: AepClient,
    pub zoho: ZohoOAuth,
    options: HttpOptions,
}

impl Clients {
    /// Both clients for `profile`, under `options`.
    pub fn from_profile(profile: &Profile, options: HttpOptions) -> anyhow::Result<Self> {
        Ok(Self {
            aep: aep(profile, options.clone())?,
            zoho: zoho(options.clone())?,
            options,
        })
    }

    /// The retry policy every client here follows.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.options.retry_policy()
    }
}

/// Only the AEP client, for commands that do not call Zoho (explore, status, plan, ...).
pub fn aep(profile: &Profile, options: HttpOptions) -> anyhow::Result<AepClient> {
    AepClient::new(&profile.adobe, options)
}

/// Only the Zoho OAuth client, for commands that run without a full profile (`zoho token`) or
/// call nothing else. It shares access tokens through the user's [`TokenCache`] once
/// [`use_token_cache`] turned that on.
pub fn zoho(options: HttpOptions) -> anyhow::Result<ZohoOAuth> {
    let cache = TOKEN_CACHE.get().cloned().flatten();
    let memory = TOKEN_MEMORY.get_or_init(TokenMemory::default).clone();
    Ok(ZohoOAuth::new(options)?
        .with_token_cache(cache)
        .sharing(memory))
}

/// The Zoho access token every client built here shares: one command refreshes it once, even
/// where no on-disk cache is kept (a CI runner without a home directory).
static TOKEN_MEMORY: OnceLock<TokenMemory> = OnceLock::new();

/// The on-disk Zoho token cache of this process's clients: unset (a library caller, a test) means
/// none.
static TOKEN_CACHE: OnceLock<Option<TokenCache>> = OnceLock::new();

/// Called once by [`crate::run`]: whether this command's Zoho clients keep access tokens in the
/// user's cache directory (`--no-token-cache` and `PROVISION_NO_TOKEN_CACHE` say no).
pub fn use_token_cache(enabled: bool) {
    let cache = if enabled {
        TokenCache::for_user()
    } else {
        None
    };
    let _ = TOKEN_CACHE.set(cache);
}

impl From<&AdobeSettings> for ImsCredentials {
    fn from(adobe: &AdobeSettings) -> Self {
        Self {
            ims_url: adobe.ims_url.clone(),
            client_id: adobe.client_id.clone(),
            client_secret: adobe.client_secret.clone(),
            scopes: adobe.scopes.clone(),
        }
    }
}

impl From<&AdobeSettings> for AepSettings {
    fn from(adobe: &AdobeSettings) -> Self {
        Self {
            credentials: adobe.into(),
            org_id: adobe.org_id.clone(),
            sandbox: adobe.sandbox.clone(),
            platform_url: adobe.platform_url.clone(),
        }
    }
}
