//! Secrets central's database keeps but must not hold in the clear (an officer's TOTP secret
//! is their second factor: whoever reads it from a backup or a replica makes their codes; a
//! citizen's name, address and contact, [`crate::db::owners`]; the messages that carry them,
//! [`crate::db::at_rest`]), sealed as [`service_kit::sealed`] seals them under the key of
//! `review.secrets_key_file`, with the keys of `review.old_secrets_key_files` still opening
//! what they sealed until a start has sealed it all again under the current one.

pub use service_kit::sealed::{
    KeyFiles, NotOpened, ResealCount, ResealError, Resealed, Sealed, SealingKey, Unsealable, Was,
    is_sealed, key_file, opened, stored,
};

/// Where `settings` keep central's sealing key and its former ones.
pub fn key_files(settings: &crate::config::ReviewSettings) -> KeyFiles<'_> {
    KeyFiles {
        current_field: "review.secrets_key_file",
        current: &settings.secrets_key_file,
        former_field: "review.old_secrets_key_files",
        former: &settings.old_secrets_key_files,
    }
}

/// The key of `review.secrets_key_file` (made when `create` and there is none) with those of
/// `review.old_secrets_key_files`.
pub fn configured(
    settings: &crate::config::ReviewSettings,
    create: bool,
) -> anyhow::Result<Option<SealingKey>> {
    SealingKey::configured(&key_files(settings), create)
}

/// The configured key, made in `review.secrets_key_file` when there is none yet, as the
/// service does at its first start.
pub fn made(settings: &crate::config::ReviewSettings) -> anyhow::Result<SealingKey> {
    SealingKey::made(&key_files(settings))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn former_key_files_must_be_there_and_are_named_by_central_s_setting() {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::config::ReviewSettings {
            secrets_key_file: dir.path().join("secrets.key"),
            old_secrets_key_files: vec![dir.path().join("gone.key")],
            ..Default::default()
        };
        let error = format!("{:#}", configured(&settings, true).unwrap_err());
        assert!(
            error.contains("review.old_secrets_key_files: ")
                && error.contains("gone.key is missing"),
            "{error}"
        );
    }
}
