//! Requests of a data subject to correct the personal data central holds about them (Law
//! 91/2025/QH15 on Personal Data Protection, Article 4 clause 1 point c: "xem, chỉnh sửa hoặc
//! yêu cầu chỉnh sửa dữ liệu cá nhân"): recorded by a supervisor as they arrive — in person, by
//! post, by e-mail, through the portal's contact — and answered by a supervisor: corrected,
//! referred to the system that holds the data at its source (the vehicle registration or the
//! population database, from which central's registry copy comes), or refused with the reason.
//! Recording and answering each commit with their audit entry; the audit entry names the
//! request, its case and the citizen masked, never the text of the request or the answer.

use protocol::{CitizenId, EventId, UtcTimestamp};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Db, DbError, on_pool};
use crate::audit::{AuditLog, append_in};

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
}

impl From<Row> for Correction {
    fn from(r: Row) -> Self {
        Correction {
            id: r.id,
            citizen_id: r.citizen_id,
            event_id: r.event_id,
            channel: r.channel,
            request: r.request,
            received_at: UtcTimestamp::from_datetime(r.received_at),
            recorded_by: r.recorded_by,
            outcome: r.outcome,
            answer: r.answer,
            answered_by: r.answered_by,
            answered_at: r.answered_at.map(UtcTimestamp::from_datetime),
        }
    }
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
     outcome, answer, answered_by, answered_at";

/// Records `new` as officer `by` at `now`, audited in the same transaction.
pub async fn record(
    db: &Db,
    audit: &AuditLog,
    new: &NewCorrection<'_>,
    by: &str,
    now: OffsetDateTime,
) -> Result<Correction, DbError> {
    let postgres = matches!(db, Db::Postgres(_));
    let id = Uuid::now_v7();
    let event_id = new.event_id.map(|e| *e.as_uuid());
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
        .bind(new.request)
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
    Ok(Correction {
        id,
        citizen_id: new.citizen.as_str().to_owned(),
        event_id,
        channel: new.channel.to_owned(),
        request: new.request.to_owned(),
        received_at: UtcTimestamp::from_datetime(new.received_at),
        recorded_by: by.to_owned(),
        outcome: None,
        answer: None,
        answered_by: None,
        answered_at: None,
    })
}

/// What answering a request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    Done(Box<Correction>),
    NotFound,
    /// It was answered before: the first answer stands.
    AlreadyAnswered,
}

/// Answers request `id` with `outcome` and `answer` as officer `by` at `now`, once, audited in
/// the same transaction.
pub async fn answer(
    db: &Db,
    audit: &AuditLog,
    id: Uuid,
    outcome: &str,
    answer: &str,
    by: &str,
    now: OffsetDateTime,
) -> Result<Answered, DbError> {
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    let changed = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE corrections SET outcome = $1, answer = $2, answered_by = $3, answered_at = $4
             WHERE id = $5 AND answered_at IS NULL",
        )
        .bind(outcome)
        .bind(answer)
        .bind(by)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            append_in!(
                tx,
                postgres,
                by,
                "correction.answered",
                &format!("correction:{id}"),
                &json!({ "outcome": outcome })
            );
        }
        tx.commit().await?;
        changed
    });
    Ok(match get(db, id).await? {
        None => Answered::NotFound,
        Some(_) if changed == 0 => Answered::AlreadyAnswered,
        Some(c) => Answered::Done(Box::new(c)),
    })
}

/// Request `id`.
pub async fn get(db: &Db, id: Uuid) -> Result<Option<Correction>, DbError> {
    let found = on_pool!(db, pool => {
        sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM corrections WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(pool)
        .await?
    });
    Ok(found.map(Correction::from))
}

/// The requests waiting for an answer, oldest first; or, for `citizen`, all of theirs, newest
/// first.
pub async fn list(db: &Db, citizen: Option<&CitizenId>) -> Result<Vec<Correction>, DbError> {
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
    Ok(rows.into_iter().map(Correction::from).collect())
}
