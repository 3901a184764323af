//! The emulator's two clocks. Dataflow runs follow the *emulated* clock, which `--time-scale`
//! speeds up so that an hourly flow runs every few seconds. Credentials (IMS tokens, Zoho grant
//! codes, access tokens and refresh throttling) follow the *wall* clock, which the time scale
//! leaves alone: at a scale of 3600 a 3-minute grant code would otherwise expire in 50 ms.
//! [`Clock::advance`] moves both forward, so tests can expire tokens and trigger runs at once.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

pub struct Clock {
    origin: Instant,
    origin_epoch_ms: i64,
    scale: f64,
    advanced_ms: AtomicI64,
}

impl Clock {
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Self {
            origin: Instant::now(),
            origin_epoch_ms: chrono::Utc::now().timestamp_millis(),
            scale,
            advanced_ms: AtomicI64::new(0),
        }
    }

    fn elapsed_ms(&self) -> f64 {
        self.origin.elapsed().as_secs_f64() * 1000.0
    }

    /// Emulated epoch milliseconds: real time since start times the scale, plus advances.
    pub fn now_ms(&self) -> i64 {
        self.origin_epoch_ms
            + (self.elapsed_ms() * self.scale) as i64
            + self.advanced_ms.load(Ordering::Relaxed)
    }

    /// Unscaled epoch milliseconds (real time plus advances), for credential lifetimes.
    pub fn wall_ms(&self) -> i64 {
        self.origin_epoch_ms + self.elapsed_ms() as i64 + self.advanced_ms.load(Ordering::Relaxed)
    }

    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 4);
        self.advanced_ms.fetch_add(ms, Ordering::Relaxed);
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_both_clocks_and_scale_only_the_emulated_one() {
        let clock = Clock::new(3600.0);
        let (now, wall) = (clock.now_ms(), clock.wall_ms());
        clock.advance(Duration::from_secs(60));
        assert!(clock.now_ms() - now >= 60_000);
        assert!(clock.wall_ms() - wall >= 60_000);
        std::thread::sleep(Duration::from_millis(20));
        // 20 ms of real time is more than a minute of emulated time, and only 20 ms of wall time.
        assert!(clock.now_ms() - now >= 60_000 + 60_000);
        assert!(clock.wall_ms() - wall < 60_000 + 5_000);
    }
}
