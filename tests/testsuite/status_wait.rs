//! `provision status` under faults and with runs in flight: a wait outlasts an outage of the runs
//! query, and the health verdict does not depend on how many runs are shown.

use crate::support::status as status_support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use provision::emulator::EmulatorConfig;
use status_support::{json_of, text, Harness, FS};

/// Whole minutes `ago` before the emulator's `now`, as people write schedules, minus `seconds`.
fn start_before(h: &Harness, ago: chrono::Duration, seconds: i64) -> DateTime<Utc> {
    let start = (h.now() - ago)
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .expect("a valid time");
    start - chrono::Duration::seconds(seconds)
}

/// A harness managing one flow, Leads, scheduled hourly from three hours ago.
async fn one_managed_flow(config: EmulatorConfig) -> Harness {
    let h = Harness::managing(config, &["Leads"], Utc::now()).await;
    let start = start_before(&h, chrono::Duration::hours(3), 0);
    h.create_managed_flows(&["Leads"], &["Email"], start).await;
    h
}

#[tokio::test(flavor = "multi_thread")]
async fn a_six_second_outage_of_the_runs_query_does_not_end_the_wait() {
    let h = one_managed_flow(EmulatorConfig {
        time_scale: 600.0,
        ..EmulatorConfig::default()
    })
    .await;

    let mut faults = h.emulator().faults();
    faults.outage = vec![format!("{FS}/runs")];
    h.emulator().set_faults(faults.clone());
    let mut cmd = h.binary();
    cmd.args(["status", h.profile_arg(), "--wait", "--timeout", "60s"]);
    let waiting = tokio::task::spawn_blocking(move || cmd.output().expect("runs"));
    // The outage lasts six seconds from the first runs query it refused (not from the start of
    // the process, which a loaded machine may take seconds to reach), and at least until more
    // queries were refused than one read makes attempts, so that a whole read failed and was
    // reported whatever its random back-off.
    let attempts = provision::transport::HttpOptions::default().max_attempts as usize;
    let refused = |h: &Harness| {
        h.emulator()
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/runs") && r.status == 503)
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(50);
    while refused(&h) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused(&h) > 0,
        "status never queried the runs during the outage"
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    while refused(&h) <= attempts && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!waiting.is_finished(), "the wait ended during the outage");
    faults.outage.clear();
    h.emulator().set_faults(faults);
    let output = waiting.await.expect("the command finishes");

    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("could not read the runs"),
        "the outage is reported on stderr:\n{stderr}"
    );
    assert!(text(&output.stdout).contains("every newest run succeeded"));
}

/// `status --wait --timeout {timeout}` on one managed flow while `out` (a Flow Service path)
/// answers only 503s, every answer `latency` late: the command's exit code, its stderr, and how
/// long it took.
async fn wait_through_an_outage(
    out: &str,
    latency: Option<Duration>,
    timeout: &str,
) -> (Option<i32>, String, Duration) {
    let h = one_managed_flow(EmulatorConfig::default()).await;
    let mut faults = h.emulator().faults();
    faults.outage = vec![format!("{FS}{out}")];
    faults.latency = latency;
    h.emulator().set_faults(faults);

    let began = Instant::now();
    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--wait", "--timeout", timeout])
        .output()
        .expect("runs");
    (output.status.code(), text(&output.stderr), began.elapsed())
}

/// An outage of the runs query past `--timeout 5s`: the wait ends at the timeout, exit 1, and
/// says the runs could not be read (not that a flow has no run yet, which nobody saw).
async fn assert_an_outage_past_the_timeout_is_reported(latency: Option<Duration>) {
    let (code, stderr, took) = wait_through_an_outage("/runs", latency, "5s").await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("timed out after 5s")
            && stderr.contains("could not read the runs for the last")
            && stderr.contains("Leads: runs not read yet")
            && !stderr.contains("no run yet"),
        "{stderr}"
    );
    // Five seconds and the process start, not the read's attempts and back-off after them.
    assert!(took < Duration::from_secs(9), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_that_outlasts_the_timeout_says_so() {
    assert_an_outage_past_the_timeout_is_reported(None).await;
}

/// With 1.5 s per answer, the first runs read is still retrying (or waiting for an answer)
/// when the timeout passes.
#[tokio::test(flavor = "multi_thread")]
async fn an_outage_of_slow_answers_that_outlasts_the_timeout_says_so() {
    assert_an_outage_past_the_timeout_is_reported(Some(Duration::from_millis(1500))).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_with_a_newer_run_in_progress_is_the_same_at_one_and_ten_runs() {
    let h = Harness::managing(EmulatorConfig::default(), &["Leads"], Utc::now()).await;
    // Hourly, so that the newest run started 40 s ago (in progress for a few minutes) and the
    // two before it have finished.
    let start = start_before(&h, chrono::Duration::hours(3), 40);
    h.create_managed_flows(&["Leads"], &["Email"], start).await;

    let health = |runs: &str| {
        let output = h
            .binary()
            .args([
                "status",
                h.profile_arg(),
                "--output",
                "json",
                "--runs",
                runs,
            ])
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let doc = json_of(&output);
        let flow = &doc["dataflows"][0];
        (flow["runs"][0]["status"].clone(), flow["health"].clone())
    };
    let (newest, one) = health("1");
    let (_, ten) = health("10");
    assert_eq!(newest, "in_progress", "the newest run is still running");
    assert_eq!(one, ten);
    assert_eq!(one["status"], "healthy", "{one}");
    assert!(
        one["message"]
            .as_str()
            .is_some_and(|m| m.contains("a newer run is in_progress")),
        "{one}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_timeout_bounds_the_whole_wait_including_a_slow_first_read() {
    // The dataflows cannot be listed for the first three seconds, and their runs not at all:
    // `--timeout 6s` must end the command about six seconds after it started, not six seconds
    // after the list finally answered.
    let h = one_managed_flow(EmulatorConfig::default()).await;
    let mut faults = h.emulator().faults();
    faults.outage = vec![format!("{FS}/flows"), format!("{FS}/runs")];
    h.emulator().set_faults(faults.clone());

    let mut cmd = h.binary();
    cmd.args(["status", h.profile_arg(), "--wait", "--timeout", "6s"]);
    let began = Instant::now();
    let waiting = tokio::task::spawn_blocking(move || cmd.output().expect("runs"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    faults.outage = vec![format!("{FS}/runs")];
    h.emulator().set_faults(faults);
    let output = waiting.await.expect("the command finishes");
    let took = began.elapsed();

    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("timed out after 6s"), "{stderr}");
    // A fresh timeout after the list would end at about nine seconds.
    assert!(
        took < Duration::from_secs(8),
        "the command took {took:?} for a 6 s timeout:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_list_of_the_dataflows_that_never_answers_ends_at_the_timeout() {
    // The dataflows list answers only 503s, each after 1.5 s: its five attempts alone would
    // take seven and a half seconds, and `--timeout 3s` must end the command near three (the
    // IMS token takes 1.5 s, the first list attempt is cut at the time limit).
    let latency = Some(Duration::from_millis(1500));
    let (code, stderr, took) = wait_through_an_outage("/flows", latency, "3s").await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("listing the dataflows managed by")
            && stderr.contains("the command's time limit ends before the next one"),
        "{stderr}"
    );
    // Three seconds, the answer in flight then, and the process start.
    assert!(
        took < Duration::from_secs(7),
        "the command took {took:?} for a 3 s timeout:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_that_never_comes_is_not_awaited_past_the_timeout() {
    // Every answer comes 20 s late: the command's first request (the IMS token) would wait for
    // the 30 s request timeout; `--timeout 3s` must end the command near three.
    let latency = Some(Duration::from_secs(20));
    let (code, stderr, took) = wait_through_an_outage("/flows", latency, "3s").await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    assert!(
        took < Duration::from_secs(7),
        "the command took {took:?} for a 3 s timeout:\n{stderr}"
    );
}
