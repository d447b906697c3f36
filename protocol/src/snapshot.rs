//! A picture from a camera, asked for by central and sent by the box, through the broker only:
//! an installer sets a camera up by drawing on its picture, and central cannot reach the box
//! (it sits behind the operator's network; it connects out, to the broker and to central).
//!
//! 1. Central publishes a [`SnapshotRequest`] on `tve/v1/{device}/snapshot_request`, signed by
//!    its control key (the key the box pins), with a short expiry: a request that waited in the
//!    broker while the box was away is not answered hours later.
//! 2. The box takes the camera's current frame as a JPEG, publishes a [`Snapshot`] naming its
//!    hash on `tve/v1/{device}/snapshot`, signed by the device key, then uploads the file
//!    through the evidence upload (`PUT /api/v1/evidence/{sha256}`, signed, hash-checked).
//! 3. Central takes the snapshot only for a request it made of that device and camera, not yet
//!    answered and not expired, and shows it once the file whose hash the device signed has
//!    arrived.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    event::Sha256Digest,
    ids::{CameraId, DeviceId},
    time::UtcTimestamp,
    wire::{DeviceSigned, Invalid, Message, SignedMessage, Validate},
};

/// The longest a request may stay answerable: a picture to set a camera up by is wanted now.
pub const MAX_EXPIRY_S: i64 = 600;

/// The largest picture a box sends, each side in pixels (8K).
pub const MAX_SIDE_PX: u32 = 7680;

/// The largest snapshot file, in bytes.
pub const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Central → edge on `tve/v1/{device}/snapshot_request`: send the current frame of `camera`.
/// Signed by central's control key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRequest {
    /// Central's id of the request: 16–64 characters of `A–Z a–z 0–9 - _`.
    pub request_id: String,
    pub device: DeviceId,
    pub camera: CameraId,
    pub requested_at: UtcTimestamp,
    /// After this the box does not answer (at most [`MAX_EXPIRY_S`] after `requested_at`).
    pub expires_at: UtcTimestamp,
}

/// Edge → central on `tve/v1/{device}/snapshot`: the frame taken for a request, as a JPEG
/// uploaded through the evidence upload. Signed by the device key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub request_id: String,
    pub device: DeviceId,
    pub camera: CameraId,
    /// When the camera took the frame (the box's clock, kept by NTP).
    pub taken_at: UtcTimestamp,
    pub width: u32,
    pub height: u32,
    /// The JPEG's hash: the file uploaded must hash to it.
    pub sha256: Sha256Digest,
    pub bytes: u64,
}

fn check_request_id(id: &str) -> Result<(), Invalid> {
    let ok = (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "request_id",
            "must be 16–64 characters of A–Z a–z 0–9 - _",
        ))
    }
}

impl Validate for SnapshotRequest {
    fn validate(&self) -> Result<(), Invalid> {
        check_request_id(&self.request_id)?;
        let lasts = self.expires_at.unix_ms() - self.requested_at.unix_ms();
        if !(1..=MAX_EXPIRY_S * 1000).contains(&lasts) {
            return Err(Invalid::new(
                "expires_at",
                format!("must be after requested_at, by at most {MAX_EXPIRY_S} s"),
            ));
        }
        Ok(())
    }
}

impl Validate for Snapshot {
    fn validate(&self) -> Result<(), Invalid> {
        check_request_id(&self.request_id)?;
        for (field, side) in [("width", self.width), ("height", self.height)] {
            if !(1..=MAX_SIDE_PX).contains(&side) {
                return Err(Invalid::new(field, format!("is outside 1–{MAX_SIDE_PX}")));
            }
        }
        if !(1..=MAX_BYTES).contains(&self.bytes) {
            return Err(Invalid::new("bytes", format!("is outside 1–{MAX_BYTES}")));
        }
        Ok(())
    }
}

impl Message for SnapshotRequest {
    const SCHEMA: &'static str = "tve.snapshot_request";
    const VERSION: u32 = 1;
    const MAX_BYTES: usize = 4 * 1024;
}

impl SignedMessage for SnapshotRequest {
    const SIGNER: &'static str = "central";
}

impl Message for Snapshot {
    const SCHEMA: &'static str = "tve.snapshot";
    const VERSION: u32 = 1;
    const MAX_BYTES: usize = 4 * 1024;
}

impl SignedMessage for Snapshot {
    const SIGNER: &'static str = "device";
}

impl DeviceSigned for Snapshot {
    fn signer(&self) -> &DeviceId {
        &self.device
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{DeviceKey, wire};

    fn at(ms: i64) -> UtcTimestamp {
        UtcTimestamp::from_unix_ms(ms).unwrap()
    }

    fn request() -> SnapshotRequest {
        SnapshotRequest {
            request_id: "Zq3xV0s5bW2yK8pLmN4tRg".into(),
            device: DeviceId::parse("hcm-q1-001").unwrap(),
            camera: CameraId::parse("north").unwrap(),
            requested_at: at(1_764_146_100_000),
            expires_at: at(1_764_146_220_000),
        }
    }

    #[test]
    fn a_request_expires_soon_and_names_itself_plainly() {
        let central = DeviceKey::from_seed([7; 32]);
        let signed = wire::encode_signed(&request(), &central).unwrap();
        let back = wire::decode_signed::<SnapshotRequest>(&signed)
            .unwrap()
            .verify_by(&[central.public_key()])
            .unwrap();
        assert_eq!(back, request());
        let refused = |r: SnapshotRequest| r.validate().unwrap_err().field;
        let mut r = request();
        r.expires_at = at(1_764_146_100_000 + 601_000);
        assert_eq!(refused(r), "expires_at");
        let mut r = request();
        r.expires_at = r.requested_at;
        assert_eq!(refused(r), "expires_at");
        for bad in [
            "short",
            "../../../etc/passwd-and-more-chars",
            &"a".repeat(65),
        ] {
            let mut r = request();
            r.request_id = bad.into();
            assert_eq!(refused(r), "request_id", "{bad}");
        }
    }

    #[test]
    fn a_snapshot_is_a_real_picture_size() {
        let snapshot = Snapshot {
            request_id: request().request_id,
            device: request().device,
            camera: request().camera,
            taken_at: at(1_764_146_101_000),
            width: 1920,
            height: 1080,
            sha256: Sha256Digest::of(b"jpeg"),
            bytes: 4,
        };
        assert!(snapshot.validate().is_ok());
        let refused = |s: Snapshot| s.validate().unwrap_err().field;
        assert_eq!(
            refused(Snapshot {
                width: 0,
                ..snapshot.clone()
            }),
            "width"
        );
        assert_eq!(
            refused(Snapshot {
                height: MAX_SIDE_PX + 1,
                ..snapshot.clone()
            }),
            "height"
        );
        assert_eq!(
            refused(Snapshot {
                bytes: MAX_BYTES + 1,
                ..snapshot
            }),
            "bytes"
        );
    }
}
