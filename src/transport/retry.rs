//! The one retry policy of the program, used by the AEP client, the IMS token source, the Zoho
//! OAuth client and the create-then-look-up loop of `apply`. Each caller only says what a
//! failure was ([`Verdict`]); how long to wait and when to give up is decided here, from the
//! [`HttpOptions`] of the client that makes the call:
//!
//! - waits are exponential with full jitter, capped by [`HttpOptions::max_delay`]; a positive
//!   `Retry-After` from the service replaces the computed wait (`Retry-After: 0` cannot make a
//!   tight loop);
//! - never past [`HttpOptions::deadline`] from the first attempt, nor past
//!   [`HttpOptions::not_after`];
//! - what a passing failure ([`Verdict::Transient`]: 5xx, timeout, broken connection) costs depends
//!   on the call ([`CallKind`]): a [`CallKind::Read`] (a GET, a token request) changes nothing
//!   when repeated, so it is retried for as long as the deadline allows (with backoff and
//!   `Retry-After`), and a steady error rate cannot make a command fail for want of attempts; a
//!   [`CallKind::Write`] gets at most [`HttpOptions::max_attempts`] attempts, the first included
//!   (a write that may have taken effect is looked up by its caller, not repeated blindly).
//!   [`HttpOptions::patient_reads`] `false` gives reads the attempts of a write: for commands that
//!   poll again themselves and report an outage as it happens (`status --wait`);
//! - a [`Verdict::Throttled`] failure (the request was refused unprocessed and the service said
//!   when to come back) does not count against the attempts, only against the deadline, so a
//!   long run of 429s does not turn a call into a failure while the deadline still has room.
//!
//! ```no_run
//! # use provision::transport::{CallKind, HttpOptions, RetryPolicy, Verdict};
//! # async fn demo() -> Result<u32, String> {
//! let policy = RetryPolicy::new(&HttpOptions::default());
//! policy
//!     .run(
//!         "GET /thing",
//!         CallKind::Read,
//!         |_timeout| async { Err::<u32, String>("503".into()) },
//!         |_error| Verdict::Transient(None),
//!     )
//!     .await
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use super::HttpOptions;

/// What a failed attempt means for retrying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not retryable: the failure is returned as it is.
    Fail,
    /// A passing failure (5xx, timeout, broken connection): retried after a backoff, or after
    /// the service's `Retry-After`, within the attempts and the deadline.
    Transient(Option<Duration>),
    /// A passing failure that counts against the attempts whatever the call's [`CallKind`]: a
    /// limit that a few seconds' wait will not lift (e.g. Zoho CRM's API credits).
    Counted(Option<Duration>),
    /// Refused unprocessed by rate limiting (429): retried after `Retry-After` (else a backoff),
    /// bounded by the deadline only.
    Throttled(Option<Duration>),
    /// Repeat at once (e.g. after replacing a rejected token); counts as an attempt.
    Immediately,
}

/// What repeating a call can do, which decides how long its passing failures are retried (the
/// one place where reads and writes are told apart, for every client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// Repeating it changes nothing (a GET, a token request, or a create that a look-up has just
    /// shown absent): passing failures are retried until the deadline.
    Read,
    /// A repeat may do something twice, or use up what a lost answer already used (a DELETE, a
    /// single-use grant exchange): passing failures count against the attempts.
    Write,
}

/// Why the policy stopped retrying a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    /// The failure was not retryable ([`Verdict::Fail`]).
    NotRetryable,
    /// [`HttpOptions::max_attempts`] attempts were made.
    Attempts { attempts: u32 },
    /// The next attempt would start past [`HttpOptions::deadline`].
    Deadline { attempts: u32, deadline: Duration },
    /// The next attempt would start past [`HttpOptions::not_after`], the end of the command.
    CommandEnds { attempts: u32 },
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GaveUp::NotRetryable => f.write_str("not retryable"),
            GaveUp::Attempts { attempts } => write!(f, "gave up after {}", tries(*attempts)),
            GaveUp::Deadline { attempts, deadline } => write!(
                f,
                "gave up after {}: the next one would pass the {}s deadline",
                tries(*attempts),
                deadline.as_secs()
            ),
            GaveUp::CommandEnds { attempts } => write!(
                f,
                "gave up after {}: the command's time limit ends before the next one",
                tries(*attempts)
            ),
        }
    }
}

/// "1 attempt", "3 attempts".
fn tries(attempts: u32) -> String {
    match attempts {
        1 => "1 attempt".to_owned(),
        n => format!("{n} attempts"),
    }
}

/// The retry policy of one client (see the module docs). Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    max_attempts: u32,
    patient_reads: bool,
    base_delay: Duration,
    max_delay: Duration,
    deadline: Duration,
    not_after: Option<Instant>,
    request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new(&HttpOptions::default())
    }
}

impl RetryPolicy {
    /// The policy that `options` describe.
    pub fn new(options: &HttpOptions) -> Self {
        Self {
            max_attempts: options.max_attempts.max(1),
            patient_reads: options.patient_reads,
            base_delay: options.base_delay,
            max_delay: options.max_delay,
            deadline: options.deadline,
            not_after: options.not_after,
            request_timeout: options.timeout,
        }
    }

    /// The wait before retry number `retry` (1-based): uniform in
    /// `[0, min(max_delay, base_delay * 2^(retry-1))]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(
            1u32.checked_shl(retry.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        exp.min(self.max_delay).mul_f64(rand::random::<f64>())
    }

    /// The service's `Retry-After` when it gave a positive one, else [`RetryPolicy::backoff`].
    pub fn wait(&self, retry_after: Option<Duration>, retry: u32) -> Duration {
        retry_after
            .filter(|d| !d.is_zero())
            .unwrap_or_else(|| self.backoff(retry))
    }

    /// Starts counting the attempts of one call of `kind`; the deadline runs from now.
    pub fn start(&self, kind: CallKind) -> Attempts {
        let own = Instant::now() + self.deadline;
        Attempts {
            policy: *self,
            deadline: self.not_after.map_or(own, |end| end.min(own)),
            counted: kind == CallKind::Write || !self.patient_reads,
            attempts: 0,
            throttles: 0,
        }
    }

    /// Runs `attempt` until it succeeds or the policy gives up, sleeping between attempts, and
    /// returns its last error. Each attempt is given its timeout ([`Attempts::attempt_timeout`]);
    /// `judge` says what each failure means; `call` names the call in the `retrying` log line.
    pub async fn run<T, E, F, Fut>(
        &self,
        call: &str,
        kind: CallKind,
        mut attempt: F,
        judge: impl Fn(&E) -> Verdict,
    ) -> Result<T, E>
    where
        F: FnMut(Duration) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempts = self.start(kind);
        loop {
            attempts.begin();
            let error = match attempt(attempts.attempt_timeout()).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let wait = match attempts.next_delay(judge(&error)) {
                Ok(wait) => wait,
                Err(_) => return Err(error),
            };
            tracing::info!(
                wait_ms = wait.as_millis() as u64,
                attempt = attempts.attempts(),
                "retrying {call}"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// The attempts of one call so far, for callers that run their own loop (the AEP client holds
/// a host and a concurrency permit around each attempt). Call [`Attempts::begin`] before each
/// attempt and [`Attempts::next_delay`] after each failure.
#[derive(Debug, Clone)]
pub struct Attempts {
    policy: RetryPolicy,
    deadline: Instant,
    /// Whether passing failures count against the attempts (writes, or reads when reads are not
    /// patient).
    counted: bool,
    attempts: u32,
    throttles: u32,
}

impl Attempts {
    /// Counts an attempt about to be made.
    pub fn begin(&mut self) {
        self.attempts += 1;
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// When the call's deadline passes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// How long the next attempt may wait for its answer: the client's per-request timeout, or
    /// what is left before [`HttpOptions::not_after`] when that is less, so that no request
    /// outlives the command. (The call's own deadline only stops retries: cutting its last
    /// attempt short would turn the service's error into a timeout.)
    pub fn attempt_timeout(&self) -> Duration {
        let timeout = self.policy.request_timeout;
        match self.policy.not_after {
            Some(end) => timeout.min(end.saturating_duration_since(Instant::now())),
            None => timeout,
        }
    }

    /// What [`Attempts::deadline`] is, for messages: "this call's 120s deadline", or "the
    /// command's time limit" ([`HttpOptions::not_after`]).
    pub fn limit(&self) -> String {
        if self.ends_with_command() {
            "the command's time limit".to_owned()
        } else {
            format!("this call's {}s deadline", self.policy.deadline.as_secs())
        }
    }

    fn ends_with_command(&self) -> bool {
        self.policy.not_after == Some(self.deadline)
    }

    /// Why the call stops when its next attempt would start past [`Attempts::deadline`]: its
    /// own deadline, or the command's end.
    fn out_of_time(&self) -> GaveUp {
        let attempts = self.attempts;
        if self.ends_with_command() {
            GaveUp::CommandEnds { attempts }
        } else {
            GaveUp::Deadline {
                attempts,
                deadline: self.policy.deadline,
            }
        }
    }

    /// The wait a failure judged `verdict` asks for, counting it; `None` if it is not retryable.
    /// Whether the call may go on is [`Attempts::check`]'s answer.
    pub fn delay(&mut self, verdict: Verdict) -> Option<Duration> {
        match verdict {
            Verdict::Fail => None,
            Verdict::Immediately => Some(Duration::ZERO),
            Verdict::Throttled(retry_after) => {
                self.throttles += 1;
                Some(self.policy.wait(retry_after, self.throttles))
            }
            Verdict::Transient(retry_after) | Verdict::Counted(retry_after) => {
                let retry = self.attempts.saturating_sub(self.throttles);
                Some(self.policy.wait(retry_after, retry))
            }
        }
    }

    /// Whether another attempt may start after waiting `wait`, following a failure judged
    /// `verdict` (already counted by [`Attempts::delay`]).
    pub fn check(&self, verdict: Verdict, wait: Duration) -> Result<(), GaveUp> {
        let counted = self.attempts.saturating_sub(self.throttles);
        let limited = match verdict {
            Verdict::Throttled(_) => false,
            Verdict::Transient(_) | Verdict::Immediately => self.counted,
            Verdict::Counted(_) | Verdict::Fail => true,
        };
        if limited && counted >= self.policy.max_attempts {
            return Err(GaveUp::Attempts {
                attempts: self.attempts,
            });
        }
        if Instant::now() + wait > self.deadline {
            return Err(self.out_of_time());
        }
        Ok(())
    }

    /// After a failed attempt: how long to wait before the next one, or why not to make one.
    pub fn next_delay(&mut self, verdict: Verdict) -> Result<Duration, GaveUp> {
        let wait = self.delay(verdict).ok_or(GaveUp::NotRetryable)?;
        self.check(verdict, wait)?;
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_attempts: u32, deadline: Duration) -> RetryPolicy {
        RetryPolicy::new(&HttpOptions {
            max_attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            deadline,
            ..HttpOptions::default()
        })
    }

    #[test]
    fn transient_failures_of_writes_count_against_the_attempts_throttles_do_not() {
        let mut attempts = policy(3, Duration::from_secs(60)).start(CallKind::Write);
        for _ in 0..10 {
            attempts.begin();
            assert!(attempts.next_delay(Verdict::Throttled(None)).is_ok());
        }
        attempts.begin();
        assert!(attempts.next_delay(Verdict::Transient(None)).is_ok());
        attempts.begin();
        assert!(attempts.next_delay(Verdict::Transient(None)).is_ok());
        attempts.begin();
        assert_eq!(
            attempts.next_delay(Verdict::Transient(None)),
            Err(GaveUp::Attempts { attempts: 13 })
        );
        assert_eq!(
            attempts.next_delay(Verdict::Fail),
            Err(GaveUp::NotRetryable)
        );
    }

    #[test]
    fn retry_after_is_honoured_within_the_deadline() {
        let mut attempts = policy(5, Duration::from_secs(10)).start(CallKind::Read);
        attempts.begin();
        assert_eq!(
            attempts.next_delay(Verdict::Throttled(Some(Duration::from_secs(3)))),
            Ok(Duration::from_secs(3))
        );
        attempts.begin();
        assert_eq!(
            attempts.next_delay(Verdict::Throttled(Some(Duration::from_secs(30)))),
            Err(GaveUp::Deadline {
                attempts: 2,
                deadline: Duration::from_secs(10)
            })
        );
    }

    #[test]
    fn no_call_retries_past_not_after_whatever_its_deadline() {
        let ending = RetryPolicy::new(&HttpOptions {
            deadline: Duration::from_secs(120),
            not_after: Some(Instant::now() + Duration::from_secs(5)),
            ..HttpOptions::default()
        });
        let mut attempts = ending.start(CallKind::Read);
        attempts.begin();
        assert_eq!(
            attempts.check(Verdict::Transient(None), Duration::from_secs(4)),
            Ok(())
        );
        assert_eq!(
            attempts.check(Verdict::Transient(None), Duration::from_secs(6)),
            Err(GaveUp::CommandEnds { attempts: 1 })
        );
        // No attempt waits for its answer past the command's end either.
        let timeout = attempts.attempt_timeout();
        assert!(timeout <= Duration::from_secs(5), "{timeout:?}");
        assert!(timeout > Duration::from_secs(4), "{timeout:?}");
        let own = policy(3, Duration::from_millis(10)).start(CallKind::Read);
        assert_eq!(
            own.attempt_timeout(),
            HttpOptions::default().timeout,
            "the client's timeout, whatever is left of the call's own deadline"
        );
    }

    #[test]
    fn transient_failures_of_reads_are_bounded_by_the_deadline_only() {
        let mut attempts = policy(3, Duration::from_millis(300)).start(CallKind::Read);
        for _ in 0..20 {
            attempts.begin();
            assert!(attempts.next_delay(Verdict::Transient(None)).is_ok());
        }
        attempts.begin();
        assert!(matches!(
            attempts.next_delay(Verdict::Transient(Some(Duration::from_secs(1)))),
            Err(GaveUp::Deadline { attempts: 21, .. })
        ));
        let impatient = RetryPolicy::new(&HttpOptions {
            patient_reads: false,
            ..HttpOptions::default()
        });
        let mut attempts = impatient.start(CallKind::Read);
        for _ in 0..5 {
            attempts.begin();
        }
        assert_eq!(
            attempts.check(Verdict::Transient(None), Duration::ZERO),
            Err(GaveUp::Attempts { attempts: 5 })
        );
    }

    #[tokio::test]
    async fn run_returns_the_last_error_after_the_attempts() {
        let mut calls = 0;
        let result: Result<(), u32> = policy(3, Duration::from_secs(60))
            .run(
                "test",
                CallKind::Write,
                |_| {
                    calls += 1;
                    let n = calls;
                    async move { Err(n) }
                },
                |_| Verdict::Transient(None),
            )
            .await;
        assert_eq!(result, Err(3));
    }
}
