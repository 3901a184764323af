//! The Zoho OAuth client against a mock accounts server and CRM API (docs/zoho-oauth.md#token-endpoint, #crm-modules, #failure-modes).

use std::time::Duration;

use provision::api::crm::ZohoApiError;
use provision::api::http::HttpOptions;
use provision::auth::zoho::{Grant, ZohoAuthError, ZohoOAuth};
use provision::profile::{ZohoRegion, ZohoSettings};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CLIENT_ID: &str = "1000.TESTCLIENT";
const CLIENT_SECRET: &str = "zoho-client-secret-value";
const REFRESH: &str = "1000.refresh-token-value";

fn settings(server: &MockServer, region: Option<ZohoRegion>) -> ZohoSettings {
    let url = Url::parse(&server.uri()).expect("url");
    ZohoSettings {
        region,
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(CLIENT_SECRET),
        refresh_token: SecretString::from(REFRESH),
        accounts_url: url.clone(),
        api_url: url,
    }
}

fn zoho() -> ZohoOAuth {
    ZohoOAuth::new(HttpOptions {
        timeout: Duration::from_millis(500),
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        deadline: Duration::from_secs(1),
        ..HttpOptions::default()
    })
    .expect("client")
}

fn form(request: &Request) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    fields.sort();
    fields
}

async fn token_answer(server: &MockServer, status: u16, body: serde_json::Value) {
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

async fn token_requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == "/oauth/v2/token")
        .collect()
}

#[tokio::test]
async fn refresh_posts_a_form_and_reads_the_api_domain() {
    let server = MockServer::start().await;
    token_answer(
        &server,
        200,
        json!({"access_token": "1000.access", "api_domain": "https://www.zohoapis.eu", "token_type": "Bearer",
               "expires_in": 3600, "scope": "ZohoCRM.settings.modules.READ ZohoCRM.modules.READ"}),
    )
    .await;
    let token = zoho()
        .refresh(&settings(&server, Some(ZohoRegion::Eu)))
        .await
        .expect("token");
    assert_eq!(token.access_token.expose_secret(), "1000.access");
    assert!(token.refresh_token.is_none());
    assert_eq!(
        token.api_domain.as_ref().map(Url::as_str),
        Some("https://www.zohoapis.eu/")
    );
    assert_eq!(token.expires_in, Duration::from_secs(3600));
    assert_eq!(
        token.scope,
        ["ZohoCRM.settings.modules.READ", "ZohoCRM.modules.READ"]
    );

    let requests = token_requests(&server).await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/x-www-form-urlencoded")
    );
    assert!(
        request.headers.get("authorization").is_none(),
        "never Basic auth"
    );
    assert!(request.url.query().is_none(), "secrets stay out of the URL");
    assert_eq!(
        form(request),
        vec![
            ("client_id".to_owned(), CLIENT_ID.to_owned()),
            ("client_secret".to_owned(), CLIENT_SECRET.to_owned()),
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), REFRESH.to_owned()),
        ]
    );
}

#[tokio::test]
async fn an_http_200_with_invalid_code_is_a_failure_naming_the_data_centre() {
    let server = MockServer::start().await;
    token_answer(&server, 200, json!({"error": "invalid_code"})).await;
    let error = zoho()
        .refresh(&settings(&server, Some(ZohoRegion::Us)))
        .await
        .expect_err("invalid_code is a failure even with HTTP 200");
    assert!(
        matches!(
            error,
            ZohoAuthError::InvalidCode {
                grant: Grant::RefreshToken,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient());
    let message = error.to_string();
    assert!(message.contains("the Zoho us data centre"), "{message}");
    assert!(message.contains(&server.uri()), "{message}");
    assert!(message.contains("invalid_code"), "{message}");
    assert!(message.contains("zoho token"), "says what to do: {message}");
    assert!(
        !message.contains(REFRESH) && !message.contains(CLIENT_SECRET),
        "{message}"
    );
    assert_eq!(
        token_requests(&server).await.len(),
        1,
        "credential errors are not retried"
    );
}

#[tokio::test]
async fn the_data_centre_is_named_from_a_known_accounts_url() {
    let server = MockServer::start().await;
    token_answer(&server, 200, json!({"error": "invalid_client"})).await;
    let error = zoho()
        .refresh(&settings(&server, None))
        .await
        .expect_err("unknown client");
    let message = error.to_string();
    assert!(
        message.contains(&format!("the Zoho accounts server at {}", server.uri())),
        "{message}"
    );
    assert!(message.contains(CLIENT_ID), "{message}");
    assert!(message.contains("Multi-DC"), "{message}");
}

#[tokio::test]
async fn every_token_error_is_classified() {
    let cases = [
        (
            200,
            json!({"error": "invalid_client_secret"}),
            "invalid_client_secret",
            "client secret",
        ),
        (
            200,
            json!({"error": "invalid_redirect_uri"}),
            "invalid_redirect_uri",
            "Authorized Redirect URI",
        ),
        (
            200,
            json!({"error_description": "You have made too many requests continuously. Please try again after some time.",
                   "error": "Access Denied", "status": "failure"}),
            "throttled",
            "wait up to 10 minutes",
        ),
        (
            400,
            json!({"error": "Access Denied", "error_description": "Token creation throttle limit reached."}),
            "throttled",
            "throttling",
        ),
        (
            200,
            json!({"error": "access_denied"}),
            "access_denied",
            "wait 10 minutes",
        ),
        (
            200,
            json!({"error": "unsupported_grant_type"}),
            "rejected",
            "unsupported_grant_type",
        ),
        (
            200,
            json!({"token_type": "Bearer"}),
            "no_access_token",
            "without an access_token",
        ),
        (
            200,
            json!({"access_token": "x", "api_domain": "http://zohoapis.example"}),
            "bad_api_domain",
            "refusing",
        ),
    ];
    for (status, body, code, words) in cases {
        let server = MockServer::start().await;
        token_answer(&server, status, body.clone()).await;
        let error = zoho()
            .exchange_code(
                &Url::parse(&server.uri()).expect("url"),
                CLIENT_ID,
                &SecretString::from(CLIENT_SECRET),
                &SecretString::from("1000.grant"),
                Some("https://app.example/callback"),
            )
            .await
            .expect_err(code);
        assert_eq!(error.code(), code, "{body}");
        let message = error.to_string();
        assert!(message.contains(words), "{code}: {message}");
        assert!(
            message.contains(&server.uri()),
            "{code} names the accounts server: {message}"
        );
        assert_eq!(
            token_requests(&server).await.len(),
            1,
            "{code} is not retried"
        );
    }
}

#[tokio::test]
async fn outages_are_transient_and_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/v2/token"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string("<html><title>Service Unavailable</title></html>"),
        )
        .mount(&server)
        .await;
    let error = zoho()
        .refresh(&settings(&server, Some(ZohoRegion::Eu)))
        .await
        .expect_err("outage");
    assert!(error.is_transient(), "{error:?}");
    assert!(
        error.to_string().contains("not a credential problem"),
        "{error}"
    );
    // A refresh changes nothing when repeated: retried until the deadline, past max_attempts.
    let refreshes = token_requests(&server).await.len();
    assert!(refreshes > 3, "a refresh was tried {refreshes} times");
    // A grant code is single use: its exchange is retried only up to max_attempts.
    let error = zoho()
        .exchange_code(
            &Url::parse(&server.uri()).expect("url"),
            CLIENT_ID,
            &SecretString::from(CLIENT_SECRET),
            &SecretString::from("1000.grant"),
            None,
        )
        .await
        .expect_err("outage");
    assert!(error.is_transient(), "{error:?}");
    assert_eq!(
        token_requests(&server).await.len(),
        refreshes + 3,
        "an exchange is retried up to max_attempts"
    );

    let server = MockServer::start().await;
    Mock::given(path("/oauth/v2/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string("<!DOCTYPE html><html>maintenance</html>"),
        )
        .mount(&server)
        .await;
    let error = zoho()
        .refresh(&settings(&server, Some(ZohoRegion::Eu)))
        .await
        .expect_err("html");
    assert_eq!(error.code(), "transient");
}

#[tokio::test]
async fn exchange_code_sends_the_code_and_returns_the_refresh_token() {
    let server = MockServer::start().await;
    token_answer(
        &server,
        200,
        json!({"access_token": "1000.a", "refresh_token": "1000.r", "api_domain": "https://www.zohoapis.com",
               "token_type": "Bearer", "expires_in_sec": 3600, "expires_in": 3600000}),
    )
    .await;
    let accounts = Url::parse(&server.uri()).expect("url");
    let zoho = zoho();
    let token = zoho
        .exchange_code(
            &accounts,
            CLIENT_ID,
            &SecretString::from(CLIENT_SECRET),
            &SecretString::from("1000.grant"),
            None,
        )
        .await
        .expect("token");
    assert_eq!(
        token
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned())
            .as_deref(),
        Some("1000.r")
    );
    assert_eq!(token.expires_in, Duration::from_secs(3600));
    let requests = token_requests(&server).await;
    assert_eq!(
        form(&requests[0]),
        vec![
            ("client_id".to_owned(), CLIENT_ID.to_owned()),
            ("client_secret".to_owned(), CLIENT_SECRET.to_owned()),
            ("code".to_owned(), "1000.grant".to_owned()),
            ("grant_type".to_owned(), "authorization_code".to_owned()),
        ],
        "no redirect_uri for a Self Client"
    );

    zoho.exchange_code(
        &accounts,
        CLIENT_ID,
        &SecretString::from(CLIENT_SECRET),
        &SecretString::from("1000.grant2"),
        Some("https://app.example/cb"),
    )
    .await
    .expect("token");
    let requests = token_requests(&server).await;
    assert!(form(&requests[1]).contains(&(
        "redirect_uri".to_owned(),
        "https://app.example/cb".to_owned()
    )));
}

#[tokio::test]
async fn token_reuses_the_cached_access_token_until_it_is_rejected() {
    let server = MockServer::start().await;
    // Each refresh answers a new access token: 1000.a1, 1000.a2, ...
    let issued = std::sync::atomic::AtomicUsize::new(0);
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .respond_with(move |_: &Request| {
            let n = issued.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": format!("1000.a{n}"), "expires_in": 3600}))
        })
        .mount(&server)
        .await;
    let zoho = zoho();
    let settings = settings(&server, Some(ZohoRegion::Us));
    let first = zoho.token(&settings).await.expect("first");
    zoho.token(&settings).await.expect("cached");
    assert_eq!(token_requests(&server).await.len(), 1);
    zoho.invalidate_token(&first).await;
    let second = zoho.token(&settings).await.expect("again");
    assert_eq!(token_requests(&server).await.len(), 2);
    assert_eq!(second.access_token.expose_secret(), "1000.a2");
    // A call rejected with the token already replaced does not throw the new one away.
    zoho.invalidate_token(&first).await;
    let cached = zoho.token(&settings).await.expect("the new one, cached");
    assert_eq!(cached.access_token.expose_secret(), "1000.a2");
    assert_eq!(token_requests(&server).await.len(), 2);
    zoho.invalidate_token(&second).await;
    zoho.token(&settings).await.expect("a third");
    assert_eq!(token_requests(&server).await.len(), 3);
}

#[tokio::test]
async fn list_modules_sends_the_zoho_oauthtoken_header() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v8/settings/modules"))
        .and(header("authorization", "Zoho-oauthtoken 1000.access"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"modules": [
            {"api_name": "Leads", "module_name": "Leads", "plural_label": "Leads", "api_supported": true,
             "generated_type": "default", "id": "4150868000000002175"},
            {"api_name": "Events", "module_name": "Meetings", "api_supported": true, "id": 4150868000000002179u64},
            {"api_name": "Home", "api_supported": false}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    let modules = zoho()
        .crm()
        .list_modules(
            &Url::parse(&server.uri()).expect("url"),
            &SecretString::from("1000.access"),
        )
        .await
        .expect("modules");
    let names: Vec<&str> = modules.iter().map(|m| m.api_name.as_str()).collect();
    assert_eq!(names, ["Leads", "Events", "Home"]);
    assert_eq!(modules[1].module_name.as_deref(), Some("Meetings"));
    assert_eq!(modules[1].id.as_deref(), Some("4150868000000002179"));
    assert_eq!(modules[2].api_supported, Some(false));
}

#[tokio::test]
async fn list_modules_errors_say_what_to_do() {
    let cases = [
        (
            401,
            json!({"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}),
            "INVALID_TOKEN",
        ),
        (
            401,
            json!({"code": "OAUTH_SCOPE_MISMATCH", "details": {}, "message": "invalid oauth scope to access this URL", "status": "error"}),
            "ZohoCRM.settings.modules.READ",
        ),
        (
            403,
            json!({"code": "NO_PERMISSION", "details": {}, "message": "permission denied", "status": "error"}),
            "NO_PERMISSION",
        ),
        (
            400,
            json!({"code": "INVALID_URL_PATTERN", "details": {}, "message": "Please check if the URL trying to access is a correct one", "status": "error"}),
            "INVALID_URL_PATTERN",
        ),
    ];
    for (status, body, words) in cases {
        let server = MockServer::start().await;
        Mock::given(path("/crm/v8/settings/modules"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
        let error = zoho()
            .crm()
            .list_modules(
                &Url::parse(&server.uri()).expect("url"),
                &SecretString::from("1000.access"),
            )
            .await
            .expect_err(words);
        let message = error.to_string();
        assert!(message.contains(words), "{message}");
        assert!(message.contains("/crm/v8/settings/modules"), "{message}");
        assert!(!message.contains("1000.access"), "{message}");
    }
}

#[tokio::test]
async fn list_modules_handles_204_and_retries_429() {
    let server = MockServer::start().await;
    Mock::given(path("/crm/v8/settings/modules"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let modules = zoho()
        .crm()
        .list_modules(
            &Url::parse(&server.uri()).expect("url"),
            &SecretString::from("t"),
        )
        .await
        .expect("no content");
    assert!(modules.is_empty());

    let server = MockServer::start().await;
    Mock::given(path("/crm/v8/settings/modules"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(
                    json!({"code": "TOO_MANY_REQUESTS", "status": "error", "message": "limit"}),
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/crm/v8/settings/modules"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"modules": [{"api_name": "Deals"}]})),
        )
        .mount(&server)
        .await;
    let modules = zoho()
        .crm()
        .list_modules(
            &Url::parse(&server.uri()).expect("url"),
            &SecretString::from("t"),
        )
        .await
        .expect("after the 429");
    assert_eq!(modules.len(), 1);

    let server = MockServer::start().await;
    Mock::given(path("/crm/v8/settings/modules"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .mount(&server)
        .await;
    let error = zoho()
        .crm()
        .list_modules(
            &Url::parse(&server.uri()).expect("url"),
            &SecretString::from("t"),
        )
        .await
        .expect_err("still throttled");
    assert!(
        matches!(error, ZohoApiError::TooManyRequests { .. }),
        "{error:?}"
    );
}
