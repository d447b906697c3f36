//! Small geometry the renderer needs: 3-vectors, polygon tests; homographies come from
//! `protocol::geometry`.

use std::ops::{Add, Mul, Neg, Sub};

/// A point or direction in the world, metres: `x` to the right of the road's axis, `y` along
/// the road away from the camera's pole, `z` up.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vec3 {
    pub x: f32,
    pub y: f32,
    pub z: f32,
}

impl Vec3 {
    pub const fn new(x: f32, y: f32, z: f32) -> Self {
        Self { x, y, z }
    }

    pub fn dot(self, o: Self) -> f32 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }

    pub fn cross(self, o: Self) -> Self {
        Self::new(
            self.y * o.z - self.z * o.y,
            self.z * o.x - self.x * o.z,
            self.x * o.y - self.y * o.x,
        )
    }

    pub fn length(self) -> f32 {
        self.dot(self).sqrt()
    }

    pub fn normalized(self) -> Self {
        let l = self.length();
        if l > 0.0 { self * (1.0 / l) } else { self }
    }
}

impl Add for Vec3 {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}

impl Sub for Vec3 {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}

impl Mul<f32> for Vec3 {
    type Output = Self;
    fn mul(self, k: f32) -> Self {
        Self::new(self.x * k, self.y * k, self.z * k)
    }
}

impl Neg for Vec3 {
    type Output = Self;
    fn neg(self) -> Self {
        Self::new(-self.x, -self.y, -self.z)
    }
}

/// A point in the image, pixels (`x` right, `y` down).
pub type Px = [f32; 2];

pub use protocol::geometry::{Homography, point_in_polygon};

/// The convex hull of `points` (Andrew's monotone chain), counter-clockwise in image axes.
pub fn convex_hull(points: &[Px]) -> Vec<Px> {
    let mut pts: Vec<Px> = points.to_vec();
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: Px, a: Px, b: Px| (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    let mut hull: Vec<Px> = Vec::with_capacity(pts.len() * 2);
    for &p in &pts {
        while hull.len() >= 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
            hull.pop();
        }
        hull.push(p);
    }
    let lower = hull.len() + 1;
    for &p in pts.iter().rev().skip(1) {
        while hull.len() >= lower && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
            hull.pop();
        }
        hull.push(p);
    }
    hull.pop();
    hull
}

/// An axis-aligned box in pixels: left, top, right, bottom.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BoxPx {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl BoxPx {
    pub fn around(points: &[Px]) -> Option<Self> {
        let first = points.first()?;
        Some(Self::spanning(*first, points))
    }

    /// The smallest box holding a quadrilateral's corners.
    pub fn around_quad(quad: &[Px; 4]) -> Self {
        Self::spanning(quad[0], quad)
    }

    fn spanning(first: Px, points: &[Px]) -> Self {
        let mut b = Self {
            x0: first[0],
            y0: first[1],
            x1: first[0],
            y1: first[1],
        };
        for p in points {
            b.x0 = b.x0.min(p[0]);
            b.y0 = b.y0.min(p[1]);
            b.x1 = b.x1.max(p[0]);
            b.y1 = b.y1.max(p[1]);
        }
        b
    }

    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }

    pub fn area(&self) -> f32 {
        self.width().max(0.0) * self.height().max(0.0)
    }

    /// The part of the box inside a `w` × `h` image, or `None` when nothing is.
    pub fn clipped(&self, w: f32, h: f32) -> Option<Self> {
        let b = Self {
            x0: self.x0.max(0.0),
            y0: self.y0.max(0.0),
            x1: self.x1.min(w),
            y1: self.y1.min(h),
        };
        (b.x1 > b.x0 && b.y1 > b.y0).then_some(b)
    }

    pub fn iou(&self, o: &Self) -> f32 {
        let ix = (self.x1.min(o.x1) - self.x0.max(o.x0)).max(0.0);
        let iy = (self.y1.min(o.y1) - self.y0.max(o.y0)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + o.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hull_and_containment() {
        let pts = [[0.0, 0.0], [4.0, 0.0], [2.0, 1.0], [4.0, 4.0], [0.0, 4.0]];
        let hull = convex_hull(&pts);
        assert_eq!(hull.len(), 4);
        assert!(point_in_polygon([2.0, 2.0], &hull));
        assert!(!point_in_polygon([5.0, 2.0], &hull));
    }
}
