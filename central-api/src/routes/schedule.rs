//! The fine schedule: read by every officer (`GET /api/v1/fine-schedule`), amended by
//! administrators (`POST /api/v1/fine-schedule`) — new rules in force from a coming day, ending
//! the rules they replace on that day, so every violation is fined by the rules of its own day.

use axum::{Json, extract::State, http::StatusCode};
use protocol::{ViolationKind, time::VIETNAM};
use serde::{Deserialize, Serialize};
use serde_json::json;
use service_kit::http::JsonBody;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{ApiError, AppState, openapi::ErrorBody};
use crate::{
    auth::{Role, Signed},
    db::fines::{self, NotAmended},
    fines::{FineRule, VehicleCategory},
    review::bad_request,
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

/// One rule of an amendment; it is in force from the amendment's day.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    /// `red_light`, `speeding`, `wrong_way`, `wrong_lane`, `illegal_stopping`, `no_helmet`.
    #[schema(value_type = String)]
    pub kind: ViolationKind,
    /// `car` or `motorbike`.
    #[schema(value_type = String)]
    pub vehicle: VehicleCategory,
    /// Speeding only: the band of km/h over the limit, from inclusive, to exclusive.
    pub over_kmh_from: Option<u32>,
    pub over_kmh_to: Option<u32>,
    pub min_vnd: u64,
    pub max_vnd: u64,
    pub points: u8,
    /// Article, clause and point of the decree.
    pub reference: String,
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
    let from = protocol::time::parse_day(&body.effective_from)
        .map_err(|_| bad_request("effective_from", "expected a day, 2026-07-01"))?;
    let today = OffsetDateTime::now_utc().to_offset(VIETNAM).date();
    if from <= today {
        return Err(bad_request(
            "effective_from",
            "must be a coming day: violations already seen keep the rules of their day",
        ));
    }
    let rules: Vec<FineRule> = body
        .rules
        .into_iter()
        .map(|r| FineRule {
            kind: r.kind,
            vehicle: r.vehicle,
            over_kmh_from: r.over_kmh_from,
            over_kmh_to: r.over_kmh_to,
            min_vnd: r.min_vnd,
            max_vnd: r.max_vnd,
            points: r.points,
            reference: r.reference.trim().to_owned(),
            effective_from: from,
            effective_to: None,
            verify: false,
        })
        .collect();
    if rules.iter().any(|r| r.reference.is_empty()) {
        return Err(bad_request("rules", "each rule needs its legal reference"));
    }
    let ended = match fines::amend(&state.db, from, &rules).await? {
        Ok(ended) => ended,
        Err(NotAmended::Invalid(e)) => return Err(bad_request("rules", e)),
        Err(e @ NotAmended::Changed) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "changed",
                e.to_string(),
            ));
        }
    };
    state
        .audit
        .append(
            &officer.actor(),
            "fine_schedule.amended",
            "fine_schedule",
            json!({
                "effective_from": body.effective_from,
                "rules": rules,
                "ended": ended,
            }),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Amended {
            added: rules.len(),
            ended,
        }),
    ))
}
