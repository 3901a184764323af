//! Stopping a run between writes (docs/cli.md#safety-rules, "Interrupts"): the command that owns
//! a run hands the engine a [`Cancel`]; once it is cancelled, the engine starts no new write
//! (each create, update and delete checks it first), and a write already in flight is given
//! [`Cancel::grace`] to finish before it is abandoned. `apply`, `destroy` and `import` share it
//! through [`super::ledger::Ledger`], which every write goes through.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// How long writes in flight may take to finish once a run is cancelled.
pub const GRACE: Duration = Duration::from_secs(10);

/// The error of a write abandoned when the grace after an interrupt ran out.
const ABANDONED: &str = "interrupted while the request was in flight: it may have been carried \
                         out; the next run finds it and does not repeat it";

/// A cancellation flag shared by the tasks of one run; clones share it.
#[derive(Debug, Clone)]
pub struct Cancel {
    flag: Arc<watch::Sender<bool>>,
    grace: Duration,
}

impl Default for Cancel {
    fn default() -> Self {
        Self::new(GRACE)
    }
}

impl Cancel {
    /// A token not cancelled yet, whose writes in flight get `grace` once it is.
    pub fn new(grace: Duration) -> Self {
        Self {
            flag: Arc::new(watch::Sender::new(false)),
            grace,
        }
    }

    /// Stops new writes; idempotent.
    pub fn cancel(&self) {
        self.flag.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.flag.borrow()
    }

    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Resolves once the run is cancelled.
    pub async fn cancelled(&self) {
        let mut seen = self.flag.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = seen.wait_for(|cancelled| *cancelled).await;
    }

    /// Resolves [`Cancel::grace`] after the run is cancelled: a write still in flight then is
    /// abandoned.
    pub async fn expired(&self) {
        self.cancelled().await;
        tokio::time::sleep(self.grace).await;
    }

    /// Runs the write `work`, abandoned (an error saying it may have been carried out) when the
    /// grace after a cancel ends first.
    pub async fn guard<T>(
        &self,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        tokio::select! {
            biased;
            result = work => result,
            () = self.expired() => Err(anyhow::anyhow!(ABANDONED)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_in_flight_is_given_the_grace_after_the_cancel_and_no_longer() {
        let cancel = Cancel::new(Duration::from_millis(300));
        let expired = tokio::spawn({
            let cancel = cancel.clone();
            async move { cancel.expired().await }
        });
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(!expired.is_finished(), "expired before any cancel");
        assert!(!cancel.is_cancelled());
        cancel.cancel();
        assert!(cancel.is_cancelled());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!expired.is_finished(), "expired before the grace ended");
        tokio::time::timeout(Duration::from_secs(5), expired)
            .await
            .expect("expired once the grace ended")
            .expect("the task ran");
    }
}
