//! `provision destroy` end to end: reverse order, only owned objects, idempotent.

use crate::support;

use serde_json::{json, Value};
use support::cli::{calls, changed, Harness, PREFIX, THREE_MODULES};
use support::{flow_body, hourly, FS, SEED_DATASET};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

/// Objects made by hand in the same sandbox: a whole chain on another base connection, and a
/// dataflow that borrows one of provision's managed names without its marker.
async fn unowned(h: &Harness) -> Vec<(&'static str, String)> {
    let chain = h
        .env
        .pipeline("Leads", &["Email"], hourly(1_798_761_600))
        .await;
    let dataset = h.env.dataset("made by hand").await;
    let mut lookalike = flow_body(
        &chain.source,
        &chain.target,
        &chain.mapping,
        hourly(1_798_761_600),
    );
    lookalike["name"] = json!(format!("{PREFIX} / Leads / flow"));
    let lookalike = h.env.create(&format!("{FS}/flows"), &lookalike).await;
    vec![
        ("connections", chain.base),
        ("sourceConnections", chain.source),
        ("targetConnections", chain.target),
        ("mappingSets", chain.mapping),
        ("flows", chain.flow),
        ("flows", lookalike),
        ("dataSets", dataset),
        ("dataSets", SEED_DATASET.to_owned()),
    ]
}

fn exists(h: &Harness, kind: &str, id: &str) -> bool {
    h.objects(kind).iter().any(|o| o["id"] == id)
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_deletes_owned_objects_in_reverse_order_and_nothing_else() {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let others = unowned(&h).await;
    let base = h.one("connections", PREFIX);
    let owned_flows: Vec<String> = h
        .objects("flows")
        .iter()
        .filter(|f| f["description"] == "managed by provision: zoho-crm-test")
        .map(id)
        .collect();
    assert_eq!(owned_flows.len(), 3);

    h.clear_requests();
    let out = h
        .provision("destroy", &profile, &["--yes", "--output", "json"])
        .await;
    out.assert_exit(0);
    let doc = out.json();
    assert_eq!(doc["summary"]["delete"], 10, "{doc:#}");
    // Datasets and mapping sets are listed as kept, with the reason.
    let kept: Vec<&Value> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "noop")
        .collect();
    assert_eq!(kept.len(), 2 + 3, "{doc:#}");
    assert!(kept
        .iter()
        .all(|c| c["reason"].as_str().unwrap().starts_with("kept: ")));

    // Order: every dataflow before any connection, the base connection last; no 1418.
    let writes = h.writes();
    assert!(
        writes.iter().all(|w| w.method == "DELETE"),
        "{:#?}",
        calls(&writes)
    );
    assert!(
        writes.iter().all(|w| w.status == 204),
        "a delete was refused: {:#?}",
        calls(&writes)
    );
    let kinds: Vec<&str> = writes
        .iter()
        .map(|w| w.path.split('/').nth(4).unwrap_or_default())
        .collect();
    let last_flow = kinds.iter().rposition(|k| *k == "flows").unwrap();
    let first_connection = kinds
        .iter()
        .position(|k| *k == "sourceConnections" || *k == "targetConnections")
        .unwrap();
    assert!(last_flow < first_connection, "{kinds:?}");
    assert_eq!(
        writes.last().unwrap().path,
        format!("{FS}/connections/{}", id(&base))
    );
    assert_eq!(kinds.iter().filter(|k| **k == "flows").count(), 3);

    // Owned objects are gone; everything else is untouched.
    assert!(h.named("connections", PREFIX).is_empty());
    for flow in owned_flows {
        assert!(!exists(&h, "flows", &flow));
    }
    for kind in ["sourceConnections", "targetConnections"] {
        assert!(
            h.objects(kind)
                .iter()
                .all(|o| o["description"] != "managed by provision: zoho-crm-test"),
            "{kind}"
        );
    }
    for (kind, id) in &others {
        assert!(exists(&h, kind, id), "{kind} {id} was deleted");
    }
    h.one("dataSets", "Zoho Leads");
    h.one("dataSets", "Zoho Deals");

    // A second destroy finds nothing to delete.
    h.clear_requests();
    let again = h.provision("destroy", &profile, &["--yes"]).await;
    again.assert_exit(0);
    assert!(again.stdout.starts_with("No changes"), "{}", again.stdout);
    assert!(h.writes().is_empty(), "{:#?}", calls(&h.writes()));

    // With --include-datasets, the datasets provision created go too, and only those.
    let with = h
        .provision(
            "destroy",
            &profile,
            &["--yes", "--include-datasets", "--output", "json"],
        )
        .await;
    with.assert_exit(0);
    let mut deleted = changed(&with.json());
    deleted.sort();
    assert_eq!(
        deleted,
        [
            ("delete".into(), "dataset".into(), "Zoho Deals".into()),
            ("delete".into(), "dataset".into(), "Zoho Leads".into()),
        ]
    );
    assert!(h.named("dataSets", "Zoho Leads").is_empty());
    assert!(h.named("dataSets", "Zoho Deals").is_empty());
    for (kind, id) in &others {
        assert!(exists(&h, kind, id), "{kind} {id} was deleted");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_works_after_adobe_withdrew_the_zoho_source() {
    use provision::emulator::{Faults, ZohoSpec};
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    h.emulator().set_faults(Faults {
        zoho_spec: ZohoSpec::Removed,
        ..Faults::default()
    });
    h.provision("destroy", &profile, &["--yes"])
        .await
        .assert_exit(0);
    assert!(h.named("connections", PREFIX).is_empty());
    assert!(h.objects("flows").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_keeps_a_base_connection_that_hand_made_sources_use() {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let base = h.one("connections", PREFIX);
    let theirs = h.env.source_connection(&id(&base), "Calls", None).await;
    let out = h
        .provision("destroy", &profile, &["--yes", "--output", "json"])
        .await;
    out.assert_exit(0);
    let doc = out.json();
    let row = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "base_connection")
        .unwrap()
        .clone();
    assert_eq!(row["action"], "noop");
    assert!(row["reason"].as_str().unwrap().contains(&theirs), "{row}");
    h.one("connections", PREFIX);
    assert!(exists(&h, "sourceConnections", &theirs));
}
