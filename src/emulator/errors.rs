//! Error bodies in the shapes the live services use (docs/aep-api.md#errors): the gateway's
//! `{error_code, message}`, Flow Service's `FLOW-nnnn-sss` problem documents (Catalog and Data
//! Prep answer in the same shape with their own prefixes), and the content-type error.
//!
//! Codes docs/aep-api.md#errors documents are used as documented; where it names none, the emulator uses
//! [`INVALID_BODY`] and [`INVALID_REFERENCE`].

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

tokio::task_local! {
    /// The id of the request being answered; error bodies carry it as `report.request-id`.
    pub static REQUEST_ID: String;
}

/// Emulator-chosen code for a request body that breaks the OpenAPI schema or a spec rule.
pub const INVALID_BODY: u16 = 1402;
/// Emulator-chosen code for a body that names a resource that does not exist.
pub const INVALID_REFERENCE: u16 = 1405;

/// Which service a path belongs to, so an error can be answered in that service's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ims,
    Zoho,
    Flow,
    Catalog,
    DataPrep,
    SchemaRegistry,
    Other,
}

pub const FLOW_BASE: &str = "/data/foundation/flowservice";
pub const CATALOG_BASE: &str = "/data/foundation/catalog";
pub const DATAPREP_BASE: &str = "/data/foundation/conversion";
pub const SCHEMA_BASE: &str = "/data/foundation/schemaregistry";

impl Service {
    pub fn of(path: &str) -> Self {
        if path.starts_with(FLOW_BASE) {
            Service::Flow
        } else if path.starts_with(CATALOG_BASE) {
            Service::Catalog
        } else if path.starts_with(DATAPREP_BASE) {
            Service::DataPrep
        } else if path.starts_with(SCHEMA_BASE) {
            Service::SchemaRegistry
        } else if path.starts_with("/ims/") {
            Service::Ims
        } else if path.starts_with("/oauth/")
            || path.starts_with("/crm/")
            || path.starts_with("/dc/")
        {
            Service::Zoho
        } else {
            Service::Other
        }
    }

    /// The prefix of problem-document codes (`FLOW-1439-404`).
    fn prefix(self) -> &'static str {
        match self {
            Service::Catalog => "CAT",
            Service::DataPrep => "MAPPER",
            Service::SchemaRegistry => "XDM",
            _ => "FLOW",
        }
    }
}

/// An error response: status, JSON body and extra headers.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    /// An HTML body instead of `body` (Zoho's outage pages).
    pub html: Option<String>,
    pub headers: Vec<(HeaderName, String)>,
}

pub fn request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "unknown".to_owned())
}

impl ApiError {
    pub fn new(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body,
            html: None,
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// A problem document `{type, title, status, report{detailed-message, request-id}, ...}`.
    pub fn problem(
        service: Service,
        status: StatusCode,
        code: u16,
        title: &str,
        message: &str,
    ) -> Self {
        let code = format!("{}-{code}-{}", service.prefix(), status.as_u16());
        Self::new(
            status,
            json!({
                "type": format!("https://ns.adobe.com/aep/errors/{code}"),
                "title": title,
                "status": status.as_u16(),
                "report": {
                    "detailed-message": message,
                    "request-id": request_id(),
                },
                "errorMessage": message,
                "errorDetails": message,
            }),
        )
    }

    /// Adds `report.{key}` (e.g. the `id` and `type` of a missing resource).
    pub fn report(mut self, key: &str, value: impl Into<Value>) -> Self {
        if let Some(report) = self.body.get_mut("report").and_then(Value::as_object_mut) {
            report.insert(key.to_owned(), value.into());
        }
        self
    }

    pub fn flow(status: StatusCode, code: u16, title: &str, message: &str) -> Self {
        Self::problem(Service::Flow, status, code, title, message)
    }

    /// 400 for a body that breaks the schema, in the shape of the service at `service`.
    pub fn invalid(service: Service, message: impl AsRef<str>) -> Self {
        Self::problem(
            service,
            StatusCode::BAD_REQUEST,
            INVALID_BODY,
            "Bad Request",
            message.as_ref(),
        )
    }

    /// 400 for a body naming a resource that does not exist.
    pub fn bad_reference(service: Service, message: impl AsRef<str>) -> Self {
        Self::problem(
            service,
            StatusCode::BAD_REQUEST,
            INVALID_REFERENCE,
            "Bad Request",
            message.as_ref(),
        )
    }

    /// 404 `1439-404` with `report.id` and `report.type` as in Adobe's example (docs/aep-api.md#errors).
    pub fn not_found(service: Service, kind: &str, id: &str) -> Self {
        let message = format!(
            "The requested {kind} resource {id} is not found. Verify the resource ID before trying again."
        );
        Self::problem(
            service,
            StatusCode::NOT_FOUND,
            1439,
            "Resource not found",
            &message,
        )
        .report("id", id)
        .report("type", kind)
    }

    /// The Adobe I/O gateway's shape: `{"error_code": "401013", "message": "..."}`.
    pub fn gateway(status: StatusCode, error_code: &str, message: &str) -> Self {
        Self::new(
            status,
            json!({"error_code": error_code, "message": message}),
        )
    }

    /// The content-type error of docs/aep-api.md#errors.
    pub fn content_type() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            json!({
                "type": "/placeholder/type/uri",
                "status": 400,
                "title": "BadRequestError",
                "detail": "A valid content-type must be specified",
            }),
        )
    }

    /// A server-side fault (500/502/503/504) in the shape of the service at `path`.
    pub fn server_fault(service: Service, status: StatusCode) -> Self {
        let (code, title, message) = match status.as_u16() {
            502 => (
                1102,
                "Bad Gateway",
                "The upstream service returned an invalid response. Try again later.",
            ),
            503 => (
                1103,
                "Service Unavailable",
                "The service is temporarily unavailable. Try again later.",
            ),
            504 => (
                1104,
                "Gateway Timeout",
                "The request timed out at the gateway. Try again later.",
            ),
            _ => (
                1102,
                "Internal Server Error",
                "An internal error occurred. Try again later.",
            ),
        };
        match service {
            Service::Ims => Self::new(
                status,
                json!({"error": "server_error", "error_description": message}),
            ),
            // Zoho's outages come back as HTML pages; a client must not take them for credential errors.
            Service::Zoho | Service::Other => {
                let mut error = Self::new(status, Value::Null);
                error.html = Some(format!(
                    "<html><head><title>{} {title}</title></head><body><h1>{title}</h1><p>{message}</p></body></html>",
                    status.as_u16()
                ));
                error
            }
            Service::Catalog => Self::problem(service, status, 2200, title, message),
            Service::DataPrep => Self::problem(service, status, 2250, title, message),
            _ if status == StatusCode::BAD_GATEWAY => {
                Self::gateway(status, "502000", "Bad Gateway")
            }
            _ => Self::problem(service, status, code, title, message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = match self.html {
            Some(html) => (self.status, axum::response::Html(html)).into_response(),
            None => (self.status, axum::Json(self.body)).into_response(),
        };
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

pub type ApiResult<T = Response> = Result<T, ApiError>;
