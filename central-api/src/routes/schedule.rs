//! The fine schedule: read by every officer (`GET /api/v1/fine-schedule`), amended by
//! administrators (`POST /api/v1/fine-schedule`) — new rules in force from a coming day, ending
//! the rules they replace on that day, so every violation is fined by the rules of its own day.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use service_kit::http::JsonBody;
use utoipa::ToSchema;

use super::{ApiError, openapi::ErrorBody};
use crate::error::ServiceError;
use crate::state::AppState;
use crate::{
    admin::{self, NewRule},
    auth::{Role, Signed},
    db::fines,
    fines::FineRule,
};

/// Every rule of the schedule, every period.
#[derive(Debug, Serialize, ToSchema)]
pub struct Schedule {
    /// Each: `kind`, `vehicle` (`car` or `motorbike`), `over_kmh_from` / `over_kmh_to`
    /// (speeding bands), `min_vnd`, `max_vnd`, `points`, `reference`, `effective_from`,
    /// `effective_to` (exclusive; absent while in force), `verify`.
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<FineRule>,
}

#[utoipa::path(get, path = "/api/v1/fine-schedule", tag = "admin",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The schedule, every period", body = Schedule),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Signed(_officer): Signed,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(Schedule {
        rules: fines::load_schedule(&state.db).await?.rules,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Amendment {
    /// The first day in force (Vietnam), after today: `2026-07-01`.
    pub effective_from: String,
    pub rules: Vec<NewRule>,
}

/// What an amendment did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Amended {
    pub added: usize,
    /// Rules that end on the amendment's day.
    pub ended: usize,
}

#[utoipa::path(post, path = "/api/v1/fine-schedule", tag = "admin",
    request_body = Amendment,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "In force from its day", body = Amended),
        (status = 400, description = "Not a coming day, or rules that do not fit the schedule", body = ErrorBody),
        (status = 403, description = "Administrators only", body = ErrorBody),
        (status = 409, description = "The schedule changed meanwhile", body = ErrorBody)))]
pub async fn amend(
    State(state): State<AppState>,
    Signed(officer): Signed,
    JsonBody(body): JsonBody<Amendment>,
) -> Result<(StatusCode, Json<Amended>), ApiError> {
    officer.require(Role::administers, "amend the fine schedule")?;
    let (added, ended) = admin::amend_schedule(
        &state.db,
        &state.audit,
        &officer.actor(),
        &body.effective_from,
        &body.rules,
    )
    .await
    .map_err(ServiceError::from)?;
    Ok((StatusCode::CREATED, Json(Amended { added, ended })))
}
