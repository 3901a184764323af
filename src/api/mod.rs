//! The Adobe Experience Platform API client: `http/` holds the authenticated client (headers,
//! errors, paging, rate limiting); each other file is one REST resource with one function per
//! endpoint. The retry policy and the error type live one layer down, in [`crate::transport`]
//! (`api::error` is that module, re-exported where it always was).

pub mod catalog;
pub mod connections;
pub mod crm;
pub mod dataprep;
pub mod explore;
pub mod flows;
pub mod http;
pub mod ids;
pub mod patch;
pub mod runs;
pub mod schemas;
pub mod source;
pub mod specs;
pub mod target;
pub mod wire;

pub use crate::transport::error;

pub use error::{ApiError, ApiErrorKind};
pub use http::{AepClient, AepSettings, HttpOptions, Query, Service};
pub use ids::*;
pub use patch::PatchOp;
pub use wire::Created;

/// Items per page asked of Flow Service lists that may be long (a profile's objects, runs).
/// flow-service.yaml gives `limit` no maximum, and a service that returns fewer items than
/// asked links the rest with `_links.next.href`, which is always followed; so a page this size
/// is never wrong, and it lets one request read every object of a kind for a profile of up to
/// 1000 modules (an unchanged re-apply then costs the same number of requests for 10 modules
/// or 500).
pub const LIST_LIMIT: usize = 1000;
