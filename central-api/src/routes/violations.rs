//! The review queue as a JSON API: list with filters, one violation, plate correction,
//! confirmation (which issues the notice of violation), rejection, and the penalty decision on
//! an answered case. The work itself is in [`crate::review`],
//! shared with the review pages.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use protocol::{PenaltyDecision, PlateColour, UtcTimestamp, ViolationEvent, ViolationNotice};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_kit::http::JsonBody;
use utoipa::ToSchema;

use super::{
    ApiError,
    openapi::{ErrorBody, WirePenaltyDecision, WireViolationEvent, WireViolationNotice},
};
use crate::error::ServiceError;
use crate::{
    audit_anchor,
    auth::{Role, Signed},
    db::{
        requests::Request,
        retention::LegalHold,
        review::{FineSummary, QueuePage},
    },
    review::{self, QueueQuery, event_id},
    state::AppState,
};

#[utoipa::path(get, path = "/api/v1/violations", tag = "review",
    params(QueueQuery),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "One page of the queue, oldest first", body = QueuePage),
        (status = 400, description = "A filter that does not parse", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Query(q): Query<QueueQuery>,
) -> Result<Json<QueuePage>, ApiError> {
    Ok(Json(review::list(&state, &officer, &q).await?.0))
}

/// One entry of a violation's audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrailEntry {
    /// UTC, to the millisecond.
    pub at: String,
    pub actor: String,
    pub action: String,
    #[schema(value_type = Object)]
    pub details: Value,
}

/// When and why a closed case's evidence files were deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceDeleted {
    /// The retention rule: `closed_case_evidence`.
    pub rule: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: UtcTimestamp,
}

/// A violation as the reviewer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViolationDetail {
    /// The signed event as the device sent it.
    #[schema(value_type = WireViolationEvent)]
    pub event: ViolationEvent,
    /// `received`, `pending_review`, `approved` or `rejected`.
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub received_at: UtcTimestamp,
    /// SHA-256 of the exact bytes received.
    pub payload_sha256: String,
    /// The plate it stands on now (canonical): the officer's correction, else the read.
    pub plate: Option<String>,
    /// `found`, `not_registered`, `no_plate` or `failed`.
    pub owner_lookup: Option<String>,
    pub owner_citizen_id: Option<String>,
    /// Evidence files of the manifest not yet received.
    pub evidence_missing: Vec<String>,
    /// The evidence files deleted by retention once the case closed; the event still names
    /// each with its hash.
    pub evidence_deleted: Option<EvidenceDeleted>,
    /// Who decided, and for a rejection its reason code and note.
    pub reviewed_by: Option<String>,
    pub reject_reason: Option<String>,
    pub review_note: Option<String>,
    pub fine: Option<FineSummary>,
    /// The legal hold that keeps the case from retention's purge.
    pub legal_hold: Option<LegalHold>,
    pub audit: Vec<TrailEntry>,
}

#[utoipa::path(get, path = "/api/v1/violations/{id}", tag = "review",
    params(("id" = String, Path, description = "The event id (UUIDv7)")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The violation", body = ViolationDetail),
        (status = 404, description = "No such violation", body = ErrorBody),
        (status = 410, description = "Purged by retention", body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
) -> Result<Json<ViolationDetail>, ApiError> {
    let d = review::detail(&state, &officer, &event_id(&id)?).await?;
    let v = d.violation;
    Ok(Json(ViolationDetail {
        status: v.status.as_str().to_owned(),
        received_at: UtcTimestamp::from_datetime(v.received_at),
        plate: v
            .corrected_plate
            .clone()
            .or(v.event.plate.as_ref().map(|p| p.text.clone())),
        payload_sha256: v.payload_sha256,
        owner_lookup: v.owner_lookup,
        owner_citizen_id: v.owner_citizen_id,
        evidence_missing: d.missing,
        evidence_deleted: v.evidence_deleted.map(|(rule, at)| EvidenceDeleted {
            rule,
            at: UtcTimestamp::from_datetime(at),
        }),
        reviewed_by: v.reviewed_by,
        reject_reason: v.reject_reason,
        review_note: v.review_note,
        fine: d.fine,
        legal_hold: d.hold,
        audit: d
            .trail
            .into_iter()
            .map(|e| TrailEntry {
                at: e.at,
                actor: e.actor,
                action: e.action,
                details: e.details,
            })
            .collect(),
        event: v.event,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlateCorrection {
    /// `51F-123.45`, `59-X1 123.45` or the canonical text.
    pub plate: String,
    /// The plate's colour, if the read one was wrong: `white`, `yellow`, `blue`, `red`,
    /// `white_red_text`.
    #[schema(value_type = Option<String>)]
    pub colour: Option<PlateColour>,
}

/// A corrected plate and what the owner lookup found for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlateCorrected {
    /// The display form.
    pub plate: String,
    pub owner_lookup: String,
}

#[utoipa::path(post, path = "/api/v1/violations/{id}/plate", tag = "review",
    params(("id" = String, Path, description = "The event id")),
    request_body = PlateCorrection,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Corrected; the owner looked up again", body = PlateCorrected),
        (status = 400, description = "Not a plate of the vehicle's kind", body = ErrorBody),
        (status = 403, description = "The role may not correct plates, or no CSRF token", body = ErrorBody),
        (status = 409, description = "No longer pending review", body = ErrorBody),
        (status = 503, description = "The registry could not be reached", body = ErrorBody)))]
pub async fn correct_plate(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PlateCorrection>,
) -> Result<Json<PlateCorrected>, ApiError> {
    let done =
        review::correct_plate(&state, &officer, &event_id(&id)?, &body.plate, body.colour).await?;
    Ok(Json(PlateCorrected {
        plate: done.plate.display(),
        owner_lookup: done.lookup.as_str().to_owned(),
    }))
}

/// The notice of violation a confirmation issued.
#[derive(Debug, Serialize, ToSchema)]
pub struct Approved {
    #[schema(value_type = WireViolationNotice)]
    pub notice: ViolationNotice,
}

#[utoipa::path(post, path = "/api/v1/violations/{id}/approve", tag = "review",
    params(("id" = String, Path, description = "The event id")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Confirmed: the case is open and the notice of violation to the owner queued (no amount, no decision)", body = Approved),
        (status = 403, description = "The role may not approve, or no CSRF token", body = ErrorBody),
        (status = 409, description = "Not pending review (`not_pending`), no owner (`no_owner`) or no fine in the schedule (`no_fine`)", body = ErrorBody)))]
pub async fn approve(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
) -> Result<Json<Approved>, ApiError> {
    let notice = review::approve(&state, &officer, &event_id(&id)?).await?;
    Ok(Json(Approved { notice }))
}

#[utoipa::path(post, path = "/api/v1/violations/{id}/decision", tag = "review",
    params(("id" = String, Path, description = "The event id")),
    request_body = review::DecisionRequest,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Decided: numbered, points deducted, sent to the person sanctioned", body = WirePenaltyDecision),
        (status = 400, description = "A circumstance without its note", body = ErrorBody),
        (status = 403, description = "The role holds no sanctioning authority", body = ErrorBody),
        (status = 409, description = "No case, not answered yet, decided already, closed, in the explanation period, or an amount the range or the circumstance does not allow", body = ErrorBody)))]
pub async fn decide(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<review::DecisionRequest>,
) -> Result<Json<PenaltyDecision>, ApiError> {
    let decision = review::decide(&state, &officer, &event_id(&id)?, &body).await?;
    Ok(Json(decision))
}

/// Which licence's points.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PointsQuery {
    /// `car` or `motorbike`.
    pub licence: String,
}

#[utoipa::path(get, path = "/api/v1/citizens/{citizen_id}/licence-points", tag = "review",
    params(("citizen_id" = String, Path, description = "The licence holder's citizen id"), PointsQuery),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The points left of 12 and the deductions", body = crate::db::decisions::LicencePoints),
        (status = 400, description = "An unknown licence or citizen id", body = ErrorBody),
        (status = 403, description = "The role may not see licence points", body = ErrorBody)))]
pub async fn licence_points(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(citizen_id): Path<String>,
    Query(q): Query<PointsQuery>,
) -> Result<Json<crate::db::decisions::LicencePoints>, ApiError> {
    officer.require(Role::sees_points, "see licence points")?;
    let citizen = protocol::CitizenId::parse(&citizen_id)
        .map_err(|e| ServiceError::bad_request("citizen_id", e))?;
    let licence = crate::fines::VehicleCategory::parse(&q.licence)
        .ok_or_else(|| ServiceError::bad_request("licence", "must be `car` or `motorbike`"))?;
    let points = crate::db::decisions::licence_points(
        &state.db,
        citizen.as_str(),
        licence,
        time::OffsetDateTime::now_utc(),
    )
    .await?;
    review::record_read(
        &state,
        &officer,
        "licence_points.viewed",
        serde_json::json!({ "citizen": citizen.as_str(), "licence": licence.as_str() }),
    )
    .await?;
    Ok(Json(points))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// `plate_unreadable`, `not_a_violation`, `emergency_vehicle`, `duplicate`,
    /// `equipment_fault`, `owner_unknown` or `other` (with a note).
    pub reason: String,
    pub note: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/violations/{id}/reject", tag = "review",
    params(("id" = String, Path, description = "The event id")),
    request_body = Rejection,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Rejected"),
        (status = 400, description = "An unknown reason, or `other` without a note", body = ErrorBody),
        (status = 403, description = "The role may not reject, or no CSRF token", body = ErrorBody),
        (status = 409, description = "No longer pending review", body = ErrorBody)))]
pub async fn reject(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Rejection>,
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// Why the case must be kept: the complaint or the court case, 1–500 characters.
    pub reason: String,
}

#[utoipa::path(put, path = "/api/v1/violations/{id}/legal-hold", tag = "review",
    params(("id" = String, Path, description = "The event id")),
    request_body = HoldRequest,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Held: retention does not purge the case until the hold is lifted"),
        (status = 400, description = "No reason, or one over 500 characters", body = ErrorBody),
        (status = 403, description = "Only supervisors set legal holds", body = ErrorBody),
        (status = 404, description = "No such violation", body = ErrorBody),
        (status = 410, description = "Purged before the hold", body = ErrorBody)))]
pub async fn set_legal_hold(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<HoldRequest>,
) -> Result<StatusCode, ApiError> {
    review::legal_hold(&state, &officer, &event_id(&id)?, Some(&body.reason)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/violations/{id}/legal-hold", tag = "review",
    params(("id" = String, Path, description = "The event id")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "The hold lifted (or there was none): retention applies again"),
        (status = 403, description = "Only supervisors lift legal holds", body = ErrorBody),
        (status = 404, description = "No such violation", body = ErrorBody),
        (status = 410, description = "Purged", body = ErrorBody)))]
pub async fn lift_legal_hold(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    review::legal_hold(&state, &officer, &event_id(&id)?, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reversal {
    /// Withdrawing an approval: the reason code the violation is rejected with (as for a
    /// rejection). Not used when reopening a rejection.
    pub reason: Option<String>,
    /// Why, 1–2000 characters; when an approval is withdrawn, the answer the owner reads.
    pub note: String,
}

#[utoipa::path(post, path = "/api/v1/violations/{id}/reverse", tag = "review",
    params(("id" = String, Path, description = "The event id")),
    request_body = Reversal,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 202, description = "Asked: another supervisor confirms it (`POST /api/v1/requests/{id}/confirm`), and then an approval is withdrawn (the fine cancelled, the owner told) or a rejection reopened", body = Request),
        (status = 400, description = "No note, or an unknown reason", body = ErrorBody),
        (status = 403, description = "Only supervisors reverse decisions", body = ErrorBody),
        (status = 409, description = "Not decided yet; the fine is paid or disputed; a reversal already waits (`request_waiting`)", body = ErrorBody)))]
pub async fn reverse(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Reversal>,
) -> Result<(StatusCode, Json<Request>), ApiError> {
    let asked = review::reverse(
        &state,
        &officer,
        &event_id(&id)?,
        body.reason.as_deref(),
        &body.note,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(asked)))
}

/// The audit log's chain, walked, and checked against its anchors.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditCheck {
    pub ok: bool,
    /// Entries checked, when the chain holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<i64>,
    /// Anchors the chain was checked against (`audit.anchor_file`), when they read back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchors: Option<usize>,
    /// The first entry that does not hold, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl AuditCheck {
    fn broken(seq: Option<i64>, reason: String) -> Self {
        Self {
            ok: false,
            entries: None,
            anchors: None,
            broken_at: seq,
            reason: Some(reason),
        }
    }
}

/// `GET /api/v1/audit/verify`: walks the whole chain and checks it against the anchors written
/// outside the database (auditors, supervisors, admins).
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "review",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Whether the chain holds", body = AuditCheck),
        (status = 403, description = "The role may not read the audit log", body = ErrorBody)))]
pub async fn verify_audit(
    State(state): State<AppState>,
    Signed(officer): Signed,
) -> Result<Json<AuditCheck>, ApiError> {
    officer.require(Role::audits, "read the audit log")?;
    let entries = match state.audit.verify().await? {
        Ok(entries) => entries,
        Err(broken) => return Ok(Json(AuditCheck::broken(Some(broken.seq), broken.reason))),
    };
    let anchors = match &state.anchors {
        None => None,
        Some(a) => {
            let (file, keys) = (a.file.clone(), a.keys.clone());
            let read = tokio::task::spawn_blocking(move || audit_anchor::read(&file, &keys))
                .await
                .map_err(ApiError::internal)?;
            let anchors = match read {
                Ok(anchors) => anchors,
                Err(e) => return Ok(Json(AuditCheck::broken(None, e.to_string()))),
            };
            if let Some(broken) = audit_anchor::check(&state.audit, &anchors).await? {
                return Ok(Json(AuditCheck::broken(Some(broken.seq), broken.reason)));
            }
            Some(anchors.len())
        }
    };
    Ok(Json(AuditCheck {
        ok: true,
        entries: Some(entries),
        anchors,
        broken_at: None,
        reason: None,
    }))
}

#[utoipa::path(get, path = "/api/v1/violations/{id}/notice.pdf", tag = "review",
    params(("id" = String, Path, description = "The event id")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The notice of violation on one A4 page, for the post", content_type = "application/pdf"),
        (status = 403, description = "The role may not print notices", body = ErrorBody),
        (status = 404, description = "No notice was issued for this violation", body = ErrorBody)))]
pub async fn paper_notice(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    officer.require(Role::prints_notices, "print notices")?;
    let id = event_id(&id)?;
    let Some((notice, person)) =
        crate::db::review::sent_notice(&state.db, state.review.sealing.as_ref(), &id).await?
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_notice",
            "no notice was issued for this violation",
        ));
    };
    // A notice to an organisation goes to its head office (Circular 73/2024/TT-BCA, Article 24
    // clause 1: where the owner "cư trú, đóng trụ sở").
    let organisation = notice.organisation.as_ref().map(|o| {
        (
            format!("{} (mã số doanh nghiệp {})", o.name, o.enterprise_code),
            o,
        )
    });
    let to = match &organisation {
        Some((name, o)) => crate::paper::Recipient {
            full_name: name,
            address: &o.address,
        },
        None => crate::paper::Recipient {
            full_name: &person.full_name,
            address: &person.address,
        },
    };
    let pdf = crate::paper::render(&notice, to, &state.review.settings.portal_url)
        .map_err(ApiError::internal)?;
    state
        .audit
        .append(
            &officer.actor(),
            "notice.printed",
            &format!("violation:{id}"),
            serde_json::json!({ "fine_id": notice.fine_id }),
        )
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"thong-bao-{}.pdf\"", notice.fine_id),
            ),
        ],
        pdf,
    )
        .into_response())
}
