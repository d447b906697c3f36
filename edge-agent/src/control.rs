//! What the box takes from the control plane, and on whose word. An acknowledgement (which
//! deletes stored events from the outbox), a camera configuration (geometry, limits, red
//! grace) and a request for a camera's picture count only when central's control key signed them — a key pinned in the box's own
//! configuration (`central.control_keys`), never learnt from the network; a signal phase only
//! when the key of the controller the camera's configuration names signed it, and only when it
//! is newer than the last one taken for the camera and made moments ago, so a recorded "red"
//! played again never makes the box accuse anyone. Whoever can publish on the box's topics can
//! then delay it, but not make it drop what central never stored, change how it judges, or sign
//! a violation that did not happen.

use std::{collections::HashMap, sync::Mutex};

use protocol::{
    Ack, CameraId, DeviceConfig, DeviceId, DevicePublicKey, SignalPhase, UtcTimestamp,
    snapshot::SnapshotRequest,
    wire::{self, WireError},
};

/// How far a signal phase's `changed_at` may be from the box's clock, either way: the feed's
/// delay and the two clocks' difference (both kept by NTP). An older phase is a replay or a
/// backlog the broker kept while the box was away; neither is the signal now.
pub const SIGNAL_MAX_SKEW_MS: i64 = 10_000;

/// Why a control message was not taken.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("addressed to device `{0}`")]
    OtherDevice(DeviceId),
    #[error(
        "no central control key is pinned (central.control_keys): nothing central sends can be trusted"
    )]
    NoCentralKey,
    #[error("for camera `{found}` on the topic of camera `{topic}`")]
    OtherCamera { topic: CameraId, found: CameraId },
    #[error("camera `{0}` takes no phases from a controller")]
    NoController(CameraId),
    #[error("changed {age_ms} ms before now: older than {SIGNAL_MAX_SKEW_MS} ms, or as far ahead")]
    Stale { age_ms: i64 },
    #[error("not newer than the phase last taken for camera `{0}`")]
    Replayed(CameraId),
    #[error("expired at {0}")]
    Expired(UtcTimestamp),
}

impl Refused {
    /// A short stable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Wire(e) => e.code(),
            Self::OtherDevice(_) => "other_device",
            Self::NoCentralKey => "no_central_key",
            Self::OtherCamera { .. } => "other_camera",
            Self::NoController(_) => "no_controller",
            Self::Stale { .. } => "stale",
            Self::Replayed(_) => "replayed",
            Self::Expired(_) => "expired",
        }
    }
}

/// The keys the box trusts, and the last phase taken for each camera.
#[derive(Debug)]
pub struct ControlPlane {
    device: DeviceId,
    central: Vec<DevicePublicKey>,
    controllers: HashMap<CameraId, DevicePublicKey>,
    last_phase_ms: Mutex<HashMap<CameraId, i64>>,
}

impl ControlPlane {
    /// For `device`, trusting central's `central` keys (one, or two while one is rotated out)
    /// and each camera's signal controller's key.
    pub fn new(
        device: DeviceId,
        central: Vec<DevicePublicKey>,
        controllers: HashMap<CameraId, DevicePublicKey>,
    ) -> Self {
        Self {
            device,
            central,
            controllers,
            last_phase_ms: Mutex::new(HashMap::new()),
        }
    }

    /// An acknowledgement central signed for this box.
    pub fn ack(&self, payload: &[u8]) -> Result<Ack, Refused> {
        let ack = self.signed_by_central::<Ack>(payload)?;
        self.for_me(&ack.device)?;
        Ok(ack)
    }

    /// A camera configuration central signed for this box.
    pub fn config(&self, payload: &[u8]) -> Result<DeviceConfig, Refused> {
        let config = self.signed_by_central::<DeviceConfig>(payload)?;
        self.for_me(&config.device)?;
        Ok(config)
    }

    /// A request for a camera's picture central signed for this box, not expired at `now` (one
    /// that waited in the broker while the box was away is not answered late).
    pub fn snapshot_request(
        &self,
        payload: &[u8],
        now: UtcTimestamp,
    ) -> Result<SnapshotRequest, Refused> {
        let request = self.signed_by_central::<SnapshotRequest>(payload)?;
        self.for_me(&request.device)?;
        if now.unix_ms() > request.expires_at.unix_ms() {
            return Err(Refused::Expired(request.expires_at));
        }
        Ok(request)
    }

    /// A phase for `camera` (the topic's), signed by its controller, fresh at `now` and newer
    /// than the last one taken for the camera.
    pub fn signal(
        &self,
        camera: &CameraId,
        payload: &[u8],
        now: UtcTimestamp,
    ) -> Result<SignalPhase, Refused> {
        let signed = wire::decode_signed::<SignalPhase>(payload)?;
        let key = self
            .controllers
            .get(camera)
            .ok_or_else(|| Refused::NoController(camera.clone()))?;
        let phase = signed.verify_by(std::slice::from_ref(key))?;
        self.for_me(&phase.device)?;
        if &phase.camera != camera {
            return Err(Refused::OtherCamera {
                topic: camera.clone(),
                found: phase.camera,
            });
        }
        let changed = phase.changed_at.unix_ms();
        let age_ms = now.unix_ms() - changed;
        if age_ms.abs() > SIGNAL_MAX_SKEW_MS {
            return Err(Refused::Stale { age_ms });
        }
        let mut last = self.last_phase_ms.lock().unwrap_or_else(|e| e.into_inner());
        if last.get(camera).is_some_and(|&l| changed <= l) {
            return Err(Refused::Replayed(camera.clone()));
        }
        last.insert(camera.clone(), changed);
        Ok(phase)
    }

    fn signed_by_central<M: wire::SignedMessage>(&self, payload: &[u8]) -> Result<M, Refused> {
        let signed = wire::decode_signed::<M>(payload)?;
        if self.central.is_empty() {
            return Err(Refused::NoCentralKey);
        }
        Ok(signed.verify_by(&self.central)?)
    }

    fn for_me(&self, device: &DeviceId) -> Result<(), Refused> {
        if device == &self.device {
            Ok(())
        } else {
            Err(Refused::OtherDevice(device.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use protocol::{
        DeviceKey, EventId,
        messages::{SignalSource, SignalState},
    };

    use super::*;

    fn device() -> DeviceId {
        DeviceId::parse("hcm-q1-001").unwrap()
    }

    fn camera(id: &str) -> CameraId {
        CameraId::parse(id).unwrap()
    }

    fn central() -> DeviceKey {
        DeviceKey::from_seed([7; 32])
    }

    fn controller() -> DeviceKey {
        DeviceKey::from_seed([8; 32])
    }

    fn forger() -> DeviceKey {
        DeviceKey::from_seed([66; 32])
    }

    fn plane() -> ControlPlane {
        ControlPlane::new(
            device(),
            vec![central().public_key()],
            HashMap::from([(camera("north"), controller().public_key())]),
        )
    }

    fn ack(to: DeviceId) -> Ack {
        Ack {
            device: to,
            event_ids: vec![EventId::from_parts(1_764_146_096_250, [3; 10])],
            stored_at: UtcTimestamp::now(),
        }
    }

    fn phase(camera_id: &str, changed_at: UtcTimestamp) -> SignalPhase {
        SignalPhase {
            device: device(),
            camera: camera(camera_id),
            phase: SignalState::Red,
            changed_at,
            source: SignalSource::Controller,
        }
    }

    fn at(ms: i64) -> UtcTimestamp {
        UtcTimestamp::from_unix_ms(ms).unwrap()
    }

    #[test]
    fn only_central_acknowledges_and_only_for_this_box() {
        let p = plane();
        let genuine = wire::encode_signed(&ack(device()), &central()).unwrap();
        assert_eq!(p.ack(&genuine).unwrap().device, device());
        // A forged acknowledgement would delete events central never stored.
        let forged = wire::encode_signed(&ack(device()), &forger()).unwrap();
        assert_eq!(p.ack(&forged).unwrap_err().code(), "bad_signature");
        // Unsigned, as the control plane's first version spoke.
        let unsigned = wire::encode(&ack(device())).unwrap();
        assert_eq!(p.ack(&unsigned).unwrap_err().code(), "missing_field");
        // Central's own signature, for another box.
        let other = DeviceId::parse("hcm-q1-002").unwrap();
        let theirs = wire::encode_signed(&ack(other), &central()).unwrap();
        assert_eq!(p.ack(&theirs).unwrap_err().code(), "other_device");
        // A box with no key pinned trusts nothing.
        let blind = ControlPlane::new(device(), Vec::new(), HashMap::new());
        assert_eq!(blind.ack(&genuine).unwrap_err().code(), "no_central_key");
    }

    #[test]
    fn a_configuration_counts_only_under_centrals_key() {
        let config = DeviceConfig {
            device: device(),
            version: (1 << 53) - 1,
            issued_at: UtcTimestamp::now(),
            cameras: Vec::new(),
        };
        let p = plane();
        // The highest version there is, which would lock the box out of every later one.
        let forged = wire::encode_signed(&config, &forger()).unwrap();
        assert_eq!(p.config(&forged).unwrap_err().code(), "bad_signature");
        let genuine = wire::encode_signed(&config, &central()).unwrap();
        assert_eq!(p.config(&genuine).unwrap().version, config.version);
        // During a rotation both keys are pinned; the new one alone signs.
        let next = DeviceKey::from_seed([9; 32]);
        let rotating = ControlPlane::new(
            device(),
            vec![central().public_key(), next.public_key()],
            HashMap::new(),
        );
        let by_next = wire::encode_signed(&config, &next).unwrap();
        assert!(rotating.config(&by_next).is_ok());
        assert!(p.config(&by_next).is_err());
    }

    #[test]
    fn a_picture_is_sent_only_on_centrals_fresh_request() {
        let now = 1_764_146_100_000;
        let request = SnapshotRequest {
            request_id: "Zq3xV0s5bW2yK8pLmN4tRg".into(),
            device: device(),
            camera: camera("north"),
            requested_at: at(now),
            expires_at: at(now + 120_000),
            view: protocol::snapshot::SnapshotView::Frame,
            frames: 1,
            clip_s: 0,
        };
        let p = plane();
        let genuine = wire::encode_signed(&request, &central()).unwrap();
        assert_eq!(
            p.snapshot_request(&genuine, at(now + 1_000)).unwrap(),
            request
        );
        // Anyone else on the broker asking the box to film the street: refused.
        let forged = wire::encode_signed(&request, &forger()).unwrap();
        let code = |bytes: &[u8], t: i64| p.snapshot_request(bytes, at(t)).unwrap_err().code();
        assert_eq!(code(&forged, now + 1_000), "bad_signature");
        // Kept by the broker while the box was away, delivered an hour later.
        assert_eq!(code(&genuine, now + 3_600_000), "expired");
        // Central's request of another box.
        let theirs = SnapshotRequest {
            device: DeviceId::parse("hcm-q1-002").unwrap(),
            ..request
        };
        let theirs = wire::encode_signed(&theirs, &central()).unwrap();
        assert_eq!(code(&theirs, now + 1_000), "other_device");
    }

    #[test]
    fn a_phase_counts_once_fresh_from_the_cameras_own_controller() {
        let p = plane();
        let now = 1_764_146_100_000;
        let sign = |ph: &SignalPhase, k: &DeviceKey| wire::encode_signed(ph, k).unwrap();
        let red = sign(&phase("north", at(now - 300)), &controller());
        assert_eq!(
            p.signal(&camera("north"), &red, at(now)).unwrap().phase,
            SignalState::Red
        );
        // The same phase again (a replay), or one older than it: refused.
        let code = |cam: &str, bytes: &[u8], t: i64| {
            p.signal(&camera(cam), bytes, at(t)).unwrap_err().code()
        };
        assert_eq!(code("north", &red, now + 1_000), "replayed");
        let before = sign(&phase("north", at(now - 2_000)), &controller());
        assert_eq!(code("north", &before, now), "replayed");
        // A red recorded a minute ago and played now: not the signal now.
        let old = sign(&phase("north", at(now - 60_000)), &controller());
        assert_eq!(code("north", &old, now), "stale");
        // Signed by anyone else, or for a camera whose phases come from elsewhere.
        let forged = sign(&phase("north", at(now + 100)), &forger());
        assert_eq!(code("north", &forged, now + 200), "bad_signature");
        let south = sign(&phase("south", at(now + 100)), &controller());
        assert_eq!(code("south", &south, now + 200), "no_controller");
        // A phase for one camera on another camera's topic.
        assert_eq!(
            code(
                "north",
                &sign(&phase("south", at(now + 100)), &controller()),
                now + 200
            ),
            "other_camera"
        );
        // The next genuine change counts.
        let green = sign(&phase("north", at(now + 30_000)), &controller());
        assert!(p.signal(&camera("north"), &green, at(now + 30_100)).is_ok());
    }
}
