//! The authenticated transport for Flow Service, Catalog and Data Prep: the five headers of
//! reference §1 on every call, the one retry policy, shared rate limiting, error parsing, JSON
//! decoding and `_links.next` paging. Resource modules build paths and bodies; they never touch
//! headers, tokens or retries.
//!
//! Retry policy (the only one in the program; Zoho and IMS calls reuse [`HttpOptions`]):
//! - GET and DELETE are retried on 429, 5xx, connect errors and timeouts;
//! - POST and PATCH only on 429 and on an expired token (`401013`), both of which mean the request
//!   was rejected before it was processed. After a 5xx or a timeout a POST may have taken effect,
//!   so the caller looks the object up instead of repeating it;
//! - after a 401 (`401013`: expired or invalid token) the token is replaced once per call and the
//!   call repeated, whatever the method: the gateway rejected it before it was processed;
//! - waits are exponential with full jitter, capped by [`HttpOptions::max_delay`], at most
//!   [`HttpOptions::max_attempts`] attempts and never past [`HttpOptions::deadline`]; 429s do
//!   not count against the attempts (the service said when to come back), only the deadline;
//! - `Retry-After` (seconds or an HTTP date) is honoured and shared: after a 429 every task using
//!   the same client waits before sending to that host, and the client's concurrency is halved
//!   (then grows back by one per window of successful calls).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Notify;
use tracing::Instrument;
use url::Url;

use super::error::{looks_like_html, ApiError, ApiErrorKind};
use super::ids::Etag;
use crate::auth::ims::ImsAuth;
use crate::profile::AdobeSettings;

/// The three AEP services the tool calls, each under `{platform_url}/data/foundation/...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    FlowService,
    Catalog,
    DataPrep,
    SchemaRegistry,
}

impl Service {
    fn base_path(self) -> &'static str {
        match self {
            Service::FlowService => "/data/foundation/flowservice",
            Service::Catalog => "/data/foundation/catalog",
            Service::DataPrep => "/data/foundation/conversion",
            Service::SchemaRegistry => "/data/foundation/schemaregistry",
        }
    }
}

/// Query parameters, in order; `property` may repeat (AND), reference §10.2.
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

/// Transport settings that do not come from the profile, including the retry policy.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Per-request timeout (one attempt).
    pub timeout: Duration,
    /// Timeout to establish a connection.
    pub connect_timeout: Duration,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// The first retry waits up to this long (full jitter); each further one doubles it.
    pub base_delay: Duration,
    /// No single wait between attempts is longer (except what `Retry-After` asks for).
    pub max_delay: Duration,
    /// A call (all attempts and waits) gives up once this much time has passed.
    pub deadline: Duration,
    /// The most requests in flight at once per client; halved on 429, regrown on success.
    pub max_concurrency: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
            max_concurrency: 16,
        }
    }
}

impl HttpOptions {
    /// The wait before retry number `retry` (1-based): uniform in `[0, min(max, base * 2^(retry-1))]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(
            1u32.checked_shl(retry.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let cap = exp.min(self.max_delay);
        cap.mul_f64(rand::random::<f64>())
    }

    /// The wait before another attempt after `retry` failed ones: the service's `Retry-After`
    /// when it gave a positive one, else [`HttpOptions::backoff`] (so `Retry-After: 0` cannot
    /// make a tight loop).
    pub fn wait(&self, retry_after: Option<Duration>, retry: u32) -> Duration {
        retry_after
            .filter(|d| !d.is_zero())
            .unwrap_or_else(|| self.backoff(retry))
    }

    /// A reqwest client with these timeouts: rustls with verified certificates, no redirects (an
    /// API never redirects, and a redirect must not carry credentials elsewhere).
    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("provision/", env!("CARGO_PKG_VERSION")))
            .build()?)
    }
}

/// A cheap-to-clone client for the AEP APIs: one connection pool, one token cache, one rate
/// limiter shared by every clone.
#[derive(Clone)]
pub struct AepClient {
    inner: Arc<Inner>,
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

struct Inner {
    http: reqwest::Client,
    platform_url: Url,
    api_key: String,
    org_id: String,
    sandbox: String,
    ims: ImsAuth,
    options: HttpOptions,
    limiter: Limiter,
    throttle: Throttle,
}

/// One answer, before decoding.
struct Answer {
    status: u16,
    body: Vec<u8>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
}

impl AepClient {
    pub fn new(adobe: &AdobeSettings, options: HttpOptions) -> anyhow::Result<Self> {
        let http = options.client()?;
        let ims = ImsAuth::with_options(http.clone(), adobe, options.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                platform_url: adobe.platform_url.clone(),
                api_key: adobe.client_id.clone(),
                org_id: adobe.org_id.clone(),
                sandbox: adobe.sandbox.clone(),
                ims,
                limiter: Limiter::new(options.max_concurrency, options.base_delay),
                throttle: Throttle::default(),
                options,
            }),
        })
    }

    /// Caps the number of requests in flight (for every clone of this client).
    pub fn with_max_concurrency(self, max: usize) -> Self {
        self.inner.limiter.set_max(max);
        self
    }

    /// The transport settings and retry policy this client was built with (for callers that
    /// retry a step of their own, such as a create looked up before it is sent again).
    pub fn options(&self) -> &HttpOptions {
        &self.inner.options
    }

    /// How many requests may be in flight right now (shrinks after 429s).
    pub fn concurrency(&self) -> usize {
        self.inner.limiter.current()
    }

    /// The IMS token source (for `check`, which reports the token step on its own).
    pub fn ims(&self) -> &ImsAuth {
        &self.inner.ims
    }

    fn url(&self, service: Service, path: &str, query: &Query) -> Url {
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
        let url = self.url(service, path, query);
        let call = call_name(&Method::GET, &url);
        let answer = self.execute(Method::GET, url, None, None, None).await?;
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
        let url = self.url(service, path, query);
        let call = call_name(&Method::POST, &url);
        let answer = self.execute(Method::POST, url, None, None, None).await?;
        decode(&call, &answer)
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

    /// Lists every item of a Flow Service collection (`{"items": [...], "_links": {"next": {"href"}}}`),
    /// following `_links.next.href` until it is absent.
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &Query,
    ) -> Result<Vec<T>, ApiError> {
        self.list_while(service, path, query, |_| true).await
    }

    /// `_links.next.href` may be absolute, absolute-path, query-only or relative to the service
    /// base. An absolute link to another host is refused: the token must not travel there.
    fn next_url(
        &self,
        service: Service,
        current: &Url,
        href: &str,
        call: &str,
    ) -> Result<Url, ApiError> {
        let platform = &self.inner.platform_url;
        let next = if let Ok(absolute) = Url::parse(href) {
            absolute
        } else if let Some(query) = href.strip_prefix('?') {
            let mut next = current.clone();
            next.set_query(Some(query));
            next
        } else {
            let prefix = platform.path().trim_end_matches('/');
            let service_base = format!("{prefix}{}", service.base_path());
            let path_and_query = if href.starts_with(&service_base)
                || (href.starts_with("/data/") && prefix.is_empty())
            {
                href.to_owned()
            } else if href.starts_with("/data/") {
                format!("{prefix}{href}")
            } else {
                format!("{service_base}/{}", href.trim_start_matches('/'))
            };
            platform
                .join(&path_and_query)
                .map_err(|e| ApiError::decode(call, format!("invalid _links.next.href: {e}")))?
        };
        if next.origin() != platform.origin() {
            return Err(ApiError::decode(
                call,
                format!(
                    "_links.next.href points to another host ({}); refusing to send credentials there",
                    next.host_str().unwrap_or("?")
                ),
            ));
        }
        Ok(next)
    }

    /// Sends one call under the retry policy (see the module docs).
    async fn execute(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        if_match: Option<&Etag>,
        accept: Option<&str>,
    ) -> Result<Answer, ApiError> {
        let inner = &*self.inner;
        let options = &inner.options;
        let call = call_name(&method, &url);
        let host = url.host_str().unwrap_or_default().to_owned();
        // Safe to repeat whatever happened to the first try.
        let idempotent = matches!(method, Method::GET | Method::DELETE | Method::HEAD);
        let deadline = Instant::now() + options.deadline;
        let mut attempt = 0u32;
        // 429s: the request was refused unprocessed and the service said when to come back, so
        // they are bounded by the deadline, not by `max_attempts` (a long storm must not turn a
        // call into a failure while the deadline still has room).
        let mut throttles = 0u32;
        let mut token_renewed = false;
        loop {
            attempt += 1;
            // Wait out any Retry-After on this host, then take a permit; if another task was
            // throttled meanwhile, give the permit back and wait again.
            let permit = loop {
                if let Some(until) = inner.throttle.until(&host) {
                    if until > deadline {
                        let mut e = ApiError::status(&call, 429, b"", None);
                        e.message = format!(
                            "the service is rate limiting and asked to wait {}s, past this call's {}s deadline",
                            until.saturating_duration_since(Instant::now()).as_secs(),
                            options.deadline.as_secs()
                        );
                        return Err(e);
                    }
                    tokio::time::sleep_until(until.into()).await;
                }
                let permit = inner.limiter.acquire().await;
                if inner.throttle.until(&host).is_none() {
                    break permit;
                }
            };
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
                    attempt,
                )
                .await;
            let error = match result {
                Ok(answer) => {
                    drop(permit);
                    inner.limiter.on_success();
                    return Ok(answer);
                }
                Err(error) => error,
            };
            // The host is held before the permit is given back: a task waiting for the permit
            // must not slip a request in between this 429 and the hold.
            let throttled = error.is_throttled().then(|| {
                throttles += 1;
                inner.limiter.on_throttle();
                let wait = options.wait(error.retry_after, throttles);
                inner.throttle.hold(&host, Instant::now() + wait);
                wait
            });
            drop(permit);

            // Any 401 was rejected before processing; reference §11 says to renew the token once.
            let wait = if error.status == Some(401) && !token_renewed {
                token_renewed = true;
                inner.ims.invalidate_token(&token).await;
                tracing::info!(call = %call, "access token rejected; fetching a new one");
                Some(Duration::ZERO)
            } else if throttled.is_some() {
                throttled
            } else if idempotent
                && (error.is_server_error() || error.kind == ApiErrorKind::Transport)
            {
                Some(options.wait(error.retry_after, attempt - throttles))
            } else {
                None
            };
            let Some(wait) = wait else {
                return Err(error);
            };
            if throttled.is_none() && attempt - throttles >= options.max_attempts {
                return Err(gave_up(error, format!("gave up after {attempt} attempts")));
            }
            if Instant::now() + wait > deadline {
                return Err(gave_up(
                    error,
                    format!(
                        "gave up after {attempt} attempts: the next one would pass the {}s deadline",
                        options.deadline.as_secs()
                    ),
                ));
            }
            tracing::info!(
                call = %call,
                status = error.status,
                request_id = error.request_id.as_deref(),
                wait_ms = wait.as_millis() as u64,
                attempt,
                "retrying"
            );
            tokio::time::sleep(wait).await;
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
        attempt: u32,
    ) -> Result<Answer, ApiError> {
        let inner = &*self.inner;
        let span = tracing::info_span!(
            "http",
            method = %method,
            path = %url.path(),
            attempt,
            status = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            let mut request = inner
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose_secret())
                .header("x-api-key", &inner.api_key)
                .header("x-gw-ims-org-id", &inner.org_id)
                .header("x-sandbox-name", &inner.sandbox);
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
            let span = tracing::Span::current();
            span.record("elapsed_ms", elapsed_ms);
            let answer = match outcome {
                Ok(answer) => answer,
                Err(e) => {
                    tracing::info!(elapsed_ms, error = %e.message, "{call} failed");
                    return Err(e);
                }
            };
            span.record("status", answer.status);
            if let Some(id) = &answer.request_id {
                span.record("request_id", id.as_str());
            }
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

fn status_error(call: &str, answer: Answer) -> ApiError {
    let mut error = ApiError::status(call, answer.status, &answer.body, answer.request_id);
    error.retry_after = answer.retry_after;
    error
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = header_text(headers, RETRY_AFTER.as_str())?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(&value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// reqwest errors print the URL; ours are named by `call` already, and URLs may carry queries.
pub(crate) fn describe_transport(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the connection broke while reading the answer"
    } else {
        "request failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        detail = format!(": {s}");
        source = s.source();
    }
    format!("{kind}{detail}")
}

fn gave_up(mut error: ApiError, note: String) -> ApiError {
    error.message = format!("{} ({note})", error.message);
    error
}

fn call_name(method: &Method, url: &Url) -> String {
    format!("{method} {}", url.path())
}

fn encode_body<B: Serialize + ?Sized>(call: &str, body: &B) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(body)
        .map_err(|e| ApiError::decode(call, format!("could not encode the request body: {e}")))
}

/// Decodes a success body as JSON into `T`, with a message naming the call for every way it can
/// be malformed. An empty body decodes as `null` (so `Option`, `()` and `Value` accept it).
fn decode<T: DeserializeOwned>(call: &str, answer: &Answer) -> Result<T, ApiError> {
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

/// A serde_json error without the values it may quote (they could be anything the service sent).
pub(crate) fn describe_json_error(error: &serde_json::Error) -> String {
    let at = format!("line {} column {}", error.line(), error.column());
    match error.classify() {
        serde_json::error::Category::Eof => format!("the JSON answer is truncated ({at})"),
        serde_json::error::Category::Syntax => format!("the answer is not valid JSON ({at})"),
        serde_json::error::Category::Io => format!("could not read the answer ({at})"),
        serde_json::error::Category::Data => {
            let message = error.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message);
            format!("unexpected answer shape: {} ({at})", redact_quoted(message))
        }
    }
}

fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if inside {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

#[derive(serde::Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
    #[serde(rename = "_links")]
    links: Option<Links>,
}

#[derive(serde::Deserialize)]
struct Links {
    next: Option<Link>,
}

#[derive(serde::Deserialize)]
struct Link {
    href: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Shared rate limiting.

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded state stays consistent even if a holder panicked: every update is one assignment.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Hosts that answered 429, and until when nothing is sent to them.
#[derive(Default)]
struct Throttle {
    until: Mutex<HashMap<String, Instant>>,
}

impl Throttle {
    fn until(&self, host: &str) -> Option<Instant> {
        let mut map = lock(&self.until);
        match map.get(host) {
            Some(until) if *until > Instant::now() => Some(*until),
            Some(_) => {
                map.remove(host);
                None
            }
            None => None,
        }
    }

    fn hold(&self, host: &str, until: Instant) {
        let mut map = lock(&self.until);
        let entry = map.entry(host.to_owned()).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }
}

/// An AIMD concurrency limit: halved on 429 (at most once per `cooldown`, so one burst of 429s
/// counts once), grown by one per `limit` successes, never above `max` nor below one.
struct Limiter {
    state: Mutex<LimitState>,
    notify: Notify,
    cooldown: Duration,
}

struct LimitState {
    limit: f64,
    max: usize,
    in_flight: usize,
    last_cut: Option<Instant>,
}

impl LimitState {
    fn allowed(&self) -> usize {
        (self.limit.floor() as usize).clamp(1, self.max.max(1))
    }
}

struct Permit<'a> {
    limiter: &'a Limiter,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        lock(&self.limiter.state).in_flight -= 1;
        self.limiter.notify.notify_waiters();
    }
}

impl Limiter {
    fn new(max: usize, cooldown: Duration) -> Self {
        let max = max.max(1);
        Self {
            state: Mutex::new(LimitState {
                limit: max as f64,
                max,
                in_flight: 0,
                last_cut: None,
            }),
            notify: Notify::new(),
            cooldown,
        }
    }

    fn set_max(&self, max: usize) {
        let mut state = lock(&self.state);
        state.max = max.max(1);
        state.limit = state.limit.min(state.max as f64);
    }

    fn current(&self) -> usize {
        lock(&self.state).allowed()
    }

    async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Register before checking, so a release between the check and the wait is not lost.
            notified.as_mut().enable();
            {
                let mut state = lock(&self.state);
                if state.in_flight < state.allowed() {
                    state.in_flight += 1;
                    return Permit { limiter: self };
                }
            }
            notified.await;
        }
    }

    fn on_success(&self) {
        let grew = {
            let mut state = lock(&self.state);
            let before = state.allowed();
            state.limit = (state.limit + 1.0 / state.limit.max(1.0)).min(state.max as f64);
            state.allowed() > before
        };
        if grew {
            self.notify.notify_waiters();
        }
    }

    fn on_throttle(&self) {
        let mut state = lock(&self.state);
        let now = Instant::now();
        if state
            .last_cut
            .is_some_and(|t| now.duration_since(t) < self.cooldown)
        {
            return;
        }
        state.last_cut = Some(now);
        state.limit = (state.limit / 2.0).max(1.0);
        tracing::info!(
            concurrency = state.allowed(),
            "rate limited: lowering concurrency"
        );
    }
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

    /// Like [`AepClient::list_all`], but stops following `_links.next.href` as soon as
    /// `more(items so far)` says no (newest-first listings where only the first few matter).
    pub async fn list_while<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &Query,
        mut more: impl FnMut(&[T]) -> bool,
    ) -> Result<Vec<T>, ApiError> {
        const MAX_PAGES: usize = 10_000;
        let mut url = self.url(service, path, query);
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        loop {
            let call = call_name(&Method::GET, &url);
            if !seen.insert(url.to_string()) || seen.len() > MAX_PAGES {
                return Err(ApiError::decode(
                    &call,
                    "the service's _links.next.href repeats a page already read; stopping to avoid a loop",
                ));
            }
            let answer = self
                .execute(Method::GET, url.clone(), None, None, None)
                .await?;
            let page: Page<T> = decode(&call, &answer)?;
            items.extend(page.items);
            if !more(&items) {
                return Ok(items);
            }
            match page.links.and_then(|l| l.next).and_then(|n| n.href) {
                Some(href) if !href.trim().is_empty() => {
                    url = self.next_url(service, &url, href.trim(), &call)?;
                }
                _ => return Ok(items),
            }
        }
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

    #[test]
    fn backoff_is_capped_and_jittered() {
        let options = HttpOptions {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(250),
            ..HttpOptions::default()
        };
        for retry in 1..40 {
            let wait = options.backoff(retry);
            assert!(wait <= Duration::from_millis(250), "{wait:?}");
        }
        assert!(options.backoff(1) <= Duration::from_millis(100));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = chrono::Utc::now() + chrono::Duration::seconds(30);
        let date = later.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        headers.insert(RETRY_AFTER, date.parse().expect("header"));
        let wait = retry_after(&headers).expect("parsed");
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        headers.insert(RETRY_AFTER, "soon".parse().expect("header"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn limiter_halves_and_regrows() {
        let limiter = Limiter::new(8, Duration::ZERO);
        limiter.on_throttle();
        assert_eq!(limiter.current(), 4);
        limiter.on_throttle();
        assert_eq!(limiter.current(), 2);
        for _ in 0..10 {
            limiter.on_success();
        }
        assert!(limiter.current() > 2);
        limiter.set_max(3);
        assert!(limiter.current() <= 3);
    }

    #[test]
    fn json_errors_do_not_quote_values() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            n: u64,
        }
        let e = serde_json::from_str::<S>(r#"{"n":"secret-value"}"#).expect_err("wrong type");
        let message = describe_json_error(&e);
        assert!(!message.contains("secret-value"), "{message}");
        assert!(message.contains("unexpected answer shape"), "{message}");
    }
}
