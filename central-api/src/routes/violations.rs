//! The review queue as a JSON API: list with filters, one violation, plate correction,
//! approval (which issues the fine) and rejection. Every decision goes into the audit log.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use protocol::{EventId, Plate, PlateColour, UtcTimestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::{
    auth::{Role, Signed},
    db::{
        fines as db_fines,
        owners::LookupResult,
        review::{self, QueueFilter, Refused},
        violations::{self, Status},
    },
    owners::Lookup,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub camera: Option<String>,
    pub plate: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

fn bad_request(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        format!("`{field}`: {message}"),
    )
}

fn event_id(text: &str) -> Result<EventId, ApiError> {
    EventId::parse(text).map_err(|e| bad_request("id", e))
}

fn refused(r: Refused) -> ApiError {
    let (status, code) = match &r {
        Refused::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        Refused::NotPending(_) => (StatusCode::CONFLICT, "not_pending"),
        Refused::NoOwner => (StatusCode::CONFLICT, "no_owner"),
        Refused::NoFine(_) => (StatusCode::CONFLICT, "no_fine"),
    };
    ApiError::new(status, code, r.to_string())
}

pub async fn list(
    State(state): State<AppState>,
    Signed(_officer): Signed,
    Query(q): Query<QueueQuery>,
) -> Result<Json<Value>, ApiError> {
    let time = |field: &str, v: Option<String>| {
        v.map(|t| {
            UtcTimestamp::parse(&t)
                .map(|t| t.as_datetime())
                .map_err(|e| bad_request(field, e))
        })
        .transpose()
    };
    let status = match q.status.as_deref() {
        None => Some(Status::PendingReview),
        Some("all") => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| bad_request("status", "unknown status"))?),
    };
    let filter = QueueFilter {
        status,
        kind: q.kind,
        camera: q.camera,
        plate: q
            .plate
            .map(|p| Plate::parse(&p).map(|p| p.canonical()).unwrap_or(p)),
        from: time("from", q.from)?,
        to: time("to", q.to)?,
        limit: q.limit.unwrap_or(50).clamp(1, 200),
        offset: q.offset.unwrap_or(0).max(0),
    };
    let items = review::list(&state.db, &filter).await?;
    Ok(Json(json!({ "items": items })))
}

pub async fn get(
    State(state): State<AppState>,
    Signed(_officer): Signed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = event_id(&id)?;
    let v = violations::get(&state.db, &id)
        .await?
        .ok_or_else(|| refused(Refused::NotFound(id)))?;
    let missing = crate::db::evidence::missing(&state.db, &id).await?;
    let fine = review::fine_of(&state.db, &id).await?.map(|(number, amount, points, status)| {
        json!({ "decision_number": number, "amount_vnd": amount, "points": points, "status": status })
    });
    let trail = state
        .audit
        .for_subject(&format!("violation:{id}"))
        .await?
        .into_iter()
        .map(|e| json!({ "at": e.at, "actor": e.actor, "action": e.action, "details": e.details }))
        .collect::<Vec<_>>();
    Ok(Json(json!({
        "event": v.event,
        "status": v.status.as_str(),
        "received_at": UtcTimestamp::from_datetime(v.received_at),
        "payload_sha256": v.payload_sha256,
        "owner_lookup": v.owner_lookup,
        "owner_citizen_id": v.owner_citizen_id,
        "evidence_missing": missing,
        "fine": fine,
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
    officer.require(Role::reviews, "correct plates")?;
    let id = event_id(&id)?;
    let v = violations::get(&state.db, &id)
        .await?
        .ok_or_else(|| refused(Refused::NotFound(id)))?;
    let plate = Plate::parse_as(&body.plate, v.event.vehicle.class.plate_category())
        .map_err(|e| bad_request("plate", e))?;
    let colour = body
        .colour
        .or(v.event.plate.as_ref().map(|p| p.colour))
        .unwrap_or(PlateColour::White);
    let result = match state.lookup.lookup(&plate.canonical(), colour).await {
        Ok(Lookup::Owner(c)) => LookupResult::Found(c),
        Ok(Lookup::NotRegistered) => LookupResult::NotRegistered,
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "registry",
                e.to_string(),
            ));
        }
    };
    review::correct_plate(&state.db, &id, &plate.canonical(), &result)
        .await?
        .map_err(refused)?;
    let from = v.event.plate.as_ref().map(|p| p.text.clone());
    state
        .audit
        .append(
            &officer.actor(),
            "plate.corrected",
            &format!("violation:{id}"),
            json!({ "from": from, "to": plate.canonical(), "owner_lookup": result.as_str() }),
        )
        .await?;
    Ok(Json(
        json!({ "plate": plate.display(), "owner_lookup": result.as_str() }),
    ))
}

pub async fn approve(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    officer.require(Role::reviews, "approve violations")?;
    let id = event_id(&id)?;
    let schedule = db_fines::load_schedule(&state.db).await?;
    let issued = review::approve(
        &state.db,
        &id,
        &officer.username,
        &schedule,
        &state.review.settings.issuing_unit,
    )
    .await?
    .map_err(refused)?;
    let n = &issued.notice;
    state
        .audit
        .append(
            &officer.actor(),
            "violation.approved",
            &format!("violation:{id}"),
            json!({
                "decision_number": n.decision_number,
                "amount_vnd": n.amount_vnd,
                "points": n.points,
                "legal_reference": n.legal_reference,
            }),
        )
        .await?;
    Ok(Json(json!({ "fine": n })))
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
    officer.require(Role::reviews, "reject violations")?;
    let id = event_id(&id)?;
    if !review::REJECT_REASONS.contains(&body.reason.as_str()) {
        return Err(bad_request(
            "reason",
            format!("must be one of {}", review::REJECT_REASONS.join(", ")),
        ));
    }
    let note = body
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if body.reason == "other" && note.is_none() {
        return Err(bad_request(
            "note",
            "is required when the reason is `other`",
        ));
    }
    review::reject(&state.db, &id, &officer.username, &body.reason, note)
        .await?
        .map_err(refused)?;
    state
        .audit
        .append(
            &officer.actor(),
            "violation.rejected",
            &format!("violation:{id}"),
            json!({ "reason": body.reason, "note": note }),
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
