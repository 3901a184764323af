//! The Adobe Experience Platform API client: `http.rs` holds the transport (auth headers,
//! errors, paging); each other file is one REST resource with one function per endpoint.

pub mod error;
pub mod http;
pub mod ids;

pub use error::{ApiError, ApiErrorKind};
pub use http::{AepClient, HttpOptions, Query, Service};
pub use ids::*;
