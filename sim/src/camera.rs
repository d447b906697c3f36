//! A pole-mounted pinhole camera looking down the road: a real projection of the ground plane,
//! so distances (and so speeds) measured in the image through the same model are true.

use serde::{Deserialize, Serialize};

use crate::geom::{Homography, Px, Vec3};

/// Where the camera is and how it sees; the scenario file's `[camera]` table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CameraSpec {
    /// Height of the lens above the road, metres.
    pub height_m: f32,
    /// Downward tilt from the horizontal, degrees.
    pub tilt_deg: f32,
    /// Focal length in pixels (`f = width / (2 tan(hfov / 2))`).
    pub focal_px: f32,
    /// Offset of the pole from the road's axis, metres (positive: to the right of a camera
    /// looking along the road).
    pub lateral_m: f32,
    /// Where the pole stands along the road, metres from the overview camera's pole (0 for the
    /// overview camera itself).
    #[serde(skip_serializing_if = "is_zero")]
    pub position_m: f32,
    /// Which way the camera looks along the road.
    #[serde(skip_serializing_if = "Facing::is_along")]
    pub facing: Facing,
    /// Image width and height, pixels.
    pub width: u32,
    pub height: u32,
    /// The camera's own shutter time, milliseconds (a plate camera's is short, against motion
    /// blur); none: the scenario's `conditions.shutter_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutter_ms: Option<f32>,
}

/// Which way a camera looks along the road.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Facing {
    /// The way road distances grow: at the backs of traffic going away, the fronts of traffic
    /// coming toward it.
    #[default]
    Along,
    /// Back toward the road's start: at the backs of traffic coming toward the overview camera
    /// (a plate camera for wrong-way riders, whose only plate is at the rear).
    Back,
}

impl Facing {
    fn is_along(&self) -> bool {
        *self == Facing::Along
    }

    /// +1 along the road, -1 back.
    pub fn sign(self) -> f32 {
        match self {
            Facing::Along => 1.0,
            Facing::Back => -1.0,
        }
    }
}

fn is_zero(v: &f32) -> bool {
    *v == 0.0
}

impl Default for CameraSpec {
    fn default() -> Self {
        Self {
            height_m: 6.5,
            tilt_deg: 13.0,
            focal_px: 1150.0,
            lateral_m: 0.0,
            position_m: 0.0,
            facing: Facing::Along,
            width: 1280,
            height: 720,
            shutter_ms: None,
        }
    }
}

/// The projection of one [`CameraSpec`].
#[derive(Debug, Clone, Copy)]
pub struct Camera {
    spec: CameraSpec,
    origin: Vec3,
    right: Vec3,
    down: Vec3,
    forward: Vec3,
    cx: f32,
    cy: f32,
}

/// Nearest depth (metres along the optical axis) that is drawn.
pub const NEAR_M: f32 = 0.5;

impl Camera {
    pub fn new(spec: CameraSpec) -> Self {
        let t = spec.tilt_deg.to_radians();
        let s = spec.facing.sign();
        let forward = Vec3::new(0.0, s * t.cos(), -t.sin());
        let right = Vec3::new(s, 0.0, 0.0);
        let down = forward.cross(right);
        Self {
            spec,
            origin: Vec3::new(spec.lateral_m, spec.position_m, spec.height_m),
            right,
            down,
            forward,
            cx: spec.width as f32 / 2.0,
            cy: spec.height as f32 / 2.0,
        }
    }

    pub fn spec(&self) -> &CameraSpec {
        &self.spec
    }

    pub fn width(&self) -> u32 {
        self.spec.width
    }

    pub fn height(&self) -> u32 {
        self.spec.height
    }

    pub fn position(&self) -> Vec3 {
        self.origin
    }

    /// Distance of `p` along the optical axis.
    pub fn depth(&self, p: Vec3) -> f32 {
        (p - self.origin).dot(self.forward)
    }

    /// The pixel `p` projects to, or `None` when it is behind the near plane.
    pub fn project(&self, p: Vec3) -> Option<Px> {
        let d = p - self.origin;
        let z = d.dot(self.forward);
        if z < NEAR_M {
            return None;
        }
        let f = self.spec.focal_px;
        Some([
            self.cx + f * d.dot(self.right) / z,
            self.cy + f * d.dot(self.down) / z,
        ])
    }

    /// Pixels per metre at depth `z` (for sizes of round things such as heads and lamps).
    pub fn scale_at(&self, p: Vec3) -> f32 {
        self.spec.focal_px / self.depth(p).max(NEAR_M)
    }

    /// The point of the road (z = 0) seen at pixel `px`, or `None` above the horizon.
    pub fn ground_at(&self, px: Px) -> Option<[f32; 2]> {
        let f = self.spec.focal_px;
        let ray = self.forward
            + self.right * ((px[0] - self.cx) / f)
            + self.down * ((px[1] - self.cy) / f);
        if ray.z >= -1e-6 {
            return None;
        }
        let k = -self.origin.z / ray.z;
        let g = self.origin + ray * k;
        Some([g.x, g.y])
    }

    /// The road distance `y` seen on image row `v` (independent of the column: the camera has
    /// no pan or roll), or `None` above the horizon.
    pub fn ground_y_at_row(&self, v: f32) -> Option<f32> {
        self.ground_at([self.cx, v]).map(|g| g[1])
    }

    /// The image row of the horizon.
    pub fn horizon_row(&self) -> f32 {
        self.cy - self.spec.focal_px * self.spec.tilt_deg.to_radians().tan()
    }

    /// The homography from road coordinates (x, y metres) to pixels: what an installer
    /// calibrates from four marked points; the edge agent's speed rule can use it.
    pub fn ground_homography(&self) -> Option<Homography> {
        let s = self.spec.facing.sign();
        let ys = [
            self.near_ground_y() + 2.0 * s,
            self.near_ground_y() + 30.0 * s,
        ];
        let src = [[-3.0, ys[0]], [3.0, ys[0]], [3.0, ys[1]], [-3.0, ys[1]]];
        let mut dst = [[0.0; 2]; 4];
        for (d, s) in dst.iter_mut().zip(&src) {
            *d = self.project(Vec3::new(s[0], s[1], 0.0))?;
        }
        Homography::from_quads(&src, &dst)
    }

    /// The road distance seen at the bottom edge of the image.
    pub fn near_ground_y(&self) -> f32 {
        self.ground_y_at_row(self.spec.height as f32)
            .unwrap_or(self.spec.position_m)
    }

    /// The stretch of road (`y` from, to) worth drawing for this camera: from just below the
    /// image's bottom edge to `far_m` when it looks along the road, to `far_m` behind it when
    /// it looks back.
    pub fn ground_span(&self, far_m: f32) -> (f32, f32) {
        let near = self.near_ground_y();
        match self.spec.facing {
            Facing::Along => ((near - 10.0).max(0.5), far_m),
            Facing::Back => (self.spec.position_m - far_m, near + 10.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ground_points_round_trip() {
        let cam = Camera::new(CameraSpec::default());
        for (x, y) in [(0.0, 20.0), (-5.0, 35.0), (4.0, 60.0)] {
            let px = cam.project(Vec3::new(x, y, 0.0)).unwrap();
            let g = cam.ground_at(px).unwrap();
            assert!((g[0] - x).abs() < 1e-3 && (g[1] - y).abs() < 1e-2, "{g:?}");
            assert!((cam.ground_y_at_row(px[1]).unwrap() - y).abs() < 1e-2);
        }
    }

    #[test]
    fn the_horizon_is_where_far_points_go() {
        let cam = Camera::new(CameraSpec::default());
        let far = cam.project(Vec3::new(0.0, 1e5, 0.0)).unwrap();
        assert!((far[1] - cam.horizon_row()).abs() < 0.5);
        assert!(cam.ground_at([640.0, cam.horizon_row() - 5.0]).is_none());
    }

    #[test]
    fn a_camera_looking_back_sees_the_road_behind_it() {
        let cam = Camera::new(CameraSpec {
            position_m: 45.0,
            facing: Facing::Back,
            lateral_m: 1.5,
            ..CameraSpec::default()
        });
        // Ahead of it is toward the road's start; beyond its pole is behind it.
        assert!(cam.project(Vec3::new(0.0, 60.0, 0.0)).is_none());
        let near = cam.near_ground_y();
        assert!(near < 45.0 && near > 15.0, "{near}");
        let (from, to) = cam.ground_span(160.0);
        assert!(from < 0.0 && to > near && to < 45.0, "{from} {to}");
        // The road's right side (+x) is on the image's left.
        let left = cam.project(Vec3::new(3.0, 25.0, 0.0)).unwrap();
        let right = cam.project(Vec3::new(-3.0, 25.0, 0.0)).unwrap();
        assert!(left[0] < right[0]);
        for (x, y) in [(0.0, 30.0), (-2.0, 20.0), (3.0, 5.0)] {
            let px = cam.project(Vec3::new(x, y, 0.0)).unwrap();
            let g = cam.ground_at(px).unwrap();
            assert!((g[0] - x).abs() < 1e-3 && (g[1] - y).abs() < 1e-2, "{g:?}");
        }
        let h = cam.ground_homography().unwrap();
        let p = h.apply([1.5, 20.0]).unwrap();
        let q = cam.project(Vec3::new(1.5, 20.0, 0.0)).unwrap();
        assert!((p[0] - q[0]).abs() < 0.05 && (p[1] - q[1]).abs() < 0.05);
        // Farther down the road is higher in the image: toward the start.
        let far = cam.project(Vec3::new(0.0, 5.0, 0.0)).unwrap();
        let close = cam.project(Vec3::new(0.0, 30.0, 0.0)).unwrap();
        assert!(far[1] < close[1]);
    }

    #[test]
    fn the_ground_homography_agrees_with_the_projection() {
        let cam = Camera::new(CameraSpec {
            lateral_m: 2.0,
            ..CameraSpec::default()
        });
        let h = cam.ground_homography().unwrap();
        let p = h.apply([1.5, 25.0]).unwrap();
        let q = cam.project(Vec3::new(1.5, 25.0, 0.0)).unwrap();
        assert!((p[0] - q[0]).abs() < 0.05 && (p[1] - q[1]).abs() < 0.05);
    }
}
