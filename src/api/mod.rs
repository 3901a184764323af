//! The Adobe Experience Platform API client: `http.rs` holds the transport (auth headers,
//! errors, paging); each other file is one REST resource with one function per endpoint.

pub mod error;
pub mod http;
pub mod ids;

pub use error::ApiError;
pub use http::{AepClient, Query, Service};
pub use ids::*;
