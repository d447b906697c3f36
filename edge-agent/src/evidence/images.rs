//! The evidence images: each timed image (before, at, after) stamped with its data bar, the
//! offender outlined; the masked copies for eyes outside the police (every other vehicle, with
//! its plate and rider, and every person pixelated); the plate close-up; JPEG encoding; and
//! [`File`], one file of the package with its hash and what it hides.
//!
//! The data bar is a band added below the picture, so it never hides part of the scene.

use std::sync::{Arc, OnceLock};

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use protocol::{EvidenceItem, Masking, UtcTimestamp, VehicleBox, event::Sha256Digest};
use vision::{BoxF, Picture};

/// DejaVu Sans Condensed Bold: covers Vietnamese with its diacritics (licence beside the file).
static FONT_BYTES: &[u8] = include_bytes!("../../../sim/assets/fonts/DejaVuSansCondensed-Bold.ttf");

fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
}

/// A frame kept for evidence.
#[derive(Debug, Clone)]
pub struct Capture {
    /// Camera clock, seconds.
    pub t: f64,
    pub at: UtcTimestamp,
    pub image: Arc<Picture>,
    /// The offending vehicle's box in this frame, when it was seen.
    pub vehicle: Option<BoxF>,
    /// Everything else the detector found in this frame, with its shape: what a masked copy
    /// hides.
    pub others: Vec<(BoxF, Shape)>,
}

/// What a detection to be hidden is, which says how far around its box a masked copy hides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A car, bus or truck: its plate may sit at the box's edge.
    Vehicle,
    /// A motorbike or bicycle: its rider's head stands above the box.
    TwoWheeler,
    /// A person on foot (or a rider the detector boxed apart from the motorbike).
    Person,
}

/// Every detection of a frame but the offender's own (`vehicle`, its box there when it was
/// seen): the detections that are the offender (IoU ≥ 0.5 with its box) and, for a
/// `two_wheeler`, the people riding it (a person box whose foot stands on it) are left out.
pub fn others(
    found: &[(BoxF, Shape)],
    vehicle: Option<BoxF>,
    two_wheeler: bool,
) -> Vec<(BoxF, Shape)> {
    let Some(v) = vehicle else {
        return found.to_vec();
    };
    let rides = |b: &BoxF| {
        let centre = (b.x0 + b.x1) / 2.0;
        two_wheeler
            && (v.x0..=v.x1).contains(&centre)
            && (v.y0..=v.y1 + v.height() / 10.0).contains(&b.y1)
    };
    found
        .iter()
        .filter(|(b, shape)| {
            let offender = v.iou(b) >= 0.5;
            !(offender || (*shape == Shape::Person && rides(b)))
        })
        .copied()
        .collect()
}

/// One file of the package.
#[derive(Debug, Clone)]
pub struct File {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    pub captured_at: UtcTimestamp,
    /// For a masked copy: of which file, and what it hides.
    pub masking: Option<Masking>,
}

impl File {
    /// Its manifest entry.
    pub fn item(&self) -> EvidenceItem {
        EvidenceItem {
            name: self.name.clone(),
            sha256: Sha256Digest::of(&self.bytes),
            bytes: self.bytes.len() as u64,
            content_type: self.content_type.into(),
            captured_at: self.captured_at,
            masking: self.masking.clone(),
        }
    }
}

/// Local time in Hồ Chí Minh City (UTC+7, no daylight saving), to the millisecond.
pub fn local_time(at: &UtcTimestamp) -> String {
    let t = at.as_datetime().to_offset(protocol::time::VIETNAM);
    format!(
        "{:02}/{:02}/{:04} {:02}:{:02}:{:02}.{:03} (UTC+7)",
        t.day(),
        u8::from(t.month()),
        t.year(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The picture with `lines` of text in a dark band below it and the vehicle outlined.
pub fn stamp(image: &RgbImage, lines: &[String], vehicle: Option<BoxF>) -> RgbImage {
    let (w, h) = image.dimensions();
    let size = (h as f32 / 38.0).clamp(13.0, 40.0);
    let line_h = (size * 1.3).ceil() as u32;
    let band = line_h * lines.len() as u32 + line_h / 2;
    let mut out = RgbImage::from_pixel(w, h + band, Rgb([16, 22, 34]));
    image::imageops::replace(&mut out, image, 0, 0);
    if let Some(b) = vehicle {
        outline(
            &mut out,
            b,
            (h as f32 / 360.0).ceil().max(2.0) as u32,
            [255, 40, 40],
        );
    }
    for (i, line) in lines.iter().enumerate() {
        let baseline = h as f32 + line_h as f32 * (i as f32 + 1.0);
        draw_text(&mut out, line, size.round() / 2.0 + 2.0, baseline, size);
    }
    out
}

/// The regions of a frame `size` (width, height) to hide from eyes outside the police: each
/// other vehicle's or person's box grown by an eighth of its size each way (a plate or a head
/// at its edge), within the frame. The rider of a motorbike stands above it: the region reaches
/// up by half the box's height more.
pub fn mask_regions(size: (u32, u32), others: &[(BoxF, Shape)]) -> Vec<VehicleBox> {
    let (w, h) = (size.0 as f32, size.1 as f32);
    others
        .iter()
        .filter_map(|(b, shape)| {
            let (dx, dy) = (b.width() / 8.0, b.height() / 8.0);
            let up = if *shape == Shape::TwoWheeler {
                b.height() / 2.0
            } else {
                dy
            };
            let x0 = (b.x0 - dx).clamp(0.0, w);
            let y0 = (b.y0 - up).clamp(0.0, h);
            let x1 = (b.x1 + dx).clamp(0.0, w);
            let y1 = (b.y1 + dy).clamp(0.0, h);
            (x1 - x0 >= 1.0 && y1 - y0 >= 1.0).then(|| VehicleBox {
                x: x0.floor() as u32,
                y: y0.floor() as u32,
                width: (x1.ceil() - x0.floor()) as u32,
                height: (y1.ceil() - y0.floor()) as u32,
            })
        })
        .collect()
}

/// The whole of a frame `size`: what a masked copy hides where it cannot say where anyone is.
pub fn whole(size: (u32, u32)) -> VehicleBox {
    VehicleBox {
        x: 0,
        y: 0,
        width: size.0,
        height: size.1,
    }
}

/// The regions of a frame `size` around the box `keep` grown by a quarter each way: all of the
/// frame but the vehicle, for a view taken only to show its plate.
pub fn outside(size: (u32, u32), keep: BoxF) -> Vec<VehicleBox> {
    let (w, h) = size;
    let (dx, dy) = (keep.width() / 4.0, keep.height() / 4.0);
    let x0 = ((keep.x0 - dx).max(0.0) as u32).min(w);
    let y0 = ((keep.y0 - dy).max(0.0) as u32).min(h);
    let x1 = ((keep.x1 + dx).ceil().max(0.0) as u32).clamp(x0, w);
    let y1 = ((keep.y1 + dy).ceil().max(0.0) as u32).clamp(y0, h);
    let band = |x, y, width, height| VehicleBox {
        x,
        y,
        width,
        height,
    };
    [
        band(0, 0, w, y0),
        band(0, y1, w, h - y1),
        band(0, y0, x0, y1 - y0),
        band(x1, y0, w - x1, y1 - y0),
    ]
    .into_iter()
    .filter(|b| b.width > 0 && b.height > 0)
    .collect()
}

/// A copy of `image` with each of `regions` pixelated: blocks of a sixth of the region's
/// smaller side (at least 8 px), each filled with its mean colour, so that no plate or face in
/// it can be read or recognised, while the scene stays readable.
pub fn mask(image: &RgbImage, regions: &[VehicleBox]) -> RgbImage {
    let mut out = image.clone();
    mask_in_place(&mut out, regions);
    out
}

/// [`mask`] on a picture the caller owns (a clip's decoded frame): no copy of it is made.
pub fn mask_in_place(out: &mut RgbImage, regions: &[VehicleBox]) {
    let (w, h) = out.dimensions();
    for r in regions {
        let (x0, y0) = (r.x.min(w), r.y.min(h));
        let (x1, y1) = ((r.x + r.width).min(w), (r.y + r.height).min(h));
        let block = (r.width.min(r.height) / 6).max(8);
        for by in (y0..y1).step_by(block as usize) {
            for bx in (x0..x1).step_by(block as usize) {
                let (ex, ey) = ((bx + block).min(x1), (by + block).min(y1));
                let mut sum = [0u64; 3];
                let n = u64::from((ex - bx) * (ey - by)).max(1);
                for y in by..ey {
                    for x in bx..ex {
                        let p = out.get_pixel(x, y).0;
                        for c in 0..3 {
                            sum[c] += u64::from(p[c]);
                        }
                    }
                }
                let mean = Rgb(sum.map(|v| (v / n) as u8));
                for y in by..ey {
                    for x in bx..ex {
                        out.put_pixel(x, y, mean);
                    }
                }
            }
        }
    }
}

pub(crate) fn outline(img: &mut RgbImage, b: BoxF, width: u32, colour: [u8; 3]) {
    let (w, h) = img.dimensions();
    let clamp_x = |v: f32| (v.max(0.0) as u32).min(w.saturating_sub(1));
    let clamp_y = |v: f32| (v.max(0.0) as u32).min(h.saturating_sub(1));
    let (x0, x1, y0, y1) = (clamp_x(b.x0), clamp_x(b.x1), clamp_y(b.y0), clamp_y(b.y1));
    for k in 0..width {
        for x in x0..=x1 {
            for y in [y0.saturating_add(k).min(y1), y1.saturating_sub(k).max(y0)] {
                img.put_pixel(x, y, Rgb(colour));
            }
        }
        for y in y0..=y1 {
            for x in [x0.saturating_add(k).min(x1), x1.saturating_sub(k).max(x0)] {
                img.put_pixel(x, y, Rgb(colour));
            }
        }
    }
}

pub(crate) fn draw_text(img: &mut RgbImage, text: &str, x: f32, baseline: f32, size: f32) {
    let Some(font) = font() else { return };
    let scale = PxScale::from(size);
    let scaled = font.as_scaled(scale);
    let mut pen = x;
    let mut previous = None;
    for ch in text.chars() {
        let id = font.glyph_id(ch);
        if let Some(p) = previous {
            pen += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(pen, baseline));
        pen += scaled.h_advance(id);
        previous = Some(id);
        let Some(outlined) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outlined.px_bounds();
        outlined.draw(|gx, gy, coverage| {
            let (px, py) = (
                bounds.min.x as i64 + i64::from(gx),
                bounds.min.y as i64 + i64::from(gy),
            );
            if px < 0 || py < 0 || px >= i64::from(img.width()) || py >= i64::from(img.height()) {
                return;
            }
            let p = img.get_pixel_mut(px as u32, py as u32);
            for c in 0..3 {
                let v = f32::from(p.0[c]) * (1.0 - coverage) + 255.0 * coverage;
                p.0[c] = v.round().clamp(0.0, 255.0) as u8;
            }
        });
    }
}

/// JPEG bytes of `img`.
pub fn jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(img)?;
    Ok(out)
}

/// The plate close-up: the rectified plate enlarged to a readable size, the text below it.
pub fn plate_closeup(plate: &RgbImage, text: &str) -> RgbImage {
    let scale = (480.0 / plate.width().max(1) as f32).max(1.0);
    let (w, h) = (
        (plate.width() as f32 * scale).round() as u32,
        (plate.height() as f32 * scale).round() as u32,
    );
    let big = image::imageops::resize(plate, w, h, image::imageops::FilterType::CatmullRom);
    stamp(&big, &[text.to_owned()], None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_bar_draws_vietnamese_text_below_the_picture() {
        let img = RgbImage::from_pixel(640, 360, Rgb([90, 90, 90]));
        let lines = vec![
            "27/11/2026 11:26:01.234 (UTC+7) · Ngã tư Hàng Xanh".to_owned(),
            "Không chấp hành hiệu lệnh của đèn tín hiệu giao thông · Biển số 51F-123.45".to_owned(),
        ];
        let out = stamp(&img, &lines, None);
        assert_eq!(out.width(), 640);
        assert!(out.height() > 360 + 30);
        // The picture is untouched; the band has lit text pixels.
        assert!(
            out.enumerate_pixels()
                .filter(|p| p.1 < 360)
                .all(|p| p.2.0 == [90, 90, 90])
        );
        let bright = out
            .enumerate_pixels()
            .filter(|p| p.1 >= 360 && p.2.0[0] > 200)
            .count();
        assert!(bright > 500, "text drawn: {bright} bright pixels");
        // Every character of the line has a glyph in the font, diacritics included.
        let f = font().expect("font");
        for ch in lines.concat().chars().filter(|c| !c.is_whitespace()) {
            assert_ne!(f.glyph_id(ch).0, 0, "no glyph for {ch}");
        }
    }

    #[test]
    fn a_masked_region_is_pixelated_beyond_reading_and_the_rest_kept() {
        // Fine detail (a one-pixel checkerboard, as the strokes of a plate's characters are).
        let image = RgbImage::from_fn(200, 120, |x, y| {
            if (x + y) % 2 == 0 {
                Rgb([250, 250, 250])
            } else {
                Rgb([10, 10, 10])
            }
        });
        let other = BoxF {
            x0: 100.0,
            y0: 40.0,
            x1: 148.0,
            y1: 88.0,
        };
        let regions = mask_regions((200, 120), &[(other, Shape::TwoWheeler)]);
        assert_eq!(regions.len(), 1);
        let r = regions[0];
        assert!(r.x <= 94 && r.x + r.width >= 154, "{r:?}");
        assert!(r.y <= 16, "a rider above the motorbike is inside: {r:?}");
        let masked = mask(&image, &regions);
        let changed = |x: u32, y: u32| masked.get_pixel(x, y) != image.get_pixel(x, y);
        // Inside: blocks of one mid grey, the black and white detail gone.
        for (x, y) in [(120, 60), (121, 60), (120, 61), (r.x + 1, r.y + 1)] {
            let v = masked.get_pixel(x, y).0[0];
            assert!((100..=160).contains(&v), "({x}, {y}) = {v}");
        }
        let block: Vec<_> = (r.x..r.x + 8)
            .map(|x| masked.get_pixel(x, r.y + 1))
            .collect();
        assert!(
            block.windows(2).all(|p| p[0] == p[1]),
            "one colour per block"
        );
        // Outside: untouched.
        for (x, y) in [(10, 10), (60, 100), (199, 119)] {
            assert!(!changed(x, y), "({x}, {y})");
        }
        assert_eq!(mask(&image, &[]), image);
    }

    #[test]
    fn the_offender_and_its_riders_are_kept_and_everyone_else_hidden() {
        let b = |x0: f32, y0: f32, x1: f32, y1: f32| BoxF { x0, y0, x1, y1 };
        let bike = b(100.0, 100.0, 160.0, 200.0);
        let rider = b(105.0, 40.0, 155.0, 170.0);
        let pillion = b(115.0, 50.0, 165.0, 190.0);
        let walker = b(300.0, 60.0, 330.0, 200.0);
        let next_bike = b(180.0, 100.0, 240.0, 200.0);
        let next_rider = b(185.0, 40.0, 235.0, 170.0);
        let found = [
            (b(101.0, 99.0, 161.0, 201.0), Shape::TwoWheeler),
            (rider, Shape::Person),
            (pillion, Shape::Person),
            (walker, Shape::Person),
            (next_bike, Shape::TwoWheeler),
            (next_rider, Shape::Person),
        ];
        let hidden = others(&found, Some(bike), true);
        assert_eq!(
            hidden,
            [
                (walker, Shape::Person),
                (next_bike, Shape::TwoWheeler),
                (next_rider, Shape::Person)
            ]
        );
        // A car's offender has no riders: a person beside it is someone else.
        let car = b(100.0, 100.0, 300.0, 200.0);
        let beside = b(150.0, 60.0, 180.0, 195.0);
        let hidden = others(
            &[(car, Shape::Vehicle), (beside, Shape::Person)],
            Some(car),
            false,
        );
        assert_eq!(hidden, [(beside, Shape::Person)]);
        // Where the offender was not seen in the frame, everything is hidden.
        assert_eq!(others(&found, None, true).len(), found.len());
        // A person's region is the box grown by an eighth each way.
        let r = mask_regions((400, 300), &[(walker, Shape::Person)])[0];
        assert_eq!((r.x, r.y, r.width, r.height), (296, 42, 38, 176));
    }

    #[test]
    fn local_time_is_utc_plus_7_to_the_millisecond() {
        let at = UtcTimestamp::from_unix_ms(1_764_217_561_234).expect("time");
        assert_eq!(local_time(&at), "27/11/2025 11:26:01.234 (UTC+7)");
    }
}
