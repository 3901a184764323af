//! Zoho Accounts (`/oauth/v2/token`, `/oauth/v2/token/revoke`) and Zoho CRM
//! (`/crm/v8/settings/modules`, `/crm/v8/settings/fields?module=`) as `zoho-oauth.md` §2-§5
//! describe them: token-endpoint errors are HTTP 200 with an `error` key, grant codes are single use and expire after 3 minutes, refresh
//! responses carry no refresh token, more than 10 refreshes per refresh token in 10 minutes are
//! throttled, and a user keeps at most 20 refresh tokens (the 21st evicts the oldest).
//!
//! The seeded client's home data centre (`us`) is served at the root; `/dc/{region}/...` serves
//! the other data centres, where the client is unknown.

use std::collections::{HashMap, VecDeque};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::errors::ApiError;
use super::ims::form_params;
use super::seed;
use super::state::AppState;

const GRANT_CODE_TTL_MS: i64 = 3 * 60 * 1000;
const ACCESS_TOKEN_TTL_S: i64 = 3600;
const REFRESH_WINDOW_MS: i64 = 10 * 60 * 1000;
const REFRESHES_PER_WINDOW: usize = 10;
const REFRESH_TOKEN_CAP: usize = 20;
const DATA_CENTRES: &[&str] = &["us", "eu", "in", "au", "jp", "cn", "ca", "sa", "uk"];

#[derive(Debug)]
pub struct ZohoState {
    codes: HashMap<String, GrantCode>,
    /// Oldest first.
    refresh_tokens: VecDeque<RefreshToken>,
    access_tokens: HashMap<String, AccessToken>,
}

#[derive(Debug)]
struct GrantCode {
    expires_at: i64,
    redirect_uri: Option<String>,
    scope: String,
}

#[derive(Debug)]
struct RefreshToken {
    token: String,
    scope: String,
    refreshed_at: VecDeque<i64>,
}

#[derive(Debug)]
struct AccessToken {
    expires_at: i64,
    scope: String,
}

/// Why Zoho would refuse a base connection's credentials (used by explore and runs).
pub type CredentialError = &'static str;

impl ZohoState {
    pub fn seeded() -> Self {
        Self {
            codes: HashMap::new(),
            refresh_tokens: VecDeque::from([RefreshToken {
                token: seed::ZOHO_REFRESH_TOKEN.to_owned(),
                scope: seed::ZOHO_SCOPES.to_owned(),
                refreshed_at: VecDeque::new(),
            }]),
            access_tokens: HashMap::new(),
        }
    }

    /// A grant code as the API console or the redirect flow would hand out.
    pub fn mint_code(
        &mut self,
        now: i64,
        redirect_uri: Option<String>,
        scope: Option<String>,
    ) -> String {
        self.codes.retain(|_, c| c.expires_at > now);
        let code = format!(
            "1000.{}.{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let scope = scope
            .map(|s| s.replace(',', " "))
            .unwrap_or_else(|| seed::ZOHO_SCOPES.to_owned());
        self.codes.insert(
            code.clone(),
            GrantCode {
                expires_at: now + GRANT_CODE_TTL_MS,
                redirect_uri,
                scope,
            },
        );
        code
    }

    /// Whether Zoho would let AEP use these base-connection credentials.
    pub fn check_credentials(
        &self,
        client_id: Option<&str>,
        client_secret: Option<&str>,
        refresh_token: Option<&str>,
    ) -> Result<(), CredentialError> {
        if client_id != Some(seed::ZOHO_CLIENT_ID) {
            return Err("invalid_client");
        }
        if client_secret != Some(seed::ZOHO_CLIENT_SECRET) {
            return Err("invalid_client_secret");
        }
        match refresh_token {
            Some(token) if self.refresh_tokens.iter().any(|t| t.token == token) => Ok(()),
            _ => Err("invalid_code"),
        }
    }

    fn issue_access_token(&mut self, now: i64, scope: &str) -> String {
        self.access_tokens.retain(|_, t| t.expires_at > now);
        let token = format!(
            "1000.{}.{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        self.access_tokens.insert(
            token.clone(),
            AccessToken {
                expires_at: now + ACCESS_TOKEN_TTL_S * 1000,
                scope: scope.to_owned(),
            },
        );
        token
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth/v2/token", post(token_home))
        .route("/oauth/v2/token/revoke", post(revoke))
        .route("/dc/{region}/oauth/v2/token", post(token_in_region))
        .route("/crm/v8/settings/modules", get(modules))
        .route("/crm/v8/settings/modules/{api_name}", get(module))
        .route("/crm/v8/settings/fields", get(fields))
}

/// Zoho answers token errors with HTTP 200 and an `error` key (docs/zoho-oauth.md#token-errors).
fn zoho_error(error: &str) -> Response {
    Json(json!({"error": error})).into_response()
}

async fn token_home(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let params = form_params(query.as_deref(), &body);
    exchange(&shared, &params)
}

async fn token_in_region(
    State(shared): State<AppState>,
    Path(region): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if !DATA_CENTRES.contains(&region.as_str()) {
        return (StatusCode::NOT_FOUND, "unknown data centre").into_response();
    }
    let params = form_params(query.as_deref(), &body);
    if region == "us" {
        return exchange(&shared, &params);
    }
    // The seeded client was created in the US data centre and is unknown everywhere else.
    zoho_error("invalid_client")
}

fn exchange(shared: &AppState, params: &HashMap<String, String>) -> Response {
    let get = |key: &str| {
        params
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    if get("client_id") != Some(seed::ZOHO_CLIENT_ID) {
        return zoho_error("invalid_client");
    }
    if get("client_secret") != Some(seed::ZOHO_CLIENT_SECRET) {
        return zoho_error("invalid_client_secret");
    }
    let now = shared.clock.wall_ms();
    let api_domain = shared.base_url();
    let mut data = shared.data();
    let zoho = &mut data.zoho;
    match get("grant_type") {
        Some("authorization_code") => {
            let Some(code) = get("code") else {
                return zoho_error("invalid_code");
            };
            let Some(grant) = zoho.codes.get(code).filter(|c| c.expires_at > now) else {
                return zoho_error("invalid_code");
            };
            if let Some(registered) = &grant.redirect_uri {
                if get("redirect_uri") != Some(registered.as_str()) {
                    return zoho_error("invalid_redirect_uri");
                }
            }
            let scope = grant.scope.clone();
            zoho.codes.remove(code);
            let refresh_token = format!(
                "1000.{}.{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            zoho.refresh_tokens.push_back(RefreshToken {
                token: refresh_token.clone(),
                scope: scope.clone(),
                refreshed_at: VecDeque::new(),
            });
            while zoho.refresh_tokens.len() > REFRESH_TOKEN_CAP {
                zoho.refresh_tokens.pop_front();
            }
            let access_token = zoho.issue_access_token(now, &scope);
            Json(json!({
                "access_token": access_token,
                "refresh_token": refresh_token,
                "scope": scope,
                "api_domain": api_domain,
                "token_type": "Bearer",
                "expires_in": ACCESS_TOKEN_TTL_S,
            }))
            .into_response()
        }
        Some("refresh_token") => {
            let Some(token) = get("refresh_token") else {
                return zoho_error("invalid_code");
            };
            let Some(refresh) = zoho.refresh_tokens.iter_mut().find(|t| t.token == token) else {
                return zoho_error("invalid_code");
            };
            while refresh
                .refreshed_at
                .front()
                .is_some_and(|t| *t <= now - REFRESH_WINDOW_MS)
            {
                refresh.refreshed_at.pop_front();
            }
            if refresh.refreshed_at.len() >= REFRESHES_PER_WINDOW {
                return Json(json!({
                    "error_description": "You have made too many requests continuously. Please try again after some time.",
                    "error": "Access Denied",
                    "status": "failure",
                }))
                .into_response();
            }
            refresh.refreshed_at.push_back(now);
            let scope = refresh.scope.clone();
            let access_token = zoho.issue_access_token(now, &scope);
            Json(json!({
                "access_token": access_token,
                "scope": scope,
                "api_domain": api_domain,
                "token_type": "Bearer",
                "expires_in": ACCESS_TOKEN_TTL_S,
            }))
            .into_response()
        }
        _ => zoho_error("unsupported_grant_type"),
    }
}

async fn revoke(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let params = form_params(query.as_deref(), &body);
    let mut data = shared.data();
    let tokens = &mut data.zoho.refresh_tokens;
    let before = tokens.len();
    if let Some(token) = params.get("token") {
        tokens.retain(|t| &t.token != token);
    }
    if tokens.len() < before {
        Json(json!({"status": "success"})).into_response()
    } else {
        let body = json!({"status": "failure", "error": "invalid_token"});
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}

fn crm_error(code: &str, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        json!({"code": code, "details": {}, "message": message, "status": "error"}),
    )
}

const MODULES_SCOPES: &[&str] = &[
    "ZohoCRM.settings.modules.READ",
    "ZohoCRM.settings.modules.ALL",
    "ZohoCRM.settings.READ",
    "ZohoCRM.settings.ALL",
];
const FIELDS_SCOPES: &[&str] = &[
    "ZohoCRM.settings.fields.READ",
    "ZohoCRM.settings.fields.ALL",
    "ZohoCRM.settings.READ",
    "ZohoCRM.settings.ALL",
];

/// Checks `Authorization: Zoho-oauthtoken <token>` and that the token has one of `scopes`.
fn authorize(shared: &AppState, headers: &HeaderMap, scopes: &[&str]) -> Result<(), ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| crm_error("AUTHENTICATION_FAILURE", "Authentication failed"))?;
    let token = value
        .strip_prefix("Zoho-oauthtoken ")
        .ok_or_else(|| crm_error("INVALID_TOKEN", "invalid oauth token"))?
        .trim();
    let now = shared.clock.wall_ms();
    let data = shared.data();
    let access = data
        .zoho
        .access_tokens
        .get(token)
        .filter(|t| t.expires_at > now)
        .ok_or_else(|| crm_error("INVALID_TOKEN", "invalid oauth token"))?;
    let allowed = access.scope.split([' ', ',']).any(|s| scopes.contains(&s));
    if !allowed {
        return Err(crm_error(
            "OAUTH_SCOPE_MISMATCH",
            "invalid oauth scope to access this URL",
        ));
    }
    Ok(())
}

async fn modules(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(error) = authorize(&shared, &headers, MODULES_SCOPES) {
        return error.into_response();
    }
    let modules: Vec<Value> = shared
        .org
        .modules
        .iter()
        .enumerate()
        .map(|(i, m)| m.settings_json(i))
        .collect();
    Json(json!({"modules": modules})).into_response()
}

async fn module(
    State(shared): State<AppState>,
    Path(api_name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(error) = authorize(&shared, &headers, MODULES_SCOPES) {
        return error.into_response();
    }
    match shared
        .org
        .modules
        .iter()
        .enumerate()
        .find(|(_, m)| m.api_name == api_name)
    {
        Some((i, m)) => Json(json!({"modules": [m.settings_json(i)]})).into_response(),
        None => {
            let body = json!({"code": "INVALID_MODULE", "details": {}, "message": "the module name given seems to be invalid", "status": "error"});
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
    }
}

/// `GET /crm/v8/settings/fields?module={api_name}`: the module's fields as Zoho describes them.
/// A missing `module` is `REQUIRED_PARAM_MISSING`, an unknown one `INVALID_MODULE` (both 400).
async fn fields(
    State(shared): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(error) = authorize(&shared, &headers, FIELDS_SCOPES) {
        return error.into_response();
    }
    let params = form_params(query.as_deref(), b"");
    let bad_request = |code: &str, message: &str, details: Value| {
        let body = json!({"code": code, "details": details, "message": message, "status": "error"});
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    };
    let Some(api_name) = params.get("module").filter(|m| !m.is_empty()) else {
        return bad_request(
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": "module"}),
        );
    };
    match shared.org.modules.iter().find(|m| &m.api_name == api_name) {
        Some(module) if module.api_supported => {
            let fields: Vec<Value> = module
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| field_json(module, i, c))
                .collect();
            Json(json!({"fields": fields})).into_response()
        }
        Some(_) => (StatusCode::NO_CONTENT, ()).into_response(),
        None => bad_request(
            "INVALID_MODULE",
            "the module name given seems to be invalid",
            json!({"param_name": "module"}),
        ),
    }
}

/// One entry of the fields answer: Zoho's `data_type` and `json_type` for the column's values.
fn field_json(module: &seed::Module, index: usize, column: &seed::Column) -> Value {
    use seed::Kind;
    let (data_type, json_type, length) = match column.kind {
        // Zoho sends record ids as strings (they exceed a double's precision).
        Kind::Id => ("bigint", "string", 18),
        Kind::Owner => ("ownerlookup", "jsonobject", 120),
        Kind::Email => ("email", "string", 100),
        Kind::Phone => ("phone", "string", 30),
        Kind::Website => ("website", "string", 255),
        Kind::Pick(_) => ("picklist", "string", 120),
        Kind::Double(..) => ("double", "double", 16),
        Kind::Long(..) => ("integer", "integer", 9),
        Kind::Boolean => ("boolean", "boolean", 5),
        Kind::Date => ("date", "string", 20),
        Kind::DateTime => ("datetime", "string", 120),
        _ => ("text", "string", 255),
    };
    let label = match column.name.as_str() {
        "id" => "Record Id".to_owned(),
        name => name.replace('_', " "),
    };
    let system = matches!(
        column.name.as_str(),
        "id" | "Created_Time" | "Modified_Time"
    );
    let pick_list_values: Vec<Value> = match column.kind {
        Kind::Pick(values) => values
            .iter()
            .map(|v| json!({"display_value": v, "actual_value": v}))
            .collect(),
        _ => Vec::new(),
    };
    json!({
        "api_name": column.name,
        "id": format!("{}{:03}", module.id, index),
        "display_label": label,
        "field_label": label,
        "data_type": data_type,
        "json_type": json_type,
        "length": length,
        "read_only": system,
        "field_read_only": system,
        "system_mandatory": matches!(column.name.as_str(), "Last_Name" | "Owner") || system,
        "custom_field": module.generated_type == "custom" && !system && column.name != "Owner",
        "visible": true,
        "pick_list_values": pick_list_values,
    })
}
