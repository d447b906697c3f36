//! Violations as received: the typed event, the exact signed bytes, and the evidence manifest.

use protocol::{EventId, ViolationEvent};
use sqlx::{Row, types::Json};
use time::OffsetDateTime;

use super::{Db, DbError, on_pool};
use crate::audit::{AuditLog, append_in};

/// Where a violation stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Stored and acknowledged; owner lookup and completeness of evidence come next.
    Received,
    /// In the police review queue.
    PendingReview,
    Approved,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::PendingReview => "pending_review",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Received,
            Self::PendingReview,
            Self::Approved,
            Self::Rejected,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// The result of storing an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// A new violation.
    New,
    /// The same event, byte for byte, was stored before.
    Duplicate,
    /// An event with this id but other bytes was stored before; the first one stands.
    Conflict { stored_sha256: String },
    /// The event was stored before and purged by retention ([`super::retention`]): it is not
    /// stored again.
    Purged,
}

/// A stored violation.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredViolation {
    pub event: ViolationEvent,
    pub status: Status,
    pub received_at: OffsetDateTime,
    pub payload: Vec<u8>,
    pub payload_sha256: String,
    /// `found`, `not_registered`, `no_plate` or `failed`; absent before the lookup.
    pub owner_lookup: Option<String>,
    pub owner_citizen_id: Option<String>,
    /// The plate an officer corrected the read to (canonical text).
    pub corrected_plate: Option<String>,
    /// Who decided, when, and for a rejection why.
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<OffsetDateTime>,
    pub reject_reason: Option<String>,
    pub review_note: Option<String>,
    /// When and under which retention rule the evidence files were deleted, the case kept
    /// ([`crate::db::retention`]).
    pub evidence_deleted: Option<(String, OffsetDateTime)>,
}

impl StoredViolation {
    /// The plate the violation stands on now: the officer's correction, else the edge's read.
    pub fn plate_text(&self) -> Option<&str> {
        self.corrected_plate
            .as_deref()
            .or(self.event.plate.as_ref().map(|p| p.text.as_str()))
    }
}

/// Stores a verified event (its exact bytes and their SHA-256, hex), its evidence manifest and
/// its `violation.received` audit entry in one transaction, once per event id: a violation is
/// never stored unaudited, and one whose entry could not be written is not stored at all (the
/// device sends it again).
pub async fn insert(
    db: &Db,
    audit: &AuditLog,
    event: &ViolationEvent,
    payload: &[u8],
    sha256: &str,
) -> Result<Inserted, DbError> {
    let id = *event.event_id.as_uuid();
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let details = serde_json::json!({
        "kind": event.kind.as_str(),
        "camera": event.camera.as_str(),
        "plate": event.plate.as_ref().map(|p| p.text.as_str()),
        "payload_sha256": sha256,
    });
    let _one_at_a_time = audit.lock().await;
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO violations
               (event_id, device_id, camera_id, kind, vehicle_class, plate_text, plate_colour,
                occurred_at, received_at, status, event, payload, payload_sha256)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(id)
        .bind(event.device.as_str())
        .bind(event.camera.as_str())
        .bind(event.kind.as_str())
        .bind(event.vehicle.class.as_str())
        .bind(event.plate.as_ref().map(|p| p.text.as_str()))
        .bind(event.plate.as_ref().map(|p| p.colour.as_str()))
        .bind(event.occurred_at.as_datetime())
        .bind(now)
        .bind(Status::Received.as_str())
        .bind(Json(event))
        .bind(payload)
        .bind(sha256)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            let stored: String = sqlx::query("SELECT payload_sha256 FROM violations WHERE event_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("payload_sha256")?;
            tx.rollback().await?;
            return Ok(if stored == sha256 {
                Inserted::Duplicate
            } else {
                Inserted::Conflict { stored_sha256: stored }
            });
        }
        // Checked after the insert: a purge that committed while this insert waited on the
        // row has committed its tombstone too.
        let purged = sqlx::query("SELECT 1 AS one FROM purged_events WHERE event_id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if purged {
            tx.rollback().await?;
            return Ok(Inserted::Purged);
        }
        for item in &event.evidence {
            sqlx::query(
                "INSERT INTO evidence_manifest (event_id, name, sha256, bytes, content_type, captured_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(&item.name)
            .bind(item.sha256.to_hex())
            .bind(item.bytes as i64)
            .bind(&item.content_type)
            .bind(item.captured_at.as_datetime())
            .execute(&mut *tx)
            .await?;
        }
        append_in!(
            tx,
            postgres,
            &format!("device:{}", event.device),
            "violation.received",
            &format!("violation:{}", event.event_id),
            &details
        );
        tx.commit().await?;
    });
    Ok(Inserted::New)
}

/// One stored violation by its event id.
pub async fn get(db: &Db, id: &EventId) -> Result<Option<StoredViolation>, DbError> {
    let found = on_pool!(db, pool => {
        match sqlx::query(
            "SELECT event, status, received_at, payload, payload_sha256, owner_lookup,
                    owner_citizen_id, corrected_plate, reviewed_by, reviewed_at, reject_reason,
                    review_note, evidence_purged_at, evidence_purge_rule
             FROM violations WHERE event_id = $1",
        )
        .bind(*id.as_uuid())
        .fetch_optional(pool)
        .await?
        {
            None => None,
            Some(row) => {
                let Json(event): Json<ViolationEvent> = row.try_get("event")?;
                let status: String = row.try_get("status")?;
                Some(StoredViolation {
                    event,
                    status: Status::parse(&status).unwrap_or(Status::Received),
                    received_at: row.try_get("received_at")?,
                    payload: row.try_get("payload")?,
                    payload_sha256: row.try_get("payload_sha256")?,
                    owner_lookup: row.try_get("owner_lookup")?,
                    owner_citizen_id: row.try_get("owner_citizen_id")?,
                    corrected_plate: row.try_get("corrected_plate")?,
                    reviewed_by: row.try_get("reviewed_by")?,
                    reviewed_at: row.try_get("reviewed_at")?,
                    reject_reason: row.try_get("reject_reason")?,
                    review_note: row.try_get("review_note")?,
                    evidence_deleted: row
                        .try_get::<Option<String>, _>("evidence_purge_rule")?
                        .zip(row.try_get::<Option<OffsetDateTime>, _>("evidence_purged_at")?),
                })
            }
        }
    });
    Ok(found)
}

/// How many violations are stored.
pub async fn count(db: &Db) -> Result<i64, DbError> {
    let n: i64 = on_pool!(db, pool => {
        sqlx::query("SELECT COUNT(*) AS n FROM violations")
            .fetch_one(pool)
            .await?
            .try_get("n")?
    });
    Ok(n)
}

/// The evidence manifest of a violation: (name, sha256, bytes), in name order.
pub async fn manifest(db: &Db, id: &EventId) -> Result<Vec<(String, String, i64)>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query(
            "SELECT name, sha256, bytes FROM evidence_manifest WHERE event_id = $1 ORDER BY name",
        )
        .bind(*id.as_uuid())
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|row| Ok::<_, sqlx::Error>((row.try_get("name")?, row.try_get("sha256")?, row.try_get("bytes")?)))
        .collect::<Result<Vec<_>, _>>()?
    });
    Ok(rows)
}
