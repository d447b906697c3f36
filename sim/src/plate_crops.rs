//! Plate crops as a reader meets them on real streets, for training the plate recognizer.
//!
//! A scene of the simulator shows its plates as a clean renderer does: flat paint, a camera
//! with a little blur and JPEG. Real crops (street cameras, phones, a detector's box) show the
//! plate's embossed lettering and sheeting, screws, a holder around it, dirt and fading, glare
//! and shadows, sodium and infrared light at night, focus and motion blur, sensor noise, heavy
//! compression, a few dozen pixels for a far plate, and a crop that is seldom exactly the plate:
//! tilted, sheared by the view, cut at an edge or loose around it, sometimes padded with black
//! where someone rotated it. [`plate_crop`] draws one such crop of a random valid plate from
//! the plate texture [`crate::plate::render_plate`] makes; [`export`] writes a training set in
//! the layout of `sim dataset`'s `plates/` (a crop of the recognizer's input size and a
//! `labels.tsv` row with text, layout and colour).
//!
//! Everything comes from the seed: the same seed writes the same files on every machine.
//!
//! One file because the degradations are one pipeline, applied in the order a real crop meets
//! them (plate, holder, light, optics, sensor, compression), each a short step.

use std::{fs, path::Path};

use anyhow::Context;
use image::{Rgb, RgbImage, imageops};
use protocol::geometry::Homography;
use rayon::prelude::*;
use vision::pixels::bilinear_rgb;

use crate::{
    geom::BoxPx,
    output::{StillFormat, jpeg_round_trip, save},
    plate::{PlateFace, PlateSpec, plate_colours, random_plate, render_plate},
    rng::Rng,
    vehicle::ObjectClass,
};

/// The recognizer's input: its crops are written at this size.
pub const CROP_SIZE: (u32, u32) = (160, 64);

/// The plate detector's input: its crops are written this size squared.
pub const DETECT_SIZE: u32 = 128;

/// What [`export`] writes.
#[derive(Debug, Clone)]
pub struct CropOptions {
    pub seed: u64,
    /// Recognizer crops in all (training and validation).
    pub count: usize,
    /// Loose plate-detector crops in all (training and validation).
    pub detect_count: usize,
    /// Every n-th crop goes to the validation split.
    pub val_every: usize,
    /// Share of the plates lettered in the plates' own capitals ([`PlateFace::Stroke`]); the
    /// rest in DejaVu, the face of the simulator's scenes.
    pub stroke_share: f32,
}

/// Crops written per split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    pub plates_train: usize,
    pub plates_val: usize,
    pub detect_train: usize,
    pub detect_val: usize,
}

/// Writes `count` recognizer crops to `out/plates/{train,val}/` (PNG; `labels.tsv` rows:
/// name, canonical text, layout, colour) and `detect_count` loose crops to
/// `out/plate-detect/{train,val}/` (JPEG; rows: name, 1, the corners as shares of the crop), in
/// the layouts `sim dataset` writes, and `out/manifest.json`.
pub fn export(opts: &CropOptions, out: &Path) -> anyhow::Result<Written> {
    let val_every = opts.val_every.max(2);
    let face = |rng: &mut Rng| {
        if rng.chance(opts.stroke_share) {
            PlateFace::Stroke
        } else {
            PlateFace::Dejavu
        }
    };
    let plates = write_split(out, "plates", opts.count, val_every, |i, dir| {
        let mut rng = Rng::stream(opts.seed, i as u64);
        let face = face(&mut rng);
        let (spec, crop) = plate_crop(&mut rng, face)?;
        let name = format!("c{i:07}.png");
        save(&crop, &dir.join(&name), StillFormat::Png, 0)?;
        let layout = serde_json::to_value(spec.layout)?
            .as_str()
            .unwrap_or("")
            .to_owned();
        Ok(format!(
            "{name}\t{}\t{layout}\t{}",
            spec.canonical,
            spec.colour.as_str()
        ))
    })?;
    let detect = write_split(
        out,
        "plate-detect",
        opts.detect_count,
        val_every,
        |i, dir| {
            let mut rng = Rng::stream(opts.seed, (1 << 40) + i as u64);
            let face = face(&mut rng);
            let (_, crop, corners) = loose_crop(&mut rng, face)?;
            let name = format!("l{i:07}.jpg");
            let quality = rng.range(60.0, 95.0) as u8;
            save(&crop, &dir.join(&name), StillFormat::Jpg, quality)?;
            let corners: Vec<String> = corners
                .iter()
                .flatten()
                .map(|v| format!("{v:.5}"))
                .collect();
            Ok(format!("{name}\t1\t{}", corners.join(" ")))
        },
    )?;
    let written = Written {
        plates_train: plates.0,
        plates_val: plates.1,
        detect_train: detect.0,
        detect_val: detect.1,
    };
    let manifest = serde_json::json!({
        "kind": "plate-crops",
        "seed": opts.seed,
        "val_every": val_every,
        "stroke_share": opts.stroke_share,
        // The recognizer's crop margin: the loosest crops are wider, the tightest cut into the
        // plate, and the middle of what it is trained on is the reader's own widened crop.
        "plate_margin": crate::dataset::PLATE_MARGIN,
        "plate_crop": [CROP_SIZE.0, CROP_SIZE.1],
        "vehicle_crop": DETECT_SIZE,
        "written": written,
    });
    fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?,
    )
    .context("writing manifest.json")?;
    Ok(written)
}

/// Writes `count` items of `part` with `item(i, split_dir)` (which returns the item's
/// `labels.tsv` row), every `val_every`-th to `val`; returns the items per split.
fn write_split(
    out: &Path,
    part: &str,
    count: usize,
    val_every: usize,
    item: impl Fn(usize, &Path) -> anyhow::Result<String> + Sync,
) -> anyhow::Result<(usize, usize)> {
    if count == 0 {
        return Ok((0, 0));
    }
    let dirs = ["train", "val"].map(|split| out.join(part).join(split));
    for dir in &dirs {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let rows: Vec<(usize, String)> = (0..count)
        .into_par_iter()
        .map(|i| {
            let split = usize::from(i % val_every == val_every - 1);
            Ok((split, item(i, &dirs[split])?))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut counts = [0; 2];
    for (split, dir) in dirs.iter().enumerate() {
        let lines: Vec<&str> = rows
            .iter()
            .filter(|(s, _)| *s == split)
            .map(|(_, l)| l.as_str())
            .collect();
        counts[split] = lines.len();
        let path = dir.join("labels.tsv");
        fs::write(&path, lines.join("\n") + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok((counts[0], counts[1]))
}

/// One random valid plate and a crop of it as a camera and a detector might give it, at
/// [`CROP_SIZE`].
pub fn plate_crop(rng: &mut Rng, face: PlateFace) -> anyhow::Result<(PlateSpec, RgbImage)> {
    let (spec, crop, _) = framed(rng, face, Framing::Reader)?;
    let crop = imageops::resize(
        &crop,
        CROP_SIZE.0,
        CROP_SIZE.1,
        imageops::FilterType::Triangle,
    );
    Ok((spec, crop))
}

/// One random valid plate in a loose crop of [`DETECT_SIZE`] squared, with its corners as
/// shares of the crop's width and height: plate detector data.
pub fn loose_crop(
    rng: &mut Rng,
    face: PlateFace,
) -> anyhow::Result<(PlateSpec, RgbImage, [[f32; 2]; 4])> {
    let (spec, crop, quad) = framed(rng, face, Framing::Loose)?;
    let (w, h) = (crop.width() as f32, crop.height() as f32);
    let crop = imageops::resize(
        &crop,
        DETECT_SIZE,
        DETECT_SIZE,
        imageops::FilterType::Triangle,
    );
    Ok((spec, crop, quad.map(|[x, y]| [x / w, y / h])))
}

/// A random plate, weathered, in its holder, seen, lit and degraded: the crop at its own size
/// and the plate's corners in it.
fn framed(
    rng: &mut Rng,
    face: PlateFace,
    framing: Framing,
) -> anyhow::Result<(PlateSpec, RgbImage, [[f32; 2]; 4])> {
    let class = match rng.weighted(&[0.6, 0.3, 0.1]) {
        0 => ObjectClass::Motorbike,
        1 => ObjectClass::Car,
        _ => ObjectClass::Truck,
    };
    let spec = random_plate(rng, class);
    let mut plate = render_plate(&spec, face, rng);
    weather(&mut plate, &spec, rng);
    let (plate, inset) = holder(plate, rng);
    let (crop, quad) = view(&plate, inset, &spec, framing, rng);
    let crop = light(crop, rng);
    let crop = degrade(crop, rng)?;
    Ok((spec, crop, quad))
}

/// Is this pixel lettering (or the border), rather than the plate's background?
fn is_ink(p: [u8; 3], bg: [u8; 3], fg: [u8; 3]) -> bool {
    let d = |a: [u8; 3], b: [u8; 3]| -> i32 {
        a.iter()
            .zip(b)
            .map(|(&x, y)| (i32::from(x) - i32::from(y)).abs())
            .sum()
    };
    d(p, fg) < d(p, bg)
}

fn scale_px(p: &mut Rgb<u8>, k: f32) {
    for c in &mut p.0 {
        *c = (f32::from(*c) * k).round().clamp(0.0, 255.0) as u8;
    }
}

fn mix_px(p: &mut Rgb<u8>, c: [f32; 3], a: f32) {
    for (dst, src) in p.0.iter_mut().zip(c) {
        *dst = (f32::from(*dst) * (1.0 - a) + src * a)
            .round()
            .clamp(0.0, 255.0) as u8;
    }
}

/// What years on the road do to a plate: embossed lettering catching the light on one side and
/// shading the other, grainy sheeting, fading, dirt, and the screws that hold it.
fn weather(img: &mut RgbImage, spec: &PlateSpec, rng: &mut Rng) {
    let (w, h) = img.dimensions();
    let (bg, fg) = plate_colours(spec.colour);
    // Embossing: the raised strokes cast a shadow one way and catch light the other.
    if rng.chance(0.8) {
        let src = img.clone();
        let (dx, dy) = (
            if rng.chance(0.5) { 1 } else { -1 },
            if rng.chance(0.7) { 1 } else { -1 },
        );
        let depth = rng.range(1.0, 2.5);
        let shade = rng.range(0.55, 0.85);
        let lift = rng.range(1.05, 1.25);
        for y in 0..h {
            for x in 0..w {
                let here = src.get_pixel(x, y).0;
                if is_ink(here, bg, fg) {
                    continue;
                }
                let at = |k: f32| {
                    let sx = x as f32 - dx as f32 * k;
                    let sy = y as f32 - dy as f32 * k;
                    (sx >= 0.0 && sy >= 0.0 && sx < w as f32 && sy < h as f32)
                        .then(|| src.get_pixel(sx as u32, sy as u32).0)
                };
                if at(depth).is_some_and(|p| is_ink(p, bg, fg)) {
                    scale_px(img.get_pixel_mut(x, y), shade);
                } else if at(-depth).is_some_and(|p| is_ink(p, bg, fg)) {
                    scale_px(img.get_pixel_mut(x, y), lift);
                }
            }
        }
    }
    // Retroreflective sheeting: a fine grain over the whole face.
    let grain = rng.range(0.0, 10.0);
    if grain > 1.0 {
        for p in img.pixels_mut() {
            let n = rng.normal() * grain;
            for c in &mut p.0 {
                *c = (f32::from(*c) + n).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    // Fading: the lettering's paint wears toward the background.
    if rng.chance(0.3) {
        let fade = rng.range(0.05, 0.45);
        let bgf = bg.map(f32::from);
        for p in img.pixels_mut() {
            if is_ink(p.0, bg, fg) {
                mix_px(p, bgf, fade);
            }
        }
    }
    // Dirt: soft blotches of road grime, and streaks where water ran down.
    for _ in 0..rng.below(6) {
        let (cx, cy) = (rng.range(0.0, w as f32), rng.range(0.0, h as f32));
        let (rx, ry) = (
            rng.range(4.0, w as f32 * 0.3),
            rng.range(3.0, h as f32 * 0.3),
        );
        let tone = rng.range(30.0, 120.0);
        let colour = [tone * 1.1, tone, tone * 0.8];
        let strength = rng.range(0.1, 0.5);
        blob(img, (cx, cy), (rx, ry), colour, strength);
    }
    if rng.chance(0.2) {
        for _ in 0..1 + rng.below(5) {
            let x = rng.range(0.0, w as f32);
            let y0 = rng.range(0.0, h as f32 * 0.5);
            blob(
                img,
                (x, y0 + h as f32 * 0.3),
                (rng.range(1.5, 5.0), h as f32 * 0.3),
                [70.0, 60.0, 45.0],
                rng.range(0.1, 0.35),
            );
        }
    }
    // The embossed seal some plates carry at the top, between the lettering.
    if rng.chance(0.35) {
        let r = rng.range(4.0, 8.0);
        let (cx, cy) = (
            rng.range(0.4, 0.7) * w as f32,
            rng.range(0.08, 0.2) * h as f32,
        );
        let tone = bg.map(|c| f32::from(c) * rng.range(0.6, 0.85));
        for y in (cy - r - 1.0).max(0.0) as u32..((cy + r + 1.0) as u32).min(h) {
            for x in (cx - r - 1.0).max(0.0) as u32..((cx + r + 1.0) as u32).min(w) {
                let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
                let ring = (1.0 - (d - r).abs()).clamp(0.0, 1.0);
                let star = if d < r * 0.5 { 0.4 } else { 0.0 };
                mix_px(img.get_pixel_mut(x, y), tone, ring.max(star));
            }
        }
    }
    // Screws: two at the top (motorbike plates often have them between the lettering), or
    // four near the corners.
    if rng.chance(0.5) {
        let r = rng.range(3.5, 6.5);
        let y = rng.range(0.12, 0.32) * h as f32;
        let inset = rng.range(0.06, 0.3) * w as f32;
        let mut at = vec![(inset, y), (w as f32 - inset, y)];
        if rng.chance(0.25) {
            let yb = h as f32 - y;
            at.extend([(inset, yb), (w as f32 - inset, yb)]);
        }
        let metal = rng.range(90.0, 210.0);
        for (x, y) in at {
            screw(img, (x, y), r, metal);
        }
    }
}

/// A soft ellipse of `colour` blended in with `strength` at its centre.
fn blob(img: &mut RgbImage, (cx, cy): (f32, f32), (rx, ry): (f32, f32), colour: [f32; 3], a: f32) {
    let (w, h) = img.dimensions();
    let (x0, x1) = ((cx - rx).max(0.0) as u32, ((cx + rx) as u32).min(w));
    let (y0, y1) = ((cy - ry).max(0.0) as u32, ((cy + ry) as u32).min(h));
    for y in y0..y1 {
        for x in x0..x1 {
            let d = ((x as f32 - cx) / rx).powi(2) + ((y as f32 - cy) / ry).powi(2);
            if d < 1.0 {
                mix_px(img.get_pixel_mut(x, y), colour, a * (1.0 - d));
            }
        }
    }
}

/// A screw head: a metal disc, lit from above, with a dark slot.
fn screw(img: &mut RgbImage, (cx, cy): (f32, f32), r: f32, metal: f32) {
    let (w, h) = img.dimensions();
    for y in (cy - r).max(0.0) as u32..((cy + r + 1.0) as u32).min(h) {
        for x in (cx - r).max(0.0) as u32..((cx + r + 1.0) as u32).min(w) {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let d = (dx * dx + dy * dy).sqrt();
            if d > r {
                continue;
            }
            let v = if dy.abs() < r * 0.18 {
                metal * 0.35
            } else {
                metal * (1.1 - 0.4 * (dy / r + 1.0) / 2.0)
            };
            let edge = (r - d).clamp(0.0, 1.0);
            mix_px(img.get_pixel_mut(x, y), [v, v, v * 0.97], edge);
        }
    }
}

/// The plate in its holder: most plates sit in a plastic or metal frame, a few bare on the
/// vehicle. Returns the image and the plate's inset in it, in pixels.
fn holder(plate: RgbImage, rng: &mut Rng) -> (RgbImage, u32) {
    if rng.chance(0.4) {
        return (plate, 0);
    }
    let t = rng.range(2.0, 12.0).round() as u32;
    let tone = match rng.weighted(&[0.6, 0.25, 0.15]) {
        0 => rng.range(10.0, 50.0),
        1 => rng.range(120.0, 200.0),
        _ => rng.range(60.0, 110.0),
    };
    let colour = Rgb([
        tone as u8,
        tone as u8,
        (tone * rng.range(0.9, 1.1)).min(255.0) as u8,
    ]);
    let (w, h) = plate.dimensions();
    let mut out = RgbImage::from_pixel(w + 2 * t, h + 2 * t, colour);
    imageops::replace(&mut out, &plate, i64::from(t), i64::from(t));
    (out, t)
}

/// How a crop frames its plate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// As a reader is handed a plate: mostly tight, sometimes cut, now and then loose.
    Reader,
    /// As a plate detector is handed one: the plate alone with a margin of nothing to a
    /// plate's width on each side, unevenly, small margins the more often.
    Loose,
}

/// The plate as a camera sees it and a crop frames it: a few dozen to a few hundred pixels
/// wide, turned, sheared and foreshortened, on a vehicle's body. Returns the crop and the
/// plate's corners in it (top-left, top-right, bottom-right, bottom-left; the holder's inner
/// edge).
fn view(
    img: &RgbImage,
    inset: u32,
    spec: &PlateSpec,
    framing: Framing,
    rng: &mut Rng,
) -> (RgbImage, [[f32; 2]; 4]) {
    let (tw, th) = (img.width() as f32, img.height() as f32);
    let (pw_mm, ph_mm) = spec.size_mm();
    // The plate's width in the crop's pixels: far plates are small, log-uniform.
    let (lo, hi): (f32, f32) = if pw_mm > 400.0 {
        (70.0, 420.0)
    } else {
        (36.0, 300.0)
    };
    let pw = (lo.ln() + rng.f32() * (hi.ln() - lo.ln())).exp();
    let ph = pw * ph_mm / pw_mm * rng.range(0.9, 1.12);
    // A reader's crop is framed on the plate's upright rectangle, so a tilted plate's corners
    // may fall outside it: mostly tight, sometimes cutting into the plate, now and then loose.
    let reader_margins = (framing == Framing::Reader).then(|| {
        let mut margin = || {
            if rng.chance(0.15) {
                rng.range(0.1, 0.35)
            } else {
                rng.range(-0.04, 0.1)
            }
        };
        (margin(), margin(), margin(), margin())
    });
    // The plate's quad about its centre: a rectangle turned, sheared and foreshortened.
    let angle = (rng.normal() * 4.0).clamp(-12.0, 12.0).to_radians();
    let shear = (rng.normal() * 0.08).clamp(-0.25, 0.25);
    let persp = rng.range(-0.08, 0.08);
    let (sin, cos) = angle.sin_cos();
    let unturned: [[f32; 2]; 4] =
        [[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]].map(|[u, v]| {
            let (mut x, y) = (u * pw, v * ph);
            x += shear * y;
            // One side nearer the camera: taller than the other.
            let y = y * (1.0 + persp * u * 2.0);
            let jitter = 0.02 * pw;
            [x + rng.normal() * jitter, y + rng.normal() * jitter * 0.5]
        });
    let turned_about = |(cx, cy): (f32, f32)| {
        unturned.map(|[x, y]| [cx + x * cos - y * sin, cy + x * sin + y * cos])
    };
    // The box framed: the upright plate for a reader's crop, the quad's box for a loose one.
    let (quad, (cw, ch)) = match reader_margins {
        Some((ml, mr, mt, mb)) => (
            turned_about((pw * (ml + 0.5), ph * (mt + 0.5))),
            (pw * (1.0 + ml + mr), ph * (1.0 + mt + mb)),
        ),
        None => {
            let quad = turned_about((0.0, 0.0));
            let BoxPx { x0, y0, x1, y1 } = BoxPx::around_quad(&quad);
            let (bw, bh) = (x1 - x0, y1 - y0);
            // Vertical margins as wide as the horizontal ones in pixels at most: a one-line
            // plate's crop is not a tall strip. Small margins the more often: a photo or a
            // tight box fills the crop with its plate.
            let tall = (bw / bh).min(3.0);
            let mut side = |k: f32| rng.f32().powi(2) * k;
            let (ml, mr, mt, mb) = (side(1.0), side(1.0), side(tall * 0.5), side(tall * 0.5));
            (
                quad.map(|[x, y]| [x - x0 + ml * bw, y - y0 + mt * bh]),
                (bw * (1.0 + ml + mr), bh * (1.0 + mt + mb)),
            )
        }
    };
    let (cw, ch) = (cw.round().max(8.0), ch.round().max(6.0));
    // Sampling a small view from the large texture aliases: bring the texture near the view's
    // scale first, as a camera's optics and sensor would.
    let k = (pw * 1.5 / (tw - 2.0 * inset as f32)).min(1.0);
    let tex = if k < 0.95 {
        imageops::resize(
            img,
            ((tw * k).round() as u32).max(4),
            ((th * k).round() as u32).max(4),
            imageops::FilterType::Triangle,
        )
    } else {
        img.clone()
    };
    let sx = tex.width() as f32 / tw;
    let sy = tex.height() as f32 / th;
    let i = inset as f32;
    let plate_in_tex = [
        [i * sx, i * sy],
        [(tw - i) * sx, i * sy],
        [(tw - i) * sx, (th - i) * sy],
        [i * sx, (th - i) * sy],
    ];
    let (cw, ch) = (cw as u32, ch as u32);
    let mut out = background(cw, ch, rng);
    let Some(to_tex) = Homography::from_quads(&quad, &plate_in_tex) else {
        return (out, quad);
    };
    let (txw, txh) = (tex.width() as f32, tex.height() as f32);
    for y in 0..ch {
        for x in 0..cw {
            let Some([u, v]) = to_tex.apply([x as f32 + 0.5, y as f32 + 0.5]) else {
                continue;
            };
            if u < 0.0 || v < 0.0 || u >= txw || v >= txh {
                continue;
            }
            let c = bilinear_rgb(tex.as_raw(), tex.width(), tex.height(), u - 0.5, v - 0.5);
            // A soft edge where the holder meets the vehicle.
            let edge = u.min(v).min(txw - u).min(txh - v).clamp(0.0, 1.0);
            mix_px(out.get_pixel_mut(x, y), c, edge);
        }
    }
    (out, quad)
}

/// What lies around a plate: a vehicle's paint, bumper and shadows.
fn background(w: u32, h: u32, rng: &mut Rng) -> RgbImage {
    let base = match rng.weighted(&[0.45, 0.2, 0.35]) {
        0 => {
            let t = rng.range(5.0, 60.0);
            [t, t, t]
        }
        1 => {
            let t = rng.range(120.0, 230.0);
            [t, t, t * rng.range(0.9, 1.05)]
        }
        _ => {
            // Painted bodies, their colour muted by distance, dust and the camera.
            let grey = rng.range(40.0, 180.0);
            [0; 3].map(|_| grey * 0.5 + rng.range(10.0, 210.0) * 0.5)
        }
    };
    let (gx, gy) = (rng.range(-0.5, 0.5), rng.range(-0.6, 0.6));
    let noise = rng.range(1.0, 12.0);
    let mut out = RgbImage::new(w, h);
    for (x, y, p) in out.enumerate_pixels_mut() {
        let k = 1.0 + gx * (x as f32 / w as f32 - 0.5) + gy * (y as f32 / h as f32 - 0.5);
        let n = rng.normal() * noise;
        p.0 = base.map(|c| (c * k + n).round().clamp(0.0, 255.0) as u8);
    }
    // A bumper edge or a lamp: a band of another tone across the crop.
    if rng.chance(0.3) {
        let y0 = rng.range(0.0, h as f32) as u32;
        let band = (rng.range(0.05, 0.3) * h as f32) as u32;
        let tone = rng.range(0.0, 255.0);
        for y in y0..(y0 + band).min(h) {
            for x in 0..w {
                mix_px(out.get_pixel_mut(x, y), [tone, tone, tone], 0.7);
            }
        }
    }
    out
}

/// Light on the street: uneven illumination, colour casts, exposure, sun glare and shadows,
/// sodium lamps and infrared at night.
fn light(mut img: RgbImage, rng: &mut Rng) -> RgbImage {
    let (w, h) = img.dimensions();
    let (wf, hf) = (w as f32, h as f32);
    let mode = rng.weighted(&[0.62, 0.18, 0.12, 0.08]);
    let gain = match mode {
        // Day.
        0 => [
            rng.range(0.9, 1.1),
            rng.range(0.9, 1.1),
            rng.range(0.88, 1.1),
        ],
        // Dusk or night under sodium lamps: warm and dim.
        1 => {
            let k = rng.range(0.35, 0.8);
            [k * 1.15, k, k * 0.7]
        }
        // Overexposed: the plate's sheeting returns a flash or headlights.
        2 => {
            let k = rng.range(1.2, 1.8);
            [k, k, k]
        }
        // Infrared: grey, handled below.
        _ => [1.0, 1.0, 1.0],
    };
    let gamma = rng.range(0.7, 1.4);
    let (gx, gy) = (rng.range(-0.6, 0.6), rng.range(-0.4, 0.4));
    let offset = rng.range(-15.0, 20.0);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let ramp = 1.0 + gx * (x as f32 / wf - 0.5) + gy * (y as f32 / hf - 0.5);
        for (c, g) in p.0.iter_mut().zip(gain) {
            let v = (f32::from(*c) / 255.0).powf(gamma) * 255.0 * g * ramp + offset;
            *c = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    if mode == 3 {
        let contrast = rng.range(1.1, 1.8);
        for p in img.pixels_mut() {
            let [r, g, b] = p.0.map(f32::from);
            let v = ((0.3 * r + 0.59 * g + 0.11 * b - 128.0) * contrast + 140.0).clamp(0.0, 255.0);
            p.0 = [v as u8; 3];
        }
    }
    // A shadow across part of the plate (a mudguard, a pole, the vehicle ahead).
    if rng.chance(0.15) {
        let (nx, ny) = (rng.normal(), rng.normal());
        let at = rng.range(-0.3, 0.3);
        let k = rng.range(0.35, 0.75);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let s = nx * (x as f32 / wf - 0.5) + ny * (y as f32 / hf - 0.5);
            if s > at {
                scale_px(p, k);
            }
        }
    }
    // Glare: a bright patch where the sun or a headlight reflects.
    if rng.chance(0.18) {
        let (cx, cy) = (rng.range(0.0, wf), rng.range(0.0, hf));
        let (rx, ry) = (rng.range(0.1, 0.5) * wf, rng.range(0.15, 0.7) * hf);
        let a = rng.range(0.3, 0.95);
        blob(&mut img, (cx, cy), (rx, ry), [255.0, 255.0, 250.0], a);
    }
    img
}

/// The camera and the path to the reader: focus and motion blur, sensor noise, compression,
/// and now and then the black corners of a crop someone turned upright.
fn degrade(img: RgbImage, rng: &mut Rng) -> anyhow::Result<RgbImage> {
    let (w, h) = img.dimensions();
    let mut img = if rng.chance(0.5) {
        let sigma = rng.range(0.3, 1.0) * (w as f32 / 160.0).clamp(0.4, 1.5);
        imageops::blur(&img, sigma)
    } else {
        img
    };
    if rng.chance(0.25) {
        img = motion_blur(
            &img,
            rng.range(1.5, 0.025 * w as f32 + 2.5),
            rng.range(-0.5, 0.5),
        );
    }
    let noise = if rng.chance(0.6) {
        rng.range(1.0, 12.0)
    } else {
        0.0
    };
    if noise > 0.0 {
        for p in img.pixels_mut() {
            let n = rng.normal() * noise;
            for c in &mut p.0 {
                *c = (f32::from(*c) + n + rng.normal() * noise * 0.3)
                    .round()
                    .clamp(0.0, 255.0) as u8;
            }
        }
    }
    if rng.chance(0.08) {
        // The corners a crop turned upright is padded with: black triangles at two opposite
        // corners.
        let (a, b) = (
            rng.range(0.05, 0.25) * w as f32,
            rng.range(0.1, 0.5) * h as f32,
        );
        let flip = rng.chance(0.5);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let xf = if flip {
                w as f32 - 1.0 - x as f32
            } else {
                x as f32
            };
            let yf = y as f32;
            let near = xf / a + yf / b < 1.0;
            let far = (w as f32 - 1.0 - xf) / a + (h as f32 - 1.0 - yf) / b < 1.0;
            if near || far {
                p.0 = [0, 0, 0];
            }
        }
    }
    if rng.chance(0.85) {
        let quality = rng.range(20.0, 95.0) as u8;
        img = jpeg_round_trip(&img, quality)?;
    }
    Ok(img)
}

/// The image smeared over `length` pixels along `angle` (radians from the horizontal).
fn motion_blur(img: &RgbImage, length: f32, angle: f32) -> RgbImage {
    let (w, h) = img.dimensions();
    let steps = length.ceil().max(2.0) as usize;
    let (dx, dy) = (angle.cos() * length, angle.sin() * length);
    let mut out = RgbImage::new(w, h);
    for (x, y, p) in out.enumerate_pixels_mut() {
        let mut acc = [0.0f32; 3];
        for s in 0..steps {
            let t = s as f32 / (steps - 1) as f32 - 0.5;
            let c = bilinear_rgb(img.as_raw(), w, h, x as f32 + t * dx, y as f32 + t * dy);
            for (a, v) in acc.iter_mut().zip(c) {
                *a += v;
            }
        }
        p.0 = acc.map(|a| (a / steps as f32).round().clamp(0.0, 255.0) as u8);
    }
    out
}

#[cfg(test)]
mod tests;
