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

/// The id of one object, typed by its kind: from observation to the HTTP call and into the
/// JSON output (where it is the bare id string).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum ObjectId {
    Base(ConnectionId),
    Source(SourceConnectionId),
    Dataset(DatasetId),
    Target(TargetConnectionId),
    Mapping(MappingSetId),
    Flow(FlowId),
}

impl ObjectId {
    pub fn kind(&self) -> Kind {
        match self {
            ObjectId::Base(_) => Kind::BaseConnection,
            ObjectId::Source(_) => Kind::SourceConnection,
            ObjectId::Dataset(_) => Kind::Dataset,
            ObjectId::Target(_) => Kind::TargetConnection,
            ObjectId::Mapping(_) => Kind::MappingSet,
            ObjectId::Flow(_) => Kind::Dataflow,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ObjectId::Base(id) => id.as_str(),
            ObjectId::Source(id) => id.as_str(),
            ObjectId::Dataset(id) => id.as_str(),
            ObjectId::Target(id) => id.as_str(),
            ObjectId::Mapping(id) => id.as_str(),
            ObjectId::Flow(id) => id.as_str(),
        }
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! object_id_from {
    ($($variant:ident($id:ty),)*) => {$(
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
    )*};
}

object_id_from! {
    Base(ConnectionId),
    Source(SourceConnectionId),
    Dataset(DatasetId),
    Target(TargetConnectionId),
    Mapping(MappingSetId),
    Flow(FlowId),
}
