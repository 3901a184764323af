//! `provision apply` and `plan` end to end: the real binary against the in-process emulator.

use crate::support;

use std::collections::BTreeSet;

use provision::emulator::{EmulatorConfig, Faults};
use serde_json::Value;
use support::cli::{changed, column_names, flow_mapping, writes, Harness, PREFIX, THREE_MODULES};
use support::SEED_DATASET;

fn name(module: &str, kind: &str) -> String {
    format!("{PREFIX} / {module} / {kind}")
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

/// Applies `dataflows` on a fresh emulator and returns the harness and the profile path.
async fn applied(dataflows: &str) -> (Harness, std::path::PathBuf) {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", dataflows);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    (h, profile)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_apply_creates_one_linked_chain_per_module_and_a_second_one_writes_nothing() {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    let out = h
        .provision("apply", &profile, &["--yes", "--output", "json"])
        .await;
    out.assert_exit(0);
    let doc = out.json();
    assert_eq!(
        doc["summary"],
        serde_json::json!({"create": 15, "update": 0, "replace": 0, "delete": 0, "noop": 0})
    );
    for change in doc["changes"].as_array().unwrap() {
        assert!(change["id"].is_string(), "no id after apply: {change}");
        assert!(change.get("error").is_none(), "{change}");
    }

    // Exactly one base connection, owned, with the profile's description.
    let base = h.one("connections", PREFIX);
    let description = base["description"].as_str().unwrap();
    assert!(
        description.starts_with(
            "Zoho CRM in the test emulator (managed by provision: zoho-crm-test; auth "
        ),
        "{description}"
    );
    assert_eq!(h.objects("connections").len(), 1);

    // Three of each per-module kind, linked: source -> base, target -> dataset, flow -> pair.
    for kind in [
        "sourceConnections",
        "targetConnections",
        "flows",
        "mappingSets",
    ] {
        assert_eq!(h.objects(kind).len(), 3, "{kind}: {:#?}", h.objects(kind));
    }
    let leads_dataset = h.one("dataSets", "Zoho Leads");
    let deals_dataset = h.one("dataSets", "Zoho Deals");
    assert_eq!(
        leads_dataset["description"],
        "managed by provision: zoho-crm-test"
    );
    let expected_dataset = [
        ("Leads", id(&leads_dataset)),
        ("Contacts", SEED_DATASET.to_owned()),
        ("Deals", id(&deals_dataset)),
    ];
    let mapping_ids: BTreeSet<String> = h.objects("mappingSets").iter().map(id).collect();
    for (module, dataset) in expected_dataset {
        let source = h.one("sourceConnections", &name(module, "source"));
        assert_eq!(source["baseConnectionId"], base["id"]);
        assert_eq!(source["params"]["tableName"], module);
        assert_eq!(source["description"], "managed by provision: zoho-crm-test");
        let target = h.one("targetConnections", &name(module, "target"));
        assert_eq!(target["params"]["dataSetId"], dataset.as_str());
        assert_eq!(
            target["data"]["schema"]["id"],
            "https://ns.adobe.com/acme/schemas/zoho_crm"
        );
        let flow = h.one("flows", &name(module, "flow"));
        assert_eq!(
            flow["sourceConnectionIds"],
            serde_json::json!([source["id"]])
        );
        assert_eq!(
            flow["targetConnectionIds"],
            serde_json::json!([target["id"]])
        );
        assert!(mapping_ids.contains(&flow_mapping(&flow).0), "{flow:#}");
    }
    // Explicit mappings ingest the mapped columns and the delta column only; auto takes all.
    assert_eq!(
        column_names(&h.one("sourceConnections", &name("Leads", "source"))),
        ["Email", "First_Name", "Modified_Time"]
    );
    let deals = column_names(&h.one("sourceConnections", &name("Deals", "source")));
    for column in [
        "Amount",
        "Deal_Name",
        "Stage",
        "Closing_Date",
        "Modified_Time",
    ] {
        assert!(deals.iter().any(|c| c == column), "{column} in {deals:?}");
    }

    // What was sent: value types per docs/aep-api.md#value-types/#disagreements (startTime epoch seconds as an integer,
    // interval an integer, backfill a boolean, mappingVersion a string), explore's column objects.
    let requests = h.requests();
    let posted = |suffix: &str| -> Vec<Value> {
        requests
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with(suffix))
            .filter_map(|r| r.body.clone())
            .collect()
    };
    let leads_flow = posted("/flows")
        .into_iter()
        .find(|b| b["name"] == name("Leads", "flow"))
        .expect("the Leads flow was posted");
    assert_eq!(
        leads_flow["scheduleParams"],
        serde_json::json!({"startTime": 1_798_761_600, "frequency": "hour", "interval": 1, "backfill": true})
    );
    assert_eq!(
        leads_flow["flowSpec"]["id"],
        "14518937-270c-4525-bdec-c2ba7cce3860"
    );
    assert_eq!(
        leads_flow["description"],
        "managed by provision: zoho-crm-test"
    );
    assert_eq!(
        leads_flow["transformations"][0],
        serde_json::json!({"name": "Copy", "params": {"deltaColumn": {"name": "Modified_Time"}}})
    );
    assert!(leads_flow["transformations"][1]["params"]["mappingVersion"].is_string());
    let leads_source = posted("/sourceConnections")
        .into_iter()
        .find(|b| b["name"] == name("Leads", "source"))
        .expect("the Leads source was posted");
    assert_eq!(
        leads_source["data"],
        serde_json::json!({"format": "tabular"})
    );
    assert_eq!(
        leads_source["connectionSpec"]["id"],
        "929e4450-0237-4ed2-9404-b7e1e0a00309"
    );
    let email = leads_source["params"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Email")
        .expect("the Email column");
    assert!(
        email["xdm"]["type"].is_string(),
        "explore's column object: {email}"
    );
    let base_post = &posted("/connections")[0];
    assert_eq!(base_post["auth"]["specName"], "Basic Authentication");
    assert_eq!(base_post["auth"]["params"]["endpoint"], h.url().as_str());
    assert_eq!(base_post["auth"]["params"]["accountsUrl"], h.url().as_str());

    // The second apply only reads, with a constant number of requests.
    h.clear_requests();
    let again = h.provision("apply", &profile, &["--yes"]).await;
    again.assert_exit(0);
    assert!(again.stdout.starts_with("No changes"), "{}", again.stdout);
    let requests = h.requests();
    assert!(writes(&requests).is_empty(), "{:#?}", writes(&requests));
    let explores = requests
        .iter()
        .filter(|r| r.path.ends_with("/explore"))
        .count();
    assert_eq!(explores, 1, "only the auto-mapped module is explored");
    assert!(
        requests.len() <= 12,
        "a no-op apply took {} requests: {:#?}",
        requests.len(),
        support::cli::calls(&requests)
    );

    h.provision("plan", &profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_change_is_planned_and_applied_as_one_patch_with_if_match() {
    let (h, _) = applied(THREE_MODULES).await;
    let flow = h.one("flows", &name("Leads", "flow"));
    let changed_profile = h.profile(
        "changed.toml",
        &THREE_MODULES.replacen(
            "module  = \"Leads\"",
            "module  = \"Leads\"\nschedule = { frequency = \"hour\", interval = 2, start = \"2027-01-01T00:00:00Z\", backfill = true }",
            1,
        ),
    );

    let plan = h
        .provision(
            "plan",
            &changed_profile,
            &["--detailed-exitcode", "--output", "json"],
        )
        .await;
    plan.assert_exit(2);
    let doc = plan.json();
    let updates: Vec<&Value> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "noop")
        .collect();
    assert_eq!(updates.len(), 1, "{doc:#}");
    assert_eq!(updates[0]["action"], "update");
    assert_eq!(updates[0]["kind"], "dataflow");
    assert_eq!(updates[0]["module"], "Leads");
    assert_eq!(updates[0]["id"], flow["id"]);
    assert_eq!(updates[0]["reason"], "schedule.interval: 1 -> 2");

    h.clear_requests();
    h.provision("apply", &changed_profile, &["--yes"])
        .await
        .assert_exit(0);
    let writes = h.work_writes();
    assert_eq!(writes.len(), 1, "{:#?}", support::cli::calls(&writes));
    let patch = &writes[0];
    assert_eq!(patch.method, "PATCH");
    assert_eq!(
        patch.path,
        format!("/data/foundation/flowservice/flows/{}", id(&flow))
    );
    assert!(patch.headers.iter().any(|h| h == "if-match"), "{patch:?}");
    assert_eq!(
        patch.body,
        Some(serde_json::json!([
            {"op": "replace", "path": "/scheduleParams/interval", "value": 2}
        ]))
    );
    let after = h.one("flows", &name("Leads", "flow"));
    assert_eq!(after["id"], flow["id"]);
    assert_eq!(
        after["scheduleParams"]["interval"]
            .to_string()
            .trim_matches('"'),
        "2"
    );
    h.provision("plan", &changed_profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_mapped_column_replaces_the_pair_and_the_dataflow() {
    let (h, _) = applied(THREE_MODULES).await;
    let old_flow = h.one("flows", &name("Leads", "flow"));
    let old_source = h.one("sourceConnections", &name("Leads", "source"));
    let old_target = h.one("targetConnections", &name("Leads", "target"));
    let changed_profile = h.profile(
        "changed.toml",
        &THREE_MODULES.replacen(
            "  { source = \"First_Name\", destination = \"person.name.firstName\" },",
            "  { source = \"First_Name\", destination = \"person.name.firstName\" },\n  { source = \"Phone\", destination = \"mobilePhone.number\" },",
            1,
        ),
    );

    let plan = h
        .provision(
            "plan",
            &changed_profile,
            &["--detailed-exitcode", "--output", "json"],
        )
        .await;
    plan.assert_exit(2);
    let doc = plan.json();
    assert_eq!(
        changed(&doc),
        vec![
            (
                "replace".into(),
                "source_connection".into(),
                name("Leads", "source")
            ),
            (
                "replace".into(),
                "target_connection".into(),
                name("Leads", "target")
            ),
            (
                "create".into(),
                "mapping_set".into(),
                name("Leads", "mapping")
            ),
            ("replace".into(), "dataflow".into(), name("Leads", "flow")),
        ]
    );
    let reasons: Vec<&str> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        [
            "columns: + Phone",
            "a new pair for the new dataflow (source columns: + Phone)",
            "mapping: + Phone -> mobilePhone.number",
            "source columns: + Phone"
        ]
    );

    h.clear_requests();
    h.provision("apply", &changed_profile, &["--yes"])
        .await
        .assert_exit(0);
    // The new chain exists before the old one goes: creates, then the old flow, then its pair.
    let writes = h.writes();
    let position = |method: &str, path: &str| {
        writes
            .iter()
            .position(|w| w.method == method && w.path.ends_with(path))
            .unwrap_or_else(|| panic!("no {method} {path} in {:#?}", support::cli::calls(&writes)))
    };
    let new_flow = position("POST", "/flows");
    let old_flow_gone = position("DELETE", &format!("/flows/{}", id(&old_flow)));
    let old_source_gone = position("DELETE", &format!("/sourceConnections/{}", id(&old_source)));
    let old_target_gone = position("DELETE", &format!("/targetConnections/{}", id(&old_target)));
    assert!(new_flow < old_flow_gone && old_flow_gone < old_source_gone.min(old_target_gone));
    assert!(
        writes.iter().all(|w| w.status < 400),
        "{:#?}",
        support::cli::calls(&writes)
    );

    let flow = h.one("flows", &name("Leads", "flow"));
    assert_ne!(flow["id"], old_flow["id"]);
    let source = h.one("sourceConnections", &name("Leads", "source"));
    assert_eq!(
        column_names(&source),
        ["Email", "First_Name", "Modified_Time", "Phone"]
    );
    assert_eq!(
        flow["sourceConnectionIds"],
        serde_json::json!([source["id"]])
    );
    // The new dataflow uses a new mapping set; the old one stays (Data Prep cannot delete it).
    assert_eq!(h.objects("mappingSets").len(), 4);
    let (mapping, _) = flow_mapping(&flow);
    assert_ne!(mapping, flow_mapping(&old_flow).0);
    let set = h
        .objects("mappingSets")
        .into_iter()
        .find(|m| m["id"] == mapping.as_str())
        .expect("the flow's mapping set");
    assert!(set["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["source"] == "Phone" && m["destination"] == "mobilePhone.number"));
    for kind in ["sourceConnections", "targetConnections", "flows"] {
        assert_eq!(h.objects(kind).len(), 3, "{kind}");
    }
    h.provision("plan", &changed_profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_destination_patches_the_dataflow_onto_a_new_mapping_set() {
    let (h, _) = applied(THREE_MODULES).await;
    let flow = h.one("flows", &name("Contacts", "flow"));
    let changed_profile = h.profile(
        "changed.toml",
        &THREE_MODULES.replacen(
            "mapping = [\n  { source = \"Email\", destination = \"personalEmail.address\" },\n]",
            "mapping = [\n  { source = \"Email\", destination = \"_acme.zoho.Email\" },\n]",
            1,
        ),
    );
    let plan = h
        .provision("plan", &changed_profile, &["--output", "json"])
        .await;
    plan.assert_exit(0);
    assert_eq!(
        changed(&plan.json()),
        vec![
            (
                "create".into(),
                "mapping_set".into(),
                name("Contacts", "mapping")
            ),
            ("update".into(), "dataflow".into(), name("Contacts", "flow")),
        ]
    );
    h.clear_requests();
    h.provision("apply", &changed_profile, &["--yes"])
        .await
        .assert_exit(0);
    let writes = h.work_writes();
    assert_eq!(
        support::cli::calls(&writes),
        [
            "POST /data/foundation/conversion/mappingSets -> 200".to_owned(),
            format!(
                "PATCH /data/foundation/flowservice/flows/{} -> 200",
                id(&flow)
            ),
        ]
    );
    let new_set = h
        .objects("mappingSets")
        .into_iter()
        .find(|m| m["mappings"][0]["destination"] == "_acme.zoho.Email")
        .expect("a mapping set with the new destination");
    let patch = writes[1].body.clone().unwrap();
    assert_eq!(patch[0]["op"], "replace");
    assert_eq!(patch[0]["path"], "/transformations/1");
    assert_eq!(patch[0]["value"]["params"]["mappingId"], new_set["id"]);
    let after = h.one("flows", &name("Contacts", "flow"));
    assert_eq!(after["id"], flow["id"]);
    assert_eq!(flow_mapping(&after).0, id(&new_set));
    // Going back to the first mapping reuses its mapping set instead of making a third.
    let first = h.profile("first.toml", THREE_MODULES);
    h.clear_requests();
    h.provision("apply", &first, &["--yes"])
        .await
        .assert_exit(0);
    assert_eq!(
        h.work_writes().len(),
        1,
        "{:#?}",
        support::cli::calls(&h.work_writes())
    );
    assert_eq!(
        flow_mapping(&h.one("flows", &name("Contacts", "flow"))).0,
        flow_mapping(&flow).0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dataset_change_plans_a_replace_with_the_reason() {
    let (h, _) = applied(THREE_MODULES).await;
    let changed_profile = h.profile(
        "changed.toml",
        &THREE_MODULES.replacen(
            "dataset = { id = \"6889f4f89b982b2b90bc1208\" }",
            "dataset = { create = true, name = \"Zoho Contacts\" }",
            1,
        ),
    );
    let plan = h
        .provision("plan", &changed_profile, &["--output", "json"])
        .await;
    plan.assert_exit(0);
    let doc = plan.json();
    let target = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "target_connection" && c["module"] == "Contacts")
        .unwrap()
        .clone();
    assert_eq!(target["action"], "replace");
    assert_eq!(
        target["reason"],
        format!("dataset: {SEED_DATASET} -> create \"Zoho Contacts\"")
    );
    assert_eq!(
        changed(&doc),
        vec![
            (
                "replace".into(),
                "source_connection".into(),
                name("Contacts", "source")
            ),
            ("create".into(), "dataset".into(), "Zoho Contacts".into()),
            (
                "replace".into(),
                "target_connection".into(),
                name("Contacts", "target")
            ),
            (
                "replace".into(),
                "dataflow".into(),
                name("Contacts", "flow")
            ),
        ]
    );
    h.provision("apply", &changed_profile, &["--yes"])
        .await
        .assert_exit(0);
    let dataset = h.one("dataSets", "Zoho Contacts");
    let target = h.one("targetConnections", &name("Contacts", "target"));
    assert_eq!(target["params"]["dataSetId"], dataset["id"]);
    let flow = h.one("flows", &name("Contacts", "flow"));
    assert_eq!(
        flow["targetConnectionIds"],
        serde_json::json!([target["id"]])
    );
    h.provision("plan", &changed_profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_module_is_deleted_flow_first_and_its_dataset_is_kept() {
    let (h, _) = applied(THREE_MODULES).await;
    let deals_flow = h.one("flows", &name("Deals", "flow"));
    let without_deals = THREE_MODULES
        .split("[[dataflows]]")
        .filter(|block| !block.contains("\"Deals\""))
        .collect::<Vec<_>>()
        .join("[[dataflows]]");
    let changed_profile = h.profile("changed.toml", &without_deals);
    let plan = h
        .provision("plan", &changed_profile, &["--output", "json"])
        .await;
    plan.assert_exit(0);
    assert_eq!(
        changed(&plan.json()),
        vec![
            ("delete".into(), "dataflow".into(), name("Deals", "flow")),
            (
                "delete".into(),
                "source_connection".into(),
                name("Deals", "source")
            ),
            (
                "delete".into(),
                "target_connection".into(),
                name("Deals", "target")
            ),
        ]
    );
    let with_datasets = h
        .provision(
            "plan",
            &changed_profile,
            &["--include-datasets", "--output", "json"],
        )
        .await;
    assert!(changed(&with_datasets.json()).contains(&(
        "delete".into(),
        "dataset".into(),
        "Zoho Deals".into()
    )));

    h.clear_requests();
    h.provision("apply", &changed_profile, &["--yes"])
        .await
        .assert_exit(0);
    let writes = h.work_writes();
    assert_eq!(writes.len(), 3, "{:#?}", support::cli::calls(&writes));
    assert_eq!(
        writes[0].path,
        format!("/data/foundation/flowservice/flows/{}", id(&deals_flow))
    );
    assert!(writes
        .iter()
        .all(|w| w.method == "DELETE" && w.status == 204));
    assert!(h.named("flows", &name("Deals", "flow")).is_empty());
    assert!(h
        .named("sourceConnections", &name("Deals", "source"))
        .is_empty());
    assert!(h
        .named("targetConnections", &name("Deals", "target"))
        .is_empty());
    h.one("dataSets", "Zoho Deals");
    h.provision("plan", &changed_profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_column_explore_does_not_list_is_a_plan_error_with_a_suggestion() {
    let (h, _) = applied(THREE_MODULES).await;
    let typo = h.profile(
        "typo.toml",
        &THREE_MODULES.replacen("{ source = \"First_Name\"", "{ source = \"FirstName\"", 1),
    );
    h.clear_requests();
    let out = h.provision("plan", &typo, &[]).await;
    out.assert_exit(1);
    assert!(
        out.stderr
            .contains("module \"Leads\": explore does not list mapping source \"FirstName\" (did you mean \"First_Name\"?)"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    // The same profile on a fresh org fails before any write: the validation reads the columns
    // from Zoho's CRM API when there is no base connection to explore through.
    let fresh = Harness::start().await;
    let typo = fresh.profile(
        "typo.toml",
        &THREE_MODULES.replacen("{ source = \"First_Name\"", "{ source = \"FirstName\"", 1),
    );
    let out = fresh.provision("apply", &typo, &["--yes"]).await;
    out.assert_exit(1);
    // Refused before any write: the error is printed once, on stderr.
    assert!(
        out.stderr.contains("did you mean \"First_Name\"?"),
        "{}",
        out.stderr
    );
    let made: Vec<String> = fresh
        .work_writes()
        .iter()
        .filter(|w| w.status < 400)
        .map(|w| w.path.clone())
        .collect();
    assert!(made.is_empty(), "{made:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_connection_provision_did_not_create_is_never_adopted() {
    let h = Harness::start().await;
    let theirs = h.env.base_connection(PREFIX).await;
    h.clear_requests();
    let profile = h.profile("profile.toml", THREE_MODULES);
    let out = h.provision("plan", &profile, &[]).await;
    out.assert_exit(1);
    assert!(
        out.stderr.contains(&format!(
            "a Zoho CRM base connection named \"{PREFIX}\" already exists (id {theirs}) but was not created by provision"
        )),
        "{}",
        out.stderr
    );
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(1);
    assert!(
        h.writes().is_empty(),
        "{:#?}",
        support::cli::calls(&h.writes())
    );
    assert_eq!(h.objects("connections").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_withdrawn_zoho_spec_stops_apply_with_the_deprecation_message() {
    use provision::emulator::{EmulatorConfig, Faults, ZohoSpec};
    for state in [ZohoSpec::Removed, ZohoSpec::Unlisted] {
        let h = Harness::with(EmulatorConfig {
            faults: Faults {
                zoho_spec: state,
                ..Faults::default()
            },
            ..EmulatorConfig::default()
        })
        .await;
        let profile = h.profile("profile.toml", THREE_MODULES);
        let out = h.provision("apply", &profile, &["--yes"]).await;
        out.assert_exit(1);
        assert!(
            out.stderr.contains("Adobe deprecated the Zoho CRM source"),
            "{state:?}: {}",
            out.stderr
        );
        assert!(h.writes().is_empty(), "{state:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_answered_with_a_gateway_timeout_after_it_committed_is_not_repeated() {
    use provision::emulator::Faults;
    let paths = [
        "/data/foundation/flowservice/connections",
        "/data/foundation/flowservice/sourceConnections",
        "/data/foundation/catalog/dataSets",
        "/data/foundation/flowservice/targetConnections",
        "/data/foundation/conversion/mappingSets",
        "/data/foundation/flowservice/flows",
    ];
    for path in paths {
        let h = Harness::start().await;
        h.emulator().set_faults(Faults {
            fail_after_commit: vec![path.to_owned()],
            ..Faults::default()
        });
        let profile = h.profile("profile.toml", THREE_MODULES);
        let out = h.provision("apply", &profile, &["--yes"]).await;
        out.assert_exit(0);
        // The 504s really happened, and each was followed by a lookup, not a second POST.
        let failed = h
            .writes()
            .iter()
            .filter(|w| w.path == path && w.status == 504)
            .count();
        assert!(failed >= 1, "{path}: no create failed");
        assert_eq!(h.objects("connections").len(), 1, "{path}");
        for kind in [
            "sourceConnections",
            "targetConnections",
            "flows",
            "mappingSets",
        ] {
            assert_eq!(h.objects(kind).len(), 3, "{path}: {kind}");
        }
        h.one("dataSets", "Zoho Leads");
        h.one("dataSets", "Zoho Deals");
        h.emulator().set_faults(Faults::default());
        h.provision("plan", &profile, &["--detailed-exitcode"])
            .await
            .assert_exit(0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_description_and_rotated_credentials_patch_the_base_connection() {
    let (h, profile) = applied(THREE_MODULES).await;
    let base = h.one("connections", PREFIX);

    // The user's description changes: one PATCH of /description.
    let text = std::fs::read_to_string(&profile).unwrap().replace(
        "description = \"Zoho CRM in the test emulator\"",
        "description = \"Zoho CRM, test org\"",
    );
    let renamed = h.profile_text("renamed.toml", &text);
    let plan = h.provision("plan", &renamed, &["--output", "json"]).await;
    plan.assert_exit(0);
    let doc = plan.json();
    assert_eq!(
        changed(&doc),
        vec![("update".into(), "base_connection".into(), PREFIX.into())]
    );
    assert_eq!(
        doc["changes"][0]["reason"],
        "description: \"Zoho CRM in the test emulator\" -> \"Zoho CRM, test org\""
    );
    h.clear_requests();
    h.provision("apply", &renamed, &["--yes"])
        .await
        .assert_exit(0);
    let writes = h.work_writes();
    assert_eq!(writes.len(), 1, "{:#?}", support::cli::calls(&writes));
    assert_eq!(writes[0].method, "PATCH");
    assert_eq!(
        writes[0].path,
        format!("/data/foundation/flowservice/connections/{}", id(&base))
    );
    let description = h.one("connections", PREFIX)["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        description.starts_with("Zoho CRM, test org (managed by provision: zoho-crm-test; auth ")
    );

    // Different Zoho settings (here the API URL) change the fingerprint: the auth params are
    // sent again, then the description records the new fingerprint. The access token is the one
    // the first apply cached: a Zoho token does not depend on the API URL.
    let localhost = h.url().replace("127.0.0.1", "localhost");
    let env = [("PROVISION_ZOHO__API_URL", localhost.as_str())];
    let args = ["plan", renamed.to_str().unwrap(), "--output", "json"];
    let plan = h.run_env(&args, &env).await;
    plan.assert_exit(0);
    let reason = plan.json()["changes"][0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.starts_with("auth: the profile's Zoho credentials changed (fingerprint "),
        "{reason}"
    );
    h.clear_requests();
    h.run_env(&["apply", renamed.to_str().unwrap(), "--yes"], &env)
        .await
        .assert_exit(0);
    let requests = h.requests();
    assert!(
        !requests.iter().any(|r| r.path == "/oauth/v2/token"),
        "the cached Zoho access token is reused"
    );
    let writes = support::cli::without_lease(support::cli::writes(&requests));
    assert_eq!(
        writes
            .iter()
            .map(|w| (
                w.method.as_str(),
                w.body.as_ref().map(|b| b[0]["path"].clone())
            ))
            .collect::<Vec<_>>(),
        [
            ("PATCH", Some(Value::from("/auth/params"))),
            ("PATCH", Some(Value::from("/description"))),
        ]
    );
    let params = &writes[0].body.as_ref().unwrap()[0]["value"];
    for key in [
        "endpoint",
        "accountsUrl",
        "clientId",
        "clientSecret",
        "accessToken",
        "refreshToken",
    ] {
        assert!(params.get(key).is_some(), "{key} missing from {params}");
    }
    assert_eq!(params["clientId"], "1000.LOCALCLIENT");
    assert!(!writes
        .iter()
        .any(|w| format!("{:?}", w.body).contains("local-zoho-secret")));
    h.run_env(
        &["plan", renamed.to_str().unwrap(), "--detailed-exitcode"],
        &env,
    )
    .await
    .assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_without_yes_proceeds_when_stdin_is_not_a_terminal() {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    let out = h.provision("apply", &profile, &[]).await;
    out.assert_exit(0);
    assert!(
        !out.stderr.contains("Only 'yes' will be accepted"),
        "{}",
        out.stderr
    );
    assert_eq!(h.objects("flows").len(), 3);
    // Progress goes to stderr as plain lines when it is not a terminal.
    assert!(
        out.stderr
            .contains("creating dataflow zoho-crm-test / Leads / flow"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("created dataflow zoho-crm-test / Leads / flow (id "),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_the_output_of_plan_apply_or_destroy_at_any_verbosity() {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    let secrets = [
        support::CLIENT_SECRET,
        support::ZOHO_SECRET,
        support::ZOHO_REFRESH,
    ];
    for (command, extra) in [
        ("plan", &["-vv"][..]),
        ("apply", &["--yes", "-vv"][..]),
        ("apply", &["--yes", "-vv", "--output", "json"][..]),
        ("destroy", &["--yes", "-vv"][..]),
    ] {
        let out = h.provision(command, &profile, extra).await;
        out.assert_exit(0);
        for secret in secrets {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "{command} {extra:?} printed a secret"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_explore_does_not_know_is_named_with_the_nearest_one() {
    let (h, _) = applied(THREE_MODULES).await;
    let typo = h.profile(
        "typo.toml",
        &THREE_MODULES.replacen("module  = \"Deals\"", "module  = \"Deal\"", 1),
    );
    let out = h.provision("plan", &typo, &[]).await;
    out.assert_exit(1);
    assert!(
        out.stderr
            .contains("module \"Deal\": the base connection's explore does not know this module (did you mean \"Deals\"?)"),
        "{}",
        out.stderr
    );
}

/// Flow Service and Data Prep document no maximum page size, so provision asks for large pages;
/// a service that answers smaller ones must still be read to the end, or a re-apply would
/// recreate what it did not see.
#[tokio::test(flavor = "multi_thread")]
async fn lists_are_read_to_the_end_when_the_services_answer_smaller_pages_than_asked() {
    let h = Harness::with(EmulatorConfig {
        faults: Faults {
            page_cap: Some(2),
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);

    h.clear_requests();
    let again = h.provision("apply", &profile, &["--yes"]).await;
    again.assert_exit(0);
    assert!(again.stdout.starts_with("No changes"), "{}", again.stdout);
    assert!(h.writes().is_empty(), "{:#?}", h.writes());
    let requests = h.requests();
    let second_pages = |path: &str, marker: &str| {
        requests
            .iter()
            .filter(|r| r.path.ends_with(path))
            .filter(|r| r.query.as_deref().is_some_and(|q| q.contains(marker)))
            .count()
    };
    for path in ["/sourceConnections", "/targetConnections", "/flows"] {
        assert_eq!(
            second_pages(path, "continuationToken="),
            1,
            "{path}: {:#?}",
            support::cli::calls(&requests)
        );
    }
    assert_eq!(second_pages("/mappingSets", "start=2"), 1);
    for kind in [
        "sourceConnections",
        "targetConnections",
        "flows",
        "mappingSets",
    ] {
        assert_eq!(h.objects(kind).len(), 3, "{kind}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_apply_creates_datasets_while_modules_are_still_being_explored() {
    // Ten modules, four at a time: a new module's dataset and target connection do not wait for
    // its explore, so the first dataset POST reaches Catalog before the last module is explored.
    // 400 ms an answer: requests sent together arrive within a few milliseconds of each other,
    // one after another at least 400 ms apart; the margin of half a latency keeps a loaded
    // machine's scheduling delays from counting.
    let latency_ms = 400;
    let h = Harness::with_latency(latency_ms).await;
    let profile = h.profile("profile.toml", support::cli::TEN_MODULES);
    h.provision("apply", &profile, &["--yes", "--concurrency", "4"])
        .await
        .assert_exit(0);
    let log = h.requests();
    let first_dataset = log
        .iter()
        .position(|r| r.method == "POST" && r.path.ends_with("/dataSets"))
        .expect("a dataset was created");
    let last_explore = log
        .iter()
        .rposition(|r| {
            r.query
                .as_deref()
                .is_some_and(|q| q.contains("objectType=table"))
        })
        .expect("modules were explored");
    assert!(
        first_dataset < last_explore,
        "the first dataset POST (request {first_dataset}) came after the last explore (request \
         {last_explore})"
    );

    // A module's dataset POST goes out with its own explore, not after it (nor after the first
    // modules' chains). Checked on the modules with a new dataset explored inside their chains
    // (after the three explored beside the twin check): each chain's requests queue behind the
    // other chains' for one of the four places, so one of them may be held back a round, but not
    // every one. Were the dataset to wait for the explore, none would arrive with it.
    let explored: Vec<&str> = log
        .iter()
        .filter_map(|r| r.query.as_deref()?.strip_prefix("objectType=table&object="))
        .collect();
    assert_eq!(
        explored.len(),
        10,
        "each module is explored once: {explored:?}"
    );
    let apart: Vec<(&str, i64)> = support::cli::TEN_MODULE_DATASETS
        .iter()
        .filter_map(|dataset| {
            let module = dataset.strip_prefix("Zoho ")?;
            let rank = explored.iter().position(|m| *m == module)?;
            (rank >= 3).then_some((module, *dataset))
        })
        .map(|(module, dataset)| {
            let explore = log
                .iter()
                .find(|r| r.query.as_deref() == Some(&format!("objectType=table&object={module}")))
                .unwrap();
            let post = log
                .iter()
                .find(|r| {
                    r.method == "POST"
                        && r.path.ends_with("/dataSets")
                        && r.body.as_ref().is_some_and(|b| b["name"] == dataset)
                })
                .unwrap_or_else(|| panic!("{dataset} was not created"));
            (module, support::cli::spread_ms(&[explore, post]))
        })
        .collect();
    assert!(
        !apart.is_empty(),
        "no module with a new dataset explored late: {explored:?}"
    );
    assert!(
        apart.iter().any(|(_, ms)| *ms < latency_ms as i64 / 2),
        "no dataset POST arrived within {} ms of its module's explore (ms apart: {apart:?})",
        latency_ms / 2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_apply_after_destroy_reuses_the_auto_mapping_set_left_behind() {
    // Data Prep cannot delete mapping sets, so destroy leaves them. Deals maps "auto": its rules
    // are known only once it is explored in the apply that recreates the base connection, which
    // must then find the set that already holds them instead of leaving it unused.
    let (h, profile) = applied(THREE_MODULES).await;
    let deals = h.one("flows", &name("Deals", "flow"));
    let (deals_set, _) = flow_mapping(&deals);
    h.provision("destroy", &profile, &["--yes"])
        .await
        .assert_exit(0);
    assert_eq!(h.objects("connections").len(), 0);
    let sets_before = h.objects("mappingSets").len();

    h.clear_requests();
    let out = h
        .provision("apply", &profile, &["--yes", "--output", "json"])
        .await;
    out.assert_exit(0);
    let deals = h.one("flows", &name("Deals", "flow"));
    assert_eq!(flow_mapping(&deals).0, deals_set);
    assert_eq!(h.objects("mappingSets").len(), sets_before);
    let posted = h
        .writes()
        .iter()
        .filter(|r| r.path.ends_with("/mappingSets"))
        .count();
    assert_eq!(posted, 0, "no mapping set is created: each rule set exists");
    let row = out.json()["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "mapping_set" && c["module"] == "Deals")
        .cloned()
        .expect("a mapping set row for Deals");
    assert_eq!(row["action"], "noop", "{row}");
    assert_eq!(row["id"].as_str(), Some(deals_set.as_str()), "{row}");
    assert_eq!(
        row["reason"], "holds the rules already (left by an earlier run)",
        "the reuse is explained: {row}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_apply_explores_modules_while_the_new_base_connections_twin_check_runs() {
    // 400 ms a request: requests sent together arrive within a few milliseconds of each other,
    // requests sent one after the other at least 400 ms apart; the margin of half a latency keeps
    // a loaded machine's scheduling delays from counting.
    let h = Harness::with_latency(400).await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let log = h.requests();
    let created = log
        .iter()
        .position(|r| r.method == "POST" && r.path.ends_with("/flowservice/connections"))
        .expect("the base connection was created");
    let twin_check = log[created..]
        .iter()
        .find(|r| r.method == "GET" && r.path.ends_with("/flowservice/connections"))
        .expect("the twin check");
    let first_explore = log
        .iter()
        .find(|r| {
            r.query
                .as_deref()
                .is_some_and(|q| q.contains("objectType=table"))
        })
        .expect("modules were explored");
    let apart = support::cli::spread_ms(&[first_explore, twin_check]);
    assert!(
        apart < 200,
        "the first explore arrived {apart} ms from the twin check: they were not sent together"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_apply_that_reuses_orphans_explores_each_module_once() {
    // Everything but the target connections of Leads and Contacts is deleted (as an interrupted
    // destroy would leave it). The next apply creates a base connection; Deals is wholly new and
    // is explored beside the twin check, the other two reuse their orphans and are planned
    // again once explored: nobody is explored twice, and every module ends with one chain.
    let (h, profile) = applied(THREE_MODULES).await;
    let delete = |kind: &'static str, id: String| {
        let h = &h;
        async move {
            let reply = h.env.delete(&format!("{}/{kind}/{id}", support::FS)).await;
            assert!(reply.code() < 300, "DELETE {kind}/{id}: {}", reply.body);
        }
    };
    for flow in h.objects("flows") {
        delete("flows", id(&flow)).await;
    }
    for source in h.objects("sourceConnections") {
        delete("sourceConnections", id(&source)).await;
    }
    delete(
        "targetConnections",
        id(&h.one("targetConnections", &name("Deals", "target"))),
    )
    .await;
    delete("connections", id(&h.one("connections", PREFIX))).await;

    h.clear_requests();
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    for module in ["Leads", "Contacts", "Deals"] {
        let explores = h
            .requests()
            .iter()
            .filter(|r| r.query.as_deref() == Some(&format!("objectType=table&object={module}")))
            .count();
        assert_eq!(explores, 1, "{module} explored {explores} times");
        h.one("flows", &name(module, "flow"));
        h.one("sourceConnections", &name(module, "source"));
        h.one("targetConnections", &name(module, "target"));
    }
}
