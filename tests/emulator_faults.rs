//! Fault injection: latency (and the emulator's own overhead under it), the rate limit with
//! 429 + Retry-After, random 5xx from a seeded RNG, commit-then-fail, and runtime control.

// A test binary of its own, not a module of tests/testsuite: the latency test bounds the
// emulator's own time per call and per page, and in the shared binary the heavier tests running
// on the other test thread (applies of many modules, proptests) push it past those bounds.
#[path = "testsuite/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use provision::emulator::{EmulatorConfig, Faults};
use reqwest::Method;
use serde_json::json;
use support::*;

#[tokio::test]
async fn latency_is_added_and_the_emulators_own_overhead_stays_small_at_scale() {
    let env = Env::with(EmulatorConfig {
        extra_modules: 300,
        ..EmulatorConfig::default()
    })
    .await;
    let base = env.base_connection("bench").await;
    let target = env.target_connection(SEED_DATASET).await;
    let mapping = env.mapping_set(&["Name", "Email"]).await;
    let mut sources = Vec::new();
    for n in 1..=300 {
        let source = env
            .source_connection(&base, &format!("CustomModule{n}"), None)
            .await;
        env.create(
            &format!("{FS}/flows"),
            &flow_body(&source, &target, &mapping, hourly(1_900_000_000)),
        )
        .await;
        sources.push(source);
    }
    let root = env
        .get(&format!("{FS}/connections/{base}/explore?objectType=root"))
        .await;
    assert!(root.body.as_array().is_some_and(|t| t.len() >= 314));

    let latency = Duration::from_millis(50);
    env.emulator.set_faults(Faults {
        latency: Some(latency),
        ..Faults::default()
    });
    let lookups = [
        format!("{FS}/flows?property=sourceConnectionIds[]=={}", sources[150]),
        format!("{FS}/sourceConnections?property=baseConnectionId=={base}&property=params.tableName==CustomModule299"),
        format!("{FS}/runs?property=flowId==none"),
        format!("{FS}/connections/{base}/explore?objectType=table&object=CustomModule7&preview=true"),
    ];
    let started = Instant::now();
    let mut calls = 0;
    for _ in 0..5 {
        for path in &lookups {
            let call = Instant::now();
            let reply = env.get(path).await;
            assert_eq!(reply.code(), 200, "{path}");
            assert!(
                call.elapsed() >= latency,
                "every answer waits the injected latency"
            );
            calls += 1;
        }
    }
    let per_call = started.elapsed() / calls;
    let overhead = per_call.saturating_sub(latency);
    assert!(
        overhead < Duration::from_millis(20),
        "emulator overhead {overhead:?} per call over 300 flows"
    );
    // Paging through all 300 flows costs one latency per page of 100, not per flow.
    let started = Instant::now();
    let (flows, pages) = env.list_all(&format!("{FS}/flows?limit=100")).await;
    assert_eq!((flows.len(), pages), (300, 3));
    assert!(
        started.elapsed() < latency * 3 + Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let env = Env::start().await;
    env.emulator.set_faults(Faults {
        rate_limit: Some(5),
        ..Faults::default()
    });
    let path = format!("{FS}/flowSpecs");
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..15 {
        let reply = env.get(&path).await;
        if reply.code() == 429 && limited.is_none() {
            limited = Some(reply);
        } else {
            statuses.push(reply.code());
        }
    }
    let limited = limited.expect("some requests are limited");
    assert_eq!(limited.header("retry-after").as_deref(), Some("1"));
    assert_eq!(limited.body["error_code"], "429050");
    assert!(
        statuses.iter().filter(|s| **s == 200).count() <= 10,
        "at most 5 per second: {statuses:?}"
    );
    // The control API is not limited, and the limit lifts after the window.
    let control = env.send(env.http.get(env.url("/_emulator/faults"))).await;
    assert_eq!(control.code(), 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(env.get(&path).await.code(), 200);
    assert!(
        env.emulator.requests().iter().any(|r| r.status == 429),
        "limited requests are logged"
    );
}

async fn statuses_with_seed(seed: u64) -> Vec<u16> {
    let env = Env::with(EmulatorConfig {
        seed: Some(seed),
        ..EmulatorConfig::default()
    })
    .await;
    env.emulator.set_faults(Faults {
        fail_rate: 0.3,
        ..Faults::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..60 {
        statuses.push(env.get(&format!("{FS}/connectionSpecs")).await.code());
    }
    statuses
}

#[tokio::test]
async fn random_server_errors_follow_the_seed_and_the_share() {
    let first = statuses_with_seed(7).await;
    let failed = first.iter().filter(|s| **s >= 500).count();
    assert!((6..=30).contains(&failed), "about 30% of 60 fail: {failed}");
    assert!(
        first.iter().all(|s| [200, 500, 502, 503, 504].contains(s)),
        "{first:?}"
    );
    assert_eq!(
        statuses_with_seed(7).await,
        first,
        "the same seed gives the same faults"
    );
}

#[tokio::test]
async fn server_errors_have_each_services_shape() {
    let env = Env::with(EmulatorConfig {
        seed: Some(1),
        ..EmulatorConfig::default()
    })
    .await;
    env.emulator.set_faults(Faults {
        fail_rate: 1.0,
        ..Faults::default()
    });
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let reply = env.get(&format!("{FS}/flows")).await;
        seen.insert(reply.code());
        match reply.code() {
            502 => assert_eq!(reply.body["error_code"], "502000"),
            status => {
                assert_eq!(reply.body["status"], status);
                assert!(reply.error_type().starts_with("FLOW-110"), "{}", reply.body);
                assert!(reply.body["report"]["request-id"].is_string());
            }
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), [500, 502, 503, 504]);

    let catalog = env.get(&format!("{CATALOG}/dataSets")).await;
    assert!(
        catalog.error_type().starts_with("CAT-2200-"),
        "{}",
        catalog.body
    );
    let zoho = env.send(env.http.post(env.url("/oauth/v2/token"))).await;
    assert!(zoho.status.is_server_error());
    assert!(
        zoho.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "Zoho outages are HTML pages"
    );
    let ims = env.send(env.http.post(env.url("/ims/token/v3"))).await;
    assert_eq!(ims.body["error"], "server_error");
    // The control API never fails.
    assert_eq!(
        env.send(env.http.get(env.url("/_emulator/state")))
            .await
            .code(),
        200
    );
}

#[tokio::test]
async fn a_create_can_be_committed_and_then_answered_with_504() {
    let env = Env::start().await;
    let path = format!("{FS}/connections");
    env.emulator.set_faults(Faults {
        fail_after_commit: vec![path.clone()],
        ..Faults::default()
    });
    let reply = env
        .post(
            &path,
            &base_connection_body("committed", &env.emulator.url()),
        )
        .await;
    assert_eq!(reply.code(), 504);
    assert_eq!(reply.error_type(), "FLOW-1104-504");
    // The create happened: a lookup by name finds it, as a client must check before retrying.
    let found = env.get(&format!("{path}?property=name==committed")).await;
    assert_eq!(found.code(), 200);
    assert_eq!(found.body["items"].as_array().map(Vec::len), Some(1));
    // Failed creates are not committed-then-failed, and other paths are untouched.
    let invalid = env.post(&path, &json!({"name": "x"})).await;
    assert_eq!(invalid.code(), 400);
    assert_eq!(
        env.post(&format!("{CATALOG}/dataSets"), &dataset_body("fine"))
            .await
            .code(),
        201
    );
    assert_eq!(env.emulator.connections("prod").len(), 1);
}

#[tokio::test]
async fn faults_are_set_over_http_at_runtime() {
    let env = Env::start().await;
    let put = env
        .send(env.http.request(Method::PUT, env.url("/_emulator/faults")).json(&json!({"latency_ms": 120, "fail_after_commit": [format!("{CATALOG}/dataSets")]})))
        .await;
    assert_eq!(put.code(), 200);
    let started = Instant::now();
    let reply = env
        .post(&format!("{CATALOG}/dataSets"), &dataset_body("late"))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(120));
    assert_eq!(reply.code(), 504);
    assert!(
        reply.body["error_code"].is_null() && reply.body["status"] == 504,
        "{}",
        reply.body
    );
    assert_eq!(
        env.emulator.datasets("prod").len(),
        2,
        "the dataset was created before the 504"
    );
    env.send(
        env.http
            .request(Method::PUT, env.url("/_emulator/faults"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(env.emulator.faults(), Faults::default());
}
