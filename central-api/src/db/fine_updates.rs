//! What citizen-notify reports about issued fines: each update stored once (by its id), the
//! fine's status moved forward — never back: a late "delivered" does not undo "paid".

use protocol::{FineChange, FineUpdate};
use service_kit::on_pool;
use sqlx::Row;
use time::OffsetDateTime;

use super::{Db, DbError};

/// How far along a fine is; a status moves only to a later one.
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
        // Closed without a penalty, or the decision cancelled: nothing later changes it.
        "cancelled" => 7,
        _ => 0,
    }
}

/// The outcome of an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Stored; the fine's status is now `status`. `event_id` is the fine's violation.
    New {
        status: String,
        event_id: uuid::Uuid,
    },
    /// This update was stored before.
    Duplicate,
    UnknownFine,
}

pub async fn apply(db: &Db, update: &FineUpdate, payload: &str) -> Result<Applied, DbError> {
    let fine_id = update.fine_id.hyphenated().to_string();
    let kind = update.change.kind();
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let Some(row) = sqlx::query("SELECT status, event_id FROM fines WHERE fine_id = $1")
            .bind(&fine_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(Applied::UnknownFine);
        };
        let status: String = row.try_get("status")?;
        let event_id: uuid::Uuid = row.try_get("event_id")?;
        let stored = sqlx::query(
            "INSERT INTO fine_updates (update_id, fine_id, kind, payload, received_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (update_id) DO NOTHING",
        )
        .bind(update.update_id.hyphenated().to_string())
        .bind(&fine_id)
        .bind(kind)
        .bind(payload)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if stored == 0 {
            return Ok(Applied::Duplicate);
        }
        let status = if rank(kind) > rank(&status) {
            sqlx::query("UPDATE fines SET status = $1 WHERE fine_id = $2")
                .bind(kind)
                .bind(&fine_id)
                .execute(&mut *tx)
                .await?;
            kind.to_owned()
        } else {
            status
        };
        if let FineChange::Paid { paid_at, .. } = &update.change {
            sqlx::query("UPDATE fines SET paid_at = $1 WHERE fine_id = $2 AND paid_at IS NULL")
                .bind(paid_at.as_datetime())
                .bind(&fine_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Applied::New { status, event_id })
    })
}
