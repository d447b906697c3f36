//! Identifiers that travel on the wire: devices, cameras and events.
//!
//! Device and camera ids appear inside MQTT topics, so they are restricted to characters that
//! can never be topic separators or wildcards.

use std::{borrow::Cow, fmt, str::FromStr};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest device or camera id, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} id is empty")]
    Empty { kind: &'static str },
    #[error("{kind} id is longer than {MAX_ID_LEN} bytes")]
    TooLong { kind: &'static str },
    #[error(
        "{kind} id `{id}` may hold only lowercase ASCII letters, digits, `-` and `_`, and must start with a letter or digit"
    )]
    BadCharacter { kind: &'static str, id: String },
    #[error("event id `{0}` is not a UUID")]
    NotUuid(String),
    #[error("event id `{0}` is not a version 7 UUID")]
    NotV7(String),
}

fn check_topic_segment(kind: &'static str, id: &str) -> Result<(), IdError> {
    let bytes = id.as_bytes();
    let Some(first) = bytes.first() else {
        return Err(IdError::Empty { kind });
    };
    if bytes.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { kind });
    }
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_';
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) || !bytes.iter().all(allowed) {
        return Err(IdError::BadCharacter {
            kind,
            id: id.to_owned(),
        });
    }
    Ok(())
}

const SEGMENT_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,63}$";

macro_rules! segment_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks `id` and wraps it.
            pub fn parse(id: impl Into<String>) -> Result<Self, IdError> {
                let id = id.into();
                check_topic_segment($kind, &id)?;
                Ok(Self(id))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(id: String) -> Result<Self, IdError> {
                Self::parse(id)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(id: &str) -> Result<Self, IdError> {
                Self::parse(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": SEGMENT_PATTERN,
                    "description": concat!("A ", $kind, " id: lowercase ASCII letters, digits, `-` and `_`, at most 64 bytes.")
                })
            }
        }
    };
}

segment_id!(
    /// A roadside box running `edge-agent`; the key its events are signed with is registered
    /// under this id.
    DeviceId,
    "device"
);
segment_id!(
    /// One camera of a device, unique within that device.
    CameraId,
    "camera"
);

/// The id of one violation event: a UUIDv7, so ids sort by the time they were made and the
/// same event published twice is recognised by its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId(Uuid);

impl EventId {
    /// A new id for an event that happened now.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// An id from its parts, for tests and for replaying recorded events deterministically.
    pub fn from_parts(unix_ms: u64, random: [u8; 10]) -> Self {
        Self(uuid::Builder::from_unix_timestamp_millis(unix_ms, &random).into_uuid())
    }

    pub fn parse(text: &str) -> Result<Self, IdError> {
        let uuid = Uuid::try_parse(text).map_err(|_| IdError::NotUuid(text.to_owned()))?;
        if uuid.get_version_num() != 7 {
            return Err(IdError::NotV7(text.to_owned()));
        }
        // The hyphenated lowercase form is the only one accepted, so an id has one spelling.
        if uuid.hyphenated().to_string() != text {
            return Err(IdError::NotUuid(text.to_owned()));
        }
        Ok(Self(uuid))
    }

    /// The id of a stored UUID; it must be version 7.
    pub fn from_uuid(uuid: Uuid) -> Result<Self, IdError> {
        if uuid.get_version_num() != 7 {
            return Err(IdError::NotV7(uuid.to_string()));
        }
        Ok(Self(uuid))
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl TryFrom<String> for EventId {
    type Error = IdError;
    fn try_from(text: String) -> Result<Self, IdError> {
        Self::parse(&text)
    }
}

impl From<EventId> for String {
    fn from(id: EventId) -> String {
        id.0.hyphenated().to_string()
    }
}

impl FromStr for EventId {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, IdError> {
        Self::parse(text)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl JsonSchema for EventId {
    fn schema_name() -> Cow<'static, str> {
        "EventId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
            "description": "A version 7 UUID, lowercase and hyphenated."
        })
    }
}

/// A random URL-safe string (base64url) of `bytes` bytes from the operating system's randomness:
/// session and CSRF tokens, OIDC state, nonce, PKCE verifier and codes.
pub fn random_token(bytes: usize) -> Result<String, getrandom::Error> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// Whether a token sent (a CSRF token) is the one expected, compared in a time that depends on
/// their lengths only, not on where they first differ: a forger learns nothing from the timing.
pub fn same_token(sent: &str, expected: &str) -> bool {
    let (a, b) = (sent.as_bytes(), expected.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let differ = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
    differ == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_the_same_only_byte_for_byte() {
        let token = random_token(32).unwrap();
        assert!(same_token(&token, &token.clone()));
        let mut other = token.clone().into_bytes();
        other[31] ^= 1;
        assert!(!same_token(std::str::from_utf8(&other).unwrap(), &token));
        assert!(!same_token(&token[..20], &token));
        assert!(!same_token("", &token));
    }

    #[test]
    fn device_ids_refuse_topic_separators_and_wildcards() {
        for bad in ["", "a/b", "+", "#", "Cam1", "-lead", "a b", &"x".repeat(65)] {
            assert!(DeviceId::parse(bad).is_err(), "{bad:?} was accepted");
        }
        for good in ["hcm-q1-001", "cam_0", "7", &"x".repeat(64)] {
            assert!(DeviceId::parse(good).is_ok(), "{good:?} was refused");
        }
    }

    #[test]
    fn event_ids_must_be_v7_and_lowercase() {
        let id = EventId::from_parts(1_735_689_600_000, [7; 10]);
        let text = id.to_string();
        assert_eq!(EventId::parse(&text), Ok(id));
        assert!(matches!(
            EventId::parse(&text.to_uppercase()),
            Err(IdError::NotUuid(_))
        ));
        assert!(matches!(
            EventId::parse("67e55044-10b1-426f-9247-bb680e5fe0c8"),
            Err(IdError::NotV7(_))
        ));
        assert!(matches!(
            EventId::parse("not-a-uuid"),
            Err(IdError::NotUuid(_))
        ));
    }
}
