//! Shared helpers for the emulator's integration tests: a spawned emulator, an IMS token, and
//! plain reqwest calls with the headers the live services require. Tests talk HTTP only.
//! [`cli`] adds the end-to-end harness that runs the real binary against the emulator and
//! [`status`] the helpers of the `status` and `explore` tests on the same harness; [`api`] is the
//! wiremock setup of the `api_*` tests; [`profile`] the emulator profile every one of them writes.
#![allow(dead_code)]

pub mod api;
pub mod cli;
pub mod profile;
pub mod status;

use provision::emulator::{spawn, EmulatorConfig, RunningEmulator};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub const FS: &str = "/data/foundation/flowservice";
pub const CATALOG: &str = "/data/foundation/catalog";
pub const PREP: &str = "/data/foundation/conversion";
pub const ORG: &str = "0000000000000000000000AA@AdobeOrg";
pub const CLIENT_ID: &str = "provision-local";
pub const CLIENT_SECRET: &str = "local-adobe-secret";
pub const ZOHO_CLIENT_ID: &str = "1000.LOCALCLIENT";
pub const ZOHO_SECRET: &str = "local-zoho-secret";
pub const ZOHO_REFRESH: &str = "1000.local.refresh";
pub const ZOHO_SPEC: &str = "929e4450-0237-4ed2-9404-b7e1e0a00309";
pub const DATA_LAKE_SPEC: &str = "c604ff05-7f1a-43c0-8e18-33bf874cb11c";
pub const CRM_FLOW_SPEC: &str = "14518937-270c-4525-bdec-c2ba7cce3860";
pub const SCHEMA: &str = "https://ns.adobe.com/acme/schemas/zoho_crm";
pub const SEED_DATASET: &str = "6889f4f89b982b2b90bc1208";
pub const SANDBOX_PROD: &str = "prod";

/// The emulator's seeded Zoho modules that the CRM API supports, in its order (`CustomModule1..n`
/// follow when the emulator is configured with extra modules).
pub const SEEDED_MODULES: [&str; 14] = [
    "Leads",
    "Contacts",
    "Accounts",
    "Deals",
    "Campaigns",
    "Tasks",
    "Events",
    "Calls",
    "Products",
    "Quotes",
    "Invoices",
    "Vendors",
    "Cases",
    "Solutions",
];

/// insta settings shared by the snapshot tests: snapshots in `tests/testsuite/snapshots`, named
/// without a module prefix. Tests add [`id_filters`] and the filters their own output needs.
pub fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

/// `text` as a regex matching it literally (for an insta filter of a temporary path).
pub fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// Filters replacing UUIDs and mapping-set ids (32 hex digits), which differ between runs.
pub fn id_filters(s: &mut insta::Settings) {
    s.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uuid]",
    );
    s.add_filter(r"\b[0-9a-f]{32}\b", "[mapping-set-id]");
}

/// The answer to one call: status, JSON body (`Null` when empty or not JSON), headers.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn code(&self) -> u16 {
        self.status.as_u16()
    }

    /// The last segment of a problem document's `type`, e.g. `FLOW-1439-404`.
    pub fn error_type(&self) -> String {
        self.body["type"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

pub struct Env {
    pub emulator: RunningEmulator,
    pub http: reqwest::Client,
    pub token: String,
    pub sandbox: String,
}

impl Env {
    pub async fn start() -> Self {
        Self::with(EmulatorConfig::default()).await
    }

    pub async fn with(config: EmulatorConfig) -> Self {
        let mut env = Self::without_token(config).await;
        env.token = env.ims_token().await;
        env
    }

    /// An emulator that has answered no request yet: no token is fetched (`token` is empty).
    pub async fn without_token(config: EmulatorConfig) -> Self {
        let emulator = spawn(config).await.expect("the emulator starts");
        Self {
            emulator,
            http: reqwest::Client::new(),
            token: String::new(),
            sandbox: "prod".into(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.url())
    }

    /// A client-credentials token for the seeded client.
    pub async fn ims_token(&self) -> String {
        let response = self
            .http
            .post(self.url("/ims/token/v3"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("scope", "openid,AdobeID,read_organizations"),
            ])
            .send()
            .await
            .expect("IMS answers");
        let body: Value = response.json().await.expect("IMS answers JSON");
        body["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// A request with the five headers of docs/aep-api.md#common-conventions (Content-Type is added by `.json()`).
    pub fn adobe(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.adobe_as(method, path, &self.token, CLIENT_ID, &self.sandbox)
    }

    /// The same with the token, API key and sandbox given (reqwest appends, never replaces, headers).
    pub fn adobe_as(
        &self,
        method: Method,
        path: &str,
        token: &str,
        api_key: &str,
        sandbox: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("x-api-key", api_key)
            .header("x-gw-ims-org-id", ORG)
            .header("x-sandbox-name", sandbox)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the emulator answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.adobe(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(self.adobe(Method::POST, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, etag: &str, body: &Value) -> Reply {
        self.send(
            self.adobe(Method::PATCH, path)
                .header("If-Match", etag)
                .json(body),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.adobe(Method::DELETE, path)).await
    }

    /// POSTs a create and returns the new id, failing the test on anything but 2xx.
    pub async fn create(&self, path: &str, body: &Value) -> String {
        let reply = self.post(path, body).await;
        assert!(
            reply.status.is_success(),
            "POST {path} -> {} {}",
            reply.status,
            reply.body
        );
        if let Some(id) = reply.body["id"].as_str() {
            return id.to_owned();
        }
        // Catalog: ["@/dataSets/<id>"]
        reply.body[0]
            .as_str()
            .and_then(|s| s.strip_prefix("@/dataSets/"))
            .expect("an id")
            .to_owned()
    }

    /// Follows `_links.next.href` and returns every item.
    pub async fn list_all(&self, path_and_query: &str) -> (Vec<Value>, usize) {
        let (base, _) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let collection_root = &base[..base.rfind('/').expect("a collection path")];
        let mut next = Some(path_and_query.to_owned());
        let mut items = Vec::new();
        let mut pages = 0;
        while let Some(path) = next.take() {
            let reply = self.get(&path).await;
            assert_eq!(reply.code(), 200, "GET {path}: {}", reply.body);
            pages += 1;
            items.extend(reply.body["items"].as_array().cloned().unwrap_or_default());
            next = reply.body["_links"]["next"]["href"]
                .as_str()
                .map(|href| format!("{collection_root}{href}"));
        }
        (items, pages)
    }

    pub async fn base_connection(&self, name: &str) -> String {
        self.create(
            &format!("{FS}/connections"),
            &base_connection_body(name, &self.emulator.url()),
        )
        .await
    }

    pub async fn source_connection(
        &self,
        base: &str,
        table: &str,
        columns: Option<&[&str]>,
    ) -> String {
        self.create(
            &format!("{FS}/sourceConnections"),
            &source_body(base, table, columns),
        )
        .await
    }

    pub async fn dataset(&self, name: &str) -> String {
        self.create(&format!("{CATALOG}/dataSets"), &dataset_body(name))
            .await
    }

    pub async fn target_connection(&self, dataset: &str) -> String {
        self.create(&format!("{FS}/targetConnections"), &target_body(dataset))
            .await
    }

    pub async fn mapping_set(&self, sources: &[&str]) -> String {
        self.create(&format!("{PREP}/mappingSets"), &mapping_body(sources))
            .await
    }

    /// Base connection, source connection on `module`, target on the seeded dataset, a mapping
    /// of `sources` and a flow on `schedule`.
    pub async fn pipeline(&self, module: &str, sources: &[&str], schedule: Value) -> Pipeline {
        let base = self.base_connection(&format!("zoho {module}")).await;
        let source = self.source_connection(&base, module, None).await;
        let target = self.target_connection(SEED_DATASET).await;
        let mapping = self.mapping_set(sources).await;
        let flow = self
            .create(
                &format!("{FS}/flows"),
                &flow_body(&source, &target, &mapping, schedule),
            )
            .await;
        Pipeline {
            base,
            source,
            target,
            mapping,
            flow,
        }
    }
}

pub struct Pipeline {
    pub base: String,
    pub source: String,
    pub target: String,
    pub mapping: String,
    pub flow: String,
}

pub fn base_connection_body(name: &str, emulator_url: &str) -> Value {
    json!({
        "name": name,
        "description": "Zoho CRM base connection",
        "auth": {"specName": "Basic Authentication", "params": {
            "endpoint": emulator_url,
            "accountsUrl": emulator_url,
            "clientId": ZOHO_CLIENT_ID,
            "clientSecret": ZOHO_SECRET,
            "refreshToken": ZOHO_REFRESH,
        }},
        "connectionSpec": {"id": ZOHO_SPEC, "version": "1.0"},
    })
}

pub fn source_body(base: &str, table: &str, columns: Option<&[&str]>) -> Value {
    let mut params = json!({"tableName": table});
    if let Some(columns) = columns {
        params["columns"] = json!(columns
            .iter()
            .map(|c| json!({"name": c, "type": "string", "xdm": {"type": "string"}}))
            .collect::<Vec<_>>());
    }
    json!({
        "name": format!("{table} source"),
        "baseConnectionId": base,
        "data": {"format": "tabular"},
        "params": params,
        "connectionSpec": {"id": ZOHO_SPEC, "version": "1.0"},
    })
}

pub fn dataset_body(name: &str) -> Value {
    json!({
        "name": name,
        "schemaRef": {"id": SCHEMA, "contentType": "application/vnd.adobe.xed+json;version=1"},
    })
}

pub fn target_body(dataset: &str) -> Value {
    json!({
        "name": "data lake target",
        "data": {"schema": {"id": SCHEMA, "version": "application/vnd.adobe.xed-full+json;version=1"}},
        "params": {"dataSetId": dataset},
        "connectionSpec": {"id": DATA_LAKE_SPEC, "version": "1.0"},
    })
}

pub fn mapping_body(sources: &[&str]) -> Value {
    json!({
        "outputSchema": {"schemaRef": {"id": SCHEMA, "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
        "mappings": sources.iter().map(|s| json!({
            "sourceType": "ATTRIBUTE", "source": s, "destination": format!("_acme.zoho.{s}")
        })).collect::<Vec<_>>(),
    })
}

pub fn flow_body(source: &str, target: &str, mapping: &str, schedule: Value) -> Value {
    json!({
        "name": "zoho flow",
        "flowSpec": {"id": CRM_FLOW_SPEC, "version": "1.0"},
        "sourceConnectionIds": [source],
        "targetConnectionIds": [target],
        "transformations": [
            {"name": "Copy", "params": {"deltaColumn": {"name": "Modified_Time", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}}},
            {"name": "Mapping", "params": {"mappingId": mapping, "mappingVersion": "0"}},
        ],
        "scheduleParams": schedule,
    })
}

/// An hourly schedule starting at `start_s` (epoch seconds).
pub fn hourly(start_s: i64) -> Value {
    json!({"startTime": start_s, "frequency": "hour", "interval": 1, "backfill": true})
}
