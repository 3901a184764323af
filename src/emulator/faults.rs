//! Fault injection (per-request latency, a request-rate limit answered with 429 + `Retry-After`,
//! random 5xx, "commit the create, then fail the response") and the other knobs that change how
//! the emulated services behave. Settable by flag, by [`super::RunningEmulator::set_faults`] and by
//! `PUT /_emulator/faults`.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::errors::{ApiError, Service};
use super::state::AppState;

/// How the Zoho CRM connection spec appears (docs/aep-api.md#zoho-source-deprecation: Adobe deprecated the source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZohoSpec {
    /// Present, and allowed by the `CRMToAEP` flow spec.
    #[default]
    Listed,
    /// Present, but missing from `CRMToAEP`'s `sourceConnectionSpecIds`.
    Unlisted,
    /// Gone from `/connectionSpecs`, as after the deprecation.
    Removed,
}

impl From<crate::cli::ZohoSpecState> for ZohoSpec {
    fn from(state: crate::cli::ZohoSpecState) -> Self {
        match state {
            crate::cli::ZohoSpecState::Listed => ZohoSpec::Listed,
            crate::cli::ZohoSpecState::Unlisted => ZohoSpec::Unlisted,
            crate::cli::ZohoSpecState::Removed => ZohoSpec::Removed,
        }
    }
}

/// IMS's `expires_in` for server-to-server tokens (docs/aep-api.md#ims-token).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(86_399);

/// Faults and service knobs. `Default` is a normal, fault-free emulator. Over HTTP durations are
/// milliseconds: `{"latency_ms": 50, "rate_limit": 20, "fail_rate": 0.1, "fail_after_commit":
/// ["/data/foundation/flowservice/flows"], "token_ttl_ms": 2000, "zoho_spec": "listed",
/// "page_cap": 5, "outage": ["/data/foundation/flowservice/runs"], "refuse_datasets": ["/ Leads /"]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added before every answer.
    #[serde(rename = "latency_ms", with = "opt_ms")]
    pub latency: Option<Duration>,
    /// Requests per second above which the emulator answers 429 with `Retry-After`.
    pub rate_limit: Option<u32>,
    /// Share of requests (0.0-1.0) answered with a random 500/502/503/504.
    pub fail_rate: f64,
    /// POST paths whose create is committed and then answered with 504.
    pub fail_after_commit: Vec<String>,
    /// Collection paths whose writes (a POST to the path, a PATCH to an item under it) are
    /// answered with 500 without being carried out (an internal error of the service before it
    /// commits).
    pub fail_before_commit: Vec<String>,
    /// Path prefixes answered with 503 for as long as they are listed: an outage of one part of
    /// a service (e.g. `["/data/foundation/flowservice/runs"]`), set and cleared over HTTP.
    pub outage: Vec<String>,
    /// Regular expressions: a dataset create (`POST .../catalog/dataSets`) whose `name` matches
    /// one is refused with Catalog's 400, every time (a module whose chain fails for good, e.g.
    /// `["/ Leads /"]`). Nothing is created.
    pub refuse_datasets: Vec<String>,
    /// Lifetime of IMS access tokens issued from now on.
    #[serde(rename = "token_ttl_ms", with = "ms")]
    pub token_ttl: Duration,
    pub zoho_spec: ZohoSpec,
    /// The most items a Flow Service or Data Prep list page holds, whatever `limit` asks;
    /// `None` is [`DEFAULT_PAGE_CAP`]. Catalog keeps its documented maximum of 100.
    pub page_cap: Option<usize>,
}

/// Flow Service and Data Prep specs give `limit` no maximum; the emulator caps pages here
/// (silently for Flow Service, whose next page is linked; in `_page.limit` for Data Prep) so
/// that one response stays bounded.
pub const DEFAULT_PAGE_CAP: usize = 1000;

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency: None,
            rate_limit: None,
            fail_rate: 0.0,
            fail_after_commit: Vec::new(),
            fail_before_commit: Vec::new(),
            outage: Vec::new(),
            refuse_datasets: Vec::new(),
            token_ttl: DEFAULT_TOKEN_TTL,
            zoho_spec: ZohoSpec::Listed,
            page_cap: None,
        }
    }
}

impl Faults {
    /// The largest list page Flow Service and Data Prep answer.
    pub fn page_cap(&self) -> usize {
        self.page_cap.unwrap_or(DEFAULT_PAGE_CAP).max(1)
    }

    fn in_outage(&self, path: &str) -> bool {
        self.outage
            .iter()
            .any(|prefix| path.starts_with(prefix.as_str()))
    }

    fn fails_after_commit(&self, method: &Method, path: &str) -> bool {
        posts_to(&self.fail_after_commit, method, path)
    }

    fn fails_before_commit(&self, method: &Method, path: &str) -> bool {
        let item = path
            .trim_end_matches('/')
            .rsplit_once('/')
            .map(|(parent, _)| parent);
        posts_to(&self.fail_before_commit, method, path)
            || (method == Method::PATCH
                && item.is_some_and(|parent| {
                    self.fail_before_commit
                        .iter()
                        .any(|p| p.trim_end_matches('/') == parent)
                }))
    }
}

/// Whether the request is a POST to one of `paths`.
fn posts_to(paths: &[String], method: &Method, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    method == Method::POST && paths.iter().any(|p| p.trim_end_matches('/') == path)
}

mod ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

mod opt_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis))
    }
}

/// A fixed one-second window of request counts, on the real clock.
#[derive(Debug, Default)]
pub struct RateWindow {
    second: u64,
    count: u32,
}

impl RateWindow {
    /// Counts a request; `false` when it is over `limit` for the current second.
    fn admit(&mut self, now_second: u64, limit: u32) -> bool {
        if now_second != self.second {
            self.second = now_second;
            self.count = 0;
        }
        self.count += 1;
        self.count <= limit
    }
}

/// The fault middleware, inside the request recorder and around every service route.
pub async fn inject(State(shared): State<AppState>, request: Request, next: Next) -> Response {
    let faults = shared.faults();
    let service = Service::of(request.uri().path());

    if let Some(limit) = faults.rate_limit {
        let second = shared.started.elapsed().as_secs();
        let admitted = shared.limiter().admit(second, limit);
        if !admitted {
            return rate_limited(service);
        }
    }
    if let Some(latency) = faults.latency {
        tokio::time::sleep(latency).await;
    }
    if faults.in_outage(request.uri().path()) {
        return ApiError::server_fault(service, StatusCode::SERVICE_UNAVAILABLE).into_response();
    }
    if faults.fail_rate > 0.0 {
        let fault = {
            let mut rng = shared.rng();
            (rng.random::<f64>() < faults.fail_rate)
                .then(|| [500, 502, 503, 504][rng.random_range(0..4)])
        };
        if let Some(status) = fault {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return ApiError::server_fault(service, status).into_response();
        }
    }
    if faults.fails_before_commit(request.method(), request.uri().path()) {
        return ApiError::server_fault(service, StatusCode::INTERNAL_SERVER_ERROR).into_response();
    }
    let request = match refuse_dataset(&faults, request).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let fail_after = faults.fails_after_commit(request.method(), request.uri().path());
    let response = next.run(request).await;
    if fail_after && response.status().is_success() {
        return ApiError::server_fault(service, StatusCode::GATEWAY_TIMEOUT).into_response();
    }
    response
}

/// The request again when no `refuse_datasets` pattern matches the dataset it creates, else the
/// refusal. Only dataset creates are read (and put back together).
async fn refuse_dataset(faults: &Faults, request: Request) -> Result<Request, Response> {
    let creates_dataset = request.method() == Method::POST
        && request
            .uri()
            .path()
            .trim_end_matches('/')
            .ends_with("/catalog/dataSets");
    if faults.refuse_datasets.is_empty() || !creates_dataset {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|_| ApiError::invalid(Service::Catalog, "unreadable body").into_response())?;
    let name = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|body| body.get("name")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    let refused = faults
        .refuse_datasets
        .iter()
        .any(|pattern| regex::Regex::new(pattern).is_ok_and(|re| re.is_match(&name)));
    if refused {
        let message =
            format!("the dataset name {name:?} is refused (emulator fault refuse_datasets)");
        return Err(ApiError::invalid(Service::Catalog, message).into_response());
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

fn rate_limited(service: Service) -> Response {
    let error = match service {
        Service::Flow | Service::Catalog | Service::DataPrep | Service::SchemaRegistry => {
            ApiError::gateway(StatusCode::TOO_MANY_REQUESTS, "429050", "Too many requests")
        }
        Service::Ims => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            serde_json::json!({"error": "too_many_requests", "error_description": "Too many requests"}),
        ),
        Service::Zoho | Service::Other => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            serde_json::json!({"code": "TOO_MANY_REQUESTS", "details": {}, "message": "too many requests", "status": "error"}),
        ),
    };
    error.with_header(header::RETRY_AFTER, "1").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_admits_the_limit_per_second() {
        let mut window = RateWindow::default();
        assert!((0..3).all(|_| window.admit(7, 3)));
        assert!(!window.admit(7, 3));
        assert!(window.admit(8, 3));
    }

    #[test]
    fn faults_round_trip_in_milliseconds() {
        let faults = Faults {
            latency: Some(Duration::from_millis(50)),
            token_ttl: Duration::from_secs(2),
            zoho_spec: ZohoSpec::Unlisted,
            ..Faults::default()
        };
        let json = serde_json::to_value(&faults).ok();
        assert_eq!(
            json.as_ref().and_then(|j| j.get("latency_ms")).cloned(),
            Some(serde_json::json!(50))
        );
        let back: Option<Faults> = json.and_then(|j| serde_json::from_value(j).ok());
        assert_eq!(back, Some(faults));
        let partial: Option<Faults> = serde_json::from_str(r#"{"fail_rate": 0.5}"#).ok();
        assert_eq!(
            partial.map(|f| (f.fail_rate, f.token_ttl)),
            Some((0.5, DEFAULT_TOKEN_TTL))
        );
    }
}
