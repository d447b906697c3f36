//! Four eyes through the JSON API ([`crate::four_eyes`]): the requests waiting for a second
//! officer (`GET /api/v1/requests`), confirmed (`POST /api/v1/requests/{id}/confirm`: the change
//! is made) or refused (`POST /api/v1/requests/{id}/refuse`; withdrawn by its requester).

use axum::{
    Json,
    extract::{Path, State},
};
use serde::{Deserialize, Serialize};
use service_kit::http::JsonBody;
use utoipa::ToSchema;

use super::{ApiError, openapi::ErrorBody};
use crate::{
    auth::Signed,
    db::requests::Request,
    four_eyes::{self, Confirmed},
};
use crate::{error::ServiceError, state::AppState};

/// Requests waiting for a second officer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Requests {
    pub items: Vec<Request>,
}

fn request_id(text: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(text)
        .map_err(|_| ServiceError::bad_request("id", "not a request id").into())
}

#[utoipa::path(get, path = "/api/v1/requests", tag = "review",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The requests waiting that the officer may confirm or refuse, and their own, oldest first", body = Requests),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Signed(officer): Signed,
) -> Result<Json<Requests>, ApiError> {
    let items = four_eyes::waiting_for(&state, &officer, None).await?;
    Ok(Json(Requests { items }))
}

#[utoipa::path(post, path = "/api/v1/requests/{id}/confirm", tag = "review",
    params(("id" = String, Path, description = "The request id")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Confirmed: the change is made as the confirming officer's", body = Confirmed),
        (status = 403, description = "The officer's role may not make this change", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "The officer asked for it (`second_officer_needed`), it no longer waits (`request_settled`), or the change cannot be made now (the code of its own endpoint)", body = ErrorBody)))]
pub async fn confirm(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
) -> Result<Json<Confirmed>, ApiError> {
    Ok(Json(
        four_eyes::confirm(&state, &officer, request_id(&id)?).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    /// Why, 1–2000 characters.
    pub note: String,
}

#[utoipa::path(post, path = "/api/v1/requests/{id}/refuse", tag = "review",
    params(("id" = String, Path, description = "The request id")),
    request_body = Refusal,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Refused (`refused`), or withdrawn by its requester (`withdrawn`); nothing is changed", body = Request),
        (status = 400, description = "No note", body = ErrorBody),
        (status = 403, description = "Neither allowed to make this change nor its requester", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "It no longer waits (`request_settled`)", body = ErrorBody)))]
pub async fn refuse(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Refusal>,
) -> Result<Json<Request>, ApiError> {
    Ok(Json(
        four_eyes::refuse(&state, &officer, request_id(&id)?, &body.note).await?,
    ))
}
