//! Target connections: one per module, named `{prefix} / {module} / target`, writing into the
//! module's dataset with its XDM schema. Like source connections they are never updated: a
//! different dataset or schema replaces the module's pair and dataflow.

use std::collections::BTreeSet;

use super::{seen, Attributes, Diff};
use crate::api::specs::DATA_LAKE_SPEC_ID;
use crate::api::target::{self, NewTargetConnection, TargetConnection};
use crate::api::{AepClient, ApiError, DatasetId, Etag, Query, TargetConnectionId, LIST_LIMIT};
use crate::engine::desired::DesiredModule;
use crate::engine::ensure::{Create, Found};
use crate::engine::{naming, Kind};

/// The data lake target connections that carry the profile's marker.
pub async fn observe(client: &AepClient, prefix: &str) -> Result<Vec<TargetConnection>, ApiError> {
    let marker = naming::owner_marker(prefix);
    let query = Query::new()
        .property_eq("connectionSpec.id", &[DATA_LAKE_SPEC_ID])
        .property_eq("description", &[marker.as_str()])
        .param("limit", LIST_LIMIT.to_string());
    let all = target::list_target_connections(client, &query).await?;
    Ok(all
        .into_iter()
        .filter(|t| naming::is_owned(t.description.as_deref(), prefix))
        .collect())
}

/// What a module's target connection must hold; `dataset` is `None` while the dataset does not
/// exist yet (and then nothing matches), `dataset_label` how it is shown in reasons.
pub struct Wanted<'a> {
    pub schema_id: &'a str,
    pub dataset: Option<&'a DatasetId>,
    pub dataset_label: &'a str,
}

impl super::Wanted<TargetConnection> for Wanted<'_> {
    fn matches(&self, t: &TargetConnection) -> bool {
        self.dataset.is_some_and(|d| t.dataset_id() == Some(d))
            && t.schema_id() == Some(self.schema_id)
    }

    /// Why `t` does not match (`dataset: a -> b, schema: x -> y`).
    fn diff(&self, t: &TargetConnection) -> String {
        let mut parts = Vec::new();
        let have = t.dataset_id().map(|d| d.as_str()).unwrap_or("none");
        if self.dataset.map(|d| d.as_str()) != Some(have) {
            parts.push(format!("dataset: {have} -> {}", self.dataset_label));
        }
        let schema = t.schema_id().unwrap_or("none");
        if schema != self.schema_id {
            parts.push(format!("schema: {schema} -> {}", self.schema_id));
        }
        parts.join(", ")
    }

    fn entries(&self, t: &TargetConnection) -> Vec<Diff> {
        let mut out = Vec::new();
        let have = t.dataset_id().map(|d| d.as_str());
        if self.dataset.map(|d| d.as_str()) != have {
            out.push(Diff::new("dataset", have, self.dataset_label));
        }
        let schema = t.schema_id();
        if schema != Some(self.schema_id) {
            out.push(Diff::new("schema", schema, self.schema_id));
        }
        out
    }
}

/// What a new target connection is sent: the dataset it writes into and the schema.
pub fn attributes(dm: &DesiredModule, dataset: &str) -> Attributes {
    Attributes::default()
        .with("dataset", dataset)
        .with("schema", dm.schema_id.as_str())
}

/// A target connection to create, and what tells its twin.
pub struct Draft<'a> {
    pub body: NewTargetConnection,
    pub prefix: &'a str,
    /// The target connections observed before the plan.
    pub seen: BTreeSet<&'a TargetConnectionId>,
}

impl<'a> Draft<'a> {
    pub fn new(
        dm: &DesiredModule,
        prefix: &'a str,
        dataset: &DatasetId,
        observed: &'a [TargetConnection],
    ) -> Self {
        Self {
            body: NewTargetConnection {
                name: dm.target_name.clone(),
                description: Some(naming::owner_marker(prefix)),
                schema_id: dm.schema_id.clone(),
                dataset_id: dataset.clone(),
            },
            prefix,
            seen: seen(observed, |t| &t.id),
        }
    }
}

impl Create for Draft<'_> {
    type Id = TargetConnectionId;

    async fn create(&self, client: &AepClient) -> Result<Self::Id, ApiError> {
        target::create_target_connection(client, &self.body)
            .await
            .map(|c| c.id)
    }

    async fn lookup(&self, client: &AepClient) -> Result<Vec<Found<Self::Id>>, ApiError> {
        let body = &self.body;
        let query = Query::new()
            .property_eq("connectionSpec.id", &[DATA_LAKE_SPEC_ID])
            .property_eq("params.dataSetId", &[body.dataset_id.as_str()])
            .param("limit", LIST_LIMIT.to_string());
        let all = target::list_target_connections(client, &query).await?;
        Ok(Found::among(
            all,
            |t| {
                t.name == body.name
                    && naming::is_owned(t.description.as_deref(), self.prefix)
                    && t.dataset_id() == Some(&body.dataset_id)
                    && t.schema_id() == Some(body.schema_id.as_str())
                    && !self.seen.contains(&t.id)
            },
            |t| (t.id, t.created_at),
        ))
    }
}

pub async fn delete(client: &AepClient, id: &TargetConnectionId) -> Result<(), ApiError> {
    target::delete_target_connection(client, id).await
}

// Adoption (import).

/// Whether a target connection made elsewhere already carries this profile's marker; an error
/// when another profile manages it, or it does not write one dataset of one schema into the data
/// lake.
pub fn adoptable(t: &TargetConnection, prefix: &str) -> Result<bool, String> {
    let owned = super::claim(
        "target connection",
        t.id.as_str(),
        &t.name,
        t.description.as_deref(),
        prefix,
    )?;
    let spec = t.connection_spec.as_ref().map(|s| s.id.as_str());
    if spec != Some(DATA_LAKE_SPEC_ID) {
        return Err(format!(
            "target connection {:?} (id {}) uses connection spec {}, not the data lake's \
             ({DATA_LAKE_SPEC_ID}); provision manages dataflows into datasets only",
            t.name,
            t.id,
            spec.unwrap_or("none")
        ));
    }
    if t.dataset_id().is_none() || t.schema_id().is_none() {
        return Err(format!(
            "target connection {:?} (id {}) names no dataset or no XDM schema; provision cannot \
             describe it in the profile",
            t.name, t.id
        ));
    }
    Ok(owned)
}

/// Marks a target connection made elsewhere as the profile's (name and description only).
pub async fn adopt(
    client: &AepClient,
    t: &TargetConnection,
    prefix: &str,
    module: &str,
) -> Result<(), ApiError> {
    let object = super::Adoptee {
        kind: Kind::TargetConnection,
        id: t.id.as_str(),
        name: &t.name,
        description: t.description.as_deref(),
        etag: t.etag.as_ref(),
    };
    super::adopt_as(object, prefix, module, |etag: Etag, ops| async move {
        target::patch_target_connection(client, &t.id, &etag, &ops).await
    })
    .await
}
