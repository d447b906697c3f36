//! Ed25519 device keys and signatures.
//!
//! Each edge device holds a private key; central holds its public key in the device registry.
//! Keys and signatures travel as standard base64.

use std::{borrow::Cow, fmt};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key is not base64: {0}")]
    NotBase64(String),
    #[error("key must be 32 bytes, found {0}")]
    WrongLength(usize),
    #[error("public key is not a valid Ed25519 point")]
    InvalidPoint,
    #[error("signature must be 64 bytes of base64")]
    MalformedSignature,
    #[error("signature does not verify")]
    Mismatch,
    #[error("no randomness for a new key: {0}")]
    Randomness(String),
}

/// A device's private signing key. Its `Debug` shows only the public half.
#[derive(Clone)]
pub struct DeviceKey(SigningKey);

impl DeviceKey {
    /// A new key from the operating system's randomness.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Randomness(e.to_string()))?;
        Ok(Self::from_seed(seed))
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// Reads the base64 form of the 32-byte seed, as kept in the device's key file.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        Ok(Self::from_seed(decode_32(text)?))
    }

    /// The base64 form of the seed: the secret itself, for the device's key file only.
    pub fn to_base64_secret(&self) -> String {
        BASE64.encode(self.0.to_bytes())
    }

    pub fn public_key(&self) -> DevicePublicKey {
        DevicePublicKey(self.0.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message))
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceKey(public: {})", self.public_key())
    }
}

fn decode_32(text: &str) -> Result<[u8; 32], KeyError> {
    let bytes = BASE64
        .decode(text.trim())
        .map_err(|e| KeyError::NotBase64(e.to_string()))?;
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::WrongLength(bytes.len()))
}

/// A device's public key, as registered with central.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DevicePublicKey(VerifyingKey);

impl DevicePublicKey {
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        VerifyingKey::from_bytes(&decode_32(text)?)
            .map(Self)
            .map_err(|_| KeyError::InvalidPoint)
    }

    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0.as_bytes())
    }

    /// Verifies strictly: weak keys and malleable signatures are refused.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), KeyError> {
        self.0
            .verify_strict(message, &signature.0)
            .map_err(|_| KeyError::Mismatch)
    }
}

impl fmt::Display for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevicePublicKey({self})")
    }
}

/// An Ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(ed25519_dalek::Signature);

impl Signature {
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = BASE64
            .decode(text)
            .map_err(|_| KeyError::MalformedSignature)?;
        let bytes: [u8; 64] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::MalformedSignature)?;
        Ok(Self(ed25519_dalek::Signature::from_bytes(&bytes)))
    }

    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0.to_bytes())
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

macro_rules! base64_serde {
    ($ty:ty, $name:literal, $pattern:literal, $desc:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_base64())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = Cow::<'de, str>::deserialize(d)?;
                Self::from_base64(&text).map_err(de::Error::custom)
            }
        }

        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "pattern": $pattern, "description": $desc })
            }
        }
    };
}

base64_serde!(
    DevicePublicKey,
    "DevicePublicKey",
    "^[A-Za-z0-9+/]{43}=$",
    "An Ed25519 public key, 32 bytes in standard base64."
);
base64_serde!(
    Signature,
    "Signature",
    "^[A-Za-z0-9+/]{86}==$",
    "An Ed25519 signature, 64 bytes in standard base64."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_base64_and_verify() {
        let key = DeviceKey::from_seed([9; 32]);
        let again = DeviceKey::from_base64(&key.to_base64_secret()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let public = DevicePublicKey::from_base64(&key.public_key().to_base64()).unwrap();
        let sig = key.sign(b"51F-123.45");
        let sig = Signature::from_base64(&sig.to_base64()).unwrap();
        assert_eq!(public.verify(b"51F-123.45", &sig), Ok(()));
        assert_eq!(public.verify(b"51F-123.46", &sig), Err(KeyError::Mismatch));
        let other = DeviceKey::generate().unwrap().public_key();
        assert_eq!(other.verify(b"51F-123.45", &sig), Err(KeyError::Mismatch));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = DeviceKey::from_seed([1; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&key.to_base64_secret()));
        assert!(shown.contains(&key.public_key().to_base64()));
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(matches!(
            DeviceKey::from_base64("!!"),
            Err(KeyError::NotBase64(_))
        ));
        assert_eq!(
            DevicePublicKey::from_base64("AAAA"),
            Err(KeyError::WrongLength(3))
        );
        assert_eq!(
            Signature::from_base64("AAAA"),
            Err(KeyError::MalformedSignature)
        );
    }
}
