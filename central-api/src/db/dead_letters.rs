//! Dead letters: every payload that was refused, with the reason, kept for investigation. The
//! same bytes refused again are the same dead letter, counted (`times`) with the time they last
//! came and the reason they were last refused for.

use time::OffsetDateTime;

use super::{Db, DbError, on_pool};

/// Most payload bytes kept per dead letter; the size received is kept too.
pub const MAX_KEPT_BYTES: usize = 256 * 1024;

/// A refused payload and why; a row of `dead_letters` as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DeadLetter {
    pub id: i64,
    pub received_at: OffsetDateTime,
    pub topic: String,
    pub device_id: Option<String>,
    pub event_id: Option<String>,
    pub reason_code: String,
    pub reason: String,
    pub payload: Vec<u8>,
    pub payload_bytes: i64,
    /// How many times these bytes came.
    pub times: i64,
}

/// What is known about a refused payload.
#[derive(Debug, Clone, Copy)]
pub struct NewDeadLetter<'a> {
    pub topic: &'a str,
    pub device_id: Option<&'a str>,
    pub event_id: Option<&'a str>,
    pub reason_code: &'a str,
    pub reason: &'a str,
    pub payload: &'a [u8],
}

/// Keeps each of `letters`, or counts it again when its bytes came before, in one transaction;
/// returns their ids, in order.
pub async fn insert(db: &Db, letters: &[NewDeadLetter<'_>]) -> Result<Vec<i64>, DbError> {
    if letters.is_empty() {
        return Ok(Vec::new());
    }
    let now = OffsetDateTime::now_utc();
    let mut ids = Vec::with_capacity(letters.len());
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        // A statement each: two letters of the same bytes count twice, which one statement
        // cannot do to one row.
        for letter in letters {
            let kept = &letter.payload[..letter.payload.len().min(MAX_KEPT_BYTES)];
            let digest = protocol::Sha256Digest::of(letter.payload).to_hex();
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO dead_letters
                   (received_at, topic, device_id, event_id, reason_code, reason, payload, payload_bytes,
                    payload_sha256, last_received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $1)
                 ON CONFLICT (payload_sha256) DO UPDATE
                   SET times = dead_letters.times + 1, last_received_at = $1,
                       reason_code = $5, reason = $6
                 RETURNING id",
            )
            .bind(now)
            .bind(letter.topic)
            .bind(letter.device_id)
            .bind(letter.event_id)
            .bind(letter.reason_code)
            .bind(letter.reason)
            .bind(kept)
            .bind(letter.payload.len() as i64)
            .bind(&digest)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
    });
    Ok(ids)
}

/// The most recent dead letters, newest first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<DeadLetter>, DbError> {
    let letters = on_pool!(db, pool => {
        sqlx::query_as::<_, DeadLetter>(
            "SELECT id, received_at, topic, device_id, event_id, reason_code, reason, payload,
                    payload_bytes, times
             FROM dead_letters ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    Ok(letters)
}
