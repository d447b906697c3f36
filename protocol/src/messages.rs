//! The messages besides the violation event: acknowledgements, device health and the signal
//! phase feed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    ids::{CameraId, DeviceId, EventId},
    time::UtcTimestamp,
    wire::{Invalid, Validate},
};

/// Most event ids one acknowledgement carries.
pub const MAX_ACK_IDS: usize = 1000;

/// Central → edge on `tve/v1/{device}/ack`: these events are durably stored, so the edge may
/// delete them from its outbox. QoS 1 delivery to the broker alone never means that. Signed by
/// central's control key: the edge deletes nothing on an acknowledgement that key did not sign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    pub device: DeviceId,
    pub event_ids: Vec<EventId>,
    pub stored_at: UtcTimestamp,
}

impl Validate for Ack {
    fn validate(&self) -> Result<(), Invalid> {
        if self.event_ids.is_empty() {
            return Err(Invalid::new("event_ids", "is empty"));
        }
        if self.event_ids.len() > MAX_ACK_IDS {
            return Err(Invalid::new(
                "event_ids",
                format!("holds more than {MAX_ACK_IDS}"),
            ));
        }
        Ok(())
    }
}

/// Edge → all on `tve/v1/{device}/status`, retained, signed by the device; the broker publishes
/// [`DeviceStatus::offline`] as the device's last will (signed when the device connects).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceStatus {
    pub device: DeviceId,
    pub state: DeviceState,
    /// When this status was made; in the last will, when the device connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<UtcTimestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cameras: Vec<CameraStatus>,
    /// Events waiting in the outbox for central's acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_depth: Option<u64>,
}

impl DeviceStatus {
    /// The last-will message, made when the device connects at `at`: the broker publishes it
    /// when the device drops off.
    pub fn offline(device: DeviceId, at: UtcTimestamp) -> Self {
        Self {
            device,
            state: DeviceState::Offline,
            at: Some(at),
            software_version: None,
            cameras: Vec::new(),
            outbox_depth: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    Online,
    /// Running, but a camera is down or the outbox is filling.
    Degraded,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraStatus {
    pub camera: CameraId,
    pub state: CameraState,
    /// Frames per second reaching detection.
    pub detect_fps: f64,
    /// Why the camera's signal phase cannot be trusted (no change for longer than any cycle,
    /// nothing read): its red-light rule is judging nothing, or judging wrongly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_fault: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    Streaming,
    Reconnecting,
    Down,
}

impl Validate for DeviceStatus {
    fn validate(&self) -> Result<(), Invalid> {
        Invalid::check_safe_integer("outbox_depth", self.outbox_depth)?;
        if self.cameras.len() > 64 {
            return Err(Invalid::new("cameras", "holds more than 64"));
        }
        for (i, c) in self.cameras.iter().enumerate() {
            if !(0.0..=1000.0).contains(&c.detect_fps) {
                return Err(Invalid::new(
                    format!("cameras[{i}].detect_fps"),
                    "is outside 0–1000",
                ));
            }
            if c.signal_fault.as_ref().is_some_and(|f| f.len() > 256) {
                return Err(Invalid::new(
                    format!("cameras[{i}].signal_fault"),
                    "is longer than 256 bytes",
                ));
            }
        }
        if let Some(v) = &self.software_version
            && (v.is_empty() || v.len() > 64)
        {
            return Err(Invalid::new("software_version", "must be 1–64 bytes"));
        }
        Ok(())
    }
}

/// A signal controller → edge on `tve/v1/{device}/signal/{camera}`: the phase of the signal
/// head the camera watches changed. Signed by the controller's key, which the camera's
/// configuration names; the edge takes a phase only newer than the last it took for the camera
/// and made moments ago, so a recorded phase played again changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalPhase {
    pub device: DeviceId,
    pub camera: CameraId,
    pub phase: SignalState,
    pub changed_at: UtcTimestamp,
    pub source: SignalSource,
}

impl Validate for SignalPhase {
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }
}

/// What a signal head shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignalState {
    Red,
    Amber,
    Green,
    /// Flashing amber: the junction is uncontrolled.
    FlashingAmber,
    Off,
    Unknown,
}

/// Where the edge agent learned the signal state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignalSource {
    /// The signal controller's own feed.
    Controller,
    /// A fixed-time plan configured on the device.
    Plan,
    /// A colour classifier on the signal head's image.
    Classifier,
}
