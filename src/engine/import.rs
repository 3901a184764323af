//! `provision import`: adopts a Zoho CRM base connection made elsewhere (Adobe's UI, a script)
//! and every dataflow built on it. [`read`] reads the base connection, its source connections,
//! the dataflows reading them, their target connections, mapping sets and datasets, and decides
//! before any write what is adopted and which `[[dataflows]]` entry describes each dataflow, or
//! refuses, naming every object it cannot adopt and why. [`adopt`] then marks the objects, each
//! through its kind's "adoption" in [`super::kinds`]: a PATCH of name and description with
//! `If-Match`, never a recreate.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::api::catalog;
use crate::api::connections::{self, AuthParams, Connection};
use crate::api::dataprep::{self, MappingSet};
use crate::api::flows::{self, Flow};
use crate::api::source::{self, SourceConnection};
use crate::api::target::{self, TargetConnection};
use crate::api::{AepClient, ApiError, ConnectionId, DatasetId, MappingSetId, TargetConnectionId};
use crate::engine::cancel::Cancel;
use crate::engine::desired::DesiredBase;
use crate::engine::kinds;
use crate::engine::{naming, Kind};
use crate::profile::append::Entry;
use crate::profile::{MappingRule, Profile, Schedule};

/// What `import` found on a base connection, checked: everything in it can be adopted.
#[derive(Debug, Clone)]
pub struct Found {
    pub base: Connection,
    /// It already carries this profile's marker (an earlier `import` or `apply`).
    pub base_owned: bool,
    pub modules: Vec<Module>,
    /// Source connections on the base connection that no dataflow reads: left alone.
    pub unused_sources: Vec<SourceConnection>,
}

/// One dataflow to adopt, with what it links and the profile entry describing it.
#[derive(Debug, Clone)]
pub struct Module {
    /// The Zoho module (the source connection's `params.tableName`).
    pub name: String,
    pub flow: Flow,
    pub flow_owned: bool,
    pub source: SourceConnection,
    pub source_owned: bool,
    pub target: TargetConnection,
    pub target_owned: bool,
    pub mapping_set: MappingSet,
    pub entry: Entry,
    /// The profile has an entry for this module already: nothing is appended for it.
    pub in_profile: bool,
}

/// One object `import` marks as the profile's (`--output json`'s `adopted`).
#[derive(Debug, Clone, Serialize)]
pub struct Adopted {
    pub kind: Kind,
    pub id: String,
    /// The name it has once adopted.
    pub name: String,
    /// The name it had (for a mapping set, its unchanged name).
    pub previous_name: String,
    pub module: Option<String>,
}

/// What `import` shows before asking, and prints once done (`--output json`: `adopted` and
/// `dataflows`, the entries for the modules the profile did not describe yet).
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub profile: String,
    pub base_connection: String,
    pub adopted: Vec<Adopted>,
    pub dataflows: Vec<Entry>,
    /// The profile file the entries were appended to; `null` with `--print`, or when there were
    /// none.
    pub written_to: Option<String>,
    /// How the profile's Zoho credentials are tied to the adopted base connection.
    pub credentials: String,
    /// Source connections on the base connection that no dataflow reads: left alone.
    pub left_alone: Vec<String>,
    /// `--print`: the entries go to stdout as TOML.
    #[serde(skip)]
    pub print: bool,
    /// The objects were marked (the report is the result, not the preview).
    #[serde(skip)]
    pub done: bool,
    /// After an interrupt: the objects whose adoption never started (`adopted` then lists only
    /// those marked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_attempted: Vec<Adopted>,
    /// The signal that stopped the import (`SIGINT` or `SIGTERM`), if one did.
    #[serde(skip)]
    pub interrupted: Option<&'static str>,
}

impl ImportReport {
    pub fn new(profile: &Profile, found: &Found, print: bool) -> Self {
        let prefix = profile.connection.name.as_str();
        let id = &found.base.id;
        let credentials = if found.base_owned {
            format!(
                "base connection {id} is already this profile's: its credentials are left as \
                 they are, and plan reports the profile's Zoho credentials changing as an \
                 update of it (\"auth: ...\")"
            )
        } else {
            format!(
                "AEP cannot show the Zoho credentials base connection {id} holds, so import sends \
                 the profile's (after a refresh proves they work) and records their fingerprint \
                 in its description; from then on plan reports the profile's Zoho credentials \
                 changing as an update of the base connection (\"auth: ...\")"
            )
        };
        Self {
            profile: profile.path.display().to_string(),
            base_connection: id.to_string(),
            adopted: found.adopted(prefix),
            dataflows: found.entries(),
            written_to: None,
            credentials,
            left_alone: found
                .unused_sources
                .iter()
                .map(|s| {
                    format!(
                        "source connection {:?} (id {}): no dataflow reads it",
                        s.name, s.id
                    )
                })
                .collect(),
            print,
            done: false,
            not_attempted: Vec::new(),
            interrupted: None,
        }
    }

    /// The report of an import `signal` stopped: `adopted` keeps the objects marked, the ones in
    /// `adoption.not_attempted` move to `not_attempted`, and one whose write failed is left out
    /// (the error names it). Nothing is appended to the profile.
    pub fn interrupted(&mut self, signal: &'static str, adoption: &Adoption) {
        let (skipped, adopted) = std::mem::take(&mut self.adopted)
            .into_iter()
            .filter(|a| !adoption.failed.contains(&a.id))
            .partition(|a| adoption.not_attempted.contains(&a.id));
        self.adopted = adopted;
        self.not_attempted = skipped;
        self.dataflows = Vec::new();
        self.interrupted = Some(signal);
        self.done = true;
    }

    /// Nothing to mark and nothing to append: an import already done.
    pub fn is_empty(&self) -> bool {
        self.adopted.is_empty() && self.dataflows.is_empty()
    }
}

impl Found {
    /// The objects not yet this profile's, by the names they will have, in the order [`adopt`]
    /// marks them. A mapping set is listed with its dataflow: the dataflow's link is what makes
    /// it the module's.
    pub fn adopted(&self, prefix: &str) -> Vec<Adopted> {
        writes(self)
            .iter()
            .flat_map(|w| w.adopted(self, prefix))
            .collect()
    }

    /// The entries for the modules the profile does not describe yet.
    pub fn entries(&self) -> Vec<Entry> {
        self.modules
            .iter()
            .filter(|m| !m.in_profile)
            .map(|m| m.entry.clone())
            .collect()
    }
}

/// What the dataflows on the base connection link, read in a few list calls.
#[derive(Default)]
struct Linked {
    flows: Vec<Flow>,
    targets: Vec<TargetConnection>,
    sets: Vec<MappingSet>,
    datasets: BTreeSet<DatasetId>,
}

impl Linked {
    async fn read(client: &AepClient, sources: &[SourceConnection]) -> Result<Self, ApiError> {
        if sources.is_empty() {
            return Ok(Self::default());
        }
        let ids: Vec<_> = sources.iter().map(|s| s.id.clone()).collect();
        let flows = flows::list_flows_by_sources(client, &ids).await?;
        let target_ids: BTreeSet<TargetConnectionId> = flows
            .iter()
            .flat_map(|f| f.target_connection_ids.iter().cloned())
            .collect();
        let set_ids: BTreeSet<MappingSetId> = flows
            .iter()
            .filter_map(|f| f.mapping().map(|(_, r)| r.id))
            .collect();
        let target_ids: Vec<_> = target_ids.into_iter().collect();
        let sets = set_ids
            .iter()
            .map(|id| dataprep::get_mapping_set(client, id));
        let (targets, sets) = tokio::try_join!(
            async {
                if target_ids.is_empty() {
                    return Ok(Vec::new());
                }
                target::list_target_connections_by_ids(client, &target_ids).await
            },
            futures::future::try_join_all(sets),
        )?;
        let dataset_ids: BTreeSet<&DatasetId> =
            targets.iter().filter_map(|t| t.dataset_id()).collect();
        let datasets = dataset_ids
            .iter()
            .map(|id| catalog::get_dataset(client, id));
        let datasets = futures::future::try_join_all(datasets).await?;
        Ok(Self {
            datasets: datasets.into_iter().flatten().map(|d| d.id).collect(),
            flows,
            targets,
            sets: sets.into_iter().flatten().collect(),
        })
    }
}

/// Reads the base connection `base_id` and everything built on it, and decides what `import`
/// adopts. Any object it cannot adopt makes it refuse, before any write, with every reason.
/// `defaults_schema` is the profile file's literal `[defaults].schema_id`.
pub async fn read(
    client: &AepClient,
    profile: &Profile,
    base_id: &str,
    defaults_schema: Option<&str>,
) -> anyhow::Result<Found> {
    let prefix = profile.connection.name.as_str();
    let id = ConnectionId::from(base_id);
    let base = connections::get_connection(client, &id)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "base connection {base_id} was not found in sandbox {:?}; check the id (Sources > \
                 Accounts in Adobe's UI) and adobe.sandbox in the profile",
                profile.adobe.sandbox
            )
        })?;
    let mut problems = Vec::new();
    let base_owned = kinds::base::adoptable(&base, prefix).unwrap_or_else(|e| {
        problems.push(e);
        false
    });
    let (owned, foreign) = kinds::base::observe(client, prefix).await?;
    problems.extend(
        owned
            .iter()
            .chain(&foreign)
            .filter(|c| c.id != base.id)
            .map(|c| {
                format!(
            "another base connection is already named {prefix:?} (id {}); connection.name must \
             name one base connection only: give the profile another connection.name, or rename \
             that connection in Adobe's UI",
            c.id
        )
            }),
    );
    let sources = source::list_source_connections_of(client, &base.id).await?;
    let linked = Linked::read(client, &sources).await?;
    let mut modules = Vec::new();
    for flow in &linked.flows {
        match module(flow, &sources, &linked, prefix, defaults_schema) {
            Ok(m) => modules.push(m),
            Err(e) => problems.push(e),
        }
    }
    problems.extend(conflicts(&mut modules, profile));
    if !problems.is_empty() {
        anyhow::bail!(
            "import refused; nothing was changed:\n  - {}",
            problems.join("\n  - ")
        );
    }
    let used: BTreeSet<_> = modules.iter().map(|m| m.source.id.clone()).collect();
    let unused_sources = sources
        .into_iter()
        .filter(|s| !used.contains(&s.id))
        .collect();
    Ok(Found {
        base,
        base_owned,
        modules,
        unused_sources,
    })
}

/// One dataflow as a module to adopt, or why it cannot be.
fn module(
    f: &Flow,
    sources: &[SourceConnection],
    linked: &Linked,
    prefix: &str,
    defaults_schema: Option<&str>,
) -> Result<Module, String> {
    let flow_owned = kinds::flow::adoptable(f, prefix)?;
    let missing = |what: &str, id: &str| {
        format!(
            "dataflow {:?} (id {}) links {what} {id}, which could not be read; fix the dataflow \
             in Adobe's UI, or delete it, and import again",
            f.name, f.id
        )
    };
    let source_id = &f.source_connection_ids[0];
    let source = sources
        .iter()
        .find(|s| &s.id == source_id)
        .ok_or_else(|| missing("source connection", source_id.as_str()))?;
    let (name, source_owned) = kinds::source::adoptable(source, prefix)?;
    let target_id = &f.target_connection_ids[0];
    let target = linked
        .targets
        .iter()
        .find(|t| &t.id == target_id)
        .ok_or_else(|| missing("target connection", target_id.as_str()))?;
    let target_owned = kinds::target::adoptable(target, prefix)?;
    let (schema, dataset) = match (target.schema_id(), target.dataset_id()) {
        (Some(schema), Some(dataset)) => (schema, dataset),
        _ => return Err(missing("a target without dataset", target_id.as_str())),
    };
    if !linked.datasets.contains(dataset) {
        return Err(missing("dataset", dataset.as_str()));
    }
    let set_id = f.mapping().map(|(_, r)| r.id);
    let set = set_id
        .as_ref()
        .and_then(|id| linked.sets.iter().find(|m| &m.id == id))
        .ok_or_else(|| {
            missing(
                "mapping set",
                set_id.as_ref().map_or("none", |id| id.as_str()),
            )
        })?;
    let rules = kinds::mapping::adoptable(set, schema)?;
    let delta_column = f.delta_column().map(|d| d.name).unwrap_or_default();
    check_columns(source, &rules, &delta_column)?;
    let params = f.schedule_params.as_ref();
    let schedule = params
        .map(Schedule::try_from)
        .transpose()
        .map_err(|e| format!("dataflow {:?} (id {}): {e}", f.name, f.id))?
        .ok_or_else(|| format!("dataflow {:?} (id {}) has no schedule", f.name, f.id))?;
    let entry = Entry {
        module: name.clone(),
        dataset_id: dataset.to_string(),
        delta_column,
        schema_id: (Some(schema) != defaults_schema).then(|| schema.to_owned()),
        mapping: rules
            .into_iter()
            .map(|r| MappingRule {
                source: r.source,
                destination: r.destination,
            })
            .collect(),
        schedule,
        enabled: f.state.as_deref() != Some("disabled"),
    };
    Ok(Module {
        name,
        flow: f.clone(),
        flow_owned,
        source: source.clone(),
        source_owned,
        target: target.clone(),
        target_owned,
        mapping_set: set.clone(),
        entry,
        in_profile: false,
    })
}

/// A profile entry's source columns are its mapping's sources and its delta column: a source
/// connection that reads other columns would be replaced by the next `apply`.
fn check_columns(
    source: &SourceConnection,
    rules: &[crate::engine::desired::Rule],
    delta_column: &str,
) -> Result<(), String> {
    let want: BTreeSet<String> = rules
        .iter()
        .map(|r| r.source.clone())
        .chain(std::iter::once(delta_column.to_owned()))
        .collect();
    let have = kinds::source::column_names(source);
    if have == want {
        return Ok(());
    }
    let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
    Err(format!(
        "source connection {:?} (id {}) reads the columns [{}], but its dataflow's mapping and \
         delta column use [{}]; a [[dataflows]] entry reads exactly the columns it maps and its \
         delta column, so the next apply would replace it: map every column the source reads \
         (or read only the mapped ones) in Adobe's UI, then import again",
        source.name,
        source.id,
        list(&have),
        list(&want)
    ))
}

/// Two dataflows of one module, a target connection shared by two dataflows, or a module the
/// profile already describes with a dataflow it does not manage: ambiguous, refused. Marks the
/// modules the profile describes already.
fn conflicts(modules: &mut [Module], profile: &Profile) -> Vec<String> {
    let mut problems = Vec::new();
    let mut by_module: BTreeMap<&str, Vec<&Module>> = BTreeMap::new();
    let mut by_target: BTreeMap<&TargetConnectionId, Vec<&Module>> = BTreeMap::new();
    for m in modules.iter() {
        by_module.entry(m.name.as_str()).or_default().push(m);
        by_target.entry(&m.target.id).or_default().push(m);
    }
    let flow_ids = |ms: &[&Module]| {
        ms.iter()
            .map(|m| m.flow.id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (module, ms) in by_module.iter().filter(|(_, ms)| ms.len() > 1) {
        problems.push(format!(
            "module {module:?} is read by {} dataflows (ids {}); a profile has one [[dataflows]] \
             entry per module, so provision will not guess which to adopt: delete all but one in \
             Adobe's UI, then import again",
            ms.len(),
            flow_ids(ms)
        ));
    }
    for (target, ms) in by_target.iter().filter(|(_, ms)| ms.len() > 1) {
        problems.push(format!(
            "target connection {target} is shared by the dataflows {}; provision gives each \
             module its own target connection and will not guess whose it is",
            flow_ids(ms)
        ));
    }
    for m in modules.iter_mut() {
        m.in_profile = profile.dataflows.iter().any(|d| d.module == m.name);
        if m.in_profile && !m.flow_owned {
            problems.push(format!(
                "module {:?}: the profile already has a [[dataflows]] entry for it, and dataflow \
                 {:?} (id {}) is not managed by this profile; remove that entry from the profile \
                 (import writes it from the dataflow), then import again",
                m.name, m.flow.name, m.flow.id
            ));
        }
    }
    problems
}

/// How [`adopt`] ended, by object id: the objects whose adoption never started (an interrupt came
/// first, or an earlier write failed), and the failure, if one happened, with the objects of the
/// write that failed.
#[derive(Debug, Default)]
pub struct Adoption {
    pub not_attempted: Vec<String>,
    pub failed: Vec<String>,
    pub error: Option<anyhow::Error>,
}

/// One object's adoption: its PATCHes, sent together (the base connection's credentials, then its
/// name and description).
enum Write<'a> {
    Base,
    Source(&'a Module),
    Target(&'a Module),
    Flow(&'a Module),
}

impl Write<'_> {
    /// The objects this write adopts, by the names they will have (a dataflow's mapping set is
    /// listed with it and keeps its name).
    fn adopted(&self, found: &Found, prefix: &str) -> Vec<Adopted> {
        let row = |kind, m: &Module, id: String, previous: &str| Adopted {
            kind,
            id,
            name: naming::object_name(prefix, &m.name, kind),
            previous_name: previous.to_owned(),
            module: Some(m.name.clone()),
        };
        match self {
            Write::Base => vec![Adopted {
                kind: Kind::BaseConnection,
                id: found.base.id.to_string(),
                name: prefix.to_owned(),
                previous_name: found.base.name.clone(),
                module: None,
            }],
            Write::Source(m) => vec![row(
                Kind::SourceConnection,
                m,
                m.source.id.to_string(),
                &m.source.name,
            )],
            Write::Target(m) => vec![row(
                Kind::TargetConnection,
                m,
                m.target.id.to_string(),
                &m.target.name,
            )],
            Write::Flow(m) => {
                let set_name = m.mapping_set.name.clone().unwrap_or_default();
                let set = Adopted {
                    name: set_name.clone(),
                    ..row(Kind::MappingSet, m, m.mapping_set.id.to_string(), &set_name)
                };
                let flow = row(Kind::Dataflow, m, m.flow.id.to_string(), &m.flow.name);
                vec![set, flow]
            }
        }
    }

    /// The ids of the objects this write adopts, in [`Write::adopted`]'s order.
    fn ids(&self, found: &Found, prefix: &str) -> Vec<String> {
        self.adopted(found, prefix)
            .into_iter()
            .map(|adopted| adopted.id)
            .collect()
    }

    async fn send(
        &self,
        client: &AepClient,
        found: &Found,
        base: &DesiredBase,
        params: Option<&AuthParams>,
    ) -> anyhow::Result<()> {
        let prefix = base.name.as_str();
        let failed = |what: &str, id: &str, e: ApiError| {
            anyhow::anyhow!(
                "adopting {what} {id} failed: {e}; what was adopted before stays this profile's: \
                 run import again to finish"
            )
        };
        match self {
            Write::Base => {
                let params = params.ok_or_else(|| {
                    anyhow::anyhow!("the base connection's credentials were not prepared")
                })?;
                kinds::base::adopt(client, &found.base, base, params).await
            }
            Write::Source(m) => kinds::source::adopt(client, &m.source, prefix, &m.name)
                .await
                .map_err(|e| failed("source connection", m.source.id.as_str(), e)),
            Write::Target(m) => kinds::target::adopt(client, &m.target, prefix, &m.name)
                .await
                .map_err(|e| failed("target connection", m.target.id.as_str(), e)),
            Write::Flow(m) => kinds::flow::adopt(client, &m.flow, prefix, &m.name)
                .await
                .map_err(|e| failed("dataflow", m.flow.id.as_str(), e)),
        }
    }
}

/// The adoption writes in the order they are sent: the base connection, then per dataflow its
/// source connection, target connection and the dataflow itself.
fn writes(found: &Found) -> Vec<Write<'_>> {
    let mut out = Vec::new();
    if !found.base_owned {
        out.push(Write::Base);
    }
    for m in &found.modules {
        if !m.source_owned {
            out.push(Write::Source(m));
        }
        if !m.target_owned {
            out.push(Write::Target(m));
        }
        if !m.flow_owned {
            out.push(Write::Flow(m));
        }
    }
    out
}

/// Marks everything `found` holds that is not yet the profile's: the base connection (with the
/// profile's credentials, `params`, required when it is not yet the profile's), then per module
/// the source and target connections, then the dataflow. A failure stops there; what was marked
/// stays the profile's, and the next `import` finishes the rest. No adoption starts once
/// `cancel` is cancelled (an interrupt), and one in flight is abandoned when the grace after it
/// ends; the [`Adoption`] lists the objects never attempted.
pub async fn adopt(
    client: &AepClient,
    found: &Found,
    base: &DesiredBase,
    params: Option<&AuthParams>,
    cancel: &Cancel,
) -> Adoption {
    let writes = writes(found);
    let ids = |write: &Write| write.ids(found, &base.name);
    let rest = |from: usize| writes[from..].iter().flat_map(ids).collect();
    for (at, write) in writes.iter().enumerate() {
        if cancel.is_cancelled() {
            return Adoption {
                not_attempted: rest(at),
                ..Adoption::default()
            };
        }
        if let Err(error) = cancel.guard(write.send(client, found, base, params)).await {
            return Adoption {
                not_attempted: rest(at + 1),
                failed: ids(write),
                error: Some(error),
            };
        }
    }
    Adoption::default()
}
