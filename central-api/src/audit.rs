//! The audit log: every action on a violation, by whom and when, append-only and chained by hash.
//!
//! Entry `n` stores `hash = sha256(canonical JSON of {seq, at, actor, action, subject,
//! details_sha256, prev_hash})` and `prev_hash` = the hash of entry `n − 1` (64 zeros for the
//! first). `details_sha256` is the SHA-256 of the subject's salt and the canonical details:
//! the chain binds the details without holding them. Changing, removing or inserting any entry
//! breaks the chain from there on, and [`AuditLog::verify`] names the first entry that does not
//! hold. The database refuses updates and deletes (triggers), so a break means someone went
//! around the application and the database.
//!
//! Details carry personal data (a plate, a citizen's answer). When retention purges a subject
//! ([`crate::db::retention`]) its salt is destroyed and its entries' details blanked
//! (`erased_at`), the one change the triggers allow: the chain still verifies on the digests,
//! and without the salt a digest cannot be tried against guessed plates. Entries written before
//! salting (`details_sha256` absent) hash their details directly and keep them.

use std::sync::Arc;

use protocol::Sha256Digest;
use serde::Serialize;
use serde_json::Value;
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
    /// `null` once erased.
    pub details: Value,
    /// The salted digest of the details; absent on entries written before salting.
    pub details_sha256: Option<String>,
    /// When retention erased the details, if it did.
    pub erased_at: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// What an entry written before salting hashed.
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

/// What an entry hashes.
#[derive(Serialize)]
struct HashedSalted<'a> {
    seq: i64,
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    subject: &'a str,
    details_sha256: &'a str,
    prev_hash: &'a str,
}

fn canonical(seq: i64, value: &impl Serialize) -> Result<Vec<u8>, DbError> {
    serde_json_canonicalizer::to_vec(value)
        .map_err(|err| DbError::Corrupt(format!("audit entry {seq}: {err}")))
}

/// The chain hash of `entry`, by the rule it was written under.
fn entry_hash(e: &AuditEntry) -> Result<String, DbError> {
    let bytes = match &e.details_sha256 {
        Some(details_sha256) => canonical(
            e.seq,
            &HashedSalted {
                seq: e.seq,
                at: &e.at,
                actor: &e.actor,
                action: &e.action,
                subject: &e.subject,
                details_sha256,
                prev_hash: &e.prev_hash,
            },
        )?,
        None => canonical(
            e.seq,
            &Hashed {
                seq: e.seq,
                at: &e.at,
                actor: &e.actor,
                action: &e.action,
                subject: &e.subject,
                details: &e.details,
                prev_hash: &e.prev_hash,
            },
        )?,
    };
    Ok(Sha256Digest::of(&bytes).to_hex())
}

/// SHA-256 of the subject's salt (hex), a newline and the canonical details.
fn details_digest(seq: i64, salt: &str, details: &Value) -> Result<String, DbError> {
    let mut bytes = salt.as_bytes().to_vec();
    bytes.push(b'\n');
    bytes.extend(canonical(seq, details)?);
    Ok(Sha256Digest::of(&bytes).to_hex())
}

/// A new subject's salt: 32 random bytes, hex.
pub(crate) fn new_salt() -> Result<String, DbError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| DbError::Corrupt(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Builds the entry that follows `prev` (`None`: the first), salted with `salt`.
pub(crate) fn seal(
    prev: Option<(i64, String)>,
    at: String,
    (actor, action, subject): (&str, &str, &str),
    details: &Value,
    salt: &str,
) -> Result<AuditEntry, DbError> {
    let (seq, prev_hash) = match prev {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_owned()),
    };
    let mut entry = AuditEntry {
        seq,
        at,
        actor: actor.to_owned(),
        action: action.to_owned(),
        subject: subject.to_owned(),
        details: details.clone(),
        details_sha256: Some(details_digest(seq, salt, details)?),
        erased_at: None,
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry_hash(&entry)?;
    Ok(entry)
}

/// An entry to append: who did what to what, and the details (salted before hashing).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub details: &'a Value,
}

/// Most rows one statement of a batch writes: bounds its bind parameters (13 a row at most
/// here) far under SQLite's 32 766 and PostgreSQL's 65 535.
pub(crate) const ROWS_PER_STATEMENT: usize = 200;

/// Appends `$entries` (a `&[NewEntry]`), in order, in the caller's transaction `$tx` (either
/// engine; `$postgres` says which) as one step of the chain: the last entry is read once, the
/// subjects' salts are made and read in one statement each, and the entries are written in
/// one. Evaluates to the [`AuditEntry`]s written. The caller holds [`AuditLog::lock`] so that
/// appends of this process do not race; on PostgreSQL an advisory lock held to commit keeps
/// other processes' appends after this one.
macro_rules! append_all_in {
    ($tx:ident, $postgres:expr, $entries:expr) => {{
        let entries: &[$crate::audit::NewEntry<'_>] = $entries;
        let mut sealed: Vec<$crate::audit::AuditEntry> = Vec::with_capacity(entries.len());
        if !entries.is_empty() {
            if $postgres {
                sqlx::query("SELECT pg_advisory_xact_lock(7411001)")
                    .execute(&mut *$tx)
                    .await?;
            }
            let mut prev = sqlx::query_as::<_, (i64, String)>(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            )
            .fetch_optional(&mut *$tx)
            .await?;
            let mut subjects: Vec<&str> = entries.iter().map(|e| e.subject).collect();
            subjects.sort_unstable();
            subjects.dedup();
            let mut salts = std::collections::HashMap::<String, String>::new();
            for chunk in subjects.chunks($crate::audit::ROWS_PER_STATEMENT) {
                let fresh = chunk
                    .iter()
                    .map(|_| $crate::audit::new_salt())
                    .collect::<Result<Vec<_>, _>>()?;
                let mut insert = sqlx::QueryBuilder::new("INSERT INTO audit_salts (subject, salt) ");
                insert.push_values(chunk.iter().zip(&fresh), |mut row, (subject, salt)| {
                    row.push_bind(*subject).push_bind(salt.as_str());
                });
                insert.push(" ON CONFLICT (subject) DO NOTHING");
                insert.build().execute(&mut *$tx).await?;
                let mut select = $crate::db::in_list(
                    "SELECT subject, salt FROM audit_salts WHERE subject IN (",
                    chunk.iter().copied(),
                );
                salts.extend(
                    select
                        .build_query_as::<(String, String)>()
                        .fetch_all(&mut *$tx)
                        .await?,
                );
            }
            let at = protocol::UtcTimestamp::now().to_string();
            for e in entries {
                let salt = salts.get(e.subject).ok_or_else(|| {
                    $crate::db::DbError::Corrupt(format!("no audit salt for {}", e.subject))
                })?;
                let entry = $crate::audit::seal(
                    prev.take(),
                    at.clone(),
                    (e.actor, e.action, e.subject),
                    e.details,
                    salt,
                )?;
                prev = Some((entry.seq, entry.hash.clone()));
                sealed.push(entry);
            }
            for chunk in sealed.chunks($crate::audit::ROWS_PER_STATEMENT) {
                let details = chunk
                    .iter()
                    .map(|entry| serde_json::to_string(&entry.details))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| $crate::db::DbError::Corrupt(format!("audit details: {e}")))?;
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO audit_log
                       (seq, at, actor, action, subject, details, details_sha256, prev_hash, hash) ",
                );
                insert.push_values(chunk.iter().zip(&details), |mut row, (entry, details)| {
                    row.push_bind(entry.seq)
                        .push_bind(entry.at.as_str())
                        .push_bind(entry.actor.as_str())
                        .push_bind(entry.action.as_str())
                        .push_bind(entry.subject.as_str())
                        .push_bind(details.as_str())
                        .push_bind(entry.details_sha256.as_deref())
                        .push_bind(entry.prev_hash.as_str())
                        .push_bind(entry.hash.as_str());
                });
                insert.build().execute(&mut *$tx).await?;
            }
        }
        sealed
    }};
}
pub(crate) use append_all_in;

/// Appends one entry in the caller's transaction `$tx` (either engine; `$postgres` says which)
/// and evaluates to the [`AuditEntry`]: the business change and its entry commit together.
/// The caller holds [`AuditLog::lock`] so that appends of this process do not race.
macro_rules! append_in {
    ($tx:ident, $postgres:expr, $actor:expr, $action:expr, $subject:expr, $details:expr) => {{
        let entry = $crate::audit::NewEntry {
            actor: $actor,
            action: $action,
            subject: $subject,
            details: $details,
        };
        $crate::audit::append_all_in!($tx, $postgres, &[entry])
            .pop()
            .ok_or_else(|| $crate::db::DbError::Corrupt("no audit entry written".into()))?
    }};
}
pub(crate) use append_in;

/// Commits the caller's transaction `$tx` of a change that updated `$changed` rows, with the
/// change's audit entry when it updated one (nothing to record otherwise).
macro_rules! commit_audited {
    ($tx:ident, $postgres:expr, $changed:expr, $actor:expr, $action:expr, $subject:expr, $details:expr) => {{
        if $changed == 1 {
            $crate::audit::append_in!($tx, $postgres, $actor, $action, $subject, $details);
        }
        $tx.commit().await?;
    }};
}
pub(crate) use commit_audited;

/// Erases the details of every salted entry about `$subject` in the caller's transaction
/// `$tx`: the subject is recorded as erased, its salt destroyed, its details blanked. Evaluates
/// to the number of entries written before salting, whose details stay.
macro_rules! erase_in {
    ($tx:ident, $subject:expr, $now:expr) => {{
        let (subject, now): (&str, &str) = ($subject, $now);
        sqlx::query(
            "INSERT INTO audit_erased_subjects (subject, erased_at) VALUES ($1, $2)
             ON CONFLICT (subject) DO NOTHING",
        )
        .bind(subject)
        .bind(now)
        .execute(&mut *$tx)
        .await?;
        sqlx::query("DELETE FROM audit_salts WHERE subject = $1")
            .bind(subject)
            .execute(&mut *$tx)
            .await?;
        sqlx::query(
            "UPDATE audit_log SET details = 'null', erased_at = $1
             WHERE subject = $2 AND details_sha256 IS NOT NULL AND erased_at IS NULL",
        )
        .bind(now)
        .bind(subject)
        .execute(&mut *$tx)
        .await?;
        let kept: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) AS n FROM audit_log WHERE subject = $1 AND details_sha256 IS NULL",
        )
        .bind(subject)
        .fetch_one(&mut *$tx)
        .await?;
        kept
    }};
}
pub(crate) use erase_in;

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

/// A stored row: the entry, its subject's salt (if it still has one) and whether the subject
/// was erased.
type Stored = (AuditEntry, Option<String>, bool);

/// An `audit_log` row with its subject's salt and erasure, as [`AuditLog::entries`] reads it.
#[derive(sqlx::FromRow)]
struct StoredRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
    /// The details as JSON text.
    details: String,
    details_sha256: Option<String>,
    erased_at: Option<String>,
    prev_hash: String,
    hash: String,
    salt: Option<String>,
    erased_subject: Option<String>,
}

impl StoredRow {
    fn into_stored(self) -> Result<Stored, sqlx::Error> {
        let details = serde_json::from_str(&self.details).map_err(|e| {
            sqlx::Error::Decode(format!("audit entry {} details: {e}", self.seq).into())
        })?;
        let entry = AuditEntry {
            seq: self.seq,
            at: self.at,
            actor: self.actor,
            action: self.action,
            subject: self.subject,
            details,
            details_sha256: self.details_sha256,
            erased_at: self.erased_at,
            prev_hash: self.prev_hash,
            hash: self.hash,
        };
        Ok((entry, self.salt, self.erased_subject.is_some()))
    }
}

impl AuditLog {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            append: Arc::new(Mutex::new(())),
        }
    }

    /// Held by whoever appends in a transaction of their own ([`append_in`]).
    pub(crate) async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.append.lock().await
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
        let postgres = matches!(self.db, Db::Postgres(_));
        let entry = on_pool!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let entry = append_in!(tx, postgres, actor, action, subject, details);
            tx.commit().await?;
            entry
        });
        Ok(entry)
    }

    /// The last entry's number and hash; `None` while the log is empty.
    pub async fn head(&self) -> Result<Option<(i64, String)>, DbError> {
        let head = on_pool!(&self.db, pool => {
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(pool)
                .await?
        });
        Ok(head)
    }

    /// The hash of entry `seq`, when there is one.
    pub async fn hash_of(&self, seq: i64) -> Result<Option<String>, DbError> {
        let hash = on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
                .bind(seq)
                .fetch_optional(pool)
                .await?
        });
        Ok(hash)
    }

    /// The entries about `subject`, oldest first.
    pub async fn for_subject(&self, subject: &str) -> Result<Vec<AuditEntry>, DbError> {
        Ok(self
            .entries(Some(subject))
            .await?
            .into_iter()
            .map(|(e, _, _)| e)
            .collect())
    }

    async fn entries(&self, subject: Option<&str>) -> Result<Vec<Stored>, DbError> {
        const SELECT: &str = "SELECT a.seq, a.at, a.actor, a.action, a.subject, a.details,
                    a.details_sha256, a.erased_at, a.prev_hash, a.hash, s.salt,
                    e.subject AS erased_subject
             FROM audit_log a
             LEFT JOIN audit_salts s ON s.subject = a.subject
             LEFT JOIN audit_erased_subjects e ON e.subject = a.subject";
        let rows = on_pool!(&self.db, pool => {
            let query = match subject {
                Some(subject) => sqlx::query_as::<_, StoredRow>(sqlx::AssertSqlSafe(format!(
                    "{SELECT} WHERE a.subject = $1 ORDER BY a.seq"
                )))
                .bind(subject),
                None => sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} ORDER BY a.seq"))),
            };
            query
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(StoredRow::into_stored)
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok(rows)
    }

    /// Walks the whole chain; returns the number of entries, or the first that does not hold.
    pub async fn verify(&self) -> Result<Result<i64, ChainBreak>, DbError> {
        let mut expected_prev = GENESIS.to_owned();
        let mut count = 0;
        for (i, (e, salt, subject_erased)) in self.entries(None).await?.into_iter().enumerate() {
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
            if entry_hash(&e)? != e.hash {
                return brk("its content does not match its hash");
            }
            if let Some(digest) = &e.details_sha256 {
                match (&e.erased_at, salt) {
                    (Some(_), _) if !subject_erased => {
                        return brk("its details were erased but its subject was never purged");
                    }
                    (Some(_), _) => {}
                    (None, None) => return brk("its subject's salt is missing"),
                    (None, Some(salt)) => {
                        if details_digest(e.seq, &salt, &e.details)? != *digest {
                            return brk("its details do not match their digest");
                        }
                    }
                }
            }
            expected_prev = e.hash;
            count += 1;
        }
        Ok(Ok(count))
    }
}
