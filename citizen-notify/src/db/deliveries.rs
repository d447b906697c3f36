//! Deliveries of each notice through each channel, and every attempt made.

use protocol::ViolationNotice as FineNotice;
use service_kit::{on_pool, outbox};
use time::OffsetDateTime;

use super::*;

/// A delivery due now, with its notice.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub channel: String,
    pub attempts: u32,
    pub notice: FineNotice,
}

/// Deliveries pending and due at `now`, the longest waiting first (at most 50 a pass).
pub async fn due_deliveries(
    db: &Db,
    key: &SealingKey,
    now: OffsetDateTime,
) -> Result<Vec<DueDelivery>, DbError> {
    let claimed: Vec<DeliveryRow> = outbox::lease(db, &DUE_DELIVERIES, now).await?;
    claimed
        .into_iter()
        .map(|d| {
            Ok(DueDelivery {
                id: d.id,
                channel: d.channel,
                attempts: u32::try_from(d.attempts).unwrap_or(0),
                notice: stored(key, &at_rest::NOTICES, &d.fine_id, d.payload)?,
            })
        })
        .collect()
}

/// The deliveries still to make, each with its notice; each pass claims its own
/// ([`outbox::lease`]), so two replicas never send one notice, text or e-mail twice.
const DUE_DELIVERIES: outbox::Due = outbox::Due {
    table: "deliveries",
    pending: "state = 'pending'",
    returning: "id, channel, attempts, fine_id,
                (SELECT payload FROM notices n WHERE n.fine_id = deliveries.fine_id) AS payload",
    limit: 50,
};

/// A delivery claimed by a pass, with its notice as stored.
#[derive(Debug, sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    channel: String,
    attempts: i32,
    fine_id: String,
    payload: String,
}

/// One attempt, as it is logged and as it leaves the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord<'a> {
    /// `delivered`, `retry` or `failed`.
    pub outcome: &'static str,
    pub detail: &'a str,
    /// When to try again (only for `retry`).
    pub next: Option<OffsetDateTime>,
}

/// Logs attempt number `attempt` of a delivery and moves the delivery on: delivered, failed,
/// or pending until `next`.
pub async fn record_attempt(
    db: &Db,
    key: &SealingKey,
    delivery_id: i64,
    attempt: u32,
    at: OffsetDateTime,
    record: &AttemptRecord<'_>,
) -> Result<(), DbError> {
    let attempt = i32::try_from(attempt).unwrap_or(i32::MAX);
    let state = match record.outcome {
        "retry" => "pending",
        other => other,
    };
    let finished = (state != "pending").then_some(at);
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, attempt, at, outcome, detail)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(delivery_id)
        .bind(attempt)
        .bind(at)
        .bind(record.outcome)
        .bind(record.detail)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries SET state = $1, attempts = $2, next_attempt_at = $3,
                                   last_error = $4, finished_at = $5
             WHERE id = $6",
        )
        .bind(state)
        .bind(attempt)
        .bind(record.next.unwrap_or(at))
        .bind((!record.detail.is_empty()).then_some(record.detail))
        .bind(finished)
        .bind(delivery_id)
        .execute(&mut *tx)
        .await?;
        if state != "pending" {
            let (fine_id, channel): (String, String) =
                sqlx::query_as("SELECT fine_id, channel FROM deliveries WHERE id = $1")
                    .bind(delivery_id)
                    .fetch_one(&mut *tx)
                    .await?;
            queue_report!(tx, key, &fine_id, if state == "delivered" {
                protocol::FineChange::NoticeDelivered { channel }
            } else {
                protocol::FineChange::NoticeFailed {
                    channel,
                    error: record.detail.chars().take(1000).collect(),
                }
            });
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Where a notice's delivery through `channel` stands: state, attempts, and each attempt's
/// outcome in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryView {
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub log: Vec<String>,
}

/// A delivery's state, before its attempts are read.
#[derive(sqlx::FromRow)]
struct DeliveryStateRow {
    id: i64,
    state: String,
    attempts: i32,
    last_error: Option<String>,
}

pub async fn delivery_of(
    db: &Db,
    fine_id: &str,
    channel: &str,
) -> Result<Option<DeliveryView>, DbError> {
    on_pool!(db, pool => {
        let Some(row) = sqlx::query_as::<_, DeliveryStateRow>(
            "SELECT id, state, attempts, last_error FROM deliveries
             WHERE fine_id = $1 AND channel = $2",
        )
        .bind(fine_id)
        .bind(channel)
        .fetch_optional(pool)
        .await?
        else {
            return Ok(None);
        };
        let log: Vec<String> = sqlx::query_scalar(
            "SELECT outcome FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(row.id)
        .fetch_all(pool)
        .await?;
        Ok(Some(DeliveryView {
            state: row.state,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            last_error: row.last_error,
            log,
        }))
    })
}

/// The channels a fine's notice went through.
pub async fn delivery_channels_of(db: &Db, fine_id: &str) -> Result<Vec<String>, DbError> {
    on_pool!(db, pool => {
        Ok(sqlx::query_scalar(
            "SELECT channel FROM deliveries WHERE fine_id = $1 ORDER BY channel",
        )
        .bind(fine_id)
        .fetch_all(pool)
        .await?)
    })
}
