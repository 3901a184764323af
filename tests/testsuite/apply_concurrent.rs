//! Two `apply` runs of the same profile at the same time: both create the base connection, its
//! twin check keeps the oldest (whose description carries its run's lease), the other run deletes
//! its twin, waits for the lease and plans again, finding nothing left to do. No other object
//! gets a twin, not even a mapping set (Data Prep cannot delete one, so a twin would stay).

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use provision::emulator::{EmulatorConfig, Faults};
use serde_json::Value;
use support::cli::{
    flow_mapping, Harness, PREFIX, TEN_MODULES, TEN_MODULE_DATASETS, TEN_MODULE_NAMES,
};

fn ids(h: &Harness, kind: &str) -> BTreeSet<String> {
    h.objects(kind)
        .iter()
        .map(|o| o["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A mapping set's `(source, destination)` pairs, sorted.
fn rules(set: &Value) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = set["mappings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| (m["source"].to_string(), m["destination"].to_string()))
        .collect();
    pairs.sort();
    pairs
}

#[tokio::test(flavor = "multi_thread")]
async fn two_concurrent_applies_end_with_one_object_per_resource() {
    // Latency makes the two runs overlap on every step.
    let h = Harness::with(EmulatorConfig {
        faults: Faults {
            latency: Some(Duration::from_millis(20)),
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let profile = h.profile("profile.toml", TEN_MODULES);
    let (a, b) = tokio::join!(
        h.provision("apply", &profile, &["--yes"]),
        h.provision("apply", &profile, &["--yes"]),
    );
    a.assert_exit(0);
    b.assert_exit(0);
    // The runs really raced: both created a base connection, and the newer was deleted.
    let twins_deleted = h
        .writes()
        .iter()
        .filter(|w| w.method == "DELETE" && w.status == 204)
        .count();
    assert!(twins_deleted > 0, "the two applies did not overlap");

    assert_eq!(h.named("connections", PREFIX).len(), 1);
    for module in TEN_MODULE_NAMES {
        for (kind, suffix) in [
            ("sourceConnections", "source"),
            ("targetConnections", "target"),
            ("flows", "flow"),
        ] {
            let name = format!("{PREFIX} / {module} / {suffix}");
            assert_eq!(h.named(kind, &name).len(), 1, "{name}");
        }
    }
    for dataset in TEN_MODULE_DATASETS {
        assert_eq!(h.named("dataSets", dataset).len(), 1, "{dataset}");
    }
    // Every flow links the surviving objects.
    let sources = ids(&h, "sourceConnections");
    let targets = ids(&h, "targetConnections");
    for flow in h.objects("flows") {
        let source = flow["sourceConnectionIds"][0].as_str().unwrap_or_default();
        let target = flow["targetConnectionIds"][0].as_str().unwrap_or_default();
        assert!(
            sources.contains(source) && targets.contains(target),
            "{flow:#}"
        );
    }

    // Mapping sets cannot be deleted (Data Prep has no DELETE): the lease keeps the second run
    // from making any, so each module has exactly the one its dataflow uses.
    let mut by_module: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for set in h.objects("mappingSets") {
        let description = set["tags"][0]["values"][0].as_str().unwrap_or_default();
        let module = description
            .strip_prefix(&format!("{PREFIX} / "))
            .and_then(|d| d.split(" / ").next())
            .unwrap_or_else(|| panic!("a mapping set provision did not make: {set:#}"))
            .to_owned();
        by_module.entry(module).or_default().push(set);
    }
    let used: BTreeMap<String, String> = h
        .objects("flows")
        .iter()
        .map(|f| {
            let module = f["name"].as_str().unwrap_or_default().split(" / ").nth(1);
            (module.unwrap_or_default().to_owned(), flow_mapping(f).0)
        })
        .collect();
    assert_eq!(
        by_module.keys().collect::<Vec<_>>(),
        used.keys().collect::<Vec<_>>()
    );
    for (module, sets) in &by_module {
        assert_eq!(sets.len(), 1, "{module}: an unused mapping set: {sets:#?}");
        let rules: BTreeSet<Vec<(String, String)>> = sets.iter().map(rules).collect();
        assert_eq!(rules.len(), 1, "{module}: twins with different rules");
        assert!(
            sets.iter().any(|s| s["id"] == used[module].as_str()),
            "{module}: its dataflow uses a mapping set that is not its own"
        );
    }

    h.provision("plan", &profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}
