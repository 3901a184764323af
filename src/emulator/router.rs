//! Assembles the services on one router. Service routes sit behind the request recorder
//! (outermost) and the fault injector; the `/_emulator/` control routes sit behind neither.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::errors::{ApiError, Service};
use super::state::AppState;
use super::{catalog, control, dataprep, faults, flowservice, ims, recorder, schemaregistry, zoho};

pub fn app(shared: AppState) -> Router {
    let services = Router::new()
        .merge(ims::routes())
        .merge(zoho::routes())
        .merge(flowservice::routes())
        .merge(catalog::routes())
        .merge(dataprep::routes())
        .merge(schemaregistry::routes())
        .fallback(not_found)
        .layer(from_fn_with_state(shared.clone(), faults::inject))
        .layer(from_fn_with_state(shared.clone(), recorder::record));
    services.merge(control::routes()).with_state(shared)
}

async fn not_found(request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let service = Service::of(&path);
    let message = format!("No resource at {} {path}.", request.method());
    match service {
        Service::Flow | Service::Catalog | Service::DataPrep | Service::SchemaRegistry => {
            ApiError::problem(
                service,
                StatusCode::NOT_FOUND,
                1101,
                "Resource not found",
                &message,
            )
            .into_response()
        }
        _ => ApiError::gateway(StatusCode::NOT_FOUND, "404050", &message).into_response(),
    }
}
