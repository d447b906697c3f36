//! `POST /api/v1/notices`: central-api delivers a notice of violation, authenticated by the
//! shared-secret HMAC; stored once per case (fine id), so a redelivery is acknowledged and
//! changes nothing. `POST /api/v1/resolutions`: central's answer to an owner's explanation, the
//! same way, once per resolution id. `POST /api/v1/decisions`: the penalty decision on a case,
//! once per case.

use std::time::Duration;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use protocol::{FineResolution, PenaltyDecision, ViolationNotice};
use serde_json::{Value, json};
use service_kit::http::signed_message;

use super::{ApiError, AppState};
use crate::db::{self, Stored};

/// A message from central-api: signed with the shared secret, recent, strictly decoded.
fn from_central<M: protocol::Message>(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<M, ApiError> {
    signed_message(
        state.intake.shared_secret.expose().as_bytes(),
        "intake.shared_secret",
        headers,
        body,
        Duration::from_secs(state.intake.max_clock_skew_s),
    )
}

pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let notice: ViolationNotice = from_central(&state, &headers, &body)?;
    let fine_id = notice.fine_id.to_string();
    let channels = crate::delivery::channels(&state.delivery, &notice);
    match db::store_notice(&state.db, &state.sealing, &notice, &body, &channels).await? {
        Stored::New => {
            tracing::info!(fine_id, kind = notice.kind.as_str(), "notice received");
            Ok((
                StatusCode::CREATED,
                Json(json!({ "fine_id": fine_id, "created": true })),
            ))
        }
        Stored::Duplicate => Ok((
            StatusCode::OK,
            Json(json!({ "fine_id": fine_id, "created": false })),
        )),
        Stored::Conflict => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("another notice for fine {fine_id} was received before"),
        )),
    }
}

pub async fn decision(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let d: PenaltyDecision = from_central(&state, &headers, &body)?;
    let fine_id = d.fine_id.to_string();
    let created = |created: bool| {
        Json(json!({ "decision_id": d.decision_id, "fine_id": fine_id, "created": created }))
    };
    match db::store_decision(&state.db, &state.sealing, &d, &body).await? {
        Some(Stored::New) => {
            tracing::info!(fine_id, decision = %d.decision_number, "decision received");
            Ok((StatusCode::CREATED, created(true)))
        }
        Some(Stored::Duplicate) => Ok((StatusCode::OK, created(false))),
        Some(Stored::Conflict) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("case {fine_id} has another decision already"),
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_fine",
            format!("no notice of case {fine_id} was received"),
        )),
    }
}

pub async fn resolution(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let r: FineResolution = from_central(&state, &headers, &body)?;
    let fine_id = r.fine_id.to_string();
    match db::store_resolution(&state.db, &state.sealing, &r, &body).await? {
        db::Resolved::New => {
            tracing::info!(fine_id, outcome = r.outcome.as_str(), "dispute answered");
            Ok((
                StatusCode::CREATED,
                Json(json!({ "resolution_id": r.resolution_id, "created": true })),
            ))
        }
        db::Resolved::Duplicate => Ok((
            StatusCode::OK,
            Json(json!({ "resolution_id": r.resolution_id, "created": false })),
        )),
        db::Resolved::UnknownFine => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_fine",
            format!("no notice of fine {fine_id} was received"),
        )),
    }
}
