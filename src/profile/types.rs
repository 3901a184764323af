//! The resolved, typed profile the commands use, and the constants its defaults come from.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use url::Url;

use super::regions::ZohoRegion;

/// A snapshot of environment variables, so that loading can be tested without touching the process.
pub type Env = HashMap<String, String>;

/// Where a profile is looked for when no path is given and `$PROVISION_PROFILE` is unset.
pub const DEFAULT_PROFILE: &str = "profiles/default.toml";
/// The environment variable naming the profile when no path is given.
pub const PROFILE_ENV: &str = "PROVISION_PROFILE";
/// Default Adobe IMS host (docs/aep-api.md#ims-token).
pub const DEFAULT_IMS_URL: &str = "https://ims-na1.adobelogin.com";
/// Default Adobe Experience Platform API host (docs/aep-api.md#common-conventions).
pub const DEFAULT_PLATFORM_URL: &str = "https://platform.adobe.io";
/// The scopes of an AEP OAuth server-to-server credential (docs/aep-api.md#ims-token).
pub const DEFAULT_SCOPES: [&str; 5] = [
    "openid",
    "AdobeID",
    "read_organizations",
    "additional_info.projectedProductContext",
    "session",
];
/// Every Zoho CRM module has this date-time column; the CRMToAEP Copy transformation needs one.
pub const DEFAULT_DELTA_COLUMN: &str = "Modified_Time";

/// The smallest `interval` the CRMToAEP flow spec accepts for `frequency = "minute"` (docs/aep-api.md#schedule-rules).
pub(super) const MIN_MINUTE_INTERVAL: i64 = 15;

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
    /// The data centre, when given by `region` or recognised from `accounts_url`.
    pub region: Option<ZohoRegion>,
    pub client_id: String,
    pub client_secret: SecretString,
    pub refresh_token: SecretString,
    /// e.g. `https://accounts.zoho.eu`; from the region unless overridden.
    pub accounts_url: Url,
    /// e.g. `https://www.zohoapis.eu`; from the region unless overridden.
    pub api_url: Url,
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
    /// `enabled = false`: the dataflow is kept, disabled (default `true`).
    pub enabled: bool,
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
        /// `auto_unmapped = "skip"`: columns the schema has no `{prefix}.C` field for are
        /// ingested but not mapped; `false` (`"fail"`, the default) stops plan and apply.
        skip_unmapped: bool,
    },
    Explicit(Vec<MappingRule>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRule {
    pub source: String,
    pub destination: String,
}

/// A dataflow schedule, checked against the CRMToAEP flow spec's rules (docs/aep-api.md#schedule-rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub frequency: Frequency,
    /// Absent for `once`; >= 15 for `minute`, >= 1 otherwise.
    pub interval: Option<u32>,
    pub start: DateTime<Utc>,
    /// Absent for `once`; `true` (the flow spec's default) unless the profile says otherwise.
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
    pub const ALL: [Frequency; 5] = [
        Frequency::Once,
        Frequency::Minute,
        Frequency::Hour,
        Frequency::Day,
        Frequency::Week,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Once => "once",
            Frequency::Minute => "minute",
            Frequency::Hour => "hour",
            Frequency::Day => "day",
            Frequency::Week => "week",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// An invalid profile (exit 78). The message names the file, the line/column where known, and the
/// key; when several problems were found, it has one line per problem.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProfileError {
    pub message: String,
}

/// What `provision zoho token` must find in the profile: it runs before the user has a refresh
/// token, so `zoho.refresh_token` and every other section are never resolved (an unset
/// `${ZOHO_REFRESH_TOKEN}` is fine), while the whole file is still checked for syntax and
/// unknown keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZohoClientNeeds {
    /// `zoho.client_id` must be present (no `--client-id`).
    pub client_id: bool,
    /// `zoho.client_secret` is resolved (and must be present) only when this is set: with
    /// `--client-secret-env`, the profile's secret is not read at all.
    pub client_secret: bool,
    /// `zoho.region` or `zoho.accounts_url` must be present (no data centre from the flags or
    /// the pasted redirect URL).
    pub data_centre: bool,
}

/// The Zoho client settings of a profile, without the refresh token. Keys that are present are
/// always checked; keys that are absent are problems only when [`ZohoClientNeeds`] asks for them.
#[derive(Debug, Clone)]
pub struct ZohoClientSettings {
    /// The file they were read from.
    pub path: PathBuf,
    pub region: Option<ZohoRegion>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub accounts_url: Option<Url>,
    pub api_url: Option<Url>,
}
