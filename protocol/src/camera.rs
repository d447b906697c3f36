//! A camera's calibrated view, as an installer writes it into the edge agent's configuration
//! (and as central may one day push it on the `config` topic): the stop line, the speed trap,
//! the lanes with their direction and allowed classes, the no-stopping zones and the signal head.
//!
//! Everything is in pixels of the camera's full-resolution frame, except the speed trap's
//! distances and homography (road metres) and the calibration's road points.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    VehicleClass,
    geometry::{Homography, Point},
    wire::Invalid,
};

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
    /// The four road points the ground homography (`speed`) was made from, kept with it so
    /// that the set-up can be drawn again and corrected, and a second camera of the same road
    /// (a plate camera) calibrated on the same points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<GroundPoints>,
}

/// Four points marked on the road surface, where each appears on the picture and where it is
/// on the road as measured with a tape or a laser meter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroundPoints {
    /// P1–P4 on the picture, pixels.
    pub image: [Point; 4],
    /// P1–P4 on the road, metres: x across the road, y along it, from any corner chosen.
    pub road: [Point; 4],
}

impl std::str::FromStr for ZoneCase {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| {
                let all: Vec<&str> = Self::ALL.iter().map(|c| c.as_str()).collect();
                format!("unknown zone case `{name}`: one of {}", all.join(", "))
            })
    }
}

/// How far (pixels) a road point may come back from where it was marked through a homography
/// said to be made from it.
const CALIBRATION_TOLERANCE_PX: f32 = 1.0;

impl GroundPoints {
    /// The road → picture homography the points make; refused when a number is missing, when
    /// they are degenerate (three on one line, on the road or on the picture), or when they do
    /// not make one view of the road (a fold of the plane, points given out of order).
    pub fn homography(&self) -> Result<Homography, Invalid> {
        let bad = |why: &str| Invalid::new("calibration", why);
        if self
            .road
            .iter()
            .chain(&self.image)
            .flatten()
            .any(|v| !v.is_finite())
        {
            return Err(bad("every point needs both its numbers"));
        }
        let h = Homography::from_quads(&self.road, &self.image).ok_or_else(|| {
            bad("the four points are degenerate: no three on one line, on the road and on the picture")
        })?;
        if !self.made(&h) {
            return Err(bad("the four points do not make one view of the road"));
        }
        Ok(h)
    }

    /// Whether `h` takes each road point back where it was marked on the picture, all four
    /// on one side of the horizon: four points give a homography whatever their order, but
    /// points marked out of order (a bow-tie on the picture) make it fold the road over the
    /// horizon, some points seen in front of the camera and some behind.
    fn made(&self, h: &Homography) -> bool {
        let m = &h.0;
        let w = |p: &Point| m[2][0] * f64::from(p[0]) + m[2][1] * f64::from(p[1]) + m[2][2];
        let side = w(&self.road[0]).signum();
        self.road.iter().zip(&self.image).all(|(r, i)| {
            w(r).signum() == side
                && h.apply(*r).is_some_and(|back| {
                    (back[0] - i[0]).hypot(back[1] - i[1]) <= CALIBRATION_TOLERANCE_PX
                })
        })
    }
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

/// A no-stopping zone: where a vehicle standing longer than `max_dwell_s` is reported, and
/// what the sign or the place there forbids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    pub polygon: Vec<Point>,
    pub max_dwell_s: f64,
    /// The sign posted or the place the decree names; left out, the violation is reported and
    /// reviewed, but no fine can be proposed for it (the decree's point depends on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<ZoneCase>,
}

/// What a no-stopping zone forbids, by the sign posted or the place: the case of Decree
/// 168/2024/NĐ-CP a standstill in it is fined under (Điều 6 for cars, Điều 7 for motorbikes;
/// the fine schedule's `illegal_stopping` rows name their case). A camera sees a vehicle stand,
/// not whether its driver stopped briefly ("dừng xe") or parked ("đỗ xe"): where the decree
/// fines the two under different points, the standstill is taken as the lesser, stopping — but
/// where only parking is forbidden (a "Cấm đỗ xe" sign, the pavement) a standstill longer than
/// the zone's dwell is parking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ZoneCase {
    /// Biển "Cấm dừng xe và đỗ xe" (P.130): car Điều 6 khoản 2 điểm đ, motorbike Điều 7 khoản
    /// 2 điểm e.
    NoStoppingSign,
    /// Biển "Cấm đỗ xe" (P.131a): car Điều 6 khoản 3 điểm e, motorbike Điều 7 khoản 2 điểm e.
    NoParkingSign,
    /// Nơi đường bộ giao nhau, or within 5 m of its edge: car Điều 6 khoản 3 điểm đ, motorbike
    /// Điều 7 khoản 2 điểm e.
    Junction,
    /// Phần đường dành cho người đi bộ qua đường: car Điều 6 khoản 2 điểm đ, motorbike Điều 7
    /// khoản 2 điểm e.
    PedestrianCrossing,
    /// Điểm đón, trả khách: car Điều 6 khoản 3 điểm đ, motorbike Điều 7 khoản 2 điểm e.
    PickUpPoint,
    /// Trên cầu: car Điều 6 khoản 4 điểm b, motorbike Điều 7 khoản 3 điểm c.
    Bridge,
    /// Trong hầm đường bộ, not where the tunnel allows it: car Điều 6 khoản 4 điểm đ,
    /// motorbike Điều 7 khoản 4 điểm b.
    Tunnel,
    /// Vỉa hè, parking where the law does not allow it: car Điều 6 khoản 3 điểm e, motorbike
    /// Điều 7 khoản 2 điểm d.
    Pavement,
    /// Đường cao tốc, not where it allows it: car Điều 6 khoản 7 điểm c.
    Expressway,
}

impl ZoneCase {
    /// Every case, in the order the set-up page offers them.
    pub const ALL: [Self; 9] = [
        Self::NoStoppingSign,
        Self::NoParkingSign,
        Self::Junction,
        Self::PedestrianCrossing,
        Self::PickUpPoint,
        Self::Bridge,
        Self::Tunnel,
        Self::Pavement,
        Self::Expressway,
    ];

    /// Its name on the wire and in the fine schedule.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoStoppingSign => "no_stopping_sign",
            Self::NoParkingSign => "no_parking_sign",
            Self::Junction => "junction",
            Self::PedestrianCrossing => "pedestrian_crossing",
            Self::PickUpPoint => "pick_up_point",
            Self::Bridge => "bridge",
            Self::Tunnel => "tunnel",
            Self::Pavement => "pavement",
            Self::Expressway => "expressway",
        }
    }

    /// In Vietnamese, as the evidence and the notice say it.
    pub fn name_vi(self) -> &'static str {
        match self {
            Self::NoStoppingSign => "nơi có biển “Cấm dừng xe và đỗ xe”",
            Self::NoParkingSign => "nơi có biển “Cấm đỗ xe”",
            Self::Junction => "nơi đường bộ giao nhau",
            Self::PedestrianCrossing => "trên phần đường dành cho người đi bộ qua đường",
            Self::PickUpPoint => "tại điểm đón, trả khách",
            Self::Bridge => "trên cầu",
            Self::Tunnel => "trong hầm đường bộ không đúng nơi quy định",
            Self::Pavement => "trên vỉa hè trái quy định",
            Self::Expressway => "trên đường cao tốc không đúng nơi quy định",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Self::NoStoppingSign => "where a “no stopping or parking” sign stands",
            Self::NoParkingSign => "where a “no parking” sign stands",
            Self::Junction => "at a junction",
            Self::PedestrianCrossing => "on a pedestrian crossing",
            Self::PickUpPoint => "at a passenger pick-up point",
            Self::Bridge => "on a bridge",
            Self::Tunnel => "in a road tunnel, not where allowed",
            Self::Pavement => "on the pavement, not where allowed",
            Self::Expressway => "on an expressway, not where allowed",
        }
    }
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
    pub fn validate(&self) -> Result<(), Invalid> {
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
        if let Some(points) = &self.calibration {
            points.homography()?;
            match &self.speed {
                Some(SpeedTrapSpec::Homography(h)) if points.made(&Homography(*h)) => {}
                Some(SpeedTrapSpec::Homography(_)) => {
                    return Err(Invalid::new(
                        "speed.homography",
                        "is not the homography the calibration's four points make",
                    ));
                }
                _ => {
                    return Err(Invalid::new(
                        "calibration",
                        "needs the homography its four points make as `speed`",
                    ));
                }
            }
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

    #[test]
    fn the_calibration_is_kept_beside_the_homography_it_made() {
        let points = GroundPoints {
            image: [
                [400.0, 700.0],
                [900.0, 700.0],
                [820.0, 420.0],
                [480.0, 420.0],
            ],
            road: [[0.0, 0.0], [7.0, 0.0], [7.0, 20.0], [0.0, 20.0]],
        };
        let h = points.homography().expect("a view of the road");
        let g = CameraGeometry {
            speed: Some(SpeedTrapSpec::Homography(h.0)),
            calibration: Some(points),
            ..CameraGeometry::default()
        };
        assert!(g.validate().is_ok());
        // It reads back from the JSON central keeps and the TOML an installer writes.
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(serde_json::from_str::<CameraGeometry>(&json).unwrap(), g);
        // Left out when there is none: a geometry without it reads and writes as before.
        let plain = CameraGeometry {
            calibration: None,
            ..g.clone()
        };
        assert!(
            !serde_json::to_string(&plain)
                .unwrap()
                .contains("calibration")
        );

        // Points that do not agree with the homography beside them, or with none.
        let mut moved = g.clone();
        moved.calibration.as_mut().unwrap().road[2] = [7.0, 25.0];
        assert_eq!(moved.validate().unwrap_err().field, "speed.homography");
        let lines = CameraGeometry {
            speed: None,
            ..g.clone()
        };
        assert_eq!(lines.validate().unwrap_err().field, "calibration");
        // Three points on one line, and a fold (two points swapped on the picture only).
        let mut line = points;
        line.road[3] = [14.0, 0.0];
        assert!(line.homography().unwrap_err().reason.contains("degenerate"));
        let mut fold = points;
        fold.image.swap(2, 3);
        assert_eq!(
            fold.homography().map(|_| ()),
            Err(Invalid::new(
                "calibration",
                "the four points do not make one view of the road"
            ))
        );
        let mut blank = points;
        blank.road[0][1] = f32::NAN;
        assert!(
            blank
                .homography()
                .unwrap_err()
                .reason
                .contains("both its numbers")
        );
    }
}
