//! Retention: what central deletes once the purpose it was kept for is served, and what keeps
//! a case from deletion. The rules, their defaults and their legal grounds are in
//! `docs/privacy.md`; the periods are [`RetentionSettings`].
//!
//! - **A case rejected at review** (no fine was ever issued) is purged `rejected_days` after
//!   its review: the violation row (plate, owner link, the signed event), its evidence
//!   manifest, and the blobs no other case uses, from the file or S3 store.
//! - **The evidence of a closed case** (paid, cancelled, time-barred) `closed_evidence_days`
//!   after it closed, once neither a complaint nor a lawsuit can still be brought against its
//!   decision: the files (images, clip, plate close-ups) and their manifest rows go, from the
//!   store as above; the case itself — its signed event, which names each file and its hash, the
//!   decision, the payment — stays as the record of the sanction, marked with when and why its
//!   evidence went.
//! - **Dead letters** (refused input, which may hold a plate) after `dead_letter_days`.
//! - **Cameras' snapshots** (pictures of the street taken to set a camera up) after
//!   `snapshot_days`.
//! - **Officers' sessions** once expired.
//!
//! A case under a **legal hold** (a complaint, a court) is never purged until the hold is
//! lifted. A purge is one transaction: the rows go, a tombstone of the event id stays
//! (`purged_events`: device, time, payload hash, rule; nothing personal) so that a replay of
//! the event is acknowledged but not stored again, the released blobs are queued, the case's
//! audit details are erased ([`crate::audit`]) and the purge itself is audited. The queued blobs
//! are deleted from the store afterwards, each only if no case still names it: a crash between
//! the two steps leaves the queue, which the next sweep finishes.

use std::{collections::BTreeMap, time::Duration};

use protocol::{EventId, Sha256Digest};
use serde::{Deserialize, Serialize};
use serde_json::json;
use service_kit::http::Shutdown;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Db, DbError, on_pool};
use crate::{
    audit::{AuditLog, append_in, erase_in},
    evidence_store::{EvidenceStore, StoreError},
};

/// How long each kind of record is kept (`[retention]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Days a case rejected at review (and never fined) is kept after its review, for a
    /// supervisor to reopen it.
    pub rejected_days: u32,
    /// Days the evidence files of a closed case (paid, cancelled, time-barred) are kept after
    /// it closed: the year a decision can be taken to court (Law 93/2015/QH13 on Administrative
    /// Procedure, Article 116 clause 2 point a), counted from the closing, which never comes
    /// before the decision reached its addressee, and 30 days for a suit brought on the last day
    /// to reach the unit and its legal hold to be set. The complaint period (90 days, Law on
    /// Complaints 2011, Article 9) ends within it.
    pub closed_evidence_days: u32,
    /// Days a dead letter (input refused at ingest) is kept for diagnosis.
    pub dead_letter_days: u32,
    /// Days a camera's snapshot (a picture of the street taken to set the camera up, not
    /// evidence) is kept after it was asked for.
    pub snapshot_days: u32,
    /// How often the sweep runs.
    pub sweep_interval_s: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            rejected_days: 90,
            closed_evidence_days: 395,
            dead_letter_days: 30,
            snapshot_days: 30,
            sweep_interval_s: 3600,
        }
    }
}

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Swept {
    /// The cases purged (the whole case, or its evidence files), by rule.
    pub purged: BTreeMap<&'static str, Vec<Uuid>>,
    /// Blobs deleted from the store.
    pub blobs_deleted: usize,
    pub dead_letters_deleted: u64,
    pub sessions_deleted: u64,
    pub snapshots_deleted: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RetentionError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e.into())
    }
}

/// The rule a case rejected at review is purged under.
pub const REJECTED: &str = "rejected_at_review";

/// The rule the evidence files of a closed case are deleted under.
pub const CLOSED: &str = "closed_case_evidence";

const DAY: time::Duration = time::Duration::DAY;

/// Sweeps once at `now`: purges the cases due, deletes the blobs they released, the old dead
/// letters and the expired sessions.
#[tracing::instrument(name = "retention_sweep", skip_all)]
pub async fn sweep(
    db: &Db,
    audit: &AuditLog,
    store: &EvidenceStore,
    rules: &RetentionSettings,
    now: OffsetDateTime,
) -> Result<Swept, RetentionError> {
    let mut swept = Swept::default();
    let cutoff = now - DAY * i32::try_from(rules.rejected_days).unwrap_or(i32::MAX);
    for id in rejected_due(db, cutoff).await? {
        if purge_rejected(db, audit, id, cutoff, now).await? {
            tracing::info!(event_id = %id, rule = REJECTED, "case purged");
            swept.purged.entry(REJECTED).or_default().push(id);
        }
    }
    let closed_before = now - DAY * i32::try_from(rules.closed_evidence_days).unwrap_or(i32::MAX);
    for id in closed_due(db, closed_before).await? {
        if delete_closed_evidence(db, audit, id, closed_before, now).await? {
            tracing::info!(event_id = %id, rule = CLOSED, "evidence of a closed case deleted");
            swept.purged.entry(CLOSED).or_default().push(id);
        }
    }
    let snapshots_before = now - DAY * i32::try_from(rules.snapshot_days).unwrap_or(i32::MAX);
    swept.snapshots_deleted = super::snapshots::delete_before(db, snapshots_before, now).await?;
    swept.blobs_deleted = delete_released_blobs(db, store).await?;
    let dead_before = now - DAY * i32::try_from(rules.dead_letter_days).unwrap_or(i32::MAX);
    let (dead, sessions) = on_pool!(db, pool => {
        let dead = sqlx::query("DELETE FROM dead_letters WHERE received_at < $1")
            .bind(dead_before)
            .execute(pool)
            .await?
            .rows_affected();
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected();
        (dead, sessions)
    });
    swept.dead_letters_deleted = dead;
    swept.sessions_deleted = sessions;
    Ok(swept)
}

/// The condition under which a case rejected before the cutoff (parameter `$1`) may be purged.
const REJECTED_DUE: &str = "status = 'rejected' AND reviewed_at < $1 AND legal_hold_at IS NULL
     AND NOT EXISTS (SELECT 1 FROM fines f WHERE f.event_id = violations.event_id)";

async fn rejected_due(db: &Db, cutoff: OffsetDateTime) -> Result<Vec<Uuid>, DbError> {
    due(db, REJECTED_DUE, "reviewed_at", cutoff).await
}

/// The condition under which the evidence of a case closed before the cutoff (parameter `$1`)
/// may be deleted. A violation has at most one case that is not `transferred` (migration
/// 0015): when that one is closed, the violation is done with.
const CLOSED_DUE: &str = "evidence_purged_at IS NULL AND legal_hold_at IS NULL
     AND EXISTS (SELECT 1 FROM fines f WHERE f.event_id = violations.event_id
                   AND f.status IN ('paid', 'cancelled', 'time_barred') AND f.closed_at < $1)";

async fn closed_due(db: &Db, cutoff: OffsetDateTime) -> Result<Vec<Uuid>, DbError> {
    due(db, CLOSED_DUE, "occurred_at", cutoff).await
}

/// Up to 500 violations meeting `condition` at `cutoff`, in `order`.
async fn due(
    db: &Db,
    condition: &str,
    order: &str,
    cutoff: OffsetDateTime,
) -> Result<Vec<Uuid>, DbError> {
    let ids: Vec<Uuid> = on_pool!(db, pool => {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT event_id FROM violations WHERE {condition} ORDER BY {order} LIMIT 500"
        )))
        .bind(cutoff)
        .fetch_all(pool)
        .await?
    });
    Ok(ids)
}

/// In transaction `$tx`: queues for deletion the blobs the manifest of event `$id` names, and the
/// documents attached to answers on its cases, and deletes their rows (a blob another case
/// names is kept when the queue is worked).
macro_rules! queue_blobs_of {
    ($tx:ident, $id:expr, $now:expr) => {{
        sqlx::query(
            "INSERT INTO evidence_deletions (sha256, queued_at)
             SELECT sha256, $2 FROM evidence_manifest WHERE event_id = $1
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind($id)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
        sqlx::query("DELETE FROM evidence_manifest WHERE event_id = $1")
            .bind($id)
            .execute(&mut *$tx)
            .await?;
        // The documents attached to answers on its cases go with it.
        sqlx::query(
            "INSERT INTO evidence_deletions (sha256, queued_at)
             SELECT d.sha256, $2 FROM answer_documents d JOIN fines f ON f.fine_id = d.fine_id
             WHERE f.event_id = $1
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind($id)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
        sqlx::query(
            "DELETE FROM answer_documents WHERE fine_id IN (SELECT fine_id FROM fines WHERE event_id = $1)",
        )
        .bind($id)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// What the tombstone of a purged case keeps of its violation.
#[derive(sqlx::FromRow)]
struct TombstoneRow {
    device_id: String,
    occurred_at: OffsetDateTime,
    payload_sha256: String,
}

/// Purges the case `id` if it is still due (a hold set, or the case reopened, since it was
/// found keeps it); whether it did.
async fn purge_rejected(
    db: &Db,
    audit: &AuditLog,
    id: Uuid,
    cutoff: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<bool, DbError> {
    let postgres = matches!(db, Db::Postgres(_));
    let subject = format!("violation:{}", id.hyphenated());
    let now_text = protocol::UtcTimestamp::from_datetime(now).to_string();
    let _one_at_a_time = audit.lock().await;
    let purged = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        // Claims the row (PostgreSQL locks it until commit; a hold set meanwhile waits, then
        // finds the case gone) and reads what the tombstone keeps.
        let claimed = sqlx::query_as::<_, TombstoneRow>(sqlx::AssertSqlSafe(format!(
            "UPDATE violations SET status = 'purging' WHERE {REJECTED_DUE} AND event_id = $2
             RETURNING device_id, occurred_at, payload_sha256"
        )))
        .bind(cutoff)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(TombstoneRow { device_id: device, occurred_at: occurred, payload_sha256 }) =
            claimed
        else {
            tx.rollback().await?;
            return Ok(false);
        };
        queue_blobs_of!(tx, id, now);
        sqlx::query("DELETE FROM violations WHERE event_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO purged_events
               (event_id, device_id, occurred_at, payload_sha256, rule, purged_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(&device)
        .bind(occurred)
        .bind(&payload_sha256)
        .bind(REJECTED)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let kept = erase_in!(tx, &subject, &now_text);
        if kept > 0 {
            tracing::warn!(
                event_id = %id,
                entries = kept,
                "audit entries written before salting keep their details"
            );
        }
        append_in!(
            tx,
            postgres,
            "system",
            "retention.purged",
            &subject,
            &json!({ "rule": REJECTED, "payload_sha256": payload_sha256 })
        );
        tx.commit().await?;
        true
    });
    Ok(purged)
}

/// Deletes the evidence of the closed case `id` if it is still due (a hold set since it was
/// found keeps it): its manifest rows go and its blobs are queued, the violation is marked,
/// and the deletion is audited, in one transaction; whether it did.
async fn delete_closed_evidence(
    db: &Db,
    audit: &AuditLog,
    id: Uuid,
    cutoff: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<bool, DbError> {
    let postgres = matches!(db, Db::Postgres(_));
    let subject = format!("violation:{}", id.hyphenated());
    let _one_at_a_time = audit.lock().await;
    let deleted = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let claimed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE violations SET evidence_purged_at = $3, evidence_purge_rule = $4
             WHERE {CLOSED_DUE} AND event_id = $2"
        )))
        .bind(cutoff)
        .bind(id)
        .bind(now)
        .bind(CLOSED)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        queue_blobs_of!(tx, id, now);
        append_in!(
            tx,
            postgres,
            "system",
            "retention.evidence_deleted",
            &subject,
            &json!({ "rule": CLOSED })
        );
        tx.commit().await?;
        true
    });
    Ok(deleted)
}

/// Deletes from the store the queued blobs that no case names any more; how many.
async fn delete_released_blobs(db: &Db, store: &EvidenceStore) -> Result<usize, RetentionError> {
    let queued: Vec<String> = on_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT sha256 FROM evidence_deletions ORDER BY queued_at, sha256 LIMIT 1000",
        )
        .fetch_all(pool)
        .await?
    });
    let mut deleted = 0;
    for hex in queued {
        // The blob's row goes first, in a transaction that checks no case names the blob: a
        // case that names it later finds it missing and takes a fresh upload.
        let release = on_pool!(db, pool => {
            let mut tx = pool.begin().await?;
            let named = sqlx::query(super::evidence::NAMED)
                .bind(&hex)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if !named {
                sqlx::query("DELETE FROM evidence_blobs WHERE sha256 = $1")
                    .bind(&hex)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            !named
        });
        if release {
            let sha256 = Sha256Digest::parse(&hex)
                .map_err(|e| DbError::Corrupt(format!("queued blob {hex}: {e}")))?;
            store.remove(&sha256).await?;
            deleted += 1;
        }
        on_pool!(db, pool => {
            sqlx::query("DELETE FROM evidence_deletions WHERE sha256 = $1")
                .bind(&hex)
                .execute(pool)
                .await?;
        });
    }
    Ok(deleted)
}

/// When the event `id` was purged and under which rule, if it was.
pub async fn purged(db: &Db, id: &EventId) -> Result<Option<(String, OffsetDateTime)>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as("SELECT rule, purged_at FROM purged_events WHERE event_id = $1")
            .bind(*id.as_uuid())
            .fetch_optional(pool)
            .await?
    });
    Ok(row)
}

/// A case's legal hold: why, who set it, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LegalHold {
    pub reason: String,
    /// The supervisor who set it (`officer:NAME`).
    pub by: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: protocol::UtcTimestamp,
}

/// What setting or lifting a hold found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldChange {
    Done,
    /// No such case; `true` when it was purged.
    Missing {
        purged: bool,
    },
}

/// Sets (`Some(reason)`) or lifts (`None`) the legal hold of case `id`, audited in the same
/// transaction as officer `by`.
pub async fn set_hold(
    db: &Db,
    audit: &AuditLog,
    id: &EventId,
    by: &str,
    reason: Option<&str>,
    now: OffsetDateTime,
) -> Result<HoldChange, DbError> {
    let postgres = matches!(db, Db::Postgres(_));
    let subject = format!("violation:{id}");
    let _one_at_a_time = audit.lock().await;
    let changed = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE violations SET legal_hold_reason = $1, legal_hold_by = $2, legal_hold_at = $3
             WHERE event_id = $4",
        )
        .bind(reason)
        .bind(reason.map(|_| by))
        .bind(reason.map(|_| now))
        .bind(*id.as_uuid())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            let (action, details) = match reason {
                Some(reason) => ("legal_hold.set", json!({ "reason": reason })),
                None => ("legal_hold.lifted", json!({})),
            };
            append_in!(tx, postgres, by, action, &subject, &details);
        }
        tx.commit().await?;
        changed == 1
    });
    if changed {
        return Ok(HoldChange::Done);
    }
    Ok(HoldChange::Missing {
        purged: purged(db, id).await?.is_some(),
    })
}

/// The legal hold of case `id`, if it has one.
pub async fn hold_of(db: &Db, id: &EventId) -> Result<Option<LegalHold>, DbError> {
    let row: Option<HoldRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT legal_hold_reason, legal_hold_by, legal_hold_at FROM violations
             WHERE event_id = $1 AND legal_hold_at IS NOT NULL",
        )
        .bind(*id.as_uuid())
        .fetch_optional(pool)
        .await?
    });
    Ok(row.map(LegalHold::from))
}

/// The legal hold columns of a held case.
#[derive(sqlx::FromRow)]
struct HoldRow {
    legal_hold_reason: String,
    legal_hold_by: String,
    legal_hold_at: OffsetDateTime,
}

impl From<HoldRow> for LegalHold {
    fn from(row: HoldRow) -> Self {
        Self {
            reason: row.legal_hold_reason,
            by: row.legal_hold_by,
            at: protocol::UtcTimestamp::from_datetime(row.legal_hold_at),
        }
    }
}

/// Runs until `shutdown`, sweeping every `rules.sweep_interval_s`.
pub async fn run(
    db: Db,
    audit: AuditLog,
    store: EvidenceStore,
    rules: RetentionSettings,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let every = Duration::from_secs(rules.sweep_interval_s.max(1));
    shutdown
        .every(every, "retention sweep", || async {
            sweep(&db, &audit, &store, &rules, OffsetDateTime::now_utc())
                .await
                .map_err(anyhow::Error::from)
        })
        .await
}
