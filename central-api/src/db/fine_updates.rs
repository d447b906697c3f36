//! What citizen-notify reports about a case: each update stored once (by its id), the case's
//! status moved forward — never back: a late "delivered" does not undo "paid". An answer after
//! its deadline is refused; an owner naming another person as the driver, or as the buyer of a
//! vehicle sold before the violation, moves the case to that person ([`transfer`]). Each update
//! taken and its audit entry commit together.

use protocol::{
    CitizenId, FineChange, FineUpdate, NamedAs, NamedDriver, ResolutionGround, UtcTimestamp,
    ViolationEvent, time::VIETNAM,
};
use service_kit::on_pool;
use sqlx::types::Json;
use time::OffsetDateTime;

use super::{
    Db, DbError,
    owners::Citizen,
    review::{Addressee, colour_of, contact_of, notice_payload, notice_to},
};
use crate::{
    audit::{AuditLog, append_in},
    sealed::SealingKey,
};

/// Who reports fine updates, as the audit log names them.
pub const REPORTER: &str = "service:citizen-notify";

/// The audit entry of `update` taken on the case of violation `event_id`: `fine.{kind}` with what
/// it changed; of a person named, who (masked) and the case they now hold (`moved_to`).
fn trail_entry(update: &FineUpdate, moved_to: Option<uuid::Uuid>) -> (String, serde_json::Value) {
    let kind = update.change.kind();
    let change = match named_in(&update.change) {
        Some((_, id, named_as)) => serde_json::json!({
            "kind": kind,
            "named_as": named_as.as_str(),
            "citizen": id.masked(),
            "moved_to": moved_to,
        }),
        None => serde_json::json!(update.change),
    };
    (
        format!("fine.{kind}"),
        serde_json::json!({
            "fine_id": update.fine_id.hyphenated().to_string(),
            "update_id": update.update_id,
            "at": update.at,
            "change": change,
        }),
    )
}

/// How far along a case is; a status moves only to a later one.
fn rank(status: &str) -> u8 {
    match status {
        "issued" => 0,
        "notice_sent" => 1,
        "notice_delivered" | "notice_failed" => 2,
        "confirmed" | "disputed" => 3,
        // A supervisor's answer to an explanation (central's own step, not an update).
        "upheld" => 4,
        // The penalty decision (central's own step).
        "decided" => 5,
        "paid" => 6,
        // Closed: without a penalty or the decision cancelled, moved to the driver the owner
        // named, or time-barred undecided. Nothing later changes it.
        "cancelled" | "transferred" | "time_barred" => 7,
        _ => 0,
    }
}

/// Whether a case in `status` is closed for good.
pub fn is_final(status: &str) -> bool {
    rank(status) == 7
}

/// Whether the owner (or the driver) has answered a case in `status`.
fn answered(status: &str) -> bool {
    rank(status) >= 3
}

/// The outcome of an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Stored; the case's status is now `status`. `event_id` is the case's violation; `moved_to`
    /// the case opened for the person the owner named, if that is what the update did.
    New {
        status: String,
        event_id: uuid::Uuid,
        moved_to: Option<uuid::Uuid>,
    },
    /// This update was stored before.
    Duplicate,
    UnknownFine,
    /// Not taken, for this reason; nothing changed.
    Refused(AnswerRefused),
}

/// Why an answer is not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerRefused {
    #[error(
        "the notice was to be answered by {0}: an answer after it is not taken online — the person comes to the handling unit"
    )]
    Late(UtcTimestamp),
    #[error("the case is {0}: it was answered before")]
    Answered(String),
    #[error(
        "the case is that of a person the owner named as the driver: they answer for themselves (I was driving, or an explanation)"
    )]
    NamedDriverCase,
    #[error("the owner named themselves: their answer is that they were driving")]
    SelfNamed,
    #[error("no citizen has the identity number {0} in the population database")]
    UnknownCitizen(String),
    #[error("the name given is not the one the population database holds for identity number {0}")]
    NameMismatch(String),
    #[error(
        "the vehicle was sold on {0}, not before the violation: the sale does not move the case"
    )]
    SoldAfter(String),
}

impl AnswerRefused {
    /// The error code central answers with.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Late(_) => "answer_late",
            Self::Answered(_) => "answered",
            Self::NamedDriverCase => "named_driver_case",
            Self::SelfNamed => "self_named",
            Self::UnknownCitizen(_) => "unknown_citizen",
            Self::NameMismatch(_) => "name_mismatch",
            Self::SoldAfter(_) => "sold_after",
        }
    }
}

/// The person an update names (the driver, or the buyer): full name and identity number, and
/// what they are named as.
pub fn named_in(change: &FineChange) -> Option<(&str, &CitizenId, NamedAs)> {
    match change {
        FineChange::DriverNamed { driver } => {
            Some((&driver.full_name, &driver.citizen_id, NamedAs::Driver))
        }
        FineChange::VehicleSold { buyer, .. } => {
            Some((&buyer.full_name, &buyer.citizen_id, NamedAs::Buyer))
        }
        _ => None,
    }
}

/// `resident`, the population database's record of identity number `id` (`None`: no such
/// citizen), when it is the person named `full_name`.
pub fn check_named<'a>(
    full_name: &str,
    id: &CitizenId,
    resident: Option<&'a Citizen>,
) -> Result<&'a Citizen, AnswerRefused> {
    let Some(resident) = resident else {
        return Err(AnswerRefused::UnknownCitizen(id.masked()));
    };
    if NamedDriver::comparable_name(full_name) != NamedDriver::comparable_name(&resident.full_name)
    {
        return Err(AnswerRefused::NameMismatch(id.masked()));
    }
    Ok(resident)
}

/// The case as an update finds it.
#[derive(sqlx::FromRow)]
struct Case {
    status: String,
    event_id: uuid::Uuid,
    #[sqlx(rename = "citizen_id")]
    owner: String,
    answer_due: Option<OffsetDateTime>,
    /// What the person whose case this is was named as, when it was moved to them.
    named_as: Option<String>,
    /// The organisation whose case it is (`owner` answers for it), when it is one's.
    organisation: Option<String>,
}

/// Reads case `$fine_id` in transaction `$tx` and checks update `$update` against it: `return`s
/// the [`Applied`] when it is a duplicate, of an unknown case, or refused.
macro_rules! case_for {
    ($tx:ident, $fine_id:expr, $update:expr) => {{
        let Some(case) = sqlx::query_as::<_, Case>(
            "SELECT f.status, f.event_id, f.citizen_id, f.answer_due, f.organisation, t.named_as
             FROM fines f
             LEFT JOIN case_transfers t ON t.to_fine_id = f.fine_id
             WHERE f.fine_id = $1",
        )
        .bind($fine_id)
        .fetch_optional(&mut *$tx)
        .await?
        else {
            return Ok(Applied::UnknownFine);
        };
        let seen = sqlx::query("SELECT 1 AS seen FROM fine_updates WHERE update_id = $1")
            .bind($update.update_id.hyphenated().to_string())
            .fetch_optional(&mut *$tx)
            .await?;
        if seen.is_some() {
            return Ok(Applied::Duplicate);
        }
        if let Err(refused) = refusal(&case, $update) {
            return Ok(Applied::Refused(refused));
        }
        case
    }};
}

/// Why `update` cannot be taken on `case`, if it cannot.
fn refusal(case: &Case, update: &FineUpdate) -> Result<(), AnswerRefused> {
    let is_answer = matches!(
        update.change,
        FineChange::Confirmed
            | FineChange::Disputed { .. }
            | FineChange::DriverNamed { .. }
            | FineChange::VehicleSold { .. }
            | FineChange::VehicleStolen { .. }
    );
    if !is_answer {
        return Ok(());
    }
    if let Some(due) = case.answer_due
        && update.at.as_datetime() > due
    {
        return Err(AnswerRefused::Late(UtcTimestamp::from_datetime(due)));
    }
    if let Some((_, id, _)) = named_in(&update.change) {
        if answered(&case.status) {
            return Err(AnswerRefused::Answered(case.status.clone()));
        }
        if case.named_as.as_deref() == Some(NamedAs::Driver.as_str()) {
            return Err(AnswerRefused::NamedDriverCase);
        }
        // The person who answers for an organisation may have been driving its vehicle
        // themselves: naming themselves moves the case from the organisation to them.
        if id.as_str() == case.owner && case.organisation.is_none() {
            return Err(AnswerRefused::SelfNamed);
        }
    }
    Ok(())
}

/// Stores update `$update` (`$payload` as received) of case `$fine_id` in transaction `$tx`.
/// The documents the update names are recorded with it, against the case.
macro_rules! store_update {
    ($tx:ident, $key:expr, $fine_id:expr, $update:expr, $payload:expr, $now:expr) => {{
        let update_id = $update.update_id.hyphenated().to_string();
        let stored = super::at_rest::FINE_UPDATES.seal($key, &update_id, $payload)?;
        sqlx::query(
            "INSERT INTO fine_updates (update_id, fine_id, kind, payload, received_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&update_id)
        .bind($fine_id)
        .bind($update.change.kind())
        .bind(&stored)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
        for d in &$update.documents {
            sqlx::query(
                "INSERT INTO answer_documents
                   (fine_id, sha256, update_id, name, content_type, bytes, received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (fine_id, sha256) DO NOTHING",
            )
            .bind($fine_id)
            .bind(d.sha256.to_hex())
            .bind(&update_id)
            .bind(&d.name)
            .bind(&d.content_type)
            .bind(d.bytes as i64)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// Applies an update other than a person named ([`transfer`] takes those), with its audit entry;
/// the update's `payload` is kept sealed under `key` ([`super::at_rest::FINE_UPDATES`]).
pub async fn apply(
    db: &Db,
    audit: &AuditLog,
    update: &FineUpdate,
    (payload, key): (&str, Option<&SealingKey>),
) -> Result<Applied, DbError> {
    let fine_id = update.fine_id.hyphenated().to_string();
    let kind = update.change.kind();
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let case = case_for!(tx, &fine_id, update);
        store_update!(tx, key, &fine_id, update, payload, now);
        // A theft reported is an explanation the supervisor verifies.
        let target = if kind == "vehicle_stolen" { "disputed" } else { kind };
        let status = if rank(target) > rank(&case.status) {
            // A case paid is closed from now: its evidence's retention counts from here.
            sqlx::query(
                "UPDATE fines SET status = $1,
                        closed_at = CASE WHEN $1 = 'paid' THEN $3 ELSE closed_at END
                 WHERE fine_id = $2",
            )
            .bind(target)
            .bind(&fine_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            target.to_owned()
        } else {
            case.status
        };
        if let FineChange::Paid { paid_at, .. } = &update.change {
            sqlx::query("UPDATE fines SET paid_at = $1 WHERE fine_id = $2 AND paid_at IS NULL")
                .bind(paid_at.as_datetime())
                .bind(&fine_id)
                .execute(&mut *tx)
                .await?;
        }
        let (action, details) = trail_entry(update, None);
        let subject = format!("violation:{}", case.event_id.hyphenated());
        append_in!(tx, postgres, REPORTER, &action, &subject, &details);
        tx.commit().await?;
        Ok(Applied::New { status, event_id: case.event_id, moved_to: None })
    })
}

/// The case an owner's answer moves, with its violation, as [`transfer`] reads it.
#[derive(sqlx::FromRow)]
struct TransferredRow {
    plate_text: String,
    amount_vnd: i64,
    points: i32,
    legal_reference: String,
    notice_due: OffsetDateTime,
    issued_by: String,
    min_vnd: Option<i64>,
    max_vnd: Option<i64>,
    event: Json<ViolationEvent>,
    plate_colour: Option<String>,
}

/// The owner names a person (checked against the population database: `resident`) as the
/// driver, or as the buyer of a vehicle sold before the violation: the owner's case ends
/// `transferred`, a case of that person's own opens on the same violation, and the notice to
/// them is queued for citizen-notify — all in one transaction. They answer their notice in turn
/// (Circular 73/2024/TT-BCA, Article 24: the notice goes to the owner and to the organisation
/// or person concerned with the violation).
pub async fn transfer(
    db: &Db,
    audit: &AuditLog,
    update: &FineUpdate,
    (payload, key): (&str, Option<&SealingKey>),
    resident: &Citizen,
    issuing_unit: &str,
) -> Result<Applied, DbError> {
    let Some((_, _, named_as)) = named_in(&update.change) else {
        return apply(db, audit, update, (payload, key)).await;
    };
    let (licence_no, sold_on, contract) = match &update.change {
        FineChange::DriverNamed { driver } => (Some(driver.licence_no.as_str()), None, None),
        FineChange::VehicleSold {
            sold_on, contract, ..
        } => (None, Some(sold_on.as_str()), Some(contract.as_str())),
        _ => (None, None, None),
    };
    let fine_id = update.fine_id.hyphenated().to_string();
    let full_name = super::at_rest::TRANSFER_NAMES.seal(key, &fine_id, &resident.full_name)?;
    let licence_no = licence_no
        .map(|l| super::at_rest::TRANSFER_LICENCES.seal(key, &fine_id, l))
        .transpose()?;
    let contract = contract
        .map(|c| super::at_rest::TRANSFER_CONTRACTS.seal(key, &fine_id, c))
        .transpose()?;
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    // An organisation's case moves to a person at an individual's range and points.
    let schedule = super::fines::load_schedule(db).await?;
    let _one_at_a_time = audit.lock().await;
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let case = case_for!(tx, &fine_id, update);
        let row = sqlx::query_as::<_, TransferredRow>(
            "SELECT f.plate_text, f.amount_vnd, f.points, f.legal_reference, f.notice_due,
                    f.issued_by, f.min_vnd, f.max_vnd, f.organisation, v.event, v.plate_colour
             FROM fines f JOIN violations v ON v.event_id = f.event_id WHERE f.fine_id = $1",
        )
        .bind(&fine_id)
        .fetch_one(&mut *tx)
        .await?;
        let Json(event) = row.event;
        // A sale moves the case only when it came before the violation's day.
        if let Some(day) = sold_on {
            let violation_day = event.occurred_at.as_datetime().to_offset(VIETNAM).date();
            if protocol::notice::parse_day(day).is_none_or(|d| d >= violation_day) {
                return Ok(Applied::Refused(AnswerRefused::SoldAfter(day.to_owned())));
            }
        }
        let plate_text = row.plate_text;
        let colour = colour_of(row.plate_colour);
        let reference = row.legal_reference;
        let notice_due = row.notice_due;
        let (amount, points, min, max) = if case.organisation.is_some() {
            let e = &event;
            let a = schedule.assess_event(e)
                .map_err(|no| DbError::Corrupt(format!("case {fine_id} reassessed: {no}")))?;
            (
                a.amount_vnd as i64,
                i32::from(a.rule.points),
                Some(a.rule.min_vnd as i64),
                Some(a.rule.max_vnd as i64),
            )
        } else {
            (row.amount_vnd, row.points, row.min_vnd, row.max_vnd)
        };
        store_update!(tx, key, &fine_id, update, payload, now);
        sqlx::query("UPDATE fines SET status = 'transferred' WHERE fine_id = $1")
            .bind(&fine_id)
            .execute(&mut *tx)
            .await?;
        // The owner's case is closed in citizen-notify too: nothing is owed on it.
        let (closing_key, closing) =
            super::disputes::closed_by_central(&fine_id, ResolutionGround::Transferred, now)?;
        super::enqueue!(tx, "fine_resolution", closing_key, &closing, now);
        let to = Addressee {
            fine_id: uuid::Uuid::now_v7(),
            citizen: resident.id.clone(),
            contact: Some(contact_of(resident.phone.clone(), resident.email.clone())),
            named_as: Some(named_as),
            organisation: None,
        };
        let notice = notice_to(
            &event,
            &to,
            &plate_text,
            colour,
            &reference,
            notice_due,
            now,
            issuing_unit,
        );
        let to_fine = to.fine_id.hyphenated().to_string();
        sqlx::query(
            "INSERT INTO fines (fine_id, event_id, citizen_id, plate_text, amount_vnd, points,
                                legal_reference, notice_due, status, issued_by, issued_at,
                                answer_due, min_vnd, max_vnd, transferred_from)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'issued', $9, $10, $11, $12, $13, $14)",
        )
        .bind(&to_fine)
        .bind(case.event_id)
        .bind(resident.id.as_str())
        .bind(&plate_text)
        .bind(amount)
        .bind(points)
        .bind(&reference)
        .bind(notice_due)
        .bind(row.issued_by)
        .bind(now)
        .bind(notice.answer_due.as_datetime())
        .bind(min)
        .bind(max)
        .bind(&fine_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO case_transfers
               (fine_id, to_fine_id, named_as, full_name, citizen_id, licence_no, sold_on,
                contract, declared_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&fine_id)
        .bind(&to_fine)
        .bind(named_as.as_str())
        .bind(&full_name)
        .bind(resident.id.as_str())
        .bind(&licence_no)
        .bind(sold_on)
        .bind(&contract)
        .bind(update.at.as_datetime())
        .execute(&mut *tx)
        .await?;
        let sealed = super::at_rest::NOTICES.seal(key, &to_fine, &notice_payload(&notice)?)?;
        super::enqueue!(tx, "violation_notice", &to_fine, &sealed, now);
        let (action, details) = trail_entry(update, Some(to.fine_id));
        let subject = format!("violation:{}", case.event_id.hyphenated());
        append_in!(tx, postgres, REPORTER, &action, &subject, &details);
        tx.commit().await?;
        Ok(Applied::New {
            status: "transferred".to_owned(),
            event_id: case.event_id,
            moved_to: Some(to.fine_id),
        })
    })
}

/// The violation of case `fine_id`, if there is such a case.
pub async fn event_of(db: &Db, fine_id: &str) -> Result<Option<uuid::Uuid>, DbError> {
    on_pool!(db, pool => {
        sqlx::query_scalar("SELECT event_id FROM fines WHERE fine_id = $1")
            .bind(fine_id)
            .fetch_optional(pool)
            .await
            .map_err(DbError::from)
    })
}

/// A document an owner (or the person named) attached to an answer on a case of violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseDocument {
    pub fine_id: String,
    /// The answer it came with (`disputed`, `driver_named`, `vehicle_sold`, `vehicle_stolen`).
    pub answer: String,
    pub document: protocol::AnswerDocument,
}

/// A document of an answer as stored, with the answer's kind.
#[derive(sqlx::FromRow)]
struct DocumentRow {
    fine_id: String,
    kind: String,
    name: String,
    content_type: String,
    sha256: String,
    bytes: i64,
}

impl TryFrom<DocumentRow> for CaseDocument {
    type Error = DbError;

    fn try_from(r: DocumentRow) -> Result<Self, DbError> {
        Ok(Self {
            fine_id: r.fine_id,
            answer: r.kind,
            document: protocol::AnswerDocument::stored(
                r.name,
                r.content_type,
                &r.sha256,
                u64::try_from(r.bytes).unwrap_or(0),
            )
            .map_err(DbError::Corrupt)?,
        })
    }
}

/// The documents attached to the answers on the cases of violation `event_id`, oldest first.
pub async fn documents_of(db: &Db, event_id: uuid::Uuid) -> Result<Vec<CaseDocument>, DbError> {
    on_pool!(db, pool => {
        sqlx::query_as::<_, DocumentRow>(
            "SELECT d.fine_id, u.kind, d.name, d.content_type, d.sha256, d.bytes
             FROM answer_documents d
             JOIN fines f ON f.fine_id = d.fine_id
             JOIN fine_updates u ON u.update_id = d.update_id
             WHERE f.event_id = $1 ORDER BY d.received_at, d.name",
        )
        .bind(event_id)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(CaseDocument::try_from)
        .collect()
    })
}

/// The kind of file of document `sha256` and the violation whose case it was attached to.
pub async fn document(
    db: &Db,
    sha256: &protocol::Sha256Digest,
) -> Result<Option<(String, uuid::Uuid)>, DbError> {
    on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT d.content_type, f.event_id FROM answer_documents d
             JOIN fines f ON f.fine_id = d.fine_id WHERE d.sha256 = $1 LIMIT 1",
        )
        .bind(sha256.to_hex())
        .fetch_optional(pool)
        .await
        .map_err(DbError::from)
    })
}

/// Queues for deletion the documents of `update` that no case names (an answer refused, or to
/// no case): their bytes reached the store ahead of an update that was not taken.
pub async fn release_documents(db: &Db, update: &FineUpdate) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    for d in &update.documents {
        on_pool!(db, pool => {
            sqlx::query(
                "INSERT INTO evidence_deletions (sha256, queued_at) VALUES ($1, $2)
                 ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(d.sha256.to_hex())
            .bind(now)
            .execute(pool)
            .await?;
        });
    }
    Ok(())
}
