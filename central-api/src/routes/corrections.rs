//! Citizens' requests to correct their personal data ([`crate::db::corrections`]), for
//! supervisors: `POST /api/v1/corrections` records one as it arrived, `GET /api/v1/corrections`
//! lists those waiting (or one citizen's), `POST /api/v1/corrections/{id}/acknowledge` records
//! that the citizen was answered with the procedure, `POST /api/v1/corrections/{id}/extend`
//! extends its period once, `POST /api/v1/corrections/{id}/answer` answers it.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use protocol::{CitizenId, UtcTimestamp};
use serde::{Deserialize, Serialize};
use service_kit::http::JsonBody;
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, openapi::ErrorBody};
use crate::state::AppState;
use crate::{
    auth::{Officer, Role, Signed},
    db::{
        corrections::{
            self, Acted, CHANNELS, Correction, EXTEND_MAX_DAYS, NewCorrection, OUTCOMES,
        },
        violations,
    },
    review::event_id,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The citizen who asks (12 digits).
    pub citizen_id: String,
    /// The case the request concerns, if it names one (its event id).
    pub event_id: Option<String>,
    /// How it arrived: `in_person`, `post`, `email` or `portal`.
    pub channel: String,
    /// What the citizen asks to be corrected, 1–4000 characters.
    pub request: String,
    /// When it arrived (RFC 3339); now when absent. Not in the future.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub received_at: Option<UtcTimestamp>,
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

/// `text` trimmed, if it holds 1 to `max` characters.
fn text(field: &'static str, text: &str, max: usize) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(bad("invalid_text", format!("{field}: 1–{max} characters")));
    }
    Ok(text.to_owned())
}

#[utoipa::path(post, path = "/api/v1/corrections", tag = "review",
    request_body = Record,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Recorded, waiting for an answer", body = Correction),
        (status = 400, description = "A malformed citizen id (`invalid_citizen_id`), an unknown channel (`invalid_channel`), an empty or overlong request (`invalid_text`), a time in the future (`invalid_time`) or a malformed event id", body = ErrorBody),
        (status = 403, description = "Only supervisors record correction requests", body = ErrorBody),
        (status = 404, description = "No such violation", body = ErrorBody)))]
pub async fn record(
    State(state): State<AppState>,
    Signed(officer): Signed,
    JsonBody(body): JsonBody<Record>,
) -> Result<(StatusCode, Json<Correction>), ApiError> {
    let recorded = record_as(&state, &officer, &body).await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}

/// Records `body` as `officer` (a supervisor), refusing what is malformed with the field named.
pub(crate) async fn record_as(
    state: &AppState,
    officer: &Officer,
    body: &Record,
) -> Result<Correction, ApiError> {
    officer.require(Role::supervises, "record correction requests")?;
    let citizen = CitizenId::parse(body.citizen_id.trim())
        .map_err(|e| bad("invalid_citizen_id", format!("citizen_id: {e}")))?;
    if !CHANNELS.contains(&body.channel.as_str()) {
        return Err(bad(
            "invalid_channel",
            format!("channel: one of {}", CHANNELS.join(", ")),
        ));
    }
    let request = text("request", &body.request, 4000)?;
    let now = time::OffsetDateTime::now_utc();
    let received_at = body.received_at.map_or(now, |t| t.as_datetime());
    if received_at > now {
        return Err(bad("invalid_time", "received_at: not in the future"));
    }
    let event = body
        .event_id
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(event_id)
        .transpose()?;
    if let Some(id) = &event
        && violations::get(&state.db, id).await?.is_none()
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no violation {id}"),
        ));
    }
    let new = NewCorrection {
        citizen: &citizen,
        event_id: event.as_ref(),
        channel: &body.channel,
        request: &request,
        received_at,
    };
    Ok(corrections::record(
        &state.db,
        state.review.sealing.as_ref(),
        &state.audit,
        &new,
        &officer.actor(),
        now,
    )
    .await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Which {
    /// One citizen's requests, answered or not, newest first; without it, those waiting for an
    /// answer, oldest first.
    pub citizen_id: Option<String>,
}

/// Correction requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct Corrections {
    pub items: Vec<Correction>,
}

#[utoipa::path(get, path = "/api/v1/corrections", tag = "review",
    params(Which),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The requests", body = Corrections),
        (status = 400, description = "A malformed citizen id", body = ErrorBody),
        (status = 403, description = "Only supervisors see correction requests", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Query(which): Query<Which>,
) -> Result<Json<Corrections>, ApiError> {
    officer.require(Role::supervises, "see correction requests")?;
    let citizen = which
        .citizen_id
        .as_deref()
        .map(|c| CitizenId::parse(c.trim()))
        .transpose()
        .map_err(|e| bad("invalid_citizen_id", format!("citizen_id: {e}")))?;
    Ok(Json(Corrections {
        items: corrections::list(&state.db, state.review.sealing.as_ref(), citizen.as_ref())
            .await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// `corrected` (the data was corrected), `referred` (it is held at its source — the vehicle
    /// registration or the population database — and the request was sent there) or `refused`
    /// (the data is right; the answer says why).
    pub outcome: String,
    /// The answer given to the citizen, 1–4000 characters.
    pub answer: String,
}

#[utoipa::path(post, path = "/api/v1/corrections/{id}/answer", tag = "review",
    params(("id" = String, Path, description = "The request's id")),
    request_body = Answer,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Answered", body = Correction),
        (status = 400, description = "An unknown outcome (`invalid_outcome`) or an empty or overlong answer (`invalid_text`)", body = ErrorBody),
        (status = 403, description = "Only supervisors answer correction requests", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "Answered before (`already_answered`): the first answer stands", body = ErrorBody)))]
pub async fn answer(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Answer>,
) -> Result<Json<Correction>, ApiError> {
    Ok(Json(answer_as(&state, &officer, &id, &body).await?))
}

/// Answers request `id` with `body` as `officer` (a supervisor), once.
pub(crate) async fn answer_as(
    state: &AppState,
    officer: &Officer,
    id: &str,
    body: &Answer,
) -> Result<Correction, ApiError> {
    officer.require(Role::supervises, "answer correction requests")?;
    let request_id = request_id(id)?;
    if !OUTCOMES.contains(&body.outcome.as_str()) {
        return Err(bad(
            "invalid_outcome",
            format!("outcome: one of {}", OUTCOMES.join(", ")),
        ));
    }
    let answer = text("answer", &body.answer, 4000)?;
    let now = time::OffsetDateTime::now_utc();
    let acted = corrections::answer(
        &state.db,
        state.review.sealing.as_ref(),
        &state.audit,
        request_id,
        (&body.outcome, &answer),
        &officer.actor(),
        now,
    )
    .await?;
    done(id, acted)
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no correction request {id}"),
    )
}

fn request_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|_| not_found(id))
}

/// The request after a step on it, or why the step was not taken.
fn done(id: &str, acted: Acted) -> Result<Correction, ApiError> {
    let conflict = |code, message: String| ApiError::new(StatusCode::CONFLICT, code, message);
    match acted {
        Acted::Done(c) => Ok(*c),
        Acted::NotFound => Err(not_found(id)),
        Acted::AlreadyAnswered => Err(conflict(
            "already_answered",
            format!("correction request {id} was answered before"),
        )),
        Acted::AlreadyDone => Err(conflict(
            "already_done",
            format!("correction request {id}: done before, and only once"),
        )),
        Acted::PeriodOver => Err(conflict(
            "period_over",
            format!("correction request {id}: its period has run out, it cannot be extended"),
        )),
    }
}

#[utoipa::path(post, path = "/api/v1/corrections/{id}/acknowledge", tag = "review",
    params(("id" = String, Path, description = "The request's id")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Recorded: the citizen was answered with the procedure (within 2 working days of the request, Decree 356/2025/NĐ-CP, Article 5 clause 3)", body = Correction),
        (status = 403, description = "Only supervisors handle correction requests", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "Acknowledged before (`already_done`) or answered (`already_answered`)", body = ErrorBody)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
) -> Result<Json<Correction>, ApiError> {
    Ok(Json(acknowledge_as(&state, &officer, &id).await?))
}

/// Records, as `officer` (a supervisor), that the citizen of request `id` was answered with the
/// procedure.
pub(crate) async fn acknowledge_as(
    state: &AppState,
    officer: &Officer,
    id: &str,
) -> Result<Correction, ApiError> {
    officer.require(Role::supervises, "handle correction requests")?;
    let now = time::OffsetDateTime::now_utc();
    let acted = corrections::acknowledge(
        &state.db,
        state.review.sealing.as_ref(),
        &state.audit,
        request_id(id)?,
        &officer.actor(),
        now,
    )
    .await?;
    done(id, acted)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// Days added to the period, 1–10.
    pub days: u32,
    /// Why, as the citizen is told, 1–4000 characters.
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/corrections/{id}/extend", tag = "review",
    params(("id" = String, Path, description = "The request's id")),
    request_body = Extension,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Extended: once, by at most 10 days, the citizen told why (Decree 356/2025/NĐ-CP, Article 5 clause 3)", body = Correction),
        (status = 400, description = "Days outside 1–10 (`invalid_days`), an empty or overlong reason (`invalid_text`)", body = ErrorBody),
        (status = 403, description = "Only supervisors handle correction requests", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "Extended before (`already_done`), answered (`already_answered`), or its period has run out (`period_over`)", body = ErrorBody)))]
pub async fn extend(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Extension>,
) -> Result<Json<Correction>, ApiError> {
    Ok(Json(extend_as(&state, &officer, &id, &body).await?))
}

/// Extends, as `officer` (a supervisor), the period of request `id` as `body` says.
pub(crate) async fn extend_as(
    state: &AppState,
    officer: &Officer,
    id: &str,
    body: &Extension,
) -> Result<Correction, ApiError> {
    officer.require(Role::supervises, "handle correction requests")?;
    let request = request_id(id)?;
    if !(1..=EXTEND_MAX_DAYS).contains(&body.days) {
        return Err(bad(
            "invalid_days",
            format!("days: 1–{EXTEND_MAX_DAYS} (one extension of at most {EXTEND_MAX_DAYS} days)"),
        ));
    }
    let reason = text("reason", &body.reason, 4000)?;
    let now = time::OffsetDateTime::now_utc();
    let acted = corrections::extend(
        &state.db,
        state.review.sealing.as_ref(),
        &state.audit,
        request,
        (body.days, &reason),
        &officer.actor(),
        now,
    )
    .await?;
    done(id, acted)
}
