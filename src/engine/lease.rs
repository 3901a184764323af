//! The apply lease: while one `apply` writes a profile's objects, no other `apply` of that
//! profile does, so creates need no twin check (one list per create) to stay unique.
//!
//! The lease lives in the profile's base connection: its description's marker ends with
//! `; lease <run> until <RFC 3339 time>`, written with a PATCH carrying `If-Match` (the etag
//! the apply observed). Flow Service answers `412` when the etag is stale
//! (docs/aep-api.md#etags), so two applies cannot both take it: the loser re-reads. An apply
//! that sees another run's unexpired lease waits for it (`--lock-timeout`) and then observes
//! and plans again; an expired lease (a killed run) is taken over. The holder renews the lease
//! while it works and removes it at the end. A no-op apply takes no lease.
//!
//! A fresh apply has no base connection to lock: it creates one carrying its lease, and the
//! base connection's own twin check decides which of two concurrent runs holds it; the other
//! deletes its twin, waits for the lease and plans again.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use super::apply::Prepared;
use super::naming::{self, LEASE_TAG};
use super::plan::BaseStep;
use crate::api::connections;
use crate::api::{AepClient, ApiError, ConnectionId, Etag, PatchOp};

/// How long a lease lasts unless renewed; the holder renews it every third of this.
pub const TTL: Duration = Duration::from_secs(120);
/// How often a waiting apply reads the base connection again.
const POLL: Duration = Duration::from_secs(1);

/// Another run's lease, as its description says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub run: String,
    pub until: DateTime<Utc>,
}

impl Holder {
    fn live(&self, run: &str, now: DateTime<Utc>) -> bool {
        self.run != run && self.until > now
    }
}

/// The lease a base connection's description carries, if any.
pub fn holder(description: Option<&str>) -> Option<Holder> {
    let inner = description?.strip_suffix(')')?;
    let lease = naming::split_lease(inner).1?;
    let (run, until) = lease.split_once(" until ")?;
    let until = DateTime::parse_from_rfc3339(until)
        .ok()?
        .with_timezone(&Utc);
    Some(Holder {
        run: run.to_owned(),
        until,
    })
}

/// `description` without its lease.
pub fn strip(description: &str) -> String {
    match description.strip_suffix(')').map(naming::split_lease) {
        Some((kept, Some(_))) => format!("{kept})"),
        _ => description.to_owned(),
    }
}

/// `description` carrying the lease of `run` until `until` (replacing any lease it had).
pub fn with_lease(description: &str, run: &str, until: DateTime<Utc>) -> String {
    let plain = strip(description);
    let lease = format!(
        "{LEASE_TAG}{run} until {}",
        until.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    match plain.strip_suffix(')') {
        Some(kept) => format!("{kept}{lease})"),
        None => format!("({plain}{lease})"),
    }
}

fn expiry() -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(TTL).unwrap_or_else(|_| chrono::Duration::minutes(2))
}

/// The lease this run holds (or will hold once its base connection is created).
pub struct Lease {
    run: String,
    connection: OnceLock<ConnectionId>,
    /// The etag and description this run last wrote.
    written: Mutex<(Option<Etag>, String)>,
}

/// What [`take`] found.
pub enum Take {
    /// The lease is this run's: apply the plan.
    Held(Lease),
    /// Another run holds it until the time given.
    Busy(ConnectionId, Holder),
    /// The base connection changed since it was observed (another run took or released the
    /// lease): observe and plan again.
    Changed,
}

impl Lease {
    pub fn run(&self) -> &str {
        &self.run
    }

    /// Records the base connection this run created with its lease in the description, and the
    /// etag its create answered with (so that letting the lease go is one PATCH).
    pub fn created(&self, id: &ConnectionId, etag: Option<Etag>) {
        let _ = self.connection.set(id.clone());
        self.written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0 = etag;
    }

    /// Records what the base connection's update wrote (its description carries the lease).
    pub fn updated(&self, etag: Option<Etag>, description: &str) {
        self.write(etag, description.to_owned());
    }

    fn written(&self) -> (Option<Etag>, String) {
        self.written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn write(&self, etag: Option<Etag>, description: String) {
        *self.written.lock().unwrap_or_else(PoisonError::into_inner) = (etag, description);
    }

    /// Runs `work` while renewing the lease every third of its [`TTL`] (beside it: `work` goes
    /// on while a renewal is in flight).
    pub async fn hold<F: std::future::Future>(&self, client: &AepClient, work: F) -> F::Output {
        let renewals = async {
            let period = TTL / 3;
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                tick.tick().await;
                self.renew(client).await;
            }
        };
        tokio::select! {
            out = work => out,
            () = renewals => unreachable!("renewals never end"),
        }
    }

    async fn renew(&self, client: &AepClient) {
        match self.send(client, false).await {
            Ok(()) => tracing::debug!(run = %self.run, "apply lease renewed"),
            Err(e) => {
                tracing::warn!(run = %self.run, error = %e, "could not renew the apply lease")
            }
        }
    }

    /// Removes the lease from the base connection's description (another run may then write).
    pub async fn release(&self, client: &AepClient) {
        if let Err(e) = self.send(client, true).await {
            tracing::warn!(run = %self.run, error = %e, "could not release the apply lease; it expires by itself");
        }
    }

    /// The description this run's lease gives `description`: without it (`release`) or
    /// renewed.
    fn leased(&self, description: &str, release: bool) -> String {
        if release {
            strip(description)
        } else {
            with_lease(description, &self.run, expiry())
        }
    }

    /// PATCHes the description (renewed or released lease) with the etag last written; when
    /// that is unknown or stale, reads the connection and, while it still carries this run's
    /// lease, writes on what it holds now (so that a description changed meanwhile keeps its
    /// text).
    async fn send(&self, client: &AepClient, release: bool) -> anyhow::Result<()> {
        let Some(id) = self.connection.get() else {
            return Ok(());
        };
        let (etag, written) = self.written();
        if let Some(tag) = etag {
            let wanted = self.leased(&written, release);
            match patch_description(client, id, &tag, &wanted).await {
                Ok(tag) => {
                    self.write(tag, wanted);
                    return Ok(());
                }
                Err(e) if super::ensure::stale_or_lost(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let Some(fresh) = connections::get_connection(client, id).await? else {
            return Ok(());
        };
        let ours = holder(fresh.description.as_deref()).is_some_and(|h| h.run == self.run);
        let (Some(tag), true) = (fresh.etag, ours) else {
            return Ok(());
        };
        let wanted = self.leased(fresh.description.as_deref().unwrap_or_default(), release);
        let tag = patch_description(client, id, &tag, &wanted).await?;
        self.write(tag, wanted);
        Ok(())
    }
}

async fn patch_description(
    client: &AepClient,
    id: &ConnectionId,
    etag: &Etag,
    description: &str,
) -> Result<Option<Etag>, ApiError> {
    let ops = &[PatchOp::replace("/description", description)];
    Ok(connections::patch_connection(client, id, etag, ops)
        .await?
        .etag)
}

/// Takes the lease for `run` before `prepared.plan` is applied. With no base connection yet, the
/// create in the plan carries the lease (`prepared.desired` is changed to say so); otherwise the
/// lease is written on the observed base connection with its observed etag.
pub async fn take(client: &AepClient, prepared: &mut Prepared, run: &str) -> anyhow::Result<Take> {
    let until = expiry();
    let desired = &mut prepared.desired.base.description;
    *desired = with_lease(desired, run, until);
    let connection = match &mut prepared.plan.base {
        BaseStep::Create { .. } => {
            return Ok(Take::Held(Lease {
                run: run.to_owned(),
                connection: OnceLock::new(),
                written: Mutex::new((None, desired.clone())),
            }))
        }
        BaseStep::Keep { connection, .. } | BaseStep::Update { connection, .. } => connection,
    };
    if let Some(h) = holder(connection.description.as_deref()) {
        if h.live(run, Utc::now()) {
            return Ok(Take::Busy(connection.id.clone(), h));
        }
    }
    let current = connection.description.clone().unwrap_or_default();
    let wanted = with_lease(&current, run, until);
    let Some(etag) = connection.etag.clone() else {
        anyhow::bail!(
            "base connection {} has no etag, so apply cannot lock it; run apply again",
            connection.id
        );
    };
    match patch_description(client, &connection.id, &etag, &wanted).await {
        Ok(tag) => {
            connection.etag.clone_from(&tag);
            connection.description = Some(wanted.clone());
            Ok(Take::Held(Lease {
                run: run.to_owned(),
                connection: OnceLock::from(connection.id.clone()),
                written: Mutex::new((tag, wanted)),
            }))
        }
        Err(e) if e.is_precondition_failed() => Ok(Take::Changed),
        Err(e) => Err(anyhow::anyhow!(
            "could not lock base connection {} for this apply: {e}",
            connection.id
        )),
    }
}

/// Waits until no other run's unexpired lease is on base connection `id`, reading it every
/// second, until `deadline`. `Err` names the holder when the deadline passed first.
pub async fn wait(
    client: &AepClient,
    id: &ConnectionId,
    run: &str,
    mut holder_now: Holder,
    deadline: tokio::time::Instant,
) -> anyhow::Result<Result<(), Holder>> {
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(Err(holder_now));
        }
        tokio::time::sleep(POLL.min(deadline - now)).await;
        let Some(fresh) = connections::get_connection(client, id).await? else {
            return Ok(Ok(()));
        };
        match holder(fresh.description.as_deref()) {
            Some(h) if h.live(run, Utc::now()) => holder_now = h,
            _ => return Ok(Ok(())),
        }
    }
}

/// A new run id: what a lease names.
pub fn run_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("apply-{}", &id[..12])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kinds::base;

    #[test]
    fn a_lease_rides_in_the_marker_and_comes_off_again() {
        let plain = "Zoho (managed by provision: p; auth 0123456789ab)";
        let until = DateTime::parse_from_rfc3339("2026-12-06T09:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .ok();
        let Some(until) = until else {
            panic!("bad test time")
        };
        let leased = with_lease(plain, "apply-1", until);
        assert_eq!(
            leased,
            "Zoho (managed by provision: p; auth 0123456789ab; lease apply-1 until 2026-12-06T09:00:00Z)"
        );
        assert_eq!(
            holder(Some(&leased)),
            Some(Holder {
                run: "apply-1".into(),
                until
            })
        );
        assert_eq!(strip(&leased), plain);
        assert_eq!(
            with_lease(&leased, "apply-2", until)
                .matches("lease")
                .count(),
            1
        );
        assert!(crate::engine::naming::is_owned(Some(&leased), "p"));
        assert_eq!(
            base::parse_description(&leased, "p"),
            Some((Some("Zoho"), Some("0123456789ab")))
        );
        assert_eq!(holder(Some(plain)), None);
        let bare = with_lease("managed by provision: p", "r", until);
        assert!(crate::engine::naming::is_owned(Some(&bare), "p"));
    }
}
