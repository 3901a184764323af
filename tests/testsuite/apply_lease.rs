//! The apply lease (docs/performance.md, "How concurrent applies stay safe"): a run holding the
//! lease on the base connection makes a second apply wait, then give up naming the holder; a
//! lease left by a killed run is taken over once it has expired, and that run converges.

use crate::support;

use std::time::{Duration, Instant};

use support::cli::{Harness, PREFIX, TEN_MODULES, TEN_MODULE_NAMES, THREE_MODULES};

fn base_description(h: &Harness) -> String {
    let base = h.one("connections", PREFIX);
    base["description"].as_str().unwrap_or_default().to_owned()
}

fn every_two_hours() -> String {
    THREE_MODULES.replacen(
        "module  = \"Leads\"",
        "module  = \"Leads\"\nschedule = { frequency = \"hour\", interval = 2, start = \"2027-01-01T00:00:00Z\", backfill = true }",
        1,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_apply_waits_for_the_lease_then_gives_up_naming_the_holder() {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let plain = base_description(&h);
    assert!(
        !plain.contains("lease"),
        "the lease was not let go: {plain}"
    );
    // Another apply holds the lease for an hour.
    let held = format!(
        "{}; lease apply-0f1e2d3c4b5a until 2099-01-01T00:00:00Z)",
        plain.strip_suffix(')').unwrap()
    );
    h.set_base_description(&held).await;

    let changed = h.profile("changed.toml", &every_two_hours());
    h.clear_requests();
    let started = Instant::now();
    let out = h
        .provision("apply", &changed, &["--yes", "--lock-timeout", "2s"])
        .await;
    out.assert_exit(1);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "it did not wait"
    );
    assert!(
        out.stderr
            .contains("locked by apply run apply-0f1e2d3c4b5a until 2099-01-01T00:00:00Z"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--lock-timeout"), "{}", out.stderr);
    assert_eq!(h.writes(), vec![], "a waiting apply wrote");
    // The holder's lease is untouched, and the change is still to be made.
    assert_eq!(base_description(&h), held);
    h.provision("plan", &changed, &["--detailed-exitcode"])
        .await
        .assert_exit(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_lease_of_a_killed_run_is_taken_over_and_the_run_converges() {
    let h = Harness::with_latency(20).await;
    let profile = h.profile("profile.toml", TEN_MODULES);
    let path = profile.to_str().unwrap();
    let mut child = h.spawn(&["apply", path, "--yes", "--concurrency", "2"]);
    // Kill it once it holds the lease and has made some of the modules' objects.
    let deadline = Instant::now() + Duration::from_secs(30);
    while h.objects("sourceConnections").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the first apply made no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().expect("the run is killed");
    let _ = child.wait();
    let left = base_description(&h);
    assert!(left.contains("; lease apply-"), "{left}");
    assert!(
        h.objects("flows").len() < TEN_MODULE_NAMES.len(),
        "it finished"
    );

    // Time passes: its lease expires.
    h.expire_lease().await;
    let out = h.provision("apply", &profile, &["--yes"]).await;
    out.assert_exit(0);
    assert!(
        !base_description(&h).contains("lease"),
        "{}",
        base_description(&h)
    );
    for module in TEN_MODULE_NAMES {
        let name = format!("{PREFIX} / {module} / flow");
        assert_eq!(h.named("flows", &name).len(), 1, "{name}");
    }
    h.provision("plan", &profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}
