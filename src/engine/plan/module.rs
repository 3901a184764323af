//! One module's part of the plan: which of its owned objects stay, which are created, which
//! replace which, and what is deleted once the dataflow is in place. What each kind matches
//! and patches is asked of its module in [`crate::engine::kinds`].

use std::collections::BTreeSet;

use super::{
    Action, Change, FlowStep, Inputs, Linked, MappingStep, ModuleStep, PlanError, Removal, Row,
    Rows, Slot,
};
use crate::api::dataprep::MappingSet;
use crate::api::flows::Flow;
use crate::api::source::SourceConnection;
use crate::api::target::TargetConnection;
use crate::api::{DatasetId, MappingSetId, SourceConnectionId, TargetConnectionId};
use crate::engine::desired::{DesiredModule, Resolved, Rule};
use crate::engine::kinds::flow::{self, Current};
use crate::engine::kinds::{self, ids, source, target, Attributes, Wanted};
use crate::engine::observe::{Managed, ModuleObjects};
use crate::engine::{Kind, ObjectId};
use crate::profile::DatasetTarget;

/// Plans one module of the profile.
pub(super) struct Planner<'p, 'a> {
    pub dm: &'a DesiredModule,
    pub managed: &'a Managed,
    pub linked: &'p Linked<'a>,
    /// Unreferenced mapping sets an earlier module already reuses.
    pub claimed: &'p mut BTreeSet<MappingSetId>,
    pub rows: &'p mut Rows,
}

/// The module's dataflow decision: the one that stays, or the oldest one being replaced (and
/// why).
struct Flows<'a> {
    kept: Option<Current<'a>>,
    old: Option<&'a Flow>,
    replace_reason: Option<String>,
}

impl<'a> Planner<'_, 'a> {
    pub(super) fn plan(&mut self, inputs: &Inputs) -> Result<ModuleStep, PlanError> {
        let dm = self.dm;
        let objects = self.managed.module(&dm.module);
        let resolved = inputs
            .explored
            .get(&dm.module)
            .map(|cols| dm.resolve(cols))
            .transpose()
            .map_err(|e| PlanError(e.0))?;
        let columns = resolved
            .as_ref()
            .map(Resolved::column_names)
            .or_else(|| dm.column_names());
        let rules = resolved
            .as_ref()
            .map(|r| r.rules.clone())
            .or_else(|| dm.rules());
        // The dataset comes first: whether a target connection is current depends on it.
        let (dataset_found, dataset_label) = self.find_dataset()?;
        let wanted = flow::Wanted {
            dm,
            source: source::Wanted {
                module: &dm.module,
                columns: columns.as_ref(),
            },
            target: target::Wanted {
                schema_id: &dm.schema_id,
                dataset: dataset_found.as_ref(),
                dataset_label: &dataset_label,
            },
            now: inputs.now.timestamp(),
        };
        let flows = self.choose_flow(&objects, &wanted)?;
        let (old_source, old_target) = match flows.old {
            Some(old) => flow::linked(old, self.managed),
            None => (None, None),
        };
        let reason = flows.replace_reason.as_deref();
        let sent = kinds::source::attributes(&dm.module, columns.as_ref());
        let source = self.connection(&objects, &flows, old_source, &wanted.source, reason, sent)?;
        let dataset = self.dataset(dataset_found.as_ref());
        let dataset_sent = self.dataset_sent(dataset_found.as_ref());
        let sent = kinds::target::attributes(dm, &dataset_sent);
        let target = self.connection(&objects, &flows, old_target, &wanted.target, reason, sent)?;
        let mapping = self.mapping(&flows, rules.as_deref());
        let sent = kinds::flow::attributes(dm, &dataset_sent);
        let flow = self.flow(&flows, &mapping, sent, inputs.now.timestamp());
        let removals = self.removals(&objects, &flows, &flow, [&source.pairing, &target.pairing]);
        Ok(ModuleStep {
            module: dm.module.clone(),
            resolved,
            source: source.slot,
            dataset,
            target: target.slot,
            mapping,
            flow,
            removals,
        })
    }

    fn row(&self, action: Action, kind: Kind, name: &str) -> Change {
        Change::new(action, kind, name).with_module(Some(&self.dm.module))
    }

    /// The dataset the target must write into (`None` while it does not exist yet), and how it
    /// is shown in reasons.
    fn find_dataset(&self) -> Result<(Option<DatasetId>, String), PlanError> {
        Ok(match &self.dm.dataset {
            DatasetTarget::Existing { id } => (Some(DatasetId::from(id.as_str())), id.clone()),
            DatasetTarget::Create { name } => {
                let found = kinds::dataset::find(&self.managed.datasets, name, self.dm)?;
                (found.map(|d| d.id.clone()), format!("create {name:?}"))
            }
        })
    }

    fn choose_flow(
        &self,
        objects: &ModuleObjects<'a>,
        wanted: &flow::Wanted<'_>,
    ) -> Result<Flows<'a>, PlanError> {
        let current: Vec<Current<'a>> = objects
            .flows
            .iter()
            .filter_map(|f| wanted.check(f, self.managed).ok())
            .collect();
        if let [_, _, ..] = current.as_slice() {
            let flows: Vec<&Flow> = current.iter().map(|c| c.flow).collect();
            return Err(PlanError(format!(
                "module {:?}: {} dataflows named {:?} match the profile (ids {}); provision will \
                 not guess which one to keep: delete all but one (e.g. in the AEP UI) and run again",
                self.dm.module,
                current.len(),
                self.dm.flow_name,
                ids(&flows, |f| f.id.to_string())
            )));
        }
        let kept = current.first().copied();
        let old = match kept {
            Some(_) => None,
            None => oldest(&objects.flows, |f| (f.created_at, f.id.to_string())),
        };
        let replace_reason = old.and_then(|f| wanted.check(f, self.managed).err());
        Ok(Flows {
            kept,
            old,
            replace_reason,
        })
    }

    /// Plans a module's source or target connection (Adobe says not to update them): the one
    /// the kept dataflow links; else one no dataflow links that already matches the profile
    /// (left by an interrupted run), reused; else a new one, replacing the old dataflow's if any.
    fn connection<T: Paired>(
        &mut self,
        objects: &ModuleObjects<'a>,
        flows: &Flows<'a>,
        old: Option<&'a T>,
        wanted: &impl Wanted<T>,
        replace_reason: Option<&str>,
        sent: Attributes,
    ) -> Result<Planned<T::Id>, PlanError> {
        let (kind, name) = (T::KIND, T::name(self.dm));
        let change = self.row(Action::Noop, kind, name);
        let replaced = old.map(|c| c.id().clone().into());
        if let Some(kept) = flows.kept.map(T::of) {
            let id = kept.id().clone();
            let row = self.rows.push(change.with_id(id.clone()));
            return Ok(Planned::keep(row, id, replaced));
        }
        let linked = T::linked(self.linked);
        let orphans: Vec<&T> = T::owned(objects)
            .iter()
            .copied()
            .filter(|c| !linked.contains(c.id()) && wanted.matches(c))
            .collect();
        if orphans.len() > 1 {
            let ids = ids(&orphans, |c| c.id().to_string());
            return Err(twins(&self.dm.module, kind, name, &ids));
        }
        let reuse = orphans.first().map(|c| c.id().clone());
        let change = match (old, &reuse) {
            (Some(c), _) => Change {
                action: Action::Replace,
                ..change
                    .with_id(c.id().clone())
                    .with_reason(if wanted.matches(c) {
                        format!(
                            "a new pair for the new dataflow ({})",
                            replace_reason.unwrap_or_default()
                        )
                    } else {
                        wanted.diff(c)
                    })
                    .with_diff(wanted.entries(c))
                    .with_attributes(sent)
            },
            (None, Some(id)) => change
                .with_id(id.clone())
                .with_reason("exists, not yet linked to a dataflow"),
            (None, None) => Change {
                action: Action::Create,
                ..change.with_attributes(sent)
            },
        };
        let row = self.rows.push(change);
        Ok(match reuse {
            Some(id) => Planned::keep(row, id, replaced),
            None => Planned {
                slot: Slot::Create { row },
                pairing: Pairing {
                    row,
                    kept: None,
                    replaced,
                },
            },
        })
    }

    /// The dataset as the attributes show it: its id, or its name and whether it is new.
    fn dataset_sent(&self, found: Option<&DatasetId>) -> String {
        match (&self.dm.dataset, found) {
            (DatasetTarget::Existing { id }, _) => id.clone(),
            (DatasetTarget::Create { name }, Some(id)) => format!("{name} (id {id})"),
            (DatasetTarget::Create { name }, None) => format!("{name} (created by this apply)"),
        }
    }

    /// The dataset row, when the profile asks provision to create it.
    fn dataset(&mut self, found: Option<&DatasetId>) -> Option<Slot<DatasetId>> {
        let DatasetTarget::Create { name } = &self.dm.dataset else {
            return None;
        };
        Some(match found {
            Some(id) => {
                let row = self
                    .rows
                    .push(self.row(Action::Noop, Kind::Dataset, name).with_id(id));
                Slot::Keep {
                    row,
                    id: id.clone(),
                }
            }
            None => {
                let sent = kinds::dataset::attributes(name, self.dm);
                let change = self.row(Action::Create, Kind::Dataset, name);
                let row = self.rows.push(change.with_attributes(sent));
                Slot::Create { row }
            }
        })
    }

    /// The mapping set step ([`mapping_row`]), its row pushed.
    fn mapping(&mut self, flows: &Flows<'a>, rules: Option<&[Rule]>) -> MappingStep {
        let managed = self.managed;
        let referenced = flows
            .kept
            .map(|c| c.flow)
            .or(flows.old)
            .and_then(|f| f.mapping())
            .and_then(|(_, r)| managed.mapping_sets.iter().find(|m| m.id == r.id));
        let (change, chosen) = mapping_row(self.dm, managed, referenced, rules, self.claimed);
        let row = self.rows.push(change);
        match chosen {
            Some(set) => MappingStep::Keep {
                row,
                id: set.id.clone(),
                version: set.version,
            },
            None => MappingStep::Create { row },
        }
    }

    fn flow(
        &mut self,
        flows: &Flows<'a>,
        mapping: &MappingStep,
        sent: Attributes,
        now: i64,
    ) -> FlowStep {
        let change = self.row(Action::Noop, Kind::Dataflow, &self.dm.flow_name);
        match (flows.kept, flows.old) {
            (Some(current), _) => {
                let target = match mapping {
                    MappingStep::Keep { id, version, .. } => Some((id, *version)),
                    MappingStep::Create { .. } => None,
                };
                let flow = current.flow;
                let diff = flow::patch_diff(flow, self.dm, target);
                let change = change.with_id(&flow.id);
                if diff.is_empty() {
                    let row = self.rows.push(change);
                    return FlowStep::Keep {
                        row,
                        id: flow.id.clone(),
                    };
                }
                let reason: Vec<String> = diff.iter().map(ToString::to_string).collect();
                let row = self.rows.push(Change {
                    action: Action::Update,
                    ..change.with_reason(reason.join(", ")).with_diff(diff)
                });
                FlowStep::Update {
                    row,
                    flow: Box::new(flow.clone()),
                }
            }
            (None, Some(old)) => {
                let diff = flow::replace_diff(old, self.dm, now);
                let mut change = change
                    .with_id(&old.id)
                    .with_attributes(sent)
                    .with_diff(diff);
                change.action = Action::Replace;
                change.reason = flows.replace_reason.clone();
                FlowStep::Create {
                    row: self.rows.push(change),
                }
            }
            (None, None) => {
                let mut change = Change {
                    action: Action::Create,
                    ..change.with_attributes(sent)
                };
                if !self.dm.enabled {
                    change.reason = Some("created, then disabled (enabled = false)".into());
                }
                FlowStep::Create {
                    row: self.rows.push(change),
                }
            }
        }
    }

    /// What goes once the dataflow is in place: the replaced dataflow and pair (completing
    /// their `replace` rows), then leftovers of interrupted runs.
    fn removals(
        &mut self,
        objects: &ModuleObjects<'a>,
        flows: &Flows<'a>,
        flow: &FlowStep,
        pair: [&Pairing; 2],
    ) -> Vec<Removal> {
        let mut removals = Vec::new();
        let keep_flow = flows.kept.map(|c| &c.flow.id);
        let old_flow = flows.old.map(|o| &o.id);
        let mut leftovers: Vec<&Flow> = objects
            .flows
            .iter()
            .copied()
            .filter(|f| Some(&f.id) != keep_flow)
            .collect();
        leftovers.sort_by_key(|f| (Some(&f.id) != old_flow, f.id.clone()));
        for f in leftovers {
            let row = if Some(&f.id) == old_flow {
                flow.row()
            } else {
                let change = self
                    .row(Action::Delete, Kind::Dataflow, &f.name)
                    .with_id(&f.id)
                    .with_reason(
                        "an older dataflow of this module, left over from an interrupted replace",
                    );
                self.rows.push(change)
            };
            removals.push(Removal {
                row,
                id: (&f.id).into(),
            });
        }
        let linked = self.linked;
        let sources = objects.sources.iter().map(|s| {
            let linked = linked.sources.contains(&s.id);
            (ObjectId::from(&s.id), s.name.as_str(), linked)
        });
        let targets = objects.targets.iter().map(|t| {
            let linked = linked.targets.contains(&t.id);
            (ObjectId::from(&t.id), t.name.as_str(), linked)
        });
        let found: [Vec<(ObjectId, &str, bool)>; 2] = [sources.collect(), targets.collect()];
        for (found, pairing) in found.into_iter().zip(pair) {
            for (id, name, linked) in found {
                if Some(&id) == pairing.kept.as_ref() {
                    continue;
                }
                let row = match &pairing.replaced {
                    Some(replaced) if *replaced == id => pairing.row,
                    _ => {
                        let change = self
                            .row(Action::Delete, id.kind(), name)
                            .with_id(id.clone())
                            .with_reason(leftover_reason(linked));
                        self.rows.push(change)
                    }
                };
                removals.push(Removal { row, id });
            }
        }
        removals
    }
}

/// A module's source or target connection, as the plan handles both.
trait Paired: Sized {
    type Id: Clone + Ord + std::fmt::Display + Into<ObjectId>;
    const KIND: Kind;
    fn id(&self) -> &Self::Id;
    fn name(dm: &DesiredModule) -> &str;
    /// The one the current dataflow links.
    fn of(current: Current<'_>) -> &Self;
    /// Every owned one of the module.
    fn owned<'o, 'a>(objects: &'o ModuleObjects<'a>) -> &'o [&'a Self];
    /// Those some owned dataflow links.
    fn linked<'l, 'a>(linked: &'l Linked<'a>) -> &'l BTreeSet<&'a Self::Id>;
}

impl Paired for SourceConnection {
    type Id = SourceConnectionId;
    const KIND: Kind = Kind::SourceConnection;
    fn id(&self) -> &Self::Id {
        &self.id
    }
    fn name(dm: &DesiredModule) -> &str {
        &dm.source_name
    }
    fn of(current: Current<'_>) -> &Self {
        current.source
    }
    fn owned<'o, 'a>(objects: &'o ModuleObjects<'a>) -> &'o [&'a Self] {
        &objects.sources
    }
    fn linked<'l, 'a>(linked: &'l Linked<'a>) -> &'l BTreeSet<&'a Self::Id> {
        &linked.sources
    }
}

impl Paired for TargetConnection {
    type Id = TargetConnectionId;
    const KIND: Kind = Kind::TargetConnection;
    fn id(&self) -> &Self::Id {
        &self.id
    }
    fn name(dm: &DesiredModule) -> &str {
        &dm.target_name
    }
    fn of(current: Current<'_>) -> &Self {
        current.target
    }
    fn owned<'o, 'a>(objects: &'o ModuleObjects<'a>) -> &'o [&'a Self] {
        &objects.targets
    }
    fn linked<'l, 'a>(linked: &'l Linked<'a>) -> &'l BTreeSet<&'a Self::Id> {
        &linked.targets
    }
}

/// A planned source or target connection.
struct Planned<I> {
    slot: Slot<I>,
    pairing: Pairing,
}

impl<I: Clone + Into<ObjectId>> Planned<I> {
    fn keep(row: Row, id: I, replaced: Option<ObjectId>) -> Self {
        Self {
            pairing: Pairing {
                row,
                kept: Some(id.clone().into()),
                replaced,
            },
            slot: Slot::Keep { row, id },
        }
    }
}

/// What a module's removals need of its planned connection of one kind: the one it keeps, and
/// the one the replaced dataflow used (deleted to complete the `replace` row `row`).
struct Pairing {
    row: Row,
    kept: Option<ObjectId>,
    replaced: Option<ObjectId>,
}

fn leftover_reason(linked: bool) -> String {
    if linked {
        "used only by an older dataflow of this module, which is deleted".to_owned()
    } else {
        "not used by any dataflow (left over from an interrupted run)".to_owned()
    }
}

fn twins(module: &str, kind: Kind, name: &str, ids: &str) -> PlanError {
    let what = format!("{}s", kind.as_str().replace('_', " "));
    PlanError(format!(
        "module {module:?}: several {what} named {name:?} match the profile and no dataflow uses \
         them (ids {ids}); provision will not guess which one to use: delete all but one and run \
         again"
    ))
}

/// Oldest first: `createdAt`, then id.
fn oldest<'a, T>(items: &[&'a T], created: impl Fn(&T) -> (Option<i64>, String)) -> Option<&'a T> {
    items
        .iter()
        .min_by_key(|t| {
            let (at, id) = created(t);
            (at.unwrap_or(i64::MAX), id)
        })
        .copied()
}

/// A module's mapping set row, and the set it keeps: the one its dataflow uses (`referenced`)
/// while that holds `rules`; else one no dataflow references (left by an interrupted run, or an
/// earlier mapping) holding exactly them, which is then `claimed` so that no other module takes
/// it; else a create. Mapping sets are only ever created: Data Prep documents no update or
/// delete. Planning asks this of every module; apply asks it again of a new module once explore
/// has told its `mapping = "auto"` rules.
pub(crate) fn mapping_row<'m>(
    dm: &DesiredModule,
    managed: &'m Managed,
    referenced: Option<&'m MappingSet>,
    rules: Option<&[Rule]>,
    claimed: &mut BTreeSet<MappingSetId>,
) -> (Change, Option<&'m MappingSet>) {
    let schema = dm.schema_id.as_str();
    let chosen = referenced
        .filter(|set| rules.is_some_and(|r| kinds::mapping::holds(set, r, schema)))
        .or_else(|| {
            let rules = rules?;
            let free: Vec<&MappingSet> = managed
                .unreferenced_mapping_sets()
                .into_iter()
                .filter(|m| !claimed.contains(&m.id) && kinds::mapping::holds(m, rules, schema))
                .collect();
            oldest(&free, |m| (m.created_date, m.id.to_string()))
        });
    let change =
        Change::new(Action::Noop, Kind::MappingSet, &dm.mapping_name).with_module(Some(&dm.module));
    let Some(set) = chosen else {
        let mut change = Change {
            action: Action::Create,
            ..change.with_attributes(kinds::mapping::attributes(dm, rules))
        };
        let diff = referenced.and_then(|set| kinds::mapping::rules_diff(set, rules, schema));
        if let Some((reason, diff)) = diff {
            change = change.with_reason(reason).with_diff(diff);
        }
        return (change, None);
    };
    claimed.insert(set.id.clone());
    let mut change = change.with_id(&set.id);
    if Some(set) != referenced {
        change.reason = Some("holds the rules already (left by an earlier run)".into());
    }
    (change, Some(set))
}
