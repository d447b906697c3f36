//! The lettering of Vietnamese plates, drawn by the project as strokes: the narrow, even-stroked
//! DIN-like capitals and figures the plate standard prescribes (tall and narrow — about twice as
//! high as wide —, flat-ended strokes of one width, a `1` with a flag and no foot, a `4` open at
//! the top, a `6` and a `9` whose tails curve into a straight stem (a quarter of the plates have
//! a maker's closed `4` and straight tails instead), a short heavy dash and a square dot), so that what the
//! recognizer learns on rendered plates is the shape it meets on real ones. No font file is
//! read: each glyph is a centre line on a grid one unit wide and two high, stroked at the
//! plate's stroke width. Characters the table does not hold fall back to the bundled font.
//!
//! A plate's own proportions (glyph width, stroke weight, spacing) vary a little from plate to
//! plate and maker to maker; [`Style::for_text`] draws them from the text itself, so a plate
//! looks the same every time it is drawn and no random stream is disturbed.

use image::RgbImage;
use tiny_skia::{LineCap, LineJoin, Paint, PathBuilder, Pixmap, Stroke, Transform};

/// How a plate's lettering is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Glyph width over glyph height (the grid is 1 × 2: 0.5 is the grid's own).
    pub aspect: f32,
    /// Stroke width over glyph height.
    pub weight: f32,
    /// Space between glyphs over glyph height.
    pub spacing: f32,
    /// The maker's `4` is closed at the top (most real plates leave it open).
    pub closed_four: bool,
    /// The maker's `6` and `9` have straight tails (most real plates curve them).
    pub straight_tails: bool,
}

impl Style {
    /// The style of a plate: proportions within what real plates show, drawn from its text.
    pub fn for_text(text: &str) -> Self {
        let mut h: u32 = 2166136261;
        for b in text.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(16777619);
        }
        let unit = |shift: u32| ((h >> shift) & 0xff) as f32 / 255.0;
        Self {
            aspect: 0.44 + 0.08 * unit(0),
            weight: 0.12 + 0.06 * unit(8),
            spacing: 0.07 + 0.05 * unit(16),
            closed_four: (h >> 24) & 0xf < 4,
            straight_tails: (h >> 28) & 0xf < 4,
        }
    }
}

/// The centre lines of the glyphs: `M x y`, `L x y`, `C x1 y1 x2 y2 x y`, `Z`; x from 0 to 1,
/// y from 0 (top) to 2 (baseline). Strokes end flat; a glyph's outer strokes lie half a stroke
/// inside its box (the table's 0.1 and 1.9 are where a stroke of weight 0.2 keeps in).
const GLYPHS: &[(char, &str)] = &[
    (
        '0',
        "M .12 .55 C .12 .22 .3 .1 .5 .1 C .7 .1 .88 .22 .88 .55 L .88 1.45 C .88 1.78 .7 1.9 .5 1.9 C .3 1.9 .12 1.78 .12 1.45 Z",
    ),
    ('1', "M .2 .5 L .64 .1 L .64 1.9"),
    (
        '2',
        "M .13 .52 C .13 .24 .3 .1 .5 .1 C .72 .1 .87 .26 .87 .52 C .87 .8 .7 .98 .5 1.2 L .13 1.9 L .9 1.9",
    ),
    (
        '3',
        "M .13 .45 C .15 .2 .3 .1 .5 .1 C .72 .1 .86 .25 .86 .48 C .86 .76 .7 .93 .42 .93 M .42 .93 C .74 .93 .89 1.13 .89 1.42 C .89 1.74 .72 1.9 .5 1.9 C .28 1.9 .13 1.78 .11 1.52",
    ),
    ('4', "M .56 .1 L .1 1.38 L .92 1.38 M .72 .74 L .72 1.9"),
    (
        '5',
        "M .86 .1 L .2 .1 L .15 .92 C .27 .84 .38 .8 .52 .8 C .75 .8 .88 .98 .88 1.32 C .88 1.7 .72 1.9 .48 1.9 C .28 1.9 .14 1.78 .11 1.55",
    ),
    (
        '6',
        "M .84 .3 C .78 .16 .66 .1 .52 .1 C .28 .1 .13 .34 .12 .86 L .12 1.43 M .5 1.9 C .26 1.9 .12 1.72 .12 1.43 C .12 1.15 .28 .98 .5 .98 C .72 .98 .88 1.15 .88 1.43 C .88 1.72 .74 1.9 .5 1.9 Z",
    ),
    ('7', "M .1 .1 L .9 .1 L .36 1.9"),
    (
        '8',
        "M .5 .93 C .3 .93 .16 .78 .16 .52 C .16 .26 .3 .1 .5 .1 C .7 .1 .84 .26 .84 .52 C .84 .78 .7 .93 .5 .93 Z M .5 1.9 C .27 1.9 .12 1.73 .12 1.43 C .12 1.13 .27 .93 .5 .93 C .73 .93 .88 1.13 .88 1.43 C .88 1.73 .73 1.9 .5 1.9 Z",
    ),
    (
        '9',
        "M .16 1.7 C .22 1.84 .34 1.9 .48 1.9 C .72 1.9 .87 1.66 .88 1.14 L .88 .57 M .5 .1 C .74 .1 .88 .28 .88 .57 C .88 .85 .72 1.02 .5 1.02 C .28 1.02 .12 .85 .12 .57 C .12 .28 .26 .1 .5 .1 Z",
    ),
    ('A', "M .08 1.9 L .5 .1 L .92 1.9 M .23 1.3 L .77 1.3"),
    (
        'B',
        "M .13 .1 L .13 1.9 L .56 1.9 C .78 1.9 .88 1.73 .88 1.45 C .88 1.15 .76 .96 .54 .96 L .13 .96 M .13 .1 L .52 .1 C .72 .1 .83 .24 .83 .52 C .83 .8 .72 .96 .52 .96",
    ),
    (
        'C',
        "M .88 .5 C .86 .24 .72 .1 .5 .1 C .28 .1 .12 .24 .12 .55 L .12 1.45 C .12 1.76 .28 1.9 .5 1.9 C .72 1.9 .86 1.76 .88 1.5",
    ),
    (
        'D',
        "M .13 .1 L .13 1.9 L .48 1.9 C .74 1.9 .88 1.74 .88 1.45 L .88 .55 C .88 .26 .74 .1 .48 .1 Z",
    ),
    (
        'Đ',
        "M .13 .1 L .13 1.9 L .48 1.9 C .74 1.9 .88 1.74 .88 1.45 L .88 .55 C .88 .26 .74 .1 .48 .1 Z M -.05 1.0 L .4 1.0",
    ),
    (
        'E',
        "M .88 .1 L .13 .1 L .13 1.9 L .88 1.9 M .13 .96 L .74 .96",
    ),
    ('F', "M .88 .1 L .13 .1 L .13 1.9 M .13 .96 L .74 .96"),
    (
        'G',
        "M .88 .5 C .86 .24 .72 .1 .5 .1 C .28 .1 .12 .24 .12 .55 L .12 1.45 C .12 1.76 .28 1.9 .5 1.9 C .72 1.9 .88 1.76 .88 1.45 L .88 1.04 L .52 1.04",
    ),
    (
        'H',
        "M .13 .1 L .13 1.9 M .87 .1 L .87 1.9 M .13 .96 L .87 .96",
    ),
    ('I', "M .5 .1 L .5 1.9"),
    (
        'J',
        "M .8 .1 L .8 1.45 C .8 1.76 .66 1.9 .46 1.9 C .26 1.9 .14 1.76 .13 1.5",
    ),
    (
        'K',
        "M .13 .1 L .13 1.9 M .9 .1 L .13 1.25 M .38 .88 L .9 1.9",
    ),
    ('L', "M .13 .1 L .13 1.9 L .88 1.9"),
    ('M', "M .1 1.9 L .1 .1 L .5 1.25 L .9 .1 L .9 1.9"),
    ('N', "M .12 1.9 L .12 .1 L .88 1.9 L .88 .1"),
    (
        'O',
        "M .12 .55 C .12 .22 .3 .1 .5 .1 C .7 .1 .88 .22 .88 .55 L .88 1.45 C .88 1.78 .7 1.9 .5 1.9 C .3 1.9 .12 1.78 .12 1.45 Z",
    ),
    (
        'P',
        "M .13 1.9 L .13 .1 L .54 .1 C .76 .1 .88 .26 .88 .56 C .88 .86 .76 1.02 .54 1.02 L .13 1.02",
    ),
    (
        'Q',
        "M .12 .55 C .12 .22 .3 .1 .5 .1 C .7 .1 .88 .22 .88 .55 L .88 1.45 C .88 1.78 .7 1.9 .5 1.9 C .3 1.9 .12 1.78 .12 1.45 Z M .56 1.5 L .9 1.98",
    ),
    (
        'R',
        "M .13 1.9 L .13 .1 L .54 .1 C .76 .1 .88 .26 .88 .56 C .88 .86 .76 1.02 .54 1.02 L .13 1.02 M .52 1.02 L .9 1.9",
    ),
    (
        'S',
        "M .87 .48 C .85 .22 .7 .1 .5 .1 C .28 .1 .14 .24 .14 .48 C .14 .74 .3 .86 .5 .95 C .74 1.05 .88 1.2 .88 1.48 C .88 1.76 .72 1.9 .5 1.9 C .28 1.9 .13 1.77 .12 1.5",
    ),
    ('T', "M .06 .1 L .94 .1 M .5 .1 L .5 1.9"),
    (
        'U',
        "M .12 .1 L .12 1.45 C .12 1.76 .28 1.9 .5 1.9 C .72 1.9 .88 1.76 .88 1.45 L .88 .1",
    ),
    ('V', "M .08 .1 L .5 1.9 L .92 .1"),
    ('W', "M .04 .1 L .26 1.9 L .5 .7 L .74 1.9 L .96 .1"),
    ('X', "M .1 .1 L .9 1.9 M .9 .1 L .1 1.9"),
    ('Y', "M .08 .1 L .5 1.0 L .92 .1 M .5 1.0 L .5 1.9"),
    ('Z', "M .12 .1 L .88 .1 L .12 1.9 L .9 1.9"),
    ('-', "M .12 1.0 L .58 1.0"),
    ('.', "M .2 1.58 L .2 1.92"),
];

/// The other makers' shapes: a closed `4`, a `6` and a `9` with straight tails
/// ([`Style::closed_four`], [`Style::straight_tails`]).
const CLOSED_FOUR: &str = "M .7 1.9 L .7 .1 L .1 1.38 L .92 1.38";
const STRAIGHT_SIX: &str = "M .74 .1 L .2 1.08 M .5 1.9 C .26 1.9 .12 1.72 .12 1.43 C .12 1.15 .28 .98 .5 .98 C .72 .98 .88 1.15 .88 1.43 C .88 1.72 .74 1.9 .5 1.9 Z";
const STRAIGHT_NINE: &str = "M .26 1.9 L .8 .92 M .5 .1 C .74 .1 .88 .28 .88 .57 C .88 .85 .72 1.02 .5 1.02 C .28 1.02 .12 .85 .12 .57 C .12 .28 .26 .1 .5 .1 Z";

/// How much of a glyph's width a character advances by: the dash and the dot are narrow.
fn advance(c: char) -> f32 {
    match c {
        '-' => 0.7,
        '.' => 0.42,
        _ => 1.0,
    }
}

/// The stroke of the dash and the dot, over the glyph stroke: the dash is a short heavy bar, the
/// dot a square as wide as a stroke.
fn weight_of(c: char) -> f32 {
    match c {
        '-' => 1.25,
        '.' => 1.3,
        _ => 1.0,
    }
}

/// Whether the table draws `c`.
pub fn has(c: char) -> bool {
    GLYPHS.iter().any(|(g, _)| *g == c)
}

fn glyph(c: char, style: &Style) -> Option<&'static str> {
    match c {
        '4' if style.closed_four => Some(CLOSED_FOUR),
        '6' if style.straight_tails => Some(STRAIGHT_SIX),
        '9' if style.straight_tails => Some(STRAIGHT_NINE),
        _ => GLYPHS.iter().find(|(g, _)| *g == c).map(|(_, p)| *p),
    }
}

/// The path of one glyph's centre lines, scaled to a glyph `w` wide and `h` high at (x, y).
fn path(spec: &str, x: f32, y: f32, w: f32, h: f32) -> Option<tiny_skia::Path> {
    let mut b = PathBuilder::new();
    let mut words = spec.split_whitespace();
    let num = |words: &mut std::str::SplitWhitespace<'_>| -> Option<f32> {
        words.next()?.parse::<f32>().ok()
    };
    let at = |u: f32, v: f32| (x + u * w, y + v * h / 2.0);
    while let Some(cmd) = words.next() {
        match cmd {
            "M" => {
                let (px, py) = at(num(&mut words)?, num(&mut words)?);
                b.move_to(px, py);
            }
            "L" => {
                let (px, py) = at(num(&mut words)?, num(&mut words)?);
                b.line_to(px, py);
            }
            "C" => {
                let (x1, y1) = at(num(&mut words)?, num(&mut words)?);
                let (x2, y2) = at(num(&mut words)?, num(&mut words)?);
                let (px, py) = at(num(&mut words)?, num(&mut words)?);
                b.cubic_to(x1, y1, x2, y2, px, py);
            }
            "Z" => b.close(),
            _ => return None,
        }
    }
    b.finish()
}

/// The natural width of `text` for glyphs `h` high, in the same unit as `h`.
pub fn text_width(text: &str, h: f32, style: &Style) -> f32 {
    let n = text.chars().count();
    text.chars()
        .map(|c| advance(c) * style.aspect * h)
        .sum::<f32>()
        + style.spacing * h * n.saturating_sub(1) as f32
}

/// Draws `text` in `colour` over `img`, its glyphs `h` high from the top `y`, starting at `x`
/// and squeezed horizontally by `squeeze` (1: as the style has them). Returns the characters the
/// table does not hold (drawn by nothing here), for the caller to draw otherwise.
pub fn draw(
    img: &mut RgbImage,
    text: &str,
    (x, y, h): (f32, f32, f32),
    squeeze: f32,
    style: &Style,
    colour: [u8; 3],
) -> Vec<(char, f32, f32)> {
    let (w_img, h_img) = img.dimensions();
    let Some(mut mask) = Pixmap::new(w_img, h_img) else {
        return Vec::new();
    };
    let mut paint = Paint::default();
    paint.set_color_rgba8(255, 255, 255, 255);
    paint.anti_alias = true;
    let glyph_w = style.aspect * h * squeeze;
    let mut pen = x;
    let mut missing = Vec::new();
    for c in text.chars() {
        let w = glyph_w * advance(c);
        match glyph(c, style).and_then(|spec| path(spec, pen, y, w.max(glyph_w), h)) {
            Some(p) => {
                let stroke = Stroke {
                    width: style.weight * h * weight_of(c),
                    line_cap: LineCap::Butt,
                    line_join: LineJoin::Round,
                    ..Stroke::default()
                };
                mask.stroke_path(&p, &paint, &stroke, Transform::identity(), None);
            }
            None => missing.push((c, pen, w)),
        }
        pen += w + style.spacing * h * squeeze;
    }
    for (py, row) in mask.data().chunks_exact(w_img as usize * 4).enumerate() {
        for (px, rgba) in row.chunks_exact(4).enumerate() {
            let a = f32::from(rgba[3]) / 255.0;
            if a > 0.0 {
                let p = img.get_pixel_mut(px as u32, py as u32);
                for (dst, src) in p.0.iter_mut().zip(colour) {
                    *dst = (f32::from(*dst) * (1.0 - a) + f32::from(src) * a).round() as u8;
                }
            }
        }
    }
    let _ = h_img;
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plate_character_has_a_glyph_that_draws() {
        let alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZĐ-.";
        for c in alphabet.chars() {
            assert!(has(c), "{c}");
            for (closed_four, straight_tails) in [(false, false), (true, true)] {
                let style = Style {
                    closed_four,
                    straight_tails,
                    ..Style::for_text("")
                };
                let spec = glyph(c, &style).expect("glyph");
                assert!(path(spec, 0.0, 0.0, 10.0, 20.0).is_some(), "{c}: {spec}");
            }
        }
    }

    #[test]
    fn glyphs_are_tall_narrow_even_strokes_inside_their_box() {
        let style = Style {
            aspect: 0.48,
            weight: 0.13,
            spacing: 0.1,
            closed_four: false,
            straight_tails: false,
        };
        let mut img = RgbImage::from_pixel(200, 120, image::Rgb([255, 255, 255]));
        let missing = draw(&mut img, "8", (20.0, 10.0, 100.0), 1.0, &style, [0, 0, 0]);
        assert!(missing.is_empty());
        let dark: Vec<(u32, u32)> = img
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0[0] < 128)
            .map(|(x, y, _)| (x, y))
            .collect();
        let (x0, x1) = (
            dark.iter().map(|p| p.0).min().unwrap(),
            dark.iter().map(|p| p.0).max().unwrap(),
        );
        let (y0, y1) = (
            dark.iter().map(|p| p.1).min().unwrap(),
            dark.iter().map(|p| p.1).max().unwrap(),
        );
        let (w, h) = ((x1 - x0) as f32, (y1 - y0) as f32);
        assert!((0.4..0.6).contains(&(w / h)), "{w} x {h}");
        assert!(h > 90.0 && h < 106.0, "as tall as asked: {h}");
        // The 8's middle: a horizontal stroke about a stroke wide.
        let column = dark.iter().filter(|p| p.0 == (x0 + x1) / 2).count() as f32;
        assert!(
            column < 4.5 * 13.0,
            "four strokes across its middle column: {column}"
        );
        // Unknown characters are handed back, not drawn.
        let missing = draw(&mut img, "8#", (0.0, 0.0, 50.0), 1.0, &style, [0, 0, 0]);
        assert_eq!(missing.len(), 1);
    }

    #[test]
    fn a_plates_style_is_its_own_and_within_bounds() {
        let a = Style::for_text("51F-123.45");
        assert_eq!(a, Style::for_text("51F-123.45"));
        assert_ne!(a, Style::for_text("51F-123.46"));
        for t in ["29-X1 123.45", "30A-999.99", "59-MĐ1 000.01"] {
            let s = Style::for_text(t);
            assert!((0.44..=0.52).contains(&s.aspect));
            assert!((0.12..=0.18).contains(&s.weight));
        }
        // Most plates have the open 4 and the curved tails real plates show; some makers' not.
        let styles: Vec<Style> = (0..400)
            .map(|i| Style::for_text(&format!("51F-{i:03}.45")))
            .collect();
        let closed = styles.iter().filter(|s| s.closed_four).count();
        let straight = styles.iter().filter(|s| s.straight_tails).count();
        assert!((50..150).contains(&closed), "{closed} of 400 closed fours");
        assert!(
            (50..150).contains(&straight),
            "{straight} of 400 straight tails"
        );
    }
}
