//! The rows of an `apply` or `destroy` as its steps end: each step is shown on the progress
//! display and records the id its object ended with, or its error. Every write goes through
//! [`Ledger::step`] or [`Ledger::delete`], which start none once the run's [`Cancel`] is
//! cancelled and abandon one still in flight when its grace runs out.

use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use super::cancel::Cancel;
use super::plan::{Action, Change, Outcome, Row};
use super::ObjectId;
use crate::progress::Progress;

/// A step failed; its row carries the message.
#[derive(Debug)]
pub struct Failed;

pub struct Ledger<'a> {
    changes: Mutex<Vec<Change>>,
    pub progress: &'a Progress,
    cancel: Cancel,
}

impl<'a> Ledger<'a> {
    pub fn new(changes: Vec<Change>, progress: &'a Progress, cancel: &Cancel) -> Self {
        Self {
            changes: Mutex::new(changes),
            progress,
            cancel: cancel.clone(),
        }
    }

    /// Whether the write for `row` may start; once the run is cancelled it may not, and the
    /// row is `not_attempted`.
    fn may_start(&self, row: Row) -> bool {
        if !self.cancel.is_cancelled() {
            return true;
        }
        self.not_attempted(row);
        false
    }

    fn not_attempted(&self, row: Row) {
        let mut changes = self.lock();
        if changes[row].outcome.is_none() {
            changes[row].outcome = Some(Outcome::NotAttempted);
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
        if !self.may_start(row) {
            return Err(Failed);
        }
        let shown = self.progress.start(&self.change(row));
        match self.cancel.guard(work).await {
            Ok(value) => {
                let id: ObjectId = value.clone().into();
                shown.done(Some(id.as_str()));
                let mut changes = self.lock();
                changes[row].id = Some(id);
                changes[row].outcome = Some(Outcome::Done);
                Ok(value)
            }
            Err(error) => {
                shown.failed();
                self.record_failure(row, format!("{error:#}"));
                Err(Failed)
            }
        }
    }

    /// Deletes `id` for the change at `row` (a delete row, or the old object of a replace)
    /// through `work`, shown as `shown_as`; the row ends `done` (a delete row with the id).
    pub async fn delete(
        &self,
        row: Row,
        id: &ObjectId,
        shown_as: &Change,
        work: impl Future<Output = anyhow::Result<()>>,
    ) -> Result<(), Failed> {
        let deleting = self.change(row).action == Action::Delete;
        if self.cancel.is_cancelled() {
            // The old object of a replace stays for the next run; the replace itself is done.
            if deleting {
                self.not_attempted(row);
            }
            return Err(Failed);
        }
        let shown = self.progress.start(shown_as);
        match self.cancel.guard(work).await {
            Ok(()) => {
                shown.done(Some(id.as_str()));
                if deleting {
                    self.lock()[row].id = Some(id.clone());
                }
                self.done(row);
                Ok(())
            }
            Err(error) => {
                shown.failed();
                self.record_failure(row, format!("{error:#}"));
                Err(Failed)
            }
        }
    }

    /// Records `message` as the error of the change at `row`.
    pub fn fail(&self, row: Row, message: String) {
        let change = self.change(row);
        // The message itself is printed once, with the result.
        self.progress
            .note(&format!("failed: {} {}", change.kind, change.name));
        self.record_failure(row, message);
    }

    fn record_failure(&self, row: Row, message: String) {
        let mut changes = self.lock();
        changes[row].error = Some(message);
        changes[row].outcome = Some(Outcome::Failed);
    }

    /// A step done on `row` that leaves its id as it is (a delete completing a replace).
    fn done(&self, row: Row) {
        let mut changes = self.lock();
        if changes[row].outcome != Some(Outcome::Failed) {
            changes[row].outcome = Some(Outcome::Done);
        }
    }

    /// The changes at the end of the run, each with its outcome: a row no step finished was
    /// not attempted (a `noop` needed nothing, so it is done). After an interrupt, the rows
    /// whose writes were never started are the `not_attempted` ones.
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
