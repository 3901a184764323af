//! Shared by the `api_*` tests: an `AepClient` against a wiremock server (IMS mocked), helpers
//! to read what was sent, and validation of request bodies against Adobe's OpenAPI schemas.
#![allow(dead_code)]

use std::path::PathBuf;

use provision::api::http::HttpOptions;
use provision::api::AepClient;
use provision::profile::AdobeSettings;
use secrecy::SecretString;
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const TOKEN: &str = "test-access-token";
pub const API_KEY: &str = "test-client-id";
pub const ORG: &str = "0000000000000000000000AA@AdobeOrg";
pub const SANDBOX: &str = "dev";

pub const FLOW: &str = "/data/foundation/flowservice";
pub const CATALOG: &str = "/data/foundation/catalog";
pub const DATAPREP: &str = "/data/foundation/conversion";
pub const SCHEMAREGISTRY: &str = "/data/foundation/schemaregistry";

/// The test's Adobe settings, with IMS and the platform both at `url`.
pub fn adobe_at(url: &Url) -> AdobeSettings {
    AdobeSettings {
        org_id: ORG.into(),
        sandbox: SANDBOX.into(),
        client_id: API_KEY.into(),
        client_secret: SecretString::from("test-client-secret"),
        scopes: vec!["openid".into(), "AdobeID".into()],
        ims_url: url.clone(),
        platform_url: url.clone(),
    }
}

/// IMS at `server` answers every token request with [`TOKEN`].
pub async fn mock_ims(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": TOKEN, "token_type": "bearer", "expires_in": 86399
        })))
        .mount(server)
        .await;
}

/// A mock server with IMS answering, a catch-all 500 for anything no test mocked (so a wrong
/// path fails loudly instead of looking like a 404), and a client pointed at it.
pub async fn setup() -> (MockServer, AepClient) {
    let server = MockServer::start().await;
    mock_ims(&server).await;
    Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"title": "unmatched request in test mock"})),
        )
        .with_priority(200)
        .mount(&server)
        .await;
    let url = Url::parse(&server.uri()).unwrap();
    let client = AepClient::new(&adobe_at(&url), HttpOptions::default()).unwrap();
    (server, client)
}

/// The requests sent to the platform (IMS excluded), in order.
pub async fn api_requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() != "/ims/token/v3")
        .collect()
}

/// The one platform request the test expects; panics when there were more or fewer.
pub async fn only_request(server: &MockServer) -> Request {
    let mut requests = api_requests(server).await;
    assert_eq!(
        requests.len(),
        1,
        "expected exactly one request, got {:?}",
        requests
            .iter()
            .map(|r| format!("{} {}", r.method, r.url))
            .collect::<Vec<_>>()
    );
    requests.remove(0)
}

pub fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The five headers of docs/aep-api.md#common-conventions (Content-Type only when there is a body).
pub fn assert_platform_headers(request: &Request) {
    assert_eq!(
        header(request, "authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(header(request, "x-api-key"), Some(API_KEY));
    assert_eq!(header(request, "x-gw-ims-org-id"), Some(ORG));
    assert_eq!(header(request, "x-sandbox-name"), Some(SANDBOX));
    if !request.body.is_empty() {
        assert_eq!(header(request, "content-type"), Some("application/json"));
    }
}

/// The decoded query pairs, in order.
pub fn query(request: &Request) -> Vec<(String, String)> {
    request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The decoded query pairs, sorted (for requests whose parameter order does not matter).
pub fn query_sorted(request: &Request) -> Vec<(String, String)> {
    let mut pairs = query(request);
    pairs.sort();
    pairs
}

pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.sort();
    out
}

pub fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("the request body is JSON")
}

/// Adobe's OpenAPI specs: `$PROVISION_SPECS_DIR`, else `shared/specs` in an ancestor of the
/// crate (`../shared/specs` from the main checkout, `../../shared/specs` from a worktree).
fn specs_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PROVISION_SPECS_DIR") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_dir(),
            "PROVISION_SPECS_DIR={} is not a directory",
            dir.display()
        );
        return Some(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .skip(1)
        .map(|a| a.join("shared").join("specs"))
        .find(|p| p.is_dir())
}

/// Validates `instance` against `components.schemas.{schema}` of `specs/{file}`. Returns the
/// instance paths of the errors. When the specs are absent the check is skipped with a message,
/// unless `CI=true`, where that is a failure.
pub fn spec_errors(file: &str, schema: &str, instance: &Value) -> Option<Vec<String>> {
    let Some(dir) = specs_dir() else {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "the OpenAPI specs (shared/specs) are required when CI=true; set PROVISION_SPECS_DIR"
        );
        eprintln!("skipping OpenAPI validation of {schema}: shared/specs not found");
        return None;
    };
    let text = std::fs::read_to_string(dir.join(file)).expect("readable spec");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("spec is YAML");
    let mut schemas = serde_json::to_value(&doc["components"]["schemas"]).expect("schemas as JSON");
    strip_nulls(&mut schemas);
    assert!(
        schemas.get(schema).is_some(),
        "{file} has no schema {schema}"
    );
    let root = json!({
        "$ref": format!("#/components/schemas/{schema}"),
        "components": {"schemas": schemas},
    });
    let validator = jsonschema::draft4::options()
        .build(&root)
        .expect("the OpenAPI schema compiles");
    Some(
        validator
            .iter_errors(instance)
            .map(|e| format!("{} ({e})", e.instance_path))
            .collect(),
    )
}

/// Asserts that `instance` is valid against the spec schema (or that the specs are absent).
pub fn assert_valid_against_spec(file: &str, schema: &str, instance: &Value) {
    if let Some(errors) = spec_errors(file, schema, instance) {
        assert!(
            errors.is_empty(),
            "{instance} is not a valid {schema}: {errors:?}"
        );
    }
}

/// Some OpenAPI fields are `description: null`, which no JSON Schema draft accepts.
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Flow Service's Zoho CRM connection spec, as `GET /connectionSpecs` lists it.
pub fn zoho_spec() -> Value {
    json!({
        "id": provision::api::specs::ZOHO_CRM_SPEC_ID,
        "name": "zoho-crm",
        "providerId": "0ed90a81-07f4-4586-8190-b40eccef1c5a",
        "version": "1.0",
        "authSpec": [{
            "name": "Basic Authentication",
            "type": "OAuth2",
            "spec": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {
                    "endpoint": {"type": "string", "description": "The endpoint of the Zoho CRM server"},
                    "accountsUrl": {"type": "string"},
                    "clientId": {"type": "string"},
                    "clientSecret": {"type": "string", "format": "password"},
                    "accessToken": {"type": "string", "format": "password"},
                    "refreshToken": {"type": "string", "format": "password"}
                },
                "required": ["endpoint", "accountsUrl", "clientId", "clientSecret", "refreshToken"]
            }
        }],
        "sourceSpec": {"attributes": {}}
    })
}
