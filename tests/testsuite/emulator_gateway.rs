//! IMS tokens, the gateway's header checks and errors, sandbox isolation, the control API over
//! HTTP, and the `provision emulator` binary.

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use provision::emulator::{EmulatorConfig, Faults};
use reqwest::Method;
use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn ims_issues_tokens_for_the_seeded_client_only() {
    let env = Env::start().await;
    let token = |params: Vec<(&'static str, &'static str)>| {
        let request = env.http.post(env.url("/ims/token/v3")).form(&params);
        env.send(request)
    };
    let ok = token(vec![
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("scope", "openid,AdobeID"),
    ])
    .await;
    assert_eq!(ok.code(), 200);
    assert_eq!(ok.body["token_type"], "bearer");
    assert_eq!(ok.body["expires_in"], 86_399);
    assert!(ok.body["access_token"]
        .as_str()
        .is_some_and(|t| t.len() > 20));

    let wrong_secret = token(vec![
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", "nope"),
        ("scope", "openid"),
    ])
    .await;
    assert_eq!(
        (wrong_secret.code(), wrong_secret.body["error"].clone()),
        (401, json!("invalid_client"))
    );
    let unknown = token(vec![
        ("grant_type", "client_credentials"),
        ("client_id", "someone-else"),
        ("client_secret", CLIENT_SECRET),
        ("scope", "openid"),
    ])
    .await;
    assert_eq!(
        (unknown.code(), unknown.body["error"].clone()),
        (400, json!("invalid_client"))
    );
    let no_scope = token(vec![
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ])
    .await;
    assert_eq!(no_scope.body["error"], "invalid_scope");
    let wrong_grant = token(vec![("grant_type", "password"), ("client_id", CLIENT_ID)]).await;
    assert_eq!(wrong_grant.body["error"], "unsupported_grant_type");

    // Query parameters work too (ims.md), and the secret never reaches the request log.
    let query = format!(
        "/ims/token/v3?grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&scope=openid"
    );
    let by_query = env.send(env.http.post(env.url(&query))).await;
    assert_eq!(by_query.code(), 200);
    let log = serde_json::to_string(&env.emulator.requests()).unwrap_or_default();
    assert!(
        !log.contains(CLIENT_SECRET),
        "the request log must redact secrets: {log}"
    );
}

#[tokio::test]
async fn issued_tokens_expire_and_then_get_the_gateways_401013() {
    let config = EmulatorConfig {
        faults: Faults {
            token_ttl: Duration::from_secs(60),
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    };
    let env = Env::with(config).await;
    let path = format!("{FS}/connectionSpecs");
    assert_eq!(env.get(&path).await.code(), 200);
    env.emulator.advance_clock(Duration::from_secs(61));
    let expired = env.get(&path).await;
    assert_eq!(expired.code(), 401);
    assert_eq!(
        expired.body,
        json!({"error_code": "401013", "message": "Oauth token is not valid"})
    );
    // A fresh token works again.
    let fresh = env.ims_token().await;
    let reply = env
        .send(env.adobe_as(Method::GET, &path, &fresh, CLIENT_ID, "prod"))
        .await;
    assert_eq!(reply.code(), 200);
}

#[tokio::test]
async fn missing_or_wrong_headers_get_the_documented_errors() {
    let env = Env::start().await;
    let path = format!("{FS}/connections");
    let bare = || env.http.get(env.url(&path));

    let no_auth = env
        .send(
            bare()
                .header("x-api-key", CLIENT_ID)
                .header("x-gw-ims-org-id", ORG),
        )
        .await;
    assert_eq!(no_auth.code(), 403);
    assert_eq!(
        no_auth.body,
        json!({"error_code": "403010", "message": "Oauth token is missing."})
    );

    let bad_token = env
        .send(
            bare()
                .bearer_auth("not-a-token")
                .header("x-api-key", CLIENT_ID),
        )
        .await;
    assert_eq!(
        (bad_token.code(), bad_token.body["error_code"].clone()),
        (401, json!("401013"))
    );

    let no_key = env
        .send(
            bare()
                .bearer_auth(&env.token)
                .header("x-gw-ims-org-id", ORG),
        )
        .await;
    assert_eq!(no_key.code(), 403);
    assert_eq!(
        no_key.body,
        json!({"error_code": "403000", "message": "Api Key is required"})
    );

    let wrong_key = env
        .send(env.adobe_as(Method::GET, &path, &env.token, "other-client", "prod"))
        .await;
    assert_eq!(
        (wrong_key.code(), wrong_key.body["error_code"].clone()),
        (403, json!("403003"))
    );

    let no_org = env
        .send(
            bare()
                .bearer_auth(&env.token)
                .header("x-api-key", CLIENT_ID),
        )
        .await;
    assert_eq!(no_org.code(), 400);
    assert_eq!(
        no_org.body,
        json!({"error_code": "400003", "message": "Missing header"})
    );

    let no_sandbox = env
        .send(
            bare()
                .bearer_auth(&env.token)
                .header("x-api-key", CLIENT_ID)
                .header("x-gw-ims-org-id", ORG),
        )
        .await;
    assert_eq!(no_sandbox.code(), 400);
    assert_eq!(no_sandbox.error_type(), "FLOW-2105-400");
    assert_eq!(no_sandbox.body["status"], 400);
    assert!(no_sandbox.body["report"]["detailed-message"]
        .as_str()
        .is_some_and(|m| m.contains("x-sandbox-name")));

    let unknown_sandbox = env
        .send(env.adobe_as(Method::GET, &path, &env.token, CLIENT_ID, "staging"))
        .await;
    assert_eq!(unknown_sandbox.code(), 404);
    assert_eq!(unknown_sandbox.error_type(), "FLOW-2103-404");

    // Catalog and Data Prep check the same headers.
    let catalog = env
        .send(env.http.get(env.url(&format!("{CATALOG}/dataSets"))))
        .await;
    assert_eq!(catalog.body["error_code"], "403010");
}

#[tokio::test]
async fn bodies_need_a_json_content_type() {
    let env = Env::start().await;
    let body = base_connection_body("x", &env.emulator.url()).to_string();
    let reply = env
        .send(
            env.adobe(Method::POST, &format!("{FS}/connections"))
                .header("content-type", "text/plain")
                .body(body),
        )
        .await;
    assert_eq!(reply.code(), 400);
    assert_eq!(
        reply.body,
        json!({"type": "/placeholder/type/uri", "status": 400, "title": "BadRequestError", "detail": "A valid content-type must be specified"})
    );
    let no_type = env
        .send(
            env.adobe(Method::POST, &format!("{CATALOG}/dataSets"))
                .body("{}"),
        )
        .await;
    assert_eq!(no_type.body["title"], "BadRequestError");
    assert!(
        env.emulator.connections("prod").is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn every_answer_carries_a_request_id_that_errors_repeat() {
    let env = Env::start().await;
    let ok = env.get(&format!("{FS}/flowSpecs")).await;
    assert!(ok.header("x-request-id").is_some_and(|id| !id.is_empty()));
    let missing = env
        .get(&format!("{FS}/flows/00000000-0000-0000-0000-000000000000"))
        .await;
    assert_eq!(missing.code(), 404);
    assert_eq!(missing.error_type(), "FLOW-1439-404");
    assert_eq!(missing.body["title"], "Resource not found");
    assert_eq!(
        missing.body["report"]["request-id"].as_str(),
        missing.header("x-request-id").as_deref()
    );
    assert_eq!(missing.body["report"]["type"], "flows");
    let gateway = env
        .send(env.http.get(env.url(&format!("{FS}/flows"))))
        .await;
    assert!(gateway.header("x-request-id").is_some());
}

#[tokio::test]
async fn sandboxes_isolate_what_is_created() {
    let mut env = Env::start().await;
    let id = env.base_connection("in dev?").await;
    assert_eq!(env.get(&format!("{FS}/connections/{id}")).await.code(), 200);
    env.sandbox = "dev".into();
    assert_eq!(env.get(&format!("{FS}/connections/{id}")).await.code(), 404);
    let listed = env.get(&format!("{FS}/connections")).await;
    assert_eq!(listed.body["items"], json!([]));
    assert_eq!(env.emulator.connections("prod").len(), 1);
    assert!(env.emulator.connections("dev").is_empty());
}

#[tokio::test]
async fn the_control_api_mirrors_the_rust_api() {
    let env = Env::start().await;
    let control = |method: Method, path: &str| env.http.request(method, env.url(path));
    let health = env.send(control(Method::GET, "/_emulator/health")).await;
    assert_eq!(health.body["url"], env.emulator.url());

    env.get(&format!("{FS}/connectionSpecs")).await;
    let log = env.send(control(Method::GET, "/_emulator/requests")).await;
    let log = log.body.as_array().cloned().unwrap_or_default();
    let paths: Vec<&str> = log.iter().filter_map(|r| r["path"].as_str()).collect();
    assert_eq!(
        paths,
        [
            "/ims/token/v3",
            "/data/foundation/flowservice/connectionSpecs"
        ],
        "control calls are not logged"
    );
    assert_eq!(log[1]["status"], 200);
    assert_eq!(log[1]["method"], "GET");
    assert!(log[1]["headers"]
        .as_array()
        .is_some_and(|h| h.contains(&json!("x-sandbox-name"))));
    assert_eq!(
        env.send(control(Method::DELETE, "/_emulator/requests"))
            .await
            .code(),
        204
    );
    assert!(env.emulator.requests().is_empty());

    let put = env
        .send(
            control(Method::PUT, "/_emulator/faults")
                .json(&json!({"latency_ms": 5, "zoho_spec": "unlisted"})),
        )
        .await;
    assert_eq!(put.body["latency_ms"], 5);
    assert_eq!(
        env.emulator.faults().latency,
        Some(Duration::from_millis(5))
    );
    let patched = env
        .send(control(Method::PATCH, "/_emulator/faults").json(&json!({"fail_rate": 0.0})))
        .await;
    assert_eq!(
        patched.body["zoho_spec"], "unlisted",
        "PATCH keeps the other settings"
    );
    let rejected = env
        .send(control(Method::PUT, "/_emulator/faults").json(&json!({"latency": 5})))
        .await;
    assert_eq!(rejected.code(), 400);

    let before = env.emulator.now_ms();
    let advanced = env
        .send(control(Method::POST, "/_emulator/clock/advance").json(&json!({"by": "2h"})))
        .await;
    assert!(advanced.body["now_ms"]
        .as_i64()
        .is_some_and(|now| now >= before + 7_200_000));
    let by_query = env
        .send(control(Method::POST, "/_emulator/clock/advance?by=90s"))
        .await;
    assert_eq!(by_query.code(), 200);

    let minted = env
        .send(
            control(Method::POST, "/_emulator/zoho/grant-codes")
                .json(&json!({"redirect_uri": "https://app.example/cb"})),
        )
        .await;
    let code = minted.body["code"].as_str().unwrap_or_default().to_owned();
    assert!(code.starts_with("1000."));
    assert_eq!(
        minted.body["redirect_url"],
        format!(
            "https://app.example/cb?code={code}&location=us&accounts-server={}",
            env.emulator.url()
        )
    );

    env.base_connection("dumped").await;
    let state = env
        .send(control(Method::GET, "/_emulator/state?sandbox=prod"))
        .await;
    let connections = &state.body["sandboxes"]["prod"]["connections"];
    assert_eq!(connections[0]["name"], "dumped");
    assert_eq!(
        connections[0]["auth"]["params"]["clientSecret"], "********",
        "secrets stay masked"
    );
    assert!(state.body["sandboxes"].get("dev").is_none());
    let datasets = &state.body["sandboxes"]["prod"]["dataSets"];
    assert_eq!(datasets[0]["id"], SEED_DATASET);
}

#[test]
fn the_binary_prints_its_address_first_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_provision"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--time-scale", "720"])
        .args(["--page-cap", "7"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a first line");
    let url = first.trim().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let health: Value = runtime
        .block_on(async {
            reqwest::get(format!("{url}/_emulator/health"))
                .await?
                .json()
                .await
        })
        .expect("the emulator answers");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["url"], url.as_str());
    let faults: Value = runtime
        .block_on(async {
            reqwest::get(format!("{url}/_emulator/faults"))
                .await?
                .json()
                .await
        })
        .expect("the emulator answers");
    assert_eq!(faults["page_cap"], 7, "{faults}");

    #[cfg(unix)]
    {
        let pid = child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().expect("wait works") {
                assert!(status.success(), "SIGTERM is a clean stop: {status}");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the emulator did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    #[cfg(not(unix))]
    {
        let _ = child.kill();
    }
}
