//! Vietnamese plates: random valid plate numbers drawn from the grammar in `protocol`, and the
//! plate itself drawn as a texture at 1 px per millimetre, ready to be put in perspective.
//!
//! The lettering comes in two faces ([`PlateFace`]): DejaVu Sans Condensed Bold (Bitstream Vera
//! licence, `assets/fonts/`, compiled in so every machine draws the same pixels), a narrow bold
//! sans the shipped recognizer learned; or the plates' own narrow, even-stroked capitals drawn
//! stroke by stroke ([`crate::plate_font`]), closer to what real plates show, DejaVu drawing only
//! a character that table lacks.

use std::sync::LazyLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use protocol::plate::{self, Plate, PlateCategory, PlateColour, PlateLayout};
use serde::{Deserialize, Serialize};

use crate::{rng::Rng, vehicle::ObjectClass};

static FONT: LazyLock<FontRef<'static>> = LazyLock::new(|| {
    FontRef::try_from_slice(include_bytes!(
        "../assets/fonts/DejaVuSansCondensed-Bold.ttf"
    ))
    .expect("the bundled font is a valid TrueType file")
});

/// The typeface a scene's plates are lettered in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateFace {
    /// DejaVu Sans Condensed Bold: the face the shipped plate recognizer was trained on.
    #[default]
    Dejavu,
    /// The plates' own narrow capitals, drawn stroke by stroke ([`crate::plate_font`]).
    Stroke,
}

impl std::str::FromStr for PlateFace {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dejavu" => Ok(Self::Dejavu),
            "stroke" => Ok(Self::Stroke),
            _ => Err(format!("unknown plate face `{s}` (dejavu, stroke)")),
        }
    }
}

/// Everything that makes a plate's legal identity and its look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlateSpec {
    /// The display form, e.g. `51F-123.45`.
    pub text: String,
    /// The characters without separators, e.g. `51F12345`.
    pub canonical: String,
    pub layout: PlateLayout,
    pub colour: PlateColour,
    pub category: PlateCategory,
}

impl PlateSpec {
    pub fn new(plate: &Plate, layout: PlateLayout, colour: PlateColour) -> Self {
        Self {
            text: plate.display(),
            canonical: plate.canonical(),
            layout,
            colour,
            category: plate.category(),
        }
    }

    /// Parses a plate written in a scenario file and checks it against the grammar.
    pub fn parse(
        text: &str,
        class: ObjectClass,
        layout: Option<PlateLayout>,
        colour: Option<PlateColour>,
    ) -> Result<Self, plate::PlateError> {
        let plate = match class {
            ObjectClass::Motorbike => Plate::parse_as(text, PlateCategory::Motorbike)?,
            _ => Plate::parse(text)?,
        };
        let layout = layout.unwrap_or(plate.layouts()[0]);
        let colour = colour
            .or(plate.required_colour())
            .unwrap_or(PlateColour::White);
        Ok(Self::new(&plate, layout, colour))
    }

    /// The plate's size in millimetres (width, height).
    pub fn size_mm(&self) -> (f32, f32) {
        match (self.category, self.layout) {
            (PlateCategory::Motorbike, _) => (190.0, 140.0),
            (_, PlateLayout::OneLine) => (520.0, 110.0),
            (_, PlateLayout::TwoLine) => (330.0, 165.0),
        }
    }

    /// The lines of text as printed on the plate.
    pub fn lines(&self) -> Vec<String> {
        Plate::parse(&self.text)
            .map(|p| p.lines(self.layout))
            .unwrap_or_else(|_| vec![self.text.clone()])
    }
}

/// Province codes in use today, Hồ Chí Minh City's weighted up (the first deployment).
fn province_codes() -> &'static [(u8, f32)] {
    static CODES: LazyLock<Vec<(u8, f32)>> = LazyLock::new(|| {
        let mut codes: Vec<(u8, f32)> = plate::province::all()
            .iter()
            .filter(|p| p.is_current())
            .flat_map(|p| {
                let weight = if p.name.contains("Hồ Chí Minh") {
                    4.0
                } else {
                    1.0
                };
                p.codes.iter().map(move |&c| (c, weight))
            })
            .collect();
        codes.sort_by_key(|(c, _)| *c);
        codes.dedup_by_key(|(c, _)| *c);
        codes
    });
    &CODES
}

fn digits(rng: &mut Rng, n: usize) -> String {
    loop {
        let s: String = (0..n)
            .map(|_| char::from(b'0' + rng.below(10) as u8))
            .collect();
        if s.chars().any(|c| c != '0') {
            return s;
        }
    }
}

/// A random plate that the grammar accepts, of a kind the vehicle class carries.
pub fn random_plate(rng: &mut Rng, class: ObjectClass) -> PlateSpec {
    let rules = plate::series::rules();
    let letters: Vec<char> = rules.letters.chars().collect();
    let codes = province_codes();
    let weights: Vec<f32> = codes.iter().map(|(_, w)| *w).collect();
    loop {
        let province = codes[rng.weighted(&weights)].0;
        let serial = if rng.chance(0.85) {
            digits(rng, 5)
        } else {
            digits(rng, 4)
        };
        let (plate, layout, colour) = match class {
            ObjectClass::Motorbike | ObjectClass::Person => {
                let series = match rng.weighted(&[0.72, 0.22, 0.06]) {
                    0 => format!("{}{}", rng.pick(&letters), 1 + rng.below(9)),
                    1 => format!("{}{}", rng.pick(&letters), rng.pick(&letters)),
                    _ => format!("MĐ{}", 1 + rng.below(9)),
                };
                if rules.special(&series).is_some() {
                    continue;
                }
                let colour = if rng.chance(0.03) {
                    PlateColour::Blue
                } else {
                    PlateColour::White
                };
                let Ok(p) =
                    Plate::from_parts(Some(province), &series, &serial, PlateCategory::Motorbike)
                else {
                    continue;
                };
                (p, PlateLayout::TwoLine, colour)
            }
            ObjectClass::Car | ObjectClass::Bus | ObjectClass::Truck => {
                let heavy = class != ObjectClass::Car;
                let kind = rng.weighted(&[0.93, 0.045, 0.015, if heavy { 0.0 } else { 0.01 }]);
                let parsed = match kind {
                    0 => Plate::from_parts(
                        Some(province),
                        &rng.pick(&letters).to_string(),
                        &serial,
                        PlateCategory::Car,
                    ),
                    1 => {
                        let special = rng.pick(&rules.special);
                        if special.vehicle != PlateCategory::Car {
                            continue;
                        }
                        Plate::from_parts(
                            Some(province),
                            &special.code,
                            &serial,
                            PlateCategory::Car,
                        )
                    }
                    2 => Plate::from_parts(
                        Some(province),
                        &rules.trailer_letter.to_string(),
                        &serial,
                        PlateCategory::Car,
                    ),
                    _ => {
                        let first: Vec<char> = rules.military.first_letters.chars().collect();
                        let series = format!("{}{}", rng.pick(&first), rng.pick(&letters));
                        Plate::from_parts(None, &series, &digits(rng, 4), PlateCategory::Military)
                    }
                };
                let Ok(p) = parsed else { continue };
                let colour = p.required_colour().unwrap_or_else(|| {
                    let yellow = if heavy { 0.6 } else { 0.15 };
                    match rng.weighted(&[1.0 - yellow - 0.06, yellow, 0.06]) {
                        0 => PlateColour::White,
                        1 => PlateColour::Yellow,
                        _ => PlateColour::Blue,
                    }
                });
                let two_line = if heavy { 0.7 } else { 0.4 };
                let layout = if rng.chance(two_line) {
                    PlateLayout::TwoLine
                } else {
                    PlateLayout::OneLine
                };
                (p, layout, colour)
            }
        };
        return PlateSpec::new(&plate, layout, colour);
    }
}

/// Background and lettering colours of a plate colour.
pub fn plate_colours(colour: PlateColour) -> ([u8; 3], [u8; 3]) {
    match colour {
        PlateColour::White => ([236, 236, 230], [18, 18, 20]),
        PlateColour::Yellow => ([238, 196, 42], [18, 18, 20]),
        PlateColour::Blue => ([28, 68, 160], [240, 240, 240]),
        PlateColour::Red => ([186, 32, 36], [240, 240, 240]),
        PlateColour::WhiteRedText => ([236, 236, 230], [192, 24, 24]),
    }
}

/// The plate drawn flat, 1 px per millimetre, with small random wear.
pub fn render_plate(spec: &PlateSpec, face: PlateFace, rng: &mut Rng) -> RgbImage {
    let (w_mm, h_mm) = spec.size_mm();
    let (w, h) = (w_mm as u32, h_mm as u32);
    let (bg, fg) = plate_colours(spec.colour);
    let shade = rng.range(0.85, 1.05);
    let bg = bg.map(|c| (f32::from(c) * shade).min(255.0) as u8);
    let mut img = RgbImage::from_pixel(w, h, Rgb(bg));

    // The embossed border, inset a few millimetres, with rounded corners.
    let (inset, thick, radius) = (4.0f32, 4.5f32, 10.0f32);
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let d = rounded_rect_distance(px, py, inset, inset, w_mm - inset, h_mm - inset, radius);
            let cover = (thick / 2.0 - (d.abs() - thick / 2.0).max(0.0)).clamp(0.0, 1.0);
            let cover = if d.abs() <= thick / 2.0 { 1.0 } else { cover };
            if cover > 0.0 {
                blend(&mut img, x, y, fg, cover);
            }
        }
    }

    let lines = spec.lines();
    let (margin_x, top, bottom) = (14.0, 12.0, 12.0);
    let rows = lines.len() as f32;
    let gap = if rows > 1.0 { 8.0 } else { 0.0 };
    let line_h = (h_mm - top - bottom - gap * (rows - 1.0)) / rows;
    let style = crate::plate_font::Style::for_text(&spec.text);
    for (i, line) in lines.iter().enumerate() {
        let y0 = top + i as f32 * (line_h + gap);
        let w = w_mm - 2.0 * margin_x;
        match face {
            PlateFace::Dejavu => draw_text_fitted(&mut img, line, margin_x, y0, w, line_h, fg),
            PlateFace::Stroke => draw_line(&mut img, line, (margin_x, y0, w, line_h), &style, fg),
        }
    }

    // Wear: a few faint smudges.
    for _ in 0..rng.below(4) {
        let (cx, cy) = (rng.range(0.0, w_mm), rng.range(0.0, h_mm));
        let r = rng.range(6.0, 30.0);
        let strength = rng.range(0.05, 0.2);
        for y in (cy - r).max(0.0) as u32..((cy + r) as u32).min(h) {
            for x in (cx - r).max(0.0) as u32..((cx + r) as u32).min(w) {
                let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt() / r;
                if d < 1.0 {
                    blend(&mut img, x, y, [90, 80, 60], strength * (1.0 - d));
                }
            }
        }
    }
    img
}

fn rounded_rect_distance(px: f32, py: f32, x0: f32, y0: f32, x1: f32, y1: f32, r: f32) -> f32 {
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let (hx, hy) = ((x1 - x0) / 2.0 - r, (y1 - y0) / 2.0 - r);
    let (dx, dy) = ((px - cx).abs() - hx, (py - cy).abs() - hy);
    let outside = (dx.max(0.0).powi(2) + dy.max(0.0).powi(2)).sqrt();
    outside + dx.max(dy).min(0.0) - r
}

fn blend(img: &mut RgbImage, x: u32, y: u32, c: [u8; 3], a: f32) {
    let p = img.get_pixel_mut(x, y);
    for (dst, src) in p.0.iter_mut().zip(c) {
        *dst = (f32::from(*dst) * (1.0 - a) + f32::from(src) * a).round() as u8;
    }
}

/// Draws one line of a plate in the box (x, y, w, h) as plates have it: glyphs nearly as tall
/// as the box, spread over most of its width (the gaps grow on a short line, up to a third of
/// a glyph's height), squeezed only where the line would not fit.
fn draw_line(
    img: &mut RgbImage,
    text: &str,
    (x, y, w, h): (f32, f32, f32, f32),
    style: &crate::plate_font::Style,
    colour: [u8; 3],
) {
    use crate::plate_font::{Style, draw, text_width};
    let glyph_h = h * 0.94;
    let gaps = text.chars().count().saturating_sub(1).max(1) as f32;
    let natural = text_width(text, glyph_h, style);
    let fill = 0.9 * w;
    let style = if natural < fill {
        let spacing = (style.spacing + (fill - natural) / gaps / glyph_h).min(0.3);
        Style { spacing, ..*style }
    } else {
        *style
    };
    let width = text_width(text, glyph_h, &style);
    let squeeze = (w / width).min(1.0);
    let left = x + (w - width * squeeze) / 2.0;
    let top = y + (h - glyph_h) / 2.0;
    for (c, at, cw) in draw(img, text, (left, top, glyph_h), squeeze, &style, colour) {
        let mut one = [0u8; 4];
        draw_text_fitted(img, c.encode_utf8(&mut one), at, top, cw, glyph_h, colour);
    }
}

/// Draws `text` filling the box (x, y, w, h): capitals as tall as the box, narrowed to fit.
fn draw_text_fitted(
    img: &mut RgbImage,
    text: &str,
    x: f32,
    y: f32,
    w: f32,
    h: f32,
    colour: [u8; 3],
) {
    let font = &*FONT;
    let cap = font.as_scaled(PxScale::from(1000.0)).ascent() * 0.72 / 1000.0;
    let sy = h / cap.max(0.1);
    let natural = {
        let scaled = font.as_scaled(PxScale { x: sy, y: sy });
        text.chars()
            .map(|c| scaled.h_advance(font.glyph_id(c)))
            .sum::<f32>()
    };
    let sx = (sy * 0.78).min(sy * w / natural.max(1.0));
    let scale = PxScale { x: sx, y: sy };
    let scaled = font.as_scaled(scale);
    let total: f32 = text
        .chars()
        .map(|c| scaled.h_advance(font.glyph_id(c)))
        .sum();
    let mut pen = x + (w - total) / 2.0;
    let baseline = y + h;
    for c in text.chars() {
        let id = font.glyph_id(c);
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(pen, baseline));
        pen += scaled.h_advance(id);
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, cover| {
                let (px, py) = (
                    bounds.min.x as i32 + gx as i32,
                    bounds.min.y as i32 + gy as i32,
                );
                if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                    blend(img, px as u32, py as u32, colour, cover.min(1.0));
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_plates_follow_the_grammar_for_every_class() {
        let mut rng = Rng::new(3);
        for class in [
            ObjectClass::Car,
            ObjectClass::Motorbike,
            ObjectClass::Bus,
            ObjectClass::Truck,
        ] {
            for _ in 0..500 {
                let spec = random_plate(&mut rng, class);
                let parsed = Plate::parse_as(&spec.text, spec.category)
                    .unwrap_or_else(|e| panic!("{} ({class:?}): {e}", spec.text));
                assert_eq!(parsed.canonical(), spec.canonical);
                if class == ObjectClass::Motorbike {
                    assert_eq!(spec.layout, PlateLayout::TwoLine);
                    assert_eq!(spec.category, PlateCategory::Motorbike);
                }
                if let Some(required) = parsed.required_colour() {
                    assert_eq!(spec.colour, required, "{}", spec.text);
                }
            }
        }
    }

    #[test]
    fn plates_are_drawn_in_their_colours_with_text() {
        let mut rng = Rng::new(1);
        let spec = PlateSpec::parse(
            "51F-123.45",
            ObjectClass::Car,
            Some(PlateLayout::OneLine),
            None,
        )
        .unwrap();
        for face in [PlateFace::Dejavu, PlateFace::Stroke] {
            let img = render_plate(&spec, face, &mut rng);
            assert_eq!(img.dimensions(), (520, 110));
            let dark = img.pixels().filter(|p| p.0[0] < 80).count();
            let share = dark as f32 / (520.0 * 110.0);
            assert!((0.1..0.5).contains(&share), "{face:?}: dark share {share}");
        }
        // The two faces letter the same plate differently.
        let a = render_plate(&spec, PlateFace::Dejavu, &mut Rng::new(1));
        let b = render_plate(&spec, PlateFace::Stroke, &mut Rng::new(1));
        assert_ne!(a, b);
        let blue = PlateSpec::parse(
            "59-X1 123.45",
            ObjectClass::Motorbike,
            None,
            Some(PlateColour::Blue),
        )
        .unwrap();
        let img = render_plate(&blue, PlateFace::Stroke, &mut rng);
        assert_eq!(img.dimensions(), (190, 140));
        assert_eq!(blue.lines(), ["59-X1", "123.45"]);
        let centre = img.get_pixel(11, 70).0;
        assert!(centre[2] > centre[0], "blue background: {centre:?}");
    }
}
