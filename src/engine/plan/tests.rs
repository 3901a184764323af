//! The plan's unit tests: (desired, observed) in, rows and steps out.

use super::*;
use crate::api::catalog::Dataset;
use crate::engine::desired::tests::{columns, dataflow, profile};
use crate::engine::desired::{self, Desired};
use crate::profile::{Dataflow, DatasetTarget};
use serde_json::{json, Value};

const SCHEMA: &str = "https://ns.adobe.com/acme/schemas/zoho_crm";

fn desired(flows: Vec<Dataflow>) -> Desired {
    desired::build(&profile(flows)).unwrap()
}

fn leads() -> Dataflow {
    dataflow(
        "Leads",
        &[
            ("Email", "personalEmail.address"),
            ("First_Name", "person.name.firstName"),
        ],
    )
}

fn contacts() -> Dataflow {
    let mut d = dataflow("Contacts", &[("Email", "personalEmail.address")]);
    d.dataset = DatasetTarget::Existing {
        id: "6889f4f89b982b2b90bc1208".into(),
    };
    d
}

fn inputs() -> Inputs {
    Inputs {
        explored: BTreeMap::new(),
        now: DateTime::parse_from_rfc3339("2026-11-29T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        include_datasets: false,
    }
}

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// What a finished apply of `d` leaves behind, with ids derived from the module names.
fn converged(d: &Desired) -> Managed {
    let p = &d.prefix;
    let marker = naming::owner_marker(p);
    let mut m = Managed {
        prefix: p.clone(),
        bases: vec![from(json!({
            "id": "base-1", "name": p, "description": d.base.description,
            "connectionSpec": {"id": crate::api::specs::ZOHO_CRM_SPEC_ID, "version": "1.0"},
            "etag": "\"b1\"", "createdAt": 1
        }))],
        ..Managed::default()
    };
    for dm in &d.modules {
        let md = &dm.module;
        let cols: Vec<Value> = dm
            .column_names()
            .unwrap()
            .into_iter()
            .map(|c| json!({"name": c, "type": "string"}))
            .collect();
        m.sources.push(from(json!({
            "id": format!("src-{md}"), "name": dm.source_name, "description": marker,
            "baseConnectionId": "base-1", "params": {"tableName": md, "columns": cols},
            "createdAt": 10
        })));
        let dataset = match &dm.dataset {
            DatasetTarget::Existing { id } => id.clone(),
            DatasetTarget::Create { name } => {
                m.datasets.push(Dataset {
                    id: format!("ds-{md}").as_str().into(),
                    name: Some(name.clone()),
                    description: Some(marker.clone()),
                    schema_ref: Some(crate::api::catalog::SchemaRef {
                        id: SCHEMA.into(),
                        content_type: None,
                    }),
                    tags: Default::default(),
                    created: Some(10),
                    updated: None,
                });
                format!("ds-{md}")
            }
        };
        m.targets.push(from(json!({
            "id": format!("tgt-{md}"), "name": dm.target_name, "description": marker,
            "data": {"schema": {"id": SCHEMA}}, "params": {"dataSetId": dataset},
            "createdAt": 10
        })));
        let mappings: Vec<Value> = dm
            .rules()
            .unwrap()
            .into_iter()
            .map(|r| json!({"sourceType": "ATTRIBUTE", "source": r.source, "destination": r.destination}))
            .collect();
        m.mapping_sets.push(from(json!({
            "id": format!("map-{md}"), "version": 0, "name": kinds::mapping::sets_name(p),
            "outputSchema": {"schemaRef": {"id": SCHEMA}}, "mappings": mappings,
            "tags": [{"name": "description", "values": [kinds::mapping::description(p, md)]}],
            "createdDate": 10
        })));
        m.flows.push(from(json!({
            "id": format!("flow-{md}"), "name": dm.flow_name, "description": marker,
            "etag": "\"f1\"", "createdAt": 10,
            "sourceConnectionIds": [format!("src-{md}")],
            "targetConnectionIds": [format!("tgt-{md}")],
            "transformations": [
                {"name": "Copy", "params": {"deltaColumn": {"name": dm.delta_column}}},
                {"name": "Mapping", "params": {"mappingId": format!("map-{md}"), "mappingVersion": "0"}}
            ],
            "scheduleParams": {"startTime": dm.schedule.start_time.to_string(), "frequency": "hour", "interval": "1", "backfill": "true"}
        })));
    }
    m
}

fn rows(plan: &Plan) -> Vec<(Action, Kind, String)> {
    plan.changes
        .iter()
        .map(|c| (c.action, c.kind, c.name.clone()))
        .collect()
}

fn changed(plan: &Plan) -> Vec<(Action, Kind, Option<String>, Option<String>)> {
    plan.changes
        .iter()
        .filter(|c| c.action != Action::Noop)
        .map(|c| {
            (
                c.action,
                c.kind,
                c.id.as_ref().map(ObjectId::to_string),
                c.reason.clone(),
            )
        })
        .collect()
}

/// The plan's only changes delete the Leads dataflow, then its source and target connections.
fn assert_deletes_the_leads_chain(p: &Plan) {
    let deletes: Vec<(Action, Kind, String)> = changed(p)
        .into_iter()
        .map(|c| (c.0, c.1, c.2.unwrap_or_default()))
        .collect();
    let expected = [
        (Kind::Dataflow, "flow-Leads"),
        (Kind::SourceConnection, "src-Leads"),
        (Kind::TargetConnection, "tgt-Leads"),
    ]
    .map(|(kind, id)| (Action::Delete, kind, id.to_owned()));
    assert_eq!(deletes, expected);
}

#[test]
fn a_fresh_profile_plans_every_object_in_dependency_order() {
    let d = desired(vec![leads(), contacts()]);
    let plan = plan(
        &d,
        &Managed {
            prefix: "p".into(),
            ..Managed::default()
        },
        &inputs(),
    )
    .unwrap();
    use Action::Create;
    assert_eq!(
        rows(&plan),
        vec![
            (Create, Kind::BaseConnection, "p".into()),
            (Create, Kind::SourceConnection, "p / Leads / source".into()),
            (Create, Kind::Dataset, "Zoho Leads".into()),
            (Create, Kind::TargetConnection, "p / Leads / target".into()),
            (Create, Kind::MappingSet, "p / Leads / mapping".into()),
            (Create, Kind::Dataflow, "p / Leads / flow".into()),
            (
                Create,
                Kind::SourceConnection,
                "p / Contacts / source".into()
            ),
            (
                Create,
                Kind::TargetConnection,
                "p / Contacts / target".into()
            ),
            (Create, Kind::MappingSet, "p / Contacts / mapping".into()),
            (Create, Kind::Dataflow, "p / Contacts / flow".into()),
        ]
    );
    assert_eq!(plan.to_explore(), ["Leads", "Contacts"]);
    assert_eq!(
        plan.summary(),
        Summary {
            create: 10,
            ..Summary::default()
        }
    );
}

#[test]
fn a_converged_profile_plans_nothing_and_needs_no_explore() {
    let d = desired(vec![leads(), contacts()]);
    let plan = plan(&d, &converged(&d), &inputs()).unwrap();
    assert!(!plan.has_changes(), "{:#?}", changed(&plan));
    assert_eq!(plan.summary().noop, 10);
    assert!(plan.to_explore().is_empty());
    assert!(plan.changes.iter().all(|c| c.id.is_some()));
}

/// The plan's one change is an update of the Leads dataflow with `reason`.
fn assert_one_flow_update(plan: &Plan, reason: &str) {
    assert_eq!(
        changed(plan),
        vec![(
            Action::Update,
            Kind::Dataflow,
            Some("flow-Leads".into()),
            Some(reason.into())
        )]
    );
}

#[test]
fn a_schedule_change_is_one_dataflow_update_with_the_field() {
    let mut l = leads();
    l.schedule.interval = Some(2);
    let before = desired(vec![leads()]);
    let plan = plan(&desired(vec![l]), &converged(&before), &inputs()).unwrap();
    assert_one_flow_update(&plan, "schedule.interval: 1 -> 2");
    assert!(matches!(plan.modules[0].flow, FlowStep::Update { .. }));
}

#[test]
fn a_state_set_outside_the_tool_is_one_dataflow_update_with_its_diff() {
    let d = desired(vec![leads()]);
    let mut managed = converged(&d);
    managed.flows[0].state = Some("disabled".into());
    let plan = plan(&d, &managed, &inputs()).unwrap();
    assert_one_flow_update(&plan, "state: disabled -> enabled");
    let row = plan.changes.iter().find(|c| c.action == Action::Update);
    assert_eq!(
        row.unwrap().diff,
        vec![kinds::Diff::new("state", "disabled", "enabled")]
    );
    // A state the service does not report is not guessed at.
    managed.flows[0].state = None;
    assert!(!plan_has_changes(&d, &managed));
}

fn plan_has_changes(d: &Desired, managed: &Managed) -> bool {
    plan(d, managed, &inputs()).unwrap().has_changes()
}

#[test]
fn a_future_start_is_patched_but_a_passed_one_replaces_the_chain() {
    let before = desired(vec![leads()]);
    let mut later = leads();
    later.schedule.start = DateTime::parse_from_rfc3339("2027-02-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let p = plan(
        &desired(vec![later.clone()]),
        &converged(&before),
        &inputs(),
    )
    .unwrap();
    assert_eq!(
        changed(&p)[0].3.as_deref(),
        Some("schedule.start: 2027-01-01T00:00:00Z -> 2027-02-01T00:00:00Z")
    );
    let mut after_start = inputs();
    after_start.now = DateTime::parse_from_rfc3339("2027-01-15T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let p = plan(&desired(vec![later]), &converged(&before), &after_start).unwrap();
    let c = changed(&p);
    assert_eq!(
        c.iter().map(|c| (c.0, c.1)).collect::<Vec<_>>(),
        [
            (Action::Replace, Kind::SourceConnection),
            (Action::Replace, Kind::TargetConnection),
            (Action::Replace, Kind::Dataflow)
        ]
    );
    assert!(
        c[2].3
            .as_deref()
            .unwrap()
            .contains("the current start has passed"),
        "{c:?}"
    );
}

#[test]
fn a_new_mapped_column_replaces_the_source_target_and_dataflow() {
    let before = desired(vec![leads()]);
    let l = dataflow(
        "Leads",
        &[
            ("Email", "personalEmail.address"),
            ("First_Name", "person.name.firstName"),
            ("Phone", "mobilePhone.number"),
        ],
    );
    let p = plan(&desired(vec![l]), &converged(&before), &inputs()).unwrap();
    assert_eq!(
        changed(&p),
        vec![
            (
                Action::Replace,
                Kind::SourceConnection,
                Some("src-Leads".into()),
                Some("columns: + Phone".into())
            ),
            (
                Action::Replace,
                Kind::TargetConnection,
                Some("tgt-Leads".into()),
                Some("a new pair for the new dataflow (source columns: + Phone)".into())
            ),
            (
                Action::Create,
                Kind::MappingSet,
                None,
                Some("mapping: + Phone -> mobilePhone.number".into())
            ),
            (
                Action::Replace,
                Kind::Dataflow,
                Some("flow-Leads".into()),
                Some("source columns: + Phone".into())
            ),
        ]
    );
    let m = &p.modules[0];
    assert_eq!(
        m.removals,
        vec![
            Removal {
                row: m.flow.row(),
                id: ObjectId::Flow("flow-Leads".into())
            },
            Removal {
                row: m.source.row(),
                id: ObjectId::Source("src-Leads".into())
            },
            Removal {
                row: m.target.row(),
                id: ObjectId::Target("tgt-Leads".into())
            },
        ]
    );
    // The new source needs explore's column objects.
    assert_eq!(p.to_explore(), ["Leads"]);
}

#[test]
fn a_changed_destination_moves_the_dataflow_to_a_new_mapping_set() {
    let before = desired(vec![leads()]);
    let l = dataflow(
        "Leads",
        &[
            ("Email", "workEmail.address"),
            ("First_Name", "person.name.firstName"),
        ],
    );
    let p = plan(&desired(vec![l]), &converged(&before), &inputs()).unwrap();
    assert_eq!(
        changed(&p),
        vec![
            (
                Action::Create,
                Kind::MappingSet,
                None,
                Some(
                    "mapping: + Email -> workEmail.address, - Email -> personalEmail.address"
                        .into()
                )
            ),
            (
                Action::Update,
                Kind::Dataflow,
                Some("flow-Leads".into()),
                Some("mapping: map-Leads -> a new mapping set".into())
            ),
        ]
    );
}

#[test]
fn a_dataset_change_creates_the_dataset_and_replaces_the_chain() {
    let before = desired(vec![contacts()]);
    let mut c = contacts();
    c.dataset = DatasetTarget::Create {
        name: "Zoho Contacts".into(),
    };
    let p = plan(&desired(vec![c]), &converged(&before), &inputs()).unwrap();
    let c = changed(&p);
    assert_eq!(c[1], (Action::Create, Kind::Dataset, None, None));
    assert_eq!(
        c[2],
        (
            Action::Replace,
            Kind::TargetConnection,
            Some("tgt-Contacts".into()),
            Some("dataset: 6889f4f89b982b2b90bc1208 -> create \"Zoho Contacts\"".into())
        )
    );
    assert_eq!(c[3].0, Action::Replace);
    assert_eq!(c[3].1, Kind::Dataflow);
    assert!(c[3]
        .3
        .as_deref()
        .unwrap()
        .starts_with("target dataset: 6889f4f89b982b2b90bc1208 -> create"));
}

#[test]
fn a_removed_module_deletes_its_flow_then_connections_and_keeps_its_dataset() {
    let before = desired(vec![leads(), contacts()]);
    let p = plan(&desired(vec![contacts()]), &converged(&before), &inputs()).unwrap();
    assert_deletes_the_leads_chain(&p);
    assert_eq!(
        p.removed.iter().map(|r| r.kind()).collect::<Vec<_>>(),
        [
            Kind::Dataflow,
            Kind::SourceConnection,
            Kind::TargetConnection
        ]
    );
    let mut with_datasets = inputs();
    with_datasets.include_datasets = true;
    let p = plan(
        &desired(vec![contacts()]),
        &converged(&before),
        &with_datasets,
    )
    .unwrap();
    assert_eq!(
        p.datasets,
        vec![Removal {
            row: p.changes.len() - 1,
            id: ObjectId::Dataset("ds-Leads".into())
        }]
    );
}

#[test]
fn rotated_zoho_credentials_update_the_base_connection() {
    let d = desired(vec![leads()]);
    let mut m = converged(&d);
    m.bases[0].description = Some("Zoho CRM (managed by provision: p; auth 000000000000)".into());
    let p = plan(&d, &m, &inputs()).unwrap();
    let c = changed(&p);
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].0, c[0].1), (Action::Update, Kind::BaseConnection));
    assert!(c[0]
        .3
        .as_deref()
        .unwrap()
        .starts_with("auth: the profile's Zoho credentials changed (fingerprint 000000000000 -> "));
    assert!(matches!(
        p.base,
        BaseStep::Update {
            rotate_auth: true,
            description: false,
            ..
        }
    ));
}

#[test]
fn a_same_named_base_connection_not_made_by_provision_stops_the_plan() {
    let d = desired(vec![leads()]);
    let mut m = Managed {
        prefix: "p".into(),
        ..Managed::default()
    };
    m.foreign_bases.push(from(
        json!({"id": "theirs", "name": "p", "description": "made in the UI"}),
    ));
    let err = plan(&d, &m, &inputs()).unwrap_err();
    assert!(
        err.0
            .contains("(id theirs) but was not created by provision"),
        "{err}"
    );
    let mut m = converged(&d);
    let twin = m.bases[0].clone();
    m.bases.push(crate::api::connections::Connection {
        id: "base-2".into(),
        ..twin
    });
    let err = plan(&d, &m, &inputs()).unwrap_err();
    assert!(
        err.0.contains("2 base connections named \"p\"") && err.0.contains("base-1, base-2"),
        "{err}"
    );
}

#[test]
fn two_current_dataflows_for_one_module_stop_the_plan() {
    let d = desired(vec![leads()]);
    let mut m = converged(&d);
    let mut twin = m.flows[0].clone();
    twin.id = "flow-twin".into();
    m.flows.push(twin);
    let err = plan(&d, &m, &inputs()).unwrap_err();
    assert!(
        err.0.contains(
            "2 dataflows named \"p / Leads / flow\" match the profile (ids flow-Leads, flow-twin)"
        ),
        "{err}"
    );
}

#[test]
fn an_interrupted_replace_finishes_by_deleting_the_old_chain() {
    // The profile moved Leads to a new column; a previous apply created the new source,
    // target and dataflow, then died before deleting the old ones.
    let old = desired(vec![leads()]);
    let new_flow = dataflow(
        "Leads",
        &[
            ("Email", "personalEmail.address"),
            ("First_Name", "person.name.firstName"),
            ("Phone", "p.n"),
        ],
    );
    let new = desired(vec![new_flow]);
    let mut m = converged(&old);
    let fresh = converged(&new);
    let rename = |v: String| v.replace("Leads", "Leads2");
    let mut s = fresh.sources[0].clone();
    s.id = rename(s.id.to_string()).into();
    let mut t = fresh.targets[0].clone();
    t.id = rename(t.id.to_string()).into();
    let mut f = fresh.flows[0].clone();
    f.id = "flow-new".into();
    f.source_connection_ids = vec![s.id.clone()];
    f.target_connection_ids = vec![t.id.clone()];
    f.created_at = Some(20);
    m.mapping_sets = fresh.mapping_sets.clone();
    m.sources.push(s);
    m.targets.push(t);
    m.flows.push(f);
    let p = plan(&new, &m, &inputs()).unwrap();
    assert_deletes_the_leads_chain(&p);
    assert!(matches!(&p.modules[0].flow, FlowStep::Keep { id, .. } if id.as_str() == "flow-new"));
}

#[test]
fn orphans_of_an_interrupted_first_apply_are_reused_not_duplicated() {
    let d = desired(vec![leads()]);
    let mut m = converged(&d);
    m.flows.clear();
    let p = plan(&d, &m, &inputs()).unwrap();
    assert_eq!(
        changed(&p),
        vec![(Action::Create, Kind::Dataflow, None, None)]
    );
    assert!(matches!(&p.modules[0].source, Slot::Keep { id, .. } if id.as_str() == "src-Leads"));
    assert!(matches!(&p.modules[0].target, Slot::Keep { id, .. } if id.as_str() == "tgt-Leads"));
    assert!(
        matches!(&p.modules[0].mapping, MappingStep::Keep { id, .. } if id.as_str() == "map-Leads")
    );
    assert_eq!(
        p.changes[1].reason.as_deref(),
        Some("exists, not yet linked to a dataflow")
    );
}

#[test]
fn explore_columns_are_checked_at_plan_time() {
    let d = desired(vec![leads()]);
    let mut i = inputs();
    i.explored.insert(
        "Leads".into(),
        columns(&["EMail", "First_Name", "Modified_Time"]),
    );
    let err = plan(
        &d,
        &Managed {
            prefix: "p".into(),
            ..Managed::default()
        },
        &i,
    )
    .unwrap_err();
    assert!(
        err.0
            .contains("mapping source \"Email\" (did you mean \"EMail\"?)"),
        "{err}"
    );
}

#[test]
fn a_dataset_whose_schema_changed_cannot_be_reused() {
    let d = desired(vec![leads()]);
    let mut m = converged(&d);
    m.datasets[0].schema_ref = Some(crate::api::catalog::SchemaRef {
        id: "https://ns.adobe.com/acme/schemas/other".into(),
        content_type: None,
    });
    let err = plan(&d, &m, &inputs()).unwrap_err();
    assert!(
        err.0
            .contains("was created with schema https://ns.adobe.com/acme/schemas/other"),
        "{err}"
    );
}

#[test]
fn an_unreferenced_mapping_set_is_claimed_by_one_module_only() {
    // Two modules want the same rules; one mapping set with those rules is unreferenced.
    let mut contacts = contacts();
    contacts.mapping = leads().mapping;
    let d = desired(vec![leads(), contacts]);
    let mut m = converged(&d);
    m.flows.clear();
    m.mapping_sets.truncate(1);
    let p = plan(&d, &m, &inputs()).unwrap();
    assert!(
        matches!(&p.modules[0].mapping, MappingStep::Keep { id, .. } if id.as_str() == "map-Leads")
    );
    assert!(matches!(p.modules[1].mapping, MappingStep::Create { .. }));
}

#[test]
fn auto_mappings_need_explore_and_are_current_once_explored() {
    let mut deals = dataflow("Deals", &[]);
    deals.mapping = crate::profile::Mapping::Auto {
        prefix: "_acme.zoho".into(),
        skip_unmapped: false,
    };
    let d = desired(vec![deals]);
    let explored = columns(&["Amount", "Modified_Time"]);
    // What an apply with these columns leaves behind.
    let mut resolved_profile = dataflow(
        "Deals",
        &[
            ("Amount", "_acme.zoho.Amount"),
            ("Modified_Time", "_acme.zoho.Modified_Time"),
        ],
    );
    resolved_profile.dataset = d.modules[0].dataset.clone();
    let m = converged(&desired(vec![resolved_profile]));
    let unexplored = plan(&d, &m, &inputs()).unwrap();
    assert_eq!(unexplored.to_explore(), ["Deals"]);
    let mut i = inputs();
    i.explored.insert("Deals".into(), explored);
    let p = plan(&d, &m, &i).unwrap();
    assert!(!p.has_changes(), "{:#?}", changed(&p));
    // A column Zoho added since is a new source column: the chain is replaced.
    i.explored.insert(
        "Deals".into(),
        columns(&["Amount", "Stage", "Modified_Time"]),
    );
    let p = plan(&d, &m, &i).unwrap();
    assert_eq!(p.changes[1].reason.as_deref(), Some("columns: + Stage"));
}

#[test]
fn an_auto_mapping_of_40_columns_reads_one_rule_per_line() {
    // Zoho added 20 columns to a module mapped with `mapping = "auto"`: the plan lists every
    // rule and column it sends on its own line, and the differences one per line, never one
    // line of 1,000 characters.
    let mut names: Vec<String> = (1..=39).map(|i| format!("Field_{i:02}")).collect();
    names.push("Modified_Time".into());
    let mut old: Vec<&str> = names.iter().take(19).map(String::as_str).collect();
    old.push("Modified_Time");
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut deals = dataflow("Deals", &[]);
    deals.mapping = crate::profile::Mapping::Auto {
        prefix: "_acme.zoho".into(),
        skip_unmapped: false,
    };
    let d = desired(vec![deals]);
    let rules: Vec<(String, String)> = old
        .iter()
        .map(|c| (c.to_string(), format!("_acme.zoho.{c}")))
        .collect();
    let rules: Vec<(&str, &str)> = rules
        .iter()
        .map(|(s, t)| (s.as_str(), t.as_str()))
        .collect();
    let mut before = dataflow("Deals", &rules);
    before.dataset = d.modules[0].dataset.clone();
    let m = converged(&desired(vec![before]));
    let mut i = inputs();
    i.explored.insert("Deals".into(), columns(&all));
    let p = plan(&d, &m, &i).unwrap();
    let doc =
        crate::output::ChangesDocument::new(std::path::Path::new("profiles/test.toml"), &p.changes);
    // As a pipe or a file gets it: without the colours of the action symbols.
    let text = anstream::adapter::strip_str(&crate::output::render_plan(&doc, "apply")).to_string();
    let longest = text.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 200, "a line of {longest} characters:\n{text}");
    let mapping = p
        .changes
        .iter()
        .find(|c| c.kind == Kind::MappingSet)
        .unwrap();
    assert_eq!(
        mapping.reason.as_deref(),
        Some("mapping: 20 rules added, 0 removed")
    );
    assert_eq!(mapping.diff.len(), 20);
    insta::assert_snapshot!("plan_auto_40_columns_human", text);
}
