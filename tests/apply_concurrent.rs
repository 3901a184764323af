//! Two `apply` runs of the same profile at the same time: after each create, a run re-lists by
//! name and, when a twin exists, keeps the oldest and deletes its own. Mapping sets are the
//! exception: Data Prep cannot delete them, so a twin stays, unused.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use provision::emulator::{EmulatorConfig, Faults};
use support::cli::{Harness, PREFIX, THREE_MODULES};

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
    let profile = h.profile("profile.toml", THREE_MODULES);
    let (a, b) = tokio::join!(
        h.provision("apply", &profile, &["--yes"]),
        h.provision("apply", &profile, &["--yes"]),
    );
    a.assert_exit(0);
    b.assert_exit(0);
    // The runs really raced: twins were created, and the newer of each pair deleted.
    let twins_deleted = h
        .writes()
        .iter()
        .filter(|w| w.method == "DELETE" && w.status == 204)
        .count();
    assert!(twins_deleted > 0, "the two applies did not overlap");

    assert_eq!(h.named("connections", PREFIX).len(), 1);
    for module in ["Leads", "Contacts", "Deals"] {
        for (kind, suffix) in [
            ("sourceConnections", "source"),
            ("targetConnections", "target"),
            ("flows", "flow"),
        ] {
            let name = format!("{PREFIX} / {module} / {suffix}");
            assert_eq!(h.named(kind, &name).len(), 1, "{name}");
        }
    }
    assert_eq!(h.named("dataSets", "Zoho Leads").len(), 1);
    assert_eq!(h.named("dataSets", "Zoho Deals").len(), 1);
    // Every flow links the surviving objects, and their mapping sets exist.
    let sources: BTreeSet<String> = h
        .objects("sourceConnections")
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    for flow in h.objects("flows") {
        let source = flow["sourceConnectionIds"][0].as_str().unwrap();
        assert!(sources.contains(source), "{flow:#}");
    }
    h.provision("plan", &profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}
