//! SIGINT and SIGTERM during `apply` and `import` (docs/cli.md#safety-rules, "Interrupts"): the
//! first signal starts no new write, lets the ones in flight finish, prints what was done and
//! what was not, and exits 130 (143 for SIGTERM); a second signal exits at once; the next run
//! converges.

use crate::support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use provision::emulator::{EmulatorConfig, Faults};
use serde_json::Value;
use support::cli::{calls, custom_dataflows, Harness, Output};

/// Modules in the profile: with 100 ms per answer the apply takes seconds, room to interrupt it.
const MODULES: usize = 20;

async fn slow_harness(latency: Duration) -> Harness {
    Harness::with(EmulatorConfig {
        extra_modules: MODULES,
        faults: Faults {
            latency: Some(latency),
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    })
    .await
}

/// Starts `provision args...` with its output captured.
fn start(h: &Harness, args: &[&str]) -> Child {
    let mut cmd = h.command();
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().expect("the binary starts")
}

fn signal(child: &Child, signal: i32) {
    let pid = i32::try_from(child.id()).expect("a pid");
    // SAFETY: kill(2) with the pid of a child this test started and has not reaped yet.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "the signal was sent");
}

/// Waits for the child's exit (at most `limit`) and returns what it printed.
async fn finish(child: Child, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let output = tokio::time::timeout(
        limit,
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    .unwrap_or_else(|_| panic!("the apply did not exit within {limit:?}"))
    .expect("the blocking task runs")
    .expect("the apply's output");
    let out = Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    (out, started.elapsed())
}

/// Exactly one object per resource of the profile, and nothing left to change.
async fn converged(h: &Harness, profile: &std::path::Path) {
    h.emulator().set_faults(Faults::default());
    let again = h.provision("apply", profile, &["--yes"]).await;
    again.assert_exit(0);
    for kind in [
        "sourceConnections",
        "targetConnections",
        "flows",
        "mappingSets",
    ] {
        let owned = h
            .objects(kind)
            .into_iter()
            .filter(|o| {
                o["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("zoho-crm-test / "))
            })
            .count();
        assert_eq!(owned, MODULES, "{kind} after the re-run\n{}", again.stderr);
    }
    assert_eq!(h.named("connections", "zoho-crm-test").len(), 1);
    h.provision("plan", profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_during_an_apply_stops_new_writes_prints_what_was_done_and_exits_130() {
    let h = slow_harness(Duration::from_millis(100)).await;
    let profile = h.profile("profile.toml", &custom_dataflows(MODULES));
    let path = profile.to_str().unwrap();
    let mut child = start(&h, &["apply", path, "--yes"]);
    h.wait_for_writes(&mut child, 6).await;
    signal(&child, libc::SIGINT);
    let (out, took) = finish(child, Duration::from_secs(5)).await;
    out.assert_exit(130);
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    let made = h.done_writes();
    // 1 base connection + 4 objects per module.
    assert!(
        made < 1 + 4 * MODULES,
        "every write was made: {:#?}",
        calls(&h.writes())
    );
    assert!(
        out.stdout.contains("Apply interrupted by SIGINT: "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("+   base_connection"), "{}", out.stdout);
    assert!(out.stdout.contains("\nNot attempted:\n"), "{}", out.stdout);
    assert!(out.stderr.contains("SIGINT received"), "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("error:").count(),
        1,
        "one error line\n{}",
        out.stderr
    );
    // Nothing is written once the signal has been handled and the run has ended.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.done_writes(), made);
    converged(&h, &profile).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_json_prints_the_changes_with_their_outcome_and_exits_143() {
    let h = slow_harness(Duration::from_millis(100)).await;
    let profile = h.profile("profile.toml", &custom_dataflows(MODULES));
    let path = profile.to_str().unwrap();
    let mut child = start(&h, &["apply", path, "--yes", "--output", "json"]);
    h.wait_for_writes(&mut child, 6).await;
    signal(&child, libc::SIGTERM);
    let (out, _) = finish(child, Duration::from_secs(5)).await;
    out.assert_exit(143);
    let doc = out.json();
    assert_eq!(doc["error"]["exit_code"], 143, "{doc:#}");
    assert_eq!(doc["error"]["kind"], "terminated");
    let changes = doc["changes"].as_array().expect("the changes");
    let outcome = |c: &Value| c["outcome"].as_str().unwrap_or("missing").to_owned();
    assert!(
        changes
            .iter()
            .all(|c| ["done", "failed", "not_attempted"].contains(&outcome(c).as_str())),
        "{doc:#}"
    );
    let done = changes.iter().filter(|c| outcome(c) == "done").count();
    let skipped = changes
        .iter()
        .filter(|c| outcome(c) == "not_attempted")
        .count();
    assert!(
        done >= 6 && skipped > 0,
        "{done} done, {skipped} not attempted"
    );
    // What is `done` exists: its id is the object's.
    let flows: Vec<String> = h
        .objects("flows")
        .iter()
        .map(|f| f["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    for c in changes
        .iter()
        .filter(|c| c["kind"] == "dataflow" && outcome(c) == "done")
    {
        assert!(
            flows.contains(&c["id"].as_str().unwrap().to_owned()),
            "{c:#}"
        );
    }
    converged(&h, &profile).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sigint_exits_at_once_without_waiting_for_the_writes_in_flight() {
    // Once the writes have begun each answer takes 3 s: after the first signal the apply would
    // wait for its writes in flight; the second signal does not. (The reads of the validation
    // before the first write stay quick.)
    let h = slow_harness(Duration::from_millis(100)).await;
    let profile = h.profile("profile.toml", &custom_dataflows(MODULES));
    let path = profile.to_str().unwrap();
    let mut child = start(&h, &["apply", path, "--yes", "--output", "json"]);
    h.wait_for_writes(&mut child, 1).await;
    h.emulator().set_faults(Faults {
        latency: Some(Duration::from_secs(3)),
        ..Faults::default()
    });
    // The modules' first writes are now in flight.
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&child, libc::SIGINT);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait().expect("the apply's status").is_none(),
        "the first signal ended the apply without waiting for the writes in flight"
    );
    signal(&child, libc::SIGINT);
    let (out, took) = finish(child, Duration::from_secs(10)).await;
    out.assert_exit(130);
    assert!(took < Duration::from_millis(1500), "exit took {took:?}");
    let doc = out.json();
    assert_eq!(doc["error"]["exit_code"], 130, "{doc:#}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("second SIGINT"),
        "{doc:#}"
    );
    converged(&h, &profile).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_during_an_import_stops_between_adoptions_and_the_next_import_finishes() {
    let (h, base) = crate::import::setup().await;
    let (profile, before) = crate::import::fresh_profile(&h);
    h.emulator().set_faults(Faults {
        latency: Some(Duration::from_millis(300)),
        ..Faults::default()
    });
    let path = profile.to_str().unwrap();
    let args = [
        "import",
        path,
        "--base-connection",
        &base,
        "--yes",
        "--output",
        "json",
    ];
    let mut child = start(&h, &args);
    // The base connection's two PATCHes (credentials, then name); a source connection's is next.
    h.wait_for_writes(&mut child, 2).await;
    signal(&child, libc::SIGINT);
    let (out, _) = finish(child, Duration::from_secs(15)).await;
    out.assert_exit(130);
    let doc = out.json();
    assert_eq!(doc["error"]["kind"], "interrupted", "{doc:#}");
    let kinds = |key: &str| -> Vec<String> {
        doc[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} in {doc:#}"))
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    let (adopted, skipped) = (kinds("adopted"), kinds("not_attempted"));
    assert!(adopted.contains(&"base_connection".to_owned()), "{doc:#}");
    assert!(skipped.contains(&"dataflow".to_owned()), "{doc:#}");
    // 1 base connection and 3 dataflows with their source, target and mapping set.
    assert_eq!(adopted.len() + skipped.len(), 13, "{doc:#}");
    // 2 PATCHes for the base connection, 1 per other object but mapping sets: 11 in all.
    let made = h.done_writes();
    assert!(
        made < 11,
        "every adoption was sent: {:#?}",
        calls(&h.writes())
    );
    assert_eq!(std::fs::read_to_string(&profile).unwrap(), before);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(h.done_writes(), made, "a write after the import ended");

    h.emulator().set_faults(Faults::default());
    let again = h
        .provision("import", &profile, &["--base-connection", &base, "--yes"])
        .await;
    again.assert_exit(0);
    let after = std::fs::read_to_string(&profile).unwrap();
    assert_eq!(after.matches("[[dataflows]]").count(), 3, "{after}");
    h.provision("plan", &profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}
