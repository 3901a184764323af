//! `provision import`: dataflows built without the ownership marker (as Adobe's UI builds them)
//! are adopted through the binary, the profile gains their entries and keeps its comments, and
//! `plan` then has nothing to do.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::support::cli::{calls, profile_text, Harness, Output, PREFIX};
use crate::support::{
    flow_body, hourly, mapping_body, source_body, target_body, Env, CLIENT_SECRET, FS, PREP,
    SCHEMA, SEED_DATASET, ZOHO_REFRESH, ZOHO_SECRET,
};

/// 2027-01-01T00:00:00Z: in the future, as the UI requires of a new schedule.
const START: i64 = 1_798_761_600;

/// A profile for the emulator with no `[[dataflows]]`, and comments of the user's own.
fn profile_with_comments(h: &Harness) -> PathBuf {
    let text = format!(
        "# Production Zoho CRM: adopted from the dataflows built in Adobe's UI.\n{}\n\
         # The dataflows below are written by `provision import`.\n",
        profile_text(&h.url(), PREFIX, "")
    );
    h.profile_text("profile.toml", &text)
}

/// A source connection on `module` reading `columns`, its own target connection on the seeded
/// dataset, a mapping set of `mappings` and a dataflow named `name`: what the UI's workflow
/// creates, with no ownership marker anywhere.
async fn ui_dataflow(
    env: &Env,
    base: &str,
    module: &str,
    mappings: Value,
    name: &str,
    schedule: Value,
) -> String {
    let sources: Vec<&str> = mappings["mappings"]
        .as_array()
        .expect("mappings")
        .iter()
        .map(|m| m["source"].as_str().expect("a source"))
        .collect();
    let mut columns = sources.clone();
    columns.push("Modified_Time");
    let mut source_conn = source_body(base, module, Some(&columns));
    source_conn["name"] = json!(format!("{module} (Zoho CRM)"));
    let source = env
        .create(&format!("{FS}/sourceConnections"), &source_conn)
        .await;
    let mut target_conn = target_body(SEED_DATASET);
    target_conn["name"] = json!(format!("Data Lake target for {module}"));
    let target = env
        .create(&format!("{FS}/targetConnections"), &target_conn)
        .await;
    let mapping = env.create(&format!("{PREP}/mappingSets"), &mappings).await;
    let mut flow = flow_body(&source, &target, &mapping, schedule);
    flow["name"] = json!(name);
    env.create(&format!("{FS}/flows"), &flow).await
}

/// The mapping body the UI sends for `rules`.
fn explicit_mapping(rules: &[(&str, &str)]) -> Value {
    json!({
        "outputSchema": {"schemaRef": {"id": SCHEMA, "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
        "mappings": rules.iter().map(|(s, d)| json!({
            "sourceType": "ATTRIBUTE", "source": s, "destination": d
        })).collect::<Vec<_>>(),
    })
}

/// A base connection named as a user would in the UI, and three dataflows on it: Leads with an
/// explicit mapping, Contacts disabled, Deals scheduled `once`. Returns the base connection's id.
async fn ui_workspace(env: &Env) -> String {
    let mut base = crate::support::base_connection_body("Zoho CRM account", &env.emulator.url());
    base["description"] = json!("made in the Sources workspace");
    let base = env.create(&format!("{FS}/connections"), &base).await;
    ui_dataflow(
        env,
        &base,
        "Leads",
        explicit_mapping(&[
            ("Email", "personalEmail.address"),
            ("First_Name", "person.name.firstName"),
        ]),
        "Zoho Leads to Platform",
        hourly(START),
    )
    .await;
    let contacts = ui_dataflow(
        env,
        &base,
        "Contacts",
        mapping_body(&["Email", "Last_Name"]),
        "Contacts dataflow",
        json!({"startTime": START, "frequency": "day", "interval": 1, "backfill": false}),
    )
    .await;
    let disabled = env
        .post(
            &format!("{FS}/flows/{contacts}/action?op=disable"),
            &json!({}),
        )
        .await;
    assert_eq!(disabled.code(), 200, "{}", disabled.body);
    ui_dataflow(
        env,
        &base,
        "Deals",
        mapping_body(&["Deal_Name", "Stage"]),
        "Deals one-off load",
        json!({"startTime": START, "frequency": "once"}),
    )
    .await;
    base
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("the profile is readable")
}

/// An emulator holding [`ui_workspace`], and the id of its base connection.
pub(crate) async fn setup() -> (Harness, String) {
    let h = Harness::start().await;
    let base = ui_workspace(&h.env).await;
    (h, base)
}

/// [`profile_with_comments`], its text, and a cleared request log.
pub(crate) fn fresh_profile(h: &Harness) -> (PathBuf, String) {
    let profile = profile_with_comments(h);
    let text = read(&profile);
    h.clear_requests();
    (profile, text)
}

/// `provision import PROFILE --base-connection BASE {extra...}`.
async fn import(h: &Harness, profile: &Path, base: &str, extra: &[&str]) -> Output {
    let mut args = vec!["--base-connection", base];
    args.extend_from_slice(extra);
    h.provision("import", profile, &args).await
}

/// No write was sent since the request log was cleared, and the profile still reads `text`.
fn assert_untouched(h: &Harness, profile: &Path, text: &str) {
    assert_eq!(calls(&h.writes()), Vec::<String>::new());
    assert_eq!(read(profile), text);
}

/// POSTs that would create a connection, dataset, mapping set or dataflow.
fn creates(h: &Harness) -> Vec<String> {
    let creating = [
        "/connections",
        "/sourceConnections",
        "/targetConnections",
        "/flows",
        "/dataSets",
        "/mappingSets",
    ];
    calls(
        &h.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && creating.iter().any(|c| r.path.ends_with(c)))
            .collect::<Vec<_>>(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn three_ui_dataflows_are_adopted_and_plan_then_has_nothing_to_do() {
    let (h, base) = setup().await;
    let (profile, before) = fresh_profile(&h);

    let out = import(&h, &profile, &base, &["--yes", "--output", "json"]).await;
    out.assert_exit(0);
    assert_eq!(creates(&h), Vec::<String>::new(), "import created objects");
    let doc = out.json();
    let adopted: Vec<(String, String)> = doc["adopted"]
        .as_array()
        .expect("adopted")
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_owned(),
                a["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        adopted.contains(&("base_connection".into(), PREFIX.into())),
        "{adopted:?}"
    );
    for module in ["Leads", "Contacts", "Deals"] {
        for (kind, suffix) in [
            ("source_connection", "source"),
            ("target_connection", "target"),
            ("dataflow", "flow"),
        ] {
            let name = format!("{PREFIX} / {module} / {suffix}");
            assert!(
                adopted.contains(&(kind.into(), name.clone())),
                "{name} not in {adopted:?}"
            );
        }
    }
    assert_eq!(doc["dataflows"].as_array().expect("dataflows").len(), 3);

    // The objects now carry the managed names and the marker; nothing was recreated.
    let marker = format!("managed by provision: {PREFIX}");
    let flows = h.objects("flows");
    assert_eq!(flows.len(), 3);
    for flow in &flows {
        assert_eq!(flow["description"], marker.as_str(), "{flow:#}");
    }
    let base_now = h.one("connections", PREFIX);
    assert_eq!(base_now["id"], base.as_str());
    assert!(base_now["description"].as_str().unwrap().contains(&marker));

    // The profile gained three entries after its own text, comments included.
    let after = read(&profile);
    assert!(
        after.starts_with(&before),
        "the profile's text was disturbed:\n{after}"
    );
    let added = &after[before.len()..];
    assert_eq!(added.matches("[[dataflows]]").count(), 3, "{added}");
    assert!(added.contains("# Imported by `provision import` from base connection"));
    assert!(
        added.contains("{ source = \"Email\", destination = \"personalEmail.address\" }"),
        "{added}"
    );
    assert!(added.contains("frequency = \"once\""), "{added}");
    assert!(added.contains("enabled = false"), "{added}");
    assert_eq!(added.matches("enabled = true").count(), 2, "{added}");
    assert!(
        added.contains(&format!("dataset = {{ id = \"{SEED_DATASET}\" }}")),
        "{added}"
    );

    let plan = h
        .provision("plan", &profile, &["--detailed-exitcode"])
        .await;
    plan.assert_exit(0);
    let plan = h.provision("plan", &profile, &["--output", "json"]).await;
    let rows = plan.json()["changes"].as_array().cloned().expect("changes");
    let mut kept: Vec<&str> = rows
        .iter()
        .filter(|c| c["kind"] == "dataflow" && c["action"] == "noop")
        .filter_map(|c| c["module"].as_str())
        .collect();
    kept.sort_unstable();
    assert_eq!(kept, ["Contacts", "Deals", "Leads"], "{rows:#?}");

    // Importing again changes nothing: no write, the same file.
    h.clear_requests();
    let again = import(&h, &profile, &base, &["--yes"]).await;
    again.assert_exit(0);
    assert!(
        again.stdout.contains("Nothing to import"),
        "{}",
        again.stdout
    );
    assert_untouched(&h, &profile, &after);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_connection_of_another_profile_is_refused_without_a_write() {
    let (h, base) = setup().await;
    let other = h.env.get(&format!("{FS}/connections/{base}")).await;
    let etag = other.body["items"][0]["etag"]
        .as_str()
        .expect("an etag")
        .to_owned();
    let marked = h
        .env
        .patch(
            &format!("{FS}/connections/{base}"),
            &etag,
            &json!([{"op": "replace", "path": "/description", "value": "Zoho (managed by provision: zoho-crm-other)"}]),
        )
        .await;
    assert_eq!(marked.code(), 200, "{}", marked.body);
    let (profile, before) = fresh_profile(&h);

    let out = import(&h, &profile, &base, &["--yes"]).await;
    out.assert_exit(1);
    assert!(
        out.stderr.contains("managed by another profile"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("zoho-crm-other"), "{}", out.stderr);
    assert_untouched(&h, &profile, &before);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_terminal_import_needs_yes_and_writes_nothing() {
    let (h, base) = setup().await;
    let (profile, before) = fresh_profile(&h);

    let out = import(&h, &profile, &base, &[]).await;
    out.assert_exit(64);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert_untouched(&h, &profile, &before);
    // Refused before any request: not even a read or a token.
    assert_eq!(calls(&h.requests()), Vec::<String>::new());

    // --print adopts but leaves the file alone: the entries go to stdout.
    let printed = import(&h, &profile, &base, &["--yes", "--print", "-vv"]).await;
    printed.assert_exit(0);
    assert_eq!(
        printed.stdout.matches("[[dataflows]]").count(),
        3,
        "{}",
        printed.stdout
    );
    for secret in [CLIENT_SECRET, ZOHO_SECRET, ZOHO_REFRESH] {
        assert!(
            !printed.stdout.contains(secret) && !printed.stderr.contains(secret),
            "a secret was printed while the credentials were sent"
        );
    }
    assert_eq!(read(&profile), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_dataflows_of_one_module_are_refused_by_name() {
    let (h, base) = setup().await;
    // A second dataflow reading Leads: which one the profile entry describes is ambiguous.
    let second = ui_dataflow(
        &h.env,
        &base,
        "Leads",
        mapping_body(&["Email"]),
        "Leads again",
        hourly(START),
    )
    .await;
    let (profile, before) = fresh_profile(&h);

    let out = import(&h, &profile, &base, &["--yes"]).await;
    out.assert_exit(1);
    assert!(
        out.stderr
            .contains("module \"Leads\" is read by 2 dataflows"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&second), "{}", out.stderr);
    assert_untouched(&h, &profile, &before);
}
