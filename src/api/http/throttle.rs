//! Shared rate limiting for one AEP client and its clones: a `Retry-After` hold per host
//! ([`Throttle`]) and an adaptive cap on requests in flight ([`Limiter`]), halved on 429 and
//! regrown on success.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded state stays consistent even if a holder panicked: every update is one assignment.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Hosts that answered 429, and until when nothing is sent to them.
#[derive(Default)]
pub(super) struct Throttle {
    until: Mutex<HashMap<String, Instant>>,
}

impl Throttle {
    pub(super) fn until(&self, host: &str) -> Option<Instant> {
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

    pub(super) fn hold(&self, host: &str, until: Instant) {
        let mut map = lock(&self.until);
        let entry = map.entry(host.to_owned()).or_insert(until);
        if *entry < until {
            *entry = until;
        }
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
