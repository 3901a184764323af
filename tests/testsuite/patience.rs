//! Issue 19: apply keeps going under sustained faults. Reads outlast a steady error rate (twenty
//! seeded applies under 20% random 5xx all converge), and a module whose chain fails for good
//! after validation is reported while the other modules finish; the next apply completes it.

use crate::reliability::{assert_one_chain_per_module, twenty_module_names, twenty_modules};
use crate::support;

use provision::emulator::{EmulatorConfig, Faults};
use support::cli::{Harness, PREFIX, TEN_MODULES, TEN_MODULE_DATASETS, TEN_MODULE_NAMES};

/// One apply of twenty modules on a fresh emulator whose every request fails with a random 5xx
/// at `rate` (seeded with `seed`); then, faults off, the state must be converged.
async fn apply_under_errors(seed: u64, rate: f64) {
    let h = Harness::with(EmulatorConfig {
        extra_modules: 10,
        seed: Some(seed),
        ..EmulatorConfig::default()
    })
    .await;
    // Set once the harness has its own token, so every draw is one of the tool's requests.
    h.emulator().set_faults(Faults {
        fail_rate: rate,
        ..Faults::default()
    });
    let profile = h.profile("profile.toml", &twenty_modules());
    let out = h.provision("apply", &profile, &["--yes"]).await;
    assert_eq!(out.code, 0, "seed {seed}: apply failed:\n{}", out.stderr);
    let failed = h.requests().iter().filter(|r| r.status >= 500).count();
    assert!(failed > 0, "seed {seed}: no request failed");
    h.emulator().set_faults(Faults::default());
    assert_one_chain_per_module(&h, &twenty_module_names());
    for name in TEN_MODULE_DATASETS {
        h.one("dataSets", name);
    }
    h.provision("plan", &profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_applies_under_twenty_percent_server_errors_all_converge() {
    // Ten at a time: the runs mostly wait out backoffs. About a minute on two busy cores.
    for seeds in (0u64..20).collect::<Vec<_>>().chunks(10) {
        futures::future::join_all(seeds.iter().map(|seed| apply_under_errors(*seed, 0.2))).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_whose_dataset_is_refused_fails_alone_and_the_next_apply_completes_it() {
    let h = Harness::start().await;
    h.emulator().set_faults(Faults {
        refuse_datasets: vec!["^Zoho Deals$".to_owned()],
        ..Faults::default()
    });
    let profile = h.profile("profile.toml", TEN_MODULES);
    let out = h.provision("apply", &profile, &["--yes"]).await;
    out.assert_exit(1);
    // The result lists the failure once, with its error; stderr points at it.
    let failed = out.stdout.split("\nFailed:\n").nth(1).unwrap_or_default();
    assert!(
        failed.contains("Deals") && failed.contains("refused"),
        "the result names the failed module and why:\n{}",
        out.stdout
    );
    assert!(out.stderr.contains("apply failed"), "{}", out.stderr);
    // The refused create was sent once (a 400 is not retried), and nothing of Deals' chain
    // that needs the dataset exists.
    let refused: Vec<_> = h
        .writes()
        .into_iter()
        .filter(|w| w.path.ends_with("/catalog/dataSets") && w.status == 400)
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(h.named("dataSets", "Zoho Deals").is_empty());
    let deals = |kind: &str| format!("{PREFIX} / Deals / {kind}");
    assert!(h.named("flows", &deals("flow")).is_empty());
    assert!(h.named("targetConnections", &deals("target")).is_empty());
    // Every other module's chain is complete and linked.
    for module in TEN_MODULE_NAMES.iter().filter(|m| **m != "Deals") {
        let name = |kind: &str| format!("{PREFIX} / {module} / {kind}");
        let flow = h.one("flows", &name("flow"));
        let source = h.one("sourceConnections", &name("source"));
        let target = h.one("targetConnections", &name("target"));
        assert_eq!(flow["sourceConnectionIds"][0], source["id"], "{module}");
        assert_eq!(flow["targetConnectionIds"][0], target["id"], "{module}");
    }
    for name in TEN_MODULE_DATASETS.iter().filter(|d| **d != "Zoho Deals") {
        h.one("dataSets", name);
    }

    h.emulator().set_faults(Faults::default());
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    assert_one_chain_per_module(&h, &TEN_MODULE_NAMES);
    for name in TEN_MODULE_DATASETS {
        h.one("dataSets", name);
    }
    h.provision("plan", &profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}
