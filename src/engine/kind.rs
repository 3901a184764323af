//! The one enum of object kinds, and the typed id of one object of any kind.

use std::fmt;

use serde::Serialize;

use crate::api::{
    ConnectionId, DatasetId, FlowId, MappingSetId, SourceConnectionId, TargetConnectionId,
};

/// The kind of a platform object provision manages (`kind` in the JSON output, see
/// `docs/architecture.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    BaseConnection,
    SourceConnection,
    Dataset,
    TargetConnection,
    MappingSet,
    Dataflow,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BaseConnection => "base_connection",
            Kind::SourceConnection => "source_connection",
            Kind::Dataset => "dataset",
            Kind::TargetConnection => "target_connection",
            Kind::MappingSet => "mapping_set",
            Kind::Dataflow => "dataflow",
        }
    }

    /// The last part of a per-module managed name (`{prefix} / {module} / {suffix}`); `None`
    /// for the kinds the profile names itself (the base connection and datasets).
    pub fn suffix(self) -> Option<&'static str> {
        match self {
            Kind::SourceConnection => Some("source"),
            Kind::TargetConnection => Some("target"),
            Kind::MappingSet => Some("mapping"),
            Kind::Dataflow => Some("flow"),
            Kind::BaseConnection | Kind::Dataset => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! object_id {
    ($($variant:ident($id:ty) => $kind:ident,)*) => {
        /// The id of one object, typed by its kind: from observation to the HTTP call and into
        /// the JSON output (where it is the bare id string).
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(untagged)]
        pub enum ObjectId {
            $($variant($id),)*
        }

        impl ObjectId {
            pub fn kind(&self) -> Kind {
                match self {
                    $(ObjectId::$variant(_) => Kind::$kind,)*
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $(ObjectId::$variant(id) => id.as_str(),)*
                }
            }
        }

        $(
            impl From<$id> for ObjectId {
                fn from(id: $id) -> Self {
                    ObjectId::$variant(id)
                }
            }

            impl From<&$id> for ObjectId {
                fn from(id: &$id) -> Self {
                    ObjectId::$variant(id.clone())
                }
            }
        )*
    };
}

object_id! {
    Base(ConnectionId) => BaseConnection,
    Source(SourceConnectionId) => SourceConnection,
    Dataset(DatasetId) => Dataset,
    Target(TargetConnectionId) => TargetConnection,
    Mapping(MappingSetId) => MappingSet,
    Flow(FlowId) => Dataflow,
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
