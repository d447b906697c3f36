//! Secrets the database keeps but must not hold in the clear (an officer's TOTP secret is their
//! second factor: whoever reads it from a backup or a replica makes their codes; a citizen's
//! name, address and contact, [`crate::db::owners`]). They are
//! sealed with ChaCha20-Poly1305 (RFC 8439) under a key kept outside the database, in the file
//! `review.secrets_key_file`, and bound to what they belong to: a sealed value moved to another
//! officer's row does not open there.
//!
//! A sealed value is `v1:` and the hex of a random 96-bit nonce followed by the ciphertext
//! and its tag.

use std::path::Path;

use anyhow::Context;
use chacha20poly1305::{
    ChaCha20Poly1305, Key, KeyInit, Nonce,
    aead::{Aead, Payload},
};

const PREFIX: &str = "v1:";
const NONCE_BYTES: usize = 12;
const KEY_BYTES: usize = 32;

/// The key secrets are sealed with.
#[derive(Clone)]
pub struct SealingKey(Key);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

/// A sealed value that does not open: not sealed by this project, sealed under another key,
/// altered, or moved from what it was sealed for.
#[derive(Debug, thiserror::Error)]
#[error("a sealed secret does not open under the configured review.secrets_key_file")]
pub struct Unsealable;

impl SealingKey {
    /// A new random key.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; KEY_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes.into()))
    }

    /// The key in the file at `path` (64 hex digits, readable by its owner only), made there
    /// when `create` and there is none.
    pub fn load(path: &Path, create: bool) -> anyhow::Result<Option<Self>> {
        Ok(key_file("review.secrets_key_file", path, create)?.map(|k| Self(k.into())))
    }

    /// `secret` sealed for `owner` (e.g. `officer-totp:reviewer`).
    pub fn seal(&self, secret: &str, owner: &str) -> Result<Sealed, getrandom::Error> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce)?;
        let cipher = ChaCha20Poly1305::new(&self.0);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: owner.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(Sealed(format!("{PREFIX}{}", hex::encode(bytes))))
    }

    /// The secret `sealed` holds for `owner`.
    pub fn open(&self, sealed: &str, owner: &str) -> Result<String, Unsealable> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| hex::decode(b).ok())
            .filter(|b| b.len() > NONCE_BYTES)
            .ok_or(Unsealable)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let plain = ChaCha20Poly1305::new(&self.0)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| Unsealable)?;
        String::from_utf8(plain).map_err(|_| Unsealable)
    }
}

/// The 256-bit key in the file at `path` (64 hex digits, readable by its owner only), made
/// there when `create` and there is none; `field` names the setting in errors and the log.
pub fn key_file(field: &str, path: &Path, create: bool) -> anyhow::Result<Option<[u8; KEY_BYTES]>> {
    let context = || format!("{field} {}", path.display());
    let text = if create {
        let (text, made) = service_kit::secret_file::read_or_create(path, || {
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
        match service_kit::secret_file::read(path).with_context(context)? {
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
