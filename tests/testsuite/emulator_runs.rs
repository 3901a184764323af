//! Dataflow runs over emulated time: schedules, state changes, metrics, errors from the seeded
//! data, the backfill cap, the time scale, enable/disable, and the runs list.

use crate::support;

use std::time::Duration;

use provision::emulator::EmulatorConfig;
use serde_json::{json, Value};
use support::*;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

async fn runs_of(env: &Env, flow: &str) -> Vec<Value> {
    let (runs, _) = env
        .list_all(&format!(
            "{FS}/runs?property=flowId=={flow}&orderby=createdAt"
        ))
        .await;
    runs
}

async fn row_count(env: &Env, base: &str, module: &str) -> usize {
    let preview = env
        .get(&format!(
            "{FS}/connections/{base}/explore?objectType=table&object={module}&preview=true"
        ))
        .await;
    preview.body["data"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default()
}

fn now_s(env: &Env) -> i64 {
    env.emulator.now_ms() / 1000
}

#[tokio::test]
async fn an_hourly_flow_runs_every_hour_from_scheduled_to_success() {
    let env = Env::start().await;
    let start = now_s(&env);
    let p = env
        .pipeline(
            "Leads",
            &["Email", "First_Name", "Last_Name"],
            hourly(start),
        )
        .await;
    let rows = row_count(&env, &p.base, "Leads").await;
    assert!(rows >= 20);

    let runs = runs_of(&env, &p.flow).await;
    assert_eq!(runs.len(), 1, "the first slot is the start time");
    let run = &runs[0];
    assert_eq!(run["flowId"], p.flow.as_str());
    assert_eq!(run["createdAt"], start * 1000);
    assert_eq!(run["metrics"]["statusSummary"]["status"], "scheduled");
    assert!(run["metrics"]["durationSummary"]
        .get("startedAtUTC")
        .is_none());
    let scheduled_etag = run["etag"].clone();

    env.emulator.advance_clock(Duration::from_secs(31));
    let run = runs_of(&env, &p.flow).await.remove(0);
    assert_eq!(run["metrics"]["statusSummary"]["status"], "inProgress");
    assert_eq!(
        run["metrics"]["durationSummary"]["startedAtUTC"],
        start * 1000 + 30_000
    );
    assert_ne!(run["etag"], scheduled_etag, "the etag follows the state");
    let flow = env.get(&format!("{FS}/flows/{}", p.flow)).await.body["items"][0].clone();
    assert_eq!(flow["lastRunDetails"]["state"], "inProgress");
    assert_eq!(flow["lastRunDetails"]["id"], run["id"]);

    env.emulator.advance_clock(10 * MINUTE);
    let run = runs_of(&env, &p.flow).await.remove(0);
    let metrics = &run["metrics"];
    assert_eq!(metrics["statusSummary"]["status"], "success");
    assert!(metrics["statusSummary"].get("errors").is_none());
    assert_eq!(
        metrics["recordSummary"],
        json!({"inputRecordCount": rows, "outputRecordCount": rows, "failedRecordCount": 0})
    );
    let started = metrics["durationSummary"]["startedAtUTC"]
        .as_i64()
        .unwrap_or_default();
    let completed = metrics["durationSummary"]["completedAtUTC"]
        .as_i64()
        .unwrap_or_default();
    assert!(
        completed - started >= 60_000 && completed - started <= 5 * 60_000,
        "{started}..{completed}"
    );
    assert!(metrics["sizeSummary"]["inputBytes"]
        .as_u64()
        .is_some_and(|b| b > 0));
    assert_eq!(metrics["fileSummary"]["inputFileCount"], 1);
    assert_eq!(run["activities"][0]["name"], "Copy Activity");
    assert_eq!(run["activities"][1]["name"], "Promotion Activity");
    assert_eq!(run["activities"][1]["statusSummary"]["status"], "success");
    assert_eq!(run["updatedAt"], completed);
    let flow = env.get(&format!("{FS}/flows/{}", p.flow)).await.body["items"][0].clone();
    assert_eq!(flow["lastRunDetails"]["state"], "success");
    assert_eq!(flow["lastRunDetails"]["completedAtUTC"], completed);

    env.emulator.advance_clock(HOUR);
    let runs = runs_of(&env, &p.flow).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["createdAt"], (start + 3600) * 1000);
    let by_id = env
        .get(&format!(
            "{FS}/runs/{}",
            runs[1]["id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(by_id.body["items"][0]["id"], runs[1]["id"]);
    assert_eq!(
        env.get(&format!("{FS}/runs/nope")).await.error_type(),
        "FLOW-1439-404"
    );
}

#[tokio::test]
async fn a_mapping_to_a_missing_column_fails_every_run() {
    let env = Env::start().await;
    let p = env
        .pipeline(
            "Deals",
            &["Amount", "Deal_Name", "Mailing_City"],
            hourly(now_s(&env)),
        )
        .await;
    let rows = row_count(&env, &p.base, "Deals").await;
    env.emulator.advance_clock(10 * MINUTE);
    let run = runs_of(&env, &p.flow).await.remove(0);
    let status = &run["metrics"]["statusSummary"];
    assert_eq!(status["status"], "failed");
    assert_eq!(status["errors"][0]["code"], "MAPPER-3700-400");
    assert!(status["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("Mailing_City") && !m.contains("Amount")));
    assert_eq!(
        run["metrics"]["recordSummary"],
        json!({"inputRecordCount": rows, "outputRecordCount": 0, "failedRecordCount": rows})
    );
    let promotion = &run["activities"][1];
    assert_eq!(promotion["statusSummary"]["status"], "failed");
    assert_eq!(
        promotion["statusSummary"]["extensions"]["errors"][0]["code"],
        "MAPPER-3700-400"
    );
    assert_eq!(
        promotion["statusSummary"]["extensions"]["errors"][0]["recordCount"],
        rows
    );
    let flow = env.get(&format!("{FS}/flows/{}", p.flow)).await.body["items"][0].clone();
    assert_eq!(flow["lastRunDetails"]["state"], "failed");
    let failed = env
        .get(&format!(
            "{FS}/runs?property=flowId=={}&property=metrics.statusSummary.status==failed",
            p.flow
        ))
        .await;
    assert_eq!(failed.body["items"].as_array().map(Vec::len), Some(1));
    let by_state = env.get(&format!("{FS}/runs?property=state==failed")).await;
    assert_eq!(
        by_state.body["items"].as_array().map(Vec::len),
        Some(1),
        "sort-and-filter's `state` works on runs"
    );
}

#[tokio::test]
async fn a_column_left_out_of_the_source_connection_fails_the_mapping() {
    let env = Env::start().await;
    let base = env.base_connection("zoho").await;
    let source = env
        .source_connection(&base, "Contacts", Some(&["Email", "Modified_Time"]))
        .await;
    let target = env.target_connection(SEED_DATASET).await;
    let mapping = env.mapping_set(&["Email", "Mailing_City"]).await;
    let flow = env
        .create(
            &format!("{FS}/flows"),
            &flow_body(&source, &target, &mapping, hourly(now_s(&env))),
        )
        .await;
    env.emulator.advance_clock(10 * MINUTE);
    let run = runs_of(&env, &flow).await.remove(0);
    assert_eq!(
        run["metrics"]["statusSummary"]["errors"][0]["code"],
        "MAPPER-3700-400"
    );
    assert!(run["metrics"]["statusSummary"]["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("Mailing_City")));
}

#[tokio::test]
async fn a_delta_column_that_is_missing_or_not_a_date_time_fails_the_copy() {
    let env = Env::start().await;
    let base = env.base_connection("zoho").await;
    let source = env.source_connection(&base, "Leads", None).await;
    let target = env.target_connection(SEED_DATASET).await;
    let mapping = env.mapping_set(&["Email"]).await;
    for (delta, needle) in [
        ("Email", "not a date-time"),
        ("Last_Activity_Time", "not found"),
    ] {
        let mut body = flow_body(&source, &target, &mapping, hourly(now_s(&env)));
        body["transformations"][0]["params"]["deltaColumn"]["name"] = json!(delta);
        let flow = env.create(&format!("{FS}/flows"), &body).await;
        env.emulator.advance_clock(10 * MINUTE);
        let run = runs_of(&env, &flow).await.remove(0);
        let error = &run["metrics"]["statusSummary"]["errors"][0];
        assert_eq!(error["code"], "CONNECTOR-2001-500");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle)),
            "{error}"
        );
        assert_eq!(run["activities"][0]["statusSummary"]["status"], "failed");
        assert_eq!(run["activities"][1]["statusSummary"]["status"], "cancelled");
    }
}

#[tokio::test]
async fn runs_fail_when_zoho_refuses_the_base_connection() {
    let env = Env::start().await;
    let p = env
        .pipeline("Accounts", &["Account_Name"], hourly(now_s(&env) + 3600))
        .await;
    let etag = env.get(&format!("{FS}/connections/{}", p.base)).await.body["items"][0]["etag"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let revoke =
        json!([{"op": "replace", "path": "/auth/params/refreshToken", "value": "1000.revoked"}]);
    assert_eq!(
        env.patch(&format!("{FS}/connections/{}", p.base), &etag, &revoke)
            .await
            .code(),
        200
    );
    env.emulator.advance_clock(HOUR + 10 * MINUTE);
    let run = runs_of(&env, &p.flow).await.remove(0);
    assert_eq!(run["metrics"]["statusSummary"]["status"], "failed");
    assert_eq!(
        run["metrics"]["statusSummary"]["errors"][0]["code"],
        "CONNECTOR-2001-500"
    );
    assert_eq!(run["activities"][0]["statusSummary"]["status"], "failed");
    assert_eq!(run["metrics"]["recordSummary"]["inputRecordCount"], 0);
}

#[tokio::test]
async fn a_start_in_the_past_backfills_only_the_latest_slots() {
    let env = Env::start().await;
    let start = now_s(&env) - 10 * 86_400;
    let p = env.pipeline("Calls", &["Subject"], hourly(start)).await;
    let runs = runs_of(&env, &p.flow).await;
    assert_eq!(runs.len(), 3, "three most recent slots, not 240");
    let hour = 3_600_000;
    let last_slot = start * 1000 + ((now_s(&env) - start) * 1000 / hour) * hour;
    let created: Vec<i64> = runs
        .iter()
        .filter_map(|r| r["createdAt"].as_i64())
        .collect();
    assert_eq!(created, [last_slot - 2 * hour, last_slot - hour, last_slot]);
    assert!(runs[..2]
        .iter()
        .all(|r| r["metrics"]["statusSummary"]["status"] == "success"));
    // Later gaps are filled slot by slot.
    env.emulator.advance_clock(5 * HOUR);
    assert_eq!(runs_of(&env, &p.flow).await.len(), 8);
}

#[tokio::test]
async fn once_runs_a_single_time_and_future_starts_wait() {
    let mut env = Env::start().await;
    let start = now_s(&env) + 600;
    let p = env
        .pipeline(
            "Products",
            &["Product_Name"],
            json!({"startTime": start, "frequency": "once"}),
        )
        .await;
    assert!(runs_of(&env, &p.flow).await.is_empty());
    env.emulator.advance_clock(11 * MINUTE);
    assert_eq!(runs_of(&env, &p.flow).await.len(), 1);
    env.emulator.advance_clock(48 * HOUR);
    env.token = env.ims_token().await; // the clock moved past the old token's 24 h
    let runs = runs_of(&env, &p.flow).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["metrics"]["statusSummary"]["status"], "success");
}

#[tokio::test]
async fn the_time_scale_makes_an_hourly_flow_run_every_second() {
    let env = Env::with(EmulatorConfig {
        time_scale: 3600.0,
        ..EmulatorConfig::default()
    })
    .await;
    let p = env
        .pipeline("Cases", &["Subject"], hourly(now_s(&env)))
        .await;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let runs = runs_of(&env, &p.flow).await;
    assert!(
        (2..=8).contains(&runs.len()),
        "{} runs in ~2.3 emulated hours",
        runs.len()
    );
    assert_eq!(
        runs[0]["metrics"]["statusSummary"]["status"], "success",
        "a run takes minutes: well under a real second"
    );
}

#[tokio::test]
async fn disabled_flows_do_not_run_and_enabling_does_not_catch_up() {
    let env = Env::start().await;
    let start = now_s(&env);
    let p = env
        .pipeline("Vendors", &["Vendor_Name"], hourly(start))
        .await;
    assert_eq!(runs_of(&env, &p.flow).await.len(), 1);
    let disabled = env
        .post(
            &format!("{FS}/flows/{}/action?op=disable", p.flow),
            &json!({}),
        )
        .await;
    assert_eq!(disabled.code(), 200);
    assert_eq!(
        env.get(&format!("{FS}/flows/{}", p.flow)).await.body["items"][0]["state"],
        "disabled"
    );
    env.emulator.advance_clock(3 * HOUR);
    assert_eq!(runs_of(&env, &p.flow).await.len(), 1);
    assert_eq!(
        env.post(
            &format!("{FS}/flows/{}/action?op=ENABLE", p.flow),
            &json!({})
        )
        .await
        .code(),
        200
    );
    assert_eq!(
        runs_of(&env, &p.flow).await.len(),
        1,
        "missed slots are skipped"
    );
    env.emulator.advance_clock(HOUR);
    assert_eq!(runs_of(&env, &p.flow).await.len(), 2);
    assert_eq!(
        env.post(
            &format!("{FS}/flows/{}/action?op=pause", p.flow),
            &json!({})
        )
        .await
        .code(),
        400
    );
}

#[tokio::test]
async fn the_runs_list_filters_by_flows_sorts_and_pages() {
    let env = Env::start().await;
    let start = now_s(&env) - 2 * 3600;
    let a = env.pipeline("Leads", &["Email"], hourly(start)).await;
    let b = env.pipeline("Deals", &["Amount"], hourly(start)).await;
    let c = env.pipeline("Tasks", &["Subject"], hourly(start)).await;
    let both = env
        .get(&format!(
            "{FS}/runs?property=flowId=={},{}&orderby=-createdAt",
            a.flow, b.flow
        ))
        .await;
    let items = both.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 6);
    assert!(items.iter().all(|r| r["flowId"] != json!(c.flow)));
    let created: Vec<i64> = items
        .iter()
        .filter_map(|r| r["createdAt"].as_i64())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {created:?}"
    );
    let (all, pages) = env
        .list_all(&format!(
            "{FS}/runs?limit=4&orderby=-metrics.durationSummary.startedAtUTC"
        ))
        .await;
    assert_eq!((all.len(), pages), (9, 3));
    assert_eq!(
        env.get(&format!("{FS}/runs?count=true")).await.body,
        json!({"count": 9})
    );
    let window = env
        .get(&format!(
            "{FS}/runs?property=flowId=={}&property=metrics.durationSummary.startedAtUTC>{}",
            a.flow,
            (start + 3600) * 1000
        ))
        .await;
    assert_eq!(window.body["items"].as_array().map(Vec::len), Some(1));

    assert_eq!(
        env.delete(&format!("{FS}/flows/{}", c.flow)).await.code(),
        204
    );
    assert_eq!(
        env.get(&format!("{FS}/runs?property=flowId=={}", c.flow))
            .await
            .body["items"],
        json!([])
    );
}
