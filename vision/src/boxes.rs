//! Boxes in pixels, as detectors give them and trackers, rules and masks use them.

use protocol::geometry::Point;

/// An axis-aligned box in pixels: left, top, right, bottom.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BoxF {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl BoxF {
    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }

    /// The whole of a `w` × `h` image.
    pub fn whole(w: u32, h: u32) -> Self {
        Self {
            x0: 0.0,
            y0: 0.0,
            x1: w as f32,
            y1: h as f32,
        }
    }

    /// Grown by `share` of its size on every side, clipped to a `w` × `h` image.
    pub fn grown(&self, share: f32, w: u32, h: u32) -> Self {
        let (dx, dy) = (self.width() * share, self.height() * share);
        Self {
            x0: (self.x0 - dx).max(0.0),
            y0: (self.y0 - dy).max(0.0),
            x1: (self.x1 + dx).min(w as f32),
            y1: (self.y1 + dy).min(h as f32),
        }
    }

    /// The box around four points.
    pub fn around(points: &[Point; 4]) -> Self {
        let xs = points.map(|p| p[0]);
        let ys = points.map(|p| p[1]);
        Self {
            x0: xs.iter().copied().fold(f32::MAX, f32::min),
            y0: ys.iter().copied().fold(f32::MAX, f32::min),
            x1: xs.iter().copied().fold(f32::MIN, f32::max),
            y1: ys.iter().copied().fold(f32::MIN, f32::max),
        }
    }

    pub fn iou(&self, o: &Self) -> f32 {
        let ix = (self.x1.min(o.x1) - self.x0.max(o.x0)).max(0.0);
        let iy = (self.y1.min(o.y1) - self.y0.max(o.y0)).max(0.0);
        let inter = ix * iy;
        let union = self.width() * self.height() + o.width() * o.height() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}
