//! What users read: the human plan and apply output, and the JSON document (docs/cli.md#json-output), as
//! insta snapshots. Ids, the temporary profile path and the credentials' fingerprint (it covers
//! the emulator's port) are replaced by placeholders.

use crate::support;

use support::cli::{one_change_of_each, Harness, Output, THREE_MODULES};

pub(crate) fn settings(h: &Harness) -> insta::Settings {
    let mut s = support::snapshot_settings();
    s.add_filter(
        &support::regex_escape(&h.dir.path().display().to_string()),
        "[dir]",
    );
    support::id_filters(&mut s);
    s.add_filter(r"\b6889f4f89b982b2b90bc1208\b", "[seed-dataset-id]");
    s.add_filter(r"\b[0-9a-f]{24}\b", "[dataset-id]");
    s.add_filter(r"auth [0-9a-f]{12}", "auth [fingerprint]");
    s.add_filter(
        r"fingerprint [0-9a-f]{12} -> [0-9a-f]{12}",
        "fingerprint [old] -> [new]",
    );
    s.add_filter(
        r"\(fingerprint [0-9a-f]{12}\)",
        "(fingerprint [fingerprint])",
    );
    s
}

fn stdout(out: &Output, code: i32) -> String {
    out.assert_exit(code);
    out.stdout.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_and_apply_output() {
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    let s = settings(&h);

    let plan = stdout(&h.provision("plan", &profile, &[]).await, 0);
    s.bind(|| insta::assert_snapshot!("plan_fresh_human", plan));
    let plan_json = stdout(
        &h.provision("plan", &profile, &["--output", "json"]).await,
        0,
    );
    s.bind(|| insta::assert_snapshot!("plan_fresh_json", plan_json));

    let apply = stdout(&h.provision("apply", &profile, &["--yes"]).await, 0);
    s.bind(|| insta::assert_snapshot!("apply_fresh_human", apply));
    let noop = stdout(&h.provision("apply", &profile, &["--yes"]).await, 0);
    s.bind(|| insta::assert_snapshot!("apply_noop_human", noop));

    // One of each: a schedule update, a replace for a new column, deletes of a removed module.
    let changed = one_change_of_each();
    let changed = h.profile("changed.toml", &changed);
    let plan = stdout(
        &h.provision("plan", &changed, &["--detailed-exitcode"])
            .await,
        2,
    );
    s.bind(|| insta::assert_snapshot!("plan_changes_human", plan));
    let plan_json = stdout(
        &h.provision("plan", &changed, &["--output", "json"]).await,
        0,
    );
    s.bind(|| insta::assert_snapshot!("plan_changes_json", plan_json));
    let apply_json = stdout(
        &h.provision("apply", &changed, &["--yes", "--output", "json"])
            .await,
        0,
    );
    s.bind(|| insta::assert_snapshot!("apply_changes_json", apply_json));

    let destroy = stdout(&h.provision("destroy", &changed, &["--yes"]).await, 0);
    s.bind(|| insta::assert_snapshot!("destroy_human", destroy));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_committed_create_is_not_repeated_and_a_missing_schema_writes_nothing() {
    use provision::emulator::Faults;
    let h = Harness::start().await;
    let profile = h.profile("profile.toml", THREE_MODULES);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let changed = h.profile(
        "changed.toml",
        &THREE_MODULES.replacen(
            "dataset = { id = \"6889f4f89b982b2b90bc1208\" }",
            "dataset = { create = true, name = \"Zoho Contacts\" }",
            1,
        ),
    );
    // Every target connection create now fails with a server error the emulator commits first:
    // apply looks the object up instead of creating it twice, then carries on.
    h.emulator().set_faults(Faults {
        fail_after_commit: vec!["/data/foundation/flowservice/targetConnections".into()],
        ..Faults::default()
    });
    h.provision("apply", &changed, &["--yes"])
        .await
        .assert_exit(0);
    let targets = h.named("targetConnections", "zoho-crm-test / Contacts / target");
    assert_eq!(targets.len(), 1, "{targets:#?}");

    // A schema the Schema Registry does not have is found by the validation before any write
    // (it used to fail the dataset and mapping set creates half-way): exit 1, no write, the
    // named check in the error.
    h.emulator().set_faults(Faults::default());
    let bad_schema = h.profile(
        "bad.toml",
        &THREE_MODULES
            .replacen(
                "dataset = { id = \"6889f4f89b982b2b90bc1208\" }",
                "dataset = { create = true, name = \"Zoho Contacts\" }",
                1,
            )
            .replace(
            "dataset = { create = true, name = \"Zoho Deals\" }",
            "dataset = { create = true, name = \"Zoho Deals 2\" }\nschema_id = \"https://ns.adobe.com/acme/schemas/missing\"",
        ),
    );
    h.clear_requests();
    let out = h
        .provision("apply", &bad_schema, &["--yes", "--output", "json"])
        .await;
    out.assert_exit(1);
    assert!(h.writes().is_empty(), "{:#?}", h.writes());
    assert!(
        out.stderr.contains(
            "schema:https://ns.adobe.com/acme/schemas/missing: schema \
             https://ns.adobe.com/acme/schemas/missing (used by Deals) is not in the tenant container"
        ),
        "{}",
        out.stderr
    );
}
