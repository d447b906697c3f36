//! Blobs as files under the store's folder: `{dir}/sha256/ab/abcdef…`.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use protocol::Sha256Digest;

use super::{Backend, StoreFuture};

/// The filesystem backend.
#[derive(Debug, Clone)]
pub struct Files {
    dir: PathBuf,
}

impl Files {
    /// Opens (creating) the folder `dir`.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        service_kit::secret_file::create_private_dir(&dir.join("sha256"))?;
        Ok(Self { dir: dir.into() })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }
}

impl Backend for Files {
    fn keep<'a>(
        &'a self,
        key: &'a str,
        _sha256: &'a Sha256Digest,
        spooled: &'a Path,
        _size: u64,
        _content_type: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let target = self.path(key);
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::rename(spooled, &target).await?;
            sync_dir(target.parent()).await;
            Ok(())
        })
    }

    fn size<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<u64>> {
        Box::pin(async move {
            match tokio::fs::metadata(self.path(key)).await {
                Ok(meta) => Ok(Some(meta.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn read<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Bytes>> {
        Box::pin(async move {
            match tokio::fs::read(self.path(key)).await {
                Ok(bytes) => Ok(Some(bytes.into())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let path = self.path(key);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {
                    sync_dir(path.parent()).await;
                    Ok(())
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn describe(&self) -> String {
        format!("files under {}", self.dir.display())
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
