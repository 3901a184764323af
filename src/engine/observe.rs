//! What AEP holds for one profile, read with a few filtered, paged list calls (never one call per
//! module), so that observing costs the same for 3 modules or 300. Used by `plan`, `apply` and
//! `destroy`, and by `status`, `explore` and `check`.
//!
//! | what | call |
//! |---|---|
//! | preflight | `GET /connectionSpecs/{zoho}`, `GET /flowSpecs?property=name==CRMToAEP` |
//! | base connections | `GET /connections?property=name=={prefix}&property=connectionSpec.id=={zoho}` |
//! | source connections | `GET /sourceConnections?property=baseConnectionId=={base}` |
//! | target connections | `GET /targetConnections?property=connectionSpec.id=={lake}&property=description=={marker}` |
//! | dataflows | `GET /flows?property=flowSpec.id=={CRMToAEP}&property=description=={marker}` |
//! | mapping sets | `GET /mappingSets?name={prefix} / mappings` |
//! | datasets | `GET /dataSets?property=description=={marker}` |
//!
//! Every answer is filtered again here by name and marker ([`crate::engine::naming`]): a service that
//! ignored a filter would return too much, never make provision adopt what it did not create.
//!
//! ```no_run
//! # async fn demo(client: &provision::api::AepClient, profile: &provision::profile::Profile) -> anyhow::Result<()> {
//! let managed = provision::engine::observe::managed(client, &profile.connection.name).await?;
//! for (module, flow) in managed.dataflows() {
//!     println!("{module}: {} ({:?})", flow.id, flow.state);
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;

use crate::api::catalog::Dataset;
use crate::api::connections::Connection;
use crate::api::dataprep::MappingSet;
use crate::api::flows::Flow;
use crate::api::source::SourceConnection;
use crate::api::specs::{
    self, ConnectionSpec, FlowSpec, CRM_TO_AEP_FLOW_SPEC_NAME, DATA_LAKE_SPEC_ID, ZOHO_CRM_SPEC_ID,
};
use crate::api::target::TargetConnection;
use crate::api::{AepClient, ApiError, ConnectionSpecId, MappingSetId};
use crate::engine::{kinds, naming, Kind};

/// Why observing failed: the Zoho source is not available here, or a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("{0}")]
    Preflight(String),
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// The specs every create depends on (docs/aep-api.md#zoho-source-deprecation, #call-order step 2).
#[derive(Debug, Clone)]
pub struct Preflight {
    pub connection_spec: ConnectionSpec,
    pub flow_spec: FlowSpec,
}

/// Everything one profile owns, plus the same-named objects it does not own (name clashes).
#[derive(Debug, Clone, Default)]
pub struct Managed {
    pub prefix: String,
    /// Zoho base connections named `{prefix}` whose description carries the marker.
    pub bases: Vec<Connection>,
    /// Zoho base connections named `{prefix}` without the marker: never touched.
    pub foreign_bases: Vec<Connection>,
    /// Source connections on the owned base connections that carry the marker.
    pub sources: Vec<SourceConnection>,
    /// Source connections on the owned base connections without the marker (made by hand):
    /// never touched, and they keep the base connection from being deleted.
    pub foreign_sources: Vec<SourceConnection>,
    pub targets: Vec<TargetConnection>,
    pub flows: Vec<Flow>,
    /// Mapping sets named [`kinds::mapping::sets_name`], and any mapping set an owned flow
    /// refers to.
    pub mapping_sets: Vec<MappingSet>,
    pub datasets: Vec<Dataset>,
}

/// Preflight and the managed objects.
#[derive(Debug, Clone)]
pub struct Observed {
    pub preflight: Preflight,
    pub managed: Managed,
}

/// Preflight, then (concurrently) every managed object: what `plan` and `apply` start from.
pub async fn observe(client: &AepClient, prefix: &str) -> Result<Observed, ObserveError> {
    let (preflight, managed) = tokio::try_join!(preflight(client), async {
        managed(client, prefix).await.map_err(ObserveError::from)
    })?;
    Ok(Observed { preflight, managed })
}

/// Checks that the Zoho CRM connection spec exists and that the `CRMToAEP` flow spec allows it
/// as a source and the data lake as a target. Adobe announced the Zoho CRM source's deprecation
/// (end of June 2025), so a missing spec is expected one day and must be said plainly.
pub async fn preflight(client: &AepClient) -> Result<Preflight, ObserveError> {
    let zoho = ConnectionSpecId::from(ZOHO_CRM_SPEC_ID);
    let (connection_spec, flow_spec) = tokio::try_join!(
        specs::connection_spec(client, &zoho),
        specs::flow_spec_by_name(client, CRM_TO_AEP_FLOW_SPEC_NAME),
    )?;
    let Some(connection_spec) = connection_spec else {
        return Err(ObserveError::Preflight(format!(
            "the Zoho CRM connection spec {ZOHO_CRM_SPEC_ID} does not exist in this organization \
             and sandbox: Adobe deprecated the Zoho CRM source (announced for the end of June \
             2025) and it is no longer available here, so provision cannot create or change Zoho \
             CRM dataflows; `provision destroy` still removes what was created"
        )));
    };
    let Some(flow_spec) = flow_spec else {
        return Err(ObserveError::Preflight(format!(
            "the {CRM_TO_AEP_FLOW_SPEC_NAME} flow spec was not found in this organization and \
             sandbox; check the sandbox name and that the integration may read sources"
        )));
    };
    if !flow_spec.allows_source(&zoho) {
        return Err(ObserveError::Preflight(format!(
            "the {CRM_TO_AEP_FLOW_SPEC_NAME} flow spec no longer lists the Zoho CRM connection \
             spec {ZOHO_CRM_SPEC_ID} as a source: Adobe deprecated the Zoho CRM source \
             (announced for the end of June 2025), so new Zoho CRM dataflows cannot be created \
             here; `provision destroy` still removes what was created"
        )));
    }
    if !flow_spec.allows_target(&ConnectionSpecId::from(DATA_LAKE_SPEC_ID)) {
        return Err(ObserveError::Preflight(format!(
            "the {CRM_TO_AEP_FLOW_SPEC_NAME} flow spec does not list the data lake connection \
             spec {DATA_LAKE_SPEC_ID} as a target; provision cannot create dataflows into \
             datasets here"
        )));
    }
    Ok(Preflight {
        connection_spec,
        flow_spec,
    })
}

/// Every object the profile with this prefix owns: six list calls (plus paging), the source
/// connections after the base connections, everything else at the same time (then any mapping set a
/// dataflow refers to that the name filter missed).
pub async fn managed(client: &AepClient, prefix: &str) -> Result<Managed, ApiError> {
    let with_sources = async {
        let (bases, foreign_bases) = kinds::base::observe(client, prefix).await?;
        let (sources, foreign_sources) = kinds::source::observe(client, prefix, &bases).await?;
        Ok::<_, ApiError>((bases, foreign_bases, sources, foreign_sources))
    };
    let (
        (bases, foreign_bases, sources, foreign_sources),
        targets,
        flows,
        mut mapping_sets,
        datasets,
    ) = tokio::try_join!(
        with_sources,
        kinds::target::observe(client, prefix),
        kinds::flow::observe(client, prefix),
        kinds::mapping::observe(client, prefix),
        kinds::dataset::observe(client, prefix),
    )?;
    mapping_sets.extend(kinds::mapping::referenced(client, &flows, &mapping_sets).await?);
    let mut managed = Managed {
        prefix: prefix.to_owned(),
        bases,
        foreign_bases,
        sources,
        foreign_sources,
        targets,
        flows,
        mapping_sets,
        datasets,
    };
    managed.sort();
    Ok(managed)
}

/// The owned dataflows of the profile with this prefix, in one paged list call (for `status`).
pub async fn dataflows_of(client: &AepClient, prefix: &str) -> Result<Vec<Flow>, ApiError> {
    kinds::flow::observe(client, prefix).await
}

/// The one owned base connection of the profile with this prefix, `None` when there is none yet
/// (for `explore`). A same-named connection provision did not create, or two owned ones, are
/// errors that say what to do.
pub async fn base_connection(
    client: &AepClient,
    prefix: &str,
) -> Result<Option<Connection>, ObserveError> {
    let (owned, foreign) = kinds::base::observe(client, prefix).await?;
    let managed = Managed {
        prefix: prefix.to_owned(),
        bases: owned,
        foreign_bases: foreign,
        ..Managed::default()
    };
    managed
        .base()
        .map(|b| b.cloned())
        .map_err(ObserveError::Preflight)
}

impl Managed {
    /// Orders every list by name, then id, so that plans and outputs do not depend on the order
    /// a service lists things in (Catalog's, keyed by id, is arbitrary).
    pub fn sort(&mut self) {
        fn by<T>(items: &mut [T], key: impl Fn(&T) -> (String, String)) {
            items.sort_by_key(|item| key(item));
        }
        by(&mut self.bases, |c| (c.name.clone(), c.id.to_string()));
        by(&mut self.foreign_bases, |c| {
            (c.name.clone(), c.id.to_string())
        });
        by(&mut self.sources, |c| (c.name.clone(), c.id.to_string()));
        by(&mut self.foreign_sources, |c| {
            (c.name.clone(), c.id.to_string())
        });
        by(&mut self.targets, |c| (c.name.clone(), c.id.to_string()));
        by(&mut self.flows, |c| (c.name.clone(), c.id.to_string()));
        by(&mut self.mapping_sets, |m| {
            (m.name.clone().unwrap_or_default(), m.id.to_string())
        });
        by(&mut self.datasets, |d| {
            (d.name.clone().unwrap_or_default(), d.id.to_string())
        });
    }

    /// The owned base connection: `None` when absent; an error when a same-named connection is
    /// not ours, or when two are.
    pub fn base(&self) -> Result<Option<&Connection>, String> {
        if let Some(foreign) = self.foreign_bases.first() {
            return Err(format!(
                "a Zoho CRM base connection named {:?} already exists (id {}) but was not created \
                 by provision (its description lacks \"{}\"); provision never adopts it: choose \
                 another connection.name in the profile, or delete that connection",
                self.prefix,
                foreign.id,
                naming::owner_marker(&self.prefix)
            ));
        }
        match self.bases.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            many => Err(format!(
                "{} base connections named {:?} are marked as managed by provision (ids {}); \
                 provision will not guess which one is current: delete all but one (keep the one \
                 your dataflows use) and run again",
                many.len(),
                self.prefix,
                many.iter()
                    .map(|b| b.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Owned dataflows with the module each belongs to.
    pub fn dataflows(&self) -> Vec<(&str, &Flow)> {
        self.flows
            .iter()
            .filter_map(|f| Some((naming::module_of(&f.name, &self.prefix, Kind::Dataflow)?, f)))
            .collect()
    }

    /// Every module any owned object belongs to, sorted.
    pub fn modules(&self) -> BTreeSet<&str> {
        let p = self.prefix.as_str();
        self.flows
            .iter()
            .filter_map(|f| naming::module_of(&f.name, p, Kind::Dataflow))
            .chain(
                self.sources
                    .iter()
                    .filter_map(|s| naming::module_of(&s.name, p, Kind::SourceConnection)),
            )
            .chain(
                self.targets
                    .iter()
                    .filter_map(|t| naming::module_of(&t.name, p, Kind::TargetConnection)),
            )
            .collect()
    }

    /// Owned mapping sets no owned dataflow refers to (left by an interrupted run, or by an
    /// earlier mapping).
    pub fn unreferenced_mapping_sets(&self) -> Vec<&MappingSet> {
        let referenced: BTreeSet<MappingSetId> = self
            .flows
            .iter()
            .filter_map(|f| f.mapping().map(|(_, r)| r.id))
            .collect();
        self.mapping_sets
            .iter()
            .filter(|m| !referenced.contains(&m.id))
            .collect()
    }

    /// The owned objects of one module, by name.
    pub fn module(&self, module: &str) -> ModuleObjects<'_> {
        let p = self.prefix.as_str();
        let named = |name: &str, kind| naming::module_of(name, p, kind) == Some(module);
        ModuleObjects {
            flows: self
                .flows
                .iter()
                .filter(|f| named(&f.name, Kind::Dataflow))
                .collect(),
            sources: self
                .sources
                .iter()
                .filter(|s| named(&s.name, Kind::SourceConnection))
                .collect(),
            targets: self
                .targets
                .iter()
                .filter(|t| named(&t.name, Kind::TargetConnection))
                .collect(),
        }
    }
}

/// One module's owned objects (several of a kind while a replace is half done). Mapping sets
/// are not among them: the dataflow that refers to one tells which module it serves.
#[derive(Debug, Clone, Default)]
pub struct ModuleObjects<'a> {
    pub flows: Vec<&'a Flow>,
    pub sources: Vec<&'a SourceConnection>,
    pub targets: Vec<&'a TargetConnection>,
}
