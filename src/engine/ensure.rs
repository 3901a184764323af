//! Creates one object without ever duplicating it: the one create path every kind uses. Also
//! the PATCH apply and import send to base connections and dataflows ([`patch_with_reread`]):
//! sent with the etag the object was read with, and re-read once when that etag went stale or
//! the answer was lost.

use std::fmt;
use std::future::Future;

use super::ObjectId;
use crate::api::error::ApiErrorKind;
use crate::api::{AepClient, ApiError, Created, Etag, PatchOp};
use crate::transport::{CallKind, Verdict};

/// One object a lookup found.
pub struct Found<I> {
    pub id: I,
    /// Epoch milliseconds, when the service says.
    pub created_at: Option<i64>,
}

impl<I> Found<I> {
    /// The listed objects `equivalent` accepts, with the id and creation time `id_at` reads.
    pub fn among<T>(
        listed: Vec<T>,
        equivalent: impl Fn(&T) -> bool,
        id_at: impl Fn(T) -> (I, Option<i64>),
    ) -> Vec<Self> {
        listed
            .into_iter()
            .filter(|t| equivalent(t))
            .map(|t| {
                let (id, created_at) = id_at(t);
                Self { id, created_at }
            })
            .collect()
    }
}

/// A create of one kind, as [`ensure_leased`] and [`ensure_checked_beside`] run it: the request
/// and the lookup used before sending it again. Each kind's module implements it for its create
/// body.
///
/// (`async fn` without a `Send` bound: the futures are awaited by the task that runs the apply,
/// never spawned.)
#[allow(async_fn_in_trait)]
pub trait Create {
    type Id: Clone + Ord + fmt::Display + Into<ObjectId>;

    /// Sends the create.
    async fn create(&self, client: &AepClient) -> Result<Self::Id, ApiError>;

    /// The objects equivalent to the one being created (same name, owned, same content) that
    /// did not exist when the plan was made.
    async fn lookup(&self, client: &AepClient) -> Result<Vec<Found<Self::Id>>, ApiError>;
}

/// Whether a failed write may still have been carried out (no answer, or a server error).
pub fn may_have_committed(error: &ApiError) -> bool {
    match error.kind {
        ApiErrorKind::Transport | ApiErrorKind::Decode => true,
        ApiErrorKind::Status => error.status.is_some_and(|s| s >= 500),
    }
}

/// A PATCH that must be recomputed from a fresh read: its etag was stale (412), or it may have
/// been carried out without an answer.
pub fn stale_or_lost(error: &ApiError) -> bool {
    error.is_precondition_failed() || may_have_committed(error)
}

/// The error for an object that came back without the etag a PATCH needs.
pub fn missing_etag(what: &str, id: &str) -> ApiError {
    ApiError::decode(
        &format!("GET {what} {id}"),
        format!("the {what} {id} came back without an etag, which a PATCH needs"),
    )
}

/// A kind of object [`patch_with_reread`] patches: how it is read again, and how its errors and
/// log line name it.
#[allow(async_fn_in_trait)]
pub trait Patchable: Sized {
    type Id: fmt::Display;

    /// How errors and the log name the kind ("dataflow" in "dataflow {id} disappeared while it
    /// was being updated").
    const NAME: &'static str;

    fn etag(&self) -> Option<Etag>;

    /// Reads the object again; `None` when it no longer exists.
    async fn read(client: &AepClient, id: &Self::Id) -> Result<Option<Self>, ApiError>;
}

/// Sends `body` as a PATCH of object `id` with `etag`, the one it was read with. When that fails
/// as [`stale_or_lost`], or there was no etag to send ([`missing_etag`], a decode error, so
/// handled the same way: the read may just have lacked it), the object is read again and
/// `remaining` says what of the change the fresh object still lacks: that is sent once more with
/// the fresh etag, or nothing when it lacks nothing. A fresh object without an etag fails as
/// [`missing_etag`]. Returns the etag the object ended with.
pub async fn patch_with_reread<T, B, R, F, Fut>(
    client: &AepClient,
    id: &T::Id,
    etag: Option<Etag>,
    body: B,
    send: F,
    remaining: impl FnOnce(&T) -> Option<B>,
) -> anyhow::Result<Option<Etag>>
where
    T: Patchable,
    F: Fn(Etag, B) -> Fut,
    Fut: Future<Output = Result<Created<R>, ApiError>>,
{
    let missing = || missing_etag(T::NAME, &id.to_string());
    let first = match etag {
        Some(tag) => send(tag, body).await,
        None => Err(missing()),
    };
    match first {
        Ok(done) => Ok(done.etag),
        Err(e) if stale_or_lost(&e) => {
            tracing::info!(kind = T::NAME, id = %id, error = %e, "re-reading the object before patching again");
            let fresh = T::read(client, id).await?.ok_or_else(|| {
                anyhow::anyhow!(
                    "{} {id} disappeared while it was being updated; run apply again",
                    T::NAME
                )
            })?;
            let Some(body) = remaining(&fresh) else {
                return Ok(fresh.etag());
            };
            let tag = fresh.etag().ok_or_else(missing)?;
            Ok(send(tag, body).await?.etag)
        }
        Err(e) => Err(e.into()),
    }
}

/// The `remaining` answer of a [`patch_with_reread`] that sends a list of ops, from the ops the
/// fresh object still lacks: nothing to send when it lacks none.
pub fn unless_empty(ops: Vec<PatchOp>) -> Option<Vec<PatchOp>> {
    (!ops.is_empty()).then_some(ops)
}

/// What [`ensure_checked_beside`] ended with: the object to use, and whether this run made it.
#[derive(Clone)]
pub struct Ensured<I> {
    pub id: I,
    /// `false` when a concurrent run's object (or one found after a lost answer) is used.
    pub ours: bool,
}

/// The object's id, as a ledger row records it.
impl<I: Into<ObjectId>> From<Ensured<I>> for ObjectId {
    fn from(ensured: Ensured<I>) -> Self {
        ensured.id.into()
    }
}

/// Creates `new` while this run holds the profile's lease (`engine::lease`): no other apply
/// writes the profile's objects meanwhile, so no twin check follows the create. A create that
/// may have committed without an answer is still looked up before it is sent again.
pub async fn ensure_leased<C: Create>(client: &AepClient, new: &C) -> Result<C::Id, ApiError> {
    match create_once(client, new).await? {
        Sent::Created(id) | Sent::Found(id) => Ok(id),
    }
}

/// What the create loop ended with.
enum Sent<I> {
    /// This run's create answered with the id.
    Created(I),
    /// A lost answer was followed by a lookup that found the object.
    Found(I),
}

/// Sends the create. When it fails in a way that may hide a commit ([`may_have_committed`]), the
/// lookup looks for the object; it is created again only when absent, with the backoff and
/// deadline `client`'s retry policy gives a read.
async fn create_once<C: Create>(client: &AepClient, new: &C) -> Result<Sent<C::Id>, ApiError> {
    // Once the look-up has shown the object absent, sending the create again is as safe as a
    // read: it is repeated for as long as the retry policy's deadline allows.
    let mut attempts = client.retry_policy().start(CallKind::Read);
    loop {
        attempts.begin();
        match new.create(client).await {
            Ok(id) => return Ok(Sent::Created(id)),
            Err(e) if may_have_committed(&e) => {
                tracing::warn!(error = %e, "the create may have been carried out; looking it up before trying again");
                if let Some(found) = oldest(new.lookup(client).await?) {
                    return Ok(Sent::Found(found.id));
                }
                match attempts.next_delay(Verdict::Transient(e.retry_after)) {
                    Ok(wait) => tokio::time::sleep(wait).await,
                    Err(_) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Creates `new` without ever duplicating it, with no lease held (the base connection, which
/// carries the lease).
///
/// - The create is sent ([`create_once`]: a lost answer is looked up before sending again).
/// - After a create, the lookup runs again: a twin made at the same moment by a concurrent run
///   is resolved by keeping the oldest (`createdAt`, then id); when that is not ours, ours is
///   deleted with `delete` and the survivor is used.
/// - `beside` runs with the new object's id while that twin check runs: work that only reads
///   through the object, and is wasted, not wrong, when a twin survives. What it returns comes
///   back with the object; `None` when no create of this run answered (`beside` did not run).
pub async fn ensure_checked_beside<C, F, Fut, T, D, DFut>(
    client: &AepClient,
    new: &C,
    beside: F,
    delete: D,
) -> Result<(Ensured<C::Id>, Option<T>), ApiError>
where
    C: Create,
    F: FnOnce(C::Id) -> Fut,
    Fut: Future<Output = T>,
    D: FnOnce(C::Id) -> DFut,
    DFut: Future<Output = Result<(), ApiError>>,
{
    let ours = match create_once(client, new).await? {
        Sent::Created(id) => id,
        Sent::Found(id) => return Ok((Ensured { id, ours: false }, None)),
    };
    let (found, beside) = futures::join!(new.lookup(client), beside(ours.clone()));
    let found = found?;
    let mine = found.iter().find(|f| f.id == ours).map(|f| f.created_at);
    let older_twin = oldest(found.into_iter().filter(|f| f.id != ours).collect()).filter(|twin| {
        // Ours is older only when the service shows it with an earlier (createdAt, id).
        mine.is_none_or(|at| key(at, &ours) > key(twin.created_at, &twin.id))
    });
    let ensured = match older_twin {
        None => Ensured {
            id: ours,
            ours: true,
        },
        Some(survivor) => {
            tracing::warn!(ours = %ours, survivor = %survivor.id, "a concurrent run created the same object first; keeping the oldest");
            if let Err(e) = delete(ours.clone()).await {
                tracing::warn!(id = %ours, error = %e, "could not delete the duplicate; the next apply deletes it");
            }
            Ensured {
                id: survivor.id,
                ours: false,
            }
        }
    };
    Ok((ensured, Some(beside)))
}

fn key<I: Ord + Clone>(at: Option<i64>, id: &I) -> (i64, I) {
    (at.unwrap_or(i64::MAX), id.clone())
}

fn oldest<I: Ord + Clone>(found: Vec<Found<I>>) -> Option<Found<I>> {
    found.into_iter().min_by_key(|f| key(f.created_at, &f.id))
}
