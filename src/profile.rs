//! The profile (contract §3): its schema, loading (file, `${VAR}`, `PROVISION_<SECTION>__<KEY>`),
//! validation and the resolved, typed form the commands use. The only module that reads the
//! environment for configuration.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use url::Url;

/// A loaded, validated profile. Every default is resolved; every `[[dataflows]]` entry has its
/// `[defaults]` applied.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The file it was read from (shown in messages and JSON output).
    pub path: PathBuf,
    pub adobe: AdobeSettings,
    pub zoho: ZohoSettings,
    pub connection: ConnectionSettings,
    pub dataflows: Vec<Dataflow>,
}

#[derive(Debug, Clone)]
pub struct AdobeSettings {
    pub org_id: String,
    pub sandbox: String,
    /// Also sent as `x-api-key`.
    pub client_id: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
    /// Default `https://ims-na1.adobelogin.com`.
    pub ims_url: Url,
    /// Default `https://platform.adobe.io`.
    pub platform_url: Url,
}

#[derive(Debug, Clone)]
pub struct ZohoSettings {
    /// The data centre, when given by `region` (absent when only `accounts_url` was set).
    pub region: Option<ZohoRegion>,
    pub client_id: String,
    pub client_secret: SecretString,
    pub refresh_token: SecretString,
    /// e.g. `https://accounts.zoho.eu`; from the region unless overridden.
    pub accounts_url: Url,
    /// e.g. `https://www.zohoapis.eu`; from the region unless overridden.
    pub api_url: Url,
}

/// Zoho data centres (zoho-oauth.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Base connection name, and the prefix of every managed resource's name.
    pub name: String,
    pub description: Option<String>,
}

/// One `[[dataflows]]` entry with `[defaults]` applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataflow {
    /// The explore `path` of the Zoho module, e.g. `Leads`.
    pub module: String,
    pub dataset: DatasetTarget,
    pub delta_column: String,
    /// Target XDM schema `$id`.
    pub schema_id: String,
    pub mapping: Mapping,
    pub schedule: Schedule,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DatasetTarget {
    /// `{ create = true, name = "..." }`: provision creates (and owns) the dataset.
    Create { name: String },
    /// `{ id = "..." }`: an existing dataset, never modified or deleted.
    Existing { id: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mapping {
    /// `mapping = "auto"`: one attribute mapping per explored column: `<column>` -> `{prefix}.<column>`.
    Auto {
        prefix: String,
    },
    Explicit(Vec<MappingRule>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRule {
    pub source: String,
    pub destination: String,
}

/// A dataflow schedule, checked against the CRMToAEP flow spec's rules (reference §9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub frequency: Frequency,
    /// Absent for `once`; >= 15 for `minute`, >= 1 otherwise.
    pub interval: Option<u32>,
    pub start: DateTime<Utc>,
    /// Absent for `once`.
    pub backfill: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Once,
    Minute,
    Hour,
    Day,
    Week,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Once => "once",
            Frequency::Minute => "minute",
            Frequency::Hour => "hour",
            Frequency::Day => "day",
            Frequency::Week => "week",
        }
    }
}

/// An invalid profile (exit 78). The message names the file, the line/column where known, and the key.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProfileError {
    pub message: String,
}

/// Loads and validates the profile at `path`, or at `$PROVISION_PROFILE`, or `profiles/default.toml`.
pub fn load(path: Option<&std::path::Path>) -> Result<Profile, ProfileError> {
    let _ = path;
    Err(ProfileError {
        message: "profile loading is not implemented yet".into(),
    })
}
