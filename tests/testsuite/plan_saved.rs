//! Saved plans (`plan --out`, `apply --plan`), `destroy`'s consent off a terminal, and what a
//! failed apply says it did, through the binary against the emulator (docs/pipeline.md, "Gate on
//! a saved plan").

use serde_json::{json, Value};

use crate::support;
use support::cli::{calls, changed, Harness, Output, PREFIX, THREE_MODULES};

/// THREE_MODULES with the Contacts schedule changed (a PATCH) and Deals removed (deletes).
fn changed_profile() -> String {
    crate::support::cli::without_deals().replacen(
            "module  = \"Contacts\"",
            "module  = \"Contacts\"\nschedule = { frequency = \"minute\", interval = 30, start = \"2027-01-01T00:00:00Z\", backfill = true }",
            1,
        )
}

/// Runs `plan --out` into `plan.json` in the harness's directory and returns the file.
async fn plan_out(h: &Harness, profile: &std::path::Path) -> std::path::PathBuf {
    let file = h.dir.path().join("plan.json");
    let out = h
        .provision("plan", profile, &["--out", file.to_str().unwrap()])
        .await;
    out.assert_exit(0);
    assert!(out.stderr.contains("--plan"), "{}", out.stderr);
    file
}

/// `apply --plan file`, which must exit 1 without a single write; its output.
async fn refused(h: &Harness, profile: &std::path::Path, file: &std::path::Path) -> Output {
    h.clear_requests();
    let out = h
        .provision("apply", profile, &["--plan", file.to_str().unwrap()])
        .await;
    out.assert_exit(1);
    assert!(h.writes().is_empty(), "{:#?}", calls(&h.writes()));
    out
}

/// `(action, kind, name)` of the saved plan's changes that are not `noop`.
fn saved_changes(file: &std::path::Path) -> Vec<(String, String, String)> {
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    changed(&json!({"changes": saved["changes"]}))
}

/// A harness whose emulator holds THREE_MODULES applied, and the changed profile written.
async fn applied() -> (Harness, std::path::PathBuf) {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let changed = h.profile("changed.toml", &changed_profile());
    (h, changed)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_exactly_its_changes() {
    let (h, profile) = applied().await;
    let file = plan_out(&h, &profile).await;

    // The file: versioned, with what the plan read, and no secret.
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in [
        support::CLIENT_SECRET,
        support::ZOHO_SECRET,
        support::ZOHO_REFRESH,
    ] {
        assert!(!text.contains(secret), "the saved plan holds a secret");
    }
    let saved: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(saved["format"], "provision-plan");
    assert_eq!(saved["version"], 1);
    assert!(saved["profile_digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    let flows = h.objects("flows");
    let objects = saved["objects"].as_array().unwrap();
    for flow in &flows {
        let entry = objects
            .iter()
            .find(|o| o["id"] == flow["id"])
            .unwrap_or_else(|| panic!("flow {} is not among {objects:#?}", flow["id"]));
        assert_eq!(entry["kind"], "dataflow");
        assert_eq!(entry["etag"], flow["etag"]);
    }
    let planned = saved_changes(&file);
    assert!(
        planned.contains(&(
            "update".into(),
            "dataflow".into(),
            "zoho-crm-test / Contacts / flow".into()
        )),
        "{planned:#?}"
    );

    h.clear_requests();
    let out = h
        .provision(
            "apply",
            &profile,
            &["--plan", file.to_str().unwrap(), "--output", "json"],
        )
        .await;
    out.assert_exit(0);
    let mut done = changed(&out.json());
    let mut planned = planned;
    done.sort();
    planned.sort();
    assert_eq!(done, planned);
    // Exactly those writes (besides the lease's take and release): one PATCH, and the Deals
    // flow then its connections deleted.
    let mut writes: Vec<String> = h
        .work_writes()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path.rsplit_once('/').unwrap().0))
        .collect();
    writes.sort();
    assert_eq!(
        writes,
        [
            "DELETE /data/foundation/flowservice/flows",
            "DELETE /data/foundation/flowservice/sourceConnections",
            "DELETE /data/foundation/flowservice/targetConnections",
            "PATCH /data/foundation/flowservice/flows",
        ],
        "{:#?}",
        calls(&h.work_writes())
    );
    // The saved plan took the lease like any apply (its own lease did not make it out of date)
    // and let it go.
    assert_eq!(
        h.writes().len(),
        h.work_writes().len() + 2,
        "{:#?}",
        calls(&h.writes())
    );
    let base = h.one("connections", PREFIX);
    assert!(
        !base["description"]
            .as_str()
            .unwrap_or_default()
            .contains("lease"),
        "{base:#}"
    );
    let contacts = h.one("flows", "zoho-crm-test / Contacts / flow");
    assert_eq!(contacts["scheduleParams"]["frequency"], "minute");

    // Applied once, the plan is out of date: the same file is refused.
    refused(&h, &profile, &file).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_edited_after_plan_out_is_refused_without_a_write() {
    let (h, profile) = applied().await;
    let file = plan_out(&h, &profile).await;
    // Edited between the two jobs: the schedule again.
    let edited = changed_profile().replace("interval = 30", "interval = 45");
    assert_eq!(h.profile("changed.toml", &edited), profile);

    let out = refused(&h, &profile, &file).await;
    assert!(
        out.stderr
            .contains("is out of date, so nothing was applied")
            && out.stderr.contains("changed.toml changed (digest sha256:"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--out"), "{}", out.stderr);
    let contacts = h.one("flows", "zoho-crm-test / Contacts / flow");
    assert_eq!(contacts["scheduleParams"]["frequency"], "hour");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_patched_after_plan_out_is_refused_without_a_write() {
    let (h, profile) = applied().await;
    let file = plan_out(&h, &profile).await;
    // Someone changes the Leads dataflow in the UI between plan and apply.
    let leads = h.one("flows", "zoho-crm-test / Leads / flow");
    let path = format!(
        "/data/foundation/flowservice/flows/{}",
        leads["id"].as_str().unwrap()
    );
    let reply = h
        .env
        .patch(
            &path,
            leads["etag"].as_str().unwrap(),
            &json!([{"op": "replace", "path": "/scheduleParams/interval", "value": 2}]),
        )
        .await;
    assert!(reply.code() < 300, "{}", reply.code());
    let after = h.one("flows", "zoho-crm-test / Leads / flow");
    assert_ne!(after["etag"], leads["etag"], "the PATCH gives a new etag");

    let out = refused(&h, &profile, &file).await;
    let expected = format!(
        "dataflow \"zoho-crm-test / Leads / flow\" (id {}) was changed (etag",
        leads["id"].as_str().unwrap()
    );
    assert!(out.stderr.contains(&expected), "{}", out.stderr);

    // A managed object that disappears is refused the same way.
    let file = plan_out(&h, &profile).await;
    let reply = h.env.delete(&path).await;
    assert!(reply.code() < 300, "{}", reply.code());
    let out = refused(&h, &profile, &file).await;
    assert!(out.stderr.contains("was deleted"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_is_not_a_saved_plan_is_refused() {
    let (h, profile) = applied().await;
    let file = h.dir.path().join("plan.json");
    std::fs::write(&file, r#"{"format": "provision-plan", "version": 99}"#).unwrap();
    h.clear_requests();
    let out = h
        .provision("apply", &profile, &["--plan", file.to_str().unwrap()])
        .await;
    out.assert_exit(1);
    assert!(out.stderr.contains("format version 99"), "{}", out.stderr);
    assert!(h.requests().is_empty(), "{:#?}", calls(&h.requests()));
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_off_a_terminal_without_yes_exits_64_and_writes_nothing() {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let before = h.objects("flows").len();
    h.clear_requests();
    // The harness runs the binary with stdin from /dev/null: not a terminal.
    let out = h.provision("destroy", &profile, &[]).await;
    out.assert_exit(64);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert!(h.writes().is_empty(), "{:#?}", calls(&h.writes()));
    assert_eq!(h.objects("flows").len(), before);

    let out = h.provision("destroy", &profile, &["--yes"]).await;
    out.assert_exit(0);
    assert!(h.objects("flows").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_apply_lists_done_failed_and_not_attempted() {
    let h = Harness::start().await;
    // Catalog refuses the Deals dataset every time (the validation passes, so the failure comes
    // half-way through the apply): its create fails, what needs it is not attempted.
    let mut faults = h.emulator().faults();
    faults.refuse_datasets = vec!["Zoho Deals".into()];
    h.emulator().set_faults(faults);
    let profile = h.profile("profile.toml", THREE_MODULES);
    let out = h.provision("apply", &profile, &["--yes"]).await;
    out.assert_exit(1);
    // The plan first, then what happened.
    let result = out
        .stdout
        .lines()
        .find(|l| l.starts_with("Apply failed:"))
        .unwrap_or_default();
    assert!(
        result.starts_with("Apply failed: 1 failed, 2 not attempted, 12 done;"),
        "{}",
        out.stdout
    );
    let stdout = out.stdout.clone();
    let s = crate::apply_snapshots::settings(&h);
    s.bind(|| insta::assert_snapshot!("apply_failed_human", stdout));
}
