//! Typed identifiers, parsed at the boundary so that a flow id is never passed where a
//! connection id is expected.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    )*};
}

id_type! {
    /// A base connection (`/connections/{id}`).
    ConnectionId;
    /// A source connection.
    SourceConnectionId;
    /// A target connection.
    TargetConnectionId;
    /// A dataflow.
    FlowId;
    /// A dataflow run.
    RunId;
    /// A Catalog dataset.
    DatasetId;
    /// A Data Prep mapping set.
    MappingSetId;
    /// A connection spec.
    ConnectionSpecId;
    /// A flow spec.
    FlowSpecId;
    /// An entity version for `If-Match`, kept verbatim (quotes included), docs/aep-api.md#etags.
    Etag;
}
