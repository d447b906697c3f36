//! The HTTP routes, one file per resource; [`router`] is separate from serving so tests drive it
//! without a socket.

pub mod admin;
pub mod corrections;
pub mod devices;
pub mod disputes;
pub mod error;
pub mod evidence;
pub mod fines;
pub mod openapi;
pub mod requests;
pub mod schedule;
pub mod session;
pub mod stats;
pub mod violations;

use axum::{Router, extract::DefaultBodyLimit, routing::get};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub use error::ApiError;

/// The JSON API: each route registered together with its description in the OpenAPI document.
pub fn api() -> OpenApiRouter<AppState> {
    // The handler streams and counts the body itself, against evidence.max_bytes.
    let (schemas, paths, put_evidence) = routes!(evidence::put);
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes((
            schemas,
            paths,
            put_evidence.layer(DefaultBodyLimit::disable()),
        ))
        .routes(routes!(session::sign_in, session::sign_out))
        .routes(routes!(violations::list))
        .routes(routes!(violations::get))
        .routes(routes!(violations::correct_plate))
        .routes(routes!(violations::approve))
        .routes(routes!(violations::decide))
        .routes(routes!(violations::paper_notice))
        .routes(routes!(violations::licence_points))
        .routes(routes!(violations::reject))
        .routes(routes!(violations::reverse))
        .routes(routes!(
            violations::set_legal_hold,
            violations::lift_legal_hold
        ))
        .routes(routes!(violations::verify_audit))
        .routes(routes!(disputes::list))
        .routes(routes!(corrections::list, corrections::record))
        .routes(routes!(corrections::answer))
        .routes(routes!(corrections::acknowledge))
        .routes(routes!(corrections::extend))
        .routes(routes!(devices::list, admin::register_device))
        .routes(routes!(admin::revoke_device))
        .routes(routes!(admin::cameras))
        .routes(routes!(admin::save_camera))
        .routes(routes!(admin::officers, admin::save_officer))
        .routes(routes!(admin::disable_officer))
        .routes(routes!(admin::unlock_officer))
        .routes(routes!(schedule::get, schedule::amend))
        .routes(routes!(disputes::resolve))
        .routes(routes!(requests::list))
        .routes(routes!(requests::confirm))
        .routes(routes!(requests::refuse))
        .routes(routes!(stats::json))
        .routes(routes!(stats::csv))
        .routes(routes!(fines::update))
        .routes({
            // A document is up to 5 MB, more than the default limit of a body.
            let (schemas, paths, put) = routes!(fines::put_document);
            (
                schemas,
                paths,
                put.layer(DefaultBodyLimit::max(
                    protocol::answer_document::MAX_DOCUMENT_BYTES as usize + 1,
                )),
            )
        })
        .routes(routes!(evidence::get_linked))
}

/// The whole service: the JSON API, its OpenAPI document at `/api/openapi.json`, and the review
/// pages.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api().split_for_parts();
    // Written once; each request gets the same bytes.
    let doc = bytes::Bytes::from(openapi::document(doc).to_string());
    api.route(
        "/api/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    doc,
                )
            }
        }),
    )
    .merge(crate::ui::router())
    .with_state(state)
}
