//! The officers' work on the queue, shared by the JSON API (`routes::violations`) and the review
//! pages (`ui`): what a violation shows, and the steps on it — plate correction, confirmation
//! (which issues the notice of violation), rejection, and the penalty decision by an officer
//! with sanctioning authority once the owner answered — each checked against the officer's role
//! and written to the audit log.

use protocol::{EventId, PenaltyDecision, Plate, PlateColour, UtcTimestamp, ViolationNotice};
use serde::Deserialize;
use serde_json::json;

use crate::{
    audit::AuditEntry,
    auth::{Officer, Role},
    db::{
        decisions,
        disputes::{self, Dispute, NotOpen},
        evidence,
        fine_updates::is_final,
        fines as db_fines,
        owners::{self, Citizen, LookupResult, Registration},
        requests::{Confirmation, Kind, Request},
        retention::{self, HoldChange},
        review::{self, FineSummary, QueueFilter, Refused},
        violations::{self, Status, StoredViolation},
    },
    error::ServiceError,
    fines::schedule::{Assessment, NoFine},
    four_eyes::{self, Done},
    owners::Lookup,
    state::AppState,
};

/// The queue's filters as a request gives them (query string or form), all optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// A status, `all`, or absent for `pending_review`.
    pub status: Option<String>,
    pub kind: Option<String>,
    pub camera: Option<String>,
    pub plate: Option<String>,
    /// From this RFC 3339 time, or the start of this day in Vietnam (`2025-11-26`).
    pub from: Option<String>,
    /// Before this RFC 3339 time, or up to the end of this day in Vietnam.
    pub to: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A bound of a time filter: an RFC 3339 time, or a calendar day in Vietnam (its start; for `to`,
/// the start of the next day, so the day is included).
fn time_bound(field: &str, text: &str, end: bool) -> Result<time::OffsetDateTime, ServiceError> {
    if let Ok(at) = UtcTimestamp::parse(text) {
        return Ok(at.as_datetime());
    }
    let day = protocol::time::parse_day(text).map_err(|_| {
        ServiceError::bad_request(field, "expected an RFC 3339 time or a day, 2025-11-26")
    })?;
    let day = if end {
        day.next_day()
            .ok_or_else(|| ServiceError::bad_request(field, "out of range"))?
    } else {
        day
    };
    Ok(UtcTimestamp::start_of_vietnam_day(day).as_datetime())
}

impl QueueQuery {
    /// The filter this query asks for; an empty field is no filter.
    pub fn filter(&self) -> Result<QueueFilter, ServiceError> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        };
        let status = match given(&self.status).as_deref() {
            None => Some(Status::PendingReview),
            Some("all") => None,
            Some(s) => Some(
                Status::parse(s)
                    .ok_or_else(|| ServiceError::bad_request("status", "unknown status"))?,
            ),
        };
        let kind = given(&self.kind);
        if let Some(k) = &kind {
            k.parse::<protocol::ViolationKind>()
                .map_err(|e| ServiceError::bad_request("kind", e))?;
        }
        Ok(QueueFilter {
            status,
            kind,
            camera: given(&self.camera),
            plate: given(&self.plate).map(|p| {
                Plate::parse(&p)
                    .map(|p| p.canonical())
                    .unwrap_or(p.to_uppercase())
            }),
            from: given(&self.from)
                .map(|t| time_bound("from", &t, false))
                .transpose()?,
            to: given(&self.to)
                .map(|t| time_bound("to", &t, true))
                .transpose()?,
            limit: self.limit.unwrap_or(50).clamp(1, 200),
            offset: self.offset.unwrap_or(0).max(0),
        })
    }
}

/// One page of the queue as `officer` asks for it; a search by plate (a vehicle's history) is
/// recorded (`plate.searched`) before it is answered.
pub async fn list(
    state: &AppState,
    officer: &Officer,
    q: &QueueQuery,
) -> Result<(review::QueuePage, QueueFilter), ServiceError> {
    let filter = q.filter()?;
    if let Some(plate) = &filter.plate {
        record_read(state, officer, "plate.searched", json!({ "plate": plate })).await?;
    }
    let page = review::list(&state.db, &filter).await?;
    Ok((page, filter))
}

pub fn event_id(text: &str) -> Result<EventId, ServiceError> {
    EventId::parse(text).map_err(|e| ServiceError::bad_request("id", e))
}

/// Everything the officer sees of one violation.
#[derive(Debug, Clone)]
pub struct Detail {
    pub violation: StoredViolation,
    /// Manifest entries whose files have not arrived.
    pub missing: Vec<String>,
    pub fine: Option<FineSummary>,
    /// The registered owner and vehicle of the plate the violation stands on now.
    pub owner: Option<(Citizen, Registration)>,
    /// The organisation that owns the vehicle, when one does (the citizen above answers for
    /// it).
    pub organisation: Option<protocol::Organisation>,
    pub trail: Vec<AuditEntry>,
    /// While pending review: the fine approval would issue, from the schedule in force on the
    /// violation's day, or why none applies.
    pub proposed: Option<Result<Assessment, NoFine>>,
    /// The owner's dispute of the fine, and its answer once given.
    pub dispute: Option<Dispute>,
    /// The documents attached to the answers on its cases.
    pub documents: Vec<crate::db::fine_updates::CaseDocument>,
    /// Changes to the case waiting for a second officer (a reversal, a cancellation) that the
    /// officer may act on.
    pub requests: Vec<Request>,
    /// The legal hold that keeps the case from retention's purge, if one is set.
    pub hold: Option<retention::LegalHold>,
}

/// Records that `officer` read personal data: `action` (`violation.viewed`, `plate.searched`,
/// `licence_points.viewed`) under the officer's own subject, so that the reads of one officer
/// and, through `details`, whose data they read can be told (Law 91/2025/QH15 on personal data
/// protection). The read is answered only once it is on record.
pub async fn record_read(
    state: &AppState,
    officer: &Officer,
    action: &str,
    details: serde_json::Value,
) -> Result<(), ServiceError> {
    let actor = officer.actor();
    state.audit.append(&actor, action, &actor, details).await?;
    Ok(())
}

/// One violation with its evidence state, owner, fine and audit trail, as `officer` reads it
/// (recorded: `violation.viewed`, with the owner shown).
pub async fn detail(
    state: &AppState,
    officer: &Officer,
    id: &EventId,
) -> Result<Detail, ServiceError> {
    let Some(violation) = violations::get(&state.db, id).await? else {
        if let Some((rule, at)) = retention::purged(&state.db, id).await? {
            return Err(ServiceError::gone(
                "purged",
                format!(
                    "violation {id} was purged on {} under the retention rule `{rule}`",
                    protocol::UtcTimestamp::from_datetime(at)
                ),
            ));
        }
        return Err(ServiceError::from(Refused::NotFound(*id)));
    };
    let missing = evidence::missing(&state.db, id).await?;
    let hold = retention::hold_of(&state.db, id).await?;
    let fine = review::fine_of(&state.db, state.review.sealing.as_ref(), id).await?;
    let owner = match (violation.plate_text(), &violation.owner_citizen_id) {
        (Some(plate), Some(_)) => {
            let colour = violation
                .event
                .plate
                .as_ref()
                .map(|p| p.colour)
                .unwrap_or(PlateColour::White);
            owners::find(&state.db, state.review.sealing.as_ref(), plate, colour).await?
        }
        _ => None,
    };
    let organisation = match owner.as_ref().and_then(|(_, r)| r.organisation.as_ref()) {
        Some(code) => owners::organisation(&state.db, code.as_str()).await?,
        None => None,
    };
    let trail = state.audit.for_subject(&format!("violation:{id}")).await?;
    let proposed = if violation.status == Status::PendingReview {
        let e = &violation.event;
        let schedule = db_fines::load_schedule(&state.db).await?;
        Some(schedule.assess_event(e))
    } else {
        None
    };
    let dispute = disputes::of_violation(&state.db, state.review.sealing.as_ref(), id).await?;
    let documents = crate::db::fine_updates::documents_of(&state.db, *id.as_uuid()).await?;
    let requests = four_eyes::waiting_for(state, officer, Some(&format!("violation:{id}"))).await?;
    record_read(
        state,
        officer,
        "violation.viewed",
        json!({
            "violation": id,
            "owner": violation.owner_citizen_id,
        }),
    )
    .await?;
    Ok(Detail {
        violation,
        missing,
        fine,
        owner,
        organisation,
        trail,
        proposed,
        dispute,
        documents,
        requests,
        hold,
    })
}

/// Sets (`Some(reason)`: why the case must be kept, a complaint or a court case) or lifts
/// (`None`) the legal hold of violation `id`, which keeps it from retention's purge
/// ([`crate::db::retention`]). Supervisors only; audited with the change.
pub async fn legal_hold(
    state: &AppState,
    officer: &Officer,
    id: &EventId,
    reason: Option<&str>,
) -> Result<(), ServiceError> {
    officer.require(Role::supervises, "set or lift legal holds")?;
    let reason = reason.map(str::trim);
    if reason.is_some_and(|r| r.is_empty() || r.chars().count() > 500) {
        return Err(ServiceError::invalid(
            "invalid_reason",
            "reason: 1–500 characters",
        ));
    }
    let now = time::OffsetDateTime::now_utc();
    let actor = officer.actor();
    match retention::set_hold(&state.db, &state.audit, id, &actor, reason, now).await? {
        HoldChange::Done => Ok(()),
        HoldChange::Missing { purged: true } => Err(ServiceError::gone(
            "purged",
            format!("violation {id} was purged"),
        )),
        HoldChange::Missing { purged: false } => Err(ServiceError::from(Refused::NotFound(*id))),
    }
}

/// A plate correction's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Corrected {
    pub plate: Plate,
    pub lookup: LookupResult,
}

/// Corrects the plate of a violation pending review (text in display or canonical form, read as
/// the vehicle's plate category) and looks the owner up again.
pub async fn correct_plate(
    state: &AppState,
    officer: &Officer,
    id: &EventId,
    text: &str,
    colour: Option<PlateColour>,
) -> Result<Corrected, ServiceError> {
    officer.require(Role::reviews, "correct plates")?;
    let v = violations::get(&state.db, id)
        .await?
        .ok_or_else(|| ServiceError::from(Refused::NotFound(*id)))?;
    let plate = Plate::parse_as(text.trim(), v.event.vehicle.class.plate_category())
        .map_err(|e| ServiceError::bad_request("plate", e))?;
    let colour = colour
        .or(v.event.plate.as_ref().map(|p| p.colour))
        .or(v.event.plate_unread.as_ref().map(|p| p.colour))
        .unwrap_or(PlateColour::White);
    let lookup = match state.lookup.lookup(&plate.canonical(), colour).await {
        Ok(Lookup::Owner(o)) => LookupResult::Found(o),
        Ok(Lookup::NotRegistered) => LookupResult::NotRegistered,
        Err(e) => {
            return Err(ServiceError::unavailable("registry", e.to_string()));
        }
    };
    review::correct_plate(
        &state.db,
        &state.audit,
        id,
        (&officer.username, &officer.actor()),
        &plate.canonical(),
        colour,
        &lookup,
    )
    .await??;
    Ok(Corrected { plate, lookup })
}

/// Confirms a violation pending review: the case is opened and the notice of violation to the
/// owner queued. Refused while a file of its evidence has not arrived.
pub async fn approve(
    state: &AppState,
    officer: &Officer,
    id: &EventId,
) -> Result<ViolationNotice, ServiceError> {
    officer.require(Role::reviews, "confirm violations")?;
    // The owner is shown what the camera recorded: nothing is confirmed on part of it.
    let missing = evidence::missing(&state.db, id).await?;
    if !missing.is_empty() {
        return Err(ServiceError::conflict(
            "evidence_missing",
            format!(
                "the evidence has not all arrived ({} missing: {}); confirm it once it has",
                missing.len(),
                missing.join(", ")
            ),
        ));
    }
    let schedule = db_fines::load_schedule(&state.db).await?;
    let issued = review::approve(
        &state.db,
        &state.audit,
        id,
        (&officer.username, &officer.actor()),
        &schedule,
        (
            &state.review.settings.issuing_unit,
            state.review.sealing.as_ref(),
        ),
    )
    .await??;
    let n = issued.notice;
    Ok(n)
}

/// What the officer deciding asks for.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// The amount; the middle of the range when absent. Any other amount needs a circumstance.
    pub amount_vnd: Option<u64>,
    /// `mitigating` (the amount lower, down to the range's minimum) or `aggravating` (higher,
    /// up to its maximum).
    pub circumstance: Option<crate::fines::process::Circumstance>,
    /// What the circumstance is (required with one), 1–500 characters.
    pub circumstance_note: Option<String>,
}

/// Decides the answered case of violation `id` (officers with sanctioning authority): the
/// amount (the middle of the range unless a stated circumstance moves it), the decision
/// number, the licence points; the decision goes to the person sanctioned.
pub async fn decide(
    state: &AppState,
    officer: &Officer,
    id: &EventId,
    asked: &DecisionRequest,
) -> Result<PenaltyDecision, ServiceError> {
    officer.require(Role::decides, "issue penalty decisions")?;
    let note = asked
        .circumstance_note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let circumstance = match (asked.circumstance, note) {
        (Some(c), Some(note)) if note.chars().count() <= 500 => Some((c, note.to_owned())),
        (Some(_), _) => {
            return Err(ServiceError::bad_request(
                "circumstance_note",
                "a circumstance needs what it is, 1-500 characters",
            ));
        }
        (None, _) => None,
    };
    let decision = decisions::decide(
        &state.db,
        &state.audit,
        id,
        ((&officer.username, &officer.full_name), &officer.actor()),
        &decisions::Asked {
            amount_vnd: asked.amount_vnd,
            circumstance,
        },
        time::OffsetDateTime::now_utc(),
    )
    .await??;
    Ok(decision)
}

/// Rejects a violation pending review with one of [`review::REJECT_REASONS`]; `other` needs a
/// note.
pub async fn reject(
    state: &AppState,
    officer: &Officer,
    id: &EventId,
    reason: &str,
    note: Option<&str>,
) -> Result<(), ServiceError> {
    officer.require(Role::reviews, "reject violations")?;
    if !review::REJECT_REASONS.contains(&reason) {
        return Err(ServiceError::bad_request(
            "reason",
            format!("must be one of {}", review::REJECT_REASONS.join(", ")),
        ));
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if reason == "other" && note.is_none() {
        return Err(ServiceError::bad_request(
            "note",
            "is required when the reason is `other`",
        ));
    }
    let actor = officer.actor();
    review::reject(
        &state.db,
        &state.audit,
        id,
        (&officer.username, &actor),
        reason,
        note,
    )
    .await??;
    Ok(())
}

/// Answers the owner's dispute of the fine of violation `id` (supervisors): `upheld` or
/// `cancelled`, with the answer the owner will read. An explanation upheld is answered at once;
/// a fine cancelled waits for a second supervisor ([`four_eyes`]).
pub async fn resolve(
    state: &AppState,
    officer: &Officer,
    id: &EventId,
    outcome: &str,
    answer: &str,
) -> Result<Done<protocol::FineResolution>, ServiceError> {
    officer.require(Role::supervises, "answer disputes")?;
    let outcome = protocol::DisputeOutcome::parse(outcome)
        .ok_or_else(|| ServiceError::bad_request("outcome", "must be `upheld` or `cancelled`"))?;
    let answer = answer.trim();
    if answer.is_empty() || answer.chars().count() > 2000 {
        return Err(ServiceError::bad_request(
            "answer",
            "must be 1-2000 characters",
        ));
    }
    if outcome == protocol::DisputeOutcome::Cancelled {
        match review::fine_of(&state.db, state.review.sealing.as_ref(), id).await? {
            None => return Err(ServiceError::from(NotOpen::NoFine)),
            Some(f) if f.status != "disputed" => {
                return Err(ServiceError::from(NotOpen::NotDisputed(f.status)));
            }
            Some(_) => {}
        }
        let change = four_eyes::CaseChange {
            event_id: *id,
            reason: None,
            note: answer.to_owned(),
        };
        let change = serde_json::to_value(change).map_err(ServiceError::internal)?;
        let subject = format!("violation:{id}");
        let request =
            four_eyes::request(state, officer, Kind::FineCancel, &subject, change).await?;
        return Ok(Done::Requested(Box::new(request)));
    }
    let resolution = disputes::resolve(
        &state.db,
        &state.audit,
        id,
        (&officer.username, &officer.actor()),
        (outcome, answer),
        None,
    )
    .await??;
    Ok(Done::Made(resolution))
}

/// What a supervisor's reversal did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Reversed {
    /// The violation's status now: `rejected` (an approval withdrawn) or `pending_review` (a
    /// rejection reopened).
    pub status: String,
    /// The cancellation sent to the owner, when an approval was withdrawn.
    #[schema(value_type = Option<Object>)]
    pub resolution: Option<protocol::FineResolution>,
}

/// A supervisor asks to reverse the decision on violation `id`, saying why in `note` (1–2000
/// characters); another supervisor confirms it ([`four_eyes`]), and then it is made
/// (`reverse_now`). An approval is withdrawn: the fine — unless paid, or disputed (answered
/// through the dispute) — is cancelled with `note` as the answer to the owner, and the violation
/// rejected for `reason` (one of [`review::REJECT_REASONS`]); that is final. A rejection is
/// reopened: the violation goes back to the review queue.
pub async fn reverse(
    state: &AppState,
    officer: &Officer,
    id: &EventId,
    reason: Option<&str>,
    note: &str,
) -> Result<Request, ServiceError> {
    officer.require(Role::supervises, "reverse decisions")?;
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 2000 {
        return Err(ServiceError::bad_request(
            "note",
            "must be 1-2000 characters",
        ));
    }
    let violation = violations::get(&state.db, id)
        .await?
        .ok_or_else(|| ServiceError::from(Refused::NotFound(*id)))?;
    let fine = review::fine_of(&state.db, state.review.sealing.as_ref(), id).await?;
    match (violation.status, fine) {
        (Status::Approved, fine) => {
            let reason = reason.unwrap_or_default();
            if !review::REJECT_REASONS.contains(&reason) {
                return Err(ServiceError::bad_request(
                    "reason",
                    format!("must be one of {}", review::REJECT_REASONS.join(", ")),
                ));
            }
            match fine.map(|f| f.status) {
                Some(s) if s == "disputed" => return Err(ServiceError::from(NotOpen::Disputed)),
                Some(s) if s == "paid" || is_final(&s) => {
                    return Err(ServiceError::from(NotOpen::Final(s)));
                }
                _ => {}
            }
        }
        // A decision withdrawn was cancelled before the owner: that is final.
        (Status::Rejected, Some(fine)) => {
            return Err(ServiceError::from(NotOpen::Final(fine.status)));
        }
        (Status::Rejected, None) => {}
        (other, _) => return Err(nothing_to_reverse(other)),
    }
    let change = four_eyes::CaseChange {
        event_id: *id,
        reason: reason.map(str::to_owned),
        note: note.to_owned(),
    };
    let change = serde_json::to_value(change).map_err(ServiceError::internal)?;
    let subject = format!("violation:{id}");
    four_eyes::request(state, officer, Kind::ViolationReverse, &subject, change).await
}

fn nothing_to_reverse(status: Status) -> ServiceError {
    ServiceError::conflict(
        "not_decided",
        format!(
            "the violation is {}: there is no decision to reverse",
            status.as_str()
        ),
    )
}

/// Reverses the decision on violation `id` as [`reverse`] asked, on a second supervisor's
/// `confirmation` (`officer`), marked confirmed in the same transaction as the change.
pub(crate) async fn reverse_now(
    state: &AppState,
    officer: &Officer,
    id: &EventId,
    reason: Option<&str>,
    note: &str,
    confirmation: &Confirmation,
) -> Result<Reversed, ServiceError> {
    let violation = violations::get(&state.db, id)
        .await?
        .ok_or_else(|| ServiceError::from(Refused::NotFound(*id)))?;
    let from = violation.status;
    let done = match from {
        Status::Approved => {
            let resolution = disputes::withdraw(
                &state.db,
                &state.audit,
                id,
                (&officer.username, &officer.actor()),
                (note, reason.unwrap_or_default()),
                Some(confirmation),
            )
            .await??;
            Reversed {
                status: Status::Rejected.as_str().into(),
                resolution: Some(resolution),
            }
        }
        Status::Rejected => {
            if let Some(fine) =
                review::fine_of(&state.db, state.review.sealing.as_ref(), id).await?
            {
                return Err(ServiceError::from(NotOpen::Final(fine.status)));
            }
            let details = json!({
                "from": from.as_str(),
                "to": Status::PendingReview.as_str(),
                "reason": reason,
                "note": note,
                "fine_id": None::<String>,
            });
            let actor = officer.actor();
            let reopened = review::reopen(
                &state.db,
                &state.audit,
                id,
                &actor,
                &details,
                Some(confirmation),
            );
            reopened.await??;
            Reversed {
                status: Status::PendingReview.as_str().into(),
                resolution: None,
            }
        }
        other => return Err(nothing_to_reverse(other)),
    };
    Ok(done)
}
