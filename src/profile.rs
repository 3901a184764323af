//! The profile (docs/profile.md): its schema, loading (file, `${VAR}`, `PROVISION_<SECTION>__<KEY>`),
//! validation and the resolved, typed form the commands use. The only module that reads the
//! environment for configuration.
//!
//! Loading happens in four steps, all before any request is sent:
//! 1. the file is parsed with `toml`'s spanned parser, so that syntax errors carry a line and column;
//! 2. every key and value type is checked against [`ROOT`] (unknown keys get the nearest valid key
//!    suggested), and every `PROVISION_*__*` override is checked the same way;
//! 3. the `config` crate layers the overrides over the file and deserializes the result;
//! 4. `${VAR}` is interpolated and every value is checked (URLs, region, schedule rules, ...).
//!
//! Every problem found is reported at once, each with the file, line and column (or the environment
//! variable) it came from and the key it concerns. Values of secret keys are never echoed.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

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

const ENV_PREFIX: &str = "PROVISION_";
/// The smallest `interval` the CRMToAEP flow spec accepts for `frequency = "minute"` (docs/aep-api.md#schedule-rules).
const MIN_MINUTE_INTERVAL: i64 = 15;

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

/// Loads and validates the profile at `path`, or at `$PROVISION_PROFILE`, or `profiles/default.toml`,
/// with `${VAR}` and `PROVISION_<SECTION>__<KEY>` taken from the process environment.
pub fn load(path: Option<&Path>) -> Result<Profile, ProfileError> {
    load_with_env(path, &process_env())
}

/// [`load`] with an explicit environment (for tests and embedding).
pub fn load_with_env(path: Option<&Path>, env: &Env) -> Result<Profile, ProfileError> {
    let (path, text) = read(path, env)?;
    parse_with(&text, &path, env, file_mode(&path))
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

/// The profile `provision zoho token` reads, if any: the given path or `$PROVISION_PROFILE` (both
/// must exist), else `profiles/default.toml` only when that file exists.
pub fn zoho_client_profile(explicit: Option<&Path>, env: &Env) -> Option<PathBuf> {
    let (path, origin) = resolve_path(explicit, env);
    let optional = origin == DEFAULT_ORIGIN;
    (!optional || path.is_file()).then_some(path)
}

/// Loads only the `[zoho]` client settings of the profile at `path` (see [`ZohoClientNeeds`]),
/// with the same `${VAR}`, override and error-position rules as [`load`].
pub fn load_zoho_client(
    path: &Path,
    env: &Env,
    needs: ZohoClientNeeds,
) -> Result<ZohoClientSettings, ProfileError> {
    let (path, text) = read(Some(path), env)?;
    let mode = file_mode(&path);
    resolve_with(&text, &path, env, mode, |resolve, raw| {
        resolve.zoho_client(raw.zoho, needs, &path)
    })
}

/// The process environment, for [`load_zoho_client`] and the other `*_with_env` functions.
pub fn process_env() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// A secret held in the environment variable `var` (e.g. named by `--client-secret-env`).
pub fn secret_from_env(env: &Env, var: &str) -> Result<SecretString, String> {
    match env.get(var) {
        Some(value) if !value.trim().is_empty() => Ok(SecretString::from(value.clone())),
        Some(_) => Err(format!(
            "environment variable {var} is empty; export {var}=..."
        )),
        None => Err(format!(
            "environment variable {var} is not set (or not UTF-8); export {var}=... first"
        )),
    }
}

fn read(path: Option<&Path>, env: &Env) -> Result<(PathBuf, String), ProfileError> {
    let (path, origin) = resolve_path(path, env);
    let bytes = std::fs::read(&path).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_owned(),
            _ => format!("cannot be read ({e})"),
        };
        ProfileError {
            message: format!(
                "profile {} {what} (it was {origin}); pass a profile path, set {PROFILE_ENV}, \
                 or start from profiles/example.toml",
                path.display()
            ),
        }
    })?;
    let text = String::from_utf8(bytes).map_err(|e| ProfileError {
        message: format!(
            "{}: the profile is not valid UTF-8 (byte {}); save it as UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        ),
    })?;
    Ok((path, text))
}

/// Parses and validates profile text as if it had been read from `path` (which is only used in
/// messages). Never panics, whatever the input.
pub fn parse(text: &str, path: &Path, env: &Env) -> Result<Profile, ProfileError> {
    parse_with(text, path, env, None)
}

/// The profile path to use, and how it was chosen (for messages).
pub fn resolve_path(explicit: Option<&Path>, env: &Env) -> (PathBuf, &'static str) {
    if let Some(path) = explicit {
        return (path.to_owned(), "given on the command line");
    }
    match env.get(PROFILE_ENV) {
        Some(path) if !path.is_empty() => (PathBuf::from(path), "named by $PROVISION_PROFILE"),
        _ => (PathBuf::from(DEFAULT_PROFILE), DEFAULT_ORIGIN),
    }
}

const DEFAULT_ORIGIN: &str = "the default profile path";

#[cfg(unix)]
fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn file_mode(_path: &Path) -> Option<u32> {
    None
}

// ---------------------------------------------------------------------------------------------
// The schema: every key the profile accepts, in one place.

#[derive(Clone, Copy)]
enum Kind {
    Str,
    /// A string whose value is never echoed in messages.
    Secret,
    Int,
    Bool,
    /// An array of strings (or, from the environment, a comma-separated list).
    StrList,
    /// An RFC 3339 string or a TOML offset date-time.
    Timestamp,
    Table(&'static [Field]),
    /// `"auto"` or an array of `{ source, destination }` tables.
    Mapping,
    /// An array of tables (`[[dataflows]]`).
    Tables(&'static [Field]),
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Str | Kind::Secret => "a string",
            Kind::Int => "a whole number",
            Kind::Bool => "true or false",
            Kind::StrList => "an array of strings",
            Kind::Timestamp => "an RFC 3339 date-time such as \"2026-12-01T00:00:00Z\"",
            Kind::Table(_) => "a table",
            Kind::Mapping => "\"auto\" or an array of { source = \"...\", destination = \"...\" }",
            Kind::Tables(_) => "an array of tables ([[...]])",
        }
    }
}

#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    kind: Kind,
}

const fn field(name: &'static str, kind: Kind) -> Field {
    Field { name, kind }
}

const ADOBE: &[Field] = &[
    field("org_id", Kind::Str),
    field("sandbox", Kind::Str),
    field("client_id", Kind::Str),
    field("client_secret", Kind::Secret),
    field("scopes", Kind::StrList),
    field("ims_url", Kind::Str),
    field("platform_url", Kind::Str),
];
const ZOHO: &[Field] = &[
    field("region", Kind::Str),
    field("client_id", Kind::Str),
    field("client_secret", Kind::Secret),
    field("refresh_token", Kind::Secret),
    field("accounts_url", Kind::Str),
    field("api_url", Kind::Str),
];
const CONNECTION: &[Field] = &[field("name", Kind::Str), field("description", Kind::Str)];
const SCHEDULE: &[Field] = &[
    field("frequency", Kind::Str),
    field("interval", Kind::Int),
    field("start", Kind::Timestamp),
    field("backfill", Kind::Bool),
];
const DEFAULTS: &[Field] = &[
    field("schema_id", Kind::Str),
    field("mapping_prefix", Kind::Str),
    field("delta_column", Kind::Str),
    field("schedule", Kind::Table(SCHEDULE)),
];
const DATASET: &[Field] = &[
    field("create", Kind::Bool),
    field("name", Kind::Str),
    field("id", Kind::Str),
];
const RULE: &[Field] = &[field("source", Kind::Str), field("destination", Kind::Str)];
const DATAFLOW: &[Field] = &[
    field("module", Kind::Str),
    field("dataset", Kind::Table(DATASET)),
    field("delta_column", Kind::Str),
    field("schema_id", Kind::Str),
    field("mapping_prefix", Kind::Str),
    field("mapping", Kind::Mapping),
    field("schedule", Kind::Table(SCHEDULE)),
];
const ROOT: &[Field] = &[
    field("adobe", Kind::Table(ADOBE)),
    field("zoho", Kind::Table(ZOHO)),
    field("connection", Kind::Table(CONNECTION)),
    field("defaults", Kind::Table(DEFAULTS)),
    field("dataflows", Kind::Tables(DATAFLOW)),
];

// ---------------------------------------------------------------------------------------------
// Problems and where they come from.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Pos {
    line: usize,
    column: usize,
}

#[derive(Debug, Clone)]
enum At {
    File(Pos),
    /// The value came from this environment variable.
    Env(String),
    /// Only the file is known (e.g. a missing section).
    Nowhere,
}

#[derive(Debug)]
struct Problem {
    key: String,
    at: At,
    message: String,
}

/// Where each key's value came from: a file position or an environment variable.
#[derive(Default)]
struct Sites {
    file: HashMap<String, Pos>,
    env: HashMap<String, String>,
}

impl Sites {
    /// The origin of `key`, else of its nearest ancestor that has one.
    fn at(&self, key: &str) -> At {
        let mut key = key;
        loop {
            if let Some(var) = self.env.get(key) {
                return At::Env(var.clone());
            }
            if let Some(pos) = self.file.get(key) {
                return At::File(*pos);
            }
            match key.rfind(['.', '[']) {
                Some(i) => key = &key[..i],
                None => return At::Nowhere,
            }
        }
    }
}

struct Report<'a> {
    path: &'a Path,
    problems: Vec<Problem>,
}

impl Report<'_> {
    fn add(&mut self, key: &str, at: At, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.to_owned(),
            at,
            message: message.into(),
        });
    }

    fn into_error(mut self) -> ProfileError {
        self.problems.sort_by_key(|p| match &p.at {
            At::File(pos) => (0, *pos, String::new()),
            At::Env(var) => (1, Pos { line: 0, column: 0 }, var.clone()),
            At::Nowhere => (2, Pos { line: 0, column: 0 }, p.key.clone()),
        });
        let file = self.path.display();
        let lines: Vec<String> = self
            .problems
            .iter()
            .map(|p| {
                let key = if p.key.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", p.key)
                };
                match &p.at {
                    At::File(pos) => {
                        format!("{file}:{}:{}: {key}{}", pos.line, pos.column, p.message)
                    }
                    At::Env(var) => format!("{var}: {key}{}", p.message),
                    At::Nowhere => format!("{file}: {key}{}", p.message),
                }
            })
            .collect();
        let mut message = lines.join("\n");
        if lines.len() > 1 {
            message = format!("{} problems in profile {file}:\n{message}", lines.len());
        }
        ProfileError { message }
    }
}

/// Byte offsets at which the lines of `text` start, for [`position`].
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The line and column of byte `offset`. A position is taken for every key and value, so the
/// line is found by binary search in `starts` ([`line_starts`]) rather than by counting lines
/// from the top each time, which made a 200-module profile cost a tenth of a second.
fn position(text: &str, starts: &[usize], offset: usize) -> Pos {
    let offset = offset.min(text.len());
    let mut start = offset;
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let line = starts.partition_point(|&s| s <= start).max(1);
    let line_start = starts.get(line - 1).copied().unwrap_or(0).min(start);
    let column = text[line_start..start].chars().count() + 1;
    Pos { line, column }
}

/// The valid key closest to `unknown`, if one is close enough to be a likely typo.
fn nearest<'a>(unknown: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = unknown.to_ascii_lowercase();
    candidates
        .map(|c| {
            let score = if c == lower {
                1.0
            } else if c.contains(&lower) && lower.len() >= 3 || lower.contains(c) {
                0.9
            } else {
                strsim::jaro_winkler(&lower, c)
            };
            (c, score)
        })
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

fn unknown_key_message(name: &str, section: &str, fields: &[Field]) -> String {
    let valid = fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ");
    let place = if section.is_empty() {
        "at the top level".to_owned()
    } else {
        format!("in {section}")
    };
    match nearest(name, fields.iter().map(|f| f.name)) {
        Some(near) => {
            format!("unknown key `{name}`; did you mean `{near}`? (valid keys {place}: {valid})")
        }
        None => format!("unknown key `{name}` (valid keys {place}: {valid})"),
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// `[adobe]`, `[defaults.schedule]`, `[[dataflows]]` entry 2 ... for messages.
fn section_label(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else if let Some(rest) = prefix.strip_prefix("dataflows[") {
        let index = rest.split(']').next().unwrap_or("");
        let tail = rest
            .split_once("].")
            .map(|(_, t)| format!(" ({t})"))
            .unwrap_or_default();
        format!("[[dataflows]] entry {index}{tail}")
    } else {
        format!("[{prefix}]")
    }
}

// ---------------------------------------------------------------------------------------------
// Step 2: keys and types, on the spanned document and on the environment overrides.

struct Walk<'a> {
    text: &'a str,
    lines: Vec<usize>,
    sites: Sites,
    report: Report<'a>,
}

impl Walk<'_> {
    fn pos(&self, span: std::ops::Range<usize>) -> At {
        At::File(position(self.text, &self.lines, span.start))
    }

    fn table(&mut self, prefix: &str, table: &toml::de::DeTable<'_>, fields: &[Field]) {
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let path = join(prefix, name);
            let at = self.pos(key.span());
            match fields.iter().find(|f| f.name == name) {
                None => {
                    let message = unknown_key_message(name, &section_label(prefix), fields);
                    self.report.add(&path, at, message);
                }
                Some(f) => {
                    if let At::File(pos) = at {
                        self.sites.file.insert(path.clone(), pos);
                    }
                    self.value(&path, value, f.kind);
                }
            }
        }
    }

    fn value(&mut self, path: &str, value: &toml::Spanned<toml::de::DeValue<'_>>, kind: Kind) {
        use toml::de::DeValue as V;
        let at = self.pos(value.span());
        match (kind, value.get_ref()) {
            (Kind::Str | Kind::Secret, V::String(_)) => {}
            (Kind::Bool, V::Boolean(_)) => {}
            (Kind::Timestamp, V::String(_) | V::Datetime(_)) => {}
            (Kind::Int, V::Integer(i)) => {
                if i64::from_str_radix(i.as_str(), i.radix()).is_err() {
                    self.report.add(path, at, "the number is too large");
                }
            }
            (Kind::StrList, V::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if !matches!(item.get_ref(), V::String(_)) {
                        let at = self.pos(item.span());
                        let message =
                            format!("expected a string, found {}", item.get_ref().type_str());
                        self.report.add(&format!("{path}[{i}]"), at, message);
                    }
                }
            }
            (Kind::Table(fields), V::Table(table)) => self.table(path, table, fields),
            (Kind::Mapping, V::String(_)) => {}
            (Kind::Mapping, V::Array(items)) => self.tables(path, items, RULE),
            (Kind::Tables(fields), V::Array(items)) => self.tables(path, items, fields),
            (kind, other) => {
                let message = format!("expected {}, found {}", kind.describe(), other.type_str());
                self.report.add(path, at, message);
            }
        }
    }

    fn tables(&mut self, path: &str, items: &toml::de::DeArray<'_>, fields: &[Field]) {
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let at = self.pos(item.span());
            if let At::File(pos) = at {
                self.sites.file.insert(item_path.clone(), pos);
            }
            match item.get_ref() {
                toml::de::DeValue::Table(table) => self.table(&item_path, table, fields),
                other => {
                    let message = format!("expected a table, found {}", other.type_str());
                    self.report.add(&item_path, at, message);
                }
            }
        }
    }

    /// Checks every `PROVISION_<SECTION>__<KEY>` variable against the schema; returns the valid ones.
    fn env_overrides(&mut self, env: &Env) -> BTreeMap<String, String> {
        let mut valid = BTreeMap::new();
        let mut vars: Vec<_> = env.iter().collect();
        vars.sort();
        for (var, value) in vars {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if var == PROFILE_ENV {
                continue;
            }
            let rest = rest.to_ascii_lowercase();
            if !rest.contains("__") {
                // Not an override (e.g. some other PROVISION_* setting), unless it looks like a
                // section-qualified key written with a single underscore.
                if let Some(section) = ROOT
                    .iter()
                    .find(|f| rest.starts_with(&format!("{}_", f.name)))
                {
                    let key = &rest[section.name.len() + 1..];
                    let message = format!(
                        "not a valid override: separate the section from the key with two \
                         underscores, e.g. {ENV_PREFIX}{}__{}",
                        section.name.to_ascii_uppercase(),
                        key.to_ascii_uppercase()
                    );
                    self.report.add(&rest, At::Env(var.clone()), message);
                }
                continue;
            }
            let segments: Vec<&str> = rest.split("__").collect();
            if let Some(path) = self.env_key(var, &segments, value) {
                self.sites.env.insert(path, var.clone());
                valid.insert(var.clone(), value.clone());
            }
        }
        valid
    }

    fn env_key(&mut self, var: &str, segments: &[&str], value: &str) -> Option<String> {
        let mut fields = ROOT;
        let mut path = String::new();
        for (i, segment) in segments.iter().enumerate() {
            let section = section_label(&path);
            let candidate = join(&path, segment);
            let Some(f) = fields.iter().find(|f| f.name == *segment) else {
                let message = unknown_key_message(segment, &section, fields);
                self.report
                    .add(&candidate, At::Env(var.to_owned()), message);
                return None;
            };
            path = candidate;
            let last = i + 1 == segments.len();
            match (f.kind, last) {
                (Kind::Table(inner), false) => fields = inner,
                (Kind::Tables(_), _) => {
                    let message =
                        "[[dataflows]] entries cannot be overridden from the environment; \
                                   edit the profile, or use ${VAR} in it";
                    self.report.add(&path, At::Env(var.to_owned()), message);
                    return None;
                }
                (Kind::Table(inner), true) => {
                    let example = inner.first().map_or("KEY", |f| f.name).to_ascii_uppercase();
                    let message = format!(
                        "a table cannot be set from one variable; set its keys one by one, \
                         e.g. {var}__{example}"
                    );
                    self.report.add(&path, At::Env(var.to_owned()), message);
                    return None;
                }
                (kind, true) => {
                    return match check_env_value(kind, value) {
                        Ok(()) => Some(path),
                        Err(message) => {
                            self.report.add(&path, At::Env(var.to_owned()), message);
                            None
                        }
                    };
                }
                (_, false) => {
                    let message = format!(
                        "`{path}` is not a table, so it has no key `{}`",
                        segments[i + 1]
                    );
                    self.report.add(&path, At::Env(var.to_owned()), message);
                    return None;
                }
            }
        }
        None
    }
}

fn check_env_value(kind: Kind, value: &str) -> Result<(), String> {
    match kind {
        Kind::Int => value
            .trim()
            .parse::<i64>()
            .map(|_| ())
            .map_err(|_| format!("expected a whole number, found `{value}`")),
        Kind::Bool => match value.trim() {
            "true" | "false" => Ok(()),
            _ => Err(format!("expected true or false, found `{value}`")),
        },
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Step 3: the layered values, as `config` deserializes them.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default)]
    adobe: RawAdobe,
    #[serde(default)]
    zoho: RawZoho,
    #[serde(default)]
    connection: RawConnection,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    dataflows: Vec<RawDataflow>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAdobe {
    org_id: Option<String>,
    sandbox: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    #[serde(default, deserialize_with = "list_or_csv")]
    scopes: Option<Vec<String>>,
    ims_url: Option<String>,
    platform_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawZoho {
    region: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    refresh_token: Option<SecretString>,
    accounts_url: Option<String>,
    api_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConnection {
    name: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    schema_id: Option<String>,
    mapping_prefix: Option<String>,
    delta_column: Option<String>,
    schedule: Option<RawSchedule>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDataflow {
    module: Option<String>,
    dataset: Option<RawDataset>,
    delta_column: Option<String>,
    schema_id: Option<String>,
    mapping_prefix: Option<String>,
    mapping: Option<RawMapping>,
    schedule: Option<RawSchedule>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    create: Option<bool>,
    name: Option<String>,
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawMapping {
    Keyword(String),
    Rules(Vec<RawRule>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    source: Option<String>,
    destination: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    frequency: Option<String>,
    interval: Option<i64>,
    start: Option<String>,
    backfill: Option<bool>,
}

/// An array of strings from the file, or a comma-separated list from the environment.
fn list_or_csv<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCsv {
        List(Vec<String>),
        Csv(String),
    }
    Ok(Option::<ListOrCsv>::deserialize(d)?.map(|v| match v {
        ListOrCsv::List(list) => list,
        ListOrCsv::Csv(csv) => csv.split(',').map(|s| s.trim().to_owned()).collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// The pipeline.

fn parse_with(
    text: &str,
    path: &Path,
    env: &Env,
    mode: Option<u32>,
) -> Result<Profile, ProfileError> {
    resolve_with(text, path, env, mode, |resolve, raw| {
        resolve.profile(raw, path)
    })
}

/// Steps 1-3 on the whole file, then `resolve` (step 4) on the layered values: only the parts
/// that `resolve` reads are interpolated and checked.
fn resolve_with<T>(
    text: &str,
    path: &Path,
    env: &Env,
    mode: Option<u32>,
    resolve: impl FnOnce(&mut Resolve<'_>, RawProfile) -> Option<T>,
) -> Result<T, ProfileError> {
    let mut walk = Walk {
        text,
        lines: line_starts(text),
        sites: Sites::default(),
        report: Report {
            path,
            problems: Vec::new(),
        },
    };

    if text.trim().is_empty() {
        walk.report.add(
            "",
            At::Nowhere,
            "the profile is empty; start from profiles/example.toml (every key is described in docs/profile.md)",
        );
        return Err(walk.report.into_error());
    }
    let document = match toml::de::DeTable::parse(text) {
        Ok(document) => document,
        Err(e) => {
            let at = e.span().map_or(At::Nowhere, |s| walk.pos(s));
            // `e.message()` only: the full `Display` quotes the source line, which may hold a secret.
            let message = format!(
                "TOML syntax error: {}; fix the file (see profiles/example.toml)",
                e.message().trim_end()
            );
            walk.report.add("", at, message);
            return Err(walk.report.into_error());
        }
    };
    walk.table("", document.get_ref(), ROOT);
    let overrides = walk.env_overrides(env);
    if let Some(mode) = mode {
        literal_secrets(&mut walk, document.get_ref(), mode);
    }
    if !walk.report.problems.is_empty() {
        return Err(walk.report.into_error());
    }

    let raw = match layer(text, overrides) {
        Ok(raw) => raw,
        Err(e) => {
            // The walk above rejects what `config` would; this is a last resort, scrubbed of values.
            let message = format!("could not read the profile: {}", scrub(&e.to_string(), env));
            walk.report.add("", At::Nowhere, message);
            return Err(walk.report.into_error());
        }
    };

    let mut resolver = Resolve {
        env,
        sites: &walk.sites,
        report: walk.report,
    };
    match resolve(&mut resolver, raw) {
        Some(value) if resolver.report.problems.is_empty() => Ok(value),
        _ => Err(resolver.report.into_error()),
    }
}

/// File, then environment, through `config`.
fn layer(
    text: &str,
    overrides: BTreeMap<String, String>,
) -> Result<RawProfile, config::ConfigError> {
    let source: config::Map<String, String> = overrides.into_iter().collect();
    config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix("PROVISION")
                .prefix_separator("_")
                .separator("__")
                .source(Some(source)),
        )
        .build()?
        .try_deserialize()
}

/// Removes the values of `PROVISION_*` variables from a message, in case a library quoted one.
fn scrub(message: &str, env: &Env) -> String {
    let mut out = message.to_owned();
    for (var, value) in env {
        if var.starts_with(ENV_PREFIX) && value.len() >= 4 {
            out = out.replace(value.as_str(), "[REDACTED]");
        }
    }
    out
}

/// A secret written literally (not as `${VAR}`) is only acceptable in a file no one else can read.
fn literal_secrets(walk: &mut Walk<'_>, document: &toml::de::DeTable<'_>, mode: u32) {
    if mode & 0o077 == 0 {
        return;
    }
    for (section, fields) in [("adobe", ADOBE), ("zoho", ZOHO)] {
        let Some(table) = document.get(section).and_then(|v| v.get_ref().as_table()) else {
            continue;
        };
        for f in fields.iter().filter(|f| matches!(f.kind, Kind::Secret)) {
            let key = join(section, f.name);
            if walk.sites.env.contains_key(&key) {
                continue;
            }
            let Some(value) = table.get(f.name) else {
                continue;
            };
            if value.get_ref().as_str().is_some_and(|s| !s.contains("${")) {
                let at = walk.pos(value.span());
                let message = format!(
                    "a secret is written literally in a file that others can read (mode {mode:04o}); \
                     use \"${{VAR}}\" and export VAR, set {ENV_PREFIX}{}__{}, or chmod 600 the file",
                    section.to_ascii_uppercase(),
                    f.name.to_ascii_uppercase()
                );
                walk.report.add(&key, at, message);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Step 4: interpolation, defaults and value checks.

struct Resolve<'a> {
    env: &'a Env,
    sites: &'a Sites,
    report: Report<'a>,
}

impl Resolve<'_> {
    fn problem(&mut self, key: &str, message: impl Into<String>) {
        let at = self.sites.at(key);
        self.report.add(key, at, message);
    }

    /// Expands `${VAR}` (and `$$` to `$`); `None` after reporting a problem.
    fn expand(&mut self, key: &str, value: &str, secret: bool) -> Option<String> {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(body) = after.strip_prefix('{') {
                let Some(end) = body.find('}') else {
                    self.problem(
                        key,
                        "unterminated `${`: write ${NAME}, or $$ for a literal $",
                    );
                    return None;
                };
                let name = &body[..end];
                let valid = !name.is_empty()
                    && !name.starts_with(|c: char| c.is_ascii_digit())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    let shown = if secret { "" } else { name };
                    self.problem(
                        key,
                        format!(
                            "`${{{shown}}}` is not a valid variable reference; names are letters, \
                             digits and _ (write $$ for a literal $)"
                        ),
                    );
                    return None;
                }
                match self.env.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        self.problem(
                            key,
                            format!(
                                "environment variable {name} is not set; export {name}=... \
                                 before running provision"
                            ),
                        );
                        return None;
                    }
                }
                rest = &body[end + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        Some(out)
    }

    /// An optional string, interpolated.
    fn text(&mut self, key: &str, value: Option<String>) -> Option<String> {
        let value = value?;
        self.expand(key, &value, false)
    }

    /// A required, non-empty string, interpolated.
    fn required(&mut self, key: &str, value: Option<String>, hint: &str) -> Option<String> {
        match value {
            None => {
                self.problem(key, format!("missing; {hint}"));
                None
            }
            Some(v) => {
                let v = self.expand(key, &v, false)?;
                if v.trim().is_empty() {
                    self.problem(key, format!("must not be empty; {hint}"));
                    return None;
                }
                Some(v)
            }
        }
    }

    fn secret(
        &mut self,
        key: &str,
        value: Option<SecretString>,
        var: &str,
    ) -> Option<SecretString> {
        let hint = format!(
            "set it to \"${{{var}}}\" and export {var}, or set {ENV_PREFIX}{}",
            key.replace('.', "__").to_ascii_uppercase()
        );
        let Some(value) = value else {
            self.problem(key, format!("missing; {hint}"));
            return None;
        };
        let expanded = self.expand(key, value.expose_secret(), true)?;
        if expanded.trim().is_empty() {
            self.problem(key, format!("is empty; {hint}"));
            return None;
        }
        Some(SecretString::from(expanded))
    }

    fn url(&mut self, key: &str, value: Option<String>, default: Option<&str>) -> Option<Url> {
        let value = match value {
            Some(v) => self.expand(key, &v, false)?,
            None => default?.to_owned(),
        };
        match check_url(&value) {
            Ok(url) => Some(url),
            Err(message) => {
                self.problem(key, message);
                None
            }
        }
    }

    fn profile(&mut self, raw: RawProfile, path: &Path) -> Option<Profile> {
        let adobe = self.adobe(raw.adobe);
        let zoho = self.zoho(raw.zoho);
        let connection = self.connection(raw.connection);
        let defaults = self.defaults(raw.defaults);
        let dataflows = self.dataflows(raw.dataflows, &defaults);
        Some(Profile {
            path: path.to_owned(),
            adobe: adobe?,
            zoho: zoho?,
            connection: connection?,
            dataflows: dataflows?,
        })
    }

    fn adobe(&mut self, raw: RawAdobe) -> Option<AdobeSettings> {
        let org_id = self.required(
            "adobe.org_id",
            raw.org_id,
            "copy the Organization ID (…@AdobeOrg) from the Adobe Developer Console project",
        );
        let org_id = org_id.and_then(|org| {
            if org.ends_with("@AdobeOrg") && !org.contains(char::is_whitespace) {
                Some(org)
            } else {
                self.problem(
                    "adobe.org_id",
                    format!(
                        "`{org}` is not an IMS organization id; it looks like \
                         5C1328435BF324E90A49402A@AdobeOrg (Developer Console → project → credential)"
                    ),
                );
                None
            }
        });
        let sandbox = self
            .required(
                "adobe.sandbox",
                raw.sandbox,
                "name the sandbox, e.g. \"prod\"",
            )
            .and_then(|s| {
                let ok = s
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if ok {
                    Some(s)
                } else {
                    self.problem(
                        "adobe.sandbox",
                        format!(
                            "`{s}` is not a sandbox name; sandbox names are lower case letters, \
                             digits and hyphens (e.g. \"prod\")"
                        ),
                    );
                    None
                }
            });
        let client_id = self.required(
            "adobe.client_id",
            raw.client_id,
            "copy the OAuth Server-to-Server client id from the Developer Console",
        );
        let client_secret = self.secret(
            "adobe.client_secret",
            raw.client_secret,
            "AEP_CLIENT_SECRET",
        );
        let scopes = match raw.scopes {
            None => Some(DEFAULT_SCOPES.map(str::to_owned).to_vec()),
            Some(scopes) => self.scopes(scopes),
        };
        let ims_url = self.url("adobe.ims_url", raw.ims_url, Some(DEFAULT_IMS_URL));
        let platform_url = self.url(
            "adobe.platform_url",
            raw.platform_url,
            Some(DEFAULT_PLATFORM_URL),
        );
        Some(AdobeSettings {
            org_id: org_id?,
            sandbox: sandbox?,
            client_id: client_id?,
            client_secret: client_secret?,
            scopes: scopes?,
            ims_url: ims_url?,
            platform_url: platform_url?,
        })
    }

    fn scopes(&mut self, scopes: Vec<String>) -> Option<Vec<String>> {
        let mut out = Vec::with_capacity(scopes.len());
        for (i, scope) in scopes.into_iter().enumerate() {
            let key = format!("adobe.scopes[{i}]");
            let scope = self.expand("adobe.scopes", &scope, false)?;
            if scope.is_empty() || scope.contains([',', ' ']) {
                self.problem(
                    &key,
                    format!("`{scope}` is not a scope; give one scope per string"),
                );
                return None;
            }
            out.push(scope);
        }
        if out.is_empty() {
            self.problem(
                "adobe.scopes",
                "must list at least one scope; remove the key to use the AEP defaults",
            );
            return None;
        }
        Some(out)
    }

    fn zoho(&mut self, raw: RawZoho) -> Option<ZohoSettings> {
        let (region, accounts_url, api_url) =
            self.zoho_endpoints(raw.region, raw.accounts_url, raw.api_url, true);
        let client_id = self.required(
            "zoho.client_id",
            raw.client_id,
            "copy the client id (1000.…) from the Zoho API console",
        );
        let client_secret = self.secret(
            "zoho.client_secret",
            raw.client_secret,
            "ZOHO_CLIENT_SECRET",
        );
        let refresh_token = self.secret(
            "zoho.refresh_token",
            raw.refresh_token,
            "ZOHO_REFRESH_TOKEN",
        );
        Some(ZohoSettings {
            region,
            client_id: client_id?,
            client_secret: client_secret?,
            refresh_token: refresh_token?,
            accounts_url: accounts_url?,
            api_url: api_url?,
        })
    }

    /// `[zoho]` without the refresh token, for `zoho token` (see [`ZohoClientNeeds`]).
    fn zoho_client(
        &mut self,
        raw: RawZoho,
        needs: ZohoClientNeeds,
        path: &Path,
    ) -> Option<ZohoClientSettings> {
        let given = raw.region.is_some() || raw.accounts_url.is_some() || raw.api_url.is_some();
        let (region, accounts_url, api_url) = if given || needs.data_centre {
            self.zoho_endpoints(raw.region, raw.accounts_url, raw.api_url, needs.data_centre)
        } else {
            (None, None, None)
        };
        let client_id = (raw.client_id.is_some() || needs.client_id).then(|| {
            self.required(
                "zoho.client_id",
                raw.client_id,
                "copy the client id (1000.…) from the Zoho API console, or pass --client-id",
            )
        });
        let client_secret = needs.client_secret.then(|| {
            self.secret(
                "zoho.client_secret",
                raw.client_secret,
                "ZOHO_CLIENT_SECRET",
            )
        });
        // Every problem is already reported; `None` only stops the value from being used.
        let client_id = client_id.map(|v| v.ok_or(())).transpose().ok()?;
        let client_secret = client_secret.map(|v| v.ok_or(())).transpose().ok()?;
        Some(ZohoClientSettings {
            path: path.to_owned(),
            region,
            client_id,
            client_secret,
            accounts_url,
            api_url,
        })
    }

    /// The data centre: `region`, `accounts_url` and `api_url`, each defaulting from the others.
    /// A missing data centre is a problem only when `required`.
    fn zoho_endpoints(
        &mut self,
        region: Option<String>,
        accounts_url: Option<String>,
        api_url: Option<String>,
        required: bool,
    ) -> (Option<ZohoRegion>, Option<Url>, Option<Url>) {
        let region = match self.text("zoho.region", region) {
            None => None,
            Some(name) => match ZohoRegion::parse(&name) {
                Some(region) => Some(Some(region)),
                None => {
                    self.problem(
                        "zoho.region",
                        format!(
                            "unknown Zoho data centre `{name}`; valid regions are {} \
                             (or set accounts_url and api_url)",
                            ZohoRegion::list()
                        ),
                    );
                    Some(None)
                }
            },
        };
        let bad_region = matches!(region, Some(None));
        let region = region.flatten();
        let explicit_accounts = accounts_url.is_some();
        let accounts_url = self.url(
            "zoho.accounts_url",
            accounts_url,
            region.map(ZohoRegion::accounts_url),
        );
        if accounts_url.is_none() && !explicit_accounts && !bad_region && required {
            self.problem(
                "zoho.region",
                format!(
                    "missing; set region to one of {} (or set accounts_url and api_url)",
                    ZohoRegion::list()
                ),
            );
        }
        let region = region.or_else(|| {
            accounts_url
                .as_ref()
                .and_then(ZohoRegion::from_accounts_url)
        });
        let explicit_api = api_url.is_some();
        let api_url = self.url("zoho.api_url", api_url, region.map(ZohoRegion::api_url));
        if api_url.is_none() && !explicit_api && accounts_url.is_some() {
            self.problem(
                "zoho.api_url",
                "missing; accounts_url is not a known Zoho accounts server, so set api_url too \
                 (e.g. https://www.zohoapis.eu)",
            );
        }
        (region, accounts_url, api_url)
    }

    fn connection(&mut self, raw: RawConnection) -> Option<ConnectionSettings> {
        let name = self.required(
            "connection.name",
            raw.name,
            "name the base connection, e.g. \"zoho-crm-prod\"",
        );
        let name = name.and_then(|name| {
            if name.contains(',') {
                self.problem(
                    "connection.name",
                    format!(
                        "`{name}` contains a comma; names are looked up with Flow Service property \
                         filters, where a comma means OR, so choose a name without commas"
                    ),
                );
                None
            } else if name.trim() != name {
                self.problem(
                    "connection.name",
                    format!("`{name}` has leading or trailing spaces; remove them"),
                );
                None
            } else {
                Some(name)
            }
        });
        let description = self.text("connection.description", raw.description);
        Some(ConnectionSettings {
            name: name?,
            description,
        })
    }

    fn defaults(&mut self, raw: RawDefaults) -> Defaults {
        let schedule = raw.schedule.map(|s| self.schedule("defaults.schedule", s));
        Defaults {
            schema_id: self.text("defaults.schema_id", raw.schema_id),
            mapping_prefix: self.text("defaults.mapping_prefix", raw.mapping_prefix),
            delta_column: self.text("defaults.delta_column", raw.delta_column),
            schedule,
        }
    }

    fn dataflows(&mut self, raw: Vec<RawDataflow>, defaults: &Defaults) -> Option<Vec<Dataflow>> {
        let mut flows = Vec::with_capacity(raw.len());
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut ok = true;
        for (i, mut entry) in raw.into_iter().enumerate() {
            let prefix = format!("dataflows[{i}]");
            let module = self.module(&prefix, entry.module.take());
            if let Some(module) = &module {
                let key = format!("{prefix}.module");
                match seen.get(&module.to_ascii_lowercase()) {
                    Some(first) => {
                        let first_at = match self.sites.at(first) {
                            At::File(pos) => format!(" (first at line {})", pos.line),
                            _ => String::new(),
                        };
                        self.problem(
                            &key,
                            format!(
                                "duplicate module `{module}`{first_at}; each Zoho module can have \
                                 one dataflow, so merge or remove one entry"
                            ),
                        );
                    }
                    None => {
                        seen.insert(module.to_ascii_lowercase(), key);
                    }
                }
            }
            let flow = self.dataflow(&prefix, module, entry, defaults);
            match flow {
                Some(flow) => flows.push(flow),
                None => ok = false,
            }
        }
        ok.then_some(flows)
    }

    fn module(&mut self, prefix: &str, module: Option<String>) -> Option<String> {
        let key = format!("{prefix}.module");
        let module = self.required(&key, module, "name the Zoho module, e.g. \"Leads\"")?;
        if module.contains(',') {
            self.problem(
                &key,
                format!(
                    "`{module}` contains a comma; module names are used in Flow Service property \
                     filters, where a comma means OR"
                ),
            );
            return None;
        }
        Some(module)
    }

    fn dataflow(
        &mut self,
        prefix: &str,
        module: Option<String>,
        raw: RawDataflow,
        defaults: &Defaults,
    ) -> Option<Dataflow> {
        let what = module
            .as_deref()
            .map(|m| format!(" for module {m}"))
            .unwrap_or_default();
        let dataset = self.dataset(prefix, raw.dataset, &what);
        let delta_column = match raw.delta_column {
            Some(v) => self.required(
                &format!("{prefix}.delta_column"),
                Some(v),
                "name a date-time column",
            ),
            None => Some(
                defaults
                    .delta_column
                    .clone()
                    .unwrap_or_else(|| DEFAULT_DELTA_COLUMN.to_owned()),
            ),
        };
        let schema_id = match raw.schema_id {
            Some(v) => self.required(
                &format!("{prefix}.schema_id"),
                Some(v),
                "give the target XDM schema $id",
            ),
            None => defaults.schema_id.clone().or_else(|| {
                self.problem(
                    &format!("{prefix}.schema_id"),
                    format!("missing{what}; set schema_id here or in [defaults]"),
                );
                None
            }),
        };
        let mapping_prefix = match raw.mapping_prefix {
            Some(v) => self.required(
                &format!("{prefix}.mapping_prefix"),
                Some(v),
                "give the XDM path under which auto mappings go, e.g. \"_acme.zoho\"",
            ),
            None => defaults.mapping_prefix.clone(),
        };
        let mapping = self.mapping(prefix, raw.mapping, mapping_prefix, &what);
        let schedule = match raw.schedule {
            Some(s) => self.schedule(&format!("{prefix}.schedule"), s),
            None => match &defaults.schedule {
                Some(s) => s.clone(),
                None => {
                    self.problem(
                        &format!("{prefix}.schedule"),
                        format!(
                            "missing{what}; set schedule here or in [defaults], e.g. \
                             {{ frequency = \"hour\", interval = 1, start = \"2026-12-01T00:00:00Z\" }}"
                        ),
                    );
                    None
                }
            },
        };
        Some(Dataflow {
            module: module?,
            dataset: dataset?,
            delta_column: delta_column?,
            schema_id: schema_id?,
            mapping: mapping?,
            schedule: schedule?,
        })
    }

    fn dataset(
        &mut self,
        prefix: &str,
        raw: Option<RawDataset>,
        what: &str,
    ) -> Option<DatasetTarget> {
        let key = format!("{prefix}.dataset");
        let example = "write { create = true, name = \"...\" } or { id = \"...\" }";
        let Some(raw) = raw else {
            self.problem(&key, format!("missing{what}; {example}"));
            return None;
        };
        match (raw.create, raw.name, raw.id) {
            (Some(true), Some(name), None) => {
                let name = self.required(&format!("{key}.name"), Some(name), "name the dataset")?;
                Some(DatasetTarget::Create { name })
            }
            (None | Some(false), None, Some(id)) => {
                let id = self.required(
                    &format!("{key}.id"),
                    Some(id),
                    "give the id of an existing dataset",
                )?;
                Some(DatasetTarget::Existing { id })
            }
            (Some(true), None, None) => {
                self.problem(
                    &format!("{key}.name"),
                    format!("missing; a created dataset needs a name: {example}"),
                );
                None
            }
            (Some(true), _, Some(_)) | (_, Some(_), Some(_)) => {
                self.problem(
                    &key,
                    format!("give either create/name or id, not both; {example}"),
                );
                None
            }
            (Some(false), _, None) => {
                self.problem(
                    &format!("{key}.create"),
                    format!("create = false needs an existing dataset id instead; {example}"),
                );
                None
            }
            (None, Some(_), None) => {
                self.problem(
                    &key,
                    format!("add create = true to create a dataset with this name; {example}"),
                );
                None
            }
            (None, None, None) => {
                self.problem(&key, format!("empty; {example}"));
                None
            }
        }
    }

    fn mapping(
        &mut self,
        prefix: &str,
        raw: Option<RawMapping>,
        mapping_prefix: Option<String>,
        what: &str,
    ) -> Option<Mapping> {
        let key = format!("{prefix}.mapping");
        match raw {
            None => {
                self.problem(
                    &key,
                    format!(
                        "missing{what}; write mapping = \"auto\" or a list of \
                         {{ source = \"Email\", destination = \"personalEmail.address\" }}"
                    ),
                );
                None
            }
            Some(RawMapping::Keyword(word)) => {
                let word = self.expand(&key, &word, false)?;
                if word != "auto" {
                    self.problem(
                        &key,
                        format!(
                            "`{word}` is not a mapping; write \"auto\" or a list of \
                             {{ source = \"...\", destination = \"...\" }}"
                        ),
                    );
                    return None;
                }
                match mapping_prefix {
                    Some(prefix) => Some(Mapping::Auto { prefix }),
                    None => {
                        self.problem(
                            &key,
                            "mapping = \"auto\" needs a mapping_prefix (the XDM path the columns go \
                             under, e.g. \"_acme.zoho\"); set it here or in [defaults]",
                        );
                        None
                    }
                }
            }
            Some(RawMapping::Rules(rules)) => {
                if rules.is_empty() {
                    self.problem(
                        &key,
                        format!(
                            "empty mapping{what}: a dataflow needs at least one \
                             {{ source, destination }} rule, or mapping = \"auto\""
                        ),
                    );
                    return None;
                }
                let mut out = Vec::with_capacity(rules.len());
                let mut destinations: HashMap<String, usize> = HashMap::new();
                let mut ok = true;
                for (i, rule) in rules.into_iter().enumerate() {
                    let rule_key = format!("{key}[{i}]");
                    let source = self.required(
                        &format!("{rule_key}.source"),
                        rule.source,
                        "name the Zoho column",
                    );
                    let destination = self.required(
                        &format!("{rule_key}.destination"),
                        rule.destination,
                        "give the XDM path",
                    );
                    match (source, destination) {
                        (Some(source), Some(destination)) => {
                            if let Some(first) = destinations.insert(destination.clone(), i) {
                                self.problem(
                                    &format!("{rule_key}.destination"),
                                    format!(
                                        "`{destination}` is already the destination of rule {first}; \
                                         each XDM path can be mapped once"
                                    ),
                                );
                                ok = false;
                            }
                            out.push(MappingRule {
                                source,
                                destination,
                            });
                        }
                        _ => ok = false,
                    }
                }
                ok.then_some(Mapping::Explicit(out))
            }
        }
    }

    fn schedule(&mut self, key: &str, raw: RawSchedule) -> Option<Schedule> {
        let frequency = match self.text(&format!("{key}.frequency"), raw.frequency) {
            None => {
                self.problem(
                    &format!("{key}.frequency"),
                    "missing; one of once, minute, hour, day, week",
                );
                None
            }
            Some(f) => Frequency::parse(&f).or_else(|| {
                self.problem(
                    &format!("{key}.frequency"),
                    format!("`{f}` is not a frequency; use one of once, minute, hour, day, week"),
                );
                None
            }),
        };
        let start = match self.text(&format!("{key}.start"), raw.start) {
            None => {
                self.problem(
                    &format!("{key}.start"),
                    "missing; give the first run's time in RFC 3339, e.g. \"2026-12-01T00:00:00Z\"",
                );
                None
            }
            Some(s) => match DateTime::parse_from_rfc3339(s.trim()) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => {
                    self.problem(
                        &format!("{key}.start"),
                        format!(
                            "`{s}` is not an RFC 3339 date-time with a time zone; write e.g. \
                             \"2026-12-01T00:00:00Z\""
                        ),
                    );
                    None
                }
            },
        };
        let frequency = frequency?;
        let interval_key = format!("{key}.interval");
        let (interval, backfill) = if frequency == Frequency::Once {
            let mut ok = true;
            if raw.interval.is_some() {
                self.problem(
                    &interval_key,
                    "must be absent when frequency = \"once\" (the CRMToAEP flow spec rejects it)",
                );
                ok = false;
            }
            if raw.backfill.is_some() {
                self.problem(
                    &format!("{key}.backfill"),
                    "must be absent when frequency = \"once\" (the CRMToAEP flow spec rejects it)",
                );
                ok = false;
            }
            if !ok {
                return None;
            }
            (None, None)
        } else {
            let min = if frequency == Frequency::Minute {
                MIN_MINUTE_INTERVAL
            } else {
                1
            };
            let interval = match raw.interval {
                None => {
                    self.problem(
                        &interval_key,
                        format!(
                            "missing; frequency = \"{}\" needs an interval of at least {min}",
                            frequency.as_str()
                        ),
                    );
                    return None;
                }
                Some(n) if n < min => {
                    self.problem(
                        &interval_key,
                        format!(
                            "{n} is below the minimum of {min} for frequency = \"{}\" \
                             (the CRMToAEP flow spec's rule); use {min} or more",
                            frequency.as_str()
                        ),
                    );
                    return None;
                }
                Some(n) => match u32::try_from(n) {
                    Ok(n) => n,
                    Err(_) => {
                        self.problem(&interval_key, format!("{n} is too large"));
                        return None;
                    }
                },
            };
            (Some(interval), Some(raw.backfill.unwrap_or(true)))
        };
        Some(Schedule {
            frequency,
            interval,
            start: start?,
            backfill,
        })
    }
}

/// `[defaults]`, resolved; `schedule` is `Some(None)` when it was given but invalid.
struct Defaults {
    schema_id: Option<String>,
    mapping_prefix: Option<String>,
    delta_column: Option<String>,
    schedule: Option<Option<Schedule>>,
}

/// Accepts `https://` anywhere and `http://` only to loopback hosts (the emulator, tests).
pub fn check_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value.trim()).map_err(|e| format!("`{value}` is not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the URL must not carry a user name or password; secrets go in their own keys".into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{value}` must be a base URL without ?query or #fragment"
        ));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "`{value}` uses http:// to a host that is not loopback; use https:// (plain http is \
             allowed only for 127.0.0.1, ::1 and localhost)"
        )),
        _ => Err(format!("`{value}` must be an https:// URL")),
    }
}

/// Whether the URL's host is on this machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "a = 1\nbé = 2\n";
        let lines = line_starts(text);
        assert_eq!(position(text, &lines, 0), Pos { line: 1, column: 1 });
        assert_eq!(position(text, &lines, 6), Pos { line: 2, column: 1 });
        assert_eq!(position(text, &lines, 10), Pos { line: 2, column: 4 });
        // Inside the two bytes of `é`: the character's own column.
        assert_eq!(position(text, &lines, 8), Pos { line: 2, column: 2 });
        assert_eq!(position(text, &lines, 999), Pos { line: 3, column: 1 });
        assert_eq!(
            position("", &line_starts(""), 0),
            Pos { line: 1, column: 1 }
        );
    }

    #[test]
    fn nearest_key_suggests_typos_only() {
        let keys = ["client_id", "client_secret", "scopes", "ims_url"];
        assert_eq!(
            nearest("client_secrt", keys.into_iter()),
            Some("client_secret")
        );
        assert_eq!(nearest("Client_ID", keys.into_iter()), Some("client_id"));
        assert_eq!(nearest("scope", keys.into_iter()), Some("scopes"));
        assert_eq!(nearest("zzz", keys.into_iter()), None);
    }

    #[test]
    fn loopback_rule() {
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("http://[::1]:1").is_ok());
        assert!(check_url("http://localhost").is_ok());
        assert!(check_url("https://platform.adobe.io").is_ok());
        assert!(check_url("http://platform.adobe.io").is_err());
        assert!(check_url("http://10.0.0.1").is_err());
        assert!(check_url("ftp://example.com").is_err());
        assert!(check_url("https://user:pw@example.com").is_err());
    }

    #[test]
    fn every_region_maps_to_its_servers() {
        for region in ZohoRegion::ALL {
            let accounts = Url::parse(region.accounts_url()).expect("valid url");
            assert_eq!(ZohoRegion::from_accounts_url(&accounts), Some(region));
            assert_eq!(ZohoRegion::parse(region.as_str()), Some(region));
            assert!(region.api_url().starts_with("https://www.zohoapis."));
        }
        assert_eq!(
            ZohoRegion::Ca.accounts_url(),
            "https://accounts.zohocloud.ca"
        );
        assert_eq!(ZohoRegion::parse("EU"), Some(ZohoRegion::Eu));
        assert_eq!(ZohoRegion::parse("de"), None);
    }
}
