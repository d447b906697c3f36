//! Evidence blobs, content-addressed under `sha256/ab/abcdef…`: on the filesystem by default
//! ([`Files`]), or in an S3-compatible object store when `evidence.s3` is configured ([`S3`]).
//!
//! Either way an upload first streams into `{dir}/incoming/` while it is hashed and is synced to
//! disk; only once its hash matches its name and it is within the size cap does the backend take
//! it in (a rename into place, or a PUT whose signed payload hash the object store checks), so a
//! reader never sees a partial or wrong blob.
//!
//! Blobs are sealed at rest ([`sealed`]) under `evidence.key_file` unless it is set empty.
//!
//! The disk under `incoming/` keeps `evidence.min_free_bytes` free for the database and the
//! logs beside it: an upload that arrives when less is free, or that fills the disk while it is
//! written, is refused as [`StoreError::Full`] (HTTP 507, the device keeps the file and uploads
//! it again later), its partial file removed; uploads are taken again as soon as room returns.

mod files;
mod s3;
pub mod sealed;

use std::{
    fmt::Debug,
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
};

use bytes::Bytes;
use prometheus_client::metrics::{counter::Counter, gauge::Gauge};
use protocol::Sha256Digest;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

pub use files::Files;
pub use s3::{S3, S3Settings};

/// Why an upload was not stored, or a blob not read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the body hashes to {actual}, not to {expected}")]
    HashMismatch {
        expected: Sha256Digest,
        actual: Sha256Digest,
    },
    #[error("reading the body: {0}")]
    Body(String),
    /// The disk the uploads are checked on has less than the reserve free, or filled up.
    #[error("the evidence disk is full: {room} bytes free beyond the {reserve} kept free")]
    Full { room: u64, reserve: u64 },
    #[error("evidence store: {0}")]
    Io(#[from] std::io::Error),
    /// The object store refused central's request: credentials, permissions, a missing bucket.
    #[error("object store refused: {0}")]
    Refused(String),
    /// The object store could not be reached or failed; the device uploads again later.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    /// A sealed blob did not open: its key is not configured, or it was altered.
    #[error("sealed evidence: {0}")]
    Sealed(String),
}

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where verified blobs are kept, by storage key.
pub trait Backend: Send + Sync + Debug {
    /// Takes in the verified file `spooled` (`size` bytes of `content_type`, hashing to
    /// `sha256`) as `key`; `spooled` is gone afterwards, whatever the outcome.
    fn keep<'a>(
        &'a self,
        key: &'a str,
        sha256: &'a Sha256Digest,
        spooled: &'a Path,
        size: u64,
        content_type: &'a str,
    ) -> StoreFuture<'a, ()>;
    /// The size of the blob under `key`, `None` when there is none.
    fn size<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<u64>>;
    /// The blob under `key`, `None` when there is none.
    fn read<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Bytes>>;
    /// Deletes the blob under `key`; deleting one that is not there is not an error.
    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;
    /// Where the blobs are, for the log.
    fn describe(&self) -> String;
}

/// The evidence store: uploads verified on local disk, then kept by the backend.
#[derive(Debug, Clone)]
pub struct EvidenceStore {
    incoming: PathBuf,
    backend: Arc<dyn Backend>,
    /// Bytes kept free on the disk of `incoming` (`evidence.min_free_bytes`).
    min_free: u64,
    pub metrics: StoreMetrics,
}

/// The store's figures for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct StoreMetrics {
    /// Uploads refused because the disk is full.
    pub refused_full: Counter,
    /// Free bytes on the disk of the uploads at the last upload, beyond the reserve.
    pub disk_room: Gauge,
}

impl StoreMetrics {
    pub fn register(&self, metrics: &service_kit::http::Metrics) {
        metrics.register(
            "evidence_refused_full",
            "Evidence uploads refused because the evidence disk is full (the device sends them again)",
            self.refused_full.clone(),
        );
        metrics.register(
            "evidence_disk_room_bytes",
            "Free bytes on the evidence disk beyond evidence.min_free_bytes, at the last upload",
            self.disk_room.clone(),
        );
    }
}

impl EvidenceStore {
    /// The filesystem store under `dir` (created when missing).
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        Self::with_backend(&dir, Arc::new(Files::open(&dir)?))
    }

    /// Blobs in the object store of `settings`, uploads verified under `dir` first. Refuses a
    /// store that rejects central's credentials or lacks the bucket; one that cannot be reached
    /// is only logged (uploads wait for it: devices try again).
    pub async fn s3(dir: impl Into<PathBuf>, settings: &S3Settings) -> anyhow::Result<Self> {
        let store = S3::new(settings)?;
        match store.check_bucket().await {
            Ok(()) => {}
            Err(StoreError::Unavailable(reason)) => {
                tracing::warn!(store = %store.describe(), %reason,
                    "the object store is not answering; evidence uploads wait for it");
            }
            Err(e) => anyhow::bail!("evidence.s3: {e}"),
        }
        Ok(Self::with_backend(&dir.into(), Arc::new(store))?)
    }

    /// This store with its blobs sealed at rest under `current`, those sealed under an `old`
    /// key still opened ([`sealed`]).
    pub fn sealed(mut self, current: sealed::EvidenceKey, old: Vec<sealed::EvidenceKey>) -> Self {
        self.backend = Arc::new(sealed::Sealed::new(self.backend, current, old));
        self
    }

    /// The store of `backend`, uploads verified under `dir/incoming` first.
    pub fn with_backend(dir: &Path, backend: Arc<dyn Backend>) -> std::io::Result<Self> {
        let incoming = dir.join("incoming");
        service_kit::secret_file::create_private_dir(&incoming)?;
        Ok(Self {
            incoming,
            backend,
            min_free: 0,
            metrics: StoreMetrics::default(),
        })
    }

    /// Keeps `bytes` free on the disk of the uploads (`evidence.min_free_bytes`).
    pub fn with_min_free(mut self, bytes: u64) -> Self {
        self.min_free = bytes;
        self
    }

    /// Free bytes on the disk of the uploads beyond the reserve; `None` when it cannot be read.
    pub fn disk_room(&self) -> Option<u64> {
        let st = rustix::fs::statvfs(&self.incoming).ok()?;
        Some((st.f_bavail * st.f_frsize).saturating_sub(self.min_free))
    }

    /// Refuses as [`StoreError::Full`] when fewer than `bytes` are free beyond the reserve
    /// (an upload's declared length, before it is read).
    pub fn check_room(&self, bytes: u64) -> Result<(), StoreError> {
        let Some(room) = self.disk_room() else {
            return Ok(());
        };
        self.metrics
            .disk_room
            .set(i64::try_from(room).unwrap_or(i64::MAX));
        if room < bytes.max(1) {
            return Err(self.full(room));
        }
        Ok(())
    }

    fn full(&self, room: u64) -> StoreError {
        self.metrics.refused_full.inc();
        tracing::error!(
            room,
            reserve = self.min_free,
            "evidence disk full: uploads refused until room returns"
        );
        StoreError::Full {
            room,
            reserve: self.min_free,
        }
    }

    /// The storage key of a blob.
    pub fn key(sha256: &Sha256Digest) -> String {
        let hex = sha256.to_hex();
        format!("sha256/{}/{hex}", &hex[..2])
    }

    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// The bytes the store holds for `sha256` (a sealed blob's are more than it seals), `None`
    /// when it is not stored.
    pub async fn size(&self, sha256: &Sha256Digest) -> Result<Option<u64>, StoreError> {
        self.backend.size(&Self::key(sha256)).await
    }

    pub async fn contains(&self, sha256: &Sha256Digest) -> Result<bool, StoreError> {
        Ok(self.size(sha256).await?.is_some())
    }

    /// The blob of `sha256`, `None` when it is not stored.
    pub async fn read(&self, sha256: &Sha256Digest) -> Result<Option<Bytes>, StoreError> {
        self.backend.read(&Self::key(sha256)).await
    }

    /// Deletes the blob of `sha256` (retention); one already gone is not an error.
    pub async fn remove(&self, sha256: &Sha256Digest) -> Result<(), StoreError> {
        self.backend.remove(&Self::key(sha256)).await
    }

    /// Writes the chunks of `body` while hashing them; keeps the blob only when it hashes to
    /// `expected` and holds at most `limit` bytes. Returns its size.
    pub async fn put<S, E>(
        &self,
        expected: &Sha256Digest,
        body: S,
        limit: u64,
        content_type: &str,
    ) -> Result<u64, StoreError>
    where
        S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let incoming = self.incoming.join(format!(
            "{}.{}",
            expected.to_hex(),
            uuid::Uuid::now_v7().simple()
        ));
        self.check_room(1)?;
        let spooled = match spool(&incoming, expected, body, limit).await {
            Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::StorageFull => {
                Err(self.full(self.disk_room().unwrap_or(0)))
            }
            other => other,
        };
        let result = match spooled {
            Ok(size) => self
                .backend
                .keep(
                    &Self::key(expected),
                    expected,
                    &incoming,
                    size,
                    content_type,
                )
                .await
                .map(|()| size),
            Err(e) => Err(e),
        };
        if result.is_err() {
            let _ = tokio::fs::remove_file(&incoming).await;
        }
        result
    }
}

/// Streams `body` into `path`, hashing it; synced to disk when it hashes to `expected` within
/// `limit` bytes.
async fn spool<S, E>(
    path: &Path,
    expected: &Sha256Digest,
    mut body: S,
    limit: u64,
) -> Result<u64, StoreError>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    use futures_util::StreamExt;
    let mut file = tokio::fs::File::create(path).await?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| StoreError::Body(e.to_string()))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(StoreError::TooLarge { limit });
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    let actual = Sha256Digest(hasher.finalize().into());
    if &actual != expected {
        return Err(StoreError::HashMismatch {
            expected: *expected,
            actual,
        });
    }
    // tokio's File reports a failed write (ENOSPC) at the next write or flush, not at
    // sync_all: without the flush the last chunk could be lost on a full disk, and a short file
    // kept under a name its bytes do not hash to.
    file.flush().await?;
    file.sync_all().await?;
    Ok(size)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::EvidenceStore;

    #[test]
    fn the_evidence_folders_are_centrals_alone() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("a temporary folder");
        };
        let root = dir.path().join("data").join("evidence");
        assert!(EvidenceStore::open(&root).is_ok());
        for folder in [
            dir.path().join("data"),
            root.clone(),
            root.join("sha256"),
            root.join("incoming"),
        ] {
            let mode = std::fs::metadata(&folder).map(|m| m.permissions().mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o700), "{}", folder.display());
        }
    }
}
