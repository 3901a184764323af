//! Mapping sets: Data Prep filters them only by exact `name` and documents neither an update nor
//! a delete, so every mapping set of one profile shares the name [`sets_name`] (one filtered
//! list finds them all), a changed mapping makes a new set (or reuses an unreferenced one that
//! already holds the rules), and none is ever deleted. Which module a set serves is told by the
//! dataflow that refers to it; its description tag names the module for people.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use super::{seen, Attributes, Diff};
use crate::api::dataprep::{self, MappingSet, MappingSetRef, NewMapping, NewMappingSet};
use crate::api::flows::Flow;
use crate::api::{AepClient, ApiError, MappingSetId};
use crate::engine::desired::{DesiredModule, Rule};
use crate::engine::ensure::{Create, Found};
use crate::engine::{naming, Kind, ObjectId};

/// The name every mapping set of one profile shares, so that one `GET /mappingSets?name=...`
/// lists them all.
pub fn sets_name(prefix: &str) -> String {
    format!("{prefix} / mappings")
}

/// The description of a mapping set: its per-module name, then the marker in parentheses.
pub fn description(prefix: &str, module: &str) -> String {
    format!(
        "{} ({})",
        naming::object_name(prefix, module, Kind::MappingSet),
        naming::owner_marker(prefix)
    )
}

/// The mapping sets named [`sets_name`].
pub async fn observe(client: &AepClient, prefix: &str) -> Result<Vec<MappingSet>, ApiError> {
    let name = sets_name(prefix);
    let all = dataprep::list_mapping_sets(client, Some(&name)).await?;
    Ok(all
        .into_iter()
        .filter(|m| m.name.as_deref() == Some(name.as_str()))
        .collect())
}

/// Mapping sets that `flows` refer to but [`observe`] did not return (a service that does not
/// keep mapping set names): read one by one, since there is no id filter.
pub async fn referenced(
    client: &AepClient,
    flows: &[Flow],
    listed: &[MappingSet],
) -> Result<Vec<MappingSet>, ApiError> {
    let known: BTreeSet<&MappingSetId> = listed.iter().map(|m| &m.id).collect();
    let missing: BTreeSet<MappingSetId> = flows
        .iter()
        .filter_map(|f| f.mapping().map(|(_, r)| r.id))
        .filter(|id| !known.contains(id))
        .collect();
    let reads = missing
        .iter()
        .map(|id| dataprep::get_mapping_set(client, id));
    let found = futures::future::try_join_all(reads).await?;
    Ok(found.into_iter().flatten().collect())
}

/// The rules of a mapping set, sorted and without duplicates.
pub fn rules_of(set: &MappingSet) -> Vec<Rule> {
    let mut rules: Vec<Rule> = set
        .rules()
        .into_iter()
        .map(|(s, d)| Rule {
            source: s.to_owned(),
            destination: d.to_owned(),
        })
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

/// Whether `set` holds exactly `rules` (sorted) for the schema `schema_id`.
pub fn holds(set: &MappingSet, rules: &[Rule], schema_id: &str) -> bool {
    set.schema_id() == Some(schema_id) && rules_of(set) == rules
}

/// Rule lists longer than this are summed up in the reason; the diff lists every rule.
const LISTED_IN_REASON: usize = 3;

/// Why the mapping set no longer serves (a new one is needed), with the differences one rule per
/// entry (`rules`, added or removed); `None` when it holds the desired rules. Unknown rules
/// (`None`: auto mapping not explored yet) count as a change, checked again at apply.
pub fn rules_diff(
    set: &MappingSet,
    rules: Option<&[Rule]>,
    schema_id: &str,
) -> Option<(String, Vec<Diff>)> {
    let Some(want) = rules else {
        let reason = "mapping = \"auto\": rules from explore, compared at apply".to_owned();
        return Some((reason, Vec::new()));
    };
    let have = rules_of(set);
    let mut diff = Vec::new();
    let schema = set.schema_id().unwrap_or("none");
    if schema != schema_id {
        diff.push(Diff::new("schema", schema, schema_id));
    }
    let added = want.iter().filter(|r| !have.contains(r));
    diff.extend(added.map(|r| Diff::added("rules", rule_text(r))));
    let removed = have.iter().filter(|r| !want.contains(r));
    diff.extend(removed.map(|r| Diff::removed("rules", rule_text(r))));
    if diff.is_empty() {
        return None;
    }
    let reason = if diff.len() <= LISTED_IN_REASON {
        let parts: Vec<String> = diff.iter().map(reason_part).collect();
        format!("mapping: {}", parts.join(", "))
    } else {
        let count = |from_null: bool| {
            diff.iter()
                .filter(|d| d.path == "rules" && d.from.is_null() == from_null)
                .count()
        };
        format!(
            "mapping: {} rules added, {} removed",
            count(true),
            count(false)
        )
    };
    Some((reason, diff))
}

/// `+ Email -> personalEmail.address`, `- ...`, `schema: a -> b`.
fn reason_part(d: &Diff) -> String {
    match (d.path.as_str(), d.from.is_null()) {
        ("rules", true) => format!("+ {}", super::shown(&d.to)),
        ("rules", false) => format!("- {}", super::shown(&d.from)),
        _ => d.to_string(),
    }
}

/// `Email -> personalEmail.address`.
pub fn rule_text(rule: &Rule) -> String {
    format!("{} -> {}", rule.source, rule.destination)
}

/// What a new mapping set is sent: the schema and each rule (or, for `mapping = "auto"` not yet
/// explored, where the rules will come from).
pub fn attributes(dm: &DesiredModule, rules: Option<&[Rule]>) -> Attributes {
    let rules = match rules {
        Some(rules) => Value::from(rules.iter().map(rule_text).collect::<Vec<_>>()),
        None => {
            Value::from("mapping = \"auto\": every explored column to its XDM field, read at apply")
        }
    };
    Attributes::default()
        .with("schema", dm.schema_id.as_str())
        .with("rules", rules)
}

/// A mapping set reference (id and version): shown by its id in progress lines and rows,
/// ordered by id then version.
#[derive(Clone, PartialEq, Eq)]
pub struct SetRef(pub MappingSetRef);

impl fmt::Display for SetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.id)
    }
}

impl PartialOrd for SetRef {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SetRef {
    fn cmp(&self, other: &Self) -> Ordering {
        (&self.0.id, self.0.version).cmp(&(&other.0.id, other.0.version))
    }
}

impl From<SetRef> for ObjectId {
    fn from(set: SetRef) -> Self {
        ObjectId::Mapping(set.0.id)
    }
}

/// A mapping set to create, and what tells its twin.
pub struct Draft<'a> {
    pub body: NewMappingSet,
    rules: &'a [Rule],
    /// The mapping sets observed before the plan.
    seen: BTreeSet<&'a MappingSetId>,
}

impl<'a> Draft<'a> {
    pub fn new(
        dm: &DesiredModule,
        prefix: &str,
        rules: &'a [Rule],
        observed: &'a [MappingSet],
    ) -> Self {
        let mappings = rules
            .iter()
            .map(|r| NewMapping::attribute(r.source.clone(), r.destination.clone()))
            .collect();
        let mut body = NewMappingSet::new(dm.schema_id.clone(), mappings);
        body.name = Some(sets_name(prefix));
        body.description = Some(description(prefix, &dm.module));
        Self {
            body,
            rules,
            seen: seen(observed, |m| &m.id),
        }
    }
}

impl Create for Draft<'_> {
    type Id = SetRef;

    async fn create(&self, client: &AepClient) -> Result<Self::Id, ApiError> {
        dataprep::create_mapping_set(client, &self.body)
            .await
            .map(SetRef)
    }

    async fn lookup(&self, client: &AepClient) -> Result<Vec<Found<Self::Id>>, ApiError> {
        let body = &self.body;
        let all = dataprep::list_mapping_sets(client, body.name.as_deref()).await?;
        // Every module's set has the same name, and modules may map the same rules: only the
        // module's own description tells its twin from another module's set made by this very
        // run.
        let twin = |m: &MappingSet| {
            m.name == body.name
                && m.description() == body.description.as_deref()
                && holds(m, self.rules, &body.schema_id)
                && !self.seen.contains(&m.id)
        };
        Ok(Found::among(all, twin, |m| {
            (SetRef(m.reference()), m.created_date)
        }))
    }
}

// Adoption (import): nothing is patched, since Data Prep documents no update for mapping sets;
// the adopted dataflow's link to the set is what tells which module it serves.

/// The rules of a mapping set made elsewhere, as a profile's explicit `mapping`; an error naming
/// it when it holds mappings a `{ source, destination }` rule cannot express (calculated fields,
/// constants) or maps into another schema than `schema_id`.
pub fn adoptable(set: &MappingSet, schema_id: &str) -> Result<Vec<Rule>, String> {
    let schema = set.schema_id().unwrap_or("none");
    if schema != schema_id {
        return Err(format!(
            "mapping set {} maps into schema {schema}, but its dataflow's target connection \
             writes schema {schema_id}; fix the dataflow in Adobe's UI first",
            set.id
        ));
    }
    let other = set.mappings.iter().find(|m| {
        m.source().is_none()
            || m.destination().is_none()
            || m.source_type
                .as_deref()
                .is_some_and(|t| !t.eq_ignore_ascii_case("ATTRIBUTE"))
    });
    if let Some(m) = other {
        return Err(format!(
            "mapping set {} holds a mapping a profile cannot express (sourceType {}, source {:?}); \
             provision writes attribute mappings only: replace it in Adobe's UI, or leave this \
             dataflow unmanaged",
            set.id,
            m.source_type.as_deref().unwrap_or("none"),
            m.source().unwrap_or("")
        ));
    }
    Ok(rules_of(set))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_sets_share_a_name_and_carry_their_module_in_the_description() {
        assert_eq!(sets_name("p"), "p / mappings");
        let d = description("p", "Leads");
        assert_eq!(d, "p / Leads / mapping (managed by provision: p)");
        assert!(naming::is_owned(Some(&d), "p"));
    }
}
