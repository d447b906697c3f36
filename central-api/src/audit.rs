//! The audit log: every action on a violation, by whom and when, append-only and chained by hash.
//!
//! Entry `n` stores `hash = sha256(canonical JSON of {seq, at, actor, action, subject, details,
//! prev_hash})` and `prev_hash` = the hash of entry `n − 1` (64 zeros for the first). Changing,
//! removing or inserting any entry breaks the chain from there on, and [`AuditLog::verify`]
//! names the first entry that does not hold. The database refuses updates and deletes
//! (triggers), so a break means someone went around the application and the database.

use std::sync::Arc;

use protocol::{Sha256Digest, UtcTimestamp};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use tokio::sync::Mutex;

use crate::db::{Db, DbError, on_pool};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    /// UTC, to the millisecond.
    pub at: String,
    /// Who acted: `officer:NAME`, `device:ID`, `system`.
    pub actor: String,
    pub action: String,
    /// What was acted on, e.g. `violation:{event id}`.
    pub subject: String,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Serialize)]
struct Hashed<'a> {
    seq: i64,
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    subject: &'a str,
    details: &'a Value,
    prev_hash: &'a str,
}

fn entry_hash(e: &Hashed<'_>) -> Result<String, DbError> {
    let canonical = serde_json_canonicalizer::to_vec(e)
        .map_err(|err| DbError::Corrupt(format!("audit entry {}: {err}", e.seq)))?;
    Ok(Sha256Digest::of(&canonical).to_hex())
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit log entry {seq} does not hold: {reason}")]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// The audit log of one database.
#[derive(Debug, Clone)]
pub struct AuditLog {
    db: Db,
    /// Appends from this process one at a time; PostgreSQL also takes a database lock, so
    /// replicas never fork the chain.
    append: Arc<Mutex<()>>,
}

impl AuditLog {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            append: Arc::new(Mutex::new(())),
        }
    }

    /// Appends an entry and returns it. Appends of other processes (or other `AuditLog`s) that
    /// race for the same sequence number make this one retry on the new end of the chain.
    pub async fn append(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        details: Value,
    ) -> Result<AuditEntry, DbError> {
        let _one_at_a_time = self.append.lock().await;
        let mut attempt = 0;
        loop {
            match self.try_append(actor, action, subject, &details).await {
                Err(DbError::Sqlx(sqlx::Error::Database(e))) if attempt < 20 => {
                    tracing::debug!(error = %e, attempt, "audit append raced; retrying");
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(5 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn try_append(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        details: &Value,
    ) -> Result<AuditEntry, DbError> {
        let at = UtcTimestamp::now().to_string();
        let entry = on_pool!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            if matches!(self.db, Db::Postgres(_)) {
                sqlx::query("SELECT pg_advisory_xact_lock(7411001)").execute(&mut *tx).await?;
            }
            let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
            let (seq, prev_hash) = match last {
                Some(row) => (row.try_get::<i64, _>("seq")? + 1, row.try_get::<String, _>("hash")?),
                None => (1, GENESIS.to_owned()),
            };
            let hash = entry_hash(&Hashed {
                seq,
                at: &at,
                actor,
                action,
                subject,
                details,
                prev_hash: &prev_hash,
            })?;
            let details_text = serde_json::to_string(details)
                .map_err(|e| DbError::Corrupt(format!("audit details: {e}")))?;
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(seq)
            .bind(&at)
            .bind(actor)
            .bind(action)
            .bind(subject)
            .bind(&details_text)
            .bind(&prev_hash)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            AuditEntry {
                seq,
                at: at.clone(),
                actor: actor.to_owned(),
                action: action.to_owned(),
                subject: subject.to_owned(),
                details: details.clone(),
                prev_hash,
                hash,
            }
        });
        Ok(entry)
    }

    /// The entries about `subject`, oldest first.
    pub async fn for_subject(&self, subject: &str) -> Result<Vec<AuditEntry>, DbError> {
        self.entries(Some(subject)).await
    }

    async fn entries(&self, subject: Option<&str>) -> Result<Vec<AuditEntry>, DbError> {
        let rows = on_pool!(&self.db, pool => {
            let query = match subject {
                Some(subject) => sqlx::query(
                    "SELECT seq, at, actor, action, subject, details, prev_hash, hash
                     FROM audit_log WHERE subject = $1 ORDER BY seq",
                )
                .bind(subject),
                None => sqlx::query(
                    "SELECT seq, at, actor, action, subject, details, prev_hash, hash
                     FROM audit_log ORDER BY seq",
                ),
            };
            query
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|row| {
                    Ok::<_, sqlx::Error>((
                        row.try_get::<i64, _>("seq")?,
                        row.try_get::<String, _>("at")?,
                        row.try_get::<String, _>("actor")?,
                        row.try_get::<String, _>("action")?,
                        row.try_get::<String, _>("subject")?,
                        row.try_get::<String, _>("details")?,
                        row.try_get::<String, _>("prev_hash")?,
                        row.try_get::<String, _>("hash")?,
                    ))
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        rows.into_iter()
            .map(
                |(seq, at, actor, action, subject, details, prev_hash, hash)| {
                    let details = serde_json::from_str(&details)
                        .map_err(|e| DbError::Corrupt(format!("audit entry {seq} details: {e}")))?;
                    Ok(AuditEntry {
                        seq,
                        at,
                        actor,
                        action,
                        subject,
                        details,
                        prev_hash,
                        hash,
                    })
                },
            )
            .collect()
    }

    /// Walks the whole chain; returns the number of entries, or the first that does not hold.
    pub async fn verify(&self) -> Result<Result<i64, ChainBreak>, DbError> {
        let mut expected_prev = GENESIS.to_owned();
        let mut count = 0;
        for (i, e) in self.entries(None).await?.into_iter().enumerate() {
            let brk = |reason: &str| {
                Ok(Err(ChainBreak {
                    seq: e.seq,
                    reason: reason.to_owned(),
                }))
            };
            if e.seq != i as i64 + 1 {
                return brk(&format!(
                    "expected entry {} here: an entry is missing",
                    i + 1
                ));
            }
            if e.prev_hash != expected_prev {
                return brk("its link to the previous entry is broken");
            }
            let hash = entry_hash(&Hashed {
                seq: e.seq,
                at: &e.at,
                actor: &e.actor,
                action: &e.action,
                subject: &e.subject,
                details: &e.details,
                prev_hash: &e.prev_hash,
            })?;
            if hash != e.hash {
                return brk("its content does not match its hash");
            }
            expected_prev = e.hash;
            count += 1;
        }
        Ok(Ok(count))
    }
}
