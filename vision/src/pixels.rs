//! Pixel work around the models: sampling between pixel centres, crops, rectification from
//! four corners, tensors. Crops are resized with the same filter the training data was made
//! with (triangle); rectification samples bilinearly, the same in the renderer that makes
//! training plates and in the reader that reads real ones.

use image::{RgbImage, imageops};
use ndarray::Array4;
use protocol::geometry::{Homography, Point};

use crate::BoxF;

/// The colour at (`x`, `y`) of a packed RGB image (`width` × `height`, 3 bytes a pixel),
/// bilinear between the four nearest pixel centres, edges clamped.
pub fn bilinear_rgb(rgb: &[u8], width: u32, height: u32, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (width as i64, height as i64);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as i64, y0 as i64);
    let at = |xx: i64, yy: i64| {
        let i = ((yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)) * 3) as usize;
        [rgb[i], rgb[i + 1], rgb[i + 2]]
    };
    let (a, b, c, d) = (
        at(x0, y0),
        at(x0 + 1, y0),
        at(x0, y0 + 1),
        at(x0 + 1, y0 + 1),
    );
    [0, 1, 2].map(|i| {
        let top = f32::from(a[i]) * (1.0 - fx) + f32::from(b[i]) * fx;
        let bottom = f32::from(c[i]) * (1.0 - fx) + f32::from(d[i]) * fx;
        top * (1.0 - fy) + bottom * fy
    })
}

/// Rectification: the quad `corners` (top-left, top-right, bottom-right, bottom-left) of a
/// packed RGB image sampled into an `out_w` × `out_h` one, as if seen straight on. `None` when
/// the corners are degenerate or the image is empty.
pub fn rectify_rgb(
    rgb: &[u8],
    width: u32,
    height: u32,
    corners: &[Point; 4],
    out_w: u32,
    out_h: u32,
) -> Option<Vec<u8>> {
    if width == 0 || height == 0 || rgb.len() < (width * height * 3) as usize {
        return None;
    }
    let dst = [
        [0.0, 0.0],
        [out_w as f32, 0.0],
        [out_w as f32, out_h as f32],
        [0.0, out_h as f32],
    ];
    let to_src = Homography::from_quads(&dst, corners)?;
    let mut out = Vec::with_capacity((out_w * out_h * 3) as usize);
    for y in 0..out_h {
        for x in 0..out_w {
            let p = to_src.apply([x as f32 + 0.5, y as f32 + 0.5])?;
            let v = bilinear_rgb(rgb, width, height, p[0] - 0.5, p[1] - 0.5);
            out.extend(v.map(|c| c.round().clamp(0.0, 255.0) as u8));
        }
    }
    Some(out)
}

/// The whole pixels under `b` in a `width` × `height` image, as left, top, width, height;
/// `None` when none are.
pub fn pixels_under(b: &BoxF, width: u32, height: u32) -> Option<(u32, u32, u32, u32)> {
    let x = b.x0.max(0.0).floor() as u32;
    let y = b.y0.max(0.0).floor() as u32;
    if x >= width || y >= height {
        return None;
    }
    let cw = (b.x1.min(width as f32).ceil() as u32).saturating_sub(x);
    let ch = (b.y1.min(height as f32).ceil() as u32).saturating_sub(y);
    (cw > 0 && ch > 0).then_some((x, y, cw, ch))
}

/// The part of `img` under `b`, resized to `w` × `h`; `None` when the box is empty.
pub fn crop_resize(img: &RgbImage, b: &BoxF, w: u32, h: u32) -> Option<RgbImage> {
    let (x, y, cw, ch) = pixels_under(b, img.width(), img.height())?;
    Some(resize(
        &imageops::crop_imm(img, x, y, cw, ch).to_image(),
        w,
        h,
    ))
}

/// `img` resized to `w` × `h` with the filter training crops were made with.
pub fn resize(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    imageops::resize(img, w, h, imageops::FilterType::Triangle)
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
