//! Every failure under `--output json` prints exactly one JSON document on stdout with
//! `"error": {"message", "exit_code", ...}` (docs/cli.md#json-output), and a human failure
//! prints its error once.

use crate::support;

use provision::emulator::Faults;
use serde_json::Value;
use support::cli::{Harness, THREE_MODULES};

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_with_an_unknown_key_prints_one_document_with_the_error_and_exits_78() {
    let h = Harness::start().await;
    let text = std::fs::read_to_string(h.profile("ok.toml", THREE_MODULES)).unwrap();
    let profile = h.profile_text(
        "bad.toml",
        &text.replacen("[adobe]", "[adobe]\nsandbx = \"prod\"", 1),
    );
    let out = h.provision("plan", &profile, &["--output", "json"]).await;
    out.assert_exit(78);
    let doc = out.json();
    assert_eq!(doc["error"]["exit_code"], 78, "{doc:#}");
    assert_eq!(doc["error"]["kind"], "profile");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains("sandbx"), "{message}");
    assert!(h.writes().is_empty());
    // The same error in human form: once, on stderr, nothing on stdout.
    let human = h.provision("plan", &profile, &[]).await;
    human.assert_exit(78);
    assert!(human.stdout.is_empty(), "{}", human.stdout);
    assert_eq!(
        human.stderr.matches("unknown key").count(),
        1,
        "{}",
        human.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_that_fails_on_a_500_prints_its_changes_with_the_error_and_exits_1() {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    h.provision("apply", &profile, &["--yes", "-q"])
        .await
        .assert_exit(0);
    // A daily schedule for Contacts: its dataflow is patched, and every PATCH of a dataflow
    // now fails with 500 before the service carries it out.
    let daily = h.profile(
        "daily.toml",
        &THREE_MODULES.replacen(
            "module  = \"Contacts\"",
            "module  = \"Contacts\"\nschedule = { frequency = \"day\", interval = 1, start = \"2027-01-01T00:00:00Z\" }",
            1,
        ),
    );
    h.emulator().set_faults(Faults {
        fail_before_commit: vec!["/data/foundation/flowservice/flows".into()],
        ..Faults::default()
    });
    let out = h
        .provision("apply", &daily, &["--yes", "--output", "json"])
        .await;
    out.assert_exit(1);
    // `json()` parses stdout as exactly one document.
    let doc = out.json();
    assert_eq!(doc["error"]["exit_code"], 1, "{doc:#}");
    assert_eq!(doc["error"]["kind"], "failed");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains("500"), "{message}");
    let changes = doc["changes"].as_array().expect("the changes");
    let failed: Vec<&Value> = changes
        .iter()
        .filter(|c| c["outcome"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{doc:#}");
    assert_eq!(failed[0]["name"], "zoho-crm-test / Contacts / flow");
    assert_eq!(failed[0]["action"], "update");
    assert!(failed[0]["error"].as_str().unwrap().contains("500"));
    assert!(
        changes
            .iter()
            .filter(|c| c["outcome"] != "failed")
            .all(|c| c["outcome"] == "done"),
        "{doc:#}"
    );

    // In human form the error is printed once: in the result, with a brief line on stderr.
    let out = h.provision("apply", &daily, &["--yes"]).await;
    out.assert_exit(1);
    assert_eq!(
        out.stdout.matches("500 FLOW-1102-500").count(),
        1,
        "the failure once\n{}",
        out.stdout
    );
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:") || l.starts_with("failed"))
        .collect();
    assert!(
        errors.iter().all(|l| !l.contains("FLOW-1102-500")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("error: apply failed: 1 change failed (listed above)"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_usage_error_under_json_prints_one_document_and_exits_64() {
    let h = Harness::start().await;
    let out = h.run(&["plan", "--output", "json", "--no-such-flag"]).await;
    out.assert_exit(64);
    let doc = out.json();
    assert_eq!(doc["error"]["exit_code"], 64, "{doc:#}");
    assert_eq!(doc["error"]["kind"], "usage");
}
