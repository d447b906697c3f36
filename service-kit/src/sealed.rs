//! Values a database keeps but must not hold in the clear (an officer's second factor, a
//! citizen's name, address and contact, the messages and documents that carry them), sealed
//! with ChaCha20-Poly1305 (RFC 8439) under a key kept outside the database, in a file of its
//! own, and bound to what they belong to: a sealed value moved to another row or field does not
//! open there.
//!
//! A sealed text is `v1:` and the hex of a random 96-bit nonce followed by the ciphertext and
//! its tag; sealed bytes are `v1:`, the nonce, the ciphertext and its tag as they are.
//!
//! The key is rotated by moving the file aside, naming it among the former key files and
//! letting the service make a new one (or putting one there): values sealed under a former key
//! still open, and the next start seals each of them again under the new key
//! ([`SealingKey::reseal`], [`columns::reseal`]); once a start reports none left under a former
//! key, the former key file is dropped from the setting and destroyed. A sealed value that
//! opens under no configured key stops the start: the key it was sealed under is missing, and a
//! service that made a new key in its place would go on unable to read what it keeps.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chacha20poly1305::{
    ChaCha20Poly1305, Key, KeyInit, Nonce,
    aead::{Aead, Payload},
};

/// What every sealed value starts with.
pub const PREFIX: &str = "v1:";
const NONCE_BYTES: usize = 12;
const KEY_BYTES: usize = 32;
/// How many bytes sealing adds to a value of bytes: [`PREFIX`], the nonce and the tag.
pub const BYTES_OVERHEAD: usize = PREFIX.len() + NONCE_BYTES + 16;

/// The key secrets are sealed with, and the keys they were sealed with before it was rotated.
#[derive(Clone)]
pub struct SealingKey {
    current: Key,
    former: Vec<Key>,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

/// A sealed value that does not open: not sealed by this project, sealed under another key,
/// altered, or moved from what it was sealed for.
#[derive(Debug, thiserror::Error)]
#[error("a sealed value does not open under the configured sealing key nor a former one")]
pub struct Unsealable;

/// Where a service keeps its sealing key, and the keys it sealed with before a rotation, with
/// the names of the two settings (for errors and the log).
#[derive(Debug, Clone, Copy)]
pub struct KeyFiles<'a> {
    pub current_field: &'static str,
    pub current: &'a Path,
    pub former_field: &'static str,
    pub former: &'a [PathBuf],
}

impl SealingKey {
    /// A new random key.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; KEY_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self::from_bytes(bytes))
    }

    fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        Self {
            current: bytes.into(),
            former: Vec::new(),
        }
    }

    /// The key in the file at `path` (64 hex digits, readable by its owner only), made there
    /// when `create` and there is none.
    pub fn load(path: &Path, create: bool) -> anyhow::Result<Option<Self>> {
        Ok(key_file("secrets_key_file", path, create)?.map(Self::from_bytes))
    }

    /// The key of `files.current` (made when `create` and there is none) with the former keys
    /// of `files.former`, each of which must be there.
    pub fn configured(files: &KeyFiles<'_>, create: bool) -> anyhow::Result<Option<Self>> {
        let Some(key) = key_file(files.current_field, files.current, create)? else {
            return Ok(None);
        };
        let former = files
            .former
            .iter()
            .map(|path| {
                key_file(files.former_field, path, false)?
                    .map(Self::from_bytes)
                    .with_context(|| {
                        format!("{}: {} is missing", files.former_field, path.display())
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Some(Self::from_bytes(key).with_former(former)))
    }

    /// The configured key ([`Self::configured`]), made in `files.current` when there is none
    /// yet, as a service does at its first start.
    pub fn made(files: &KeyFiles<'_>) -> anyhow::Result<Self> {
        Self::configured(files, true)?
            .with_context(|| format!("{} {}", files.current_field, files.current.display()))
    }

    /// This key, with `former` keys whose sealed values still open (and are sealed again under
    /// this one by [`Self::reseal`]).
    pub fn with_former(mut self, former: Vec<SealingKey>) -> Self {
        self.former.extend(former.into_iter().map(|k| k.current));
        self
    }

    /// Whether former keys are configured.
    pub fn has_former(&self) -> bool {
        !self.former.is_empty()
    }

    /// `secret` sealed for `owner` (e.g. `officer-totp:reviewer`).
    pub fn seal(&self, secret: &str, owner: &str) -> Result<Sealed, getrandom::Error> {
        let bytes = self.encrypt(secret.as_bytes(), owner)?;
        Ok(Sealed(format!("{PREFIX}{}", hex::encode(bytes))))
    }

    /// The secret `sealed` holds for `owner`, under this key or a former one.
    pub fn open(&self, sealed: &str, owner: &str) -> Result<String, Unsealable> {
        self.open_as(sealed, owner).map(|(plain, _)| plain)
    }

    /// `bytes` (a document) sealed for `owner`: [`PREFIX`], the nonce, the ciphertext and its
    /// tag.
    pub fn seal_bytes(&self, bytes: &[u8], owner: &str) -> Result<Vec<u8>, getrandom::Error> {
        let mut sealed = PREFIX.as_bytes().to_vec();
        sealed.extend(self.encrypt(bytes, owner)?);
        Ok(sealed)
    }

    /// The bytes `sealed` holds for `owner`, under this key or a former one.
    pub fn open_bytes(&self, sealed: &[u8], owner: &str) -> Result<Vec<u8>, Unsealable> {
        let raw = sealed.strip_prefix(PREFIX.as_bytes()).ok_or(Unsealable)?;
        self.decrypt_as(raw, owner).map(|(plain, _)| plain)
    }

    /// The nonce, then `plain` encrypted for `owner` under the current key with its tag.
    fn encrypt(&self, plain: &[u8], owner: &str) -> Result<Vec<u8>, getrandom::Error> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce)?;
        let cipher = ChaCha20Poly1305::new(&self.current);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: owner.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(bytes)
    }

    /// What nonce and ciphertext `bytes` hold for `owner`, and whether a former key opened it.
    fn decrypt_as(&self, bytes: &[u8], owner: &str) -> Result<(Vec<u8>, bool), Unsealable> {
        if bytes.len() <= NONCE_BYTES {
            return Err(Unsealable);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        std::iter::once(&self.current)
            .chain(&self.former)
            .enumerate()
            .find_map(|(i, key)| {
                let plain = ChaCha20Poly1305::new(key)
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: ciphertext,
                            aad: owner.as_bytes(),
                        },
                    )
                    .ok()?;
                Some((plain, i > 0))
            })
            .ok_or(Unsealable)
    }

    /// The secret and whether it was sealed under a former key.
    fn open_as(&self, sealed: &str, owner: &str) -> Result<(String, bool), Unsealable> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| hex::decode(b).ok())
            .ok_or(Unsealable)?;
        let (plain, former) = self.decrypt_as(&bytes, owner)?;
        Ok((String::from_utf8(plain).map_err(|_| Unsealable)?, former))
    }

    /// What sealed `bytes` become under this key, as [`Self::reseal`] for a text: bytes in the
    /// clear or under a former key sealed now, `None` when under this key already.
    pub fn reseal_bytes(
        &self,
        stored: &[u8],
        owner: &str,
    ) -> Result<Resealed<Vec<u8>>, ResealError> {
        let (plain, was) = match stored.strip_prefix(PREFIX.as_bytes()) {
            Some(raw) => match self.decrypt_as(raw, owner)? {
                (_, false) => return Ok(Resealed::Current),
                (plain, true) => (plain, Was::Former),
            },
            None => (stored.to_vec(), Was::Clear),
        };
        Ok(Resealed::Sealed(self.seal_bytes(&plain, owner)?, was))
    }

    /// What `stored` becomes under this key: a value in the clear (kept so by an earlier
    /// version) or sealed under a former key, sealed now ([`Resealed::Sealed`]); a value sealed
    /// under this key, as it is ([`Resealed::Current`]); a value that opens under no configured
    /// key, [`Unsealable`].
    pub fn reseal(&self, stored: &str, owner: &str) -> Result<Resealed, ResealError> {
        let (plain, was) = if is_sealed(stored) {
            match self.open_as(stored, owner)? {
                (_, false) => return Ok(Resealed::Current),
                (plain, true) => (plain, Was::Former),
            }
        } else {
            (stored.to_owned(), Was::Clear)
        };
        Ok(Resealed::Sealed(self.seal(&plain, owner)?, was))
    }
}

/// What [`SealingKey::reseal`] made of a stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resealed<T = Sealed> {
    /// Sealed under the current key already.
    Current,
    /// Sealed now under the current key; it was in the clear, or sealed under a former key.
    Sealed(T, Was),
}

/// What a value [`SealingKey::reseal`] sealed was before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Was {
    Clear,
    Former,
}

/// Why a value could not be brought under the current key.
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error(transparent)]
    Unsealable(#[from] Unsealable),
    #[error("no random nonce: {0}")]
    Random(#[from] getrandom::Error),
}

/// What a pass of sealing again found: how many values were in the clear, how many under a
/// former key (both now under the current one), and how many open under no configured key
/// (left as they are).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResealCount {
    pub from_clear: usize,
    pub from_former: usize,
    pub unsealable: usize,
}

impl ResealCount {
    /// Counts what [`SealingKey::reseal`] made of one value and gives what to store in its
    /// place: the value sealed again, or `None` to leave it (under the current key already,
    /// or opening under none).
    pub fn record<T>(
        &mut self,
        outcome: Result<Resealed<T>, ResealError>,
    ) -> Result<Option<T>, getrandom::Error> {
        match outcome {
            Ok(Resealed::Current) => Ok(None),
            Ok(Resealed::Sealed(sealed, was)) => {
                match was {
                    Was::Clear => self.from_clear += 1,
                    Was::Former => self.from_former += 1,
                }
                Ok(Some(sealed))
            }
            Err(ResealError::Unsealable(_)) => {
                self.unsealable += 1;
                Ok(None)
            }
            Err(ResealError::Random(e)) => Err(e),
        }
    }

    /// The sum of two passes.
    pub fn plus(self, other: Self) -> Self {
        Self {
            from_clear: self.from_clear + other.from_clear,
            from_former: self.from_former + other.from_former,
            unsealable: self.unsealable + other.unsealable,
        }
    }
}

/// The 256-bit key in the file at `path` (64 hex digits, readable by its owner only), made
/// there when `create` and there is none; `field` names the setting in errors and the log.
pub fn key_file(field: &str, path: &Path, create: bool) -> anyhow::Result<Option<[u8; KEY_BYTES]>> {
    let context = || format!("{field} {}", path.display());
    let text = if create {
        let (text, made) = crate::secret_file::read_or_create(path, || {
            let mut bytes = [0u8; KEY_BYTES];
            getrandom::fill(&mut bytes).context("a random key")?;
            Ok(format!("{}\n", hex::encode(bytes)))
        })
        .with_context(context)?;
        if made {
            tracing::warn!(field, path = %path.display(), "a new key made: keep a copy apart from the database's and the evidence's backups");
        }
        text
    } else {
        match crate::secret_file::read(path).with_context(context)? {
            Some(text) => text,
            None => return Ok(None),
        }
    };
    let bytes = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; KEY_BYTES]>::try_from(b).ok())
        .with_context(|| format!("{} holds no key of 64 hex digits", context()))?;
    Ok(Some(bytes))
}

/// A value [`SealingKey::seal`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed(String);

impl Sealed {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `value` is a sealed value (and not a secret stored in the clear before sealing).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

/// `value` as a table keeps it: sealed for `owner` under `key`, or as it is where no key is
/// configured.
pub fn stored(
    key: Option<&SealingKey>,
    value: &str,
    owner: &str,
) -> Result<String, getrandom::Error> {
    match key {
        None => Ok(value.to_owned()),
        Some(k) => k.seal(value, owner).map(|s| s.0),
    }
}

/// Why a value a table keeps does not open.
#[derive(Debug, thiserror::Error)]
pub enum NotOpened {
    #[error("it is sealed and no sealing key is configured")]
    NoKey,
    #[error(transparent)]
    Unsealable(#[from] Unsealable),
}

/// What a table keeps for `owner`, opened under `key`; a value in the clear (kept so by an
/// earlier version, or where no key is configured) as it is.
pub fn opened(key: Option<&SealingKey>, stored: String, owner: &str) -> Result<String, NotOpened> {
    if !is_sealed(&stored) {
        return Ok(stored);
    }
    Ok(key.ok_or(NotOpened::NoKey)?.open(&stored, owner)?)
}

/// `bytes` as a table keeps them: sealed for `owner` under `key`, or as they are where no key
/// is configured.
pub fn stored_bytes(
    key: Option<&SealingKey>,
    bytes: &[u8],
    owner: &str,
) -> Result<Vec<u8>, getrandom::Error> {
    match key {
        None => Ok(bytes.to_vec()),
        Some(k) => k.seal_bytes(bytes, owner),
    }
}

/// The bytes a table keeps for `owner`, opened under `key`; bytes in the clear (kept so by an
/// earlier version, or where no key is configured) as they are. A document in the clear never
/// starts with [`PREFIX`]: a PDF, JPEG or PNG starts with its own signature.
pub fn opened_bytes(
    key: Option<&SealingKey>,
    stored: Vec<u8>,
    owner: &str,
) -> Result<Vec<u8>, NotOpened> {
    if !stored.starts_with(PREFIX.as_bytes()) {
        return Ok(stored);
    }
    Ok(key.ok_or(NotOpened::NoKey)?.open_bytes(&stored, owner)?)
}

#[cfg(feature = "db")]
pub mod columns;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_sealed_secret_opens_for_its_owner_under_its_key_only() {
        let key = SealingKey::generate().unwrap();
        let sealed = key
            .seal("JBSWY3DPEHPK3PXP", "officer:reviewer")
            .unwrap()
            .as_str()
            .to_owned();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(
            key.open(&sealed, "officer:reviewer").unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        let again = key.seal("JBSWY3DPEHPK3PXP", "officer:reviewer").unwrap();
        assert_ne!(sealed, again.as_str(), "a new nonce each time");
        assert!(
            key.open(&sealed, "officer:admin").is_err(),
            "moved to another row"
        );
        let other = SealingKey::generate().unwrap();
        assert!(other.open(&sealed, "officer:reviewer").is_err());
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'a' { b'b' } else { b'a' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(key.open(&altered, "officer:reviewer").is_err());
        assert!(key.open("JBSWY3DPEHPK3PXP", "officer:reviewer").is_err());
        assert!(!is_sealed("JBSWY3DPEHPK3PXP"));
    }

    #[test]
    fn a_value_is_sealed_again_under_the_current_key_once() {
        let old = SealingKey::generate().unwrap();
        let new = SealingKey::generate().unwrap();
        let owner = "citizen:079203012345:full_name";
        let sealed = old.seal("Nguyễn Văn An", owner).unwrap();
        let rotated = new.clone().with_former(vec![old.clone()]);
        assert!(rotated.has_former() && !new.has_former());
        assert_eq!(
            rotated.open(sealed.as_str(), owner).unwrap(),
            "Nguyễn Văn An"
        );
        let mut count = ResealCount::default();
        let again = count
            .record(rotated.reseal(sealed.as_str(), owner))
            .unwrap()
            .unwrap();
        assert_eq!(new.open(again.as_str(), owner).unwrap(), "Nguyễn Văn An");
        assert!(old.open(again.as_str(), owner).is_err());
        assert_eq!(
            rotated.reseal(again.as_str(), owner).unwrap(),
            Resealed::Current
        );
        // A value in the clear is sealed; one no configured key opens is counted and left.
        assert!(
            count
                .record(rotated.reseal("0901234567", owner))
                .unwrap()
                .is_some()
        );
        let stranger = SealingKey::generate().unwrap().seal("x", owner).unwrap();
        assert!(
            count
                .record(rotated.reseal(stranger.as_str(), owner))
                .unwrap()
                .is_none()
        );
        // Bound to its owner whichever key opens it.
        assert!(
            rotated
                .reseal(sealed.as_str(), "citizen:1:address")
                .is_err()
        );
        assert_eq!(
            count,
            ResealCount {
                from_clear: 1,
                from_former: 1,
                unsealable: 1
            }
        );
    }

    #[test]
    fn a_sealed_document_opens_for_its_row_only_and_is_sealed_again_once() {
        let old = SealingKey::generate().unwrap();
        let new = SealingKey::generate().unwrap();
        let pdf = b"%PDF-1.7 a contract of sale".to_vec();
        let owner = "answer_document:u1:abc";
        let sealed = stored_bytes(Some(&old), &pdf, owner).unwrap();
        assert!(sealed.starts_with(PREFIX.as_bytes()));
        assert!(!sealed.windows(8).any(|w| w == b"contract"));
        assert_eq!(
            opened_bytes(Some(&old), sealed.clone(), owner).unwrap(),
            pdf
        );
        assert!(opened_bytes(Some(&old), sealed.clone(), "answer_document:u2:abc").is_err());
        assert!(matches!(
            opened_bytes(None, sealed.clone(), owner),
            Err(NotOpened::NoKey)
        ));
        // A document kept in the clear reads as it is, and is sealed by the next pass.
        assert_eq!(opened_bytes(Some(&old), pdf.clone(), owner).unwrap(), pdf);
        let rotated = new.clone().with_former(vec![old.clone()]);
        let mut count = ResealCount::default();
        let again = count
            .record(rotated.reseal_bytes(&sealed, owner))
            .unwrap()
            .unwrap();
        assert_eq!(new.open_bytes(&again, owner).unwrap(), pdf);
        assert!(old.open_bytes(&again, owner).is_err());
        assert_eq!(
            count.record(rotated.reseal_bytes(&again, owner)).unwrap(),
            None
        );
        assert!(
            count
                .record(rotated.reseal_bytes(&pdf, owner))
                .unwrap()
                .is_some()
        );
        assert_eq!(
            count,
            ResealCount {
                from_clear: 1,
                from_former: 1,
                unsealable: 0
            }
        );
    }

    #[test]
    fn former_key_files_must_be_there() {
        let dir = tempfile::tempdir().unwrap();
        let former = [dir.path().join("gone.key")];
        let files = KeyFiles {
            current_field: "secrets_key_file",
            current: &dir.path().join("secrets.key"),
            former_field: "old_secrets_key_files",
            former: &former,
        };
        let error = format!("{:#}", SealingKey::configured(&files, true).unwrap_err());
        assert!(error.contains("gone.key is missing"), "{error}");
    }

    #[test]
    fn the_key_file_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("central/secrets.key");
        assert!(SealingKey::load(&path, false).unwrap().is_none());
        let made = SealingKey::load(&path, true).unwrap().unwrap();
        let sealed = made.seal("secret", "officer:a").unwrap();
        let read = SealingKey::load(&path, false).unwrap().unwrap();
        assert_eq!(read.open(sealed.as_str(), "officer:a").unwrap(), "secret");
        std::fs::write(dir.path().join("short.key"), "abcd").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.path().join("short.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
        }
        assert!(SealingKey::load(&dir.path().join("short.key"), false).is_err());
    }
}
