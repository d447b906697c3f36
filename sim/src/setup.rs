//! The calibrated view an installer would write for a scenario's camera: stop line, speed trap
//! (the ground homography), lanes with direction and allowed classes, no-stopping zones and the
//! signal head's lamps, in the image's pixels. The edge agent reads it as its camera geometry,
//! so tests and the demo run the agent on the sim exactly as it runs on a real camera.

use protocol::{
    camera::{CameraGeometry, LaneSpec, LineSpec, SignalHeadSpec, SpeedTrapSpec, ZoneSpec},
    geometry::Point,
};

use crate::{Renderer, World, geom::Vec3, scenario::Direction};

/// The shipped detector a simulated junction is watched with (`models.vehicle_detector`): the
/// one trained on the simulator. The default, `vehicle_det`, is trained for real streets and
/// misjudges the simulator's classes (models/README.md).
pub const DETECTOR: &str = "vehicle_det_sim";

fn project(world: &World, x: f32, y: f32) -> Option<Point> {
    world.camera.project(Vec3::new(x, y, 0.0))
}

/// The geometry of the scenario's camera; parts that fall outside the camera's view are left
/// out.
pub fn camera_geometry(renderer: &Renderer) -> CameraGeometry {
    let world = renderer.world();
    let road = &world.spec.road;
    let half = road.width_m() / 2.0;
    let near = world.camera.near_ground_y() + 1.0;
    let quad = |x0: f32, x1: f32, y0: f32, y1: f32| -> Option<Vec<Point>> {
        Some(vec![
            project(world, x0, y0)?,
            project(world, x1, y0)?,
            project(world, x1, y1)?,
            project(world, x0, y1)?,
        ])
    };
    let stop_line = road.stop_line_m.and_then(|y| {
        Some(LineSpec {
            a: project(world, -half, y)?,
            b: project(world, half, y)?,
            before: project(world, 0.0, y - 5.0)?,
        })
    });
    let lanes = road
        .lanes
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let c = road.lane_centre_x(i);
            let w = road.lane_width_m / 2.0;
            let far = road.stop_line_m.unwrap_or(road.far_m);
            let (a, b) = (project(world, c, near)?, project(world, c, near + 10.0)?);
            let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
            let away = [(b[0] - a[0]) / len, (b[1] - a[1]) / len];
            Some(LaneSpec {
                name: (i + 1).to_string(),
                polygon: quad(c - w, c + w, near, far)?,
                direction: if l.direction == Direction::Away {
                    away
                } else {
                    [-away[0], -away[1]]
                },
                allowed: l.allowed.iter().filter_map(|c| c.vehicle()).collect(),
            })
        })
        .collect();
    let no_stopping = road
        .no_stopping
        .iter()
        .filter_map(|z| {
            let c = road.lane_centre_x(z.lane);
            let w = road.lane_width_m / 2.0;
            Some(ZoneSpec {
                polygon: quad(c - w, c + w, z.from_m, z.to_m)?,
                max_dwell_s: f64::from(z.max_dwell_s),
                // The simulator's zones stand for a "no stopping or parking" sign.
                case: Some(protocol::camera::ZoneCase::NoStoppingSign),
            })
        })
        .collect();
    CameraGeometry {
        stop_line,
        speed: world
            .camera
            .ground_homography()
            .map(|h| SpeedTrapSpec::Homography(h.0)),
        lanes,
        no_stopping,
        signal_head: renderer.signal_head(),
        calibration: None,
    }
}

impl Renderer<'_> {
    /// The signal head's lamps, when the scenario has a signal and it is in view.
    pub fn signal_head(&self) -> Option<SignalHeadSpec> {
        use crate::scenario::Phase;
        let lamp = |phase: Phase| self.lamps().iter().find(|l| l.2 == phase);
        let (red, amber, green) = (lamp(Phase::Red)?, lamp(Phase::Amber)?, lamp(Phase::Green)?);
        let (w, h) = (
            self.world().camera.width() as f32,
            self.world().camera.height() as f32,
        );
        [red, amber, green]
            .iter()
            .all(|l| (0.0..w).contains(&l.0[0]) && (0.0..h).contains(&l.0[1]))
            .then_some(SignalHeadSpec {
                red: red.0,
                amber: amber.0,
                green: green.0,
                radius_px: red.1,
            })
    }
}

/// One camera of the edge agent's configuration (`[[cameras]]`), as the agent reads it.
#[derive(Debug, serde::Serialize)]
struct CameraTable {
    id: String,
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plate_camera: Option<String>,
    detect_fps: f64,
    speed_limit_kmh: f64,
    speed_limits_kmh: std::collections::BTreeMap<protocol::VehicleClass, f64>,
    signal: SignalTable,
    site: protocol::Site,
    geometry: CameraGeometry,
}

#[derive(Debug, serde::Serialize)]
struct SignalTable {
    source: &'static str,
}

#[derive(Debug, serde::Serialize)]
struct Cameras {
    cameras: Vec<CameraTable>,
}

/// The scenario's camera as a `[[cameras]]` table of the edge agent's TOML configuration:
/// its stream at `source`, its geometry, limits and signal (read from the lamps).
pub fn camera_toml(renderer: &Renderer, id: &str, source: &str) -> Result<String, String> {
    to_toml(vec![table(renderer, id, source)])
}

/// The scenario's overview camera and its plate camera (the same traffic seen through
/// `plates`, a view of [`World::plate_view`]) as two `[[cameras]]` tables: the overview judges
/// and takes its plates from the plate camera, which needs only its ground calibration.
pub fn paired_toml(
    overview: &Renderer,
    plates: &Renderer,
    id: &str,
    source: &str,
    plate_source: &str,
) -> Result<String, String> {
    let plate_id = format!("{id}-plates");
    let mut judge = table(overview, id, source);
    judge.plate_camera = Some(plate_id.clone());
    let mut reader = table(plates, &plate_id, plate_source);
    reader.role = Some("plates");
    reader.signal.source = "none";
    reader.geometry = CameraGeometry {
        speed: reader.geometry.speed,
        ..CameraGeometry::default()
    };
    to_toml(vec![judge, reader])
}

fn to_toml(cameras: Vec<CameraTable>) -> Result<String, String> {
    toml::to_string(&Cameras { cameras }).map_err(|e| e.to_string())
}

fn table(renderer: &Renderer, id: &str, source: &str) -> CameraTable {
    let spec = &renderer.world().spec;
    let geometry = camera_geometry(renderer);
    CameraTable {
        id: id.into(),
        source: source.into(),
        role: None,
        plate_camera: None,
        detect_fps: 8.0,
        speed_limit_kmh: f64::from(spec.road.speed_limit_kmh),
        speed_limits_kmh: spec
            .road
            .speed_limits
            .iter()
            .filter_map(|(c, l)| Some((c.vehicle()?, f64::from(*l))))
            .collect(),
        signal: SignalTable {
            source: if geometry.signal_head.is_some() {
                "lamps"
            } else {
                "none"
            },
        },
        site: protocol::Site {
            name: format!("Mô phỏng: {}", spec.name),
            latitude: 10.8016,
            longitude: 106.7111,
            address: "Ngã tư Hàng Xanh, Bình Thạnh, TP. Hồ Chí Minh".into(),
            direction: "hướng Điện Biên Phủ → Xô Viết Nghệ Tĩnh".into(),
        },
        geometry,
    }
}
