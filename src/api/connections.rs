//! Base connections (docs/aep-api.md#base-connection, #etags, #deleting): create, read, list, patch, delete, test.
//! Paths have no trailing slash, as in the docs (docs/aep-api.md#disagreements #20).

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::specs::{SpecRef, BASIC_AUTHENTICATION};
use super::wire::{self, de, Created};
use super::{AepClient, ApiError, ConnectionId, ConnectionSpecId, Etag, PatchOp, Query, Service};

const PATH: &str = "/connections";

/// A base connection to create.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub name: String,
    pub description: Option<String>,
    /// `auth.specName`, e.g. [`BASIC_AUTHENTICATION`].
    pub auth_spec_name: String,
    pub auth_params: AuthParams,
    pub connection_spec: SpecRef<ConnectionSpecId>,
}

impl NewConnection {
    /// A Zoho CRM base connection with "Basic Authentication".
    pub fn zoho(name: impl Into<String>, description: Option<String>, params: AuthParams) -> Self {
        Self {
            name: name.into(),
            description,
            auth_spec_name: BASIC_AUTHENTICATION.to_owned(),
            auth_params: params,
            connection_spec: SpecRef::zoho_crm(),
        }
    }
}

/// `auth.params` to send: plain values and secrets. Deliberately not `Serialize`: secrets are
/// exposed only while this module writes a request body, and `Debug` shows them redacted.
#[derive(Clone, Default)]
pub struct AuthParams(BTreeMap<String, AuthParam>);

#[derive(Clone)]
pub enum AuthParam {
    Plain(String),
    Secret(SecretString),
}

impl AuthParams {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn plain(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(key.into(), AuthParam::Plain(value.into()));
        self
    }

    pub fn secret(mut self, key: impl Into<String>, value: SecretString) -> Self {
        self.0.insert(key.into(), AuthParam::Secret(value));
        self
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Keeps only the params whose name passes `keep`.
    pub fn retain(mut self, keep: impl Fn(&str) -> bool) -> Self {
        self.0.retain(|name, _| keep(name));
        self
    }

    /// The value of a plain (non-secret) param, for comparing with what the service returns.
    pub fn plain_value(&self, key: &str) -> Option<&str> {
        match self.0.get(key)? {
            AuthParam::Plain(v) => Some(v),
            AuthParam::Secret(_) => None,
        }
    }
}

impl fmt::Debug for AuthParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| {
                let shown: &dyn fmt::Debug = match v {
                    AuthParam::Plain(p) => p,
                    AuthParam::Secret(_) => &"[redacted]",
                };
                (k, shown)
            }))
            .finish()
    }
}

impl fmt::Debug for AuthParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthParam::Plain(p) => write!(f, "Plain({p:?})"),
            AuthParam::Secret(_) => f.write_str("Secret([redacted])"),
        }
    }
}

/// The only place secrets of `auth.params` are exposed: while a request body is serialised.
struct ExposedParams<'a>(&'a AuthParams);

impl Serialize for ExposedParams<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0 .0.len()))?;
        for (key, value) in &self.0 .0 {
            match value {
                AuthParam::Plain(v) => map.serialize_entry(key, v)?,
                AuthParam::Secret(v) => map.serialize_entry(key, v.expose_secret())?,
            }
        }
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    auth: AuthBody<'a>,
    connection_spec: &'a SpecRef<ConnectionSpecId>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthBody<'a> {
    spec_name: &'a str,
    params: ExposedParams<'a>,
}

/// A base connection as the service returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: ConnectionId,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub connection_spec: Option<SpecRef<ConnectionSpecId>>,
    /// e.g. `enabled`.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub auth: Option<ConnectionAuth>,
    #[serde(flatten, deserialize_with = "de::etag")]
    pub etag: Option<Etag>,
    /// Epoch milliseconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub updated_at: Option<i64>,
}

impl Connection {
    pub fn spec_id(&self) -> Option<&ConnectionSpecId> {
        self.connection_spec.as_ref().map(|s| &s.id)
    }
}

/// `auth` as read back: secret params come back masked, so `params` stays loose JSON. `Debug`
/// shows only the param names, in case a service echoes a secret.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionAuth {
    #[serde(default)]
    pub spec_name: Option<String>,
    #[serde(default)]
    pub params: Value,
}

impl ConnectionAuth {
    /// A param as a string, when the service returned it as one.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).and_then(Value::as_str)
    }
}

impl fmt::Debug for ConnectionAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self
            .params
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        f.debug_struct("ConnectionAuth")
            .field("spec_name", &self.spec_name)
            .field("params", &keys)
            .finish()
    }
}

/// `POST /connections` (docs/aep-api.md#base-connection) -> `201 {"id", "etag"}`.
pub async fn create_connection(
    client: &AepClient,
    new: &NewConnection,
) -> Result<Created<ConnectionId>, ApiError> {
    let body = CreateBody {
        name: &new.name,
        description: new.description.as_deref(),
        auth: AuthBody {
            spec_name: &new.auth_spec_name,
            params: ExposedParams(&new.auth_params),
        },
        connection_spec: &new.connection_spec,
    };
    client
        .post(Service::FlowService, PATH, &Query::new(), &body)
        .await
}

/// `GET /connections/{id}`; `None` when it does not exist.
pub async fn get_connection(
    client: &AepClient,
    id: &ConnectionId,
) -> Result<Option<Connection>, ApiError> {
    wire::get_first(
        client,
        Service::FlowService,
        &format!("{PATH}/{id}"),
        "connection",
    )
    .await
}

/// `GET /connections?{query}`, every page.
pub async fn list_connections(
    client: &AepClient,
    query: &Query,
) -> Result<Vec<Connection>, ApiError> {
    wire::list(client, PATH, query, "connection").await
}

/// The base connections named `name` with connection spec `spec` (docs/aep-api.md#find-before-create recipe).
/// Names are not unique: the caller decides what more than one match means.
pub async fn list_connections_by_name(
    client: &AepClient,
    name: &str,
    spec: &ConnectionSpecId,
) -> Result<Vec<Connection>, ApiError> {
    let query = Query::new()
        .property_eq("name", &[name])
        .property_eq("connectionSpec.id", &[spec.as_str()]);
    list_connections(client, &query).await
}

/// `PATCH /connections/{id}` with a JSON Patch array and `If-Match: {etag}` verbatim.
pub async fn patch_connection(
    client: &AepClient,
    id: &ConnectionId,
    etag: &Etag,
    ops: &[PatchOp],
) -> Result<Created<ConnectionId>, ApiError> {
    client
        .patch(Service::FlowService, &format!("{PATH}/{id}"), etag, ops)
        .await
}

/// Replaces `auth.params` (token rotation, docs/aep-api.md#etags): `[{"op": "replace", "path":
/// "/auth/params", "value": {...}}]`, the secrets exposed only in the body.
pub async fn patch_connection_auth(
    client: &AepClient,
    id: &ConnectionId,
    etag: &Etag,
    params: &AuthParams,
) -> Result<Created<ConnectionId>, ApiError> {
    #[derive(Serialize)]
    struct Op<'a> {
        op: &'static str,
        path: &'static str,
        value: ExposedParams<'a>,
    }
    let body = [Op {
        op: "replace",
        path: "/auth/params",
        value: ExposedParams(params),
    }];
    client
        .patch(Service::FlowService, &format!("{PATH}/{id}"), etag, &body)
        .await
}

/// `DELETE /connections/{id}` -> 204. Fails while flows still use the connection (`1418-400`).
pub async fn delete_connection(client: &AepClient, id: &ConnectionId) -> Result<(), ApiError> {
    client
        .delete(Service::FlowService, &format!("{PATH}/{id}"))
        .await
}

/// `GET /connections/{id}/test` -> `{"result": true|false}` (spec only, docs/aep-api.md#base-connection).
pub async fn test_connection(client: &AepClient, id: &ConnectionId) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct TestResult {
        #[serde(default, deserialize_with = "de::opt_bool")]
        result: Option<bool>,
    }
    let path = format!("{PATH}/{id}/test");
    let answer: TestResult = client
        .get(Service::FlowService, &path, &Query::new())
        .await?;
    Ok(answer.result.unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets_but_shows_plain_values() {
        let params = AuthParams::new()
            .plain("clientId", "1000.ABC")
            .secret("clientSecret", SecretString::from("s3cr3t-value"));
        let shown = format!("{params:?}");
        assert!(shown.contains("1000.ABC"), "{shown}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        let new = NewConnection::zoho("n", None, params);
        assert!(!format!("{new:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn read_auth_debug_shows_only_param_names() {
        let auth: ConnectionAuth = serde_json::from_value(serde_json::json!({
            "specName": "Basic Authentication",
            "params": {"clientSecret": "leaked-by-server"}
        }))
        .unwrap();
        let shown = format!("{auth:?}");
        assert!(shown.contains("clientSecret") && !shown.contains("leaked-by-server"));
    }
}
