//! The AEP transport against a mock server: the IMS token request and its cache, the five
//! headers, every error shape of docs/aep-api.md#errors, paging, the retry policy, shared rate limiting and
//! malformed answers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use provision::api::error::ApiErrorKind;
use provision::api::http::HttpOptions;
use provision::api::{AepClient, Etag, Query, Service};
use provision::profile::AdobeSettings;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CLIENT_ID: &str = "test-client-id";
const CLIENT_SECRET: &str = "s3cr3t-client-value";
const ORG: &str = "0000000000000000000000AA@AdobeOrg";
const TOKEN: &str = "ims-access-token-1";
const FLOWS: &str = "/data/foundation/flowservice/flows";

fn adobe(server: &MockServer) -> AdobeSettings {
    AdobeSettings {
        org_id: ORG.into(),
        sandbox: "dev".into(),
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(CLIENT_SECRET),
        scopes: vec!["openid".into(), "AdobeID".into(), "session".into()],
        ims_url: Url::parse(&server.uri()).expect("url"),
        platform_url: Url::parse(&server.uri()).expect("url"),
    }
}

fn fast() -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        max_attempts: 4,
        patient_reads: true,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        deadline: Duration::from_secs(10),
        not_after: None,
        max_concurrency: 8,
    }
}

fn client(server: &MockServer, options: HttpOptions) -> AepClient {
    AepClient::new(&adobe(server), options).expect("client")
}

async fn ims(server: &MockServer, token: &str, expires_in: u64) {
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": token, "token_type": "bearer", "expires_in": expires_in
        })))
        .mount(server)
        .await;
}

fn form(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

#[tokio::test]
async fn ims_token_request_is_a_form_post_and_is_cached() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(method("GET"))
        .and(path(FLOWS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .mount(&server)
        .await;
    let client = client(&server, fast());
    for _ in 0..3 {
        let _: Value = client
            .get(Service::FlowService, "/flows", &Query::new())
            .await
            .expect("get");
    }

    let token_requests = requests_to(&server, "/ims/token/v3").await;
    assert_eq!(token_requests.len(), 1, "the token is cached");
    let request = &token_requests[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(
        request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/x-www-form-urlencoded")
    );
    assert!(
        request.url.query().is_none(),
        "credentials go in the body, not the URL"
    );
    assert!(request.headers.get("authorization").is_none());
    let mut fields = form(request);
    fields.sort();
    assert_eq!(
        fields,
        vec![
            ("client_id".into(), CLIENT_ID.into()),
            ("client_secret".into(), CLIENT_SECRET.into()),
            ("grant_type".into(), "client_credentials".into()),
            ("scope".into(), "openid,AdobeID,session".into()),
        ]
    );
}

#[tokio::test]
async fn an_ims_token_is_renewed_shortly_before_it_expires() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 1).await;
    let client = client(&server, fast());
    client.ims().token().await.expect("token");
    client.ims().token().await.expect("cached");
    assert_eq!(requests_to(&server, "/ims/token/v3").await.len(), 1);
    // A one-second token is renewed after half its life.
    tokio::time::sleep(Duration::from_millis(600)).await;
    client.ims().token().await.expect("renewed");
    assert_eq!(requests_to(&server, "/ims/token/v3").await.len(), 2);
}

#[tokio::test]
async fn ims_rejection_is_an_error_naming_the_cause() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client", "error_description": "invalid client_id parameter"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server, fast());
    let error = client
        .get::<Value>(Service::FlowService, "/flows", &Query::new())
        .await
        .expect_err("rejected");
    assert_eq!(error.call, "POST /ims/token/v3");
    assert_eq!(error.status, Some(400));
    assert_eq!(error.code.as_deref(), Some("invalid_client"));
    assert_eq!(error.message, "invalid client_id parameter");
    let text = error.to_string();
    assert!(text.contains("adobe.client_id"), "{text}");
    assert!(!text.contains(CLIENT_SECRET));
    assert!(requests_to(&server, FLOWS).await.is_empty());
}

#[tokio::test]
async fn every_call_carries_the_five_headers() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(path(FLOWS))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "f1", "etag": "\"e1\""})),
        )
        .mount(&server)
        .await;
    Mock::given(path(format!("{FLOWS}/f1")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "f1"})))
        .mount(&server)
        .await;
    let client = client(&server, fast());
    let _: Value = client
        .post(
            Service::FlowService,
            "/flows",
            &Query::new(),
            &json!({"name": "x"}),
        )
        .await
        .expect("post");
    let _: Value = client
        .patch(
            Service::FlowService,
            "/flows/f1",
            &Etag::from("\"e1\""),
            &json!([{"op": "replace"}]),
        )
        .await
        .expect("patch");
    let _: Value = client
        .get(Service::FlowService, "/flows/f1", &Query::new())
        .await
        .expect("get");
    client
        .delete(Service::FlowService, "/flows/f1")
        .await
        .expect("delete");

    let calls: Vec<Request> = server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() != "/ims/token/v3")
        .collect();
    assert_eq!(calls.len(), 4);
    for request in &calls {
        let h = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let what = format!("{} {}", request.method, request.url.path());
        assert_eq!(
            h("authorization").as_deref(),
            Some("Bearer ims-access-token-1"),
            "{what}"
        );
        assert_eq!(h("x-api-key").as_deref(), Some(CLIENT_ID), "{what}");
        assert_eq!(h("x-gw-ims-org-id").as_deref(), Some(ORG), "{what}");
        assert_eq!(h("x-sandbox-name").as_deref(), Some("dev"), "{what}");
        let has_body = matches!(request.method.as_str(), "POST" | "PATCH");
        let content_type = h("content-type");
        if has_body {
            assert_eq!(content_type.as_deref(), Some("application/json"), "{what}");
        } else {
            assert_eq!(content_type, None, "{what}: no body, no content type");
        }
        let if_match = h("if-match");
        if request.method.as_str() == "PATCH" {
            assert_eq!(
                if_match.as_deref(),
                Some("\"e1\""),
                "{what}: the etag is sent verbatim"
            );
        } else {
            assert_eq!(if_match, None, "{what}");
        }
    }
    let post = &calls[0];
    assert_eq!(
        serde_json::from_slice::<Value>(&post.body).expect("json"),
        json!({"name": "x"})
    );
}

/// docs/aep-api.md#errors: every error shape, parsed to the same `ApiError`.
#[tokio::test]
async fn every_error_shape_becomes_an_api_error() {
    struct Shape {
        status: u16,
        body: &'static str,
        request_id_header: Option<&'static str>,
        code: Option<&'static str>,
        message: &'static str,
        request_id: Option<&'static str>,
    }
    let shapes = [
        Shape {
            status: 404,
            body: r#"{"type":"https://ns.adobe.com/aep/errors/FLOW-1439-404","title":"Resource not found","status":404,
                     "report":{"detailed-message":"The requested flows resource 84224def is not found.","id":"84224def",
                     "request-id":"req-body-1","type":"flows"},
                     "errorMessage":"other text","errorDetails":"other text"}"#,
            request_id_header: None,
            code: Some("FLOW-1439-404"),
            message: "The requested flows resource 84224def is not found.",
            request_id: Some("req-body-1"),
        },
        Shape {
            status: 403,
            body: r#"{"error_code":"403003","message":"Api Key is invalid"}"#,
            request_id_header: Some("req-header-2"),
            code: Some("403003"),
            message: "Api Key is invalid",
            request_id: Some("req-header-2"),
        },
        Shape {
            status: 400,
            body: r#"{"error_code":"400003","message":"Missing header"}"#,
            request_id_header: None,
            code: Some("400003"),
            message: "Missing header",
            request_id: None,
        },
        Shape {
            status: 400,
            body: r#"{"type":"/placeholder/type/uri","status":400,"title":"BadRequestError","detail":"A valid content-type must be specified"}"#,
            request_id_header: None,
            code: None,
            message: "A valid content-type must be specified",
            request_id: None,
        },
        Shape {
            status: 412,
            body: r#"{"errorMessage":"Supplied version=[\"a\"] does not match the current version on entity=[x]"}"#,
            request_id_header: None,
            code: None,
            message: "Supplied version=[\"a\"] does not match the current version on entity=[x]",
            request_id: None,
        },
        Shape {
            status: 403,
            body: r#"{"type":"https://ns.adobe.com/aep/errors/FLOW-2120-403","title":"Forbidden","status":403}"#,
            request_id_header: None,
            code: Some("FLOW-2120-403"),
            message: "Forbidden",
            request_id: None,
        },
        Shape {
            status: 502,
            body: "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            request_id_header: None,
            code: None,
            message: "Bad Gateway: an HTML page came back instead of JSON (a gateway or proxy answered?): 502 Bad Gateway",
            request_id: None,
        },
        Shape {
            status: 500,
            body: "",
            request_id_header: None,
            code: None,
            message: "Internal Server Error (empty body)",
            request_id: None,
        },
        Shape {
            status: 409,
            body: "conflict, plain text",
            request_id_header: None,
            code: None,
            message: "Conflict: conflict, plain text",
            request_id: None,
        },
    ];
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    for (i, shape) in shapes.iter().enumerate() {
        let mut response = ResponseTemplate::new(shape.status).set_body_string(shape.body);
        if let Some(id) = shape.request_id_header {
            response = response.insert_header("x-request-id", id);
        }
        Mock::given(path(format!("{FLOWS}/shape{i}")))
            .respond_with(response)
            .mount(&server)
            .await;
    }
    let client = client(
        &server,
        HttpOptions {
            max_attempts: 1,
            ..fast()
        },
    );
    for (i, shape) in shapes.iter().enumerate() {
        let error = client
            .post::<_, Value>(
                Service::FlowService,
                &format!("/flows/shape{i}"),
                &Query::new(),
                &json!({}),
            )
            .await
            .expect_err("an error");
        assert_eq!(error.call, format!("POST {FLOWS}/shape{i}"));
        assert_eq!(error.kind, ApiErrorKind::Status, "shape {i}");
        assert_eq!(error.status, Some(shape.status), "shape {i}");
        assert_eq!(error.code.as_deref(), shape.code, "shape {i}");
        assert_eq!(error.message, shape.message, "shape {i}");
        assert_eq!(error.request_id.as_deref(), shape.request_id, "shape {i}");
        let text = error.to_string();
        assert!(
            text.starts_with(&format!(
                "POST {FLOWS}/shape{i} failed with {}",
                shape.status
            )),
            "{text}"
        );
    }
}

#[tokio::test]
async fn list_all_follows_next_links_over_three_pages() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    // Page 1 links with an absolute path, page 2 with a link relative to the service.
    Mock::given(method("GET"))
        .and(path(FLOWS))
        .and(|r: &Request| r.url.query_pairs().all(|(k, _)| k != "start"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [{"id": "a"}, {"id": "b"}],
            "_links": {"next": {"href": format!("{FLOWS}?property=name%3D%3Dx&start=2")}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(FLOWS))
        .and(query_param("start", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [{"id": "c"}],
            "_links": {"next": {"href": "flows?property=name%3D%3Dx&start=3"}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(FLOWS))
        .and(query_param("start", "3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [{"id": "d"}], "_links": {}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server, fast());
    let items: Vec<Value> = client
        .list_all(
            Service::FlowService,
            "/flows",
            &Query::new().property_eq("name", &["x"]),
        )
        .await
        .expect("list");
    let ids: Vec<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
    for request in requests_to(&server, FLOWS).await {
        let properties: Vec<String> = request
            .url
            .query_pairs()
            .filter(|(k, _)| k == "property")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(properties, ["name==x"], "{}", request.url);
    }
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(path(FLOWS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [], "_links": {"next": {"href": "https://elsewhere.example/flows?start=2"}}
        })))
        .mount(&server)
        .await;
    let error = client(&server, fast())
        .list_all::<Value>(Service::FlowService, "/flows", &Query::new())
        .await
        .expect_err("refused");
    assert_eq!(error.kind, ApiErrorKind::Decode);
    assert!(error.message.contains("another host"), "{}", error.message);
}

#[tokio::test]
async fn property_filters_are_percent_encoded() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(method("GET"))
        .and(path("/data/foundation/flowservice/connections"))
        .and(query_param("property", "name==Zoho CRM & co+1 #2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [{"id": "c1"}]})))
        .expect(1)
        .mount(&server)
        .await;
    let query = Query::new()
        .property_eq("name", &["Zoho CRM & co+1 #2"])
        .property_eq(
            "connectionSpec.id",
            &["929e4450-0237-4ed2-9404-b7e1e0a00309"],
        );
    let items: Vec<Value> = client(&server, fast())
        .list_all(Service::FlowService, "/connections", &query)
        .await
        .expect("list");
    assert_eq!(items.len(), 1);
    let request = &requests_to(&server, "/data/foundation/flowservice/connections").await[0];
    let raw = request.url.query().unwrap_or_default();
    assert_eq!(
        raw,
        "property=name==Zoho%20CRM%20%26%20co%2B1%20%232&property=connectionSpec.id==929e4450-0237-4ed2-9404-b7e1e0a00309"
    );
}

#[tokio::test]
async fn get_is_retried_on_5xx_until_it_succeeds() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(path(FLOWS))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(json!({"error_code": "1103-503", "message": "unavailable"})),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(FLOWS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .mount(&server)
        .await;
    let _: Value = client(&server, fast())
        .get(Service::FlowService, "/flows", &Query::new())
        .await
        .expect("third attempt succeeds");
    assert_eq!(requests_to(&server, FLOWS).await.len(), 3);
}

#[tokio::test]
async fn get_outlasts_the_attempts_until_the_deadline_delete_and_impatient_get_do_not() {
    // Issue 19: a read is safe to repeat, so a run of 5xx answers ends it only at the deadline;
    // a DELETE (a write) still stops after `max_attempts`, and so does a GET without patient
    // reads.
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(path(FLOWS))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let options = HttpOptions {
        deadline: Duration::from_millis(800),
        ..fast()
    };
    let started = Instant::now();
    let error = client(&server, options.clone())
        .get::<Value>(Service::FlowService, "/flows", &Query::new())
        .await
        .expect_err("fails");
    assert_eq!(error.status, Some(500));
    assert!(error.message.contains("deadline"), "{}", error.message);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let gets = requests_to(&server, FLOWS).await.len();
    assert!(
        gets > 4,
        "a GET stopped after {gets} attempts, before its deadline"
    );

    let error = client(&server, options.clone())
        .delete(Service::FlowService, "/flows")
        .await
        .expect_err("fails");
    assert!(
        error.message.contains("gave up after 4 attempts"),
        "{}",
        error.message
    );
    assert_eq!(requests_to(&server, FLOWS).await.len(), gets + 4);

    // Without patient reads (status --wait polls again itself), a GET stops there too.
    let impatient = HttpOptions {
        patient_reads: false,
        ..fast()
    };
    let error = client(&server, impatient)
        .get::<Value>(Service::FlowService, "/flows", &Query::new())
        .await
        .expect_err("fails");
    assert_eq!(error.status, Some(500));
    assert!(
        error.message.contains("gave up after 4 attempts"),
        "{}",
        error.message
    );
    assert_eq!(requests_to(&server, FLOWS).await.len(), gets + 8);
}

#[tokio::test]
async fn retries_stop_at_the_deadline() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(path(FLOWS))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "1"))
        .mount(&server)
        .await;
    let options = HttpOptions {
        max_attempts: 10,
        deadline: Duration::from_millis(300),
        ..fast()
    };
    let started = Instant::now();
    let error = client(&server, options)
        .get::<Value>(Service::FlowService, "/flows", &Query::new())
        .await
        .expect_err("fails");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert!(error.message.contains("deadline"), "{}", error.message);
    assert_eq!(requests_to(&server, FLOWS).await.len(), 1);
}

#[tokio::test]
async fn get_is_retried_after_a_timeout() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(path(FLOWS))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(1500)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(FLOWS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    let value: Value = client(
        &server,
        HttpOptions {
            timeout: Duration::from_millis(200),
            ..fast()
        },
    )
    .get(Service::FlowService, "/flows", &Query::new())
    .await
    .expect("second attempt");
    assert_eq!(value, json!({"ok": true}));
    assert_eq!(requests_to(&server, FLOWS).await.len(), 2);
}

#[tokio::test]
async fn connection_errors_are_retried_for_get_then_reported() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let mut settings = adobe(&server);
    settings.platform_url = Url::parse(&format!("http://127.0.0.1:{port}")).expect("url");
    let options = HttpOptions {
        deadline: Duration::from_millis(500),
        ..fast()
    };
    let client = AepClient::new(&settings, options).expect("client");
    let error = client
        .get::<Value>(Service::Catalog, "/dataSets", &Query::new())
        .await
        .expect_err("no server");
    assert_eq!(error.kind, ApiErrorKind::Transport);
    assert_eq!(error.call, "GET /data/foundation/catalog/dataSets");
    assert!(
        error.message.contains("could not connect"),
        "{}",
        error.message
    );
    assert!(error.message.contains("deadline"), "{}", error.message);
}

#[tokio::test]
async fn post_is_not_retried_on_500() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(method("POST"))
        .and(path(FLOWS))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"error_code": "1102-500", "message": "boom"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let error = client(&server, fast())
        .post::<_, Value>(Service::FlowService, "/flows", &Query::new(), &json!({}))
        .await
        .expect_err("fails");
    assert_eq!(error.status, Some(500));
    assert_eq!(error.message, "boom");
}

#[tokio::test]
async fn post_is_not_retried_after_a_timeout() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(method("POST"))
        .and(path(FLOWS))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_millis(1500)))
        .mount(&server)
        .await;
    let error = client(
        &server,
        HttpOptions {
            timeout: Duration::from_millis(200),
            ..fast()
        },
    )
    .post::<_, Value>(Service::FlowService, "/flows", &Query::new(), &json!({}))
    .await
    .expect_err("times out");
    assert_eq!(error.kind, ApiErrorKind::Transport);
    assert!(error.message.contains("timed out"), "{}", error.message);
    assert_eq!(requests_to(&server, FLOWS).await.len(), 1);
}

#[tokio::test]
async fn post_is_retried_on_429_honouring_retry_after() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(method("POST"))
        .and(path(FLOWS))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(FLOWS))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "f1"})))
        .mount(&server)
        .await;
    let started = Instant::now();
    let created: Value = client(&server, fast())
        .post(
            Service::FlowService,
            "/flows",
            &Query::new(),
            &json!({"name": "n"}),
        )
        .await
        .expect("created after the wait");
    assert_eq!(created["id"], "f1");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(requests_to(&server, FLOWS).await.len(), 2);
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    let when = chrono::Utc::now() + chrono::Duration::seconds(2);
    Mock::given(path(FLOWS))
        .respond_with(
            ResponseTemplate::new(429).insert_header(
                "retry-after",
                when.format("%a, %d %b %Y %H:%M:%S GMT")
                    .to_string()
                    .as_str(),
            ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(FLOWS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    let started = Instant::now();
    let _: Value = client(&server, fast())
        .get(Service::FlowService, "/flows", &Query::new())
        .await
        .expect("after the date");
    // The date has one-second resolution, so the wait is between one and two seconds.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_shared_by_every_task_and_concurrency_shrinks() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(path(FLOWS))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(FLOWS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    Mock::given(path("/data/foundation/catalog/dataSets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    let client = client(&server, fast()).with_max_concurrency(4);
    assert_eq!(client.concurrency(), 4);

    let throttled = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .get::<Value>(Service::FlowService, "/flows", &Query::new())
                .await
        })
    };
    // Wait until the 429 has been answered and seen by the client, then start an unrelated call
    // to the same host: it must wait for the Retry-After too.
    while requests_to(&server, FLOWS).await.is_empty() {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let answered = Instant::now();
    while client.concurrency() != 2 {
        assert!(
            answered.elapsed() < Duration::from_secs(5),
            "concurrency never halved"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    let _: Value = client
        .get(Service::Catalog, "/dataSets", &Query::new())
        .await
        .expect("other call");
    assert!(
        answered.elapsed() >= Duration::from_millis(800),
        "the other task waited for Retry-After too: {:?}",
        answered.elapsed()
    );
    let catalog = requests_to(&server, "/data/foundation/catalog/dataSets").await;
    assert_eq!(
        catalog.len(),
        1,
        "the other call was sent once, after the wait"
    );
    throttled.await.expect("join").expect("retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_cap_limits_requests_in_flight() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(path(FLOWS))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({}))
                .set_delay(Duration::from_millis(150)),
        )
        .mount(&server)
        .await;
    let client = client(&server, fast()).with_max_concurrency(2);
    client.ims().token().await.expect("token");
    let started = Instant::now();
    let calls = (0..6).map(|_| {
        let client = client.clone();
        async move {
            client
                .get::<Value>(Service::FlowService, "/flows", &Query::new())
                .await
        }
    });
    for result in futures::future::join_all(calls).await {
        result.expect("ok");
    }
    // Six calls of 150 ms, two at a time: at least three rounds.
    assert!(
        started.elapsed() >= Duration::from_millis(440),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_expired_token_is_replaced_once_and_the_call_repeated() {
    let server = MockServer::start().await;
    Mock::given(path("/ims/token/v3"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "old", "expires_in": 86399})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    ims(&server, "new", 86399).await;
    Mock::given(method("POST"))
        .and(path(FLOWS))
        .and(header("authorization", "Bearer old"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"error_code": "401013", "message": "Oauth token is not valid"}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(FLOWS))
        .and(header("authorization", "Bearer new"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "f1"})))
        .mount(&server)
        .await;
    let created: Value = client(&server, fast())
        .post(Service::FlowService, "/flows", &Query::new(), &json!({}))
        .await
        .expect("created with the new token");
    assert_eq!(created["id"], "f1");
    assert_eq!(requests_to(&server, "/ims/token/v3").await.len(), 2);
    assert_eq!(requests_to(&server, FLOWS).await.len(), 2);
}

#[tokio::test]
async fn a_token_rejected_twice_is_an_error() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(path(FLOWS))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"error_code": "401013", "message": "Oauth token is not valid"}),
            ),
        )
        .mount(&server)
        .await;
    let error = client(&server, fast())
        .get::<Value>(Service::FlowService, "/flows", &Query::new())
        .await
        .expect_err("fails");
    assert_eq!(error.code.as_deref(), Some("401013"));
    assert!(error.is_expired_token());
    assert_eq!(
        requests_to(&server, "/ims/token/v3").await.len(),
        2,
        "one renewal only"
    );
    assert_eq!(requests_to(&server, FLOWS).await.len(), 2);
}

#[tokio::test]
async fn malformed_answers_are_clear_errors_naming_the_call() {
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Flow {
        id: String,
        state: State,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "lowercase")]
    enum State {
        Enabled,
        Disabled,
    }
    let cases: [(&str, ResponseTemplate, &str); 6] = [
        (
            "truncated",
            ResponseTemplate::new(200).set_body_string(r#"{"id": "f1", "sta"#),
            "truncated",
        ),
        (
            "html",
            ResponseTemplate::new(200)
                .set_body_string("<!DOCTYPE html><html><body>gateway</body></html>"),
            "HTML page",
        ),
        ("empty", ResponseTemplate::new(200), "empty body"),
        (
            "types",
            ResponseTemplate::new(200).set_body_json(json!({"id": 5, "state": "enabled"})),
            "unexpected answer shape",
        ),
        (
            "state",
            ResponseTemplate::new(200).set_body_json(json!({"id": "f1", "state": "paused"})),
            "unknown variant `paused`",
        ),
        (
            "garbage",
            ResponseTemplate::new(200).set_body_string("not json at all"),
            "not valid JSON",
        ),
    ];
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    for (name, response, _) in &cases {
        Mock::given(path(format!("{FLOWS}/{name}")))
            .respond_with(response.clone())
            .mount(&server)
            .await;
    }
    let client = client(&server, fast());
    for (name, _, expected) in &cases {
        let error = client
            .get::<Flow>(
                Service::FlowService,
                &format!("/flows/{name}"),
                &Query::new(),
            )
            .await
            .expect_err(name);
        assert_eq!(error.kind, ApiErrorKind::Decode, "{name}");
        assert_eq!(error.call, format!("GET {FLOWS}/{name}"), "{name}");
        assert!(
            error.message.contains(expected),
            "{name}: {}",
            error.message
        );
    }
    // Decoding errors are not retried.
    assert_eq!(
        requests_to(&server, &format!("{FLOWS}/truncated"))
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn get_opt_maps_404_to_none_and_delete_ignores_bodies() {
    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(method("GET"))
        .and(path(format!("{FLOWS}/gone")))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"type": "https://ns.adobe.com/aep/errors/FLOW-1439-404", "title": "not found"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{FLOWS}/f1")))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>ok</html>"))
        .mount(&server)
        .await;
    let client = client(&server, fast());
    let gone: Option<Value> = client
        .get_opt(Service::FlowService, "/flows/gone", &Query::new())
        .await
        .expect("absent is fine");
    assert!(gone.is_none());
    client
        .delete(Service::FlowService, "/flows/f1")
        .await
        .expect("deleted");
}

/// A writer that keeps everything logged, to search it for secrets.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_at_trace_level_show_calls_but_never_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Another test's thread may have registered a call site with "never" interest while this
    // subscriber was being set (tests run in parallel in one process): ask every site again.
    tracing::callsite::rebuild_interest_cache();

    let server = MockServer::start().await;
    ims(&server, TOKEN, 86399).await;
    Mock::given(path(FLOWS))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-request-id", "req-42")
                .set_body_json(json!({"items": []})),
        )
        .mount(&server)
        .await;
    Mock::given(path(format!("{FLOWS}/bad")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"message": "bad"})))
        .mount(&server)
        .await;
    let client = client(&server, fast());
    let _: Value = client
        .get(Service::FlowService, "/flows", &Query::new())
        .await
        .expect("get");
    let body = json!({"auth": {"params": {"clientSecret": "zoho-secret-in-body"}}});
    let _ = client
        .post::<_, Value>(Service::FlowService, "/flows/bad", &Query::new(), &body)
        .await;
    let error = client
        .post::<_, Value>(Service::FlowService, "/flows/bad", &Query::new(), &body)
        .await
        .expect_err("bad");

    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf8");
    assert!(
        logs.contains("GET /data/foundation/flowservice/flows"),
        "{logs}"
    );
    assert!(logs.contains("status=200"), "{logs}");
    assert!(logs.contains("req-42"), "{logs}");
    assert!(logs.contains("elapsed_ms"), "{logs}");
    for secret in [TOKEN, CLIENT_SECRET, "zoho-secret-in-body"] {
        assert!(!logs.contains(secret), "{secret} was logged");
        assert!(!error.to_string().contains(secret));
        assert!(!format!("{error:?}").contains(secret));
    }
    let token = client.ims().token().await.expect("token");
    assert!(!format!("{token:?}").contains(TOKEN));
    assert_eq!(token.expose_secret(), TOKEN);
}
