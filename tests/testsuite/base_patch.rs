//! The base connection's PATCHes (`engine::kinds::base::update`: the credentials when they were
//! rotated, then the description; `base::adopt`, for `provision import`: the credentials, then
//! the name and description) when the etag they carry went stale (412) or their answer was lost
//! (504, a timeout): the connection is read once more, and what it still lacks is sent again
//! with the etag of that read. Each test checks every request sent to the connection, in order,
//! and what the call returned.

use crate::support::api as api_support;

use std::time::Duration;

use api_support::*;
use provision::api::connections::Connection;
use provision::api::http::HttpOptions;
use provision::api::specs::{ConnectionSpec, ZOHO_CRM_SPEC_ID};
use provision::api::{AepClient, Etag};
use provision::engine::desired::DesiredBase;
use provision::engine::kinds::base::{self, description_with_auth};
use provision::profile::{ConnectionSettings, Profile, ZohoSettings};
use secrecy::SecretString;
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ID: &str = "9b2d3c4e-5f60-4718-8a9b-0c1d2e3f4a5b";
const PREFIX: &str = "p";
const FINGERPRINT: &str = "0123456789ab";
/// Test fixtures only: the credentials the rotation sends, and the access token the mocked
/// Zoho token endpoint issues.
const ZOHO_CLIENT_ID: &str = "1000.BASEPATCHTEST";
const ZOHO_CLIENT_SECRET: &str = "base-patch-test-zoho-secret";
const ZOHO_REFRESH_TOKEN: &str = "1000.base-patch-test.refresh";
const ZOHO_ACCESS_TOKEN: &str = "1000.base-patch-test.access";

fn connection_path() -> String {
    format!("{FLOW}/connections/{ID}")
}

/// An etag as Flow Service writes them: quoted, sent back verbatim in `If-Match`.
fn etag(n: u32) -> String {
    format!("\"etag-{n}\"")
}

/// A client of `server` whose writes have several attempts, so that the tests would see the
/// transport repeat a PATCH after a 504 (it must not: the engine, not the transport, decides
/// what to send again after a lost answer). Short waits keep the re-read quick.
async fn client(server: &MockServer, timeout: Duration) -> AepClient {
    mock_ims(server).await;
    // Anything not mocked is refused in a way neither the transport nor the engine retries (a
    // 5xx would look like a lost answer, a 404 like a deleted connection).
    Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"title": "unmatched request"})),
        )
        .with_priority(200)
        .mount(server)
        .await;
    let options = HttpOptions {
        timeout,
        max_attempts: 5,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        deadline: Duration::from_secs(10),
        ..HttpOptions::default()
    };
    let url = Url::parse(&server.uri()).unwrap();
    AepClient::new(&adobe_at(&url), options).unwrap()
}

/// The profile: Adobe and Zoho both at `server` (the credentials' PATCH refreshes a Zoho token
/// first, to send the access token and the account's API domain).
fn profile(server: &MockServer) -> Profile {
    let url = Url::parse(&server.uri()).unwrap();
    Profile {
        path: "base_patch.toml".into(),
        adobe: adobe_at(&url),
        zoho: ZohoSettings {
            region: None,
            client_id: ZOHO_CLIENT_ID.into(),
            client_secret: SecretString::from(ZOHO_CLIENT_SECRET),
            refresh_token: SecretString::from(ZOHO_REFRESH_TOKEN),
            accounts_url: url.clone(),
            api_url: url,
        },
        connection: ConnectionSettings {
            name: PREFIX.into(),
            description: Some("Zoho CRM production".into()),
        },
        dataflows: Vec::new(),
    }
}

/// The Zoho CRM connection spec, as Flow Service lists it.
fn spec() -> ConnectionSpec {
    serde_json::from_value(zoho_spec()).unwrap()
}

fn desired() -> DesiredBase {
    DesiredBase {
        name: PREFIX.into(),
        user_description: Some("Zoho CRM production".into()),
        fingerprint: FINGERPRINT.into(),
        description: description_with_auth(Some("Zoho CRM production"), PREFIX, FINGERPRINT),
    }
}

/// The base connection as Flow Service returns it, with `description` and etag `n`.
fn connection_json(description: &str, n: u32) -> Value {
    json!({
        "id": ID,
        "name": PREFIX,
        "description": description,
        "connectionSpec": {"id": ZOHO_CRM_SPEC_ID, "version": "1.0"},
        "state": "enabled",
        "auth": {"specName": "Basic Authentication", "params": {"clientId": ZOHO_CLIENT_ID}},
        "etag": etag(n),
        "createdAt": 1_764_000_000_000_i64,
        "updatedAt": 1_764_000_000_000_i64,
    })
}

/// The description the plan read: the user's text differs from the profile's.
fn old_description() -> String {
    description_with_auth(Some("Zoho CRM"), PREFIX, FINGERPRINT)
}

/// The connection as the plan read it (etag 1).
fn current() -> Connection {
    serde_json::from_value(connection_json(&old_description(), 1)).unwrap()
}

/// A PATCH of the connection carrying `If-Match: etag(n)` is answered `response`.
async fn on_patch(server: &MockServer, n: u32, response: ResponseTemplate) {
    Mock::given(method("PATCH"))
        .and(path(connection_path()))
        .and(header("If-Match", etag(n).as_str()))
        .respond_with(response)
        .mount(server)
        .await;
}

/// A PATCH's success: the id and the connection's new etag `n`.
fn patched(n: u32) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"id": ID, "etag": etag(n)}))
}

fn failed(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "type": "https://ns.adobe.com/aep/errors/FLOW-0000",
        "title": format!("mock {status}"),
    }))
}

/// The re-read answers `items: [connection]` (a [`connection_json`]).
async fn on_get(server: &MockServer, connection: Value) {
    Mock::given(method("GET"))
        .and(path(connection_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [connection]})))
        .mount(server)
        .await;
}

/// The Zoho token endpoint (at `server`) issues [`ZOHO_ACCESS_TOKEN`] for the account whose API
/// domain is `server`.
async fn mock_zoho_token(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ZOHO_ACCESS_TOKEN, "api_domain": server.uri(),
            "token_type": "Bearer", "expires_in": 3600
        })))
        .mount(server)
        .await;
}

/// One request to Flow Service as the tests compare them: method, path, `If-Match`, and the
/// body with the value of a credentials op reduced to its param names (the secrets in it are
/// checked apart, by [`assert_credentials`]).
#[derive(Debug, PartialEq)]
struct Sent {
    method: String,
    path: String,
    if_match: Option<String>,
    body: Value,
}

/// The requests sent to Flow Service, in order (IMS and the Zoho token endpoint left out).
async fn sent(server: &MockServer) -> Vec<Sent> {
    api_requests(server)
        .await
        .iter()
        .filter(|r| r.url.path().starts_with(FLOW))
        .map(|r| Sent {
            method: r.method.to_string(),
            path: r.url.path().to_owned(),
            if_match: header_of(r, "if-match"),
            body: shape(if r.body.is_empty() {
                Value::Null
            } else {
                body(r)
            }),
        })
        .collect()
}

fn header_of(request: &wiremock::Request, name: &str) -> Option<String> {
    api_support::header(request, name).map(str::to_owned)
}

/// `body` with the value of a `/auth/params` op replaced by its sorted keys.
fn shape(mut body: Value) -> Value {
    if let Some(ops) = body.as_array_mut() {
        for op in ops {
            if op["path"] == "/auth/params" {
                let mut keys: Vec<&String> = op["value"].as_object().unwrap().keys().collect();
                keys.sort();
                op["value"] = json!(keys);
            }
        }
    }
    body
}

/// The re-read of the connection.
fn get() -> Sent {
    Sent {
        method: "GET".into(),
        path: connection_path(),
        if_match: None,
        body: Value::Null,
    }
}

/// A PATCH of `ops` carrying etag `n`.
fn patch(n: u32, ops: Value) -> Sent {
    Sent {
        method: "PATCH".into(),
        path: connection_path(),
        if_match: Some(etag(n)),
        body: ops,
    }
}

fn description_ops() -> Value {
    json!([{"op": "replace", "path": "/description", "value": desired().description}])
}

fn credentials_ops() -> Value {
    json!([{"op": "replace", "path": "/auth/params", "value": [
        "accessToken", "accountsUrl", "clientId", "clientSecret", "endpoint", "refreshToken"
    ]}])
}

/// Every credentials PATCH sent carries the profile's fixtures and the refreshed access token.
async fn assert_credentials(server: &MockServer) {
    let uri = server.uri();
    let credentials: Vec<Value> = api_requests(server)
        .await
        .iter()
        .filter(|r| r.method.as_str() == "PATCH" && !r.body.is_empty())
        .map(body)
        .filter(|b| b[0]["path"] == "/auth/params")
        .map(|b| b[0]["value"].clone())
        .collect();
    assert!(!credentials.is_empty(), "no credentials PATCH was sent");
    for value in credentials {
        assert_eq!(value["endpoint"], uri.as_str());
        assert_eq!(value["accountsUrl"], uri.as_str());
        assert_eq!(value["clientId"], ZOHO_CLIENT_ID);
        // Compared as booleans, so that a failure names the param, not its value.
        assert!(value["clientSecret"] == ZOHO_CLIENT_SECRET, "clientSecret");
        assert!(value["refreshToken"] == ZOHO_REFRESH_TOKEN, "refreshToken");
        assert!(value["accessToken"] == ZOHO_ACCESS_TOKEN, "accessToken");
    }
}

async fn update(
    client: &AepClient,
    server: &MockServer,
    rotate_auth: bool,
) -> anyhow::Result<Option<Etag>> {
    base::update(
        client,
        &profile(server),
        &spec(),
        &current(),
        &desired(),
        rotate_auth,
    )
    .await
}

#[tokio::test]
async fn a_stale_description_patch_is_sent_again_with_the_etag_of_a_fresh_read() {
    let server = MockServer::start().await;
    let client = client(&server, Duration::from_secs(30)).await;
    on_patch(&server, 1, failed(412)).await;
    // Someone changed the connection since the plan read it; its description is still not the
    // profile's.
    on_get(&server, connection_json(&old_description(), 2)).await;
    on_patch(&server, 2, patched(3)).await;

    let ended = update(&client, &server, false).await.expect("the update");

    assert_eq!(
        sent(&server).await,
        [
            patch(1, description_ops()),
            get(),
            patch(2, description_ops()),
        ]
    );
    assert_eq!(ended, Some(Etag(etag(3))));
}

/// A description PATCH answered `lost` that was carried out: the re-read shows the profile's
/// description, so nothing is sent again and the re-read's etag is the one the update ends with.
async fn lost_description_patch_that_landed(lost: ResponseTemplate, timeout: Duration) {
    let server = MockServer::start().await;
    let client = client(&server, timeout).await;
    on_patch(&server, 1, lost).await;
    on_get(&server, connection_json(&desired().description, 2)).await;

    let ended = update(&client, &server, false).await.expect("the update");

    assert_eq!(sent(&server).await, [patch(1, description_ops()), get(),]);
    assert_eq!(ended, Some(Etag(etag(2))));
}

#[tokio::test]
async fn a_description_patch_answered_504_that_landed_is_not_sent_again() {
    lost_description_patch_that_landed(failed(504), Duration::from_secs(30)).await;
}

#[tokio::test]
async fn a_description_patch_whose_answer_timed_out_and_that_landed_is_not_sent_again() {
    // The answer comes after the client's timeout: a transport error, as a dropped connection.
    // A timeout of 2 s (not less: it applies to the token and the re-read too, which a loaded
    // machine may stall) and an answer 10 s late.
    let late = patched(9).set_delay(Duration::from_secs(10));
    lost_description_patch_that_landed(late, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_credentials_patch_answered_504_is_sent_again_after_the_reread_then_the_description() {
    let server = MockServer::start().await;
    let client = client(&server, Duration::from_secs(30)).await;
    mock_zoho_token(&server).await;
    on_patch(&server, 1, failed(504)).await;
    // The re-read cannot tell whether the credentials landed (secrets are not read back): the
    // connection looks the same either way.
    on_get(&server, connection_json(&old_description(), 2)).await;
    on_patch(&server, 2, patched(3)).await;
    on_patch(&server, 3, patched(4)).await;

    let ended = update(&client, &server, true).await.expect("the update");

    assert_eq!(
        sent(&server).await,
        [
            patch(1, credentials_ops()),
            get(),
            patch(2, credentials_ops()),
            patch(3, description_ops()),
        ]
    );
    assert_eq!(ended, Some(Etag(etag(4))));
    assert_credentials(&server).await;
}

#[tokio::test]
async fn a_connection_deleted_before_the_reread_fails_the_update_with_a_hint_to_apply_again() {
    let server = MockServer::start().await;
    let client = client(&server, Duration::from_secs(30)).await;
    on_patch(&server, 1, failed(412)).await;
    Mock::given(method("GET"))
        .and(path(connection_path()))
        .respond_with(failed(404))
        .mount(&server)
        .await;

    let error = update(&client, &server, false)
        .await
        .expect_err("the connection is gone");

    assert_eq!(
        error.to_string(),
        format!("base connection {ID} disappeared while it was being updated; run apply again")
    );
    assert_eq!(sent(&server).await, [patch(1, description_ops()), get(),]);
}

/// `provision import` adopting a base connection made in Adobe's UI, named `name` when read: the
/// credentials PATCH lands, the marking PATCH (profile's name and description) answers 412, and
/// the re-read finds the connection named `reread_name`. Returns what was sent.
async fn adopt_with_a_stale_marking(name: &str, reread_name: &str) -> (MockServer, Vec<Sent>) {
    let server = MockServer::start().await;
    let client = client(&server, Duration::from_secs(30)).await;
    mock_zoho_token(&server).await;
    let made_elsewhere = |name: &str, n: u32| {
        let mut connection = connection_json("made in the UI", n);
        connection["name"] = json!(name);
        connection
    };
    let current: Connection = serde_json::from_value(made_elsewhere(name, 1)).unwrap();
    on_patch(&server, 1, patched(2)).await;
    on_patch(&server, 2, failed(412)).await;
    on_get(&server, made_elsewhere(reread_name, 3)).await;
    on_patch(&server, 3, patched(4)).await;

    let params = base::adoption_params(&client, &profile(&server), &spec())
        .await
        .expect("the credentials");
    base::adopt(&client, &current, &desired(), &params)
        .await
        .expect("the adoption");
    let sent = sent(&server).await;
    (server, sent)
}

/// The marking PATCH's ops: the profile's description, after its name when `with_name`.
fn marking_ops(with_name: bool) -> Value {
    let name = json!({"op": "replace", "path": "/name", "value": PREFIX});
    let description =
        json!({"op": "replace", "path": "/description", "value": desired().description});
    if with_name {
        json!([name, description])
    } else {
        json!([description])
    }
}

#[tokio::test]
async fn an_adoption_whose_marking_patch_went_stale_is_sent_again_after_a_reread() {
    let (server, sent) = adopt_with_a_stale_marking("Zoho CRM", "Zoho CRM").await;

    assert_eq!(
        sent,
        [
            patch(1, credentials_ops()),
            patch(2, marking_ops(true)),
            get(),
            patch(3, marking_ops(true)),
        ]
    );
    assert_credentials(&server).await;
}

#[tokio::test]
async fn an_adoption_renamed_meanwhile_sends_the_name_too_after_the_reread() {
    // The connection already had the profile's name when import read it, so the marking PATCH
    // changes only the description; someone renames it before that PATCH lands (412). The change
    // is computed again from the re-read connection, name included.
    let (_server, sent) = adopt_with_a_stale_marking(PREFIX, "renamed in the UI").await;

    assert_eq!(
        sent,
        [
            patch(1, credentials_ops()),
            patch(2, marking_ops(false)),
            get(),
            patch(3, marking_ops(true)),
        ]
    );
}
