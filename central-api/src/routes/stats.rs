//! Statistics for the operations centre: `GET /api/v1/stats` (JSON) and `GET /api/v1/stats.csv`
//! (the hourly counts for a spreadsheet). Any signed-in officer may read them.

use axum::{
    Json,
    extract::{Query, State},
    http::header,
    response::{IntoResponse, Response},
};

use super::ApiError;
use crate::state::AppState;
use crate::{
    auth::Signed,
    stats::{self, PeriodQuery, Stats},
};

#[utoipa::path(get, path = "/api/v1/stats", tag = "stats",
    params(PeriodQuery),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The counts of the period", body = Stats),
        (status = 400, description = "A day that does not parse, or a period too long", body = super::openapi::ErrorBody)))]
pub async fn json(
    State(state): State<AppState>,
    Signed(_officer): Signed,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Stats>, ApiError> {
    let (stats, _) = stats::load(&state.db, q.period()?).await?;
    Ok(Json(stats))
}

#[utoipa::path(get, path = "/api/v1/stats.csv", tag = "stats",
    params(PeriodQuery),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "hour_local,device_id,device_name,camera_id,kind,status,count", content_type = "text/csv", body = String),
        (status = 400, description = "A day that does not parse, or a period too long", body = super::openapi::ErrorBody)))]
pub async fn csv(
    State(state): State<AppState>,
    Signed(_officer): Signed,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    let period = q.period()?;
    let (_, buckets) = stats::load(&state.db, period).await?;
    let name = format!(
        "attachment; filename=\"vi-pham-{}-{}.csv\"",
        period.from, period.to
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        stats::csv(&buckets),
    )
        .into_response())
}
