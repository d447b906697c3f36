//! Encoding and decoding of every message, strictly.
//!
//! A message on the wire is a JSON object in canonical form (RFC 8785): the message's fields,
//! plus `schema` and `schema_version`, plus `signature` on signed messages. The signature is
//! Ed25519 over the canonical JSON of everything else, by the key of whoever speaks: a device for
//! its violations and statuses, central for the acknowledgements and configurations it sends a
//! device (its control key, which the device pins), a signal controller for its phases. A signed
//! message must arrive in canonical form, so it has exactly one byte representation: any change
//! to its bytes either breaks the form or changes what was signed.
//!
//! Decoding refuses, each with its own error naming the problem: an oversized payload, bad JSON,
//! a wrong schema, an unknown schema version, a missing or unknown field, a non-UTC time, a value
//! out of range, a non-canonical signed payload, a malformed signature, and a signature that does
//! not verify.

use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::{
    event::ViolationEvent,
    ids::DeviceId,
    messages::{Ack, DeviceStatus, SignalPhase},
    signing::{DeviceKey, DevicePublicKey, Signature},
    time::NON_UTC_MESSAGE,
};

pub const SCHEMA_FIELD: &str = "schema";
pub const VERSION_FIELD: &str = "schema_version";
pub const SIGNATURE_FIELD: &str = "signature";

/// A value that breaks a rule serde cannot express (a range, a length, a uniqueness).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

/// The largest integer JSON carries exactly (RFC 8785 and I-JSON read numbers as IEEE doubles).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

impl Invalid {
    /// Refuses integers that a double cannot hold exactly: they would change in canonical form.
    pub fn check_safe_integer(field: &str, value: Option<u64>) -> Result<(), Invalid> {
        match value {
            Some(v) if v > MAX_SAFE_INTEGER => Err(Invalid::new(
                field,
                format!(
                    "{v} is larger than {MAX_SAFE_INTEGER}, the largest integer JSON carries exactly"
                ),
            )),
            _ => Ok(()),
        }
    }

    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Checks a message beyond its types, before it is sent and after it is received.
pub trait Validate {
    fn validate(&self) -> Result<(), Invalid>;
}

/// A message type of the wire contract.
pub trait Message: Serialize + DeserializeOwned + Validate + JsonSchema {
    /// The schema id, written in the `schema` field.
    const SCHEMA: &'static str;
    /// The one version of the schema this build reads and writes.
    const VERSION: u32;
    /// Largest payload accepted, in bytes.
    const MAX_BYTES: usize;
}

/// A message that travels signed: its receiver reads it with [`decode_signed`] and verifies it
/// before acting on it ([`decode`] is for unsigned messages and a sender's own records).
pub trait SignedMessage: Message {
    /// Who signs it, as an error names them: `device`, `central`, `the signal controller`.
    const SIGNER: &'static str;
}

/// A message signed by the device that sent it, whose registered key verifies it.
pub trait DeviceSigned: SignedMessage {
    /// The device whose key must verify the signature.
    fn signer(&self) -> &DeviceId;
}

impl Message for ViolationEvent {
    const SCHEMA: &'static str = "tve.violation";
    const VERSION: u32 = 1;
    const MAX_BYTES: usize = 64 * 1024;
}

impl SignedMessage for ViolationEvent {
    const SIGNER: &'static str = "device";
}

impl DeviceSigned for ViolationEvent {
    fn signer(&self) -> &DeviceId {
        &self.device
    }
}

/// Version 2: signed by central's control key (version 1 was unsigned, and a forged one made a
/// device delete events central never stored).
impl Message for Ack {
    const SCHEMA: &'static str = "tve.ack";
    const VERSION: u32 = 2;
    const MAX_BYTES: usize = 64 * 1024;
}

impl SignedMessage for Ack {
    const SIGNER: &'static str = "central";
}

/// Version 2: signed by the device (version 1 was unsigned: anyone on the broker could show a
/// dead device as running).
impl Message for DeviceStatus {
    const SCHEMA: &'static str = "tve.device_status";
    const VERSION: u32 = 2;
    const MAX_BYTES: usize = 16 * 1024;
}

impl SignedMessage for DeviceStatus {
    const SIGNER: &'static str = "device";
}

impl DeviceSigned for DeviceStatus {
    fn signer(&self) -> &DeviceId {
        &self.device
    }
}

/// Version 2: signed by central's control key.
impl Message for crate::device_config::DeviceConfig {
    const SCHEMA: &'static str = "tve.device_config";
    const VERSION: u32 = 2;
    const MAX_BYTES: usize = 256 * 1024;
}

impl SignedMessage for crate::device_config::DeviceConfig {
    const SIGNER: &'static str = "central";
}

impl Message for crate::notice::ViolationNotice {
    const SCHEMA: &'static str = "tve.violation_notice";
    const VERSION: u32 = 1;
    const MAX_BYTES: usize = 16 * 1024;
}

impl Message for crate::notice::PenaltyDecision {
    const SCHEMA: &'static str = "tve.penalty_decision";
    const VERSION: u32 = 1;
    const MAX_BYTES: usize = 16 * 1024;
}

impl Message for crate::notice::FineUpdate {
    const SCHEMA: &'static str = "tve.fine_update";
    const VERSION: u32 = 1;
    const MAX_BYTES: usize = 16 * 1024;
}

impl Message for crate::notice::FineResolution {
    const SCHEMA: &'static str = "tve.fine_resolution";
    const VERSION: u32 = 1;
    const MAX_BYTES: usize = 16 * 1024;
}

/// Version 2: signed by the signal controller's key, which the camera's configuration names.
impl Message for SignalPhase {
    const SCHEMA: &'static str = "tve.signal_phase";
    const VERSION: u32 = 2;
    const MAX_BYTES: usize = 4 * 1024;
}

impl SignedMessage for SignalPhase {
    const SIGNER: &'static str = "the signal controller";
}

/// Why a payload was refused. Each variant names one problem; [`WireError::code`] gives a short
/// stable code for dead-letter records and metrics.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    Oversized { size: usize, limit: usize },
    #[error("payload is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("payload is not a JSON object")]
    NotAnObject,
    #[error("schema is `{found}`, expected `{expected}`")]
    WrongSchema {
        expected: &'static str,
        found: String,
    },
    #[error(
        "unsupported version {found} of schema `{schema}`: this build reads version {supported}"
    )]
    UnsupportedVersion {
        schema: &'static str,
        found: String,
        supported: u32,
    },
    #[error("missing field `{0}`")]
    MissingField(String),
    #[error("unknown field `{0}`")]
    UnknownField(String),
    #[error("field `{field}` is not a UTC time: {reason}")]
    NonUtcTime { field: String, reason: String },
    #[error("field `{field}` {reason}")]
    InvalidField { field: String, reason: String },
    #[error("signed payload is not in canonical JSON form (RFC 8785)")]
    NotCanonical,
    #[error("field `signature` is malformed: {0}")]
    MalformedSignature(String),
    #[error("device `{0}` is not registered")]
    UnknownDevice(DeviceId),
    #[error("signature does not verify with the key of {signer}")]
    BadSignature { signer: String },
    #[error("message cannot be encoded: {0}")]
    Encode(#[source] serde_json::Error),
}

impl WireError {
    /// A short stable code for dead-letter records and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Oversized { .. } => "oversized",
            Self::Json(_) => "malformed_json",
            Self::NotAnObject => "not_an_object",
            Self::WrongSchema { .. } => "wrong_schema",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::MissingField(_) => "missing_field",
            Self::UnknownField(_) => "unknown_field",
            Self::NonUtcTime { .. } => "non_utc_time",
            Self::InvalidField { .. } => "invalid_field",
            Self::NotCanonical => "not_canonical",
            Self::MalformedSignature(_) => "malformed_signature",
            Self::UnknownDevice(_) => "unknown_device",
            Self::BadSignature { .. } => "bad_signature",
            Self::Encode(_) => "encode",
        }
    }
}

impl From<Invalid> for WireError {
    fn from(invalid: Invalid) -> Self {
        Self::InvalidField {
            field: invalid.field,
            reason: invalid.reason,
        }
    }
}

/// A decoded signed message, not yet verified: verify it with the sender's registered key.
#[derive(Debug, Clone)]
pub struct Signed<M> {
    pub message: M,
    pub signature: Signature,
    signed_bytes: Vec<u8>,
}

impl<M: SignedMessage> Signed<M> {
    /// The canonical bytes the signature covers.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.signed_bytes
    }

    /// Verifies with any one of `keys` — the signer's pinned keys, two while one is being
    /// rotated out — and returns the message once it is proven authentic.
    pub fn verify_by(self, keys: &[DevicePublicKey]) -> Result<M, WireError> {
        if keys
            .iter()
            .any(|k| k.verify(&self.signed_bytes, &self.signature).is_ok())
        {
            Ok(self.message)
        } else {
            Err(WireError::BadSignature {
                signer: M::SIGNER.to_owned(),
            })
        }
    }
}

impl<M: DeviceSigned> Signed<M> {
    /// Verifies with `key`, which must be the registered key of [`DeviceSigned::signer`].
    pub fn verify(&self, key: &DevicePublicKey) -> Result<(), WireError> {
        key.verify(&self.signed_bytes, &self.signature)
            .map_err(|_| WireError::BadSignature {
                signer: format!("device `{}`", self.message.signer()),
            })
    }

    /// Looks the signer's key up and verifies; returns the message once it is proven authentic.
    pub fn verify_with(
        self,
        lookup: impl FnOnce(&DeviceId) -> Option<DevicePublicKey>,
    ) -> Result<M, WireError> {
        let key = lookup(self.message.signer())
            .ok_or_else(|| WireError::UnknownDevice(self.message.signer().clone()))?;
        self.verify(&key)?;
        Ok(self.message)
    }
}

fn canonical(value: &impl Serialize) -> Result<Vec<u8>, WireError> {
    serde_json_canonicalizer::to_vec(value).map_err(WireError::Encode)
}

/// The canonical form of `object`, and of `object` without its member `left_out`, in one pass:
/// RFC 8785 orders an object's members by their names' UTF-16 code units (section 3.2.3) and
/// writes each member's value the same wherever it stands, so the two share every member's
/// text. Ingest takes each signed message in this form twice (as it came, and as it was
/// signed); one pass halves that work.
fn canonical_without(
    object: &Map<String, Value>,
    left_out: &str,
) -> Result<(Vec<u8>, Vec<u8>), WireError> {
    let mut members: Vec<(&String, &Value)> = object.iter().collect();
    members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    let (mut whole, mut without) = (vec![b'{'], vec![b'{']);
    for (name, value) in members {
        let mut member = canonical(name)?;
        member.push(b':');
        member.extend(canonical(value)?);
        if whole.len() > 1 {
            whole.push(b',');
        }
        whole.extend_from_slice(&member);
        if name != left_out {
            if without.len() > 1 {
                without.push(b',');
            }
            without.extend(member);
        }
    }
    whole.push(b'}');
    without.push(b'}');
    Ok((whole, without))
}

fn tagged<M: Message>(message: &M) -> Result<Map<String, Value>, WireError> {
    message.validate()?;
    let Value::Object(mut object) = serde_json::to_value(message).map_err(WireError::Encode)?
    else {
        return Err(WireError::NotAnObject);
    };
    object.insert(SCHEMA_FIELD.into(), Value::from(M::SCHEMA));
    object.insert(VERSION_FIELD.into(), Value::from(M::VERSION));
    Ok(object)
}

/// Encodes an unsigned message in canonical JSON.
pub fn encode<M: Message>(message: &M) -> Result<Vec<u8>, WireError> {
    canonical(&tagged(message)?)
}

/// Encodes and signs a message in canonical JSON.
pub fn encode_signed<M: SignedMessage>(message: &M, key: &DeviceKey) -> Result<Vec<u8>, WireError> {
    let mut object = tagged(message)?;
    let signature = key.sign(&canonical(&object)?);
    object.insert(SIGNATURE_FIELD.into(), Value::from(signature.to_base64()));
    canonical(&object)
}

/// Decodes an unsigned message.
pub fn decode<M: Message>(bytes: &[u8]) -> Result<M, WireError> {
    let object = open::<M>(bytes)?;
    typed(object)
}

/// Decodes a signed message; verify it with [`Signed::verify`] or [`Signed::verify_with`].
pub fn decode_signed<M: SignedMessage>(bytes: &[u8]) -> Result<Signed<M>, WireError> {
    let mut object = open::<M>(bytes)?;
    let signature = match object.get(SIGNATURE_FIELD) {
        None => return Err(WireError::MissingField(SIGNATURE_FIELD.into())),
        Some(Value::String(text)) => Signature::from_base64(text)
            .map_err(|e| WireError::MalformedSignature(e.to_string()))?,
        Some(_) => return Err(WireError::MalformedSignature("not a string".into())),
    };
    let (whole, signed_bytes) = canonical_without(&object, SIGNATURE_FIELD)?;
    if whole != bytes {
        return Err(WireError::NotCanonical);
    }
    object.remove(SIGNATURE_FIELD);
    let message = typed(object)?;
    Ok(Signed {
        message,
        signature,
        signed_bytes,
    })
}

/// Size, JSON, object, schema and version: the checks before the fields are looked at.
fn open<M: Message>(bytes: &[u8]) -> Result<Map<String, Value>, WireError> {
    if bytes.len() > M::MAX_BYTES {
        return Err(WireError::Oversized {
            size: bytes.len(),
            limit: M::MAX_BYTES,
        });
    }
    let Value::Object(object) = serde_json::from_slice(bytes).map_err(WireError::Json)? else {
        return Err(WireError::NotAnObject);
    };
    match object.get(SCHEMA_FIELD) {
        None => return Err(WireError::MissingField(SCHEMA_FIELD.into())),
        Some(Value::String(s)) if s == M::SCHEMA => {}
        Some(other) => {
            return Err(WireError::WrongSchema {
                expected: M::SCHEMA,
                found: match other {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                },
            });
        }
    }
    match object.get(VERSION_FIELD) {
        None => return Err(WireError::MissingField(VERSION_FIELD.into())),
        Some(v) if v.as_u64() == Some(u64::from(M::VERSION)) => {}
        Some(v) => {
            return Err(WireError::UnsupportedVersion {
                schema: M::SCHEMA,
                found: v.to_string(),
                supported: M::VERSION,
            });
        }
    }
    Ok(object)
}

/// The typed message from its fields, then its own rules.
fn typed<M: Message>(mut object: Map<String, Value>) -> Result<M, WireError> {
    object.remove(SCHEMA_FIELD);
    object.remove(VERSION_FIELD);
    let message: M = serde_path_to_error::deserialize(Value::Object(object)).map_err(classify)?;
    message.validate()?;
    Ok(message)
}

/// Turns serde's error into the variant that names the problem.
fn classify(error: serde_path_to_error::Error<serde_json::Error>) -> WireError {
    let path = error.path().to_string();
    let message = error.inner().to_string();
    let join = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |rest: &str| rest.split('`').next().unwrap_or_default().to_owned();
    if let Some(rest) = message.strip_prefix("missing field `") {
        WireError::MissingField(join(&quoted(rest)))
    } else if let Some(rest) = message.strip_prefix("unknown field `") {
        // The path already ends at the unknown key.
        let name = quoted(rest);
        if path == name || path.ends_with(&format!(".{name}")) {
            WireError::UnknownField(path)
        } else {
            WireError::UnknownField(join(&name))
        }
    } else if message.starts_with(NON_UTC_MESSAGE) {
        WireError::NonUtcTime {
            field: path,
            reason: message,
        }
    } else {
        WireError::InvalidField {
            field: path,
            reason: message,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::{canonical, canonical_without};

    #[test]
    fn one_pass_gives_the_canonical_form_with_and_without_a_member() {
        // Names whose UTF-16 order differs from their UTF-8 order (a character beyond the BMP
        // sorts before U+E000 in UTF-16, after it in UTF-8), escapes, numbers in their shortest
        // form, nested objects in their own order, and the member left out first, last and
        // in the middle.
        let value = json!({
            "\u{e000}": 1, "\u{1f600}": 2, "b": [1.0, 2.5e-7, "x\n\"y\""],
            "a": {"z": null, "é": true, "signature": "nested, kept"},
            "signature": "c2ln", "zz": 1e21, "": -0.0
        });
        let Value::Object(object) = value else {
            unreachable!()
        };
        for left_out in ["signature", "", "zz", "\u{1f600}", "absent"] {
            let (whole, without) = canonical_without(&object, left_out).unwrap();
            assert_eq!(whole, canonical(&object).unwrap());
            let mut less: Map<String, Value> = object.clone();
            less.remove(left_out);
            assert_eq!(without, canonical(&less).unwrap(), "without {left_out:?}");
        }
        let (whole, without) = canonical_without(&Map::new(), "signature").unwrap();
        assert_eq!(
            (whole.as_slice(), without.as_slice()),
            (&b"{}"[..], &b"{}"[..])
        );
        let one: Map<String, Value> = [("signature".to_owned(), json!("x"))].into_iter().collect();
        assert_eq!(canonical_without(&one, "signature").unwrap().1, b"{}");
    }
}
