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
//!
//! A request may ask for the frames **as the box judges them** ([`SnapshotView::Judged`]) and
//! for a short burst of them, one a second ([`SnapshotRequest::frames`]): once a set-up is
//! saved, the installer sees the vehicles the box tracks, the lines it judges by, the signal it
//! reads and the speeds it measures, before leaving the pole. Each frame of a burst is its own
//! [`Snapshot`], numbered by [`Snapshot::seq`], with what the box judged in it
//! ([`Snapshot::judged`]).
//!
//! A request may also ask for a short **clip** ([`SnapshotView::Clip`], up to [`MAX_CLIP_S`]
//! seconds): the camera's own H.264 from the keyframe at or before the moment the box took the
//! request, remuxed into an MP4 (nothing decoded or encoded again), named in one [`Snapshot`]
//! with its length ([`Snapshot::duration_ms`]) and uploaded like a picture: what an installer
//! watches to see the vehicles move through the set-up, and the signal change.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    event::{Sha256Digest, VehicleBox, VehicleClass},
    ids::{CameraId, DeviceId},
    messages::SignalState,
    time::UtcTimestamp,
    wire::{DeviceSigned, Invalid, Message, SignedMessage, Validate},
};

/// The longest a request may stay answerable: a picture to set a camera up by is wanted now.
pub const MAX_EXPIRY_S: i64 = 600;

/// The largest picture a box sends, each side in pixels (8K).
pub const MAX_SIDE_PX: u32 = 7680;

/// The largest snapshot file, in bytes.
pub const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The longest clip a request asks for, seconds.
pub const MAX_CLIP_S: u8 = 10;

/// The largest clip file, in bytes (10 s of a 4K camera at 25 Mbit/s).
pub const MAX_CLIP_BYTES: u64 = 48 * 1024 * 1024;

/// The most frames one request asks for (a burst, one a second).
pub const MAX_FRAMES: u8 = 30;

/// How far apart the frames of a burst are taken, in milliseconds.
pub const BURST_EVERY_MS: i64 = 1_000;

/// The most vehicles a judged frame lists.
pub const MAX_VEHICLES: usize = 64;

/// What the picture shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotView {
    /// The camera's frame as it came: to draw a set-up on.
    #[default]
    Frame,
    /// The frame as the box judged it: the set-up in force drawn on it, each vehicle it tracks
    /// boxed with its track, class and measured speed, and the signal it reads.
    Judged,
    /// A clip of the camera's own video, [`SnapshotRequest::clip_s`] long, as an MP4.
    Clip,
}

impl SnapshotView {
    /// Its name on the wire and in central's records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Frame => "frame",
            Self::Judged => "judged",
            Self::Clip => "clip",
        }
    }

    /// Checks what a request in this view may ask for: 1 to [`MAX_FRAMES`] frames, or one
    /// clip of 1 to [`MAX_CLIP_S`] seconds (`clip_s` 0 for pictures).
    pub fn check(self, frames: u8, clip_s: u8) -> Result<(), Invalid> {
        if !(1..=MAX_FRAMES).contains(&frames) {
            return Err(Invalid::new("frames", format!("must be 1–{MAX_FRAMES}")));
        }
        let clip = self == Self::Clip;
        if clip && !(1..=MAX_CLIP_S).contains(&clip_s) {
            return Err(Invalid::new(
                "clip_s",
                format!("must be 1–{MAX_CLIP_S} for a clip"),
            ));
        }
        if !clip && clip_s != 0 {
            return Err(Invalid::new("clip_s", "is for a clip only"));
        }
        if clip && frames != 1 {
            return Err(Invalid::new("frames", "must be 1 for a clip"));
        }
        Ok(())
    }

    fn is_frame(&self) -> bool {
        *self == Self::Frame
    }
}

fn is_one(n: &u8) -> bool {
    *n == 1
}

fn one() -> u8 {
    1
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

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
    /// The frame as it came (the default) or as the box judged it.
    #[serde(default, skip_serializing_if = "SnapshotView::is_frame")]
    pub view: SnapshotView,
    /// How many frames, [`BURST_EVERY_MS`] apart (1 to [`MAX_FRAMES`], 1 when left out); the
    /// box stops at `expires_at` whatever is left.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub frames: u8,
    /// For a clip, its length in seconds (1 to [`MAX_CLIP_S`]); 0 (left out) otherwise.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub clip_s: u8,
}

/// What the box judged in a frame it sends as [`SnapshotView::Judged`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Judged {
    /// The version of central's configuration the box judges by (0: its own file only).
    pub config_version: u64,
    /// The signal the box reads for this camera at the frame (`None`: it has no signal source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<SignalState>,
    /// Why the box does not trust the signal, when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_fault: Option<String>,
    /// The vehicles it tracks in the frame (at most [`MAX_VEHICLES`]).
    pub vehicles: Vec<JudgedVehicle>,
}

/// A vehicle in a judged frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JudgedVehicle {
    /// The camera's track number: the same vehicle keeps it from frame to frame.
    pub track: u64,
    pub class: VehicleClass,
    pub bbox: VehicleBox,
    /// Its speed over the ground as the box measures it, when the set-up lets it measure one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f32>,
    /// The lane its wheels are in, by the set-up's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
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
    /// Which frame of the request's burst this is, from 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u8,
    /// What the box judged in the frame: present exactly when the request asked for
    /// [`SnapshotView::Judged`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged: Option<Judged>,
    /// For a clip (an MP4), from its first frame to its last, milliseconds; 0 (left out) for
    /// a picture (a JPEG). `taken_at` is then its first frame's time.
    #[serde(default, skip_serializing_if = "is_zero_ms")]
    pub duration_ms: u32,
}

fn is_zero_ms(n: &u32) -> bool {
    *n == 0
}

impl Snapshot {
    /// The file's content type: a clip is an MP4, a picture a JPEG.
    pub fn content_type(&self) -> &'static str {
        if self.duration_ms > 0 {
            "video/mp4"
        } else {
            "image/jpeg"
        }
    }
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
        self.view.check(self.frames, self.clip_s)
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
        let most = if self.duration_ms > 0 {
            MAX_CLIP_BYTES
        } else {
            MAX_BYTES
        };
        if !(1..=most).contains(&self.bytes) {
            return Err(Invalid::new("bytes", format!("is outside 1–{most}")));
        }
        if self.duration_ms > 0 && (self.judged.is_some() || self.seq != 0) {
            return Err(Invalid::new(
                "duration_ms",
                "a clip is one file, not a judged frame",
            ));
        }
        if self.seq >= MAX_FRAMES {
            return Err(Invalid::new("seq", format!("must be under {MAX_FRAMES}")));
        }
        if let Some(j) = &self.judged {
            if j.vehicles.len() > MAX_VEHICLES {
                return Err(Invalid::new(
                    "judged.vehicles",
                    format!("lists more than {MAX_VEHICLES}"),
                ));
            }
            if j.signal_fault.as_ref().is_some_and(|f| f.len() > 200)
                || j.vehicles
                    .iter()
                    .any(|v| v.lane.as_ref().is_some_and(|l| l.len() > 64))
            {
                return Err(Invalid::new("judged", "a text is too long"));
            }
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
    const MAX_BYTES: usize = 32 * 1024;
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
            view: SnapshotView::Frame,
            frames: 1,
            clip_s: 0,
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
        let mut r = request();
        r.frames = 0;
        assert_eq!(refused(r), "frames");
        let mut r = request();
        r.frames = MAX_FRAMES + 1;
        assert_eq!(refused(r), "frames");
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
            seq: 0,
            judged: None,
            duration_ms: 0,
        };
        assert!(snapshot.validate().is_ok());
        let refused = |s: Snapshot| s.validate().unwrap_err().field;
        assert_eq!(
            refused(Snapshot {
                seq: MAX_FRAMES,
                ..snapshot.clone()
            }),
            "seq"
        );
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

    #[test]
    fn a_plain_request_reads_as_before_and_a_judged_burst_says_what_the_box_saw() {
        // A request for one frame as it came carries neither field: a box of the first
        // version reads it.
        let plain = serde_json::to_value(request()).unwrap();
        assert!(plain.get("view").is_none() && plain.get("frames").is_none());
        let old: SnapshotRequest = serde_json::from_value(plain).unwrap();
        assert_eq!((old.view, old.frames), (SnapshotView::Frame, 1));
        // Ten judged frames: signed and read back whole.
        let central = DeviceKey::from_seed([7; 32]);
        let burst = SnapshotRequest {
            view: SnapshotView::Judged,
            frames: 10,
            ..request()
        };
        let signed = wire::encode_signed(&burst, &central).unwrap();
        let back = wire::decode_signed::<SnapshotRequest>(&signed)
            .unwrap()
            .verify_by(&[central.public_key()])
            .unwrap();
        assert_eq!(back, burst);
        // The third frame, with what the box judged in it.
        let device = DeviceKey::from_seed([9; 32]);
        let vehicle = JudgedVehicle {
            track: 17,
            class: VehicleClass::Motorbike,
            bbox: VehicleBox {
                x: 400,
                y: 300,
                width: 60,
                height: 90,
            },
            speed_kmh: Some(38.5),
            lane: Some("xe máy".into()),
        };
        let frame = Snapshot {
            request_id: burst.request_id.clone(),
            device: burst.device.clone(),
            camera: burst.camera.clone(),
            taken_at: at(1_764_146_103_000),
            width: 1280,
            height: 720,
            sha256: Sha256Digest::of(b"jpeg"),
            bytes: 4,
            seq: 2,
            judged: Some(Judged {
                config_version: 4,
                signal: Some(SignalState::Red),
                signal_fault: None,
                vehicles: vec![vehicle.clone(); MAX_VEHICLES],
            }),
            duration_ms: 0,
        };
        let signed = wire::encode_signed(&frame, &device).unwrap();
        let back = wire::decode_signed::<Snapshot>(&signed)
            .unwrap()
            .verify_by(&[device.public_key()])
            .unwrap();
        assert_eq!(back, frame);
        let mut crowded = frame;
        crowded.judged.as_mut().unwrap().vehicles.push(vehicle);
        assert_eq!(crowded.validate().unwrap_err().field, "judged.vehicles");
    }

    #[test]
    fn a_clip_is_asked_for_by_its_length_and_comes_as_one_mp4() {
        let clip = SnapshotRequest {
            view: SnapshotView::Clip,
            clip_s: MAX_CLIP_S,
            ..request()
        };
        assert!(clip.validate().is_ok());
        let json = serde_json::to_value(&clip).unwrap();
        assert_eq!(
            (json["view"].as_str(), json["clip_s"].as_u64()),
            (Some("clip"), Some(10))
        );
        let refused = |r: SnapshotRequest| r.validate().unwrap_err().field;
        for bad in [0, MAX_CLIP_S + 1] {
            assert_eq!(
                refused(SnapshotRequest {
                    clip_s: bad,
                    ..clip.clone()
                }),
                "clip_s"
            );
        }
        assert_eq!(
            refused(SnapshotRequest {
                frames: 3,
                ..clip.clone()
            }),
            "frames"
        );
        assert_eq!(
            refused(SnapshotRequest {
                clip_s: 5,
                ..request()
            }),
            "clip_s"
        );

        let answer = Snapshot {
            request_id: clip.request_id.clone(),
            device: clip.device.clone(),
            camera: clip.camera.clone(),
            taken_at: at(1_764_146_101_000),
            width: 1920,
            height: 1080,
            sha256: Sha256Digest::of(b"mp4"),
            bytes: MAX_BYTES + 1,
            seq: 0,
            judged: None,
            duration_ms: 10_040,
        };
        assert!(
            answer.validate().is_ok(),
            "a clip may be larger than a picture"
        );
        assert_eq!(answer.content_type(), "video/mp4");
        let device = DeviceKey::from_seed([9; 32]);
        let signed = wire::encode_signed(&answer, &device).unwrap();
        let back = wire::decode_signed::<Snapshot>(&signed)
            .unwrap()
            .verify_by(&[device.public_key()])
            .unwrap();
        assert_eq!(back, answer);
        let refused = |s: Snapshot| s.validate().unwrap_err().field;
        assert_eq!(
            refused(Snapshot {
                bytes: MAX_CLIP_BYTES + 1,
                ..answer.clone()
            }),
            "bytes"
        );
        assert_eq!(
            refused(Snapshot {
                seq: 1,
                ..answer.clone()
            }),
            "duration_ms"
        );
        // A picture is a JPEG, and keeps the picture's limit.
        let picture = Snapshot {
            duration_ms: 0,
            ..answer
        };
        assert_eq!(picture.content_type(), "image/jpeg");
        assert_eq!(refused(picture), "bytes");
    }
}
