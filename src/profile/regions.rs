//! Zoho's data centres: their names and their accounts and API servers.

use std::fmt;

use url::Url;

/// Zoho data centres (docs/zoho-oauth.md#data-centres).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZohoRegion {
    Us,
    Eu,
    In,
    Au,
    Jp,
    Cn,
    Ca,
    Sa,
    Uk,
}

impl ZohoRegion {
    pub const ALL: [ZohoRegion; 9] = [
        ZohoRegion::Us,
        ZohoRegion::Eu,
        ZohoRegion::In,
        ZohoRegion::Au,
        ZohoRegion::Jp,
        ZohoRegion::Cn,
        ZohoRegion::Ca,
        ZohoRegion::Sa,
        ZohoRegion::Uk,
    ];

    /// The `location` name Zoho uses, e.g. `eu`.
    pub fn as_str(self) -> &'static str {
        match self {
            ZohoRegion::Us => "us",
            ZohoRegion::Eu => "eu",
            ZohoRegion::In => "in",
            ZohoRegion::Au => "au",
            ZohoRegion::Jp => "jp",
            ZohoRegion::Cn => "cn",
            ZohoRegion::Ca => "ca",
            ZohoRegion::Sa => "sa",
            ZohoRegion::Uk => "uk",
        }
    }

    /// The data centre's accounts server (OAuth token endpoint host).
    pub fn accounts_url(self) -> &'static str {
        match self {
            ZohoRegion::Us => "https://accounts.zoho.com",
            ZohoRegion::Eu => "https://accounts.zoho.eu",
            ZohoRegion::In => "https://accounts.zoho.in",
            ZohoRegion::Au => "https://accounts.zoho.com.au",
            ZohoRegion::Jp => "https://accounts.zoho.jp",
            ZohoRegion::Cn => "https://accounts.zoho.com.cn",
            // Canada's accounts server is on zohocloud.ca, not zoho.ca (docs/zoho-oauth.md#data-centres).
            ZohoRegion::Ca => "https://accounts.zohocloud.ca",
            ZohoRegion::Sa => "https://accounts.zoho.sa",
            ZohoRegion::Uk => "https://accounts.zoho.uk",
        }
    }

    /// The data centre's production CRM API domain. Zoho's token response names the real one.
    pub fn api_url(self) -> &'static str {
        match self {
            ZohoRegion::Us => "https://www.zohoapis.com",
            ZohoRegion::Eu => "https://www.zohoapis.eu",
            ZohoRegion::In => "https://www.zohoapis.in",
            ZohoRegion::Au => "https://www.zohoapis.com.au",
            ZohoRegion::Jp => "https://www.zohoapis.jp",
            ZohoRegion::Cn => "https://www.zohoapis.com.cn",
            ZohoRegion::Ca => "https://www.zohoapis.ca",
            ZohoRegion::Sa => "https://www.zohoapis.sa",
            ZohoRegion::Uk => "https://www.zohoapis.uk",
        }
    }

    /// Parses a region name, ignoring case.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The region whose accounts server is at `url`'s host, if any.
    pub fn from_accounts_url(url: &Url) -> Option<Self> {
        let host = url.host_str()?;
        Self::ALL.into_iter().find(|r| {
            Url::parse(r.accounts_url())
                .ok()
                .and_then(|u| u.host_str().map(|h| h.eq_ignore_ascii_case(host)))
                .unwrap_or(false)
        })
    }

    /// `us, eu, in, ...` for messages.
    pub fn list() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl fmt::Display for ZohoRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ZohoRegion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| {
            format!(
                "unknown Zoho data centre `{s}`; valid ones are {}",
                Self::list()
            )
        })
    }
}
