//! Shared rate limiting for one AEP client and its clones: a `Retry-After` hold per host
//! ([`Throttle`]), a pace per host learnt from 429s ([`Pace`]), and an adaptive cap on requests
//! in flight ([`Limiter`]), halved on 429 and regrown on success. The Zoho CRM client holds and
//! paces itself with the same [`Throttle`] and [`Pace`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded state stays consistent even if a holder panicked: every update is one assignment.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Hosts that answered 429, and until when nothing is sent to them.
#[derive(Default)]
pub(crate) struct Throttle {
    until: Mutex<HashMap<String, Instant>>,
}

impl Throttle {
    pub(crate) fn until(&self, host: &str) -> Option<Instant> {
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

    pub(crate) fn hold(&self, host: &str, until: Instant) {
        let mut map = lock(&self.until);
        let entry = map.entry(host.to_owned()).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }
}

/// The pace of requests to each host that has answered 429: a token bucket of one whose rate is
/// learnt from the 429s, so that a rate-limited service sees evenly spaced requests instead of
/// bursts that are half refused.
///
/// - Until a host answers 429 nothing is paced.
/// - On a 429 with a `Retry-After` (once per `Retry-After`, so that one burst counts once) the
///   rate becomes what the service let through in the last `Retry-After` (at least one second):
///   the answers other than 429 in that window, per second, and never more than [`CUT`] of the
///   rate before. A service that says "come back in N seconds" after M answers allows about M
///   per N seconds. Without a `Retry-After` there is no window to learn from.
/// - Each answer that is not a 429 raises the rate by [`GROWTH`], so a pace learnt too low
///   recovers, and probes the limit again only every few dozen requests.
#[derive(Default)]
pub(crate) struct Pace {
    hosts: Mutex<HashMap<String, HostPace>>,
}

/// The share of the previous rate a 429 leaves at most.
const CUT: f64 = 0.8;
/// The relative rise of the rate per answer that was let through.
const GROWTH: f64 = 0.005;
/// No slower than one request every ten seconds, whatever was learnt.
const MIN_RATE: f64 = 0.1;
/// How long answers are remembered for the estimate.
const MEMORY: Duration = Duration::from_secs(60);

struct HostPace {
    /// Requests per second; `None` until the host answers 429.
    rate: Option<f64>,
    /// When the next request may start.
    next: Instant,
    /// When recent answers other than 429 came back, oldest first.
    answered: VecDeque<Instant>,
    /// When the rate was last cut, and for how long that cut covers further 429s.
    cut: Option<(Instant, Duration)>,
}

impl HostPace {
    fn new(now: Instant) -> Self {
        Self {
            rate: None,
            next: now,
            answered: VecDeque::new(),
            cut: None,
        }
    }
}

impl Pace {
    /// Reserves the next start for a request to `host`: when it may be sent, if that is later
    /// than now.
    pub(crate) fn reserve(&self, host: &str) -> Option<Instant> {
        let mut hosts = lock(&self.hosts);
        let pace = hosts.get_mut(host)?;
        let rate = pace.rate?;
        let now = Instant::now();
        let at = pace.next.max(now);
        pace.next = at + Duration::from_secs_f64(1.0 / rate);
        (at > now).then_some(at)
    }

    /// An answer other than 429 came back from `host`.
    pub(crate) fn on_answer(&self, host: &str) {
        let now = Instant::now();
        let mut hosts = lock(&self.hosts);
        let pace = hosts
            .entry(host.to_owned())
            .or_insert_with(|| HostPace::new(now));
        pace.answered.push_back(now);
        while pace
            .answered
            .front()
            .is_some_and(|t| now.duration_since(*t) > MEMORY)
        {
            pace.answered.pop_front();
        }
        if let Some(rate) = &mut pace.rate {
            *rate *= 1.0 + GROWTH;
        }
    }

    /// `host` answered 429 and asked to wait `retry_after`. Without a positive `Retry-After` the
    /// service gave no window to learn a rate from, and nothing changes.
    pub(crate) fn on_throttle(&self, host: &str, retry_after: Option<Duration>) {
        let Some(retry_after) = retry_after.filter(|d| !d.is_zero()) else {
            return;
        };
        let now = Instant::now();
        let mut hosts = lock(&self.hosts);
        let pace = hosts
            .entry(host.to_owned())
            .or_insert_with(|| HostPace::new(now));
        if pace
            .cut
            .is_some_and(|(at, covers)| now.duration_since(at) < covers)
        {
            return;
        }
        let window = retry_after.max(Duration::from_secs(1));
        pace.cut = Some((now, window));
        let let_through = pace
            .answered
            .iter()
            .filter(|t| now.duration_since(**t) <= window)
            .count();
        let seen = let_through as f64 / window.as_secs_f64();
        let rate = match pace.rate {
            Some(before) if seen > 0.0 => seen.min(before * CUT),
            Some(before) => before * CUT * CUT,
            None if seen > 0.0 => seen,
            None => 1.0 / window.as_secs_f64(),
        }
        .max(MIN_RATE);
        pace.rate = Some(rate);
        pace.next = pace.next.max(now + retry_after);
        tracing::info!(
            host,
            requests_per_second = format!("{rate:.2}"),
            "rate limited: pacing requests"
        );
    }
}

/// An AIMD concurrency limit: halved on 429 (at most once per `cooldown`, so one burst of 429s
/// counts once), grown by one per `limit` successes, never above `max` nor below one.
pub(super) struct Limiter {
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

pub(super) struct Permit<'a> {
    limiter: &'a Limiter,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        lock(&self.limiter.state).in_flight -= 1;
        self.limiter.notify.notify_waiters();
    }
}

impl Limiter {
    pub(super) fn new(max: usize, cooldown: Duration) -> Self {
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

    pub(super) fn set_max(&self, max: usize) {
        let mut state = lock(&self.state);
        state.max = max.max(1);
        state.limit = state.limit.min(state.max as f64);
    }

    pub(super) fn current(&self) -> usize {
        lock(&self.state).allowed()
    }

    pub(super) async fn acquire(&self) -> Permit<'_> {
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

    pub(super) fn on_success(&self) {
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

    pub(super) fn on_throttle(&self) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_is_learnt_from_what_a_429_let_through() {
        let pace = Pace::default();
        assert_eq!(pace.reserve("h"), None, "nothing is paced before a 429");
        for _ in 0..3 {
            pace.on_answer("h");
        }
        pace.on_throttle("h", None);
        assert_eq!(
            pace.reserve("h"),
            None,
            "no Retry-After, no window to learn from"
        );
        pace.on_throttle("h", Some(Duration::from_secs(1)));
        // Three answers in the last second: three a second, so a third of a second apart,
        // after the Retry-After.
        let first = pace.reserve("h").expect("paced");
        let second = pace.reserve("h").expect("paced");
        let gap = second.duration_since(first);
        assert!(
            gap >= Duration::from_millis(330) && gap <= Duration::from_millis(340),
            "{gap:?}"
        );
        assert!(first >= Instant::now() + Duration::from_millis(900));
        // A second 429 inside the same Retry-After counts once.
        pace.on_throttle("h", Some(Duration::from_secs(1)));
        let third = pace.reserve("h").expect("paced");
        assert_eq!(third.duration_since(second), gap);
        assert_eq!(Pace::default().reserve("other"), None);
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
}
