//! Image work around the models: boxes, crops, rectification from four corners, tensors.
//! Crops are resized with the same filter the training data was made with (triangle).

use image::{RgbImage, imageops};
use ndarray::Array4;
use protocol::geometry::{Point, rectify_rgb};

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

/// The part of `img` under `b`, resized to `w` × `h`; `None` when the box is empty.
pub fn crop_resize(img: &RgbImage, b: &BoxF, w: u32, h: u32) -> Option<RgbImage> {
    let x = b.x0.max(0.0).floor() as u32;
    let y = b.y0.max(0.0).floor() as u32;
    if x >= img.width() || y >= img.height() {
        return None;
    }
    let cw = (b.x1.min(img.width() as f32).ceil() as u32).saturating_sub(x);
    let ch = (b.y1.min(img.height() as f32).ceil() as u32).saturating_sub(y);
    if cw == 0 || ch == 0 {
        return None;
    }
    let view = imageops::crop_imm(img, x, y, cw, ch).to_image();
    Some(imageops::resize(
        &view,
        w,
        h,
        imageops::FilterType::Triangle,
    ))
}

/// Samples the quad `corners` (top-left, top-right, bottom-right, bottom-left) of `img` into a
/// `w` × `h` image, bilinear: the plate as if seen straight on.
pub fn rectify(img: &RgbImage, corners: &[Point; 4], w: u32, h: u32) -> Option<RgbImage> {
    let rgb = rectify_rgb(img.as_raw(), img.width(), img.height(), corners, w, h)?;
    RgbImage::from_raw(w, h, rgb)
}

/// A batch of equally sized images as an NCHW tensor, RGB, 0–1.
pub fn to_tensor(images: &[&RgbImage]) -> Array4<f32> {
    let (w, h) = images.first().map_or((0, 0), |i| i.dimensions());
    let mut t = Array4::<f32>::zeros((images.len(), 3, h as usize, w as usize));
    for (n, img) in images.iter().enumerate() {
        for (x, y, p) in img.enumerate_pixels() {
            for c in 0..3 {
                t[[n, c, y as usize, x as usize]] = f32::from(p.0[c]) / 255.0;
            }
        }
    }
    t
}
