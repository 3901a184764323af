//! Flow Service collections: `{"items": [...], "_links": {"next": {"href": ...}}}`, followed
//! page by page on the same client (same host, same credentials).

use std::collections::HashSet;

use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use super::{call_name, decode, AepClient, Query, Service};
use crate::transport::ApiError;

impl AepClient {
    /// Lists every item of a Flow Service collection (`{"items": [...], "_links": {"next": {"href"}}}`),
    /// following `_links.next.href` until it is absent.
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &Query,
    ) -> Result<Vec<T>, ApiError> {
        self.list_while(service, path, query, |_| true).await
    }

    /// `_links.next.href` may be absolute, absolute-path, query-only or relative to the service
    /// base. An absolute link to another host is refused: the token must not travel there.
    pub(super) fn next_url(
        &self,
        service: Service,
        current: &Url,
        href: &str,
        call: &str,
    ) -> Result<Url, ApiError> {
        let platform = &self.inner.platform_url;
        let next = if let Ok(absolute) = Url::parse(href) {
            absolute
        } else if let Some(query) = href.strip_prefix('?') {
            let mut next = current.clone();
            next.set_query(Some(query));
            next
        } else {
            let prefix = platform.path().trim_end_matches('/');
            let service_base = format!("{prefix}{}", service.base_path());
            let path_and_query = if href.starts_with(&service_base)
                || (href.starts_with("/data/") && prefix.is_empty())
            {
                href.to_owned()
            } else if href.starts_with("/data/") {
                format!("{prefix}{href}")
            } else {
                format!("{service_base}/{}", href.trim_start_matches('/'))
            };
            platform
                .join(&path_and_query)
                .map_err(|e| ApiError::decode(call, format!("invalid _links.next.href: {e}")))?
        };
        if next.origin() != platform.origin() {
            return Err(ApiError::decode(
                call,
                format!(
                    "_links.next.href points to another host ({}); refusing to send credentials there",
                    next.host_str().unwrap_or("?")
                ),
            ));
        }
        Ok(next)
    }

    /// Like [`AepClient::list_all`], but stops following `_links.next.href` as soon as
    /// `more(items so far)` says no (newest-first listings where only the first few matter).
    pub async fn list_while<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &Query,
        mut more: impl FnMut(&[T]) -> bool,
    ) -> Result<Vec<T>, ApiError> {
        const MAX_PAGES: usize = 10_000;
        let mut url = self.url(service, path, query);
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        loop {
            let call = call_name(&Method::GET, &url);
            if !seen.insert(url.to_string()) || seen.len() > MAX_PAGES {
                return Err(ApiError::decode(
                    &call,
                    "the service's _links.next.href repeats a page already read; stopping to avoid a loop",
                ));
            }
            let answer = self
                .execute(Method::GET, url.clone(), None, None, None)
                .await?;
            let page: Page<T> = decode(&call, &answer)?;
            items.extend(page.items);
            if !more(&items) {
                return Ok(items);
            }
            match page.links.and_then(|l| l.next).and_then(|n| n.href) {
                Some(href) if !href.trim().is_empty() => {
                    url = self.next_url(service, &url, href.trim(), &call)?;
                }
                _ => return Ok(items),
            }
        }
    }
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
    href: Option<String>,
}
