//! Owners' explanations ("giải trình") of the violations they were notified of, and a
//! supervisor's answer to each: upheld (the case goes on to a decision) or cancelled (closed,
//! nothing owed), with the answer queued for citizen-notify in the same transaction.

use protocol::{
    DisputeOutcome, EventId, FineChange, FineResolution, FineUpdate, ResolutionGround,
    UtcTimestamp, wire,
};
use serde::Serialize;
use time::OffsetDateTime;

use super::{
    Db, DbError, on_pool,
    requests::{Confirmation, settle_in, with_confirmation},
};
use crate::{
    audit::{AuditLog, append_in},
    sealed::SealingKey,
};

/// A case its owner disputed (explained).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Dispute {
    pub fine_id: String,
    pub event_id: String,
    /// Once decided.
    pub decision_number: Option<String>,
    /// Canonical plate text.
    pub plate: String,
    pub amount_vnd: i64,
    /// `disputed` while it waits; `upheld` or `cancelled` once answered.
    pub status: String,
    /// The owner's reason.
    pub reason: String,
    #[schema(value_type = String, format = DateTime)]
    pub disputed_at: UtcTimestamp,
    /// The supervisor's answer, once given.
    pub answer: Option<String>,
    pub resolved_by: Option<String>,
}

const SELECT: &str = "SELECT f.fine_id, f.event_id, f.decision_number, f.plate_text, f.amount_vnd,
                             f.status, f.resolution_answer, f.resolved_by, u.update_id,
                             u.payload
                      FROM fines f
                      JOIN fine_updates u ON u.fine_id = f.fine_id
                       AND u.kind IN ('disputed', 'vehicle_stolen')";

/// A row of [`SELECT`], before the owner's reason is read from the stored update.
#[derive(sqlx::FromRow)]
struct Columns {
    fine_id: String,
    event_id: uuid::Uuid,
    decision_number: Option<String>,
    #[sqlx(rename = "plate_text")]
    plate: String,
    amount_vnd: i64,
    status: String,
    #[sqlx(rename = "resolution_answer")]
    answer: Option<String>,
    resolved_by: Option<String>,
    update_id: String,
    payload: String,
}

impl Columns {
    /// The dispute, its stored update opened under `key` ([`super::at_rest::FINE_UPDATES`]).
    fn dispute(self, key: Option<&SealingKey>) -> Result<Dispute, DbError> {
        let payload = super::at_rest::FINE_UPDATES.open(key, &self.update_id, self.payload)?;
        let update = wire::decode::<FineUpdate>(payload.as_bytes())
            .map_err(|e| DbError::Corrupt(format!("stored fine update: {e}")))?;
        let reason = match update.change {
            FineChange::Disputed { reason } => reason,
            // A theft reported to the police: the supervisor checks the report.
            FineChange::VehicleStolen {
                reported_on,
                report,
            } => format!("Xe bị mất cắp, đã trình báo ngày {reported_on}: {report}"),
            _ => return Err(DbError::Corrupt("a dispute that is not one".into())),
        };
        Ok(Dispute {
            fine_id: self.fine_id,
            event_id: self.event_id.hyphenated().to_string(),
            decision_number: self.decision_number,
            plate: self.plate,
            amount_vnd: self.amount_vnd,
            status: self.status,
            reason,
            disputed_at: update.at,
            answer: self.answer,
            resolved_by: self.resolved_by,
        })
    }
}

/// Disputes waiting for an answer, oldest first, the owners' reasons opened under `key`.
pub async fn open(db: &Db, key: Option<&SealingKey>) -> Result<Vec<Dispute>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, Columns>(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE f.status = 'disputed' ORDER BY u.received_at, f.fine_id"
        )))
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(|r| r.dispute(key)).collect()
}

/// The dispute of the fine of a violation, if its owner disputed it, the reason opened under
/// `key`.
pub async fn of_violation(
    db: &Db,
    key: Option<&SealingKey>,
    id: &EventId,
) -> Result<Option<Dispute>, DbError> {
    let found = on_pool!(db, pool => {
        sqlx::query_as::<_, Columns>(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE f.event_id = $1 ORDER BY u.received_at LIMIT 1"
        )))
        .bind(*id.as_uuid())
        .fetch_optional(pool)
        .await?
    });
    found.map(|r| r.dispute(key)).transpose()
}

/// Why a dispute could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotOpen {
    #[error("no fine was issued for this violation")]
    NoFine,
    #[error("the fine is {0}, not disputed")]
    NotDisputed(String),
    #[error("the owner disputes the fine: answer the dispute instead")]
    Disputed,
    #[error("the fine is {0}: its decision can no longer be withdrawn")]
    Final(String),
    #[error("the request no longer waits: confirmed, refused or lapsed meanwhile")]
    Settled,
}

/// Answers the dispute of the fine of violation `id` as `officer` (`actor` in the audit log):
/// records the outcome, queues the resolution for citizen-notify and appends its `fine.upheld` or
/// `fine.cancelled` entry, in one transaction. A cancellation is made on a second officer's
/// `confirmation` of the request for it, marked confirmed in the same transaction.
pub async fn resolve(
    db: &Db,
    audit: &AuditLog,
    id: &EventId,
    officer: (&str, &str),
    (outcome, answer): (DisputeOutcome, &str),
    confirmation: Option<&Confirmation>,
) -> Result<Result<FineResolution, NotOpen>, DbError> {
    change(
        db,
        audit,
        id,
        officer,
        (outcome, answer, None),
        confirmation,
    )
    .await
}

/// A supervisor withdraws the approval of violation `id`: its fine — not paid, not under
/// dispute — is cancelled with `answer` to the owner and the violation rejected for `reason`,
/// with the resolution queued for citizen-notify and the `violation.reversed` audit entry, in one
/// transaction; on a second officer's `confirmation` of the request for it, marked confirmed
/// in the same transaction.
pub async fn withdraw(
    db: &Db,
    audit: &AuditLog,
    id: &EventId,
    officer: (&str, &str),
    (answer, reason): (&str, &str),
    confirmation: Option<&Confirmation>,
) -> Result<Result<FineResolution, NotOpen>, DbError> {
    let change_ = (DisputeOutcome::Cancelled, answer, Some(reason));
    change(db, audit, id, officer, change_, confirmation).await
}

/// Settles the fine of violation `id` as `outcome` with `answer`: a dispute's answer, or (with
/// `withdrawn_for`, the reason code the violation is rejected with) the approval withdrawn.
async fn change(
    db: &Db,
    audit: &AuditLog,
    id: &EventId,
    (officer, actor): (&str, &str),
    (outcome, answer, withdrawn_for): (DisputeOutcome, &str, Option<&str>),
    confirmation: Option<&Confirmation>,
) -> Result<Result<FineResolution, NotOpen>, DbError> {
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    let result = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        if !settle_in!(tx, confirmation, now) {
            return Ok(Err(NotOpen::Settled));
        }
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT fine_id, status FROM fines WHERE event_id = $1 AND status <> 'transferred'",
        )
        .bind(*id.as_uuid())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((fine_id, status)) = row else {
            return Ok(Err(NotOpen::NoFine));
        };
        match (withdrawn_for, status.as_str()) {
            (None, "disputed") => {}
            (None, _) => return Ok(Err(NotOpen::NotDisputed(status))),
            (Some(_), "disputed") => return Ok(Err(NotOpen::Disputed)),
            (Some(_), s) if s == "paid" || super::fine_updates::is_final(s) => {
                return Ok(Err(NotOpen::Final(status)));
            }
            (Some(_), _) => {}
        }
        let resolution = FineResolution {
            resolution_id: uuid::Uuid::now_v7(),
            fine_id: uuid::Uuid::parse_str(&fine_id)
                .map_err(|e| DbError::Corrupt(format!("fine id {fine_id}: {e}")))?,
            decided_at: UtcTimestamp::from_datetime(now),
            outcome,
            answer: answer.to_owned(),
            ground: ResolutionGround::Dispute,
        };
        let payload = wire::encode(&resolution)
            .map_err(|e| DbError::Corrupt(format!("fine resolution: {e}")))?;
        let payload = String::from_utf8(payload).map_err(|e| DbError::Corrupt(e.to_string()))?;
        sqlx::query(
            "UPDATE fines SET status = $1, resolved_by = $2, resolved_at = $3, resolution_answer = $4,
                    closed_at = CASE WHEN $1 = 'cancelled' THEN $3 ELSE closed_at END
             WHERE fine_id = $5 AND status = $6",
        )
        .bind(outcome.as_str())
        .bind(officer)
        .bind(now)
        .bind(answer)
        .bind(&fine_id)
        .bind(&status)
        .execute(&mut *tx)
        .await?;
        if outcome == DisputeOutcome::Cancelled {
            // A decision cancelled deducts nothing from the licence.
            sqlx::query("DELETE FROM licence_points WHERE fine_id = $1")
                .bind(&fine_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(reason) = withdrawn_for {
            sqlx::query(
                "UPDATE violations SET status = 'rejected', reject_reason = $1, review_note = $2,
                        reviewed_by = $3, reviewed_at = $4
                 WHERE event_id = $5 AND status = 'approved'",
            )
            .bind(reason)
            .bind(answer)
            .bind(officer)
            .bind(now)
            .bind(*id.as_uuid())
            .execute(&mut *tx)
            .await?;
        }
        super::enqueue!(
            tx,
            "fine_resolution",
            resolution.resolution_id.hyphenated().to_string(),
            &payload,
            now
        );
        let (action, details) = match withdrawn_for {
            None => (
                format!("fine.{}", outcome.as_str()),
                serde_json::json!({
                    "fine_id": resolution.fine_id,
                    "resolution_id": resolution.resolution_id,
                    "answer": answer,
                }),
            ),
            Some(reason) => (
                "violation.reversed".to_owned(),
                serde_json::json!({
                    "from": "approved",
                    "to": "rejected",
                    "reason": reason,
                    "note": answer,
                    "fine_id": resolution.fine_id,
                }),
            ),
        };
        let details = with_confirmation(details, confirmation);
        append_in!(
            tx,
            postgres,
            actor,
            &action,
            &format!("violation:{id}"),
            &details
        );
        tx.commit().await?;
        Ok(resolution)
    });
    Ok(result)
}

/// The resolution that tells citizen-notify central closed case `fine_id` itself, nothing owed
/// on it — `ground` time-barred, or moved to the person the owner named — as its outbox key and
/// payload, for the transaction that closes the case to enqueue.
pub(crate) fn closed_by_central(
    fine_id: &str,
    ground: ResolutionGround,
    now: OffsetDateTime,
) -> Result<(String, String), DbError> {
    let answer = match ground {
        ResolutionGround::TimeBarred => {
            "Vụ việc đã hết thời hiệu xử phạt vi phạm hành chính (điểm a khoản 1 Điều 6 Luật Xử \
             lý vi phạm hành chính số 15/2012/QH13): không ra quyết định xử phạt."
        }
        ResolutionGround::Transferred => {
            "Cơ quan xử lý đã tiếp nhận khai báo của chủ phương tiện: vụ việc được giải quyết \
             đối với người được khai báo."
        }
        ResolutionGround::Dispute => {
            return Err(DbError::Corrupt(
                "an explanation is answered by a supervisor, not closed by central".into(),
            ));
        }
    };
    let resolution = FineResolution {
        resolution_id: uuid::Uuid::now_v7(),
        fine_id: uuid::Uuid::parse_str(fine_id)
            .map_err(|e| DbError::Corrupt(format!("fine id {fine_id}: {e}")))?,
        decided_at: UtcTimestamp::from_datetime(now),
        outcome: DisputeOutcome::Cancelled,
        answer: answer.to_owned(),
        ground,
    };
    let payload =
        wire::encode(&resolution).map_err(|e| DbError::Corrupt(format!("fine resolution: {e}")))?;
    let payload = String::from_utf8(payload).map_err(|e| DbError::Corrupt(e.to_string()))?;
    Ok((resolution.resolution_id.hyphenated().to_string(), payload))
}
