//! The layer under every remote call, shared by the AEP client ([`crate::api`]) and the OAuth
//! clients ([`crate::auth`]): transport settings ([`HttpOptions`]), the one retry policy
//! ([`RetryPolicy`]), the error type of Adobe's APIs ([`ApiError`]) and the helpers that read
//! answers without echoing what they carry (`Retry-After`, transport and JSON errors).
//!
//! Nothing here knows a service: `api` and `auth` build on it, and it imports neither.

pub mod error;
pub mod retry;

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, RETRY_AFTER};

pub use error::{ApiError, ApiErrorKind};
pub use retry::{Attempts, CallKind, GaveUp, RetryPolicy, Verdict};

/// Transport settings that do not come from the profile, including the retry policy
/// ([`HttpOptions::retry_policy`]).
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Per-request timeout (one attempt).
    pub timeout: Duration,
    /// Timeout to establish a connection.
    pub connect_timeout: Duration,
    /// Attempts per write (and per read when `patient_reads` is off), the first included.
    pub max_attempts: u32,
    /// Reads retry passing failures (5xx, timeouts, connection errors) for as long as `deadline`
    /// allows rather than `max_attempts` times. Off for commands that poll again themselves and
    /// report an outage while it lasts (`status --wait`).
    pub patient_reads: bool,
    /// The first retry waits up to this long (full jitter); each further one doubles it.
    pub base_delay: Duration,
    /// No single wait between attempts is longer (except what `Retry-After` asks for).
    pub max_delay: Duration,
    /// A call (all attempts and waits) gives up once this much time has passed: how long one read
    /// may outlast an outage.
    pub deadline: Duration,
    /// No call retries past this instant, whatever `deadline` allows, and no request waits for
    /// its answer past it: the end of a command that `--timeout` bounds as a whole
    /// (`status --wait`, `run --wait`, `retry --wait`). A call that reaches it fails with its
    /// last error (a request cut there fails as timed out), so that the command can say what it
    /// saw.
    pub not_after: Option<Instant>,
    /// The most requests in flight at once per client; halved on 429, regrown on success.
    pub max_concurrency: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 5,
            patient_reads: true,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
            not_after: None,
            max_concurrency: 16,
        }
    }
}

impl HttpOptions {
    /// The retry policy these options describe.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::new(self)
    }

    /// The wait before retry number `retry` (1-based); see [`RetryPolicy::backoff`].
    pub fn backoff(&self, retry: u32) -> Duration {
        self.retry_policy().backoff(retry)
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

/// A header's trimmed, non-empty text value.
pub fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
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
pub fn describe_transport(error: &reqwest::Error) -> String {
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

/// A serde_json error without the values it may quote (they could be anything the service sent).
pub fn describe_json_error(error: &serde_json::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
