//! Owners' disputes, for supervisors: `GET /api/v1/disputes` (those waiting for an answer) and
//! `POST /api/v1/violations/{id}/resolve` (the fine upheld or cancelled, with the answer the
//! owner reads in the citizen portal).

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use service_kit::http::JsonBody;
use utoipa::ToSchema;

use super::{
    ApiError,
    openapi::{ErrorBody, WireFineResolution},
};
use crate::{
    auth::Signed,
    db::{
        disputes::{self, Dispute},
        requests::Request,
    },
    four_eyes::Done,
    review::{self, event_id},
    state::AppState,
};

/// The disputes waiting for an answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenDisputes {
    pub items: Vec<Dispute>,
}

#[utoipa::path(get, path = "/api/v1/disputes", tag = "review",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Disputed fines without an answer, oldest first", body = OpenDisputes),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Signed(_officer): Signed,
) -> Result<Json<OpenDisputes>, ApiError> {
    Ok(Json(OpenDisputes {
        items: disputes::open(&state.db, state.review.sealing.as_ref()).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// `upheld` (the fine stands) or `cancelled` (the decision is cancelled).
    pub outcome: String,
    /// The answer to the owner, 1–2000 characters.
    pub answer: String,
}

#[utoipa::path(post, path = "/api/v1/violations/{id}/resolve", tag = "review",
    params(("id" = String, Path, description = "The event id of the fine's violation")),
    request_body = Resolve,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Upheld; the answer is queued for citizen-notify", body = WireFineResolution),
        (status = 202, description = "A cancellation asked: another supervisor confirms it (`POST /api/v1/requests/{id}/confirm`), and then the answer is queued", body = Request),
        (status = 400, description = "An unknown outcome, or no answer", body = ErrorBody),
        (status = 403, description = "Only supervisors answer disputes", body = ErrorBody),
        (status = 409, description = "No fine (`no_fine_issued`), not disputed (`not_disputed`), or a cancellation already waits (`request_waiting`)", body = ErrorBody)))]
pub async fn resolve(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Resolve>,
) -> Result<Response, ApiError> {
    let done = review::resolve(
        &state,
        &officer,
        &event_id(&id)?,
        &body.outcome,
        &body.answer,
    )
    .await?;
    Ok(match done {
        Done::Made(resolution) => Json(resolution).into_response(),
        Done::Requested(request) => (StatusCode::ACCEPTED, Json(request)).into_response(),
    })
}
