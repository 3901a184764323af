//! Create, get, list and PATCH for the connection-like kinds (base, source and target
//! connections), which differ only in where their entities live, how a body is checked and how
//! one is shown. Deletes stay with each kind: their dependency rules differ.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde_json::Value;

use super::{created, items, list_entities, parse_list, updated, SERVICE};
use crate::emulator::errors::{ApiError, ApiResult};
use crate::emulator::filter::Collection;
use crate::emulator::gateway::{Adobe, JsonBody};
use crate::emulator::state::{AppState, Ctx, Entity, Rendered, Sandbox};

pub trait ConnectionKind: 'static {
    type Rel: Send + Sync + 'static;
    /// The collection's path segment, also the kind named in errors: `sourceConnections`.
    const KIND: &'static str;
    const COLLECTION: &'static Collection;
    /// Fields only [`ConnectionKind::render`] produces (a filter on one renders the entity).
    const COMPUTED: &'static [&'static str];
    /// The JSON Patch paths a PATCH may touch.
    const PATCHABLE: &'static [&'static str];

    fn entities(sandbox: &Sandbox) -> &BTreeMap<String, Entity<Self::Rel>>;
    fn entities_mut(sandbox: &mut Sandbox) -> &mut BTreeMap<String, Entity<Self::Rel>>;
    /// Checks a create body (or a patched document) and keeps the fields the service stores.
    fn validate(body: &Value, cx: &Ctx<'_>) -> Result<(Value, Self::Rel), ApiError>;
    /// The entity as GET and lists show it.
    fn render<'a>(sandbox: &Sandbox, entity: &'a Entity<Self::Rel>) -> Rendered<'a>;
}

pub async fn create<K: ConnectionKind>(
    State(shared): State<AppState>,
    adobe: Adobe,
    JsonBody(body): JsonBody,
) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let (doc, rel) = K::validate(&body, cx)?;
        let entity = Entity::new(doc, rel, cx.now);
        let response = created(K::KIND, &entity.id, &entity.etag);
        K::entities_mut(cx.sandbox).insert(entity.id.clone(), entity);
        Ok(response)
    })
}

pub async fn get<K: ConnectionKind>(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let entity = K::entities(cx.sandbox)
            .get(&id)
            .ok_or_else(|| ApiError::not_found(SERVICE, K::KIND, &id))?;
        Ok(items(K::render(cx.sandbox, entity)))
    })
}

pub async fn list<K: ConnectionKind>(
    State(shared): State<AppState>,
    adobe: Adobe,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = parse_list(&shared, query, K::COLLECTION)?;
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let sandbox = &*cx.sandbox;
        Ok(list_entities(
            &query,
            K::COLLECTION,
            sandbox,
            K::entities(sandbox).values(),
            K::COMPUTED,
            &|e| K::render(sandbox, e),
        ))
    })
}

/// `If-Match` against the current etag, the JSON Patch on the paths the kind allows, the same
/// validation as a create, then the update (which gives the entity a new etag).
pub async fn patch<K: ConnectionKind>(
    State(shared): State<AppState>,
    adobe: Adobe,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult {
    shared.with_sandbox(&adobe.sandbox, |cx| {
        let entity = K::entities(cx.sandbox)
            .get(&id)
            .ok_or_else(|| ApiError::not_found(SERVICE, K::KIND, &id))?;
        crate::emulator::patch::check_if_match(&headers, &entity.etag, K::KIND, &id)?;
        let doc = crate::emulator::patch::apply(&entity.doc, &body, K::PATCHABLE)?;
        let (doc, rel) = K::validate(&doc, cx)?;
        let now = cx.now;
        let entity = K::entities_mut(cx.sandbox)
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found(SERVICE, K::KIND, &id))?;
        entity.update(doc, rel, now);
        Ok(updated(&id, &entity.etag))
    })
}
