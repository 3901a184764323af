//! Datasets: created only when the profile gives a name (`dataset = { create = "..." }`), with
//! the profile's marker as description. A dataset's schema cannot change and provision never
//! patches one; it is deleted only by `--include-datasets` once no module uses it.

use std::collections::BTreeSet;

use super::{ids, seen};
use crate::api::catalog::{self, Dataset, NewDataset};
use crate::api::{AepClient, ApiError, DatasetId, Query};
use crate::engine::desired::DesiredModule;
use crate::engine::ensure::{Create, Found};
use crate::engine::naming;
use crate::engine::plan::PlanError;

/// The fields a dataset listing asks Catalog for.
const PROPERTIES: &str = "name,description,schemaRef,created";

/// The datasets that carry the profile's marker.
pub async fn observe(client: &AepClient, prefix: &str) -> Result<Vec<Dataset>, ApiError> {
    let marker = naming::owner_marker(prefix);
    let query = Query::new()
        .property_eq("description", &[marker.as_str()])
        .param("properties", PROPERTIES);
    let all = catalog::list_datasets(client, &query).await?;
    Ok(all
        .into_iter()
        .filter(|d| naming::is_owned(d.description.as_deref(), prefix))
        .collect())
}

/// The owned dataset named `name`: two are ambiguous, and one with another schema cannot serve.
pub fn find<'a>(
    owned: &'a [Dataset],
    name: &str,
    dm: &DesiredModule,
) -> Result<Option<&'a Dataset>, PlanError> {
    let found: Vec<&Dataset> = owned
        .iter()
        .filter(|d| d.name.as_deref() == Some(name))
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => {
            let schema = one.schema_id().unwrap_or("none");
            if schema != dm.schema_id {
                return Err(PlanError(format!(
                    "module {:?}: dataset {name:?} (id {}) was created with schema {schema}, but the \
                     profile now says {}; a dataset's schema cannot change: give the dataset a new \
                     name in the profile (the old one is kept), or delete it and run again",
                    dm.module, one.id, dm.schema_id
                )));
            }
            Ok(Some(one))
        }
        many => Err(PlanError(format!(
            "module {:?}: {} datasets named {name:?} are marked as managed by provision (ids {}); \
             provision will not guess which one to use: delete all but one and run again",
            dm.module,
            many.len(),
            ids(many, |d| d.id.to_string())
        ))),
    }
}

/// What a new dataset is sent: its name and schema.
pub fn attributes(name: &str, dm: &DesiredModule) -> super::Attributes {
    super::Attributes::default()
        .with("name", name)
        .with("schema", dm.schema_id.as_str())
}

/// A dataset to create, and what tells its twin.
pub struct Draft<'a> {
    pub body: NewDataset,
    /// The datasets observed before the plan.
    pub seen: BTreeSet<&'a DatasetId>,
}

impl<'a> Draft<'a> {
    pub fn new(name: &str, dm: &DesiredModule, prefix: &str, observed: &'a [Dataset]) -> Self {
        let body = NewDataset {
            description: Some(naming::owner_marker(prefix)),
            ..NewDataset::new(name.to_owned(), dm.schema_id.clone())
        };
        let seen = seen(observed, |d| &d.id);
        Self { body, seen }
    }
}

impl Create for Draft<'_> {
    type Id = DatasetId;

    async fn create(&self, client: &AepClient) -> Result<Self::Id, ApiError> {
        catalog::create_dataset(client, &self.body).await
    }

    async fn lookup(&self, client: &AepClient) -> Result<Vec<Found<Self::Id>>, ApiError> {
        let body = &self.body;
        let query = Query::new()
            .property_eq("name", &[body.name.as_str()])
            .param("properties", PROPERTIES);
        let all = catalog::list_datasets(client, &query).await?;
        Ok(Found::among(
            all,
            |d| {
                d.name.as_deref() == Some(body.name.as_str())
                    && d.description == body.description
                    && d.schema_id() == Some(body.schema_id.as_str())
                    && !self.seen.contains(&d.id)
            },
            |d| (d.id, d.created),
        ))
    }
}

pub async fn delete(client: &AepClient, id: &DatasetId) -> Result<(), ApiError> {
    catalog::delete_dataset(client, id).await
}
