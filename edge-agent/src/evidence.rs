//! The evidence package of one violation: timed images (before, at, after) each with a data bar
//! in Vietnamese, a plate close-up and a clip remuxed from the camera's own H.264, every file
//! hashed into the event's manifest.
//!
//! The data bar is a band added below the picture, so it never hides part of the scene.

use std::sync::{Arc, OnceLock};

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use plate_ocr::image_ops::BoxF;
use protocol::{EvidenceItem, UtcTimestamp, event::Sha256Digest};

/// DejaVu Sans Condensed Bold: covers Vietnamese with its diacritics (licence beside the file).
static FONT_BYTES: &[u8] = include_bytes!("../../sim/assets/fonts/DejaVuSansCondensed-Bold.ttf");

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
    pub image: Arc<RgbImage>,
    /// The offending vehicle's box in this frame, when it was seen.
    pub vehicle: Option<BoxF>,
}

/// One file of the package.
#[derive(Debug, Clone)]
pub struct File {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    pub captured_at: UtcTimestamp,
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

fn outline(img: &mut RgbImage, b: BoxF, width: u32, colour: [u8; 3]) {
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

fn draw_text(img: &mut RgbImage, text: &str, x: f32, baseline: f32, size: f32) {
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
    fn local_time_is_utc_plus_7_to_the_millisecond() {
        let at = UtcTimestamp::from_unix_ms(1_764_217_561_234).expect("time");
        assert_eq!(local_time(&at), "27/11/2025 11:26:01.234 (UTC+7)");
    }
}
