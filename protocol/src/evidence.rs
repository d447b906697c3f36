//! Evidence upload: `PUT /api/v1/evidence/{sha256}`, content-addressed, authenticated as the
//! device by a signature over the request.
//!
//! The device sends three headers: [`DEVICE_HEADER`], [`TIMESTAMP_HEADER`] (UTC, the wire time
//! form) and [`SIGNATURE_HEADER`], an Ed25519 signature by the device key over
//! [`signing_string`]. The body's hash is the path, and central verifies it, so the signature
//! covers the body too. A captured request replays only within the allowed clock skew, and then
//! only uploads the same bytes again, which is idempotent.

use std::time::Duration;

use crate::{
    event::Sha256Digest,
    ids::DeviceId,
    signing::{DeviceKey, DevicePublicKey, Signature},
    time::UtcTimestamp,
};

pub const DEVICE_HEADER: &str = "x-tve-device";
pub const TIMESTAMP_HEADER: &str = "x-tve-timestamp";
pub const SIGNATURE_HEADER: &str = "x-tve-signature";

/// The path of a blob.
/// The kinds of file evidence may be: the agent's stills and clips, and the list of what a
/// masked clip hides (JSON, never rendered). Central refuses an upload of any other type, and
/// serves nothing as another (an HTML or SVG "evidence" file would be a script run on the
/// review pages' origin).
pub const CONTENT_TYPES: [&str; 4] = ["image/jpeg", "image/png", "video/mp4", "application/json"];

/// The file name extension of an evidence content type.
pub fn extension(content_type: &str) -> Option<&'static str> {
    match content_type {
        "image/jpeg" => Some("jpg"),
        "image/png" => Some("png"),
        "video/mp4" => Some("mp4"),
        "application/json" => Some("json"),
        _ => None,
    }
}

pub fn path(sha256: &Sha256Digest) -> String {
    format!("/api/v1/evidence/{sha256}")
}

/// What the device signs: method, path, device and time, one per line.
pub fn signing_string(sha256: &Sha256Digest, device: &DeviceId, at: &UtcTimestamp) -> String {
    format!("PUT\n{}\n{device}\n{at}", path(sha256))
}

/// The authentication headers of one upload.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadAuth {
    pub device: DeviceId,
    pub at: UtcTimestamp,
    pub signature: Signature,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadAuthError {
    #[error("header `{0}` is missing")]
    Missing(&'static str),
    #[error("header `{header}` is malformed: {reason}")]
    Malformed {
        header: &'static str,
        reason: String,
    },
    #[error("request time {at} is more than {skew_s} s from central's clock")]
    Skew { at: String, skew_s: u64 },
    #[error("signature does not verify with the key of device `{0}`")]
    BadSignature(DeviceId),
}

impl UploadAuth {
    /// Signs an upload of `sha256` by the device holding `key`, at `at`.
    pub fn sign(
        key: &DeviceKey,
        device: DeviceId,
        sha256: &Sha256Digest,
        at: UtcTimestamp,
    ) -> Self {
        let signature = key.sign(signing_string(sha256, &device, &at).as_bytes());
        Self {
            device,
            at,
            signature,
        }
    }

    /// The three headers, as name and value.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            (DEVICE_HEADER, self.device.to_string()),
            (TIMESTAMP_HEADER, self.at.to_string()),
            (SIGNATURE_HEADER, self.signature.to_base64()),
        ]
    }

    /// Reads the headers through `get` (a header map lookup).
    pub fn from_headers<'a>(
        get: impl Fn(&'static str) -> Option<&'a str>,
    ) -> Result<Self, UploadAuthError> {
        let header = |name| get(name).ok_or(UploadAuthError::Missing(name));
        let malformed = |header: &'static str| {
            move |e: &dyn std::fmt::Display| UploadAuthError::Malformed {
                header,
                reason: e.to_string(),
            }
        };
        let device =
            DeviceId::parse(header(DEVICE_HEADER)?).map_err(|e| malformed(DEVICE_HEADER)(&e))?;
        let at = UtcTimestamp::parse(header(TIMESTAMP_HEADER)?)
            .map_err(|e| malformed(TIMESTAMP_HEADER)(&e))?;
        let signature = Signature::from_base64(header(SIGNATURE_HEADER)?)
            .map_err(|e| malformed(SIGNATURE_HEADER)(&e))?;
        Ok(Self {
            device,
            at,
            signature,
        })
    }

    /// Checks the time against `now` within `max_skew`, then the signature with `key`.
    pub fn verify(
        &self,
        key: &DevicePublicKey,
        sha256: &Sha256Digest,
        now: UtcTimestamp,
        max_skew: Duration,
    ) -> Result<(), UploadAuthError> {
        let skew_ms = (now.unix_ms() - self.at.unix_ms()).unsigned_abs();
        if u128::from(skew_ms) > max_skew.as_millis() {
            return Err(UploadAuthError::Skew {
                at: self.at.to_string(),
                skew_s: max_skew.as_secs(),
            });
        }
        key.verify(
            signing_string(sha256, &self.device, &self.at).as_bytes(),
            &self.signature,
        )
        .map_err(|_| UploadAuthError::BadSignature(self.device.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (DeviceKey, DeviceId, Sha256Digest, UtcTimestamp) {
        (
            DeviceKey::from_seed([5; 32]),
            DeviceId::parse("hcm-q1-001").unwrap(),
            Sha256Digest::of(b"jpeg bytes"),
            UtcTimestamp::from_unix_ms(1_764_146_096_250).unwrap(),
        )
    }

    #[test]
    fn signed_headers_verify_and_read_back() {
        let (key, device, sha, at) = setup();
        let auth = UploadAuth::sign(&key, device, &sha, at);
        let headers = auth.headers();
        let read = UploadAuth::from_headers(|name| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        })
        .unwrap();
        assert_eq!(read, auth);
        let skew = Duration::from_secs(300);
        assert_eq!(read.verify(&key.public_key(), &sha, at, skew), Ok(()));
    }

    #[test]
    fn another_blob_another_key_or_a_stale_time_fail() {
        let (key, device, sha, at) = setup();
        let auth = UploadAuth::sign(&key, device, &sha, at);
        let skew = Duration::from_secs(300);
        let other = Sha256Digest::of(b"other bytes");
        assert!(matches!(
            auth.verify(&key.public_key(), &other, at, skew),
            Err(UploadAuthError::BadSignature(_))
        ));
        let stranger = DeviceKey::from_seed([6; 32]).public_key();
        assert!(matches!(
            auth.verify(&stranger, &sha, at, skew),
            Err(UploadAuthError::BadSignature(_))
        ));
        let later = UtcTimestamp::from_unix_ms(at.unix_ms() + 301_000).unwrap();
        assert!(matches!(
            auth.verify(&key.public_key(), &sha, later, skew),
            Err(UploadAuthError::Skew { .. })
        ));
        assert_eq!(
            UploadAuth::from_headers(|_| None),
            Err(UploadAuthError::Missing(DEVICE_HEADER))
        );
    }
}
