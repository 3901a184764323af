//! A PATCH whose etag went stale between plan and apply (someone changed the dataflow): the
//! `412` makes apply re-read the flow and re-apply only what is still different.

use crate::support;

use provision::engine::apply::{self, Options};
use provision::engine::cancel::Cancel;
use provision::engine::lease::{self, Take};
use provision::progress::Progress;
use serde_json::json;
use support::cli::{calls, profile_text, Harness, PREFIX, THREE_MODULES};
use support::FS;

/// The profile with the seed secrets written in, so the library can load it in this process.
fn literal_profile(h: &Harness, name: &str, dataflows: &str) -> provision::profile::Profile {
    let text = profile_text(&h.url(), PREFIX, dataflows)
        .replace("${AEP_CLIENT_SECRET}", support::CLIENT_SECRET)
        .replace("${ZOHO_CLIENT_SECRET}", support::ZOHO_SECRET)
        .replace("${ZOHO_REFRESH_TOKEN}", support::ZOHO_REFRESH);
    let path = h.profile_text(name, &text);
    // Literal secrets are accepted only in a file no one else can read.
    let mut permissions = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o600);
    std::fs::set_permissions(&path, permissions).unwrap();
    provision::profile::load(Some(&path)).expect("the profile loads")
}

fn every_two_hours() -> String {
    THREE_MODULES.replacen(
        "module  = \"Leads\"",
        "module  = \"Leads\"\nschedule = { frequency = \"hour\", interval = 2, start = \"2027-01-01T00:00:00Z\", backfill = true }",
        1,
    )
}

/// Applies THREE_MODULES, plans the Leads schedule change, lets "someone else" PATCH the Leads
/// dataflow with `concurrent` (so the plan's etag goes stale), then applies the plan. Returns
/// the harness, the dataflow's path and the calls the apply made on that dataflow.
async fn apply_after_a_concurrent_patch(
    concurrent: serde_json::Value,
) -> (Harness, String, Vec<String>) {
    let h = Harness::start().await;
    let first = h.profile("profile.toml", THREE_MODULES);
    h.provision("apply", &first, &["--yes"])
        .await
        .assert_exit(0);
    let flow = h.one("flows", &format!("{PREFIX} / Leads / flow"));
    let flow_id = flow["id"].as_str().unwrap().to_owned();
    let path = format!("{FS}/flows/{flow_id}");

    let profile = literal_profile(&h, "changed.toml", &every_two_hours());
    let client = provision::engine::client(&profile).expect("a client");
    let mut prepared = apply::prepare(&client, &profile, false, 4)
        .await
        .expect("a plan");
    // The lease `provision apply` takes before it applies (a PATCH of the base connection, not of
    // the dataflow, and sent before the requests below are recorded).
    let taken = lease::take(&client, &mut prepared, &lease::run_id())
        .await
        .expect("the lease");
    let Take::Held(lease) = taken else {
        panic!("no other apply runs, yet the lease was not free");
    };
    let reply = h
        .env
        .patch(&path, flow["etag"].as_str().unwrap(), &concurrent)
        .await;
    assert_eq!(reply.code(), 200, "{}", reply.body);

    h.clear_requests();
    let outcome = apply::execute(
        &client,
        &profile,
        prepared,
        &Options {
            concurrency: 4,
            cancel: Cancel::default(),
        },
        &lease,
        &Progress::quiet(),
    )
    .await;
    assert!(!outcome.failed(), "{:#?}", outcome.changes);
    let seen = calls(&h.requests())
        .into_iter()
        .filter(|c| c.contains(&flow_id))
        .collect();
    (h, path, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_etag_rereads_the_flow_and_patches_only_what_is_still_needed() {
    // Someone else turns backfill off after the plan.
    let (h, path, seen) = apply_after_a_concurrent_patch(json!([
        {"op": "replace", "path": "/scheduleParams/backfill", "value": false}
    ]))
    .await;
    assert_eq!(
        seen,
        [
            format!("PATCH {path} -> 412"),
            format!("GET {path} -> 200"),
            format!("PATCH {path} -> 200"),
        ]
    );
    let second = h
        .requests()
        .into_iter()
        .rfind(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(
        second.body,
        Some(json!([
            {"op": "replace", "path": "/scheduleParams/interval", "value": 2},
            {"op": "replace", "path": "/scheduleParams/backfill", "value": true},
        ]))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_etag_whose_change_was_already_made_sends_no_second_patch() {
    // A concurrent run makes the very same change first.
    let (_h, path, seen) = apply_after_a_concurrent_patch(json!([
        {"op": "replace", "path": "/scheduleParams/interval", "value": 2}
    ]))
    .await;
    assert_eq!(
        seen,
        [format!("PATCH {path} -> 412"), format!("GET {path} -> 200")]
    );
}
