//! Operating dataflows through the binary against the emulator (issue 15): `enabled`, drift
//! made outside the tool, `run`, `retry` and `--module`.

use std::time::Duration;

use provision::emulator::{EmulatorConfig, Faults};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::cli::{spread_ms, Harness, PREFIX, THREE_MODULES};
use crate::support::{FS, SANDBOX_PROD, ZOHO_REFRESH};

const LEADS: &str = r#"
[[dataflows]]
module  = "Leads"
dataset = { create = true, name = "Zoho Leads" }
mapping = [{ source = "Email", destination = "personalEmail.address" }]
"#;

/// `module` with `extra` keys, an explicit mapping and its own dataset.
fn entry(module: &str, extra: &str) -> String {
    format!(
        r#"
[[dataflows]]
module  = "{module}"
dataset = {{ create = true, name = "Zoho {module}" }}
mapping = [{{ source = "Email", destination = "personalEmail.address" }}]
{extra}
"#
    )
}

pub(crate) const ONCE: &str =
    r#"schedule = { frequency = "once", start = "2027-01-01T00:00:00Z" }"#;

fn flow_name(module: &str) -> String {
    format!("{PREFIX} / {module} / flow")
}

/// An emulator whose runs take a few real seconds (a minute of emulated time per second).
async fn fast() -> Harness {
    Harness::with(EmulatorConfig {
        time_scale: 60.0,
        ..EmulatorConfig::default()
    })
    .await
}

/// `METHOD path?query` of every write the binary sent, but for taking and releasing the apply
/// lease.
fn write_calls(h: &Harness) -> Vec<String> {
    h.work_writes()
        .iter()
        .map(|r| match &r.query {
            Some(q) => format!("{} {}?{q}", r.method, r.path),
            None => format!("{} {}", r.method, r.path),
        })
        .collect()
}

fn flow_id(h: &Harness, module: &str) -> String {
    h.one("flows", &flow_name(module))["id"]
        .as_str()
        .expect("a flow id")
        .to_owned()
}

fn status_state(doc: &Value, module: &str) -> String {
    let flows = doc["dataflows"].as_array().expect("dataflows");
    let flow = flows
        .iter()
        .find(|f| f["module"] == module)
        .unwrap_or_else(|| panic!("{module} in {doc:#}"));
    flow["state"].as_str().unwrap_or_default().to_owned()
}

/// An emulator where `apply` made the Leads chain of [`LEADS`]: the profile and the flow's id.
async fn leads_applied() -> (Harness, std::path::PathBuf, String) {
    let h = Harness::start().await;
    let profile = h.profile("p.toml", LEADS);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let id = flow_id(&h, "Leads");
    (h, profile, id)
}

#[tokio::test(flavor = "multi_thread")]
async fn enabled_false_then_true_is_one_action_each_and_status_shows_the_state() {
    let (h, _, id) = leads_applied().await;

    let disabled = h.profile("p.toml", &format!("{LEADS}enabled = false\n"));
    assert_eq!(
        drift(&h, &disabled).await,
        json!([{"path": "state", "from": "enabled", "to": "disabled"}])
    );
    h.clear_requests();
    h.provision("apply", &disabled, &["--yes"])
        .await
        .assert_exit(0);
    assert_eq!(
        write_calls(&h),
        [format!("POST {FS}/flows/{id}/action?op=disable")]
    );
    let status = h
        .provision("status", &disabled, &["--output", "json"])
        .await;
    assert_eq!(
        status_state(&status.assert_exit(0).json(), "Leads"),
        "disabled"
    );
    h.provision("plan", &disabled, &["--detailed-exitcode"])
        .await
        .assert_exit(0);

    let enabled = h.profile("p.toml", &format!("{LEADS}enabled = true\n"));
    h.clear_requests();
    h.provision("apply", &enabled, &["--yes"])
        .await
        .assert_exit(0);
    assert_eq!(
        write_calls(&h),
        [format!("POST {FS}/flows/{id}/action?op=enable")]
    );
    let status = h.provision("status", &enabled, &["--output", "json"]).await;
    assert_eq!(
        status_state(&status.assert_exit(0).json(), "Leads"),
        "enabled"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_dataflow_with_enabled_false_is_created_then_disabled() {
    let h = Harness::start().await;
    let profile = h.profile("p.toml", &format!("{LEADS}enabled = false\n"));
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let flow = h.one("flows", &flow_name("Leads"));
    assert_eq!(flow["state"], "disabled");
    let calls = write_calls(&h);
    let id = flow["id"].as_str().unwrap();
    assert_eq!(
        calls.last().map(String::as_str),
        Some(format!("POST {FS}/flows/{id}/action?op=disable").as_str())
    );
    h.provision("plan", &profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}

/// `plan --detailed-exitcode` exits 2 with one change, an update of the dataflow: its `diff`.
async fn drift(h: &Harness, profile: &std::path::Path) -> Value {
    let plan = h
        .provision(
            "plan",
            profile,
            &["--detailed-exitcode", "--output", "json"],
        )
        .await;
    let doc = plan.assert_exit(2).json();
    let rows: Vec<&Value> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "noop")
        .collect();
    assert_eq!(rows.len(), 1, "{doc:#}");
    assert_eq!(rows[0]["kind"], "dataflow");
    assert_eq!(rows[0]["action"], "update");
    rows[0]["diff"].clone()
}

/// `apply` restores the profile's values: the next plan has no changes.
async fn restore(h: &Harness, profile: &std::path::Path) {
    h.provision("apply", profile, &["--yes"])
        .await
        .assert_exit(0);
    h.provision("plan", profile, &["--detailed-exitcode"])
        .await
        .assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dataflow_disabled_or_rescheduled_behind_the_tools_back_is_planned_and_restored() {
    let (h, profile, id) = leads_applied().await;

    let disable = format!("{FS}/flows/{id}/action?op=disable");
    let answer = h.env.send(h.env.adobe(Method::POST, &disable)).await;
    assert_eq!(answer.code(), 200, "{:?}", answer.body);
    assert_eq!(
        drift(&h, &profile).await,
        json!([{"path": "state", "from": "disabled", "to": "enabled"}])
    );
    restore(&h, &profile).await;
    assert_eq!(h.one("flows", &flow_name("Leads"))["state"], "enabled");

    let etag = h.one("flows", &flow_name("Leads"))["etag"]
        .as_str()
        .unwrap()
        .to_owned();
    let edit = json!([{"op": "replace", "path": "/scheduleParams/interval", "value": 3}]);
    let answer = h.env.patch(&format!("{FS}/flows/{id}"), &etag, &edit).await;
    assert_eq!(answer.code(), 200, "{:?}", answer.body);
    assert_eq!(
        drift(&h, &profile).await,
        json!([{"path": "schedule.interval", "from": 3, "to": 1}])
    );
    restore(&h, &profile).await;
    let interval = &h.one("flows", &flow_name("Leads"))["scheduleParams"]["interval"];
    assert!(interval == 1 || interval == "1", "{interval}");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_starts_once_flows_and_refuses_scheduled_ones() {
    let h = fast().await;
    let text = format!("{}{}", entry("Leads", ONCE), entry("Contacts", ""));
    let profile = h.profile("p.toml", &text);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let id = flow_id(&h, "Leads");

    h.clear_requests();
    let out = h
        .provision(
            "run",
            &profile,
            &[
                "--module",
                "Leads",
                "--wait",
                "--timeout",
                "90s",
                "--output",
                "json",
            ],
        )
        .await;
    let doc = out.assert_exit(0).json();
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{doc:#}");
    assert_eq!(runs[0]["module"], "Leads");
    assert_eq!(runs[0]["flow_id"], id.as_str());
    assert_eq!(runs[0]["status"], "success");
    assert!(runs[0]["run_id"].is_string());
    assert_eq!(write_calls(&h), [format!("POST {FS}/runs")]);
    let body = h.writes()[0].body.clone().unwrap();
    assert_eq!(body["flowId"], id.as_str());
    assert_eq!(body["params"]["deltaColumn"]["name"], "Modified_Time");

    h.clear_requests();
    let out = h
        .provision(
            "run",
            &profile,
            &["--module", "Contacts", "--output", "json"],
        )
        .await;
    let doc = out.assert_exit(1).json();
    assert_eq!(doc["runs"][0]["status"], "refused");
    let reason = doc["runs"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("every 1 hour") && reason.contains("once"),
        "{reason}"
    );
    assert!(out.stderr.contains("Contacts"), "{}", out.stderr);
    let human = h
        .provision("run", &profile, &["--module", "Contacts"])
        .await;
    let line = human.stdout.lines().find(|l| l.starts_with("Contacts"));
    assert!(
        line.is_some_and(|l| l.contains("refused")),
        "{}",
        human.stdout
    );
    assert!(h.writes().is_empty(), "{:?}", write_calls(&h));
}

#[tokio::test(flavor = "multi_thread")]
async fn run_sends_its_posts_together_and_reports_in_profile_order() {
    let h = Harness::start().await;
    // Three dataflows scheduled once around one on a recurring schedule (refused, no request).
    let deals = format!(
        r#"
[[dataflows]]
module  = "Deals"
dataset = {{ create = true, name = "Zoho Deals" }}
mapping = "auto"
{ONCE}
"#
    );
    let text = [
        entry("Leads", ONCE),
        entry("Contacts", ""),
        deals,
        entry("Vendors", ONCE),
    ]
    .concat();
    let profile = h.profile("p.toml", &text);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);

    // 250 ms an answer: POSTs sent together arrive within a few milliseconds of each other,
    // POSTs sent one after the other at least 250 ms apart.
    let latency = Duration::from_millis(250);
    h.emulator().set_faults(Faults {
        latency: Some(latency),
        ..Faults::default()
    });
    h.clear_requests();
    let out = h.provision("run", &profile, &["--output", "json"]).await;
    let doc = out.assert_exit(1).json();
    let posts: Vec<_> = h
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == format!("{FS}/runs"))
        .collect();
    assert_eq!(posts.len(), 3, "{:?}", write_calls(&h));
    let spread = spread_ms(&posts.iter().collect::<Vec<_>>());
    assert!(
        spread < latency.as_millis() as i64,
        "the POSTs arrived over {spread} ms: they were sent one after another"
    );

    // One row per dataflow in the profile's order, each with its own run.
    let rows: Vec<(String, String)> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["module"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("Leads", "started"),
        ("Contacts", "refused"),
        ("Deals", "started"),
        ("Vendors", "started"),
    ]
    .map(|(m, s)| (m.to_owned(), s.to_owned()));
    assert_eq!(rows, expected, "{doc:#}");
    let runs = h.emulator().runs(SANDBOX_PROD);
    for row in doc["runs"].as_array().unwrap() {
        let Some(run_id) = row["run_id"].as_str() else {
            continue;
        };
        let run = runs
            .iter()
            .find(|r| r["id"] == run_id)
            .expect("the run exists");
        assert_eq!(run["flowId"], row["flow_id"], "{row}");
        assert_eq!(
            row["flow_id"],
            flow_id(&h, row["module"].as_str().unwrap()).as_str()
        );
    }
    assert!(out.stderr.contains("Contacts"), "{}", out.stderr);

    let human = h.provision("run", &profile, &[]).await;
    human.assert_exit(1);
    let modules: Vec<&str> = human
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        modules,
        ["Leads", "Contacts", "Deals", "Vendors"],
        "{}",
        human.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_retriggers_only_failed_newest_runs_and_waits_for_them() {
    let h = fast().await;
    let text = format!("{}{}", entry("Leads", ONCE), entry("Contacts", ONCE));
    let profile = h.profile("p.toml", &text);
    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let wait = ["--wait", "--timeout", "90s"];
    let mut args = vec!["--module", "Contacts"];
    args.extend(wait);
    h.provision("run", &profile, &args).await.assert_exit(0);

    // Zoho refuses the base connection's refresh token: the next run of Leads fails.
    h.set_base_refresh_token("1000.revoked").await;
    let mut args = vec!["--module", "Leads", "--output", "json"];
    args.extend(wait);
    let failed = h.provision("run", &profile, &args).await;
    let doc = failed.assert_exit(1).json();
    assert_eq!(doc["runs"][0]["status"], "failed");
    let failed_run = doc["runs"][0]["run_id"].as_str().unwrap().to_owned();

    // The credentials are fixed; retry re-triggers Leads' failed run only.
    h.set_base_refresh_token(ZOHO_REFRESH).await;
    h.clear_requests();
    let mut args = vec!["--output", "json"];
    args.extend(wait);
    let out = h.provision("retry", &profile, &args).await;
    let doc = out.assert_exit(0).json();
    assert_eq!(
        write_calls(&h),
        [format!("POST {FS}/runs/{failed_run}/action?op=re-trigger")]
    );
    let runs = doc["runs"].as_array().unwrap();
    let leads = runs.iter().find(|r| r["module"] == "Leads").unwrap();
    assert_eq!(leads["status"], "success", "{doc:#}");
    assert_ne!(leads["run_id"], failed_run.as_str());
    let contacts = runs.iter().find(|r| r["module"] == "Contacts").unwrap();
    assert_eq!(contacts["status"], "skipped");
    assert!(contacts["run_id"].is_null());
    assert!(
        contacts["reason"].as_str().unwrap().contains("success"),
        "{contacts}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn module_limits_plan_apply_status_and_destroy_to_the_named_modules() {
    let h = Harness::start().await;
    let profile = h.profile("p.toml", THREE_MODULES);
    let plan = h
        .provision("plan", &profile, &["--module", "Leads", "--output", "json"])
        .await;
    let doc = plan.assert_exit(0).json();
    let changes = doc["changes"].as_array().unwrap();
    assert!(changes.iter().any(|c| c["kind"] == "dataflow"), "{doc:#}");
    for c in changes {
        let ok = c["module"] == "Leads" || c["kind"] == "base_connection";
        assert!(ok, "a change outside Leads: {c}");
    }

    let unknown = h.provision("plan", &profile, &["--module", "Lead"]).await;
    unknown.assert_exit(64);
    assert!(
        unknown.stderr.contains("did you mean \"Leads\""),
        "{}",
        unknown.stderr
    );
    // A saved plan covers the whole profile: --module is refused with it, before any request.
    let saved = h.dir.path().join("leads.plan.json");
    let saved = saved.to_str().expect("a UTF-8 path");
    for (command, flag) in [("plan", "--out"), ("apply", "--plan")] {
        let out = h
            .provision(command, &profile, &["--module", "Leads", flag, saved])
            .await;
        out.assert_exit(64);
        assert!(out.stderr.contains(flag), "{command}: {}", out.stderr);
    }
    assert!(h.writes().is_empty());

    h.provision("apply", &profile, &["--yes"])
        .await
        .assert_exit(0);
    let status = h
        .provision(
            "status",
            &profile,
            &["--module", "Contacts", "--output", "json"],
        )
        .await;
    let doc = status.assert_exit(0).json();
    let modules: Vec<&Value> = doc["dataflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["module"])
        .collect();
    assert_eq!(modules, [&json!("Contacts")]);

    h.clear_requests();
    h.provision("destroy", &profile, &["--module", "Leads", "--yes"])
        .await
        .assert_exit(0);
    let deleted: Vec<String> = write_calls(&h);
    assert!(
        deleted.iter().all(|c| c.starts_with("DELETE ")),
        "{deleted:?}"
    );
    assert_eq!(
        deleted.len(),
        3,
        "the Leads flow, source and target: {deleted:?}"
    );
    assert!(h.named("flows", &flow_name("Leads")).is_empty());
    for module in ["Contacts", "Contacts"] {
        h.one("flows", &flow_name(module));
        h.one(
            "sourceConnections",
            &format!("{PREFIX} / {module} / source"),
        );
    }
    h.one("connections", PREFIX);
    h.one("dataSets", "Zoho Leads");
}

/// Adobe documents `op=enable|disable` for destination dataflows only: a service that refuses it
/// for a source dataflow gets one call, and the error names the call, the answer and what to do.
#[tokio::test]
async fn a_refused_disable_is_reported_plainly_and_not_retried() {
    use crate::support::api::{api_requests, setup};
    use provision::api::FlowId;
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, ResponseTemplate};

    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("{FS}/flows/f-1/action")))
        .and(query_param("op", "disable"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "type": "https://ns.adobe.com/aep/errors/FLOW-1436-400",
            "title": "Bad request",
            "status": 400,
            "report": {"detailed-message": "Operation disable is not supported for this flow."}
        })))
        .mount(&server)
        .await;
    let error = provision::engine::kinds::flow::set_state(&client, &FlowId::from("f-1"), false)
        .await
        .expect_err("refused");
    let message = format!("{error:#}");
    assert!(
        message.contains("POST /flows/f-1/action?op=disable was refused"),
        "{message}"
    );
    assert!(message.contains("not supported for this flow"), "{message}");
    assert!(message.contains("Adobe's UI"), "{message}");
    assert_eq!(api_requests(&server).await.len(), 1);
}
