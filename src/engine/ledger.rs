//! The rows of an `apply` or `destroy` as its steps end: each step is shown on the progress
//! display and records the id its object ended with, or its error.

use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use super::plan::{Action, Change, Outcome, Row};
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
                let mut changes = self.lock();
                changes[row].id = Some(id);
                changes[row].outcome = Some(Outcome::Done);
                Ok(value)
            }
            Err(error) => {
                let message = format!("{error:#}");
                shown.failed(&message);
                self.fail_quietly(row, message);
                Err(Failed)
            }
        }
    }

    /// Records `message` as the error of the change at `row`.
    pub fn fail(&self, row: Row, message: String) {
        self.progress.note(&format!("error: {message}"));
        self.fail_quietly(row, message);
    }

    /// Records `message` as the error of the change at `row`, without a progress note.
    pub fn fail_quietly(&self, row: Row, message: String) {
        let mut changes = self.lock();
        changes[row].error = Some(message);
        changes[row].outcome = Some(Outcome::Failed);
    }

    /// A step done on `row` that leaves its id as it is (a delete completing a replace).
    pub fn done(&self, row: Row) {
        let mut changes = self.lock();
        if changes[row].outcome != Some(Outcome::Failed) {
            changes[row].outcome = Some(Outcome::Done);
        }
    }

    /// The changes at the end of the run, each with its outcome: a row no step finished was
    /// not attempted (a `noop` needed nothing, so it is done).
    pub fn settled(&self) -> Vec<Change> {
        let mut changes = self.changes();
        for change in &mut changes {
            change
                .outcome
                .get_or_insert(if change.action == Action::Noop {
                    Outcome::Done
                } else {
                    Outcome::NotAttempted
                });
        }
        changes
    }
}
