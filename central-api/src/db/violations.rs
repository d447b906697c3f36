//! Violations as received: the typed event, the exact signed bytes, and the evidence manifest.

use std::collections::{HashMap, HashSet};

use protocol::{EventId, ViolationEvent};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Db, DbError, in_list, on_pool};
use crate::audit::{AuditLog, NewEntry, ROWS_PER_STATEMENT, append_all_in};

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

/// A verified event to store: the event, its exact bytes and their SHA-256 (hex).
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a> {
    pub event: &'a ViolationEvent,
    pub payload: &'a [u8],
    pub sha256: &'a str,
}

/// Stores a batch of verified events, each once per event id, with their evidence manifests
/// and their `violation.received` audit entries, in one transaction: a violation is never
/// stored unaudited, and a batch whose entries could not be written is not stored at all (the
/// devices send it again). The audit entries are one step of the chain, and every table is
/// written a statement per `audit::ROWS_PER_STATEMENT` rows, so a batch costs a few round trips and
/// one commit, not a dozen of each per event. Returns what became of each, in order; an id
/// given twice is stored once, its later copies compared with the first.
pub async fn insert(
    db: &Db,
    audit: &AuditLog,
    batch: &[Verified<'_>],
) -> Result<Vec<Inserted>, DbError> {
    let ids: Vec<Uuid> = batch.iter().map(|v| *v.event.event_id.as_uuid()).collect();
    // The first copy of each id in the batch, in order.
    let mut first = HashMap::<Uuid, usize>::new();
    let mut unique = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        first.entry(*id).or_insert_with(|| {
            unique.push(i);
            i
        });
    }
    if unique.is_empty() {
        return Ok(Vec::new());
    }
    // Rows taken in one order by every writer: two replicas storing overlapping batches wait
    // for each other instead of deadlocking.
    unique.sort_unstable_by_key(|&i| ids[i]);
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    let (new, stored, purged) = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let mut new = HashSet::<Uuid>::new();
        for chunk in unique.chunks(ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO violations
                   (event_id, device_id, camera_id, kind, vehicle_class, plate_text, plate_colour,
                    occurred_at, received_at, status, event, payload, payload_sha256) ",
            );
            insert.push_values(chunk, |mut row, &i| {
                let Verified { event, payload, sha256 } = batch[i];
                row.push_bind(ids[i])
                    .push_bind(event.device.as_str())
                    .push_bind(event.camera.as_str())
                    .push_bind(event.kind.as_str())
                    .push_bind(event.vehicle.class.as_str())
                    .push_bind(event.plate.as_ref().map(|p| p.text.as_str()))
                    .push_bind(event.plate.as_ref().map(|p| p.colour.as_str()))
                    .push_bind(event.occurred_at.as_datetime())
                    .push_bind(now)
                    .push_bind(Status::Received.as_str())
                    .push_bind(Json(event))
                    .push_bind(payload)
                    .push_bind(sha256);
            });
            insert.push(" ON CONFLICT (event_id) DO NOTHING RETURNING event_id");
            new.extend(insert.build_query_scalar::<Uuid>().fetch_all(&mut *tx).await?);
        }
        // Those stored before: the digest of their first bytes.
        let before: Vec<Uuid> = unique
            .iter()
            .map(|&i| ids[i])
            .filter(|id| !new.contains(id))
            .collect();
        let mut stored = HashMap::<Uuid, String>::new();
        for chunk in before.chunks(ROWS_PER_STATEMENT) {
            let mut select = in_list(
                "SELECT event_id, payload_sha256 FROM violations WHERE event_id IN (",
                chunk.iter().copied(),
            );
            stored.extend(select.build_query_as::<(Uuid, String)>().fetch_all(&mut *tx).await?);
        }
        // Checked after the insert: a purge that committed while this insert waited on the
        // row has committed its tombstone too. What was purged is taken out again.
        let inserted: Vec<Uuid> = new.iter().copied().collect();
        let mut purged = HashSet::<Uuid>::new();
        for chunk in inserted.chunks(ROWS_PER_STATEMENT) {
            let mut select = in_list(
                "SELECT event_id FROM purged_events WHERE event_id IN (",
                chunk.iter().copied(),
            );
            purged.extend(select.build_query_scalar::<Uuid>().fetch_all(&mut *tx).await?);
        }
        let gone: Vec<Uuid> = purged.iter().copied().collect();
        for chunk in gone.chunks(ROWS_PER_STATEMENT) {
            in_list("DELETE FROM violations WHERE event_id IN (", chunk.iter().copied())
                .build().execute(&mut *tx).await?;
        }
        let kept: Vec<usize> = unique
            .iter()
            .copied()
            .filter(|&i| new.contains(&ids[i]) && !purged.contains(&ids[i]))
            .collect();
        let manifest: Vec<(Uuid, &protocol::EvidenceItem)> = kept
            .iter()
            .flat_map(|&i| {
                let id = ids[i];
                batch[i].event.evidence.iter().map(move |item| (id, item))
            })
            .collect();
        for chunk in manifest.chunks(ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO evidence_manifest (event_id, name, sha256, bytes, content_type, captured_at) ",
            );
            insert.push_values(chunk, |mut row, (id, item)| {
                row.push_bind(*id)
                    .push_bind(item.name.as_str())
                    .push_bind(item.sha256.to_hex())
                    .push_bind(item.bytes as i64)
                    .push_bind(item.content_type.as_str())
                    .push_bind(item.captured_at.as_datetime());
            });
            insert.build().execute(&mut *tx).await?;
        }
        let written: Vec<(String, String, serde_json::Value)> = kept
            .iter()
            .map(|&i| {
                let Verified { event, sha256, .. } = batch[i];
                (
                    format!("device:{}", event.device),
                    format!("violation:{}", event.event_id),
                    serde_json::json!({
                        "kind": event.kind.as_str(),
                        "camera": event.camera.as_str(),
                        "plate": event.plate.as_ref().map(|p| p.text.as_str()),
                        "payload_sha256": sha256,
                    }),
                )
            })
            .collect();
        let entries: Vec<NewEntry<'_>> = written
            .iter()
            .map(|(actor, subject, details)| NewEntry {
                actor,
                action: "violation.received",
                subject,
                details,
            })
            .collect();
        append_all_in!(tx, postgres, &entries);
        tx.commit().await?;
        (new, stored, purged)
    });
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            if purged.contains(id) {
                return Ok(Inserted::Purged);
            }
            let original = first[id];
            let standing = if new.contains(id) {
                if i == original {
                    return Ok(Inserted::New);
                }
                batch[original].sha256
            } else {
                // Stored before, and gone between the insert and the read: a purge took it.
                stored.get(id).ok_or(sqlx::Error::RowNotFound)?.as_str()
            };
            Ok(if standing == batch[i].sha256 {
                Inserted::Duplicate
            } else {
                Inserted::Conflict {
                    stored_sha256: standing.to_owned(),
                }
            })
        })
        .collect()
}

/// A stored violation as its row holds it.
#[derive(sqlx::FromRow)]
struct ViolationRow {
    event: Json<ViolationEvent>,
    status: String,
    received_at: OffsetDateTime,
    payload: Vec<u8>,
    payload_sha256: String,
    owner_lookup: Option<String>,
    owner_citizen_id: Option<String>,
    corrected_plate: Option<String>,
    reviewed_by: Option<String>,
    reviewed_at: Option<OffsetDateTime>,
    reject_reason: Option<String>,
    review_note: Option<String>,
    evidence_purged_at: Option<OffsetDateTime>,
    evidence_purge_rule: Option<String>,
}

impl From<ViolationRow> for StoredViolation {
    fn from(r: ViolationRow) -> Self {
        Self {
            event: r.event.0,
            status: Status::parse(&r.status).unwrap_or(Status::Received),
            received_at: r.received_at,
            payload: r.payload,
            payload_sha256: r.payload_sha256,
            owner_lookup: r.owner_lookup,
            owner_citizen_id: r.owner_citizen_id,
            corrected_plate: r.corrected_plate,
            reviewed_by: r.reviewed_by,
            reviewed_at: r.reviewed_at,
            reject_reason: r.reject_reason,
            review_note: r.review_note,
            evidence_deleted: r.evidence_purge_rule.zip(r.evidence_purged_at),
        }
    }
}

/// One stored violation by its event id.
pub async fn get(db: &Db, id: &EventId) -> Result<Option<StoredViolation>, DbError> {
    let found = on_pool!(db, pool => {
        sqlx::query_as::<_, ViolationRow>(
            "SELECT event, status, received_at, payload, payload_sha256, owner_lookup,
                    owner_citizen_id, corrected_plate, reviewed_by, reviewed_at, reject_reason,
                    review_note, evidence_purged_at, evidence_purge_rule
             FROM violations WHERE event_id = $1",
        )
        .bind(*id.as_uuid())
        .fetch_optional(pool)
        .await?
    });
    Ok(found.map(StoredViolation::from))
}

/// How many violations are stored.
pub async fn count(db: &Db) -> Result<i64, DbError> {
    let n: i64 = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) AS n FROM violations")
            .fetch_one(pool)
            .await?
    });
    Ok(n)
}

/// The evidence manifest of a violation: (name, sha256, bytes), in name order.
pub async fn manifest(db: &Db, id: &EventId) -> Result<Vec<(String, String, i64)>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, (String, String, i64)>(
            "SELECT name, sha256, bytes FROM evidence_manifest WHERE event_id = $1 ORDER BY name",
        )
        .bind(*id.as_uuid())
        .fetch_all(pool)
        .await?
    });
    Ok(rows)
}
