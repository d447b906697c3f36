//! Evidence encrypted at rest, whatever keeps it: a [`Backend`] around the file or object store
//! that seals each blob before it is kept and opens it when it is read, so a copied disk, a
//! backup or a leaked bucket holds no image of anyone.
//!
//! A sealed blob is `TVESEAL1`, the 8-byte id of the key it was sealed under (the first bytes of
//! the key's SHA-256), a 7-byte random nonce prefix, then the plaintext in segments of 64 KiB,
//! each sealed with ChaCha20-Poly1305 in the STREAM construction (a counter and a last-segment
//! flag in each nonce: a segment dropped, reordered or cut off at the end does not open), with
//! the blob's storage key as associated data (a blob copied under another name does not open).
//! The blob is still named by the SHA-256 of its plaintext, which the upload was checked
//! against; what the store holds hashes to something else.
//!
//! Keys (`evidence.key_file`, made at the first start; `evidence.old_key_files`): a new key seals
//! from when it is configured; blobs sealed under an older one open as long as that key is
//! listed, which it must be until retention has deleted the last of them. A blob stored before
//! sealing was configured (no `TVESEAL1` header) is read as it is.

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    sync::Arc,
};

use bytes::Bytes;
use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit,
    aead::{
        Payload,
        stream::{DecryptorBE32, EncryptorBE32},
    },
};
use protocol::Sha256Digest;
use sha2::{Digest, Sha256};

use super::{Backend, StoreError, StoreFuture};

const MAGIC: &[u8; 8] = b"TVESEAL1";
const KEY_ID: usize = 8;
const NONCE_PREFIX: usize = 7;
const HEADER: usize = MAGIC.len() + KEY_ID + NONCE_PREFIX;
const SEGMENT: usize = 64 * 1024;
const TAG: usize = 16;

/// A key evidence is sealed under, with its id.
#[derive(Clone)]
pub struct EvidenceKey {
    id: [u8; KEY_ID],
    key: [u8; 32],
}

impl std::fmt::Debug for EvidenceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EvidenceKey({})", hex::encode(self.id))
    }
}

impl EvidenceKey {
    pub fn new(key: [u8; 32]) -> Self {
        let digest = Sha256::digest(key);
        let mut id = [0u8; KEY_ID];
        id.copy_from_slice(&digest[..KEY_ID]);
        Self { id, key }
    }

    /// The key's id, hex: what a sealed blob names.
    pub fn id(&self) -> String {
        hex::encode(self.id)
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&self.key.into())
    }
}

/// Why a sealed blob did not open.
#[derive(Debug, thiserror::Error)]
pub enum Unopenable {
    #[error("sealed under key {0}, which is not configured (evidence.old_key_files)")]
    UnknownKey(String),
    #[error("altered, cut short, or stored under another name")]
    Altered,
}

/// What `input` holds, sealed under `key` for the storage key `name`, written to `output`; the
/// bytes written.
pub fn seal(
    key: &EvidenceKey,
    name: &str,
    mut input: impl Read,
    mut output: impl Write,
) -> std::io::Result<u64> {
    let mut prefix = [0u8; NONCE_PREFIX];
    getrandom::fill(&mut prefix).map_err(std::io::Error::other)?;
    output.write_all(MAGIC)?;
    output.write_all(&key.id)?;
    output.write_all(&prefix)?;
    let mut written = HEADER as u64;
    let mut stream = EncryptorBE32::from_aead(key.cipher(), (&prefix).into());
    let aad = name.as_bytes();
    let mut current = vec![0u8; SEGMENT];
    let mut filled = read_full(&mut input, &mut current)?;
    let failed = |_| std::io::Error::other("sealing evidence failed");
    // A short segment is the last; a full one is, when nothing follows it.
    while filled == SEGMENT {
        let mut next = vec![0u8; SEGMENT];
        let more = read_full(&mut input, &mut next)?;
        if more == 0 {
            break;
        }
        let sealed = stream
            .encrypt_next(Payload { msg: &current, aad })
            .map_err(failed)?;
        output.write_all(&sealed)?;
        written += sealed.len() as u64;
        current = next;
        filled = more;
    }
    let msg = &current[..filled];
    let sealed = stream.encrypt_last(Payload { msg, aad }).map_err(failed)?;
    output.write_all(&sealed)?;
    written += sealed.len() as u64;
    Ok(written)
}

/// Whether `blob` is sealed (and not stored before sealing was configured).
pub fn is_sealed(blob: &[u8]) -> bool {
    blob.len() >= HEADER && &blob[..MAGIC.len()] == MAGIC
}

/// The plaintext of the sealed `blob` stored as `name`, under whichever of `keys` sealed it.
pub fn open(keys: &[EvidenceKey], name: &str, blob: &[u8]) -> Result<Vec<u8>, Unopenable> {
    if !is_sealed(blob) {
        return Err(Unopenable::Altered);
    }
    let id = &blob[MAGIC.len()..MAGIC.len() + KEY_ID];
    let key = keys
        .iter()
        .find(|k| k.id == id)
        .ok_or_else(|| Unopenable::UnknownKey(hex::encode(id)))?;
    let prefix = &blob[MAGIC.len() + KEY_ID..HEADER];
    let body = &blob[HEADER..];
    if body.len() < TAG {
        return Err(Unopenable::Altered);
    }
    let mut stream = DecryptorBE32::from_aead(key.cipher(), prefix.into());
    let aad = name.as_bytes();
    let mut plain = Vec::with_capacity(body.len());
    let mut segments: Vec<&[u8]> = body.chunks(SEGMENT + TAG).collect();
    let last = segments.pop().ok_or(Unopenable::Altered)?;
    for msg in segments {
        let opened = stream
            .decrypt_next(Payload { msg, aad })
            .map_err(|_| Unopenable::Altered)?;
        plain.extend_from_slice(&opened);
    }
    let opened = stream
        .decrypt_last(Payload { msg: last, aad })
        .map_err(|_| Unopenable::Altered)?;
    plain.extend_from_slice(&opened);
    Ok(plain)
}

/// Reads until `buf` is full or the input ends; how much was read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A backend whose blobs are sealed under `keys[0]` and opened under any of `keys`.
#[derive(Debug)]
pub struct Sealed {
    inner: Arc<dyn Backend>,
    keys: Arc<[EvidenceKey]>,
}

impl Sealed {
    /// `inner` sealed under `current`, older blobs opened under `current` and `old`.
    pub fn new(inner: Arc<dyn Backend>, current: EvidenceKey, old: Vec<EvidenceKey>) -> Self {
        let keys: Vec<EvidenceKey> = std::iter::once(current).chain(old).collect();
        Self {
            inner,
            keys: keys.into(),
        }
    }
}

/// Seals the file `plain` as `name` under `key` into a file beside it; the sealed file's path,
/// size and SHA-256.
fn seal_file(
    key: &EvidenceKey,
    name: &str,
    plain: &Path,
) -> std::io::Result<(PathBuf, u64, Sha256Digest)> {
    let mut sealed_path = plain.as_os_str().to_owned();
    sealed_path.push(".sealed");
    let sealed_path = PathBuf::from(sealed_path);
    let result = (|| {
        let input = std::io::BufReader::new(std::fs::File::open(plain)?);
        let file = std::fs::File::create(&sealed_path)?;
        let mut hashing = HashingWriter {
            inner: std::io::BufWriter::new(file),
            hasher: Sha256::new(),
        };
        let size = seal(key, name, input, &mut hashing)?;
        let digest = Sha256Digest(hashing.hasher.finalize().into());
        let file = hashing.inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok((sealed_path.clone(), size, digest))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&sealed_path);
    }
    result
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Backend for Sealed {
    fn keep<'a>(
        &'a self,
        key: &'a str,
        _sha256: &'a Sha256Digest,
        spooled: &'a Path,
        _size: u64,
        content_type: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let (current, name, plain) = (self.keys[0].clone(), key.to_owned(), spooled.to_owned());
            let sealed =
                tokio::task::spawn_blocking(move || seal_file(&current, &name, &plain)).await;
            let _ = tokio::fs::remove_file(spooled).await;
            let (path, size, digest) = sealed.map_err(std::io::Error::other)??;
            self.inner
                .keep(key, &digest, &path, size, content_type)
                .await
        })
    }

    /// What the store holds: a sealed blob is larger than what it seals (the plaintext's size
    /// is the database's, recorded when it was uploaded).
    fn size<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<u64>> {
        self.inner.size(key)
    }

    fn read<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Bytes>> {
        Box::pin(async move {
            let Some(blob) = self.inner.read(key).await? else {
                return Ok(None);
            };
            if !is_sealed(&blob) {
                return Ok(Some(blob));
            }
            let (keys, name) = (self.keys.clone(), key.to_owned());
            let opened = tokio::task::spawn_blocking(move || open(&keys, &name, &blob))
                .await
                .map_err(std::io::Error::other)?;
            match opened {
                Ok(plain) => Ok(Some(Bytes::from(plain))),
                Err(e) => {
                    tracing::error!(key, error = %e, "a sealed evidence blob does not open");
                    Err(StoreError::Sealed(e.to_string()))
                }
            }
        })
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.inner.remove(key)
    }

    fn describe(&self) -> String {
        format!(
            "{}, sealed under key {}",
            self.inner.describe(),
            self.keys[0].id()
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The plaintext size of a sealed blob of `sealed` bytes: a header, then each segment 16
    /// bytes longer than what it seals.
    fn plain_size(sealed: u64) -> u64 {
        let body = sealed.saturating_sub(HEADER as u64);
        let segments = body.div_ceil((SEGMENT + TAG) as u64).max(1);
        body.saturating_sub(segments * TAG as u64)
    }

    fn key(n: u8) -> EvidenceKey {
        EvidenceKey::new([n; 32])
    }

    fn sealed(k: &EvidenceKey, name: &str, plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let n = seal(k, name, plain, &mut out).unwrap();
        assert_eq!(n, out.len() as u64);
        out
    }

    #[test]
    fn a_blob_opens_as_it_was_whatever_its_length() {
        let k = key(1);
        for len in [
            0,
            1,
            SEGMENT - 1,
            SEGMENT,
            SEGMENT + 1,
            3 * SEGMENT,
            3 * SEGMENT + 17,
        ] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let blob = sealed(&k, "sha256/ab/abcd", &plain);
            assert_eq!(plain_size(blob.len() as u64), len as u64, "{len}");
            assert!(is_sealed(&blob));
            assert_eq!(
                open(std::slice::from_ref(&k), "sha256/ab/abcd", &blob).unwrap(),
                plain,
                "{len}"
            );
            if len > 64 {
                assert!(
                    !blob.windows(64).any(|w| w == &plain[..64]),
                    "no plaintext stored"
                );
            }
        }
    }

    #[test]
    fn an_altered_cut_renamed_or_foreign_blob_does_not_open() {
        let (k, other) = (key(1), key(2));
        let plain = vec![42u8; 2 * SEGMENT + 5];
        let blob = sealed(&k, "sha256/ab/abcd", &plain);
        let keys = [k.clone()];
        let mut flipped = blob.clone();
        flipped[HEADER + 100] ^= 1;
        assert!(matches!(
            open(&keys, "sha256/ab/abcd", &flipped),
            Err(Unopenable::Altered)
        ));
        // The last segment dropped: what is left ends on a segment that is not the last.
        let cut = &blob[..HEADER + 2 * (SEGMENT + TAG)];
        assert!(matches!(
            open(&keys, "sha256/ab/abcd", cut),
            Err(Unopenable::Altered)
        ));
        assert!(matches!(
            open(&keys, "sha256/cd/cdef", &blob),
            Err(Unopenable::Altered)
        ));
        assert!(matches!(
            open(std::slice::from_ref(&other), "sha256/ab/abcd", &blob),
            Err(Unopenable::UnknownKey(id)) if id == k.id()
        ));
        // An older key still listed opens what it sealed.
        assert_eq!(open(&[other, k], "sha256/ab/abcd", &blob).unwrap(), plain);
    }

    #[tokio::test]
    async fn the_store_keeps_sealed_blobs_and_reads_them_and_older_clear_ones() {
        let dir = tempfile::tempdir().unwrap();
        let files: Arc<dyn Backend> = Arc::new(super::super::Files::open(dir.path()).unwrap());
        let store = super::super::EvidenceStore::with_backend(
            dir.path(),
            Arc::new(Sealed::new(files.clone(), key(1), vec![])),
        )
        .unwrap();
        let plain = b"\xff\xd8 a frame of a junction".repeat(5000);
        let sha = Sha256Digest::of(&plain);
        let body =
            futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(plain.clone()))]);
        store.put(&sha, body, 1 << 24, "image/jpeg").await.unwrap();
        let key_name = super::super::EvidenceStore::key(&sha);
        let raw = files.read(&key_name).await.unwrap().unwrap();
        assert!(is_sealed(&raw));
        assert!(!raw.windows(27).any(|w| w == &plain[..27]));
        assert_eq!(store.read(&sha).await.unwrap().unwrap(), plain);
        assert_eq!(
            store.size(&sha).await.unwrap(),
            Some(raw.len() as u64),
            "the size held, not read back"
        );
        assert_eq!(plain_size(raw.len() as u64), plain.len() as u64);
        assert!(
            std::fs::read_dir(dir.path().join("incoming"))
                .unwrap()
                .next()
                .is_none(),
            "nothing left behind"
        );

        // A blob kept in the clear before sealing was configured is read as it is.
        let clear = b"\xff\xd8 stored before".to_vec();
        let clear_sha = Sha256Digest::of(&clear);
        let plain_store = super::super::EvidenceStore::with_backend(dir.path(), files).unwrap();
        let body =
            futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(clear.clone()))]);
        plain_store
            .put(&clear_sha, body, 1 << 20, "image/jpeg")
            .await
            .unwrap();
        assert_eq!(store.read(&clear_sha).await.unwrap().unwrap(), clear);
        assert_eq!(
            store.size(&clear_sha).await.unwrap(),
            Some(clear.len() as u64)
        );
    }
}
