//! The review queue and the officers' work on it: listing with filters, plate correction,
//! confirmation (which opens the case and queues the notice of violation to the owner in the same
//! transaction) and rejection.
//! The queue's listing is in `queue`, the case as the review side shows it in `fine`.

mod fine;
mod queue;

pub use fine::*;
pub use queue::*;

use protocol::{EventId, Plate, UtcTimestamp, ViolationEvent, ViolationNotice, wire};
use sqlx::types::Json;
use time::{Duration, OffsetDateTime};

use super::{
    Db, DbError, on_pool,
    requests::{Confirmation, settle_in, with_confirmation},
    violations::Status,
};
use crate::audit::{AuditLog, append_in, commit_audited};
use crate::fines::{FineSchedule, NoFine, process};

/// Commits `$tx`, with the entry `$action` (`$details`) by `$actor` on violation `$id` when the
/// change touched its one row (`$changed`): a review step and its audit entry commit together.
macro_rules! commit_step {
    ($tx:ident, $postgres:expr, $changed:expr, $actor:expr, $action:expr, $id:expr, $details:expr) => {
        commit_audited!(
            $tx,
            $postgres,
            $changed,
            $actor,
            $action,
            &format!("violation:{}", $id),
            $details
        )
    };
}

/// Why a decision could not be taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    #[error("no violation {0}")]
    NotFound(EventId),
    #[error("the violation is {0}, not pending review")]
    NotPending(String),
    #[error("the owner of the plate is not known: correct the plate or reject")]
    NoOwner,
    #[error("{0} corrected the plate: another officer confirms the violation")]
    OwnCorrection(String),
    #[error("no fine can be proposed: {0}")]
    NoFine(NoFine),
    #[error("the request no longer waits: confirmed, refused or lapsed meanwhile")]
    Settled,
    #[error(
        "the time to sanction this violation ended at {0} (Law 15/2012/QH13, Article 6 clause 1 point a): reject it"
    )]
    TimeBarred(UtcTimestamp),
}

/// A notice just issued.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    pub notice: ViolationNotice,
}

/// A violation as [`approve`] reads it.
#[derive(sqlx::FromRow)]
struct ApprovalRow {
    event: Json<ViolationEvent>,
    status: String,
    plate: Option<String>,
    plate_colour: Option<String>,
    owner_citizen_id: Option<String>,
    owner_organisation: Option<String>,
    plate_corrected_by: Option<String>,
}

/// Confirms a violation pending review as `officer` (`actor` in the audit log): assesses it
/// against the schedule in force on its day (the range and the provision; the amount proposed
/// for the decision to come), opens the case, records the notice of violation to send to the
/// owner and its `violation.confirmed` audit entry, all in one transaction. Nothing is decided
/// here: the decision is [`super::decisions::decide`], after the owner answers.
pub async fn approve(
    db: &Db,
    audit: &AuditLog,
    id: &EventId,
    (officer, actor): (&str, &str),
    schedule: &FineSchedule,
    (issuing_unit, key): (&str, Option<&crate::sealed::SealingKey>),
) -> Result<Result<Issued, Refused>, DbError> {
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    let result = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let row = sqlx::query_as::<_, ApprovalRow>(
            "SELECT event, status, COALESCE(corrected_plate, plate_text) AS plate, plate_colour,
                    owner_citizen_id, owner_organisation, plate_corrected_by
             FROM violations WHERE event_id = $1",
        )
        .bind(*id.as_uuid())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Err(Refused::NotFound(*id)));
        };
        let ApprovalRow {
            event: Json(event),
            status,
            plate,
            plate_colour,
            owner_citizen_id: owner,
            owner_organisation: organisation,
            plate_corrected_by: corrected_by,
        } = row;
        let colour = colour_of(plate_colour);
        if status != Status::PendingReview.as_str() {
            return Ok(Err(Refused::NotPending(status)));
        }
        // A violation past the time it may be sanctioned in opens no case.
        let barred = process::time_bar(event.occurred_at.as_datetime());
        if now >= barred {
            return Ok(Err(Refused::TimeBarred(UtcTimestamp::from_datetime(barred))));
        }
        // Four eyes: a plate an officer corrected names the person fined; another confirms it.
        if let Some(by) = corrected_by.filter(|by| by == officer) {
            return Ok(Err(Refused::OwnCorrection(by)));
        }
        let Some(owner) = owner.as_deref().and_then(|o| protocol::CitizenId::parse(o).ok()) else {
            return Ok(Err(Refused::NoOwner));
        };
        let e = &event;
        let assessment = match schedule.assess_event(e) {
            Ok(a) => a,
            Err(no) => return Ok(Err(Refused::NoFine(no))),
        };
        let fine_id = uuid::Uuid::now_v7();
        let fine_key = fine_id.hyphenated().to_string();
        let plate_text = plate.unwrap_or_default();
        let notice_due = e.occurred_at.as_datetime() + Duration::days(process::NOTICE_DAYS);
        let sealed: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT phone, email FROM citizens WHERE citizen_id = $1")
                .bind(owner.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let contact = sealed
            .map(|(phone, email)| -> Result<protocol::Contact, DbError> {
                let (phone, email) =
                    super::owners::open_contact(key, owner.as_str(), phone, email)?;
                Ok(contact_of(phone, email))
            })
            .transpose()?;
        // A vehicle an organisation owns: the notice is to it, answered by its representative.
        let organisation = match organisation {
            None => None,
            Some(code) => Some(
                super::owners::organisation_in!(&mut *tx, &code)?
                    .ok_or_else(|| DbError::Corrupt(format!("organisation {code} not recorded")))?,
            ),
        };
        let notice = notice_to(
            e,
            &Addressee {
                fine_id,
                citizen: owner.clone(),
                contact,
                named_as: None,
                organisation,
            },
            &plate_text,
            colour,
            &assessment.rule.reference,
            notice_due,
            now,
            issuing_unit,
        );
        let payload = notice_payload(&notice)?;
        let answer_due = notice.answer_due.as_datetime();
        // An organisation's case: its range (twice an individual's) and no points.
        let rule = &assessment.rule;
        let ((min_vnd, max_vnd), points) = process::Offender::of(notice.organisation.as_ref())
            .fine((rule.min_vnd, rule.max_vnd), rule.points);
        sqlx::query(
            "INSERT INTO fines (fine_id, event_id, citizen_id, plate_text, amount_vnd, points,
                                legal_reference, notice_due, status, issued_by, issued_at,
                                answer_due, min_vnd, max_vnd, organisation)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&fine_key)
        .bind(*id.as_uuid())
        .bind(owner.as_str())
        .bind(&plate_text)
        .bind(process::middle(min_vnd, max_vnd) as i64)
        .bind(i32::from(points))
        .bind(&assessment.rule.reference)
        .bind(notice_due)
        .bind("issued")
        .bind(officer)
        .bind(now)
        .bind(answer_due)
        .bind(min_vnd as i64)
        .bind(max_vnd as i64)
        .bind(notice.organisation.as_ref().map(|o| o.enterprise_code.as_str()))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE violations SET status = $1, reviewed_by = $2, reviewed_at = $3 WHERE event_id = $4",
        )
        .bind(Status::Approved.as_str())
        .bind(officer)
        .bind(now)
        .bind(*id.as_uuid())
        .execute(&mut *tx)
        .await?;
        let sealed = super::at_rest::NOTICES.seal(key, &fine_key, &payload)?;
        super::enqueue!(tx, "violation_notice", &fine_key, &sealed, now);
        append_in!(
            tx,
            postgres,
            actor,
            "violation.confirmed",
            &format!("violation:{id}"),
            &serde_json::json!({
                "fine_id": notice.fine_id,
                "citizen_id": notice.citizen_id.as_str(),
                "organisation": notice.organisation.as_ref().map(|o| o.enterprise_code.as_str()),
                "legal_reference": notice.legal_reference,
                "answer_due": notice.answer_due,
            })
        );
        tx.commit().await?;
        Ok(Issued { notice })
    });
    Ok(result)
}

/// Who a notice goes to: the case's id and the person, with how they may be reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Addressee {
    pub fine_id: uuid::Uuid,
    pub citizen: protocol::CitizenId,
    pub contact: Option<protocol::Contact>,
    /// What the owner named the addressee as, when it is not the owner.
    pub named_as: Option<protocol::NamedAs>,
    /// The organisation the notice is to, when one owns the vehicle: `citizen` answers for it.
    pub organisation: Option<protocol::Organisation>,
}

/// The contact a notice carries: a number it could not carry is left out, not sent wrong.
pub fn contact_of(phone: Option<String>, email: Option<String>) -> protocol::Contact {
    protocol::Contact {
        phone: phone.filter(|p| protocol::Contact::valid_phone(p)),
        email,
    }
}

/// A stored plate colour (`violations.plate_colour`: the colour read, or the one an officer
/// corrected it to); white, the private plate's, when none was read.
pub fn colour_of(stored: Option<String>) -> protocol::PlateColour {
    stored
        .as_deref()
        .and_then(protocol::PlateColour::parse)
        .unwrap_or(protocol::PlateColour::White)
}

/// The notice of violation `e` to `to`, issued at `now`: to be answered within
/// [`process::ANSWER_DAYS`].
#[allow(clippy::too_many_arguments)] // the notice's parts, each from its own row
pub fn notice_to(
    e: &ViolationEvent,
    to: &Addressee,
    plate_text: &str,
    plate_colour: protocol::PlateColour,
    legal_reference: &str,
    notice_due: OffsetDateTime,
    now: OffsetDateTime,
    issuing_unit: &str,
) -> ViolationNotice {
    let plate = Plate::parse_as(plate_text, e.vehicle.class.plate_category())
        .map(|p| p.display())
        .unwrap_or_else(|_| plate_text.to_owned());
    ViolationNotice {
        fine_id: to.fine_id,
        event_id: e.event_id,
        citizen_id: to.citizen.clone(),
        plate,
        plate_colour,
        vehicle_class: e.vehicle.class,
        kind: e.kind,
        occurred_at: e.occurred_at,
        place: e.site.name.clone(),
        address: e.site.address.clone(),
        measurement: e.measurement.clone(),
        legal_reference: legal_reference.to_owned(),
        notice_due: UtcTimestamp::from_datetime(notice_due),
        answer_due: UtcTimestamp::from_datetime(now + Duration::days(process::ANSWER_DAYS)),
        issued_at: UtcTimestamp::from_datetime(now),
        issuing_unit: issuing_unit.to_owned(),
        evidence: protocol::for_citizens(&e.evidence),
        contact: to.contact.clone(),
        named_as: to.named_as,
        organisation: to.organisation.clone(),
    }
}

/// A notice as the outbox carries it.
pub fn notice_payload(notice: &ViolationNotice) -> Result<String, DbError> {
    let payload =
        wire::encode(notice).map_err(|e| DbError::Corrupt(format!("violation notice: {e}")))?;
    String::from_utf8(payload).map_err(|e| DbError::Corrupt(e.to_string()))
}

/// Reasons an officer may reject a violation for.
pub const REJECT_REASONS: [&str; 7] = [
    "plate_unreadable",
    "not_a_violation",
    "emergency_vehicle",
    "duplicate",
    "equipment_fault",
    "owner_unknown",
    "other",
];

/// Rejects a violation pending review with a reason code.
pub async fn reject(
    db: &Db,
    audit: &AuditLog,
    id: &EventId,
    (officer, actor): (&str, &str),
    reason: &str,
    note: Option<&str>,
) -> Result<Result<(), Refused>, DbError> {
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let details = serde_json::json!({ "reason": reason, "note": note });
    let _one_at_a_time = audit.lock().await;
    let changed = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE violations SET status = $1, reviewed_by = $2, reviewed_at = $3, reject_reason = $4,
                    review_note = $5
             WHERE event_id = $6 AND status = $7",
        )
        .bind(Status::Rejected.as_str())
        .bind(officer)
        .bind(now)
        .bind(reason)
        .bind(note)
        .bind(*id.as_uuid())
        .bind(Status::PendingReview.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // The rejection and who made it are kept with it: retention purges a rejected case
        // from its review on.
        commit_step!(tx, postgres, changed, actor, "violation.rejected", id, &details);
        changed
    });
    decided(db, id, changed).await
}

/// A supervisor (`actor`) reopens a rejected violation: back in the review queue, the
/// rejection kept in the audit log only; its `violation.reversed` entry (`details`) commits
/// with it, and so does a second officer's `confirmation` of the request for it.
pub async fn reopen(
    db: &Db,
    audit: &AuditLog,
    id: &EventId,
    actor: &str,
    details: &serde_json::Value,
    confirmation: Option<&Confirmation>,
) -> Result<Result<(), Refused>, DbError> {
    let postgres = matches!(db, Db::Postgres(_));
    let now = OffsetDateTime::now_utc();
    let details = with_confirmation(details.clone(), confirmation);
    let _one_at_a_time = audit.lock().await;
    let changed = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        if !settle_in!(tx, confirmation, now) {
            return Ok(Err(Refused::Settled));
        }
        let changed = sqlx::query(
            "UPDATE violations SET status = $1, reviewed_by = NULL, reviewed_at = NULL,
                    reject_reason = NULL, review_note = NULL
             WHERE event_id = $2 AND status = $3",
        )
        .bind(Status::PendingReview.as_str())
        .bind(*id.as_uuid())
        .bind(Status::Rejected.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        commit_step!(tx, postgres, changed, actor, "violation.reversed", id, &details);
        changed
    });
    decided(db, id, changed).await
}

/// The outcome of a decision that updated `changed` rows of violations pending review: done,
/// or why not (no such violation, or no longer pending).
async fn decided(db: &Db, id: &EventId, changed: u64) -> Result<Result<(), Refused>, DbError> {
    if changed == 1 {
        return Ok(Ok(()));
    }
    Ok(Err(match status_of(db, id).await? {
        None => Refused::NotFound(*id),
        Some(status) => Refused::NotPending(status),
    }))
}

async fn status_of(db: &Db, id: &EventId) -> Result<Option<String>, DbError> {
    let status = on_pool!(db, pool => {
        sqlx::query_scalar::<_, String>("SELECT status FROM violations WHERE event_id = $1")
            .bind(*id.as_uuid())
            .fetch_optional(pool)
            .await?
    });
    Ok(status)
}

/// Records a corrected plate (canonical text), the owner found for it and who corrected it
/// (`officer`: another officer then confirms the violation), with its `plate.corrected` audit
/// entry by `actor` (the plate it replaced in it), in one transaction.
pub async fn correct_plate(
    db: &Db,
    audit: &AuditLog,
    id: &EventId,
    (officer, actor): (&str, &str),
    canonical: &str,
    colour: protocol::PlateColour,
    lookup: &super::owners::LookupResult,
) -> Result<Result<(), Refused>, DbError> {
    let (owner, organisation) = match lookup {
        super::owners::LookupResult::Found(o) => (
            Some(o.citizen.as_str()),
            o.organisation
                .as_ref()
                .map(protocol::EnterpriseCode::as_str),
        ),
        _ => (None, None),
    };
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    let changed = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let from: Option<Option<String>> = sqlx::query_scalar(
            "SELECT COALESCE(corrected_plate, plate_text) FROM violations
             WHERE event_id = $1 AND status = $2",
        )
        .bind(*id.as_uuid())
        .bind(Status::PendingReview.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let changed = sqlx::query(
            "UPDATE violations SET corrected_plate = $1, plate_colour = $2, owner_lookup = $3,
                    owner_citizen_id = $4, plate_corrected_by = $7, owner_organisation = $8
             WHERE event_id = $5 AND status = $6",
        )
        .bind(canonical)
        .bind(colour.as_str())
        .bind(lookup.as_str())
        .bind(owner)
        .bind(*id.as_uuid())
        .bind(Status::PendingReview.as_str())
        .bind(officer)
        .bind(organisation)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let details = serde_json::json!({
            "from": from.flatten(),
            "to": canonical,
            "owner_lookup": lookup.as_str(),
        });
        commit_step!(tx, postgres, changed, actor, "plate.corrected", id, &details);
        changed
    });
    decided(db, id, changed).await
}

/// Messages waiting in the outbox: (id, idempotency key, payload as stored: a notice sealed
/// where a key is configured, [`super::at_rest::NOTICES`]).
pub async fn outbox_pending(db: &Db) -> Result<Vec<(i64, String, String)>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, (i64, String, String)>(
            "SELECT id, idempotency_key, payload FROM outbox WHERE delivered_at IS NULL ORDER BY id",
        )
        .fetch_all(pool)
        .await?
    });
    Ok(rows)
}

/// The notice of the open case of violation `id` as it was sent, with its addressee as the
/// population database holds them: what the paper notice prints. `None` without a case.
pub async fn sent_notice(
    db: &Db,
    key: Option<&crate::sealed::SealingKey>,
    id: &EventId,
) -> Result<Option<(ViolationNotice, super::owners::Citizen)>, DbError> {
    let row: Option<(String, String)> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT o.idempotency_key, o.payload FROM fines f
             JOIN outbox o ON o.idempotency_key = f.fine_id AND o.kind = 'violation_notice'
             WHERE f.event_id = $1 AND f.status <> 'transferred'",
        )
        .bind(*id.as_uuid())
        .fetch_optional(pool)
        .await?
    });
    let Some((fine_id, stored)) = row else {
        return Ok(None);
    };
    let payload = super::at_rest::NOTICES.open(key, &fine_id, stored)?;
    let notice: ViolationNotice = wire::decode(payload.as_bytes())
        .map_err(|e| DbError::Corrupt(format!("stored notice of {id}: {e}")))?;
    let person = super::owners::citizen(db, key, &notice.citizen_id)
        .await?
        .ok_or_else(|| DbError::Corrupt(format!("the addressee of the notice of {id}")))?;
    Ok(Some((notice, person)))
}
