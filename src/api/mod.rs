//! The Adobe Experience Platform API client: `http.rs` holds the transport (auth headers,
//! errors, paging); each other file is one REST resource with one function per endpoint.

pub mod catalog;
pub mod connections;
pub mod dataprep;
pub mod error;
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

pub use error::{ApiError, ApiErrorKind};
pub use http::{AepClient, HttpOptions, Query, Service};
pub use ids::*;
pub use patch::PatchOp;
pub use wire::Created;
