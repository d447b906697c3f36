//! Scenarios: a TOML description of the road, the camera, the signal plan, the traffic flow
//! and scripted road users, and the library of named scenarios compiled into the binary.

use std::collections::BTreeMap;

use protocol::{PlateColour, PlateLayout};
use serde::{Deserialize, Serialize};

use crate::{
    camera::{CameraSpec, Facing},
    vehicle::ObjectClass,
};

/// A whole scenario, as written in a `.toml` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_duration")]
    pub duration_s: f32,
    #[serde(default = "default_fps")]
    pub fps: u32,
    #[serde(default)]
    pub camera: CameraSpec,
    /// A plate camera on the same pole, zoomed on the lanes, seeing the same traffic: the
    /// overview camera judges, this one reads the plates (served as `NAME-plates`).
    #[serde(default)]
    pub plate_camera: Option<CameraSpec>,
    #[serde(default)]
    pub conditions: Conditions,
    pub road: RoadSpec,
    #[serde(default)]
    pub signal: Option<SignalPlan>,
    #[serde(default)]
    pub flow: FlowSpec,
    #[serde(default, rename = "actor")]
    pub actors: Vec<ActorSpec>,
    /// The typeface of the scene's plates.
    #[serde(default)]
    pub plate_face: crate::plate::PlateFace,
}

fn default_duration() -> f32 {
    30.0
}

fn default_fps() -> u32 {
    25
}

/// Light, weather and the camera's imperfections.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Conditions {
    pub time_of_day: TimeOfDay,
    /// Rain, 0 (dry) to 1 (downpour): streaks, wet road, lower contrast.
    pub rain: f32,
    /// Sensor noise, standard deviation in 8-bit levels.
    pub noise: f32,
    /// How long the shutter is open, milliseconds: motion blur.
    pub shutter_ms: f32,
    /// Shadows cast by the sun (off under an overcast sky).
    pub shadows: bool,
}

impl Default for Conditions {
    fn default() -> Self {
        Self {
            time_of_day: TimeOfDay::Day,
            rain: 0.0,
            noise: 2.5,
            shutter_ms: 4.0,
            shadows: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeOfDay {
    Day,
    Dusk,
    Night,
}

/// The road: lanes from left to right as the camera sees them, and what is painted on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoadSpec {
    pub lanes: Vec<LaneSpec>,
    #[serde(default = "default_lane_width")]
    pub lane_width_m: f32,
    /// Distance from the camera's pole to the stop line of the lanes going away.
    #[serde(default)]
    pub stop_line_m: Option<f32>,
    /// A crossing road beyond the stop line, with its own traffic.
    #[serde(default)]
    pub junction: bool,
    #[serde(default = "default_limit")]
    pub speed_limit_kmh: f32,
    /// Per-class limits where they differ from `speed_limit_kmh`.
    #[serde(default)]
    pub speed_limits: BTreeMap<ObjectClass, f32>,
    /// The two lines of the speed trap, metres from the pole.
    #[serde(default)]
    pub speed_zone_m: Option<[f32; 2]>,
    #[serde(default)]
    pub no_stopping: Vec<NoStoppingZone>,
    /// How far the road is drawn and driven.
    #[serde(default = "default_far")]
    pub far_m: f32,
}

fn default_lane_width() -> f32 {
    3.5
}

fn default_limit() -> f32 {
    50.0
}

fn default_far() -> f32 {
    160.0
}

impl RoadSpec {
    /// The speed limit of a class, km/h.
    pub fn limit_kmh(&self, class: ObjectClass) -> f32 {
        self.speed_limits
            .get(&class)
            .copied()
            .unwrap_or(self.speed_limit_kmh)
    }

    pub fn width_m(&self) -> f32 {
        self.lanes.len() as f32 * self.lane_width_m
    }

    /// The x of the centre of lane `i`.
    pub fn lane_centre_x(&self, i: usize) -> f32 {
        -self.width_m() / 2.0 + (i as f32 + 0.5) * self.lane_width_m
    }

    /// The lane under world x, if any.
    pub fn lane_at(&self, x: f32) -> Option<usize> {
        let i = ((x + self.width_m() / 2.0) / self.lane_width_m).floor();
        (i >= 0.0 && (i as usize) < self.lanes.len()).then_some(i as usize)
    }

    /// Where the junction's crossing road lies (y from, y to), when there is one.
    pub fn junction_span(&self) -> Option<(f32, f32)> {
        let stop = self.stop_line_m?;
        self.junction.then_some((stop + 5.0, stop + 19.0))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaneSpec {
    pub direction: Direction,
    /// Classes allowed in the lane; empty means every class.
    #[serde(default)]
    pub allowed: Vec<ObjectClass>,
}

impl LaneSpec {
    pub fn allows(&self, class: ObjectClass) -> bool {
        self.allowed.is_empty() || self.allowed.contains(&class)
    }
}

/// Which way traffic in a lane is meant to go, seen from the camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Away,
    Toward,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoStoppingZone {
    pub lane: usize,
    pub from_m: f32,
    pub to_m: f32,
    /// Longest stop allowed before it is a violation, seconds.
    #[serde(default = "default_dwell")]
    pub max_dwell_s: f32,
}

fn default_dwell() -> f32 {
    5.0
}

/// A fixed-time signal plan for the lanes going away; the crossing road runs on the inverse.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalPlan {
    pub green_s: f32,
    pub amber_s: f32,
    pub red_s: f32,
    /// Seconds into the cycle at t = 0.
    #[serde(default)]
    pub offset_s: f32,
}

/// A signal head's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Green,
    Amber,
    Red,
}

impl SignalPlan {
    pub fn cycle_s(&self) -> f32 {
        self.green_s + self.amber_s + self.red_s
    }

    /// The phase at `t` and the seconds since it began.
    pub fn phase_at(&self, t: f32) -> (Phase, f32) {
        let c = (t + self.offset_s).rem_euclid(self.cycle_s());
        if c < self.green_s {
            (Phase::Green, c)
        } else if c < self.green_s + self.amber_s {
            (Phase::Amber, c - self.green_s)
        } else {
            (Phase::Red, c - self.green_s - self.amber_s)
        }
    }

    /// The signal at `t` as the agent's rules take it: the state and the seconds it has held.
    pub fn state_at(&self, t: f64) -> (protocol::messages::SignalState, f64) {
        use protocol::messages::SignalState;
        let (phase, since) = self.phase_at(t as f32);
        let state = match phase {
            Phase::Red => SignalState::Red,
            Phase::Amber => SignalState::Amber,
            Phase::Green => SignalState::Green,
        };
        (state, f64::from(since))
    }

    /// Seconds until the phase at `t` ends.
    pub fn remaining_at(&self, t: f32) -> f32 {
        let (phase, into) = self.phase_at(t);
        let length = match phase {
            Phase::Green => self.green_s,
            Phase::Amber => self.amber_s,
            Phase::Red => self.red_s,
        };
        length - into
    }
}

/// Random background traffic: arrivals per minute per lane, by class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowSpec {
    pub per_minute: BTreeMap<ObjectClass, f32>,
    /// Cruising speeds, km/h (drawn uniformly, kept below each class's limit).
    pub speed_kmh: [f32; 2],
    /// Share of motorbikes that carry a passenger.
    pub passenger_rate: f32,
    /// Pedestrians on the pavements per minute.
    pub pedestrians_per_minute: f32,
    /// Share of riders in the random traffic without a helmet (they are violations too).
    pub no_helmet_rate: f32,
}

impl Default for FlowSpec {
    fn default() -> Self {
        Self {
            per_minute: BTreeMap::from([
                (ObjectClass::Car, 4.0),
                (ObjectClass::Motorbike, 8.0),
                (ObjectClass::Bus, 0.3),
                (ObjectClass::Truck, 0.5),
            ]),
            speed_kmh: [30.0, 45.0],
            passenger_rate: 0.25,
            pedestrians_per_minute: 4.0,
            no_helmet_rate: 0.0,
        }
    }
}

/// A scripted road user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorSpec {
    pub class: ObjectClass,
    pub lane: usize,
    /// When it enters; for `run_red`, when its front crosses the stop line.
    pub at_s: f32,
    pub speed_kmh: f32,
    #[serde(default)]
    pub behaviour: Behaviour,
    /// Plate in display form; random when absent.
    #[serde(default)]
    pub plate: Option<String>,
    #[serde(default)]
    pub layout: Option<PlateLayout>,
    #[serde(default)]
    pub colour: Option<PlateColour>,
    /// Riders' helmets (motorbikes): `[true]`, `[false]`, `[true, false]` with a passenger.
    #[serde(default)]
    pub helmets: Option<Vec<bool>>,
    /// For `stop`: where (metres from the pole) and for how long.
    #[serde(default)]
    pub stop_at_m: Option<f32>,
    #[serde(default)]
    pub dwell_s: Option<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// Keeps to the lane's direction, stops for red, follows the traffic ahead.
    #[default]
    Comply,
    /// Ignores the red signal (crosses the stop line at `at_s`).
    RunRed,
    /// Drives against the lane's direction.
    WrongWay,
    /// Stops at `stop_at_m` for `dwell_s`, then drives on.
    Stop,
}

/// Why a scenario file was refused; names the field.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario file is not valid: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("no scenario is named `{0}` (see `sim list`)")]
    Unknown(String),
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

fn validate_camera(table: &str, c: &CameraSpec) -> Result<(), ScenarioError> {
    let field = |f: &str| format!("{table}.{f}");
    if !(2.0..=30.0).contains(&c.height_m) {
        return Err(invalid(field("height_m"), "must be 2 to 30"));
    }
    if !(1.0..=60.0).contains(&c.tilt_deg) {
        return Err(invalid(field("tilt_deg"), "must be 1 to 60"));
    }
    if !(100.0..=20000.0).contains(&c.focal_px) {
        return Err(invalid(field("focal_px"), "must be 100 to 20000"));
    }
    if c.shutter_ms.is_some_and(|ms| !(0.0..=100.0).contains(&ms)) {
        return Err(invalid(field("shutter_ms"), "must be 0 to 100"));
    }
    if !(64..=7680).contains(&c.width)
        || !(64..=4320).contains(&c.height)
        || c.width % 2 == 1
        || c.height % 2 == 1
    {
        return Err(invalid(
            field("width"),
            "width and height must be even, 64 to 7680 × 4320",
        ));
    }
    Ok(())
}

impl ScenarioSpec {
    pub fn from_toml(text: &str) -> Result<Self, ScenarioError> {
        let spec: Self = toml::from_str(text)?;
        spec.validate()?;
        Ok(spec)
    }

    /// The named scenario of the library.
    pub fn named(name: &str) -> Result<Self, ScenarioError> {
        let (_, text) = LIBRARY
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ScenarioError::Unknown(name.to_owned()))?;
        Self::from_toml(text)
    }

    /// The same scenario seen at `width` × `height`: the camera's field of view is kept.
    pub fn resized(mut self, width: u32, height: u32) -> Result<Self, ScenarioError> {
        for c in std::iter::once(&mut self.camera).chain(self.plate_camera.as_mut()) {
            c.focal_px *= width as f32 / c.width as f32;
            c.width = width;
            c.height = height;
        }
        self.validate()?;
        Ok(self)
    }

    pub fn frame_count(&self) -> usize {
        (self.duration_s * self.fps as f32).round() as usize
    }

    pub fn validate(&self) -> Result<(), ScenarioError> {
        if !(1..=120).contains(&self.fps) {
            return Err(invalid("fps", "must be 1 to 120"));
        }
        if !(self.duration_s > 0.0 && self.duration_s <= 3600.0) {
            return Err(invalid(
                "duration_s",
                "must be more than 0 and at most 3600",
            ));
        }
        validate_camera("camera", &self.camera)?;
        // Road distances are measured from the overview camera's pole, looking along the road.
        if self.camera.position_m != 0.0 {
            return Err(invalid(
                "camera.position_m",
                "the overview camera stands at 0",
            ));
        }
        if self.camera.facing != Facing::Along {
            return Err(invalid(
                "camera.facing",
                "the overview camera looks along the road",
            ));
        }
        if let Some(c) = &self.plate_camera {
            validate_camera("plate_camera", c)?;
            if !(0.0..=self.road.far_m).contains(&c.position_m) {
                return Err(invalid(
                    "plate_camera.position_m",
                    "must be on the road: 0 to road.far_m",
                ));
            }
            if c.facing == Facing::Back && c.position_m < 10.0 {
                return Err(invalid(
                    "plate_camera.position_m",
                    "a camera looking back stands at least 10 m down the road",
                ));
            }
        }
        if self.road.lanes.is_empty() || self.road.lanes.len() > 8 {
            return Err(invalid("road.lanes", "one to eight lanes"));
        }
        if self.road.junction && self.road.stop_line_m.is_none() {
            return Err(invalid(
                "road.junction",
                "a junction needs road.stop_line_m",
            ));
        }
        if self.road.stop_line_m.is_some() != self.signal.is_some() {
            return Err(invalid(
                "signal",
                "a stop line and a signal plan go together",
            ));
        }
        if let Some(s) = &self.signal
            && (s.green_s <= 0.0 || s.amber_s <= 0.0 || s.red_s <= 0.0)
        {
            return Err(invalid("signal", "every phase must last more than 0 s"));
        }
        for (i, z) in self.road.no_stopping.iter().enumerate() {
            if z.lane >= self.road.lanes.len() || z.from_m >= z.to_m {
                return Err(invalid(
                    format!("road.no_stopping[{i}]"),
                    "lane must exist and from_m < to_m",
                ));
            }
        }
        for (i, a) in self.actors.iter().enumerate() {
            let field = |f: &str| format!("actor[{i}].{f}");
            if a.lane >= self.road.lanes.len() {
                return Err(invalid(
                    field("lane"),
                    format!("there are {} lanes", self.road.lanes.len()),
                ));
            }
            if !(1.0..=200.0).contains(&a.speed_kmh) {
                return Err(invalid(field("speed_kmh"), "must be 1 to 200"));
            }
            if a.class == ObjectClass::Person {
                return Err(invalid(field("class"), "pedestrians are not scripted"));
            }
            if let Some(text) = &a.plate {
                crate::plate::PlateSpec::parse(text, a.class, a.layout, a.colour)
                    .map_err(|e| invalid(field("plate"), e.to_string()))?;
            }
            match a.behaviour {
                Behaviour::RunRed => {
                    let (Some(plan), Some(_)) = (&self.signal, self.road.stop_line_m) else {
                        return Err(invalid(field("behaviour"), "run_red needs a signal"));
                    };
                    let (phase, into) = plan.phase_at(a.at_s);
                    if phase != Phase::Red || into < 1.0 {
                        return Err(invalid(
                            field("at_s"),
                            format!(
                                "the signal at {} s is {phase:?}, {into:.1} s in; a red-light runner must cross at least 1 s into red",
                                a.at_s
                            ),
                        ));
                    }
                    if self.road.lanes[a.lane].direction != Direction::Away {
                        return Err(invalid(
                            field("lane"),
                            "the stop line is on the lanes going away",
                        ));
                    }
                }
                Behaviour::Stop => {
                    if a.stop_at_m.is_none() || a.dwell_s.is_none() {
                        return Err(invalid(
                            field("behaviour"),
                            "stop needs stop_at_m and dwell_s",
                        ));
                    }
                }
                Behaviour::Comply | Behaviour::WrongWay => {}
            }
        }
        Ok(())
    }
}

/// The named scenarios: (name, TOML).
pub const LIBRARY: &[(&str, &str)] = &[
    ("normal-flow", include_str!("../scenarios/normal-flow.toml")),
    ("red-light", include_str!("../scenarios/red-light.toml")),
    ("speeding", include_str!("../scenarios/speeding.toml")),
    ("wrong-way", include_str!("../scenarios/wrong-way.toml")),
    ("wrong-lane", include_str!("../scenarios/wrong-lane.toml")),
    (
        "illegal-stop",
        include_str!("../scenarios/illegal-stop.toml"),
    ),
    ("no-helmet", include_str!("../scenarios/no-helmet.toml")),
    (
        "dense-motorbikes",
        include_str!("../scenarios/dense-motorbikes.toml"),
    ),
    ("night", include_str!("../scenarios/night.toml")),
    ("rain-dusk", include_str!("../scenarios/rain-dusk.toml")),
];

#[cfg(test)]
mod tests;
