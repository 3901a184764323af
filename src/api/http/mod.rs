//! The authenticated client for Flow Service, Catalog, Data Prep and the Schema Registry: the
//! five headers every Adobe Experience Platform API call carries (`Authorization`, `x-api-key`,
//! `x-gw-ims-org-id`, `x-sandbox-name`, and `Content-Type` on bodies), error parsing and JSON
//! decoding. Resource modules build paths and bodies; they never touch headers, tokens or
//! retries. `_links.next` paging is in [`paging`](self::paging), shared rate limiting in
//! `throttle`, and the retry policy in [`crate::transport::retry`].
//!
//! How the policy is applied to AEP calls:
//! - GET is a read ([`CallKind::Read`]): retried on 429, 5xx, connect errors and timeouts for as
//!   long as the call's deadline allows; DELETE is retried on the same failures, within the
//!   attempts of a write;
//! - POST, PUT and PATCH only on 429 and on an expired token, both of which mean the request
//!   was rejected before it was processed. After a 5xx or a timeout a POST may have taken effect,
//!   so the caller looks the object up instead of repeating it;
//! - after a 401 (expired or invalid token) the token is replaced once per call and the call
//!   repeated, whatever the method: the gateway rejected it before it was processed;
//! - `Retry-After` (seconds or an HTTP date) is honoured and shared: after a 429 every task using
//!   the same client waits before sending to that host, and the client's concurrency is halved
//!   (then grows back by one per window of successful calls);
//! - after a 429, requests to that host are paced at the rate the service let through (learnt
//!   anew at each 429, raised slowly by each answer), so that few of them are refused.

mod paging;
pub(crate) mod throttle;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;
use url::Url;

use self::throttle::{Limiter, Pace, Throttle};
use super::ids::Etag;
use crate::auth::ims::{ImsAuth, ImsCredentials};
use crate::transport::error::{looks_like_html, ApiError, ApiErrorKind};
use crate::transport::{describe_json_error, describe_transport, header_text, retry_after};
use crate::transport::{CallKind, GaveUp, RetryPolicy, Verdict};

pub use crate::transport::HttpOptions;

/// What the AEP client needs: the IMS credential (whose client id is also the `x-api-key`), the
/// organization, the sandbox and the API host.
#[derive(Debug, Clone)]
pub struct AepSettings {
    pub credentials: ImsCredentials,
    /// The IMS organization id, `...@AdobeOrg`.
    pub org_id: String,
    pub sandbox: String,
    /// e.g. `https://platform.adobe.io`.
    pub platform_url: Url,
}

/// The three AEP services the tool calls, each under `{platform_url}/data/foundation/...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    FlowService,
    Catalog,
    DataPrep,
    SchemaRegistry,
}

impl Service {
    pub(super) fn base_path(self) -> &'static str {
        match self {
            Service::FlowService => "/data/foundation/flowservice",
            Service::Catalog => "/data/foundation/catalog",
            Service::DataPrep => "/data/foundation/conversion",
            Service::SchemaRegistry => "/data/foundation/schemaregistry",
        }
    }
}

/// Query parameters, in order; `property` may repeat (AND), docs/aep-api.md#filters.
#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn param(mut self, key: &str, value: impl Into<String>) -> Self {
        self.0.push((key.to_owned(), value.into()));
        self
    }

    /// `property={path}=={v1},{v2}`: the field equals any of `values` (a comma means OR, so values
    /// must not contain commas; the profile rejects such names). Values are percent-encoded when
    /// the URL is built, so they may hold spaces, `&`, `+` or `#`.
    pub fn property_eq<S: AsRef<str>>(self, path: &str, values: &[S]) -> Self {
        let joined = values
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(",");
        self.param("property", format!("{path}=={joined}"))
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The encoded query string: RFC 3986 percent-encoding (a space is `%20`, never `+`, which
    /// some servers would read as a literal plus), keeping `=`, `,`, `:`, `/` and `@` readable.
    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The length of `s` once [`Query::encode`] has percent-encoded it.
pub(crate) fn encoded_len(s: &str) -> usize {
    encode_component(s).len()
}

fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'='
            | b','
            | b':'
            | b'/'
            | b'@' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A cheap-to-clone client for the AEP APIs: one connection pool, one token cache, one rate
/// limiter shared by every clone.
#[derive(Clone)]
pub struct AepClient {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for AepClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AepClient")
            .field("platform_url", &self.inner.platform_url.as_str())
            .field("org_id", &self.inner.org_id)
            .field("sandbox", &self.inner.sandbox)
            .field("concurrency", &self.concurrency())
            .finish_non_exhaustive()
    }
}

pub(super) struct Inner {
    http: reqwest::Client,
    pub(super) platform_url: Url,
    api_key: String,
    org_id: String,
    sandbox: String,
    ims: ImsAuth,
    retry: RetryPolicy,
    /// What the client was built with, for the clients a call sequence builds beside it (the
    /// Zoho refresh behind a base connection write).
    options: HttpOptions,
    limiter: Limiter,
    throttle: Throttle,
    pace: Pace,
}

/// One answer, before decoding.
pub(super) struct Answer {
    status: u16,
    body: Vec<u8>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
}

impl AepClient {
    /// A client for `settings` under `options` (timeouts, retry policy, concurrency). Commands
    /// build theirs with [`crate::clients::Clients`].
    pub fn new(settings: impl Into<AepSettings>, options: HttpOptions) -> anyhow::Result<Self> {
        let settings = settings.into();
        let http = options.client()?;
        let ims = ImsAuth::new(http.clone(), &settings.credentials, &options);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                platform_url: settings.platform_url,
                api_key: settings.credentials.client_id,
                org_id: settings.org_id,
                sandbox: settings.sandbox,
                ims,
                limiter: Limiter::new(options.max_concurrency, options.base_delay),
                throttle: Throttle::default(),
                pace: Pace::default(),
                retry: options.retry_policy(),
                options,
            }),
        })
    }

    /// The retry policy this client's calls follow (for callers that retry a sequence of calls,
    /// such as a create followed by a look-up).
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    /// The options this client was built with.
    pub fn options(&self) -> &HttpOptions {
        &self.inner.options
    }

    /// Caps the number of requests in flight (for every clone of this client).
    pub fn with_max_concurrency(self, max: usize) -> Self {
        self.inner.limiter.set_max(max);
        self
    }

    /// How many requests may be in flight right now (shrinks after 429s).
    pub fn concurrency(&self) -> usize {
        self.inner.limiter.current()
    }

    /// The IMS token source (for `check`, which reports the token step on its own).
    pub fn ims(&self) -> &ImsAuth {
        &self.inner.ims
    }

    pub(super) fn url(&self, service: Service, path: &str, query: &Query) -> Url {
        let mut url = self.inner.platform_url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{}{path}", service.base_path()));
        let encoded = query.encode();
        url.set_query((!encoded.is_empty()).then_some(encoded.as_str()));
        url
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &Query,
    ) -> Result<T, ApiError> {
        self.without_body(Method::GET, service, path, query).await
    }

    /// A call that sends no body, decoded.
    async fn without_body<T: DeserializeOwned>(
        &self,
        method: Method,
        service: Service,
        path: &str,
        query: &Query,
    ) -> Result<T, ApiError> {
        let url = self.url(service, path, query);
        let call = call_name(&method, &url);
        let answer = self.execute(method, url, None, None, None).await?;
        decode(&call, &answer)
    }

    /// GET that maps 404 to `None`.
    pub async fn get_opt<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &Query,
    ) -> Result<Option<T>, ApiError> {
        match self.get(service, path, query).await {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &Query,
        body: &B,
    ) -> Result<T, ApiError> {
        let url = self.url(service, path, query);
        let call = call_name(&Method::POST, &url);
        let body = encode_body(&call, body)?;
        let answer = self
            .execute(Method::POST, url, Some(body), None, None)
            .await?;
        decode(&call, &answer)
    }

    /// POST without a body (e.g. `?op=enable` actions).
    pub async fn post_empty<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &Query,
    ) -> Result<T, ApiError> {
        self.without_body(Method::POST, service, path, query).await
    }

    pub async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        etag: &Etag,
        body: &B,
    ) -> Result<T, ApiError> {
        let url = self.url(service, path, &Query::new());
        let call = call_name(&Method::PATCH, &url);
        let body = encode_body(&call, body)?;
        let answer = self
            .execute(Method::PATCH, url, Some(body), Some(etag), None)
            .await?;
        decode(&call, &answer)
    }

    /// DELETE; whatever body a success carries is ignored.
    pub async fn delete(&self, service: Service, path: &str) -> Result<(), ApiError> {
        let url = self.url(service, path, &Query::new());
        self.execute(Method::DELETE, url, None, None, None).await?;
        Ok(())
    }

    /// Sends one call under the retry policy (see the module docs).
    pub(super) async fn execute(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        if_match: Option<&Etag>,
        accept: Option<&str>,
    ) -> Result<Answer, ApiError> {
        let inner = &*self.inner;
        let call = call_name(&method, &url);
        let host = url.host_str().unwrap_or_default().to_owned();
        // Safe to repeat whatever happened to the first try.
        let idempotent = matches!(method, Method::GET | Method::DELETE | Method::HEAD);
        let kind = if matches!(method, Method::GET | Method::HEAD) {
            CallKind::Read
        } else {
            CallKind::Write
        };
        let mut attempts = inner.retry.start(kind);
        let mut token_renewed = false;
        loop {
            attempts.begin();
            let permit = self.permit(&call, &host, &attempts).await?;
            let token = inner.ims.token().await?;
            let result = self
                .send_once(
                    &method,
                    &url,
                    body.as_deref(),
                    if_match,
                    accept,
                    &token,
                    &call,
                    &attempts,
                )
                .await;
            let error = match result {
                Ok(answer) => {
                    drop(permit);
                    inner.limiter.on_success();
                    inner.pace.on_answer(&host);
                    return Ok(answer);
                }
                Err(error) => error,
            };
            if error.status.is_some() && !error.is_throttled() {
                inner.pace.on_answer(&host);
            }
            // Any 401 was rejected before processing: the token is renewed once per call.
            let verdict = if error.status == Some(401) && !token_renewed {
                token_renewed = true;
                inner.ims.invalidate_token(&token).await;
                tracing::info!(call = %call, "access token rejected; fetching a new one");
                Verdict::Immediately
            } else if error.is_throttled() {
                Verdict::Throttled(error.retry_after)
            } else if idempotent
                && (error.is_server_error() || error.kind == ApiErrorKind::Transport)
            {
                Verdict::Transient(error.retry_after)
            } else {
                Verdict::Fail
            };
            let Some(wait) = attempts.delay(verdict) else {
                return Err(error);
            };
            // The host is held before the permit is given back: a task waiting for the permit
            // must not slip a request in between this 429 and the hold.
            if let Verdict::Throttled(_) = verdict {
                inner.limiter.on_throttle();
                inner.throttle.hold(&host, Instant::now() + wait);
                inner.pace.on_throttle(&host, error.retry_after);
            }
            drop(permit);
            if let Err(gave_up) = attempts.check(verdict, wait) {
                return Err(gave_up_error(error, gave_up));
            }
            tracing::info!(
                call = %call,
                status = error.status,
                request_id = error.request_id.as_deref(),
                wait_ms = wait.as_millis() as u64,
                attempt = attempts.attempts(),
                "retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Waits out any `Retry-After` on `host`, takes a concurrency permit, then waits for the
    /// request's turn in the host's pace (once it has answered 429); if another task was
    /// throttled meanwhile, gives the permit back and waits again.
    async fn permit(
        &self,
        call: &str,
        host: &str,
        attempts: &crate::transport::Attempts,
    ) -> Result<throttle::Permit<'_>, ApiError> {
        let inner = &*self.inner;
        loop {
            if let Some(until) = inner.throttle.until(host) {
                if until > attempts.deadline() {
                    return Err(past_deadline(call, until, attempts));
                }
                tokio::time::sleep_until(until.into()).await;
            }
            let permit = inner.limiter.acquire().await;
            if inner.throttle.until(host).is_some() {
                continue;
            }
            let Some(turn) = inner.pace.reserve(host) else {
                return Ok(permit);
            };
            if turn > attempts.deadline() {
                return Err(past_deadline(call, turn, attempts));
            }
            tokio::time::sleep_until(turn.into()).await;
            if inner.throttle.until(host).is_none() {
                return Ok(permit);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
        if_match: Option<&Etag>,
        accept: Option<&str>,
        token: &SecretString,
        call: &str,
        attempts: &crate::transport::Attempts,
    ) -> Result<Answer, ApiError> {
        let inner = &*self.inner;
        let attempt = attempts.attempts();
        // The span holds what the event does not say; the event names the call and its answer
        // (one `-v` line per request, each field once).
        let span = tracing::info_span!("http", attempt);
        async {
            let started = Instant::now();
            let mut request = inner
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose_secret())
                .header("x-api-key", &inner.api_key)
                .header("x-gw-ims-org-id", &inner.org_id)
                .header("x-sandbox-name", &inner.sandbox)
                .timeout(attempts.attempt_timeout());
            if let Some(body) = body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_vec());
            }
            if let Some(etag) = if_match {
                request = request.header("If-Match", etag.as_str());
            }
            if let Some(accept) = accept {
                request = request.header(reqwest::header::ACCEPT, accept);
            }
            let outcome = receive(request, call).await;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            let answer = match outcome {
                Ok(answer) => answer,
                Err(e) => {
                    tracing::info!(elapsed_ms, error = %e.message, "{call} failed");
                    return Err(e);
                }
            };
            tracing::info!(
                status = answer.status,
                elapsed_ms,
                request_id = answer.request_id.as_deref(),
                "{call}"
            );
            if (200..300).contains(&answer.status) {
                return Ok(answer);
            }
            Err(status_error(call, answer))
        }
        .instrument(span)
        .await
    }
}

/// Sends a request and reads the whole answer, whatever its status.
async fn receive(request: reqwest::RequestBuilder, call: &str) -> Result<Answer, ApiError> {
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::transport(call, describe_transport(&e)))?;
    let status = response.status().as_u16();
    let request_id = header_text(response.headers(), "x-request-id");
    let retry_after = retry_after(response.headers());
    let body = response
        .bytes()
        .await
        .map_err(|e| ApiError::transport(call, describe_transport(&e)))?
        .to_vec();
    Ok(Answer {
        status,
        body,
        request_id,
        retry_after,
    })
}

/// The error of a call whose turn to send comes after its deadline.
fn past_deadline(call: &str, turn: Instant, attempts: &crate::transport::Attempts) -> ApiError {
    let mut e = ApiError::status(call, 429, b"", None);
    e.message = format!(
        "the service is rate limiting and asked to wait {}s, past {}",
        turn.saturating_duration_since(Instant::now()).as_secs(),
        attempts.limit()
    );
    e
}

fn status_error(call: &str, answer: Answer) -> ApiError {
    let mut error = ApiError::status(call, answer.status, &answer.body, answer.request_id);
    error.retry_after = answer.retry_after;
    error
}

/// The last error of a call, noting why it was not retried again.
fn gave_up_error(mut error: ApiError, gave_up: GaveUp) -> ApiError {
    error.message = format!("{} ({gave_up})", error.message);
    error
}

pub(super) fn call_name(method: &Method, url: &Url) -> String {
    format!("{method} {}", url.path())
}

fn encode_body<B: Serialize + ?Sized>(call: &str, body: &B) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(body)
        .map_err(|e| ApiError::decode(call, format!("could not encode the request body: {e}")))
}

/// Decodes a success body as JSON into `T`, with a message naming the call for every way it can
/// be malformed. An empty body decodes as `null` (so `Option`, `()` and `Value` accept it).
pub(super) fn decode<T: DeserializeOwned>(call: &str, answer: &Answer) -> Result<T, ApiError> {
    let text = &answer.body[..];
    if text.iter().all(u8::is_ascii_whitespace) {
        return serde_json::from_slice(b"null").map_err(|_| {
            ApiError::decode(
                call,
                format!(
                    "the service answered {} with an empty body where JSON was expected",
                    answer.status
                ),
            )
        });
    }
    if looks_like_html(&String::from_utf8_lossy(&text[..text.len().min(512)])) {
        return Err(ApiError::decode(
            call,
            format!(
                "the service answered {} with an HTML page instead of JSON (a gateway or proxy answered?)",
                answer.status
            ),
        ));
    }
    serde_json::from_slice(text).map_err(|e| ApiError::decode(call, describe_json_error(&e)))
}

// Added for the resource layer: the Schema Registry answers a schema GET only when `Accept`
// names an XDM format; Data Prep updates mapping sets with PUT; runs are read newest-first.
impl AepClient {
    /// GET with an explicit `Accept` header; 404 maps to `None`.
    pub async fn get_opt_accept<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &Query,
        accept: &str,
    ) -> Result<Option<T>, ApiError> {
        let url = self.url(service, path, query);
        let call = call_name(&Method::GET, &url);
        match self
            .execute(Method::GET, url, None, None, Some(accept))
            .await
        {
            Ok(answer) => decode(&call, &answer).map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// PUT of a whole resource (Data Prep mapping sets are updated this way). Not retried on
    /// 5xx, like POST: the caller re-reads instead.
    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let url = self.url(service, path, &Query::new());
        let call = call_name(&Method::PUT, &url);
        let body = encode_body(&call, body)?;
        let answer = self
            .execute(Method::PUT, url, Some(body), None, None)
            .await?;
        decode(&call, &answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encoding_is_rfc3986() {
        let q = Query::new()
            .property_eq("name", &["a b&c+d#e"])
            .param("x", "é");
        assert_eq!(q.encode(), "property=name==a%20b%26c%2Bd%23e&x=%C3%A9");
    }
}
