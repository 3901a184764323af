//! The retry policy's answers to rate limits that the end-to-end tests (`tests/reliability.rs`)
//! can only provoke at random: a long run of 429s on one call, and a 429 from the Zoho token
//! endpoint.

use std::time::{Duration, Instant};

use provision::api::http::HttpOptions;
use provision::api::{AepClient, Query, Service};
use provision::auth::zoho::ZohoOAuth;
use provision::profile::{AdobeSettings, ZohoSettings};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FLOWS: &str = "/data/foundation/flowservice/flows";

fn options() -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        deadline: Duration::from_secs(10),
        max_concurrency: 8,
    }
}

fn aep(server: &MockServer) -> AepClient {
    let url = Url::parse(&server.uri()).expect("url");
    let adobe = AdobeSettings {
        org_id: "0000000000000000000000AA@AdobeOrg".into(),
        sandbox: "prod".into(),
        client_id: "test-client".into(),
        client_secret: SecretString::from("test-secret"),
        scopes: vec!["openid".into()],
        ims_url: url.clone(),
        platform_url: url,
    };
    AepClient::new(&adobe, options()).expect("client")
}

async fn ims(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "token", "token_type": "bearer", "expires_in": 86399
        })))
        .mount(server)
        .await;
}

/// `times` answers of 429 with `Retry-After: 0` to `verb FLOWS`, then a success.
async fn throttled_then_ok(server: &MockServer, verb: &str, times: u64) {
    Mock::given(method(verb))
        .and(path(FLOWS))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method(verb))
        .and(path(FLOWS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "f1"})))
        .mount(server)
        .await;
}

async fn calls_to(server: &MockServer, verb: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == FLOWS && r.method.as_str() == verb)
        .count()
}

#[tokio::test]
async fn a_long_run_of_429s_is_bounded_by_the_deadline_not_the_attempts() {
    // Twice `max_attempts` refusals: each said when to come back and nothing was processed, so
    // the call keeps going while its deadline allows. `Retry-After: 0` falls back to the backoff.
    let server = MockServer::start().await;
    ims(&server).await;
    throttled_then_ok(&server, "GET", 6).await;
    throttled_then_ok(&server, "POST", 6).await;
    let client = aep(&server);
    let got: Value = client
        .get(Service::FlowService, "/flows", &Query::new())
        .await
        .expect("the GET succeeds after six 429s");
    assert_eq!(got["id"], "f1");
    assert_eq!(calls_to(&server, "GET").await, 7);
    let created: Value = client
        .post(Service::FlowService, "/flows", &Query::new(), &json!({}))
        .await
        .expect("the POST succeeds after six 429s");
    assert_eq!(created["id"], "f1");
    assert_eq!(calls_to(&server, "POST").await, 7);
}

#[tokio::test]
async fn server_errors_still_stop_at_max_attempts() {
    let server = MockServer::start().await;
    ims(&server).await;
    Mock::given(path(FLOWS))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let error = aep(&server)
        .get::<Value>(Service::FlowService, "/flows", &Query::new())
        .await
        .expect_err("503 every time");
    assert_eq!(error.status, Some(503));
    assert!(
        error.message.contains("gave up after 3 attempts"),
        "{error}"
    );
    assert_eq!(calls_to(&server, "GET").await, 3);
}

fn zoho_settings(server: &MockServer) -> ZohoSettings {
    let url = Url::parse(&server.uri()).expect("url");
    ZohoSettings {
        region: None,
        client_id: "1000.TESTCLIENT".into(),
        client_secret: SecretString::from("zoho-secret"),
        refresh_token: SecretString::from("1000.refresh"),
        accounts_url: url.clone(),
        api_url: url,
    }
}

#[tokio::test]
async fn a_zoho_token_request_answered_429_waits_its_retry_after_and_succeeds() {
    // An HTTP-level rate limit (a gateway's 429 with Retry-After) is not Zoho's own token
    // throttling ("Access Denied", which needs minutes): it is waited out and retried.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"code": "TOO_MANY_REQUESTS", "details": {},
                                      "message": "too many requests", "status": "error"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "1000.access", "api_domain": server.uri(), "token_type": "Bearer",
            "expires_in": 3600
        })))
        .mount(&server)
        .await;
    let zoho = ZohoOAuth::new(options()).expect("client");
    let started = Instant::now();
    let token = zoho
        .refresh(&zoho_settings(&server))
        .await
        .expect("a token after the wait");
    assert_eq!(token.access_token.expose_secret(), "1000.access");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "the retry came before Retry-After: {:?}",
        started.elapsed()
    );
    let sent = server.received_requests().await.unwrap_or_default();
    assert_eq!(sent.len(), 2);
}
