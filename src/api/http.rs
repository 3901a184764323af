//! The authenticated transport for Flow Service, Catalog and Data Prep: the five headers of
//! reference §1 on every call, error parsing, JSON decoding and `_links.next` paging.
//! Resource modules build paths and bodies; they never touch headers or tokens.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use super::error::ApiError;
use super::ids::Etag;
use crate::auth::ims::ImsAuth;
use crate::profile::AdobeSettings;

/// The three AEP services the tool calls, each under `{platform_url}/data/foundation/...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    FlowService,
    Catalog,
    DataPrep,
}

impl Service {
    fn base_path(self) -> &'static str {
        match self {
            Service::FlowService => "/data/foundation/flowservice",
            Service::Catalog => "/data/foundation/catalog",
            Service::DataPrep => "/data/foundation/conversion",
        }
    }
}

/// Query parameters, in order; `property` may repeat (AND), reference §10.2.
#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn param(mut self, key: &str, value: impl Into<String>) -> Self {
        self.0.push((key.to_owned(), value.into()));
        self
    }

    /// `property={path}=={v1},{v2}`: the field equals any of `values`. Encoding is done when the
    /// URL is built, so values may hold spaces, `&` or `+`.
    pub fn property_eq<S: AsRef<str>>(self, path: &str, values: &[S]) -> Self {
        let joined = values
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(",");
        self.param("property", format!("{path}=={joined}"))
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// Options of the transport that do not come from the profile.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
        }
    }
}

/// A cheap-to-clone client for the AEP APIs: one connection pool, one token cache.
#[derive(Clone)]
pub struct AepClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    platform_url: Url,
    api_key: String,
    org_id: String,
    sandbox: String,
    ims: ImsAuth,
}

impl AepClient {
    pub fn new(adobe: &AdobeSettings, options: HttpOptions) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .user_agent(concat!("provision/", env!("CARGO_PKG_VERSION")))
            .https_only(false)
            .build()?;
        let ims = ImsAuth::new(http.clone(), adobe);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                platform_url: adobe.platform_url.clone(),
                api_key: adobe.client_id.clone(),
                org_id: adobe.org_id.clone(),
                sandbox: adobe.sandbox.clone(),
                ims,
            }),
        })
    }

    /// The IMS token source (for `check`, which reports the token step on its own).
    pub fn ims(&self) -> &ImsAuth {
        &self.inner.ims
    }

    fn url(&self, service: Service, path: &str, query: &Query) -> Url {
        let mut url = self.inner.platform_url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{}{path}", service.base_path()));
        if !query.0.is_empty() {
            url.query_pairs_mut().extend_pairs(query.0.iter());
        }
        url
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &Query,
    ) -> Result<T, ApiError> {
        let url = self.url(service, path, query);
        self.send_json(Method::GET, url, None::<&()>, None).await
    }

    /// GET that maps 404 to `None`.
    pub async fn get_opt<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &Query,
    ) -> Result<Option<T>, ApiError> {
        match self.get(service, path, query).await {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &Query,
        body: &B,
    ) -> Result<T, ApiError> {
        let url = self.url(service, path, query);
        self.send_json(Method::POST, url, Some(body), None).await
    }

    pub async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        etag: &Etag,
        body: &B,
    ) -> Result<T, ApiError> {
        let url = self.url(service, path, &Query::new());
        self.send_json(Method::PATCH, url, Some(body), Some(etag))
            .await
    }

    pub async fn delete(&self, service: Service, path: &str) -> Result<(), ApiError> {
        let url = self.url(service, path, &Query::new());
        let _: serde_json::Value = self
            .send_json(Method::DELETE, url, None::<&()>, None)
            .await?;
        Ok(())
    }

    /// Lists every item of a Flow Service collection (`{"items": [...], "_links": {"next": {"href"}}}`),
    /// following `_links.next.href` until it is absent.
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &Query,
    ) -> Result<Vec<T>, ApiError> {
        let mut url = self.url(service, path, query);
        let mut items = Vec::new();
        loop {
            let page: Page<T> = self
                .send_json(Method::GET, url.clone(), None::<&()>, None)
                .await?;
            items.extend(page.items);
            match page.links.and_then(|l| l.next).map(|n| n.href) {
                Some(href) if !href.is_empty() => url = self.next_url(service, &url, &href),
                _ => return Ok(items),
            }
        }
    }

    /// `_links.next.href` may be absolute, absolute-path, or relative to the service base.
    fn next_url(&self, service: Service, current: &Url, href: &str) -> Url {
        if let Ok(absolute) = Url::parse(href) {
            return absolute;
        }
        let base = self.url(service, "", &Query::new());
        if href.starts_with(service.base_path()) {
            return current.join(href).unwrap_or(base);
        }
        let mut joined = base.clone();
        let (path, query) = href.split_once('?').unwrap_or((href, ""));
        joined.set_path(&format!("{}{}", base.path(), path));
        joined.set_query(if query.is_empty() { None } else { Some(query) });
        joined
    }

    async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        if_match: Option<&Etag>,
    ) -> Result<T, ApiError> {
        let call = format!("{method} {}", url.path());
        let token = self.inner.ims.token().await?;
        let mut request = self
            .inner
            .http
            .request(method, url)
            .bearer_auth(token.expose_secret())
            .header("x-api-key", &self.inner.api_key)
            .header("x-gw-ims-org-id", &self.inner.org_id)
            .header("x-sandbox-name", &self.inner.sandbox);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(etag) = if_match {
            request = request.header("If-Match", etag.as_str());
        }
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::transport(&call, without_url(e)))?;
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ApiError::transport(&call, without_url(e)))?;
        if !status.is_success() {
            return Err(ApiError::status(&call, status.as_u16(), &bytes, request_id));
        }
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::decode(&call, format!("unexpected response body: {e}")))
    }
}

/// reqwest errors print the URL; ours are named by `call` already, and URLs may carry queries.
fn without_url(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let source = std::error::Error::source(&error.without_url())
        .map(|s| format!(": {s}"))
        .unwrap_or_default();
    format!("{kind}{source}")
}

#[derive(serde::Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
    #[serde(rename = "_links")]
    links: Option<Links>,
}

#[derive(serde::Deserialize)]
struct Links {
    next: Option<Link>,
}

#[derive(serde::Deserialize)]
struct Link {
    href: String,
}
