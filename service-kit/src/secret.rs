//! [`Secret`]: a setting that must not be seen — a password, a key shared with another
//! service, a gateway's API key. Configurations are logged, printed in errors and compared in
//! tests; a secret in them shows as `[redacted]` in `Debug`, compares in constant time, and is
//! read only through [`Secret::expose`], which marks each place that uses it.
//!
//! It is (de)serialized as the plain string, so a configuration file or an environment
//! variable sets it as before and `--print-default-config` prints the default (empty).

use serde::{Deserialize, Serialize};

/// A secret setting. Empty means "not set".
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one use that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is unset.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Its length in bytes (the checks of a minimum length need no more).
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "[empty]"
        } else {
            "[redacted]"
        })
    }
}

/// In constant time for secrets of one length ([`protocol::same_token`]).
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        protocol::same_token(&self.0, &other.0)
    }
}

impl Eq for Secret {}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn a_secret_is_never_shown_and_reads_as_its_string() {
        let secret = Secret::from("hunter2-the-shared-key");
        let shown = format!("{secret:?} {:?}", Some(&secret));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(format!("{:?}", Secret::default()), "[empty]");
        assert_eq!(secret.expose(), "hunter2-the-shared-key");
        assert_eq!(secret, Secret::from("hunter2-the-shared-key"));
        assert_ne!(secret, Secret::from("hunter3-the-shared-key"));
        let read: Secret = serde_json::from_str("\"from a file\"").unwrap();
        assert_eq!(read.expose(), "from a file");
        assert_eq!(serde_json::to_string(&read).unwrap(), "\"from a file\"");
    }
}
