//! Evidence blobs on the filesystem, content-addressed: `{dir}/sha256/ab/abcdef…`.
//!
//! An upload streams into `{dir}/incoming/` while it is hashed, is synced to disk, and is renamed
//! into place only once its hash matches its name; a reader never sees a partial blob.

use std::path::{Path, PathBuf};

use protocol::Sha256Digest;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// Why an upload was not stored.
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
    #[error("evidence store: {0}")]
    Io(#[from] std::io::Error),
}

/// The filesystem evidence store.
#[derive(Debug, Clone)]
pub struct EvidenceStore {
    dir: PathBuf,
}

impl EvidenceStore {
    /// Opens (creating) the store under `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(dir.join("incoming"))?;
        std::fs::create_dir_all(dir.join("sha256"))?;
        Ok(Self { dir })
    }

    /// The storage key of a blob: its path below the store.
    pub fn key(sha256: &Sha256Digest) -> String {
        let hex = sha256.to_hex();
        format!("sha256/{}/{hex}", &hex[..2])
    }

    pub fn path(&self, sha256: &Sha256Digest) -> PathBuf {
        self.dir.join(Self::key(sha256))
    }

    pub async fn contains(&self, sha256: &Sha256Digest) -> bool {
        tokio::fs::try_exists(self.path(sha256))
            .await
            .unwrap_or(false)
    }

    /// Writes the chunks of `body` while hashing them; keeps the blob only when it hashes to
    /// `expected` and holds at most `limit` bytes. Returns its size.
    pub async fn put<S, E>(
        &self,
        expected: &Sha256Digest,
        mut body: S,
        limit: u64,
    ) -> Result<u64, StoreError>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        let incoming = self.dir.join("incoming").join(format!(
            "{}.{}",
            expected.to_hex(),
            uuid::Uuid::now_v7().simple()
        ));
        let result = async {
            let mut file = tokio::fs::File::create(&incoming).await?;
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
            file.sync_all().await?;
            drop(file);
            let target = self.path(expected);
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::rename(&incoming, &target).await?;
            sync_dir(target.parent()).await;
            Ok(size)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&incoming).await;
        }
        result
    }
}

/// Makes the rename durable: the directory entry reaches the disk too.
async fn sync_dir(dir: Option<&Path>) {
    if let Some(dir) = dir
        && let Ok(handle) = tokio::fs::File::open(dir).await
    {
        let _ = handle.sync_all().await;
    }
}
