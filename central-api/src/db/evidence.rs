//! Evidence blobs as received, and which events they complete.

use protocol::{EventId, Sha256Digest};
use time::OffsetDateTime;

use super::{Db, DbError, on_pool};

/// A blob just stored.
#[derive(Debug, Clone, Copy)]
pub struct NewBlob<'a> {
    pub sha256: &'a Sha256Digest,
    pub bytes: u64,
    pub content_type: &'a str,
    pub storage_key: &'a str,
    pub device_id: &'a str,
}

/// Records a blob; returns false when it was recorded before (the same bytes sent twice).
pub async fn insert(db: &Db, blob: NewBlob<'_>) -> Result<bool, DbError> {
    let now = OffsetDateTime::now_utc();
    let inserted = on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO evidence_blobs (sha256, bytes, content_type, storage_key, device_id, received_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(blob.sha256.to_hex())
        .bind(blob.bytes as i64)
        .bind(blob.content_type)
        .bind(blob.storage_key)
        .bind(blob.device_id)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected()
    });
    Ok(inserted == 1)
}

/// Whether a blob with this digest is stored.
pub async fn exists(db: &Db, sha256: &Sha256Digest) -> Result<bool, DbError> {
    Ok(uploaded_bytes(db, sha256).await?.is_some())
}

/// The size of a blob as uploaded (before it was sealed), if it is recorded.
pub async fn uploaded_bytes(db: &Db, sha256: &Sha256Digest) -> Result<Option<u64>, DbError> {
    let found: Option<i64> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT bytes FROM evidence_blobs WHERE sha256 = $1")
            .bind(sha256.to_hex())
            .fetch_optional(pool)
            .await?
    });
    Ok(found.map(i64::unsigned_abs))
}

/// The content type a blob was stored with, if it is stored.
pub async fn content_type(db: &Db, sha256: &Sha256Digest) -> Result<Option<String>, DbError> {
    let found: Option<String> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT content_type FROM evidence_blobs WHERE sha256 = $1")
            .bind(sha256.to_hex())
            .fetch_optional(pool)
            .await?
    });
    Ok(found)
}

/// Whether a blob is named by what central keeps: an event's manifest, or a camera's snapshot.
pub const NAMED: &str = "SELECT 1 AS one FROM evidence_manifest WHERE sha256 = $1
     UNION ALL SELECT 1 AS one FROM snapshots WHERE sha256 = $1
     UNION ALL SELECT 1 AS one FROM answer_documents WHERE sha256 = $1";

/// Whether some event's manifest, or some snapshot, names the blob `sha256`.
pub async fn named(db: &Db, sha256: &Sha256Digest) -> Result<bool, DbError> {
    let found = on_pool!(db, pool => {
        sqlx::query(NAMED)
            .bind(sha256.to_hex())
            .fetch_optional(pool)
            .await?
            .is_some()
    });
    Ok(found)
}

/// Bytes of the blobs `device` uploaded that no event's manifest (nor snapshot) names.
pub async fn unclaimed_bytes(db: &Db, device: &str) -> Result<u64, DbError> {
    let bytes: i64 = on_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(b.bytes), 0) AS BIGINT) FROM evidence_blobs b
             WHERE b.device_id = $1
               AND NOT EXISTS (SELECT 1 FROM evidence_manifest m WHERE m.sha256 = b.sha256)
               AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.sha256 = b.sha256)",
        )
        .bind(device)
        .fetch_one(pool)
        .await?
    });
    Ok(bytes.unsigned_abs())
}

/// The manifest entries of an event whose blobs have not arrived, by name. An event is complete
/// when this is empty.
pub async fn missing(db: &Db, event: &EventId) -> Result<Vec<String>, DbError> {
    let names: Vec<String> = on_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT m.name FROM evidence_manifest m
             LEFT JOIN evidence_blobs b ON b.sha256 = m.sha256
             WHERE m.event_id = $1 AND b.sha256 IS NULL
             ORDER BY m.name",
        )
        .bind(*event.as_uuid())
        .fetch_all(pool)
        .await?
    });
    Ok(names)
}
