//! Zoho CRM's REST API, read only: the modules (`GET /crm/v8/settings/modules`)
//! and a module's fields (`GET /crm/v8/settings/fields?module=`). `check` and `provision zoho
//! modules` prove the token's scopes with the first; `init` and the profile validation read both
//! to learn what a module holds without a base connection in Adobe Experience Platform.
//!
//! Every call sends `Authorization: Zoho-oauthtoken <access token>` to the token's API domain, and
//! is retried on 429 (honouring `Retry-After`), 5xx and transport errors under the shared
//! [`HttpOptions`] policy. Neither tokens nor bodies are logged.
//!
//! ```no_run
//! # async fn demo(profile: &provision::profile::Profile) -> anyhow::Result<()> {
//! use provision::api::http::HttpOptions;
//! use provision::auth::zoho::ZohoOAuth;
//!
//! let zoho = ZohoOAuth::new(HttpOptions::default())?;
//! let token = zoho.token(&profile.zoho).await?;
//! let api = token.api_domain_or(&profile.zoho.api_url);
//! let crm = zoho.crm();
//! let modules = crm.list_modules(&api, &token.access_token).await?;
//! let fields = crm.list_fields(&api, &token.access_token, "Leads").await?;
//! # let _ = (modules, fields); Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use tracing::Instrument;
use url::Url;

use crate::api::http::throttle::{Pace, Throttle};
use crate::transport::error::{looks_like_html, truncate};
use crate::transport::{
    describe_json_error, describe_transport, header_text, retry_after, HttpOptions,
};
use crate::transport::{CallKind, RetryPolicy, Verdict};

/// The scope `list_modules` needs, for the scope-mismatch message (Zoho's "OAuth Scopes" page,
/// https://www.zoho.com/crm/developer/docs/api/v8/scopes.html).
pub const MODULES_SCOPE: &str = "ZohoCRM.settings.modules.READ";
/// The scope `list_fields` needs.
pub const FIELDS_SCOPE: &str = "ZohoCRM.settings.fields.READ";
/// The read-only scopes to request when generating a grant token.
pub const RECOMMENDED_SCOPES: &str =
    "ZohoCRM.settings.modules.READ,ZohoCRM.settings.fields.READ,ZohoCRM.modules.READ";

/// A module from `GET /crm/v8/settings/modules` (Zoho's "Modules Metadata" page,
/// https://www.zoho.com/crm/developer/docs/api/v8/modules-api.html).
#[derive(Debug, Clone, Deserialize)]
pub struct ZohoModule {
    pub api_name: String,
    #[serde(default)]
    pub module_name: Option<String>,
    #[serde(default)]
    pub singular_label: Option<String>,
    #[serde(default)]
    pub plural_label: Option<String>,
    /// Only modules with `api_supported` can be read through the API.
    #[serde(default)]
    pub api_supported: Option<bool>,
    /// `default`, `web`, `custom` or `linking`.
    #[serde(default)]
    pub generated_type: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub viewable: Option<bool>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Why a CRM API call failed: the CRM error envelope's `code` (Zoho's "Status Codes" page,
/// https://www.zoho.com/crm/developer/docs/api/v8/status-codes.html).
#[derive(Debug)]
pub enum ZohoApiError {
    /// 401 `INVALID_TOKEN`: expired, revoked, or sent to another data centre's API domain.
    InvalidToken { call: String },
    /// 401 `OAUTH_SCOPE_MISMATCH`: the token works but lacks `scope`.
    ScopeMismatch { call: String, scope: &'static str },
    /// `NO_PERMISSION`, `FEATURE_NOT_SUPPORTED`/`FEATURE_NOT_ENABLED`: user profile or CRM edition.
    Denied {
        call: String,
        code: String,
        message: String,
    },
    /// 429 `TOO_MANY_REQUESTS` after the retries the policy allows.
    TooManyRequests { call: String },
    /// Any other error answer.
    Failed {
        call: String,
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// 5xx, an HTML page, or no answer.
    Transient { call: String, detail: String },
    /// A success answer we could not read.
    Decode { call: String, detail: String },
}

impl ZohoApiError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::TooManyRequests { .. })
    }
}

impl fmt::Display for ZohoApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidToken { call } => write!(
                f,
                "{call} failed: Zoho rejected the access token (INVALID_TOKEN); it expired, was \
                 revoked, or was sent to another data centre's API domain; use the api_domain from the \
                 token answer (or fix zoho.api_url) and refresh the token"
            ),
            Self::ScopeMismatch { call, scope } => write!(
                f,
                "{call} failed: the token works but lacks the scope for this call \
                 (OAUTH_SCOPE_MISMATCH); generate a new grant token with the scopes {RECOMMENDED_SCOPES} \
                 (at least {scope})"
            ),
            Self::Denied { call, code, message } => write!(
                f,
                "{call} failed: {code}: {message}; the Zoho user's profile or CRM edition does not \
                 allow it: use an administrator's grant or grant the profile access"
            ),
            Self::TooManyRequests { call } => write!(
                f,
                "{call} failed: Zoho CRM's concurrency or credit limit was reached (TOO_MANY_REQUESTS); \
                 try again later"
            ),
            Self::Failed { call, status, code, message } => {
                let code = code.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
                write!(f, "{call} failed with {status}{code}: {message}")
            }
            Self::Transient { call, detail } => write!(
                f,
                "{call} failed: Zoho is unavailable ({detail}); try again later"
            ),
            Self::Decode { call, detail } => write!(f, "{call} failed: {detail}"),
        }
    }
}

impl std::error::Error for ZohoApiError {}

/// A field from `GET /crm/v8/settings/fields?module=` (Zoho's "Fields Meta Data" page,
/// https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html). Only the keys `provision` reads are kept; Zoho sends many more.
#[derive(Debug, Clone, Deserialize)]
pub struct ZohoField {
    /// The column name in records and in the Flow Service's explore answer, e.g. `Modified_Time`.
    pub api_name: String,
    /// Zoho's field type: `text`, `textarea`, `email`, `phone`, `picklist`,
    /// `multiselectpicklist`, `website`, `integer`, `bigint`, `double`, `currency`, `percent`,
    /// `boolean`, `date`, `datetime`, `lookup`, `ownerlookup`, `autonumber`, ... (empty when
    /// Zoho leaves it out, so one odd field does not make the whole answer unreadable).
    #[serde(default)]
    pub data_type: String,
    /// How the value is written in JSON: `string`, `integer`, `double`, `boolean`,
    /// `jsonobject` or `jsonarray`.
    #[serde(default)]
    pub json_type: Option<String>,
    #[serde(default)]
    pub display_label: Option<String>,
    #[serde(default)]
    pub field_label: Option<String>,
    /// Set by Zoho for fields only Zoho writes (`Created_Time`, `Modified_Time`, ...).
    #[serde(default)]
    pub read_only: Option<bool>,
    #[serde(default)]
    pub system_mandatory: Option<bool>,
    #[serde(default)]
    pub length: Option<u32>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: Option<String>,
}

impl ZohoField {
    /// Whether the field holds a date and time (a `delta_column` candidate).
    pub fn is_date_time(&self) -> bool {
        self.data_type == "datetime"
    }
}

/// One CRM endpoint: its path, the key of its answer's list and the scope it needs.
struct Endpoint {
    path: &'static str,
    key: &'static str,
    scope: &'static str,
}

const MODULES: Endpoint = Endpoint {
    path: "/crm/v8/settings/modules",
    key: "modules",
    scope: MODULES_SCOPE,
};

const FIELDS: Endpoint = Endpoint {
    path: "/crm/v8/settings/fields",
    key: "fields",
    scope: FIELDS_SCOPE,
};

/// The Zoho CRM API client. Cheap to create; [`ZohoOAuth::crm`](crate::auth::zoho::ZohoOAuth::crm)
/// gives one that shares the OAuth client's connection pool and [`CrmPace`].
#[derive(Clone)]
pub struct ZohoCrm {
    http: reqwest::Client,
    retry: RetryPolicy,
    pace: CrmPace,
}

/// The pace of the calls to Zoho's CRM API, shared by the clients of one command, whose calls run
/// side by side: after a 429 with `Retry-After` nothing is sent before that time, and then at the
/// rate Zoho let through (the `Pace` of the AEP client), so that a call sent after the 429 was read never
/// arrives inside the window another call was given.
#[derive(Clone, Default)]
pub struct CrmPace(Arc<(Throttle, Pace)>);

impl CrmPace {
    /// Waits until a call to `host` may be sent: no hold, then its turn at the pace, then no
    /// hold again (a 429 may have come in while it waited for its turn), as the AEP client's
    /// permits do.
    async fn turn(&self, host: &str) {
        let (throttle, pace) = &*self.0;
        loop {
            while let Some(until) = throttle.until(host) {
                tokio::time::sleep_until(until.into()).await;
            }
            let Some(turn) = pace.reserve(host) else {
                return;
            };
            tokio::time::sleep_until(turn.into()).await;
            if throttle.until(host).is_none() {
                return;
            }
        }
    }

    /// Learns from an answer of `host`: a 429 holds every call until its `Retry-After` and
    /// slows the pace.
    fn answered(&self, host: &str, status: u16, retry_after: Option<Duration>) {
        let (throttle, pace) = &*self.0;
        match (status, retry_after) {
            (429, Some(wait)) => {
                throttle.hold(host, Instant::now() + wait);
                pace.on_throttle(host, Some(wait));
            }
            // Without a `Retry-After` there is no window to hold or to learn a pace from.
            (429, None) => {}
            _ => pace.on_answer(host),
        }
    }
}

impl fmt::Debug for ZohoCrm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZohoCrm").finish_non_exhaustive()
    }
}

impl ZohoCrm {
    pub fn new(options: HttpOptions) -> anyhow::Result<Self> {
        Ok(Self::with_client(options.client()?, options.retry_policy()))
    }

    /// A client over an existing connection pool, retrying under `retry`.
    pub fn with_client(http: reqwest::Client, retry: RetryPolicy) -> Self {
        Self {
            http,
            retry,
            pace: CrmPace::default(),
        }
    }

    /// This client, keeping to `pace` (see [`CrmPace`]).
    pub fn sharing(mut self, pace: CrmPace) -> Self {
        self.pace = pace;
        self
    }

    /// Lists the CRM modules: `GET {api_domain}/crm/v8/settings/modules`. A 204 means no modules.
    pub async fn list_modules(
        &self,
        api_domain: &Url,
        access_token: &SecretString,
    ) -> Result<Vec<ZohoModule>, ZohoApiError> {
        self.get_list(api_domain, access_token, &MODULES, None)
            .await
    }

    /// Lists one module's fields, from every layout: `GET
    /// {api_domain}/crm/v8/settings/fields?module={api_name}`. A 204 means no fields.
    pub async fn list_fields(
        &self,
        api_domain: &Url,
        access_token: &SecretString,
        module: &str,
    ) -> Result<Vec<ZohoField>, ZohoApiError> {
        self.get_list(api_domain, access_token, &FIELDS, Some(module))
            .await
    }

    async fn get_list<T: DeserializeOwned>(
        &self,
        api_domain: &Url,
        access_token: &SecretString,
        endpoint: &Endpoint,
        module: Option<&str>,
    ) -> Result<Vec<T>, ZohoApiError> {
        let mut url = join_path(api_domain, endpoint.path);
        if let Some(module) = module {
            url.query_pairs_mut().append_pair("module", module);
        }
        let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
        let call = format!(
            "GET {}{}{query}",
            api_domain.as_str().trim_end_matches('/'),
            endpoint.path
        );
        // A read: an outage is retried for as long as the deadline allows. Zoho's CRM 429 means
        // an API credit limit, which waiting seconds does not lift: retried within the attempts
        // of a write, not waited out until the deadline.
        self.retry
            .run(
                &call,
                CallKind::Read,
                |timeout| self.get_once(&url, access_token, &call, endpoint, timeout),
                |(error, retry_after): &(ZohoApiError, Option<Duration>)| {
                    if matches!(error, ZohoApiError::TooManyRequests { .. }) {
                        Verdict::Counted(*retry_after)
                    } else if error.is_transient() {
                        Verdict::Transient(*retry_after)
                    } else {
                        Verdict::Fail
                    }
                },
            )
            .await
            .map_err(|(error, _)| error)
    }

    async fn get_once<T: DeserializeOwned>(
        &self,
        url: &Url,
        access_token: &SecretString,
        call: &str,
        endpoint: &Endpoint,
        timeout: Duration,
    ) -> Result<Vec<T>, (ZohoApiError, Option<Duration>)> {
        // The event names the call (method and URL); the span adds nothing it repeats.
        let span = tracing::info_span!("http");
        async {
            let started = Instant::now();
            let mut auth = reqwest::header::HeaderValue::from_str(&format!(
                "Zoho-oauthtoken {}",
                access_token.expose_secret()
            ))
            .map_err(|_| {
                let error = ZohoApiError::InvalidToken {
                    call: call.to_owned(),
                };
                (error, None)
            })?;
            auth.set_sensitive(true);
            let transient = |e: reqwest::Error| {
                let error = ZohoApiError::Transient {
                    call: call.to_owned(),
                    detail: describe_transport(&e),
                };
                (error, None)
            };
            let host = url.host_str().unwrap_or_default();
            self.pace.turn(host).await;
            let response = self
                .http
                .get(url.clone())
                .header(reqwest::header::AUTHORIZATION, auth)
                .timeout(timeout)
                .send()
                .await
                .map_err(transient)?;
            let status = response.status().as_u16();
            let wait = retry_after(response.headers());
            let request_id = header_text(response.headers(), "x-request-id");
            self.pace.answered(host, status, wait);
            let body = response.bytes().await.map_err(transient)?;
            tracing::info!(
                status,
                request_id,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "{call}"
            );
            classify_crm(call, status, &body, endpoint).map_err(|e| (e, wait))
        }
        .instrument(span)
        .await
    }
}

fn join_path(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}{path}"));
    url.set_query(None);
    url
}

/// Reads a CRM API answer: `{"<key>": [...]}` (`modules`, `fields`), 204, or the error envelope
/// `{"code", "details", "message", "status": "error"}`.
fn classify_crm<T: DeserializeOwned>(
    call: &str,
    status: u16,
    body: &[u8],
    endpoint: &Endpoint,
) -> Result<Vec<T>, ZohoApiError> {
    let call_owned = || call.to_owned();
    if status == 204 || (status == 200 && body.iter().all(u8::is_ascii_whitespace)) {
        return Ok(Vec::new());
    }
    let text = String::from_utf8_lossy(body);
    if (200..300).contains(&status) {
        if looks_like_html(&text) {
            return Err(ZohoApiError::Transient {
                call: call_owned(),
                detail: format!("HTTP {status} with an HTML page instead of JSON"),
            });
        }
        let decode = |e: serde_json::Error| ZohoApiError::Decode {
            call: call_owned(),
            detail: describe_json_error(&e),
        };
        let mut answer =
            serde_json::from_slice::<serde_json::Map<String, Value>>(body).map_err(decode)?;
        return match answer.remove(endpoint.key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(items) => serde_json::from_value(items).map_err(decode),
        };
    }
    let json = serde_json::from_slice::<Value>(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let code = field("code");
    let message = field("message").unwrap_or_else(|| {
        if looks_like_html(&text) {
            "an HTML page instead of JSON".to_owned()
        } else {
            truncate(text.trim(), 200)
        }
    });
    match code.as_deref() {
        Some("INVALID_TOKEN" | "INVALID_OAUTHTOKEN") => {
            Err(ZohoApiError::InvalidToken { call: call_owned() })
        }
        Some("OAUTH_SCOPE_MISMATCH") => Err(ZohoApiError::ScopeMismatch {
            call: call_owned(),
            scope: endpoint.scope,
        }),
        Some(c @ ("NO_PERMISSION" | "FEATURE_NOT_SUPPORTED" | "FEATURE_NOT_ENABLED")) => {
            Err(ZohoApiError::Denied {
                call: call_owned(),
                code: c.to_owned(),
                message,
            })
        }
        _ if status == 429 => Err(ZohoApiError::TooManyRequests { call: call_owned() }),
        _ if status >= 500 => Err(ZohoApiError::Transient {
            call: call_owned(),
            detail: format!("HTTP {status}: {message}"),
        }),
        _ => Err(ZohoApiError::Failed {
            call: call_owned(),
            status,
            code,
            message,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_answer_is_read_and_unknown_keys_ignored() {
        let body = br#"{"fields": [
            {"api_name": "Modified_Time", "data_type": "datetime", "json_type": "string",
             "read_only": true, "id": 5725767000000002593, "display_label": "Modified Time",
             "crypt": null, "pick_list_values": []},
            {"api_name": "Email", "data_type": "email", "json_type": "string", "length": 100}
        ]}"#;
        let fields: Vec<ZohoField> = classify_crm("GET f", 200, body, &FIELDS).expect("fields");
        assert_eq!(fields.len(), 2);
        assert!(fields[0].is_date_time());
        assert_eq!(fields[0].id.as_deref(), Some("5725767000000002593"));
        assert!(!fields[1].is_date_time());
        assert_eq!(fields[1].length, Some(100));
    }

    #[test]
    fn a_fields_scope_mismatch_names_the_fields_scope() {
        let body = br#"{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope to access this URL","status":"error"}"#;
        let error = classify_crm::<ZohoField>("GET f", 401, body, &FIELDS).expect_err("scope");
        assert!(error.to_string().contains(FIELDS_SCOPE), "{error}");
    }
}
