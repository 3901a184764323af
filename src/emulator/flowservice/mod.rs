//! Flow Service (`/data/foundation/flowservice`): connection and flow specs, base connections
//! with explore, source and target connections, flows and runs.

mod connections;
mod flows;
mod kinds;
mod runs;
mod sources;
pub mod specs;
mod targets;

use std::borrow::Cow;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::errors::{ApiError, ApiResult, Service, FLOW_BASE};
use super::filter::{self, Collection, Item, ListQuery};
use super::gateway::{query_pairs, Adobe};
use super::state::{AppState, Entity, Rendered, Sandbox};

use connections::Connections;
use sources::SourceConnections;
use targets::TargetConnections;

pub const SERVICE: Service = Service::Flow;

fn path(rest: &str) -> String {
    format!("{FLOW_BASE}{rest}")
}

pub fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route(&path("/connectionSpecs"), get(connection_specs))
        .route(&path("/connectionSpecs/{id}"), get(connection_spec))
        .route(&path("/flowSpecs"), get(flow_specs))
        .route(&path("/flowSpecs/{id}"), get(flow_spec))
        .route(
            &path("/connections"),
            get(kinds::list::<Connections>).post(kinds::create::<Connections>),
        )
        .route(
            &path("/connections/{id}/explore"),
            get(connections::explore),
        )
        .route(&path("/connections/{id}/test"), get(connections::test))
        .route(
            &path("/sourceConnections"),
            get(kinds::list::<SourceConnections>).post(kinds::create::<SourceConnections>),
        )
        .route(
            &path("/targetConnections"),
            get(kinds::list::<TargetConnections>).post(kinds::create::<TargetConnections>),
        )
        .route(&path("/flows"), get(flows::list).post(flows::create))
        .route(
            &path("/flows/{id}/action"),
            axum::routing::post(flows::action),
        )
        .route(&path("/runs"), get(runs::list).post(runs::create))
        .route(&path("/runs/"), axum::routing::post(runs::create))
        .route(
            &path("/runs/{id}/action"),
            axum::routing::post(runs::action),
        );
    // The spec writes some item paths with a trailing slash and the docs without (docs/aep-api.md#disagreements #20).
    for suffix in ["", "/"] {
        router = router
            .route(
                &path(&format!("/connections/{{id}}{suffix}")),
                get(kinds::get::<Connections>)
                    .patch(kinds::patch::<Connections>)
                    .delete(connections::delete),
            )
            .route(
                &path(&format!("/sourceConnections/{{id}}{suffix}")),
                get(kinds::get::<SourceConnections>)
                    .patch(kinds::patch::<SourceConnections>)
                    .delete(sources::delete),
            )
            .route(
                &path(&format!("/targetConnections/{{id}}{suffix}")),
                get(kinds::get::<TargetConnections>)
                    .patch(kinds::patch::<TargetConnections>)
                    .delete(targets::delete),
            )
            .route(
                &path(&format!("/flows/{{id}}{suffix}")),
                get(flows::get).patch(flows::patch).delete(flows::delete),
            )
            .route(&path(&format!("/runs/{{id}}{suffix}")), get(runs::get));
    }
    router
}

/// `201 {id, etag}` with the new resource's `Location`.
fn created(collection: &str, id: &str, etag: &str) -> Response {
    let location = path(&format!("/{collection}/{id}"));
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(json!({"id": id, "etag": etag})),
    )
        .into_response()
}

fn updated(id: &str, etag: &str) -> Response {
    Json(json!({"id": id, "etag": etag})).into_response()
}

/// GET by id answers a list wrapper (docs/aep-api.md#common-conventions).
fn items(item: impl serde::Serialize) -> Response {
    Json(json!({"items": [item]})).into_response()
}

fn parse_list(
    shared: &super::state::Shared,
    query: Option<String>,
    collection: &Collection,
) -> Result<ListQuery, ApiError> {
    let page_cap = shared.faults().page_cap();
    ListQuery::parse(&query_pairs(query.as_deref()), collection, page_cap)
}

/// A Flow Service object as a list sees it: metadata and document fields are read in place;
/// `computed` fields come from the full render, which otherwise runs only for the page.
struct View<'a, R> {
    sandbox: &'a Sandbox,
    entity: &'a Entity<R>,
    computed: &'static [&'static str],
    render: &'a dyn Fn(&Entity<R>) -> Rendered<'_>,
}

impl<R> Item for View<'_, R> {
    fn top(&self, key: &str) -> Option<Cow<'_, Value>> {
        if self.computed.contains(&key) {
            return (self.render)(self.entity).get(key).cloned().map(Cow::Owned);
        }
        if let Some(value) = self.sandbox.meta_field(self.entity, key) {
            return Some(Cow::Owned(value));
        }
        self.entity.doc.get(key).map(Cow::Borrowed)
    }
}

fn list_entities<'a, R: 'a>(
    query: &ListQuery,
    collection: &Collection,
    sandbox: &'a Sandbox,
    entities: impl Iterator<Item = &'a Entity<R>>,
    computed: &'static [&'static str],
    render: &'a dyn Fn(&Entity<R>) -> Rendered<'_>,
) -> Response {
    let views = entities.map(|entity| View {
        sandbox,
        entity,
        computed,
        render,
    });
    Json(query.respond(views, |view| render(view.entity), collection)).into_response()
}
fn invalid_spec(id: &str) -> ApiError {
    ApiError::flow(
        StatusCode::BAD_REQUEST,
        1413,
        "Bad Request",
        &format!("The spec ID provided is invalid: {id}. List the available specs with GET /connectionSpecs."),
    )
}

async fn connection_specs(
    State(shared): State<AppState>,
    _: Adobe,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = parse_list(&shared, query, &filter::CONNECTION_SPECS)?;
    let specs = specs::connection_specs(shared.faults().zoho_spec);
    Ok(Json(query.respond(specs, Value::clone, &filter::CONNECTION_SPECS)).into_response())
}

async fn connection_spec(
    State(shared): State<AppState>,
    _: Adobe,
    Path(id): Path<String>,
) -> ApiResult {
    specs::connection_spec(&id, shared.faults().zoho_spec)
        .map(items)
        .ok_or_else(|| ApiError::not_found(SERVICE, "connectionSpecs", &id))
}

async fn flow_specs(
    State(shared): State<AppState>,
    _: Adobe,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = parse_list(&shared, query, &filter::FLOW_SPECS)?;
    let specs = specs::flow_specs(shared.faults().zoho_spec);
    Ok(Json(query.respond(specs, Value::clone, &filter::FLOW_SPECS)).into_response())
}

async fn flow_spec(State(shared): State<AppState>, _: Adobe, Path(id): Path<String>) -> ApiResult {
    specs::flow_spec(&id, shared.faults().zoho_spec)
        .map(items)
        .ok_or_else(|| ApiError::not_found(SERVICE, "flowSpecs", &id))
}

/// Every Flow Service object of the sandbox, rendered as the API returns it.
pub fn dump(cx: &crate::emulator::state::Ctx<'_>) -> Value {
    let sandbox = &*cx.sandbox;
    let mut runs: Vec<&crate::emulator::runs::Run> = sandbox.runs.all().collect();
    runs.sort_by_key(|r| r.scheduled_at());
    json!({
        "connections": sandbox.connections.values().map(|e| connections::render(sandbox, e)).collect::<Vec<_>>(),
        "sourceConnections": sandbox.source_connections.values().map(|e| sources::render(sandbox, e)).collect::<Vec<_>>(),
        "targetConnections": sandbox.target_connections.values().map(|e| targets::render(sandbox, e)).collect::<Vec<_>>(),
        "flows": sandbox.flows.values().map(|(f, r)| flows::render(sandbox, f, r, cx.now)).collect::<Vec<_>>(),
        "runs": runs.into_iter().map(|r| r.render(sandbox, cx.now)).collect::<Vec<_>>(),
    })
}
