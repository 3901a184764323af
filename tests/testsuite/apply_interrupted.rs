//! Killing `apply` at any point and running it again converges on the same objects as an
//! uninterrupted apply, with no duplicate: the platform is the only state.

use crate::support;

use std::time::Duration;

use provision::emulator::{EmulatorConfig, Faults};
use support::cli::{calls, shape, Harness, THREE_MODULES};

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_killed_after_each_of_its_first_ten_writes_converges_without_duplicates() {
    let reference = Harness::start().await;
    let profile = reference.profile("profile.toml", THREE_MODULES);
    reference
        .provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let expected = shape(&reference);
    let total = reference.done_writes();
    // 15 creates, and the PATCH of the base connection that lets the apply's lease go.
    assert_eq!(total, 16, "{:#?}", calls(&reference.writes()));

    for n in 1..=10 {
        // With one request in flight at a time and 60 ms before each answer, the run can be
        // stopped right after its n-th write, before the next one is carried out.
        let h = Harness::with(EmulatorConfig {
            faults: Faults {
                latency: Some(Duration::from_millis(60)),
                ..Faults::default()
            },
            ..EmulatorConfig::default()
        })
        .await;
        let profile = h.profile("profile.toml", THREE_MODULES);
        let path = profile.to_str().unwrap();
        let mut child = h.spawn(&["apply", path, "--yes", "--concurrency", "1"]);
        h.wait_for_writes(&mut child, n).await;
        child.kill().expect("the apply can be killed");
        let _ = child.wait();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let at_kill = h.done_writes();
        assert!(
            (n..total).contains(&at_kill),
            "killed after write {n}, yet {at_kill} writes were made"
        );

        h.emulator().set_faults(Faults::default());
        // The killed run's lease (on the base connection, once that exists) has expired.
        if !h.objects("connections").is_empty() {
            h.expire_lease().await;
        }
        let again = h.provision("apply", &profile, &["--yes"]).await;
        again.assert_exit(0);
        assert_eq!(
            shape(&h),
            expected,
            "killed after write {n}: the re-run did not converge on the uninterrupted result\n{}",
            again.stderr
        );
        h.provision("plan", &profile, &["--detailed-exitcode"])
            .await
            .assert_exit(0);
    }
}
