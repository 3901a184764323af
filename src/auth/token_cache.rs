//! Zoho access tokens kept on disk between commands, so that a day of `check`, `plan`, `apply` and
//! `zoho modules` refreshes once an hour instead of once a command: Zoho throttles a refresh token
//! after about ten access tokens in ten minutes
//! (<https://www.zoho.com/crm/developer/docs/api/v8/token-validity.html>,
//! <https://www.zoho.com/accounts/protocol/oauth/token-limits.html>).
//!
//! One file per accounts server (data centre) and client id, `zoho-<server>-<client id>.json`, in
//! `$XDG_CACHE_HOME/provision/` (else `~/.cache/provision/`). It holds the access token, its expiry,
//! the account's API domain and scopes, and a short fingerprint (16 hex digits of SHA-256) of the
//! client secret and refresh token it came from, so that other credentials (another user's
//! refresh token, a new secret) do not reuse it. It never holds the refresh token or the client
//! secret. The directory is created with mode 0700 and the file with 0600, written to a temporary
//! file and renamed over the old one; a file that cannot be read or parsed, is readable by others,
//! belongs to other credentials or expires within the reuse margin is ignored. Failing to write it
//! only costs a refresh next time. docs/profile.md tells users what is stored where.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use super::zoho::ZohoToken;
use crate::profile::ZohoSettings;

/// The file format; a file of another version is ignored.
const VERSION: u32 = 1;

/// Where cached tokens live; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCache {
    dir: PathBuf,
}

/// One cached token, as stored.
#[derive(Serialize, Deserialize)]
struct Entry {
    version: u32,
    accounts_url: String,
    client_id: String,
    credentials_fingerprint: String,
    access_token: String,
    api_domain: Option<String>,
    scope: Vec<String>,
    /// Unix seconds.
    expires_at: u64,
}

impl TokenCache {
    /// The cache in `dir` (created on the first write).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The user's cache: `$XDG_CACHE_HOME/provision` when that is an absolute path, else
    /// `$HOME/.cache/provision`; `None` when neither is set.
    pub fn for_user() -> Option<Self> {
        let absolute = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let base =
            absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|h| h.join(".cache")))?;
        Some(Self::in_dir(base.join("provision")))
    }

    /// The file for these settings' accounts server and client id.
    pub fn path(&self, settings: &ZohoSettings) -> PathBuf {
        let server = settings.accounts_url.host_str().unwrap_or("unknown");
        let port = settings
            .accounts_url
            .port()
            .map(|p| format!("_{p}"))
            .unwrap_or_default();
        let path = settings.accounts_url.path().trim_matches('/');
        let name = [
            "zoho",
            &format!("{server}{port}"),
            path,
            &settings.client_id,
        ]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
        let name: String = name
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
                _ => '_',
            })
            .collect();
        self.dir.join(format!("{name}.json"))
    }

    /// The cached token for `settings`, when there is one that stays valid for at least `margin`.
    pub fn load(&self, settings: &ZohoSettings, margin: Duration) -> Option<(ZohoToken, Duration)> {
        let path = self.path(settings);
        let text = read_private(&path)?;
        let entry: Entry = serde_json::from_str(&text).ok()?;
        let matches = entry.version == VERSION
            && entry.accounts_url == settings.accounts_url.as_str()
            && entry.client_id == settings.client_id
            && entry.credentials_fingerprint == fingerprint(settings);
        if !matches {
            return None;
        }
        let left = Duration::from_secs(entry.expires_at.checked_sub(unix_now())?);
        if left <= margin {
            return None;
        }
        let api_domain = match entry.api_domain {
            Some(domain) => Some(Url::parse(&domain).ok()?),
            None => None,
        };
        tracing::debug!(path = %path.display(), "reusing the cached Zoho access token");
        let token = ZohoToken {
            access_token: SecretString::from(entry.access_token),
            refresh_token: None,
            api_domain,
            expires_in: left,
            scope: entry.scope,
            from_cache: true,
        };
        Some((token, left))
    }

    /// Stores `token` for `settings`; a failure is logged and otherwise ignored.
    pub fn store(&self, settings: &ZohoSettings, token: &ZohoToken) {
        let entry = Entry {
            version: VERSION,
            accounts_url: settings.accounts_url.to_string(),
            client_id: settings.client_id.clone(),
            credentials_fingerprint: fingerprint(settings),
            access_token: token.access_token.expose_secret().to_owned(),
            api_domain: token.api_domain.as_ref().map(Url::to_string),
            scope: token.scope.clone(),
            expires_at: unix_now() + token.expires_in.as_secs(),
        };
        let path = self.path(settings);
        if let Err(e) = self.write(&path, &entry) {
            tracing::debug!(path = %path.display(), error = %e, "could not cache the Zoho access token");
        }
    }

    /// Deletes the cached token for `settings` (Zoho rejected it).
    pub fn remove(&self, settings: &ZohoSettings) {
        let path = self.path(settings);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                tracing::debug!(path = %path.display(), "dropped the cached Zoho access token")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "could not drop the cached Zoho access token")
            }
        }
    }

    fn write(&self, path: &Path, entry: &Entry) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        let text = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("zoho");
        let temp = self.dir.join(format!(
            ".{file_name}.{}.{}.tmp",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let written = (|| {
            let mut file = create_private_file(&temp)?;
            file.write_all(&text)?;
            file.sync_all()?;
            std::fs::rename(&temp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written
    }
}

/// 16 hex digits of the SHA-256 of the client secret and refresh token: tells credentials apart,
/// reveals nothing usable.
fn fingerprint(settings: &ZohoSettings) -> String {
    let mut hasher = Sha256::new();
    hasher.update(settings.client_secret.expose_secret().as_bytes());
    hasher.update(b"\n");
    hasher.update(settings.refresh_token.expose_secret().as_bytes());
    let digest = hasher.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The file's text, unless it cannot be read or others may read it.
fn read_private(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        if meta.mode() & 0o077 != 0 {
            tracing::debug!(path = %path.display(), "ignoring the cached Zoho token: others may read the file");
            return None;
        }
    }
    std::fs::read_to_string(path).ok()
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(accounts_url: &str, refresh_token: &str) -> ZohoSettings {
        ZohoSettings {
            region: None,
            client_id: "1000.ABC".into(),
            client_secret: SecretString::from("the-client-secret"),
            refresh_token: SecretString::from(refresh_token.to_owned()),
            accounts_url: Url::parse(accounts_url).expect("url"),
            api_url: Url::parse("https://www.zohoapis.eu").expect("url"),
        }
    }

    fn token(lifetime: Duration) -> ZohoToken {
        ZohoToken {
            access_token: SecretString::from("1000.access"),
            refresh_token: None,
            api_domain: Some(Url::parse("https://www.zohoapis.eu").expect("url")),
            expires_in: lifetime,
            scope: vec!["ZohoCRM.settings.modules.READ".into()],
            from_cache: false,
        }
    }

    #[test]
    fn one_file_per_accounts_server_and_client() {
        let cache = TokenCache::in_dir("/c");
        let eu = settings("https://accounts.zoho.eu", "1000.r");
        assert_eq!(
            cache.path(&eu),
            PathBuf::from("/c/zoho-accounts.zoho.eu-1000.ABC.json")
        );
        let local = settings("http://127.0.0.1:8080/dc/eu", "1000.r");
        assert_eq!(
            cache.path(&local),
            PathBuf::from("/c/zoho-127.0.0.1_8080-dc_eu-1000.ABC.json")
        );
    }

    #[test]
    fn a_token_is_reused_only_by_the_same_credentials_and_while_it_lasts() {
        let dir = tempfile::tempdir().expect("dir");
        let cache = TokenCache::in_dir(dir.path().join("provision"));
        let eu = settings("https://accounts.zoho.eu", "1000.refresh-secret");
        let margin = Duration::from_secs(300);
        cache.store(&eu, &token(Duration::from_secs(3600)));

        let (found, left) = cache.load(&eu, margin).expect("cached");
        assert_eq!(found.access_token.expose_secret(), "1000.access");
        assert!(found.from_cache);
        assert_eq!(found.api_domain, token(left).api_domain);
        assert!(left > Duration::from_secs(3590), "{left:?}");

        let text = std::fs::read_to_string(cache.path(&eu)).expect("file");
        assert!(!text.contains("1000.refresh-secret") && !text.contains("the-client-secret"));

        assert!(cache
            .load(&settings("https://accounts.zoho.eu", "1000.other"), margin)
            .is_none());
        let mut other_secret = eu.clone();
        other_secret.client_secret = SecretString::from("rotated");
        assert!(cache.load(&other_secret, margin).is_none());

        // Expiring within the margin: ask Zoho again.
        cache.store(&eu, &token(Duration::from_secs(200)));
        assert!(cache.load(&eu, margin).is_none());

        cache.remove(&eu);
        assert!(!cache.path(&eu).exists());
        cache.remove(&eu);
    }
}
