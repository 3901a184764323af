//! `provision explore` end to end: the real binary against the emulator.

use crate::support::status as status_support;

use provision::emulator::EmulatorConfig;
use serde_json::{json, Value};
use status_support::{calls, json_of, module_names, text, Harness, FS};

async fn harness() -> Harness {
    let start = chrono::Utc::now();
    Harness::managing(EmulatorConfig::default(), &["Leads", "Deals"], start).await
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_base_connection_it_says_to_apply_and_creates_only_with_the_flag() {
    let h = harness().await;
    let output = h
        .binary()
        .args(["explore", h.profile_arg()])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("base connection `zoho-crm-test` does not exist yet")
            && stderr.contains("provision apply")
            && stderr.contains("--create-connection"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    assert!(h.emulator().connections("prod").is_empty());

    let output = h
        .binary()
        .args(["explore", h.profile_arg(), "--create-connection"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("created base connection `zoho-crm-test`"));
    let connections = h.emulator().connections("prod");
    assert_eq!(connections.len(), 1, "{connections:?}");
    let created = &connections[0];
    assert_eq!(created["name"], "zoho-crm-test");
    let desired = provision::engine::desired::build(&h.load_profile()).expect("a desired state");
    assert_eq!(created["description"], desired.base.description.as_str());
    assert!(desired
        .base
        .description
        .starts_with("Zoho CRM for the status tests (managed by provision: zoho-crm-test"));
    assert_eq!(created["auth"]["specName"], "Basic Authentication");
    let params = created["auth"]["params"].as_object().expect("auth params");
    for key in [
        "endpoint",
        "accountsUrl",
        "clientId",
        "clientSecret",
        "accessToken",
        "refreshToken",
    ] {
        assert!(params.contains_key(key), "{key} missing from {params:?}");
    }
    assert_eq!(params["clientId"], "1000.LOCALCLIENT");
    assert_eq!(params["accountsUrl"], h.emulator().url().as_str());
    // Only the base connection: nothing per module.
    assert!(h.emulator().source_connections("prod").is_empty());
    assert!(h.emulator().flows("prod").is_empty());

    // Created as apply creates it: plan has nothing to change on it.
    let plan = h
        .binary()
        .args(["plan", h.profile_arg(), "--output", "json"])
        .output()
        .expect("runs");
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    let plan = json_of(&plan);
    let base = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["kind"] == "base_connection")
        .cloned()
        .expect("a base connection row");
    assert_eq!(base["action"], "noop", "{plan}");

    // A second run finds it and creates nothing.
    let output = h
        .binary()
        .args(["explore", h.profile_arg(), "--create-connection"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(h.emulator().connections("prod").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_the_seeded_modules_as_a_table_and_as_json() {
    let h = harness().await;
    let base = h.base_connection().await;
    h.clear_requests();

    let output = h
        .binary()
        .args(["explore", h.profile_arg()])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[1].starts_with("NAME") && lines[1].contains("PATH"),
        "{stdout}"
    );
    for module in module_names(0) {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("{module} "))),
            "{module} missing:\n{stdout}"
        );
    }
    // The profile's modules are marked.
    let leads = lines
        .iter()
        .find(|l| l.starts_with("Leads "))
        .expect("Leads");
    assert_eq!(
        leads.split_whitespace().collect::<Vec<_>>(),
        ["Leads", "Leads", "yes", "yes", "yes"]
    );
    let tasks = lines
        .iter()
        .find(|l| l.starts_with("Tasks "))
        .expect("Tasks");
    assert_eq!(
        tasks.split_whitespace().collect::<Vec<_>>(),
        ["Tasks", "Tasks", "yes", "yes"]
    );

    let requests = h.requests();
    let explore_path = format!("{FS}/connections/{base}/explore");
    let explores = calls(&requests, "GET", &explore_path);
    assert_eq!(explores.len(), 1);
    assert_eq!(explores[0].query.as_deref(), Some("objectType=root"));

    let output = h
        .binary()
        .args(["explore", h.profile_arg(), "--output", "json"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    let doc = json_of(&output);
    let modules = doc["modules"].as_array().expect("modules");
    let names: Vec<&str> = modules.iter().filter_map(|m| m["name"].as_str()).collect();
    let expected = module_names(0);
    assert_eq!(
        names,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        modules[0],
        json!({"name": "Leads", "path": "Leads", "can_preview": true,
               "can_fetch_schema": true, "in_profile": true})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_shows_its_columns_and_flags_date_times() {
    let h = harness().await;
    h.base_connection().await;
    let output = h
        .binary()
        .args(["explore", h.profile_arg(), "Deals"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{stdout}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row("Modified_Time"),
        ["Modified_Time", "string", "string", "date-time", "*"]
    );
    assert_eq!(row("Amount"), ["Amount", "double", "number", "-"]);
    assert_eq!(
        row("Closing_Date"),
        ["Closing_Date", "string", "string", "date"]
    );
    assert!(!stdout.contains("sample rows"), "{stdout}");

    let output = h
        .binary()
        .args(["explore", h.profile_arg(), "Deals", "--output", "json"])
        .output()
        .expect("runs");
    let doc = json_of(&output);
    assert_eq!(doc["module"], "Deals");
    assert_eq!(doc["rows"], json!([]));
    let columns = doc["columns"].as_array().expect("columns");
    let column = |name: &str| {
        columns
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing from {columns:?}"))
    };
    assert_eq!(
        column("Modified_Time"),
        json!({"name": "Modified_Time", "type": "string", "xdm_type": "string",
               "format": "date-time", "delta_column_candidate": true})
    );
    assert_eq!(
        column("Amount"),
        json!({"name": "Amount", "type": "double", "xdm_type": "number", "format": null,
               "delta_column_candidate": false})
    );
    for name in ["id", "Owner", "Created_Time", "Deal_Name", "Stage"] {
        column(name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_adds_at_most_n_rows_in_column_order() {
    let h = harness().await;
    let base = h.base_connection().await;
    h.clear_requests();
    let output = h
        .binary()
        .args([
            "explore",
            h.profile_arg(),
            "Leads",
            "--preview",
            "5",
            "--output",
            "json",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let doc = json_of(&output);
    let rows = doc["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 5);
    let columns: Vec<&str> = doc["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for row in rows {
        let row = row.as_object().expect("a row is an object");
        for name in ["id", "Email", "Last_Name", "Modified_Time"] {
            assert!(row.contains_key(name), "{name} missing from {row:?}");
        }
        assert!(row.keys().all(|k| columns.contains(&k.as_str())));
    }
    let requests = h.requests();
    let explores = calls(
        &requests,
        "GET",
        &format!("{FS}/connections/{base}/explore"),
    );
    let queries: Vec<&str> = explores.iter().filter_map(|r| r.query.as_deref()).collect();
    assert_eq!(
        queries,
        [
            "objectType=root",
            "objectType=table&object=Leads&preview=true"
        ]
    );

    let output = h
        .binary()
        .args(["explore", h.profile_arg(), "Leads", "--preview", "5"])
        .output()
        .expect("runs");
    let stdout = text(&output.stdout);
    let sample = stdout
        .split("5 sample rows:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no sample rows:\n{stdout}"));
    let lines: Vec<&str> = sample.lines().collect();
    assert_eq!(lines.len(), 6, "{sample}");
    assert!(lines[0].starts_with("id "), "{sample}");
    let first_email = rows[0]["Email"].as_str().expect("an email");
    assert!(lines[1].contains(first_email), "{sample}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_module_exits_1_with_the_nearest_names() {
    let h = harness().await;
    h.base_connection().await;
    for (wanted, suggestion) in [("Lead", "Leads"), ("contacts", "Contacts")] {
        let output = h
            .binary()
            .args(["explore", h.profile_arg(), wanted])
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(1));
        assert!(output.stdout.is_empty());
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(&format!("Zoho module `{wanted}` is not"))
                && stderr.contains(&format!("did you mean `{suggestion}`?")),
            "{stderr}"
        );
    }
    // Nothing close: no suggestion, but the way to list them.
    let output = h
        .binary()
        .args(["explore", h.profile_arg(), "Opportunities"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("did you mean"), "{stderr}");
    assert!(stderr.contains("provision explore"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_matches_the_contract_shapes() {
    let h = harness().await;
    h.base_connection().await;
    let run = |args: &[&str]| {
        let output = h
            .binary()
            .args(["explore", h.profile_arg()])
            .args(args)
            .args(["--output", "json"])
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        json_of(&output)
    };
    let modules = run(&[]);
    for module in modules["modules"].as_array().expect("modules") {
        assert!(module["name"].is_string() && module["path"].is_string());
        assert!(module["can_preview"].is_boolean() && module["can_fetch_schema"].is_boolean());
    }
    let table = run(&["Contacts", "--preview", "2"]);
    assert!(table["module"].is_string());
    assert_eq!(table["rows"].as_array().map(Vec::len), Some(2));
    for column in table["columns"].as_array().expect("columns") {
        assert!(column["name"].is_string());
        assert!(column["type"].is_string());
        assert!(column["xdm_type"].is_string());
        assert!(matches!(column["format"], Value::String(_) | Value::Null));
    }
}

#[test]
fn preview_without_a_module_is_a_usage_error() {
    let output = assert_cmd::Command::cargo_bin("provision")
        .expect("the binary")
        .env_clear()
        .args(["explore", "profiles/local.toml", "--preview", "5"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(64));
    assert!(text(&output.stderr).contains("--preview shows rows of one module"));
}
