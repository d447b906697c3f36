//! The review queue as a JSON API: list with filters, one violation, plate correction,
//! approval (which issues the fine) and rejection. The work itself is in [`crate::review`],
//! shared with the review pages.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use protocol::{PlateColour, UtcTimestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::{
    auth::{Role, Signed},
    db::review as db_review,
    review::{self, QueueQuery, event_id},
};

pub async fn list(
    State(state): State<AppState>,
    Signed(_officer): Signed,
    Query(q): Query<QueueQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = db_review::list(&state.db, &q.filter()?).await?;
    Ok(Json(json!({ "items": page.items, "total": page.total })))
}

pub async fn get(
    State(state): State<AppState>,
    Signed(_officer): Signed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let d = review::detail(&state, &event_id(&id)?).await?;
    let v = &d.violation;
    let trail = d
        .trail
        .iter()
        .map(|e| json!({ "at": e.at, "actor": e.actor, "action": e.action, "details": e.details }))
        .collect::<Vec<_>>();
    Ok(Json(json!({
        "event": v.event,
        "status": v.status.as_str(),
        "received_at": UtcTimestamp::from_datetime(v.received_at),
        "payload_sha256": v.payload_sha256,
        "plate": v.plate_text(),
        "owner_lookup": v.owner_lookup,
        "owner_citizen_id": v.owner_citizen_id,
        "evidence_missing": d.missing,
        "fine": d.fine,
        "audit": trail,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlateCorrection {
    pub plate: String,
    pub colour: Option<PlateColour>,
}

pub async fn correct_plate(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
    Json(body): Json<PlateCorrection>,
) -> Result<Json<Value>, ApiError> {
    let done =
        review::correct_plate(&state, &officer, &event_id(&id)?, &body.plate, body.colour).await?;
    Ok(Json(
        json!({ "plate": done.plate.display(), "owner_lookup": done.lookup.as_str() }),
    ))
}

pub async fn approve(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let notice = review::approve(&state, &officer, &event_id(&id)?).await?;
    Ok(Json(json!({ "fine": notice })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    pub reason: String,
    pub note: Option<String>,
}

pub async fn reject(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
    Json(body): Json<Rejection>,
) -> Result<StatusCode, ApiError> {
    review::reject(
        &state,
        &officer,
        &event_id(&id)?,
        &body.reason,
        body.note.as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/audit/verify`: walks the whole chain (auditors, supervisors, admins).
pub async fn verify_audit(
    State(state): State<AppState>,
    Signed(officer): Signed,
) -> Result<Json<Value>, ApiError> {
    officer.require(Role::audits, "read the audit log")?;
    Ok(Json(match state.audit.verify().await? {
        Ok(entries) => json!({ "ok": true, "entries": entries }),
        Err(broken) => json!({ "ok": false, "broken_at": broken.seq, "reason": broken.reason }),
    }))
}
