//! The rows of an `apply` or `destroy` as its steps end: each step is shown on the progress
//! display and records the id its object ended with, or its error.

use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use super::plan::{Change, Row};
use super::ObjectId;
use crate::progress::Progress;

/// A step failed; its row carries the message.
#[derive(Debug)]
pub struct Failed;

pub struct Ledger<'a> {
    changes: Mutex<Vec<Change>>,
    pub progress: &'a Progress,
}

impl<'a> Ledger<'a> {
    pub fn new(changes: Vec<Change>, progress: &'a Progress) -> Self {
        Self {
            changes: Mutex::new(changes),
            progress,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Vec<Change>> {
        // A panic while holding the lock cannot happen (only plain field writes happen under
        // it); recover the data rather than propagate a poison.
        self.changes.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn change(&self, row: Row) -> Change {
        self.lock()[row].clone()
    }

    pub fn changes(&self) -> Vec<Change> {
        self.lock().clone()
    }

    /// Runs `work` for the change at `row` with progress shown, and records the id it ends
    /// with or the error.
    pub async fn step<T, F>(&self, row: Row, work: F) -> Result<T, Failed>
    where
        T: Clone + Into<ObjectId>,
        F: Future<Output = anyhow::Result<T>>,
    {
        let shown = self.progress.start(&self.change(row));
        match work.await {
            Ok(value) => {
                let id: ObjectId = value.clone().into();
                shown.done(Some(id.as_str()));
                self.lock()[row].id = Some(id);
                Ok(value)
            }
            Err(error) => {
                let message = format!("{error:#}");
                shown.failed(&message);
                self.lock()[row].error = Some(message);
                Err(Failed)
            }
        }
    }

    /// Records `message` as the error of the change at `row`.
    pub fn fail(&self, row: Row, message: String) {
        self.progress.note(&format!("error: {message}"));
        self.lock()[row].error = Some(message);
    }
}
