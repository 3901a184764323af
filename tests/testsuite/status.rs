//! `provision status` end to end: the real binary against the emulator, with the dataflows built
//! through the API layer as `apply` builds them (see `status_support`).

use crate::support::status as status_support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use provision::emulator::EmulatorConfig;
use serde_json::Value;
use status_support::{calls, json_of, module_names, text, Harness, FS, PREFIX};

const HOUR: chrono::Duration = chrono::Duration::hours(1);

/// Three and a half hours ago on the emulator's clock: an hourly flow then has three finished
/// runs (the emulator backfills the three newest slots; each run takes a few minutes).
fn history_start(h: &Harness) -> DateTime<Utc> {
    let start = h.now() - HOUR * 3 - chrono::Duration::minutes(30);
    // Whole minutes, as people write schedules.
    start
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .expect("a valid time")
}

fn fast_clock() -> EmulatorConfig {
    EmulatorConfig {
        time_scale: 600.0,
        ..EmulatorConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn before_apply_every_module_is_reported_as_not_created() {
    let h = Harness::managing(EmulatorConfig::default(), &["Leads", "Deals"], Utc::now()).await;
    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--runs", "3"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    for module in ["Leads", "Deals"] {
        assert!(
            stdout.contains(&format!("{PREFIX} / {module} / flow\n")),
            "{stdout}"
        );
    }
    assert_eq!(
        stdout
            .matches("health    not created yet (run apply)")
            .count(),
        2,
        "{stdout}"
    );
    // One flows list, no runs query: there is nothing to ask runs for.
    let requests = h.requests();
    let flows = calls(&requests, "GET", &format!("{FS}/flows"));
    assert_eq!(flows.len(), 1);
    let pairs = flows[0].query_pairs();
    let properties: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "property")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        properties,
        [
            "flowSpec.id==14518937-270c-4525-bdec-c2ba7cce3860",
            "description==managed by provision: zoho-crm-test",
        ]
    );
    assert!(calls(&requests, "GET", &format!("{FS}/runs")).is_empty());

    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--output", "json"])
        .output()
        .expect("runs");
    let doc = json_of(&output);
    let flows = doc["dataflows"].as_array().expect("dataflows");
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0]["module"], "Leads");
    assert_eq!(flows[0]["name"], "zoho-crm-test / Leads / flow");
    assert_eq!(flows[0]["id"], Value::Null);
    assert_eq!(flows[0]["state"], Value::Null);
    assert_eq!(flows[0]["runs"], serde_json::json!([]));
    assert_eq!(flows[0]["health"]["status"], "not_created");
}

#[tokio::test(flavor = "multi_thread")]
async fn shows_each_flow_with_its_schedule_and_the_record_counts_of_its_runs() {
    let h = Harness::managing(EmulatorConfig::default(), &["Leads", "Deals"], Utc::now()).await;
    let start = history_start(&h);
    let ids = h
        .create_managed_flows(&["Leads", "Deals"], &["Owner", "Modified_Time"], start)
        .await;
    // Ownership: an owned flow of a module the profile dropped is listed apart; a flow with a
    // managed name but no marker is not provision's and is not shown.
    h.create_managed_flows(&["Accounts"], &["Modified_Time"], start)
        .await;
    h.create_flows(&["Leads"], &["Modified_Time"], start, None)
        .await;
    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--output", "json"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let doc = json_of(&output);
    let flows = doc["dataflows"].as_array().expect("dataflows");
    assert_eq!(flows.len(), 2, "{doc}");
    let emulated_runs = h.emulator().runs("prod");
    for (flow, (module, id)) in flows.iter().zip(["Leads", "Deals"].iter().zip(&ids)) {
        assert_eq!(flow["module"], *module);
        assert_eq!(flow["id"], id.as_str());
        assert_eq!(flow["state"], "enabled");
        assert_eq!(flow["schedule"]["frequency"], "hour");
        assert_eq!(flow["schedule"]["interval"], 1);
        assert_eq!(
            flow["schedule"]["start"],
            start
                .with_timezone(&Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let runs = flow["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), 3, "{flow}");
        for run in runs {
            assert_eq!(run["status"], "success");
            let emulated = emulated_runs
                .iter()
                .find(|r| r["id"] == run["id"])
                .expect("the run exists in the emulator");
            assert_eq!(emulated["flowId"], id.as_str());
            let summary = &emulated["metrics"]["recordSummary"];
            assert_eq!(run["records"]["input"], summary["inputRecordCount"]);
            assert_eq!(run["records"]["output"], summary["outputRecordCount"]);
            assert_eq!(run["records"]["failed"], 0);
            assert!(run["records"]["input"].as_u64().unwrap_or(0) > 0, "{run}");
        }
        // Newest first.
        let started: Vec<&str> = runs
            .iter()
            .filter_map(|r| r["started_at"].as_str())
            .collect();
        let mut sorted = started.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(started, sorted);
        assert_eq!(flow["health"]["status"], "healthy");
    }

    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--runs", "2"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    let stdout = text(&output.stdout);
    let schedule = format!(
        "schedule  every 1 hour from {}",
        start.format("%Y-%m-%d %H:%M UTC")
    );
    assert_eq!(stdout.matches(&schedule).count(), 2, "{stdout}");
    assert_eq!(stdout.matches("last 2 runs:").count(), 2, "{stdout}");
    assert_eq!(
        stdout
            .matches("health    healthy: last run succeeded at")
            .count(),
        2,
        "{stdout}"
    );
    let leads_input = doc["dataflows"][0]["runs"][0]["records"]["input"]
        .as_u64()
        .expect("a count");
    let run_line = stdout
        .lines()
        .find(|l| l.trim_start().contains(" success "))
        .expect("a run line");
    let cells: Vec<&str> = run_line.split_whitespace().collect();
    assert_eq!(
        cells[cells.len() - 3..],
        [leads_input.to_string(), leads_input.to_string(), "0".into()],
        "{run_line}"
    );
    assert!(
        stdout.contains("zoho-crm-test / Accounts / flow ("),
        "the orphan is listed apart:\n{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_runs_show_their_errors_and_a_failing_verdict() {
    let h = Harness::managing(EmulatorConfig::default(), &["Leads"], Utc::now()).await;
    let start = history_start(&h);
    h.create_managed_flows(&["Leads"], &["Email", "Deal_Name"], start)
        .await;
    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--runs", "3"])
        .output()
        .expect("runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "status alone reports, it does not judge"
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("health    failing: the last 3 runs failed at")
            && stdout.contains("MAPPER-3700-400"),
        "{stdout}"
    );
    // The same error from three runs is listed once, naming the runs.
    assert_eq!(stdout.matches("MAPPER-3700-400").count(), 2, "{stdout}");
    let grouped = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("runs ") && l.contains("MAPPER-3700-400"))
        .unwrap_or_else(|| panic!("no grouped error line:\n{stdout}"));
    assert_eq!(grouped.matches(", ").count(), 2, "{grouped}");
    assert!(grouped.contains("Deal_Name"), "{grouped}");

    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--output", "json", "--runs", "1"])
        .output()
        .expect("runs");
    let doc = json_of(&output);
    let run = &doc["dataflows"][0]["runs"][0];
    assert_eq!(run["status"], "failed");
    let errors = run["errors"].as_array().expect("errors");
    assert!(!errors.is_empty());
    assert_eq!(errors[0]["code"], "MAPPER-3700-400");
    assert!(errors[0]["message"]
        .as_str()
        .unwrap_or("")
        .contains("Deal_Name"));
    assert_eq!(doc["dataflows"][0]["health"]["status"], "failing");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_matches_the_contract() {
    let h = Harness::managing(EmulatorConfig::default(), &["Contacts"], Utc::now()).await;
    let start = history_start(&h);
    h.create_managed_flows(&["Contacts"], &["Email"], start)
        .await;
    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--output", "json"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0));
    // stdout holds exactly one JSON document.
    let doc = json_of(&output);
    let flow = &doc["dataflows"][0];
    for key in ["name", "module", "id", "state"] {
        assert!(flow[key].is_string(), "{key}: {flow}");
    }
    assert!(matches!(
        flow["state"].as_str(),
        Some("enabled" | "disabled")
    ));
    assert!(flow["schedule"].is_object());
    let runs = flow["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 3, "the default --runs is 3");
    for run in runs {
        assert!(run["id"].is_string());
        let status = run["status"].as_str().expect("a status");
        assert_eq!(status, status.to_lowercase());
        for key in ["started_at", "completed_at"] {
            let at = run[key].as_str().expect("a timestamp");
            let parsed = DateTime::parse_from_rfc3339(at).expect("RFC 3339");
            assert_eq!(parsed.offset().local_minus_utc(), 0, "{at}");
            assert!(at.ends_with('Z'), "{at}");
        }
        for key in ["input", "output", "failed"] {
            assert!(run["records"][key].is_u64(), "{key}: {run}");
        }
        assert!(run["errors"].is_array());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_exits_0_once_the_newest_runs_succeed() {
    let h = Harness::managing(fast_clock(), &["Leads", "Deals"], Utc::now()).await;
    // The first runs are due 30 emulated minutes from now: three real seconds.
    let start = h.now() + chrono::Duration::minutes(30);
    h.create_managed_flows(&["Leads", "Deals"], &["Owner", "Modified_Time"], start)
        .await;
    h.clear_requests();
    let began = Instant::now();
    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--wait", "--timeout", "1h"])
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(began.elapsed() < Duration::from_secs(60));
    assert!(
        stderr.contains("status --wait [") && stderr.contains("0 of 2 dataflows finished"),
        "progress lines on stderr when it is not a terminal: {stderr}"
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("wait: every newest run succeeded"),
        "{stdout}"
    );
    let requests = h.requests();
    assert_eq!(
        calls(&requests, "GET", &format!("{FS}/flows")).len(),
        1,
        "the flows are listed once"
    );
    let polls = calls(&requests, "GET", &format!("{FS}/runs")).len();
    assert!(polls >= 2, "it polled the runs ({polls} queries)");
    // Polls are spaced, not a busy loop: at most one query per flow chunk every ~2 s.
    assert!(
        polls as u64 <= began.elapsed().as_secs() / 2 + 2,
        "{polls} run queries in {:?}",
        began.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_exits_1_when_the_newest_runs_fail_and_names_them() {
    let h = Harness::managing(fast_clock(), &["Leads", "Deals"], Utc::now()).await;
    let start = h.now() + chrono::Duration::minutes(30);
    h.create_managed_flows(&["Leads"], &["Email"], start).await;
    // Deals reads a column Zoho does not have: the emulator fails its runs (MAPPER-3700-400).
    h.create_managed_flows(&["Deals"], &["Deal_Name", "Mailing_City"], start)
        .await;
    let output = h
        .binary()
        .args([
            "status",
            h.profile_arg(),
            "--wait",
            "--timeout",
            "1h",
            "--output",
            "json",
        ])
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the newest run of some dataflows failed")
            && stderr.contains("Deals: run ")
            && stderr.contains("MAPPER-3700-400"),
        "{stderr}"
    );
    assert!(!stderr.contains("Leads: run"), "Leads succeeded: {stderr}");
    // The document is still printed, with the outcome.
    let doc = json_of(&output);
    assert_eq!(doc["wait"]["result"], "failed");
    assert_eq!(doc["dataflows"][0]["runs"][0]["status"], "success");
    assert_eq!(doc["dataflows"][1]["runs"][0]["status"], "failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_gives_up_at_the_timeout() {
    let h = Harness::managing(EmulatorConfig::default(), &["Leads"], Utc::now()).await;
    // A run is due now; at real speed it stays scheduled for 30 s, then runs for minutes.
    let start = h.now() - chrono::Duration::seconds(5);
    h.create_managed_flows(&["Leads"], &["Email"], start).await;
    let began = Instant::now();
    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--wait", "--timeout", "3s"])
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(began.elapsed() >= Duration::from_secs(3));
    assert!(began.elapsed() < Duration::from_secs(30));
    assert!(
        stderr.contains("timed out after 3s")
            && stderr.contains("Leads: run ")
            && stderr.contains("scheduled"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_stops_at_once_when_a_flow_cannot_finish_in_time() {
    let h = Harness::managing(EmulatorConfig::default(), &["Leads", "Deals"], Utc::now()).await;
    let start = h.now() + chrono::Duration::days(2);
    h.create_managed_flows(&["Leads"], &["Email"], start).await;
    let began = Instant::now();
    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--wait", "--timeout", "30m"])
        .output()
        .expect("runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(began.elapsed() < Duration::from_secs(30), "it did not wait");
    assert!(
        stderr.contains("Leads: its first run is scheduled for")
            && stderr.contains("after the --timeout deadline")
            && stderr.contains("Deals: the dataflow is not created yet (run apply)"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_flows_cost_one_token_one_flows_list_and_paged_runs_queries() {
    let config = EmulatorConfig {
        extra_modules: 36,
        ..EmulatorConfig::default()
    };
    let names = module_names(36);
    let modules: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(modules.len(), 50);
    let h = Harness::managing(config, &modules, Utc::now()).await;
    let start = history_start(&h);
    let ids = h
        .create_managed_flows(&modules, &["Modified_Time"], start)
        .await;
    h.clear_requests();

    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--output", "json"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let doc = json_of(&output);
    let flows = doc["dataflows"].as_array().expect("dataflows");
    assert_eq!(flows.len(), 50);
    assert!(flows
        .iter()
        .all(|f| f["runs"].as_array().map(Vec::len) == Some(3)));

    let requests = h.requests();
    let summary: Vec<String> = requests
        .iter()
        .map(|r| {
            format!(
                "{} {}?{}",
                r.method,
                r.path,
                r.query.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(
        requests.len() <= 5,
        "{} requests for 50 flows:\n{}",
        requests.len(),
        summary.join("\n")
    );
    assert_eq!(calls(&requests, "POST", "/ims/token/v3").len(), 1);
    assert_eq!(calls(&requests, "GET", &format!("{FS}/flows")).len(), 1);
    let runs = calls(&requests, "GET", &format!("{FS}/runs"));
    assert!(!runs.is_empty() && runs.len() <= 3, "{summary:?}");
    // The first runs query names every flow at once.
    let filter = runs[0]
        .query_pairs()
        .into_iter()
        .find(|(k, v)| k == "property" && v.starts_with("flowId=="))
        .map(|(_, v)| v)
        .expect("a flowId filter");
    let listed: Vec<&str> = filter["flowId==".len()..].split(',').collect();
    assert_eq!(listed.len(), 50);
    for id in &ids {
        assert!(listed.contains(&id.as_str()));
    }
    assert!(
        requests
            .iter()
            .all(|r| !r.path.starts_with(&format!("{FS}/flows/"))
                && !r.path.starts_with(&format!("{FS}/runs/"))),
        "no per-flow or per-run requests: {summary:?}"
    );
    eprintln!(
        "status for 50 flows: {} requests:\n{}",
        requests.len(),
        summary.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_flow_does_not_make_status_page_through_the_others_history() {
    let names = module_names(0);
    let old: Vec<&str> = names[..10].iter().map(String::as_str).collect();
    let mut modules = old.clone();
    modules.push("Solutions");
    let h = Harness::managing(EmulatorConfig::default(), &modules, Utc::now()).await;
    h.create_managed_flows(&old, &["Modified_Time"], history_start(&h))
        .await;
    // Thirty more hourly runs each: 330 runs, ten pages of 33 if read to the end.
    h.emulator().advance_clock(Duration::from_secs(30 * 3600));
    let listed = h
        .binary()
        .args(["status", h.profile_arg()])
        .output()
        .expect("runs");
    assert_eq!(listed.status.code(), Some(0));
    // A flow with no run yet: nothing older than its creation can be its run.
    h.create_managed_flows(&["Solutions"], &["Modified_Time"], h.now() + HOUR * 5)
        .await;
    h.clear_requests();
    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--output", "json"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let doc = json_of(&output);
    let flows = doc["dataflows"].as_array().expect("dataflows");
    assert_eq!(flows.len(), 11);
    for flow in &flows[..10] {
        assert_eq!(flow["runs"].as_array().map(Vec::len), Some(3), "{flow}");
    }
    assert_eq!(flows[10]["runs"], serde_json::json!([]));
    assert_eq!(flows[10]["health"]["status"], "waiting");
    let requests = h.requests();
    let runs = calls(&requests, "GET", &format!("{FS}/runs"));
    assert!(runs.len() <= 2, "{} runs queries", runs.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn after_apply_status_shows_each_flow_and_wait_succeeds() {
    let start = (Utc::now() - HOUR * 3 - chrono::Duration::minutes(30))
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .expect("a valid time");
    let h = Harness::managing(EmulatorConfig::default(), &["Leads", "Deals"], start).await;
    let apply = h
        .binary()
        .args(["apply", h.profile_arg(), "--yes"])
        .output()
        .expect("runs");
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));

    let output = h
        .binary()
        .args(["status", h.profile_arg(), "--output", "json"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let doc = json_of(&output);
    let flows = doc["dataflows"].as_array().expect("dataflows");
    let emulated: Vec<Value> = h.emulator().flows("prod");
    assert_eq!(flows.len(), 2);
    assert_eq!(emulated.len(), 2);
    for (flow, module) in flows.iter().zip(["Leads", "Deals"]) {
        assert_eq!(flow["module"], module);
        assert_eq!(flow["name"], format!("{PREFIX} / {module} / flow"));
        assert!(
            emulated.iter().any(|f| f["id"] == flow["id"]),
            "{flow} is one of the flows apply created"
        );
        let runs = flow["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), 3, "{flow}");
        for run in runs {
            assert_eq!(run["status"], "success", "{run}");
            assert!(run["records"]["input"].as_u64().unwrap_or(0) > 0, "{run}");
            assert_eq!(run["records"]["input"], run["records"]["output"]);
        }
    }
    let wait = h
        .binary()
        .args(["status", h.profile_arg(), "--wait", "--timeout", "1m"])
        .output()
        .expect("runs");
    assert_eq!(wait.status.code(), Some(0), "{}", text(&wait.stderr));
}
