//! The durable outbox: SQLite in WAL mode with `synchronous = FULL`, evidence files beside it
//! named by their SHA-256. An event is stored — its files written and synced first, then its
//! row committed — before anything is sent, and leaves only when central has acknowledged it
//! and every file has been uploaded. A crash at any moment leaves either the whole event or
//! none of it; files without a row are swept at the next start.
//!
//! A violation is journaled the moment it is seen ([`Outbox::put_provisional`]): a complete,
//! signed event with the images it has then, held back from delivery until the agent replaces
//! it with the event that has its "after" image and clip ([`Outbox::put`], same id, same place
//! in the order). A provisional event left by a crash is delivered as it is at the next start.
//!
//! Writers never meet a stale snapshot: every write transaction takes SQLite's write lock as it
//! begins (`BEGIN IMMEDIATE`), reads what it decides on inside it, and waits for the lock for up
//! to [`BUSY_TIMEOUT`]; a deferred transaction that read first would be refused at once
//! (`SQLITE_BUSY`) whenever the publisher had committed in between, as it does in a burst.
//!
//! The room an event may take is the smaller of what the cap (`outbox.max_bytes`) leaves and
//! what the disk has free beyond `outbox.min_free_bytes`; the policy (`outbox.when_full`)
//! applies to both alike. What the evidence stage could not store yet is kept in memory and
//! tried again by [`writer::Writer`].
//!
//! One file because every operation on the outbox (store, publish, acknowledge, upload, the
//! policy when full) reads and writes the same rows and files under one transaction discipline;
//! split, the rule that nothing accepted is lost would be spread over several places.

pub mod writer;

use std::{
    io::Write,
    path::{Path, PathBuf},
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sqlx::{
    Row, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::config::{OutboxSettings, WhenFull};

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("outbox migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("outbox file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Writes `bytes` to `path` so that a power cut leaves the old file or the new one, never part
/// of one: written beside it (`*.tmp`, which [`Outbox::open`] sweeps), synced, renamed into
/// place, and the folder synced so the rename itself survives.
pub fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), OutboxError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutboxError + '_ {
    move |source| OutboxError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A file to store with an event.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub sha256: String,
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Whether the file `name` is the clip `clip` (`clip.mp4`) or a file made of it, named after it
/// (`clip-masked.mp4`, `clip-masked.json`): what a full outbox leaves out together.
pub fn of_clip(name: &str, clip: &str) -> bool {
    let stem = clip.rsplit_once('.').map_or(clip, |(stem, _)| stem);
    name == clip
        || name
            .strip_prefix(stem)
            .is_some_and(|rest| rest.starts_with('-'))
}

/// What became of an event handed to the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Kept,
    /// Kept without the files named in the policy (the clip), the outbox or its disk being full.
    KeptWithoutClip,
    /// Refused: the outbox or its disk is full. A provisional event of the same id, if there is
    /// one, is delivered instead.
    Refused,
    /// This event id was stored before.
    Duplicate,
}

/// How long a writer waits for another's write transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// An event waiting for central.
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: i64,
    pub event_id: String,
    pub payload: Vec<u8>,
    pub published_ms: Option<i64>,
}

/// A file waiting to be uploaded.
#[derive(Debug, Clone)]
pub struct Upload {
    pub sha256: String,
    pub content_type: String,
    pub path: PathBuf,
}

/// A runtime of its own for a thread that stores into the outbox outside the service's runtime
/// (the evidence stage, which must finish storing while the agent stops). Its one worker thread
/// keeps running the pool's own tasks between `block_on` calls — a connection goes back to the
/// pool in a task spawned where it was dropped: on a current-thread runtime that task would wait
/// for the next call, holding the connection, and the rest of the agent would starve for want of
/// one.
pub fn writer_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("outbox-writer")
        .enable_all()
        .build()
}

#[derive(Debug, Clone)]
pub struct Outbox {
    pool: SqlitePool,
    blobs: PathBuf,
    settings: OutboxSettings,
    /// Set while the disk, not the cap, is what keeps events out; cleared by the next event
    /// stored whole.
    disk_full: Arc<AtomicBool>,
    /// Held by whatever writes or removes files, from its first look at the rows until its
    /// files are on disk or gone: a file one event shares with another is never removed by
    /// the release of the one while the other is being stored.
    files_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Outbox {
    /// Opens (or creates) the outbox in `dir`, and sweeps files no event refers to.
    pub async fn open(dir: &Path, settings: OutboxSettings) -> Result<Self, OutboxError> {
        let blobs = dir.join("blobs");
        service_kit::secret_file::create_private_dir(&blobs).map_err(io(&blobs))?;
        let db = dir.join("outbox.db");
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        // Journaled before the last run ended without finishing them: delivered as they are.
        let kept = sqlx::query("UPDATE events SET provisional = 0 WHERE provisional = 1")
            .execute(&pool)
            .await?
            .rows_affected();
        if kept > 0 {
            tracing::warn!(
                violations = kept,
                "violations journaled before the agent stopped unexpectedly are delivered without their after image and clip"
            );
        }
        let outbox = Self {
            pool,
            blobs,
            settings,
            disk_full: Arc::default(),
            files_lock: Arc::default(),
        };
        outbox.sweep().await?;
        Ok(outbox)
    }

    /// Connections of the outbox's pool idle now (at most two).
    pub fn idle_connections(&self) -> usize {
        self.pool.num_idle()
    }

    fn blob(&self, sha256: &str) -> PathBuf {
        self.blobs.join(sha256)
    }

    /// A write transaction holding SQLite's write lock from its start.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, OutboxError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Bytes the disk holding the outbox has free for it (beyond `min_free_bytes`); `None`
    /// when the filesystem cannot say.
    pub fn disk_room(&self) -> Option<u64> {
        let st = rustix::fs::statvfs(&self.blobs).ok()?;
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        Some(free.saturating_sub(self.settings.min_free_bytes))
    }

    /// Whether the disk, rather than the cap, kept the last event out or shortened it.
    pub fn disk_full(&self) -> bool {
        self.disk_full.load(Ordering::Relaxed)
    }

    /// Removes files that no stored event refers to (a crash between writing them and
    /// committing the row) and half-written temporary files.
    async fn sweep(&self) -> Result<(), OutboxError> {
        let known: std::collections::HashSet<String> =
            sqlx::query_scalar("SELECT DISTINCT sha256 FROM files")
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .collect();
        let entries = std::fs::read_dir(&self.blobs).map_err(io(&self.blobs))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !known.contains(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// Bytes held: payloads and files.
    pub async fn bytes(&self) -> Result<u64, OutboxError> {
        let mut conn = self.pool.acquire().await?;
        held_bytes(&mut conn).await
    }

    /// Events waiting for central's acknowledgement (not those journaled while they are still
    /// being made).
    pub async fn depth(&self) -> Result<u64, OutboxError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE acked = 0 AND provisional = 0")
                .fetch_one(&self.pool)
                .await?;
        Ok(n.max(0) as u64)
    }

    /// Evidence files waiting to be uploaded (each once, however many events name it): an
    /// event central has acknowledged stays in the outbox until these are up.
    pub async fn uploads_pending(&self) -> Result<u64, OutboxError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT f.sha256) FROM files f JOIN events e ON e.event_id = f.event_id \
             WHERE f.uploaded = 0 AND e.provisional = 0",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n.max(0) as u64)
    }

    /// Stores an event and its files durably, in place of its provisional event if there is
    /// one. The clip is named by `clip`, for the policy.
    pub async fn put(
        &self,
        event_id: &str,
        payload: &[u8],
        files: &[NewFile],
        clip: Option<&str>,
        now_ms: i64,
    ) -> Result<Stored, OutboxError> {
        self.store(event_id, payload, files, clip, now_ms, false)
            .await
    }

    /// Journals a violation as soon as it is seen: stored like [`Outbox::put`], but not
    /// delivered until `put` replaces it — or the agent starts again without having done so.
    pub async fn put_provisional(
        &self,
        event_id: &str,
        payload: &[u8],
        files: &[NewFile],
        now_ms: i64,
    ) -> Result<Stored, OutboxError> {
        self.store(event_id, payload, files, None, now_ms, true)
            .await
    }

    async fn store(
        &self,
        event_id: &str,
        payload: &[u8],
        files: &[NewFile],
        clip: Option<&str>,
        now_ms: i64,
        provisional: bool,
    ) -> Result<Stored, OutboxError> {
        // Decided and written under the write lock: nothing can change between the look and
        // the write.
        let _files = self.files_lock.lock().await;
        let mut tx = self.write_tx().await?;
        let exists: Option<(i64, bool)> =
            sqlx::query_as("SELECT seq, provisional FROM events WHERE event_id = ?")
                .bind(event_id)
                .fetch_optional(&mut *tx)
                .await?;
        // The provisional event this one completes keeps its place in the order.
        let replaces = match exists {
            Some((seq, true)) if !provisional => Some(seq),
            Some(_) => return Ok(Stored::Duplicate),
            None => None,
        };
        let held = held_bytes(&mut tx).await?;
        let (keep, outcome) = match self.fit(files, payload.len(), clip, held) {
            Some(fit) => fit,
            None => {
                if replaces.is_some() {
                    // No room for the complete event: the journaled one goes out instead.
                    sqlx::query("UPDATE events SET provisional = 0 WHERE event_id = ?")
                        .bind(event_id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                }
                return Ok(Stored::Refused);
            }
        };
        let mut written = Vec::new();
        for f in &keep {
            if self.write_blob(&f.sha256, &f.bytes)? {
                written.push(f.sha256.clone());
            }
        }
        let rows = async {
            let mut replaced = Vec::new();
            if replaces.is_some() {
                replaced = remove_event(&mut tx, event_id).await?;
            }
            sqlx::query(
                "INSERT INTO events (seq, event_id, payload, created_ms, provisional) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(replaces)
            .bind(event_id)
            .bind(payload)
            .bind(now_ms)
            .bind(provisional)
            .execute(&mut *tx)
            .await?;
            for f in &keep {
                sqlx::query(
                    "INSERT OR IGNORE INTO files (event_id, sha256, name, content_type, bytes) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(event_id)
                .bind(&f.sha256)
                .bind(&f.name)
                .bind(&f.content_type)
                .bind(f.bytes.len() as i64)
                .execute(&mut *tx)
                .await?;
            }
            // What the provisional event had and the complete one has not.
            let orphans = unreferenced(&mut tx, replaced).await?;
            tx.commit().await?;
            Ok::<_, OutboxError>(orphans)
        }
        .await;
        match rows {
            Ok(orphans) => {
                self.remove_blobs(orphans);
                Ok(outcome)
            }
            Err(e) => {
                // Rolled back: the files this call put on disk belong to no event.
                self.remove_blobs(written);
                Err(e)
            }
        }
    }

    /// The files of an event that fit beside the `held` bytes, by the policy: all of them, or
    /// all but the clip and the files made of it ([`of_clip`]), or none (`None`). Notes whether the disk was what kept files out.
    fn fit<'a>(
        &self,
        files: &'a [NewFile],
        payload: usize,
        clip: Option<&str>,
        held: u64,
    ) -> Option<(Vec<&'a NewFile>, Stored)> {
        let by_cap = self.settings.max_bytes.saturating_sub(held);
        // Files already on disk (shared with another event) take no new room there.
        let by_disk = self.disk_room().unwrap_or(u64::MAX);
        let size = |files: &[&NewFile]| {
            payload as u64 + files.iter().map(|f| f.bytes.len() as u64).sum::<u64>()
        };
        let fits = |n: u64| n <= by_cap && n <= by_disk;
        let all: Vec<&NewFile> = files.iter().collect();
        let whole = size(&all);
        let (keep, outcome) = if fits(whole) {
            (all, Stored::Kept)
        } else {
            let without: Vec<&NewFile> = files
                .iter()
                .filter(|f| !clip.is_some_and(|c| of_clip(&f.name, c)))
                .collect();
            let n = size(&without);
            if self.settings.when_full == WhenFull::DropClips && fits(n) {
                (without, Stored::KeptWithoutClip)
            } else {
                self.disk_full.store(n > by_disk, Ordering::Relaxed);
                return None;
            }
        };
        self.disk_full.store(whole > by_disk, Ordering::Relaxed);
        Some((keep, outcome))
    }

    /// Delivers a journaled event as it is (its complete event could not be stored).
    pub async fn deliver_provisional(&self, event_id: &str) -> Result<bool, OutboxError> {
        let mut tx = self.write_tx().await?;
        let n =
            sqlx::query("UPDATE events SET provisional = 0 WHERE event_id = ? AND provisional = 1")
                .bind(event_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    fn remove_blobs(&self, shas: Vec<String>) {
        for sha in shas {
            let _ = std::fs::remove_file(self.blob(&sha));
        }
    }

    /// Writes a file unless it is there already; says whether it wrote it.
    fn write_blob(&self, sha256: &str, bytes: &[u8]) -> Result<bool, OutboxError> {
        let path = self.blob(sha256);
        if path.exists() {
            return Ok(false);
        }
        if let Err(e) = write_durably(&path, bytes) {
            let _ = std::fs::remove_file(path.with_extension("tmp"));
            return Err(e);
        }
        Ok(true)
    }

    /// Unacknowledged events in the order they were stored.
    pub async fn pending(&self, limit: i64) -> Result<Vec<Pending>, OutboxError> {
        let rows = sqlx::query(
            "SELECT seq, event_id, payload, published_ms FROM events WHERE acked = 0 AND provisional = 0 \
             ORDER BY seq LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Pending {
                seq: r.get(0),
                event_id: r.get(1),
                payload: r.get(2),
                published_ms: r.get(3),
            })
            .collect())
    }

    pub async fn mark_published(&self, event_id: &str, now_ms: i64) -> Result<(), OutboxError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE events SET published_ms = ? WHERE event_id = ?")
            .bind(now_ms)
            .bind(event_id)
            .execute(&mut *tx)
            .await?;
        Ok(tx.commit().await?)
    }

    /// Forgets when events were published: after a reconnect all are sent again.
    pub async fn reset_published(&self) -> Result<(), OutboxError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE events SET published_ms = NULL")
            .execute(&mut *tx)
            .await?;
        Ok(tx.commit().await?)
    }

    /// Files not yet uploaded, oldest event first.
    pub async fn uploads(&self, limit: i64) -> Result<Vec<Upload>, OutboxError> {
        let rows = sqlx::query(
            "SELECT f.sha256, MIN(f.content_type) FROM files f JOIN events e ON e.event_id = f.event_id \
             WHERE f.uploaded = 0 AND e.provisional = 0 GROUP BY f.sha256 ORDER BY MIN(e.seq) LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let sha256: String = r.get(0);
                Upload {
                    path: self.blob(&sha256),
                    content_type: r.get(1),
                    sha256,
                }
            })
            .collect())
    }

    pub async fn mark_uploaded(&self, sha256: &str) -> Result<(), OutboxError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE files SET uploaded = 1 WHERE sha256 = ?")
            .bind(sha256)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.release().await
    }

    /// Central has stored these events.
    pub async fn ack(&self, event_ids: &[String]) -> Result<(), OutboxError> {
        let mut tx = self.write_tx().await?;
        for id in event_ids {
            sqlx::query("UPDATE events SET acked = 1 WHERE event_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.release().await
    }

    /// Deletes events acknowledged with every file uploaded, then files no event refers to.
    async fn release(&self) -> Result<(), OutboxError> {
        let _files = self.files_lock.lock().await;
        let mut tx = self.write_tx().await?;
        let done: Vec<String> = sqlx::query_scalar(
            "SELECT event_id FROM events e WHERE acked = 1 AND NOT EXISTS \
             (SELECT 1 FROM files f WHERE f.event_id = e.event_id AND f.uploaded = 0)",
        )
        .fetch_all(&mut *tx)
        .await?;
        if done.is_empty() {
            return Ok(());
        }
        let mut orphans = Vec::new();
        for id in &done {
            let shas = remove_event(&mut tx, id).await?;
            orphans.extend(unreferenced(&mut tx, shas).await?);
        }
        tx.commit().await?;
        self.remove_blobs(orphans);
        Ok(())
    }

    /// Checks the database's integrity (`PRAGMA integrity_check`) and that every file a row
    /// refers to is on disk with its hash.
    pub async fn verify(&self) -> Result<Vec<String>, OutboxError> {
        let mut problems = Vec::new();
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?;
        if check != "ok" {
            problems.push(format!("integrity_check: {check}"));
        }
        let shas: Vec<String> = sqlx::query_scalar("SELECT DISTINCT sha256 FROM files")
            .fetch_all(&self.pool)
            .await?;
        for sha in shas {
            match std::fs::read(self.blob(&sha)) {
                Ok(bytes) if protocol::event::Sha256Digest::of(&bytes).to_hex() == sha => {}
                Ok(_) => problems.push(format!("file {sha} does not match its hash")),
                Err(e) => problems.push(format!("file {sha}: {e}")),
            }
        }
        Ok(problems)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Bytes held: payloads and files (each file once, however many events name it).
async fn held_bytes(conn: &mut sqlx::SqliteConnection) -> Result<u64, OutboxError> {
    let payloads: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM events")
        .fetch_one(&mut *conn)
        .await?;
    let files: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(bytes), 0) FROM (SELECT DISTINCT sha256, bytes FROM files)",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((payloads + files).max(0) as u64)
}

/// Deletes an event and its file rows; returns the files' hashes.
async fn remove_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    event_id: &str,
) -> Result<Vec<String>, OutboxError> {
    let shas = sqlx::query_scalar("SELECT sha256 FROM files WHERE event_id = ?")
        .bind(event_id)
        .fetch_all(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM files WHERE event_id = ?")
        .bind(event_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM events WHERE event_id = ?")
        .bind(event_id)
        .execute(&mut **tx)
        .await?;
    Ok(shas)
}

/// Those of `shas` no file row refers to any more.
async fn unreferenced(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    shas: Vec<String>,
) -> Result<Vec<String>, OutboxError> {
    let mut orphans = Vec::new();
    for sha in shas {
        let still: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM files WHERE sha256 = ?")
            .bind(&sha)
            .fetch_one(&mut **tx)
            .await?;
        if still == 0 {
            orphans.push(sha);
        }
    }
    Ok(orphans)
}

#[cfg(test)]
mod tests;
