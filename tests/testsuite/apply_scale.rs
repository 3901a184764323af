//! Observation is by list, not by item: an unchanged re-apply costs the same few requests for 10
//! or 50 modules (explicit mappings need no explore), and writes nothing.

use crate::support;

use provision::emulator::EmulatorConfig;
use support::cli::{calls, custom_dataflows, Harness};

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_reapply_costs_a_constant_number_of_requests() {
    let mut counts = Vec::new();
    for n in [10, 50] {
        let h = Harness::with(EmulatorConfig {
            extra_modules: n,
            ..EmulatorConfig::default()
        })
        .await;
        let profile = h.profile("profile.toml", &custom_dataflows(n));
        h.provision("apply", &profile, &["--yes", "-q"])
            .await
            .assert_exit(0);
        assert_eq!(h.objects("flows").len(), n);
        h.clear_requests();
        h.provision("apply", &profile, &["--yes"])
            .await
            .assert_exit(0);
        let requests = h.requests();
        assert!(h.writes().is_empty(), "{:#?}", calls(&h.writes()));
        assert!(
            requests.len() <= 12,
            "{n} modules: {} requests\n{:#?}",
            requests.len(),
            calls(&requests)
        );
        counts.push(requests.len());
    }
    // 50 mapping sets fill one Data Prep page exactly, which costs one more (empty) page.
    assert!(
        counts[1] <= counts[0] + 1,
        "the count grew with the modules: {counts:?}"
    );
}
