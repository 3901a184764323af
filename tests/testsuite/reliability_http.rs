//! The transport under conditions the end-to-end tests (`tests/reliability.rs`) cannot set up
//! with the emulator: a long run of 429s on one call, a 429 from the Zoho token endpoint, a
//! redirect to another host, and a TLS certificate no public authority issued.

use crate::support::api::{adobe_at, mock_ims};

use std::sync::Arc;
use std::time::{Duration, Instant};

use provision::api::http::HttpOptions;
use provision::api::{AepClient, Query, Service};
use provision::auth::zoho::ZohoOAuth;
use provision::profile::ZohoSettings;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FLOWS: &str = "/data/foundation/flowservice/flows";

fn options() -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        max_attempts: 3,
        patient_reads: true,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        deadline: Duration::from_secs(10),
        not_after: None,
        max_concurrency: 8,
    }
}

fn aep(server: &MockServer) -> AepClient {
    let url = Url::parse(&server.uri()).expect("url");
    AepClient::new(&adobe_at(&url), options()).expect("client")
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
    mock_ims(&server).await;
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
async fn server_errors_still_stop_a_write_at_max_attempts() {
    // A DELETE is a write: its 5xx answers count against the attempts (a GET's do not; see
    // tests/testsuite/http.rs).
    let server = MockServer::start().await;
    mock_ims(&server).await;
    Mock::given(path(FLOWS))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let error = aep(&server)
        .delete(Service::FlowService, "/flows")
        .await
        .expect_err("503 every time");
    assert_eq!(error.status, Some(503));
    assert!(
        error.message.contains("gave up after 3 attempts"),
        "{error}"
    );
    assert_eq!(calls_to(&server, "DELETE").await, 3);
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

#[tokio::test]
async fn a_redirect_is_not_followed_so_credentials_stay_on_their_host() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    mock_ims(&server).await;
    Mock::given(path(FLOWS))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}{FLOWS}", elsewhere.uri()).as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(path(FLOWS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .mount(&elsewhere)
        .await;
    let error = aep(&server)
        .get::<Value>(Service::FlowService, "/flows", &Query::new())
        .await
        .expect_err("a redirect is an error");
    assert_eq!(error.status, Some(307), "{error}");
    let followed = elsewhere.received_requests().await.unwrap_or_default();
    assert!(followed.is_empty(), "the token went to the other host");
}

// A throwaway certificate authority and a certificate for 127.0.0.1 it signed (valid 2000-2999),
// made for this test only.
const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBfzCCASSgAwIBAgIUWRT8ER+isEIvr5jahbRms+8EAIkwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRcHJvdmlzaW9uIHRlc3QgQ0EwIBcNMDAwMTAxMDAwMDAwWhgP
Mjk5OTAxMDEwMDAwMDBaMBwxGjAYBgNVBAMMEXByb3Zpc2lvbiB0ZXN0IENBMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEIxqWkVIODFckeozjASjm9jju4J+/np54
xhk/xxiaSfLJq9t793eKotq5CVsR0EBkqoQ64ZJ35tDxXaQZCB8McaNCMEAwDwYD
VR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFFojWDgTtP+8
JDbAE8cs3fP1TepeMAoGCCqGSM49BAMCA0kAMEYCIQDVqk1JngQuohGfzEHR6PJ4
CGZAKGFfRFjO21OZ/LheowIhAMWLHPTEmHvllBGXrXdX0NOLSQVV0ANzSRmgEVwB
Ruaq
-----END CERTIFICATE-----
";
const TEST_LEAF: &str = "-----BEGIN CERTIFICATE-----
MIIBnDCCAUGgAwIBAgIUUCclWSNJRMWmknEoJ5+D9OEpOeUwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRcHJvdmlzaW9uIHRlc3QgQ0EwIBcNMDAwMTAxMDAwMDAwWhgP
Mjk5OTAxMDEwMDAwMDBaMBQxEjAQBgNVBAMMCTEyNy4wLjAuMTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABBQKBiTunl0M7SjYflJL89TwnxlejXfb40StZEQHo31K
5jHjDNDHgxkkFuQ7nXb70kyOHWKbjWqQqaiaRas7IuijZzBlMAwGA1UdEwEB/wQC
MAAwDgYDVR0PAQH/BAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMA8GA1UdEQQI
MAaHBH8AAAEwHwYDVR0jBBgwFoAUWiNYOBO0/7wkNsATxyzd8/VN6l4wCgYIKoZI
zj0EAwIDSQAwRgIhAJhQThgxcPaXj4gXZCLhMEJJsFc7AKKcyNrCK7mZHhQQAiEA
1nl5fPn+PYPEvrACpnTcZPRix8Gxud/e26iKGEm1+Ao=
-----END CERTIFICATE-----
";
const TEST_LEAF_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDFZPX9HVxX9j8uKP
v82dbc+eFTs0EcuT2G55tjLrD8OhRANCAAQUCgYk7p5dDO0o2H5SS/PU8J8ZXo13
2+NErWREB6N9SuYx4wzQx4MZJBbkO512+9JMjh1im41qkKmomkWrOyLo
-----END PRIVATE KEY-----
";

/// An HTTPS server on 127.0.0.1 with the test certificate, answering every request with an IMS
/// token; its URL.
async fn https_server() -> String {
    let certs = vec![CertificateDer::from_pem_slice(TEST_LEAF.as_bytes()).expect("the leaf")];
    let key = PrivateKeyDer::from_pem_slice(TEST_LEAF_KEY.as_bytes()).expect("the key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("a server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!("https://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"access_token":"token","token_type":"bearer","expires_in":3600}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_certificate_no_public_authority_issued_is_refused() {
    let url = https_server().await;
    // The server works for a client that trusts the test authority...
    let trusting = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(TEST_CA.as_bytes()).expect("CA"))
        .build()
        .expect("a client");
    let answer = trusting
        .post(format!("{url}/ims/token/v3"))
        .send()
        .await
        .expect("the trusting client connects");
    assert_eq!(answer.status(), 200);
    // ...and provision's client, which trusts only the public authorities, refuses it.
    let server = Url::parse(&url).expect("url");
    let client = AepClient::new(&adobe_at(&server), options()).expect("client");
    let error = client
        .ims()
        .token()
        .await
        .expect_err("an unknown certificate authority");
    assert!(
        error.message.contains("certificate") && error.message.contains("UnknownIssuer"),
        "{error}"
    );
}
