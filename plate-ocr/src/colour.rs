//! The plate colour from the rectified crop: the background is the larger of the two tones
//! (split at the mean brightness), the lettering the smaller; their hues name the colour.

use image::RgbImage;
use protocol::PlateColour;

fn hue_sat_val(p: [f32; 3]) -> (f32, f32, f32) {
    let (r, g, b) = (p[0], p[1], p[2]);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    let h = if d <= 1e-6 {
        0.0
    } else if max == r {
        60.0 * ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / d + 2.0)
    } else {
        60.0 * ((r - g) / d + 4.0)
    };
    (h, if max > 0.0 { d / max } else { 0.0 }, max)
}

fn mean(pixels: &[[f32; 3]]) -> [f32; 3] {
    let n = pixels.len().max(1) as f32;
    let mut m = [0.0; 3];
    for p in pixels {
        for i in 0..3 {
            m[i] += p[i] / n;
        }
    }
    m
}

/// The colour of a rectified plate.
pub fn classify(crop: &RgbImage) -> PlateColour {
    // The inner part: the border and the margins of a loose crop are left out.
    let (w, h) = crop.dimensions();
    let inner: Vec<[f32; 3]> = crop
        .enumerate_pixels()
        .filter(|(x, y, _)| *x > w / 10 && *x < w - w / 10 && *y > h / 8 && *y < h - h / 8)
        .map(|(_, _, p)| p.0.map(|c| f32::from(c) / 255.0))
        .collect();
    if inner.is_empty() {
        return PlateColour::White;
    }
    let brightness = |p: &[f32; 3]| (p[0] + p[1] + p[2]) / 3.0;
    let split = inner.iter().map(brightness).sum::<f32>() / inner.len() as f32;
    let (light, dark): (Vec<[f32; 3]>, Vec<[f32; 3]>) =
        inner.iter().partition(|p| brightness(p) >= split);
    let (background, lettering) = if light.len() >= dark.len() {
        (mean(&light), mean(&dark))
    } else {
        (mean(&dark), mean(&light))
    };
    let (bh, bs, _) = hue_sat_val(background);
    let (lh, ls, _) = hue_sat_val(lettering);
    let saturated = bs > 0.35;
    match bh {
        h if saturated && (30.0..75.0).contains(&h) => PlateColour::Yellow,
        h if saturated && (190.0..260.0).contains(&h) => PlateColour::Blue,
        h if saturated && !(20.0..330.0).contains(&h) => PlateColour::Red,
        _ if ls > 0.4 && !(20.0..330.0).contains(&lh) => PlateColour::WhiteRedText,
        _ => PlateColour::White,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plate(bg: [u8; 3], fg: [u8; 3]) -> RgbImage {
        RgbImage::from_fn(160, 64, |x, y| {
            image::Rgb(if (x / 12) % 3 == 0 && (20..44).contains(&y) {
                fg
            } else {
                bg
            })
        })
    }

    #[test]
    fn names_each_colour() {
        assert_eq!(
            classify(&plate([230, 230, 225], [20, 20, 20])),
            PlateColour::White
        );
        assert_eq!(
            classify(&plate([235, 195, 40], [20, 20, 20])),
            PlateColour::Yellow
        );
        assert_eq!(
            classify(&plate([30, 70, 160], [240, 240, 240])),
            PlateColour::Blue
        );
        assert_eq!(
            classify(&plate([185, 30, 35], [240, 240, 240])),
            PlateColour::Red
        );
        assert_eq!(
            classify(&plate([235, 235, 230], [190, 25, 25])),
            PlateColour::WhiteRedText
        );
        // Dim light keeps the hue.
        assert_eq!(
            classify(&plate([120, 98, 20], [10, 10, 10])),
            PlateColour::Yellow
        );
    }
}
