//! Decoded pictures as decoders give them, and RGB only where something needs it.
//!
//! A camera's decoder gives 4:2:0 planes: luma at full size, the two chroma planes at half size
//! each way (I420 in software, NV12 from hardware decoders). Converting a whole 1080p frame to
//! RGB costs more than sampling the detector's input from the planes directly, and most frames
//! are never seen whole by anything else. So a [`Picture`] keeps the planes, the detector samples
//! them through [`Pixels::sample_grid`], crops (vehicle views, the helmet classifier, the signal
//! head) are converted on their own, and the whole frame becomes RGB at most once, when an
//! evidence image or a snapshot needs it.
//!
//! Conversion follows the stream's colorimetry as the decoder states it: the matrix (BT.601,
//! BT.709, BT.2020 by their luma weights), limited or full range, and where chroma samples sit
//! relative to luma (co-sited or between). Chroma is interpolated bilinearly, as GStreamer's
//! `videoconvert` upsamples it, so the detector sees what it saw when frames came as RGB, within
//! rounding (tested against `videoconvert` in the edge agent).

use std::sync::OnceLock;

use image::RgbImage;

/// How a stream's Y′CbCr maps to R′G′B′: the matrix by its luma weights, and the range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Colour {
    /// The red weight of luma (0.299 for BT.601, 0.2126 for BT.709, 0.2627 for BT.2020).
    pub kr: f32,
    /// The blue weight of luma (0.114, 0.0722, 0.0593).
    pub kb: f32,
    /// Full range (0–255) rather than the studio range (luma 16–235, chroma 16–240).
    pub full_range: bool,
}

impl Colour {
    /// ITU-R BT.601, studio range: standard-definition video.
    pub const BT601: Self = Self {
        kr: 0.299,
        kb: 0.114,
        full_range: false,
    };
    /// ITU-R BT.709, studio range: what HD cameras send.
    pub const BT709: Self = Self {
        kr: 0.2126,
        kb: 0.0722,
        full_range: false,
    };
    /// ITU-R BT.2020 (non-constant luminance), studio range.
    pub const BT2020: Self = Self {
        kr: 0.2627,
        kb: 0.0593,
        full_range: false,
    };

    /// The same matrix, full range.
    pub fn full(self) -> Self {
        Self {
            full_range: true,
            ..self
        }
    }

    fn coefficients(self) -> Coefficients {
        let kg = 1.0 - self.kr - self.kb;
        let (y_scale, y_offset, c_scale) = if self.full_range {
            (1.0, 0.0, 1.0)
        } else {
            (255.0 / 219.0, 16.0, 255.0 / 224.0)
        };
        Coefficients {
            y_scale,
            y_offset,
            r_v: 2.0 * (1.0 - self.kr) * c_scale,
            g_u: -2.0 * self.kb * (1.0 - self.kb) / kg * c_scale,
            g_v: -2.0 * self.kr * (1.0 - self.kr) / kg * c_scale,
            b_u: 2.0 * (1.0 - self.kb) * c_scale,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Coefficients {
    y_scale: f32,
    y_offset: f32,
    r_v: f32,
    g_u: f32,
    g_v: f32,
    b_u: f32,
}

impl Coefficients {
    /// R′G′B′ of one Y′CbCr sample, 0–255, clamped.
    #[inline]
    fn rgb(&self, y: f32, u: f32, v: f32) -> [f32; 3] {
        let l = (y - self.y_offset) * self.y_scale;
        let (u, v) = (u - 128.0, v - 128.0);
        [
            (l + self.r_v * v).clamp(0.0, 255.0),
            (l + self.g_u * u + self.g_v * v).clamp(0.0, 255.0),
            (l + self.b_u * u).clamp(0.0, 255.0),
        ]
    }
}

/// Where chroma samples sit relative to luma samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Siting {
    /// On the left luma sample of each pair (MPEG-2, H.264's default) rather than between the two.
    pub cosited_x: bool,
    /// On the upper luma sample of each pair rather than between the two.
    pub cosited_y: bool,
}

impl Siting {
    /// MPEG-2 and H.264's default: co-sited horizontally, between rows vertically.
    pub const MPEG2: Self = Self {
        cosited_x: true,
        cosited_y: false,
    };
    /// JPEG's: between the luma samples both ways.
    pub const CENTRED: Self = Self {
        cosited_x: false,
        cosited_y: false,
    };
}

/// An 8-bit 4:2:0 picture in three tight planes.
#[derive(Debug, Clone)]
pub struct Yuv420 {
    width: u32,
    height: u32,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    colour: Colour,
    coefficients: Coefficients,
    siting: Siting,
}

/// Why planes do not make a picture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {width}×{height} 4:2:0 picture needs planes of {luma} and {chroma} bytes")]
pub struct PlaneSizes {
    pub width: u32,
    pub height: u32,
    pub luma: usize,
    pub chroma: usize,
}

impl Yuv420 {
    /// The size of each chroma plane of a `width` × `height` picture.
    pub fn chroma_size(width: u32, height: u32) -> (u32, u32) {
        (width.div_ceil(2), height.div_ceil(2))
    }

    /// A picture from tight planes: `y` of `width` × `height` bytes, `u` and `v` of
    /// [`Self::chroma_size`] each.
    pub fn new(
        (width, height): (u32, u32),
        [y, u, v]: [Vec<u8>; 3],
        colour: Colour,
        siting: Siting,
    ) -> Result<Self, PlaneSizes> {
        let (cw, ch) = Self::chroma_size(width, height);
        let (luma, chroma) = (width as usize * height as usize, cw as usize * ch as usize);
        if y.len() != luma || u.len() != chroma || v.len() != chroma {
            return Err(PlaneSizes {
                width,
                height,
                luma,
                chroma,
            });
        }
        Ok(Self {
            width,
            height,
            y,
            u,
            v,
            colour,
            coefficients: colour.coefficients(),
            siting,
        })
    }

    /// An RGB picture as an encoder would store it: each chroma sample the mean of the pixels
    /// it covers (centred siting). For tests and stills; not a colour-exact encoder.
    pub fn from_rgb(img: &RgbImage, colour: Colour) -> Self {
        let (w, h) = img.dimensions();
        let (cw, ch) = Self::chroma_size(w, h);
        let c = colour.coefficients();
        let kg = 1.0 - colour.kr - colour.kb;
        let yuv_of = |p: &image::Rgb<u8>| {
            let [r, g, b] = p.0.map(f32::from);
            let l = colour.kr * r + kg * g + colour.kb * b;
            let y = l / c.y_scale + c.y_offset;
            let u = (b - l) / c.b_u + 128.0;
            let v = (r - l) / c.r_v + 128.0;
            [y, u, v]
        };
        let byte = |x: f32| x.round().clamp(0.0, 255.0) as u8;
        let y = img.pixels().map(|p| byte(yuv_of(p)[0])).collect();
        let (mut u, mut v) = (Vec::new(), Vec::new());
        for cy in 0..ch {
            for cx in 0..cw {
                let (mut su, mut sv, mut n) = (0.0, 0.0, 0.0);
                for yy in (2 * cy)..(2 * cy + 2).min(h) {
                    for xx in (2 * cx)..(2 * cx + 2).min(w) {
                        let [_, pu, pv] = yuv_of(img.get_pixel(xx, yy));
                        (su, sv, n) = (su + pu, sv + pv, n + 1.0);
                    }
                }
                u.push(byte(su / n));
                v.push(byte(sv / n));
            }
        }
        Self::new((w, h), [y, u, v], colour, Siting::CENTRED).expect("planes made to size")
    }

    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    pub fn colour(&self) -> Colour {
        self.colour
    }

    pub fn siting(&self) -> Siting {
        self.siting
    }

    /// The luma plane, `width` bytes a row.
    pub fn luma(&self) -> &[u8] {
        &self.y
    }

    /// The chroma planes, Cb then Cr, [`Self::chroma_size`] each.
    pub fn chroma(&self) -> (&[u8], &[u8]) {
        (&self.u, &self.v)
    }

    /// Where in a chroma plane the luma position `at` (pixel centres at whole numbers) falls.
    fn chroma_position(at: f32, cosited: bool) -> f32 {
        if cosited { at / 2.0 } else { (at - 0.5) / 2.0 }
    }

    /// Bilinear RGB, 0–255, at the luma positions `xs` × `ys` (pixel centres at whole numbers,
    /// edges clamped), handed to `put(column, row, rgb)`.
    fn sample_grid(&self, xs: &[f32], ys: &[f32], mut put: impl FnMut(usize, usize, [f32; 3])) {
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = Self::chroma_size(self.width, self.height);
        let (cw, ch) = (cw as usize, ch as usize);
        let lx = taps(xs.iter().copied(), w);
        let ly = taps(ys.iter().copied(), h);
        let cx = taps(
            xs.iter()
                .map(|&x| Self::chroma_position(x, self.siting.cosited_x)),
            cw,
        );
        let cy = taps(
            ys.iter()
                .map(|&y| Self::chroma_position(y, self.siting.cosited_y)),
            ch,
        );
        let c = self.coefficients;
        for (row, (&(ya, yb, fy), &(ua, ub, gy))) in ly.iter().zip(&cy).enumerate() {
            let (l0, l1) = (&self.y[ya * w..], &self.y[yb * w..]);
            let (u0, u1) = (&self.u[ua * cw..], &self.u[ub * cw..]);
            let (v0, v1) = (&self.v[ua * cw..], &self.v[ub * cw..]);
            for (col, (&(xa, xb, fx), &(ca, cb, gx))) in lx.iter().zip(&cx).enumerate() {
                let y = bilerp(l0, l1, xa, xb, fx, fy);
                let u = bilerp(u0, u1, ca, cb, gx, gy);
                let v = bilerp(v0, v1, ca, cb, gx, gy);
                put(col, row, c.rgb(y, u, v));
            }
        }
    }

    /// The part `x`, `y`, `w` × `h` (clipped to the picture) as RGB: luma as it is, chroma
    /// interpolated to each pixel, a row of chroma at a time.
    pub fn crop_rgb(&self, x: u32, y: u32, w: u32, h: u32) -> RgbImage {
        let x = x.min(self.width);
        let y = y.min(self.height);
        let (w, h) = (w.min(self.width - x), h.min(self.height - y));
        let (cw, ch) = Self::chroma_size(self.width, self.height);
        let (cw, ch) = (cw as usize, ch as usize);
        let cols = taps(
            (x..x + w).map(|i| Self::chroma_position(i as f32, self.siting.cosited_x)),
            cw,
        );
        let rows = taps(
            (y..y + h).map(|i| Self::chroma_position(i as f32, self.siting.cosited_y)),
            ch,
        );
        let c = self.coefficients;
        let (mut u_row, mut v_row) = (vec![0f32; cw], vec![0f32; cw]);
        let mut out = vec![0u8; w as usize * h as usize * 3];
        let (Some(first), Some(last)) = (cols.first(), cols.last()) else {
            return RgbImage::from_raw(w, h, out).expect("buffer made to size");
        };
        // Only the chroma columns the crop reads (the taps run left to right): a vehicle's view
        // is a small part of the frame's width.
        let span = first.0..last.1 + 1;
        for (row, (line, &(ca, cb, fy))) in
            out.chunks_exact_mut(w as usize * 3).zip(&rows).enumerate()
        {
            // This row's chroma, between the two chroma rows around it.
            for (plane, to) in [(&self.u, &mut u_row), (&self.v, &mut v_row)] {
                let (a, b) = (
                    &plane[ca * cw + span.start..ca * cw + span.end],
                    &plane[cb * cw + span.start..cb * cw + span.end],
                );
                for ((t, &p), &q) in to[span.clone()].iter_mut().zip(a).zip(b) {
                    *t = f32::from(p) * (1.0 - fy) + f32::from(q) * fy;
                }
            }
            let luma = &self.y[(y as usize + row) * self.width as usize + x as usize..];
            for ((px, &l), &(xa, xb, fx)) in line.chunks_exact_mut(3).zip(luma).zip(&cols) {
                let u = u_row[xa] * (1.0 - fx) + u_row[xb] * fx;
                let v = v_row[xa] * (1.0 - fx) + v_row[xb] * fx;
                let rgb = c.rgb(f32::from(l), u, v);
                // `as` saturates; the values are clamped already.
                px[0] = (rgb[0] + 0.5) as u8;
                px[1] = (rgb[1] + 0.5) as u8;
                px[2] = (rgb[2] + 0.5) as u8;
            }
        }
        RgbImage::from_raw(w, h, out).expect("buffer made to size")
    }

    /// The whole picture as RGB.
    pub fn to_rgb(&self) -> RgbImage {
        self.crop_rgb(0, 0, self.width, self.height)
    }
}

/// For each position along an axis of `size` samples: the two samples around it and the weight
/// of the second, the position clamped to the axis.
fn taps(positions: impl Iterator<Item = f32>, size: usize) -> Vec<(usize, usize, f32)> {
    let last = size.saturating_sub(1);
    positions
        .map(|s| {
            let s = s.clamp(0.0, last as f32);
            let s0 = s.floor();
            let i0 = (s0 as usize).min(last);
            (i0, (i0 + 1).min(last), s - s0)
        })
        .collect()
}

#[inline]
fn bilerp(top: &[u8], bottom: &[u8], a: usize, b: usize, fx: f32, fy: f32) -> f32 {
    let t = f32::from(top[a]) * (1.0 - fx) + f32::from(top[b]) * fx;
    let u = f32::from(bottom[a]) * (1.0 - fx) + f32::from(bottom[b]) * fx;
    t * (1.0 - fy) + u * fy
}

/// A picture to sample: packed RGB, or 4:2:0 planes.
#[derive(Debug, Clone, Copy)]
pub enum Pixels<'a> {
    Rgb(&'a RgbImage),
    Yuv(&'a Yuv420),
}

impl Pixels<'_> {
    pub fn dimensions(&self) -> (u32, u32) {
        match self {
            Self::Rgb(img) => img.dimensions(),
            Self::Yuv(yuv) => yuv.dimensions(),
        }
    }

    /// Bilinear RGB, 0–255, at the positions `xs` × `ys` (pixel centres at whole numbers, edges
    /// clamped), handed to `put(column, row, rgb)`: a resize or letterbox in one pass, without
    /// an RGB copy of a planar picture.
    pub fn sample_grid(&self, xs: &[f32], ys: &[f32], mut put: impl FnMut(usize, usize, [f32; 3])) {
        match self {
            Self::Yuv(yuv) => yuv.sample_grid(xs, ys, put),
            Self::Rgb(img) => {
                if img.width() == 0 || img.height() == 0 {
                    return;
                }
                let cols = taps(xs.iter().copied(), img.width() as usize);
                let rows = taps(ys.iter().copied(), img.height() as usize);
                let stride = img.width() as usize * 3;
                let raw = img.as_raw();
                for (row, &(ya, yb, fy)) in rows.iter().enumerate() {
                    let (top, bottom) = (&raw[ya * stride..], &raw[yb * stride..]);
                    for (col, &(xa, xb, fx)) in cols.iter().enumerate() {
                        let at = |ch: usize| bilerp(top, bottom, xa * 3 + ch, xb * 3 + ch, fx, fy);
                        put(col, row, [at(0), at(1), at(2)]);
                    }
                }
            }
        }
    }
}

impl<'a> From<&'a RgbImage> for Pixels<'a> {
    fn from(img: &'a RgbImage) -> Self {
        Self::Rgb(img)
    }
}

impl<'a> From<&'a Picture> for Pixels<'a> {
    fn from(p: &'a Picture) -> Self {
        p.pixels()
    }
}

/// A decoded frame: the decoder's planes, with RGB made from them at most once, when something
/// needs the whole frame; or an RGB picture (stills, tests).
#[derive(Debug)]
pub struct Picture {
    planes: Option<Yuv420>,
    rgb: OnceLock<RgbImage>,
}

impl Picture {
    pub fn from_yuv(planes: Yuv420) -> Self {
        Self {
            planes: Some(planes),
            rgb: OnceLock::new(),
        }
    }

    pub fn from_rgb(img: RgbImage) -> Self {
        Self {
            planes: None,
            rgb: OnceLock::from(img),
        }
    }

    pub fn dimensions(&self) -> (u32, u32) {
        self.pixels().dimensions()
    }

    pub fn width(&self) -> u32 {
        self.dimensions().0
    }

    pub fn height(&self) -> u32 {
        self.dimensions().1
    }

    /// What to sample: the planes where there are any.
    pub fn pixels(&self) -> Pixels<'_> {
        match (&self.planes, self.rgb.get()) {
            (Some(yuv), _) => Pixels::Yuv(yuv),
            (None, Some(rgb)) => Pixels::Rgb(rgb),
            (None, None) => unreachable!("a picture holds planes or RGB"),
        }
    }

    /// The whole frame as RGB, converted on first use.
    pub fn rgb(&self) -> &RgbImage {
        self.rgb.get_or_init(|| {
            self.planes
                .as_ref()
                .map(Yuv420::to_rgb)
                .expect("a picture without RGB holds planes")
        })
    }

    /// Whether the whole frame has been converted (or came as RGB).
    pub fn has_rgb(&self) -> bool {
        self.rgb.get().is_some()
    }

    /// The part `x`, `y`, `w` × `h` (clipped to the picture) as RGB, without converting the
    /// rest.
    pub fn crop_rgb(&self, x: u32, y: u32, w: u32, h: u32) -> RgbImage {
        if let (None, Some(yuv)) = (self.rgb.get(), &self.planes) {
            return yuv.crop_rgb(x, y, w, h);
        }
        let img = self.rgb();
        let x = x.min(img.width());
        let y = y.min(img.height());
        let (w, h) = (w.min(img.width() - x), h.min(img.height() - y));
        image::imageops::crop_imm(img, x, y, w, h).to_image()
    }

    /// The part under `b`, resized to `w` × `h` as [`crate::pixels::crop_resize`] does;
    /// `None` when the box is empty.
    pub fn crop_resize(&self, b: &crate::BoxF, w: u32, h: u32) -> Option<RgbImage> {
        let (width, height) = self.dimensions();
        let (x, y, cw, ch) = crate::pixels::pixels_under(b, width, height)?;
        Some(crate::pixels::resize(&self.crop_rgb(x, y, cw, ch), w, h))
    }
}

#[cfg(test)]
mod tests;
