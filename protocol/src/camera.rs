//! A camera's calibrated view, as an installer writes it into the edge agent's configuration
//! (and as central may one day push it on the `config` topic): the stop line, the speed trap,
//! the lanes with their direction and allowed classes, the no-stopping zones and the signal head.
//!
//! Everything is in pixels of the camera's full-resolution frame, except the speed trap's
//! distances and homography (road metres).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{VehicleClass, geometry::Point};

/// The calibrated view of one camera.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CameraGeometry {
    pub stop_line: Option<LineSpec>,
    pub speed: Option<SpeedTrapSpec>,
    pub lanes: Vec<LaneSpec>,
    pub no_stopping: Vec<ZoneSpec>,
    /// Where the signal head's lamps are, for the colour classifier.
    pub signal_head: Option<SignalHeadSpec>,
}

/// A line with the side traffic comes from: `before` is any point on that side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineSpec {
    pub a: Point,
    pub b: Point,
    pub before: Point,
}

/// How speed is measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum SpeedTrapSpec {
    /// Two lines a known road distance apart.
    Lines {
        entry: LineSpec,
        exit: LineSpec,
        distance_m: f64,
    },
    /// The road → image homography (row-major, metres → pixels) from four calibrated points.
    Homography([[f64; 3]; 3]),
}

/// A lane: outline, legal direction of travel in the image, the classes allowed in it (empty:
/// all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LaneSpec {
    pub name: String,
    pub polygon: Vec<Point>,
    pub direction: [f32; 2],
    #[serde(default)]
    pub allowed: Vec<VehicleClass>,
}

/// A no-stopping zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    pub polygon: Vec<Point>,
    pub max_dwell_s: f64,
}

/// The three lamps of a signal head facing the camera: centres and radius, pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalHeadSpec {
    pub red: Point,
    pub amber: Point,
    pub green: Point,
    pub radius_px: f32,
}

impl CameraGeometry {
    /// Checks what serde cannot: finite numbers, polygons of three points or more, a non-zero
    /// direction. Returns the offending field, relative to the geometry.
    pub fn validate(&self) -> Result<(), crate::wire::Invalid> {
        use crate::wire::Invalid;
        let finite = |field: String, p: &[Point]| {
            if p.iter().flatten().all(|v| v.is_finite()) {
                Ok(())
            } else {
                Err(Invalid::new(field, "holds a number that is not finite"))
            }
        };
        let line = |field: &str, l: &LineSpec| finite(field.into(), &[l.a, l.b, l.before]);
        if let Some(l) = &self.stop_line {
            line("stop_line", l)?;
            if l.a == l.b {
                return Err(Invalid::new("stop_line", "has both ends at one point"));
            }
        }
        match &self.speed {
            Some(SpeedTrapSpec::Lines {
                entry,
                exit,
                distance_m,
            }) => {
                line("speed.lines.entry", entry)?;
                line("speed.lines.exit", exit)?;
                if !(distance_m.is_finite() && *distance_m > 0.0) {
                    return Err(Invalid::new("speed.lines.distance_m", "must be above 0"));
                }
            }
            Some(SpeedTrapSpec::Homography(h)) if !h.iter().flatten().all(|v| v.is_finite()) => {
                return Err(Invalid::new(
                    "speed.homography",
                    "holds a non-finite number",
                ));
            }
            _ => {}
        }
        for (i, l) in self.lanes.iter().enumerate() {
            if l.polygon.len() < 3 {
                return Err(Invalid::new(
                    format!("lanes[{i}].polygon"),
                    "needs 3 points or more",
                ));
            }
            finite(format!("lanes[{i}].polygon"), &l.polygon)?;
            finite(format!("lanes[{i}].direction"), &[l.direction])?;
            if l.direction == [0.0, 0.0] {
                return Err(Invalid::new(format!("lanes[{i}].direction"), "is zero"));
            }
        }
        for (i, z) in self.no_stopping.iter().enumerate() {
            if z.polygon.len() < 3 {
                return Err(Invalid::new(
                    format!("no_stopping[{i}].polygon"),
                    "needs 3 points or more",
                ));
            }
            finite(format!("no_stopping[{i}].polygon"), &z.polygon)?;
            if !(z.max_dwell_s.is_finite() && z.max_dwell_s > 0.0) {
                return Err(Invalid::new(
                    format!("no_stopping[{i}].max_dwell_s"),
                    "must be above 0",
                ));
            }
        }
        if let Some(s) = &self.signal_head {
            finite("signal_head".into(), &[s.red, s.amber, s.green])?;
            if !(s.radius_px.is_finite() && s.radius_px >= 1.0) {
                return Err(Invalid::new("signal_head.radius_px", "must be 1 or more"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_geometry_reads_back_from_toml_and_bad_parts_are_named() {
        let text = r#"
            stop_line = { a = [0.0, 400.0], b = [1280.0, 400.0], before = [640.0, 600.0] }
            speed = { homography = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]] }
            [[lanes]]
            name = "1"
            polygon = [[0.0, 720.0], [600.0, 720.0], [620.0, 300.0]]
            direction = [0.0, -1.0]
            allowed = ["car", "bus"]
        "#;
        let g: CameraGeometry = toml::from_str(text).expect("parses");
        assert_eq!(g.lanes[0].allowed, [VehicleClass::Car, VehicleClass::Bus]);
        assert!(g.validate().is_ok());
        let mut bad = g.clone();
        bad.lanes[0].polygon.pop();
        assert_eq!(
            bad.validate().expect_err("two points").field,
            "lanes[0].polygon"
        );
        let mut bad = g;
        bad.lanes[0].direction = [0.0, 0.0];
        assert_eq!(
            bad.validate().expect_err("zero").field,
            "lanes[0].direction"
        );
    }
}
