//! Requests of a data subject to correct the personal data central holds about them (Law
//! 91/2025/QH15 on Personal Data Protection, Article 4 clause 1 point c: "xem, chỉnh sửa hoặc
//! yêu cầu chỉnh sửa dữ liệu cá nhân"): recorded by a supervisor as they arrive — in person, by
//! post, by e-mail, through the portal's contact — and answered by a supervisor: corrected,
//! referred to the system that holds the data at its source (the vehicle registration or the
//! population database, from which central's registry copy comes), or refused with the reason.
//! Recording and answering each commit with their audit entry; the audit entry names the
//! request, its case and the citizen masked, never the text of the request or the answer.
//!
//! The periods are Decree 356/2025/NĐ-CP's (Article 5 clause 3): the citizen is answered with the
//! procedure within 2 working days ("phản hồi trong thời hạn 02 ngày làm việc", recorded as
//! [`acknowledge`]), the correction made within 10 days ("thực hiện trong thời hạn 10 ngày"), or
//! 15 where a third party corrects it (here the data's source: a request answered `referred`);
//! the period may be extended once, by at most 10 days, the citizen told why ([`extend`]).
//! Days count as the Civil Code counts them ([`process::days_after`]); working days as the
//! deployment's calendar has them.

use protocol::{CitizenId, EventId, UtcTimestamp};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Db, DbError, on_pool};
use crate::{
    audit::{AuditLog, append_in},
    fines::{calendar::Calendar, process},
    sealed::SealingKey,
};

/// Working days within which the citizen is answered with the procedure (Decree
/// 356/2025/NĐ-CP, Article 5 clause 3).
pub const REPLY_WORKING_DAYS: u32 = 2;

/// Days within which the correction is made (Decree 356/2025/NĐ-CP, Article 5 clause 3).
pub const CORRECT_DAYS: u32 = 10;

/// Days within which a correction a third party makes is made: here, by the data's source, a
/// request answered `referred` (Decree 356/2025/NĐ-CP, Article 5 clause 3).
pub const THIRD_PARTY_DAYS: u32 = 15;

/// The most days one extension adds, given once with its reason told to the citizen (Decree
/// 356/2025/NĐ-CP, Article 5 clause 3: "tối đa 01 lần gia hạn trong thời hạn không quá 10 ngày").
pub const EXTEND_MAX_DAYS: u32 = 10;

/// How a request arrived.
pub const CHANNELS: [&str; 4] = ["in_person", "post", "email", "portal"];

/// How a request was answered.
pub const OUTCOMES: [&str; 3] = ["corrected", "referred", "refused"];

/// One correction request, as recorded and, once answered, with its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Correction {
    pub id: Uuid,
    /// The citizen who asked (12 digits).
    pub citizen_id: String,
    /// The case the request concerns, if it names one.
    pub event_id: Option<Uuid>,
    /// `in_person`, `post`, `email` or `portal`.
    pub channel: String,
    /// What the citizen asks to be corrected, in their words.
    pub request: String,
    #[schema(value_type = String, format = DateTime)]
    pub received_at: UtcTimestamp,
    /// The supervisor who recorded it (`officer:NAME`).
    pub recorded_by: String,
    /// `corrected`, `referred` or `refused`; absent while it waits for an answer.
    pub outcome: Option<String>,
    /// The answer given to the citizen.
    pub answer: Option<String>,
    pub answered_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub answered_at: Option<UtcTimestamp>,
    /// When the citizen is to have been answered with the procedure: the end of the second
    /// working day after the request arrived.
    #[schema(value_type = String, format = DateTime)]
    pub reply_by: UtcTimestamp,
    /// When the supervisor recorded that the citizen was answered so.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<UtcTimestamp>,
    pub acknowledged_by: Option<String>,
    /// When the correction is to be made by: 10 days after the request arrived, and the days
    /// of its extension.
    #[schema(value_type = String, format = DateTime)]
    pub answer_by: UtcTimestamp,
    /// When a correction made at the data's source (answered `referred`) is to be made by: 15
    /// days after the request arrived, and the days of its extension.
    #[schema(value_type = String, format = DateTime)]
    pub referred_by: UtcTimestamp,
    /// The days the period was extended by, once.
    pub extended_days: Option<u32>,
    /// Why, as the citizen was told.
    pub extension_reason: Option<String>,
    /// Whether the answer came after its period; absent while the request waits.
    pub answered_late: Option<bool>,
}

impl Correction {
    /// When the request is to be answered by, given its outcome (`referred` has the third
    /// party's period).
    fn due_for(&self, outcome: &str) -> UtcTimestamp {
        if outcome == "referred" {
            self.referred_by
        } else {
            self.answer_by
        }
    }

    /// Whether, at `now`, the request waits past the period to answer the citizen with the
    /// procedure, unacknowledged.
    pub fn reply_overdue(&self, now: OffsetDateTime) -> bool {
        self.outcome.is_none()
            && self.acknowledged_at.is_none()
            && now >= self.reply_by.as_datetime()
    }

    /// Whether, at `now`, the request waits past its period to be corrected here
    /// ([`Self::answer_by`]); a referral to the data's source is still in time until
    /// [`Self::referred_by`].
    pub fn overdue(&self, now: OffsetDateTime) -> bool {
        self.outcome.is_none() && now >= self.answer_by.as_datetime()
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    citizen_id: String,
    event_id: Option<Uuid>,
    channel: String,
    request: String,
    received_at: OffsetDateTime,
    recorded_by: String,
    outcome: Option<String>,
    answer: Option<String>,
    answered_by: Option<String>,
    answered_at: Option<OffsetDateTime>,
    acknowledged_at: Option<OffsetDateTime>,
    acknowledged_by: Option<String>,
    extended_days: Option<i32>,
    extension_reason: Option<String>,
}

impl Row {
    /// The request, its periods counted on `calendar`, its words opened under `key`.
    fn correction(
        self,
        key: Option<&SealingKey>,
        calendar: &Calendar,
    ) -> Result<Correction, DbError> {
        let row = self.id.hyphenated().to_string();
        let request = super::at_rest::CORRECTION_REQUESTS.open(key, &row, self.request)?;
        let answer = self
            .answer
            .map(|a| super::at_rest::CORRECTION_ANSWERS.open(key, &row, a))
            .transpose()?;
        let extension_reason = self
            .extension_reason
            .map(|r| super::at_rest::CORRECTION_EXTENSIONS.open(key, &row, r))
            .transpose()?;
        let extended_days = self.extended_days.and_then(|d| u32::try_from(d).ok());
        let by = |days: u32| {
            UtcTimestamp::from_datetime(process::days_after(
                self.received_at,
                days + extended_days.unwrap_or(0),
                calendar,
            ))
        };
        let mut c = Correction {
            reply_by: UtcTimestamp::from_datetime(process::working_days_after(
                self.received_at,
                REPLY_WORKING_DAYS,
                calendar,
            )),
            answer_by: by(CORRECT_DAYS),
            referred_by: by(THIRD_PARTY_DAYS),
            acknowledged_at: self.acknowledged_at.map(UtcTimestamp::from_datetime),
            acknowledged_by: self.acknowledged_by,
            extended_days,
            extension_reason,
            answered_late: None,
            id: self.id,
            citizen_id: self.citizen_id,
            event_id: self.event_id,
            channel: self.channel,
            request,
            received_at: UtcTimestamp::from_datetime(self.received_at),
            recorded_by: self.recorded_by,
            outcome: self.outcome,
            answer,
            answered_by: self.answered_by,
            answered_at: self.answered_at.map(UtcTimestamp::from_datetime),
        };
        c.answered_late = match (&c.outcome, c.answered_at) {
            (Some(outcome), Some(at)) => Some(at.as_datetime() > c.due_for(outcome).as_datetime()),
            _ => None,
        };
        Ok(c)
    }
}

/// `rows` as requests, their periods counted on the calendar the deployment recorded, their
/// words opened under `key`.
async fn corrections(
    db: &Db,
    key: Option<&SealingKey>,
    rows: Vec<Row>,
) -> Result<Vec<Correction>, DbError> {
    let Some(first) = rows.iter().map(|r| r.received_at).min() else {
        return Ok(Vec::new());
    };
    let calendar =
        super::calendar::from(db, first.to_offset(protocol::time::VIETNAM).date()).await?;
    rows.into_iter()
        .map(|r| r.correction(key, &calendar))
        .collect()
}

/// A request to record.
#[derive(Debug, Clone)]
pub struct NewCorrection<'a> {
    pub citizen: &'a CitizenId,
    pub event_id: Option<&'a EventId>,
    pub channel: &'a str,
    pub request: &'a str,
    pub received_at: OffsetDateTime,
}

const COLUMNS: &str = "id, citizen_id, event_id, channel, request, received_at, recorded_by,
     outcome, answer, answered_by, answered_at, acknowledged_at, acknowledged_by, extended_days,
     extension_reason";

/// Records `new` as officer `by` at `now`, its words sealed under `key`, audited in the same
/// transaction.
pub async fn record(
    db: &Db,
    key: Option<&SealingKey>,
    audit: &AuditLog,
    new: &NewCorrection<'_>,
    by: &str,
    now: OffsetDateTime,
) -> Result<Correction, DbError> {
    let postgres = matches!(db, Db::Postgres(_));
    let id = Uuid::now_v7();
    let event_id = new.event_id.map(|e| *e.as_uuid());
    let request =
        super::at_rest::CORRECTION_REQUESTS.seal(key, &id.hyphenated().to_string(), new.request)?;
    let _one_at_a_time = audit.lock().await;
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO corrections
               (id, citizen_id, event_id, channel, request, received_at, recorded_by, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(new.citizen.as_str())
        .bind(event_id)
        .bind(new.channel)
        .bind(&request)
        .bind(new.received_at)
        .bind(by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        append_in!(
            tx,
            postgres,
            by,
            "correction.recorded",
            &format!("correction:{id}"),
            &json!({
                "citizen": new.citizen.masked(),
                "event_id": event_id,
                "channel": new.channel,
            })
        );
        tx.commit().await?;
    });
    get(db, key, id)
        .await?
        .ok_or_else(|| DbError::Corrupt(format!("correction request {id} recorded, then gone")))
}

/// What a step on a request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acted {
    Done(Box<Correction>),
    NotFound,
    /// It was answered before: the first answer stands.
    AlreadyAnswered,
    /// The step was taken before (acknowledged, or extended: once).
    AlreadyDone,
    /// Its period has run out: too late to extend it.
    PeriodOver,
}

/// Takes one step on request `$id` as officer `$by`: runs `$update` (an `UPDATE` that changes
/// the request only when the step may be taken) and, when it changed it, appends `$action` with
/// `$details` to the audit trail in the same transaction; then what the step found
/// ([`after`]).
macro_rules! step {
    ($db:expr, $key:expr, $audit:expr, ($id:expr, $by:expr), ($action:expr, $details:expr), $update:expr) => {{
        let postgres = matches!($db, Db::Postgres(_));
        let _one_at_a_time = $audit.lock().await;
        let changed = on_pool!($db, pool => {
            let mut tx = pool.begin().await?;
            let changed = $update.execute(&mut *tx).await?.rows_affected();
            if changed == 1 {
                append_in!(tx, postgres, $by, $action, &format!("correction:{}", $id), &$details);
            }
            tx.commit().await?;
            changed
        });
        after($db, $key, $id, changed).await
    }};
}

/// What a step on request `id` found, `changed` telling whether it was taken: the request as it
/// is now; or, not taken, that it is unknown, answered, or the step was taken before.
async fn after(
    db: &Db,
    key: Option<&SealingKey>,
    id: Uuid,
    changed: u64,
) -> Result<Acted, DbError> {
    Ok(match get(db, key, id).await? {
        None => Acted::NotFound,
        Some(c) if changed == 0 && c.outcome.is_some() => Acted::AlreadyAnswered,
        Some(_) if changed == 0 => Acted::AlreadyDone,
        Some(c) => Acted::Done(Box::new(c)),
    })
}

/// Answers request `id` with `outcome` and `answer` (sealed under `key`) as officer `by` at
/// `now`, once, audited in the same transaction.
pub async fn answer(
    db: &Db,
    key: Option<&SealingKey>,
    audit: &AuditLog,
    id: Uuid,
    (outcome, answer): (&str, &str),
    by: &str,
    now: OffsetDateTime,
) -> Result<Acted, DbError> {
    let answer =
        super::at_rest::CORRECTION_ANSWERS.seal(key, &id.hyphenated().to_string(), answer)?;
    step!(
        db,
        key,
        audit,
        (id, by),
        ("correction.answered", json!({ "outcome": outcome })),
        sqlx::query(
            "UPDATE corrections SET outcome = $1, answer = $2, answered_by = $3, answered_at = $4
             WHERE id = $5 AND answered_at IS NULL",
        )
        .bind(outcome)
        .bind(&answer)
        .bind(by)
        .bind(now)
        .bind(id)
    )
}

/// Records that the citizen who made request `id` was answered with the procedure, as officer
/// `by` at `now`, once, audited in the same transaction.
pub async fn acknowledge(
    db: &Db,
    key: Option<&SealingKey>,
    audit: &AuditLog,
    id: Uuid,
    by: &str,
    now: OffsetDateTime,
) -> Result<Acted, DbError> {
    step!(
        db,
        key,
        audit,
        (id, by),
        ("correction.acknowledged", json!({})),
        sqlx::query(
            "UPDATE corrections SET acknowledged_at = $1, acknowledged_by = $2
             WHERE id = $3 AND acknowledged_at IS NULL AND answered_at IS NULL",
        )
        .bind(now)
        .bind(by)
        .bind(id)
    )
}

/// Extends the period of request `id` by `days` (1 to [`EXTEND_MAX_DAYS`]) for `reason`, as
/// told to the citizen, as officer `by` at `now`: once, and only while the period runs. Audited
/// in the same transaction (the days, not the reason's words).
pub async fn extend(
    db: &Db,
    key: Option<&SealingKey>,
    audit: &AuditLog,
    id: Uuid,
    (days, reason): (u32, &str),
    by: &str,
    now: OffsetDateTime,
) -> Result<Acted, DbError> {
    let Some(before) = get(db, key, id).await? else {
        return Ok(Acted::NotFound);
    };
    if before.outcome.is_some() {
        return Ok(Acted::AlreadyAnswered);
    }
    if before.extended_days.is_some() {
        return Ok(Acted::AlreadyDone);
    }
    if now >= before.answer_by.as_datetime() {
        return Ok(Acted::PeriodOver);
    }
    let days = days.clamp(1, EXTEND_MAX_DAYS);
    let reason =
        super::at_rest::CORRECTION_EXTENSIONS.seal(key, &id.hyphenated().to_string(), reason)?;
    step!(
        db,
        key,
        audit,
        (id, by),
        ("correction.extended", json!({ "days": days })),
        sqlx::query(
            "UPDATE corrections SET extended_days = $1, extension_reason = $2, extended_by = $3,
                    extended_at = $4
             WHERE id = $5 AND extended_days IS NULL AND answered_at IS NULL",
        )
        .bind(i32::try_from(days).unwrap_or(1))
        .bind(reason)
        .bind(by)
        .bind(now)
        .bind(id)
    )
}

/// Request `id`, its words opened under `key`.
pub async fn get(
    db: &Db,
    key: Option<&SealingKey>,
    id: Uuid,
) -> Result<Option<Correction>, DbError> {
    let found = on_pool!(db, pool => {
        sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM corrections WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(pool)
        .await?
    });
    Ok(corrections(db, key, found.into_iter().collect())
        .await?
        .pop())
}

/// The requests waiting for an answer, the one due first first; or, for `citizen`, all of
/// theirs, newest first; their words opened under `key`.
pub async fn list(
    db: &Db,
    key: Option<&SealingKey>,
    citizen: Option<&CitizenId>,
) -> Result<Vec<Correction>, DbError> {
    let rows = on_pool!(db, pool => {
        match citizen {
            None => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM corrections WHERE answered_at IS NULL
                 ORDER BY received_at, id LIMIT 500"
            )))
            .fetch_all(pool)
            .await?,
            Some(c) => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM corrections WHERE citizen_id = $1
                 ORDER BY received_at DESC, id LIMIT 500"
            )))
            .bind(c.as_str())
            .fetch_all(pool)
            .await?,
        }
    });
    let mut items = corrections(db, key, rows).await?;
    if citizen.is_none() {
        items.sort_by_key(|c| (c.answer_by.as_datetime(), c.received_at.as_datetime()));
    }
    Ok(items)
}
