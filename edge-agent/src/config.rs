//! The typed configuration of `edge-agent`: one TOML file per box (device identity, broker,
//! central, models, outbox, cameras with their source, rate and calibrated geometry), defaults
//! that run on a laptop, and `EDGE__…` environment overrides.

use std::path::PathBuf;

use protocol::{DeviceId, Site, VehicleClass, camera::CameraGeometry, ids::CameraId};
use serde::{Deserialize, Serialize};
use service_kit::{ConfigError, Settings, http::HttpSettings};

/// Default HTTP port on loopback.
pub const DEFAULT_PORT: u16 = 9100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `/healthz`, `/metrics`, `/status`, `/cameras/{id}/snapshot.jpg`.
    pub http: HttpSettings,
    pub device: DeviceSettings,
    pub mqtt: MqttSettings,
    pub central: CentralSettings,
    pub models: ModelSettings,
    pub outbox: OutboxSettings,
    pub evidence: EvidenceSettings,
    pub cameras: Vec<CameraConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpSettings::loopback(DEFAULT_PORT),
            device: DeviceSettings::default(),
            mqtt: MqttSettings::default(),
            central: CentralSettings::default(),
            models: ModelSettings::default(),
            outbox: OutboxSettings::default(),
            evidence: EvidenceSettings::default(),
            cameras: Vec::new(),
        }
    }
}

/// Who this box is and where it keeps its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceSettings {
    pub id: String,
    /// The Ed25519 key (base64 seed), generated on first start with 0600 permissions.
    pub key_path: PathBuf,
    /// The outbox database and evidence files.
    pub data_dir: PathBuf,
    /// The time source disciplining this box's clock (`ntp`, `ptp`, `gnss`); events say the
    /// clock is synchronised only when it is named.
    pub clock_source: Option<String>,
    /// The bearer token `/status` and the cameras' snapshots ask for (at least 16 characters);
    /// required when `http.bind` is not loopback — a camera's picture of the street and the
    /// box's state are not for anyone on the network. Unset on loopback: open to this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_token: Option<service_kit::secret::Secret>,
}

impl Default for DeviceSettings {
    fn default() -> Self {
        Self {
            id: "edge-local-001".into(),
            key_path: "data/edge/device.key".into(),
            data_dir: "data/edge".into(),
            clock_source: None,
            status_token: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttSettings {
    /// `mqtt://HOST[:PORT]`, or over TLS `mqtts://HOST[:PORT]`; the default is central's
    /// embedded broker.
    pub url: String,
    pub username: Option<String>,
    pub password: Option<service_kit::secret::Secret>,
    /// The CA certificate (PEM) the broker's TLS certificate is checked against; absent, the
    /// system's trusted roots.
    pub ca_file: Option<std::path::PathBuf>,
    pub keep_alive_s: u64,
    /// How often the retained status is refreshed.
    pub status_every_s: u64,
    /// An event published but not acknowledged by central is published again after this long.
    pub republish_after_s: u64,
}

impl Default for MqttSettings {
    fn default() -> Self {
        Self {
            url: "mqtt://127.0.0.1:1884".into(),
            username: None,
            password: None,
            ca_file: None,
            keep_alive_s: 15,
            status_every_s: 10,
            republish_after_s: 30,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CentralSettings {
    /// Where evidence is uploaded: `{url}/api/v1/evidence/{sha256}`; `https://` in the field.
    pub url: String,
    pub timeout_ms: u64,
    /// CA certificates (PEM) to trust for an `https://` URL besides the system's roots, for a
    /// central whose certificate a CA of the deployment's own signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Central's control keys (Ed25519, base64; `central-api control-key` prints it): the box
    /// takes an acknowledgement or a camera configuration only when one of them signed it. One
    /// key, or two while central's is rotated. Empty, the box takes none: its events wait in
    /// the outbox, never deleted.
    pub control_keys: Vec<String>,
}

impl Default for CentralSettings {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8080".into(),
            timeout_ms: 30_000,
            ca_file: None,
            control_keys: Vec::new(),
        }
    }
}

impl CentralSettings {
    /// The pinned control keys, parsed.
    pub fn control_keys(&self) -> Result<Vec<protocol::DevicePublicKey>, ConfigError> {
        self.control_keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                protocol::DevicePublicKey::from_base64(k).map_err(|e| {
                    ConfigError::invalid(format!("central.control_keys[{i}]"), e.to_string())
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSettings {
    /// models/manifest.toml; each model's sha256 is checked at load.
    pub manifest: PathBuf,
    /// The vehicle detector's name, in `detector_manifest` when set, else in `manifest`.
    pub vehicle_detector: String,
    /// A manifest of the same form describing a detector the project does not ship (a COCO
    /// export such as DEIMv2 or YOLOX), with its sha256, format, input and labels.
    pub detector_manifest: Option<PathBuf>,
    /// Detector output class → vehicle class (`{ 2 = "car", 3 = "motorbike" }` for COCO);
    /// empty: the manifest's labels by name.
    pub class_map: std::collections::BTreeMap<String, VehicleClass>,
    /// The helmet classifier's name in the manifest; empty turns the no-helmet rule off.
    pub helmet_classifier: String,
    /// The people detector the masked copies use beside the vehicle detector (never to judge):
    /// its name in the manifest; empty leaves people to the vehicle detector alone.
    pub people_detector: String,
    /// Threads of each ONNX Runtime session.
    pub intra_threads: usize,
    /// Detections at or above this score start and keep tracks (lower ones only keep them);
    /// unset: the detector's own `min_score` in its manifest, else 0.5.
    pub min_score: Option<f32>,
    /// A plate read less sure than this is reported unread (the officer reads it from the
    /// close-up), so an uncertain read never names a citizen.
    pub min_plate_confidence: f64,
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            manifest: "models/manifest.toml".into(),
            vehicle_detector: "vehicle_det".into(),
            detector_manifest: None,
            class_map: Default::default(),
            helmet_classifier: "helmet".into(),
            people_detector: "people_det".into(),
            intra_threads: 1,
            min_score: None,
            min_plate_confidence: f64::from(plate_ocr::recognize::MIN_CONFIDENCE),
        }
    }
}

/// What the outbox does when it holds `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// New violations are refused (counted, logged): what is already kept is never lost.
    RefuseNew,
    /// New violations are kept without their clip, then refused.
    DropClips,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxSettings {
    /// The most the outbox holds (events and files).
    pub max_bytes: u64,
    pub when_full: WhenFull,
    /// Left free on the outbox's disk for the rest of the box (logs, the system): the disk's
    /// free space beyond this counts as a cap of its own, under the same policy.
    pub min_free_bytes: u64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            max_bytes: 2 * 1024 * 1024 * 1024,
            when_full: WhenFull::DropClips,
            min_free_bytes: 256 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceSettings {
    /// The clip runs from the keyframe before `clip_before_s` to `clip_after_s` after.
    pub clip_before_s: f64,
    pub clip_after_s: f64,
    /// The "before" and "after" images, seconds from the moment of the violation.
    pub image_offset_s: f64,
    pub jpeg_quality: u8,
}

impl Default for EvidenceSettings {
    fn default() -> Self {
        Self {
            clip_before_s: 6.0,
            clip_after_s: 6.0,
            image_offset_s: 1.0,
            jpeg_quality: 90,
        }
    }
}

/// The RTSP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Tcp,
    Udp,
    /// UDP, falling back to TCP.
    Auto,
}

/// Where the signal phase comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", tag = "source")]
pub enum SignalConfig {
    /// No signal: the red-light rule is off.
    None,
    /// The colour of the lamps of `geometry.signal_head` in each frame.
    Lamps,
    /// The controller's phases on `tve/v1/{device}/signal/{camera}`, each signed by the
    /// controller's key `controller_key` (Ed25519, base64).
    Mqtt { controller_key: String },
    /// A fixed-time plan anchored to UTC: the cycle starts at whole multiples of its length
    /// plus `offset_s` since the Unix epoch.
    Fixed {
        green_s: f64,
        amber_s: f64,
        red_s: f64,
        offset_s: f64,
    },
}

/// What a camera is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraRole {
    /// Its rules judge the traffic it sees.
    #[default]
    Violations,
    /// A plate camera, zoomed on the lanes: it judges nothing and reads the plates of the
    /// vehicles the camera naming it in `plate_camera` reports.
    Plates,
}

/// One camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    pub id: CameraId,
    /// `rtsp://…`, `file://…` or any URI GStreamer reads; H.264.
    pub source: String,
    #[serde(default)]
    pub role: CameraRole,
    /// The plate camera (a camera of this box with `role = "plates"`) whose view of a violating
    /// vehicle the plate is read from; both cameras need the ground homography
    /// (`geometry.speed`) calibrated on the same road points, by which vehicles are matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_camera: Option<CameraId>,
    #[serde(default = "default_transport")]
    pub transport: Transport,
    /// The decoder element (`avdec_h264`, `vah264dec`, `nvh264dec`, …); `auto` lets GStreamer
    /// pick the best it has, hardware first.
    #[serde(default = "default_decoder")]
    pub decoder: String,
    #[serde(default = "default_detect_fps")]
    pub detect_fps: f64,
    /// Seconds without a frame before the stream counts as stalled and is reconnected.
    #[serde(default = "default_stall_s")]
    pub stall_timeout_s: f64,
    pub site: Site,
    #[serde(default)]
    pub geometry: CameraGeometry,
    #[serde(default = "default_signal")]
    pub signal: SignalConfig,
    /// Speed limit (km/h) and per-class limits.
    #[serde(default = "default_limit")]
    pub speed_limit_kmh: f64,
    #[serde(default)]
    pub speed_limits_kmh: std::collections::BTreeMap<VehicleClass, f64>,
    /// All-red grace: crossing this soon after red began is not flagged.
    #[serde(default = "default_grace")]
    pub red_grace_s: f64,
    /// The longest a phase of this junction's signal lasts: a signal showing no change for
    /// longer is reported as a fault.
    #[serde(default = "default_max_cycle")]
    pub signal_max_cycle_s: f64,
}

fn default_transport() -> Transport {
    Transport::Tcp
}
fn default_decoder() -> String {
    "auto".into()
}
fn default_detect_fps() -> f64 {
    8.0
}
fn default_stall_s() -> f64 {
    5.0
}
fn default_signal() -> SignalConfig {
    SignalConfig::None
}
fn default_limit() -> f64 {
    50.0
}
fn default_grace() -> f64 {
    0.5
}
/// Longer than any phase of a Vietnamese urban junction's plan (cycles of 60–180 s).
pub fn default_max_cycle() -> f64 {
    300.0
}

impl CameraConfig {
    /// This camera with the settings central keeps for it: site, geometry, limits, grace, and
    /// a fixed-time signal plan when central gives one. Its stream, decoder and rates stay as
    /// configured here.
    pub fn with_settings(&self, s: &protocol::CameraSettings) -> Self {
        Self {
            site: s.site.clone(),
            geometry: s.geometry.clone(),
            speed_limit_kmh: s.speed_limit_kmh,
            speed_limits_kmh: s.speed_limits_kmh.clone(),
            red_grace_s: s.red_grace_s,
            // Central's fixed-time plan replaces the file's signal source; without one the
            // file's stands.
            signal: s.signal_plan.map_or_else(
                || self.signal.clone(),
                |p| SignalConfig::Fixed {
                    green_s: p.green_s,
                    amber_s: p.amber_s,
                    red_s: p.red_s,
                    offset_s: p.offset_s,
                },
            ),
            ..self.clone()
        }
    }
}

impl Config {
    /// Applies central's configuration to the cameras it names (others are left as they are);
    /// returns the ids of the cameras changed.
    pub fn apply(&mut self, device_config: &protocol::DeviceConfig) -> Vec<String> {
        let mut changed = Vec::new();
        for camera in &mut self.cameras {
            if let Some(s) = device_config.camera(&camera.id) {
                *camera = camera.with_settings(s);
                changed.push(camera.id.to_string());
            }
        }
        changed
    }
}

impl Config {
    /// A plate camera and the camera taking its plates: roles that fit, ground calibrations.
    fn validate_pairing(
        &self,
        c: &CameraConfig,
        field: &dyn Fn(&str) -> String,
    ) -> Result<(), ConfigError> {
        let ground = |c: &CameraConfig| {
            matches!(
                c.geometry.speed,
                Some(protocol::camera::SpeedTrapSpec::Homography(_))
            )
        };
        if c.role == CameraRole::Plates {
            if c.plate_camera.is_some() {
                return Err(ConfigError::invalid(
                    field("plate_camera"),
                    "a plate camera takes no plates from another",
                ));
            }
            if !ground(c) {
                return Err(ConfigError::invalid(
                    field("geometry.speed"),
                    "a plate camera needs the ground homography, to match its vehicles with \
                     the overview camera's",
                ));
            }
        }
        if let Some(id) = &c.plate_camera {
            if !self
                .cameras
                .iter()
                .any(|p| &p.id == id && p.role == CameraRole::Plates)
            {
                return Err(ConfigError::invalid(
                    field("plate_camera"),
                    format!("names no camera of this box with role = \"plates\": `{id}`"),
                ));
            }
            if !ground(c) {
                return Err(ConfigError::invalid(
                    field("geometry.speed"),
                    "a camera taking plates from a plate camera needs the ground homography",
                ));
            }
        }
        Ok(())
    }
}

impl Settings for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        self.http.validate()?;
        DeviceId::parse(&self.device.id)
            .map_err(|e| ConfigError::invalid("device.id", e.to_string()))?;
        let broker = protocol::topic::BrokerUrl::parse(&self.mqtt.url)
            .map_err(|e| ConfigError::invalid("mqtt.url", e))?;
        service_kit::config::check_broker("mqtt.url", broker.tls, &broker.host)?;
        if self.mqtt.ca_file.is_some() && !broker.tls {
            return Err(ConfigError::invalid(
                "mqtt.ca_file",
                "is for a broker reached over TLS (mqtts://)",
            ));
        }
        if self.mqtt.username.is_some() != self.mqtt.password.is_some() {
            return Err(ConfigError::invalid(
                "mqtt.password",
                "mqtt.username and mqtt.password go together",
            ));
        }
        match &self.device.status_token {
            Some(token) if token.expose().chars().count() < 16 => {
                return Err(ConfigError::invalid(
                    "device.status_token",
                    "must be at least 16 characters",
                ));
            }
            None if !self.http.bind.ip().is_loopback() => {
                return Err(ConfigError::invalid(
                    "device.status_token",
                    "is required when http.bind is not loopback: the cameras' pictures and the \
                     box's state are not for anyone on the network",
                ));
            }
            _ => {}
        }
        // Evidence (plates, faces) goes to central in the clear only to this machine.
        service_kit::config::check_url("central.url", &self.central.url)?;
        self.central.control_keys()?;
        if self.central.ca_file.is_some() && !self.central.url.starts_with("https://") {
            return Err(ConfigError::invalid(
                "central.ca_file",
                "is for a central reached over HTTPS (https://)",
            ));
        }
        if self
            .models
            .min_score
            .is_some_and(|s| !(0.0..1.0).contains(&s))
        {
            return Err(ConfigError::invalid("models.min_score", "must be in 0–1"));
        }
        if !(0.0..=1.0).contains(&self.models.min_plate_confidence) {
            return Err(ConfigError::invalid(
                "models.min_plate_confidence",
                "must be in 0–1",
            ));
        }
        if self.evidence.jpeg_quality == 0 || self.evidence.jpeg_quality > 100 {
            return Err(ConfigError::invalid(
                "evidence.jpeg_quality",
                "must be 1–100",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, c) in self.cameras.iter().enumerate() {
            let field = |f: &str| format!("cameras[{i}].{f}");
            if !seen.insert(c.id.clone()) {
                return Err(ConfigError::invalid(field("id"), "is used twice"));
            }
            if !c.source.contains("://") {
                return Err(ConfigError::invalid(field("source"), "must be a URI"));
            }
            if !(c.detect_fps > 0.0 && c.detect_fps <= 60.0) {
                return Err(ConfigError::invalid(
                    field("detect_fps"),
                    "must be in (0, 60]",
                ));
            }
            if c.stall_timeout_s.is_nan() || c.stall_timeout_s < 1.0 {
                return Err(ConfigError::invalid(
                    field("stall_timeout_s"),
                    "must be 1 or more",
                ));
            }
            if !(c.signal_max_cycle_s >= 30.0 && c.signal_max_cycle_s <= 3600.0) {
                return Err(ConfigError::invalid(
                    field("signal_max_cycle_s"),
                    "must be 30–3600 s",
                ));
            }
            c.geometry.validate().map_err(|e| {
                ConfigError::invalid(field(&format!("geometry.{}", e.field)), e.reason)
            })?;
            // `lamps` without the head's lamps drawn yet is a camera being installed: it runs,
            // its signal reported as a fault until central's set-up places them.
            if let SignalConfig::Fixed {
                green_s,
                amber_s,
                red_s,
                ..
            } = c.signal
                && !(green_s > 0.0 && amber_s >= 0.0 && red_s > 0.0)
            {
                return Err(ConfigError::invalid(
                    field("signal"),
                    "phases must be above 0",
                ));
            }
            if let SignalConfig::Mqtt { controller_key } = &c.signal {
                protocol::DevicePublicKey::from_base64(controller_key).map_err(|e| {
                    ConfigError::invalid(field("signal.controller_key"), e.to_string())
                })?;
            }
            self.validate_pairing(c, &field)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
