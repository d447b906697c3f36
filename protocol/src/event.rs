//! The violation event an edge agent publishes: what happened, where, when, to which vehicle,
//! what was measured, and the evidence that shows it.
//!
//! These are the domain types; [`crate::wire`] adds the schema tag and the signature.
//!
//! One file for one message: the event's types are the contract every box and every central
//! release read together with the schema made from them (`protocol/schema/`), so they are
//! reviewed side by side rather than spread over modules.

use std::{borrow::Cow, fmt, str::FromStr};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::{
    ids::{CameraId, DeviceId, EventId},
    plate::{MAX_PLATE_CHARS, PlateColour, PlateLayout},
    time::UtcTimestamp,
    wire::{Invalid, Validate},
};

/// One detected violation, as the edge agent saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ViolationEvent {
    pub event_id: EventId,
    pub device: DeviceId,
    pub camera: CameraId,
    pub site: Site,
    pub kind: ViolationKind,
    /// When the violation happened (the frame that shows it), by the device clock.
    pub occurred_at: UtcTimestamp,
    /// How far that clock can be trusted.
    pub clock: ClockSync,
    pub vehicle: Vehicle,
    /// The plate as read; absent when no plate could be read surely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate: Option<PlateRead>,
    /// A plate the camera saw but could not read surely, with the reader's guesses for the
    /// officer; absent when `plate` is set or no plate was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_unread: Option<UnreadPlate>,
    pub measurement: Measurement,
    /// Every file of the evidence package; the event is complete once all have arrived.
    pub evidence: Vec<EvidenceItem>,
    /// The models that produced the detection and the plate read.
    pub models: Vec<ModelVersion>,
}

/// The kinds of violation the edge agent detects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    RedLight,
    Speeding,
    WrongWay,
    WrongLane,
    IllegalStopping,
    NoHelmet,
}

impl ViolationKind {
    pub const ALL: [Self; 6] = [
        Self::RedLight,
        Self::Speeding,
        Self::WrongWay,
        Self::WrongLane,
        Self::IllegalStopping,
        Self::NoHelmet,
    ];

    /// The snake_case name used on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RedLight => "red_light",
            Self::Speeding => "speeding",
            Self::WrongWay => "wrong_way",
            Self::WrongLane => "wrong_lane",
            Self::IllegalStopping => "illegal_stopping",
            Self::NoHelmet => "no_helmet",
        }
    }
}

impl ViolationKind {
    /// The violation's name in Vietnamese, as on a notice and an evidence image.
    pub fn label_vi(self) -> &'static str {
        match self {
            Self::RedLight => "Không chấp hành hiệu lệnh của đèn tín hiệu giao thông",
            Self::Speeding => "Chạy quá tốc độ quy định",
            Self::WrongWay => "Đi ngược chiều",
            Self::WrongLane => "Đi không đúng làn đường quy định",
            Self::IllegalStopping => "Dừng, đỗ xe không đúng quy định",
            Self::NoHelmet => "Không đội mũ bảo hiểm",
        }
    }

    /// The violation's name in English, beneath the Vietnamese where both are shown.
    pub fn label_en(self) -> &'static str {
        match self {
            Self::RedLight => "failing to obey a traffic signal (red light)",
            Self::Speeding => "exceeding the speed limit",
            Self::WrongWay => "driving against the direction of traffic",
            Self::WrongLane => "driving in a lane not allowed to the vehicle",
            Self::IllegalStopping => "stopping or parking where it is not allowed",
            Self::NoHelmet => "riding without a helmet",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ViolationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown violation kind `{s}`"))
    }
}

/// Where the camera stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// A short name, e.g. `Ngã tư Hàng Xanh`.
    pub name: String,
    /// WGS 84 degrees.
    pub latitude: f64,
    pub longitude: f64,
    pub address: String,
    /// The direction of travel the camera watches, e.g. `hướng Điện Biên Phủ → Xô Viết Nghệ Tĩnh`.
    pub direction: String,
}

/// The state of the device clock when the event was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockSync {
    pub state: ClockState,
    /// The time source, e.g. `ntp`, `ptp`, `gnss`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Estimated offset from the source at the last synchronisation, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Synchronised to its source.
    Synced,
    /// Lost its source recently and is running on its own oscillator.
    Holdover,
    /// Never synchronised since boot: the time cannot be relied on.
    Unsynced,
}

/// Vehicle classes the rules and the fine schedule distinguish.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VehicleClass {
    Car,
    Motorbike,
    Bus,
    Truck,
}

impl VehicleClass {
    pub const ALL: [Self; 4] = [Self::Car, Self::Motorbike, Self::Bus, Self::Truck];

    /// The class of a snake_case name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The plate category a vehicle of this class carries: motorbikes their own, the rest car
    /// plates.
    pub fn plate_category(self) -> crate::plate::PlateCategory {
        match self {
            Self::Motorbike => crate::plate::PlateCategory::Motorbike,
            Self::Car | Self::Bus | Self::Truck => crate::plate::PlateCategory::Car,
        }
    }

    /// The snake_case name used on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Car => "car",
            Self::Motorbike => "motorbike",
            Self::Bus => "bus",
            Self::Truck => "truck",
        }
    }

    /// The vehicle type as a notice states it. A camera does not tell a city bus ("xe buýt")
    /// from a coach ("xe khách"): both are passenger cars of more than eight seats.
    pub fn label_vi(self) -> &'static str {
        match self {
            Self::Car => "Xe ô tô",
            Self::Motorbike => "Xe mô tô, xe gắn máy",
            Self::Bus => "Xe ô tô chở người trên 8 chỗ (xe buýt, xe khách)",
            Self::Truck => "Xe ô tô tải",
        }
    }
}

/// The offending vehicle in the frame that shows the violation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vehicle {
    pub class: VehicleClass,
    /// Detector confidence, 0–1.
    pub confidence: f64,
    /// The tracker's id, unique per camera while the agent runs.
    pub track_id: u64,
    /// Its box in the full-resolution frame.
    pub bbox: VehicleBox,
}

/// A box in pixels of the full-resolution frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VehicleBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// The plate as the edge agent read it, with its alternatives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlateRead {
    /// Canonical text, characters only (`51F12345`). It may fail the plate grammar (a foreign
    /// or damaged plate): the reviewer decides.
    pub text: String,
    /// Display form (`51F-123.45`).
    pub display: String,
    pub layout: PlateLayout,
    pub colour: PlateColour,
    /// Confidence of the whole read, 0–1.
    pub confidence: f64,
    /// The next best reads, best first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<PlateCandidate>,
}

/// A plate seen but not read surely: the reader's best reading stayed under the device's
/// confidence floor, or none passed the plate grammar. Its guesses are shown to the officer,
/// who reads the plate from the close-up; they never name an owner by themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnreadPlate {
    pub layout: PlateLayout,
    pub colour: PlateColour,
    /// The reader's readings, best first; empty when none passed the plate grammar.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<PlateCandidate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlateCandidate {
    pub text: String,
    pub confidence: f64,
}

/// What was measured; each rule fills the fields it relies on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_kmh: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<SignalObservation>,
    /// The lane the vehicle was in, by the camera's geometry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// How long the vehicle stood in a no-stopping zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dwell_ms: Option<u64>,
    /// What the no-stopping zone forbids (the sign or the place), as its set-up says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_case: Option<crate::camera::ZoneCase>,
}

/// The signal as it was when the vehicle crossed the stop line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalObservation {
    pub phase: crate::messages::SignalState,
    /// Time since the phase turned red, when it was red.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_into_red_ms: Option<u64>,
    pub source: crate::messages::SignalSource,
    /// The red's start was not seen (the device started, or its view of the signal came back,
    /// during it): `time_into_red_ms` counts from when red was first seen and is the least the
    /// time into red can have been.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub red_start_unseen: bool,
}

/// One file of the evidence package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceItem {
    /// File name within the package, e.g. `at.jpg`, `plate.jpg`, `clip.mp4`.
    pub name: String,
    pub sha256: Sha256Digest,
    pub bytes: u64,
    pub content_type: String,
    pub captured_at: UtcTimestamp,
    /// Set on a copy made for eyes outside the police: what it was made from and what was
    /// hidden. The citizen is shown the copy, the officer the original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masking: Option<Masking>,
}

/// How a copy of an image or a clip was masked: the regions of the original hidden (pixelated
/// beyond reading) — the other vehicles in the frame with their plates and riders, and the
/// people on foot, as the event's vehicle detector found them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Masking {
    /// The name of the original in the same package.
    pub of: String,
    /// The regions hidden, in pixels of the original (an image's; empty for a clip, whose
    /// regions change frame by frame: see `frames`).
    pub regions: Vec<VehicleBox>,
    /// For a clip: the name of the file of the same package (`application/json`, a
    /// [`MaskedFrames`]) that lists what was hidden in each frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<String>,
}

/// What a masked clip hides, frame by frame: the file a clip's [`Masking::frames`] names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaskedFrames {
    /// The name of the original clip in the same package.
    pub of: String,
    /// Each frame of the masked clip, in order.
    pub frames: Vec<MaskedFrame>,
}

/// What one frame of a masked clip hides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaskedFrame {
    /// The frame's time in the clip, milliseconds from its first frame.
    pub t_ms: u64,
    /// The whole picture is hidden: no detection was near enough in time to say where the
    /// others were.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub whole: bool,
    /// The regions hidden, in pixels of the original.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<VehicleBox>,
}

/// The evidence a person outside the police is shown: the masked copies, and the images that
/// are not the original of one; never a clip that is not a masked copy (the camera's own clip
/// shows every face and plate that passed), nor a file that is not a picture.
pub fn for_citizens(items: &[EvidenceItem]) -> Vec<EvidenceItem> {
    items
        .iter()
        .filter(|item| {
            let original = items
                .iter()
                .any(|m| m.masking.as_ref().is_some_and(|k| k.of == item.name));
            let shown = item.content_type.starts_with("image/")
                || (item.content_type.starts_with("video/") && item.masking.is_some());
            shown && !original
        })
        .cloned()
        .collect()
}

/// A model that took part, identified by its file hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelVersion {
    /// The task it served, e.g. `vehicle_detector`, `plate_recognizer`.
    pub task: String,
    pub name: String,
    pub sha256: Sha256Digest,
}

/// A SHA-256 digest, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(data).into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the lowercase hex form; upper case is refused so a digest has one spelling.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(format!("`{text}` is not 64 lowercase hex digits"));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).map_err(|e| e.to_string())?;
        Ok(Self(out))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl TryFrom<String> for Sha256Digest {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<Sha256Digest> for String {
    fn from(d: Sha256Digest) -> String {
        d.to_hex()
    }
}

impl FromStr for Sha256Digest {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

impl JsonSchema for Sha256Digest {
    fn schema_name() -> Cow<'static, str> {
        "Sha256Digest".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^[0-9a-f]{64}$" })
    }
}

/// Limits on what one event may hold, so a hostile payload cannot grow storage without bound.
pub mod limits {
    pub const TEXT: usize = 256;
    pub const EVIDENCE_ITEMS: usize = 32;
    /// Regions one masked copy may hide.
    pub const MASKED_REGIONS: usize = 256;
    pub const MODELS: usize = 16;
    pub const CANDIDATES: usize = 10;
    pub const EVIDENCE_BYTES: u64 = 256 * 1024 * 1024;
}

fn check_text(field: &str, value: &str, allow_empty: bool) -> Result<(), Invalid> {
    if !allow_empty && value.trim().is_empty() {
        return Err(Invalid::new(field, "is empty"));
    }
    if value.len() > limits::TEXT {
        return Err(Invalid::new(
            field,
            format!("is longer than {} bytes", limits::TEXT),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Invalid::new(field, "holds control characters"));
    }
    Ok(())
}

fn check_unit(field: &str, value: f64) -> Result<(), Invalid> {
    if !(0.0..=1.0).contains(&value) {
        return Err(Invalid::new(field, format!("{value} is outside 0–1")));
    }
    Ok(())
}

fn check_candidates(field: &str, candidates: &[PlateCandidate]) -> Result<(), Invalid> {
    if candidates.len() > limits::CANDIDATES {
        return Err(Invalid::new(
            field,
            format!("holds more than {}", limits::CANDIDATES),
        ));
    }
    for (i, c) in candidates.iter().enumerate() {
        check_plate_text(&format!("{field}[{i}].text"), &c.text)?;
        check_unit(&format!("{field}[{i}].confidence"), c.confidence)?;
    }
    Ok(())
}

fn check_plate_text(field: &str, text: &str) -> Result<(), Invalid> {
    let count = text.chars().count();
    if count == 0 || count > MAX_PLATE_CHARS {
        return Err(Invalid::new(
            field,
            format!("must hold 1–{MAX_PLATE_CHARS} characters"),
        ));
    }
    if !text
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == 'Đ')
    {
        return Err(Invalid::new(
            field,
            "must be canonical: upper-case letters and digits only",
        ));
    }
    Ok(())
}

impl Validate for ViolationEvent {
    fn validate(&self) -> Result<(), Invalid> {
        let site = &self.site;
        check_text("site.name", &site.name, false)?;
        check_text("site.address", &site.address, true)?;
        check_text("site.direction", &site.direction, true)?;
        if !(-90.0..=90.0).contains(&site.latitude) {
            return Err(Invalid::new("site.latitude", "is outside −90–90"));
        }
        if !(-180.0..=180.0).contains(&site.longitude) {
            return Err(Invalid::new("site.longitude", "is outside −180–180"));
        }
        if let Some(source) = &self.clock.source {
            check_text("clock.source", source, false)?;
        }
        check_unit("vehicle.confidence", self.vehicle.confidence)?;
        Invalid::check_safe_integer("vehicle.track_id", Some(self.vehicle.track_id))?;
        Invalid::check_safe_integer(
            "clock.offset_ms",
            self.clock.offset_ms.map(i64::unsigned_abs),
        )?;
        Invalid::check_safe_integer("measurement.dwell_ms", self.measurement.dwell_ms)?;
        Invalid::check_safe_integer(
            "measurement.signal.time_into_red_ms",
            self.measurement
                .signal
                .as_ref()
                .and_then(|s| s.time_into_red_ms),
        )?;
        let b = self.vehicle.bbox;
        if b.width == 0 || b.height == 0 {
            return Err(Invalid::new("vehicle.bbox", "has no area"));
        }
        if let Some(plate) = &self.plate {
            check_plate_text("plate.text", &plate.text)?;
            check_text("plate.display", &plate.display, false)?;
            check_unit("plate.confidence", plate.confidence)?;
            check_candidates("plate.candidates", &plate.candidates)?;
        }
        if let Some(unread) = &self.plate_unread {
            if self.plate.is_some() {
                return Err(Invalid::new(
                    "plate_unread",
                    "is set beside plate: a plate is either read or not",
                ));
            }
            check_candidates("plate_unread.candidates", &unread.candidates)?;
        }
        let m = &self.measurement;
        for (field, value) in [
            ("measurement.speed_kmh", m.speed_kmh),
            ("measurement.limit_kmh", m.limit_kmh),
        ] {
            if let Some(v) = value
                && !(0.0..=500.0).contains(&v)
            {
                return Err(Invalid::new(field, format!("{v} is outside 0–500")));
            }
        }
        if let Some(lane) = &m.lane {
            check_text("measurement.lane", lane, false)?;
        }
        if self.evidence.is_empty() {
            return Err(Invalid::new(
                "evidence",
                "is empty: an event needs evidence",
            ));
        }
        if self.evidence.len() > limits::EVIDENCE_ITEMS {
            return Err(Invalid::new(
                "evidence",
                format!("holds more than {} files", limits::EVIDENCE_ITEMS),
            ));
        }
        for (i, item) in self.evidence.iter().enumerate() {
            let field = format!("evidence[{i}]");
            let name_ok = !item.name.is_empty()
                && item.name.len() <= 64
                && !item.name.starts_with('.')
                && item
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !name_ok {
                return Err(Invalid::new(
                    format!("{field}.name"),
                    "must be 1–64 of [A-Za-z0-9._-], not starting with `.`",
                ));
            }
            if self.evidence[..i]
                .iter()
                .any(|other| other.name == item.name)
            {
                return Err(Invalid::new(
                    format!("{field}.name"),
                    "repeats an earlier name",
                ));
            }
            if item.bytes == 0 || item.bytes > limits::EVIDENCE_BYTES {
                return Err(Invalid::new(
                    format!("{field}.bytes"),
                    format!("must be 1–{} bytes", limits::EVIDENCE_BYTES),
                ));
            }
            let ct = &item.content_type;
            let ct_ok = ct.len() <= 64
                && ct.split_once('/').is_some_and(|(a, b)| {
                    !a.is_empty()
                        && !b.is_empty()
                        && ct.bytes().all(|c| {
                            c.is_ascii_alphanumeric() || matches!(c, b'/' | b'.' | b'+' | b'-')
                        })
                });
            if !ct_ok {
                return Err(Invalid::new(
                    format!("{field}.content_type"),
                    "is not a media type",
                ));
            }
            if let Some(m) = &item.masking {
                let original = self.evidence.iter().find(|o| o.name == m.of);
                if m.of == item.name || original.is_none_or(|o| o.masking.is_some()) {
                    return Err(Invalid::new(
                        format!("{field}.masking.of"),
                        "must name another, unmasked file of the package",
                    ));
                }
                if m.regions.len() > limits::MASKED_REGIONS {
                    return Err(Invalid::new(
                        format!("{field}.masking.regions"),
                        format!("holds more than {}", limits::MASKED_REGIONS),
                    ));
                }
                if m.regions.iter().any(|r| r.width == 0 || r.height == 0) {
                    return Err(Invalid::new(
                        format!("{field}.masking.regions"),
                        "holds a region with no area",
                    ));
                }
                if let Some(frames) = &m.frames
                    && !self
                        .evidence
                        .iter()
                        .any(|f| &f.name == frames && f.content_type == "application/json")
                {
                    return Err(Invalid::new(
                        format!("{field}.masking.frames"),
                        "must name an application/json file of the package",
                    ));
                }
            }
        }
        if self.models.len() > limits::MODELS {
            return Err(Invalid::new(
                "models",
                format!("holds more than {}", limits::MODELS),
            ));
        }
        for (i, model) in self.models.iter().enumerate() {
            check_text(&format!("models[{i}].task"), &model.task, false)?;
            check_text(&format!("models[{i}].name"), &model.name, false)?;
        }
        Ok(())
    }
}

impl ViolationEvent {
    /// [`Self::example`] seen now: dated, and its evidence captured, at this moment. The
    /// example's own day (26 November 2025) lies more than a year back, past the time a
    /// violation may be sanctioned in: a case of it opens no more.
    pub fn example_now(device: DeviceId, event_id: EventId) -> Self {
        let mut event = Self::example(device, event_id);
        event.occurred_at = UtcTimestamp::now();
        for item in &mut event.evidence {
            item.captured_at = event.occurred_at;
        }
        event
    }

    /// A realistic red-light event at a Hồ Chí Minh City junction, for documentation, tests and
    /// benches, dated 26 November 2025 (the same bytes every run).
    pub fn example(device: DeviceId, event_id: EventId) -> Self {
        use crate::messages::{SignalSource, SignalState};
        let at = UtcTimestamp::from_unix_ms(1_764_146_096_250).expect("a time in range");
        let item = |name: &str, content_type: &str, bytes: u64| EvidenceItem {
            name: name.into(),
            sha256: Sha256Digest::of(name.as_bytes()),
            bytes,
            content_type: content_type.into(),
            captured_at: at,
            masking: None,
        };
        Self {
            event_id,
            device,
            camera: CameraId::parse("north").expect("`north` is a valid camera id"),
            site: Site {
                name: "Ngã tư Hàng Xanh".into(),
                latitude: 10.801_512,
                longitude: 106.711_093,
                address: "Điện Biên Phủ × Xô Viết Nghệ Tĩnh, Bình Thạnh, TP.HCM".into(),
                direction: "hướng Điện Biên Phủ → Hàng Xanh".into(),
            },
            kind: ViolationKind::RedLight,
            occurred_at: at,
            clock: ClockSync {
                state: ClockState::Synced,
                source: Some("ntp".into()),
                offset_ms: Some(3),
            },
            vehicle: Vehicle {
                class: VehicleClass::Car,
                confidence: 0.91,
                track_id: 4711,
                bbox: VehicleBox {
                    x: 812,
                    y: 420,
                    width: 360,
                    height: 290,
                },
            },
            plate: Some(PlateRead {
                text: "51F12345".into(),
                display: "51F-123.45".into(),
                layout: PlateLayout::OneLine,
                colour: PlateColour::White,
                confidence: 0.97,
                candidates: vec![PlateCandidate {
                    text: "51F12346".into(),
                    confidence: 0.02,
                }],
            }),
            plate_unread: None,
            measurement: Measurement {
                signal: Some(SignalObservation {
                    phase: SignalState::Red,
                    time_into_red_ms: Some(1850),
                    source: SignalSource::Controller,
                    red_start_unseen: false,
                }),
                lane: Some("2".into()),
                ..Measurement::default()
            },
            evidence: vec![
                item("before.jpg", "image/jpeg", 182_311),
                item("at.jpg", "image/jpeg", 179_004),
                item("after.jpg", "image/jpeg", 181_950),
                item("plate.jpg", "image/jpeg", 12_877),
                item("clip.mp4", "video/mp4", 4_180_233),
            ],
            models: vec![ModelVersion {
                task: "vehicle_detector".into(),
                name: "tve-vehicles-n".into(),
                sha256: Sha256Digest::of(b"tve-vehicles-n"),
            }],
        }
    }
}
