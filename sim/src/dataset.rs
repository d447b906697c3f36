//! Training data for the project's models, from random scenes: detection frames with YOLO
//! labels, rectified plate crops with their text, vehicle crops with plate corners, and rider
//! crops with helmet labels. Scenes are split into train and validation whole, so no
//! validation image shares a scene with a training one.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use anyhow::Context;
use image::{RgbImage, imageops};
use rayon::prelude::*;

use crate::{
    camera::CameraSpec,
    geom::{BoxPx, Px},
    output::{StillFormat, jpeg_round_trip, rectify, save, write_json},
    plate::PlateFace,
    render::Renderer,
    rng::Rng,
    scenario::{
        ActorSpec, Behaviour, Conditions, Direction, FlowSpec, LaneSpec, RoadSpec, ScenarioSpec,
        SignalPlan, TimeOfDay,
    },
    vehicle::ObjectClass,
    world::World,
};

/// Size of a rectified plate crop (the plate recognizer's input).
pub const PLATE_CROP: (u32, u32) = (160, 64);
/// The margin around a plate in a recognizer crop, a share of the plate's width on every side:
/// as much as the corners' jitter, so a crop never cuts a character.
pub const PLATE_MARGIN: f32 = 0.04;
/// Side of a vehicle crop for the plate detector.
pub const VEHICLE_CROP: u32 = 128;
/// Side of a rider crop for the helmet classifier.
pub const RIDER_CROP: u32 = 64;

/// What to export.
#[derive(Debug, Clone)]
pub struct DatasetOptions {
    pub out: PathBuf,
    pub seed: u64,
    pub scenes: usize,
    pub frames_per_scene: usize,
    /// Frames per scene from which plate crops are taken (more: plates are the scarce part).
    pub plate_frames_per_scene: usize,
    /// Every n-th scene goes to validation.
    pub val_every: usize,
    /// Width of the detection frames (height follows the aspect).
    pub detect_width: u32,
    /// Narrowest and lowest plate (pixels) exported as a recognizer crop: smaller ones cannot
    /// be read by anyone.
    pub min_plate_px: f32,
    pub min_plate_height_px: f32,
    /// Cars per minute in training scenes are multiplied by this: cars carry the one-line
    /// plates, which motorbike-heavy traffic leaves scarce. Validation scenes are left as drawn,
    /// so their figures stay comparable between data sets of the same seed.
    pub train_car_boost: f32,
    /// Each side of a plate crop lies this share of the plate's width outside the plate
    /// (`protocol::geometry::widen_quad`), before the corners are jittered as a detector would
    /// place them; the recognizer's reader widens the detector's corners the same way (the
    /// model's `crop_margin` in models/manifest.toml).
    pub plate_margin: f32,
    /// The typeface of the scenes' plates.
    pub plate_face: PlateFace,
    /// Each vehicle crop's plate again in a loose crop around the plate alone, for the plate
    /// detector: a reader handed a plate another detector found, or a photograph of one.
    pub loose_plates: bool,
}

impl Default for DatasetOptions {
    fn default() -> Self {
        Self {
            out: PathBuf::from("data/sim-dataset"),
            seed: 1,
            scenes: 200,
            frames_per_scene: 12,
            plate_frames_per_scene: 36,
            val_every: 10,
            detect_width: 640,
            min_plate_px: 28.0,
            min_plate_height_px: 13.0,
            train_car_boost: 1.0,
            plate_margin: PLATE_MARGIN,
            plate_face: PlateFace::Dejavu,
            loose_plates: false,
        }
    }
}

/// How many items of each part were written, per split.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Counts {
    pub detect_images: usize,
    pub detect_objects: usize,
    pub plates: usize,
    pub vehicle_crops: usize,
    pub rider_crops: usize,
    pub plates_by_layout: BTreeMap<String, usize>,
    pub riders_without_helmet: usize,
}

#[derive(Debug, Default)]
struct SceneOut {
    split: &'static str,
    counts: Counts,
    plate_labels: Vec<String>,
    vehicle_labels: Vec<String>,
    rider_labels: Vec<String>,
}

/// A random scene: camera, road, light, weather and traffic all drawn from `rng`.
///
/// A `plate_camera` is set up the way plate-reading cameras are: zoomed in on the near lanes,
/// so plates come out large enough to read.
pub fn random_scenario(rng: &mut Rng, name: String, plate_camera: bool) -> ScenarioSpec {
    let width = 1280;
    let camera = if plate_camera {
        CameraSpec {
            height_m: rng.range(4.0, 7.0),
            tilt_deg: rng.range(16.0, 28.0),
            focal_px: rng.range(1800.0, 3200.0),
            lateral_m: rng.range(-2.0, 2.0),
            width,
            height: 720,
            shutter_ms: None,
            ..CameraSpec::default()
        }
    } else {
        CameraSpec {
            height_m: rng.range(4.5, 9.5),
            tilt_deg: rng.range(8.0, 20.0),
            focal_px: rng.range(850.0, 1700.0),
            lateral_m: rng.range(-3.0, 3.0),
            width,
            height: 720,
            shutter_ms: None,
            ..CameraSpec::default()
        }
    };
    let n = 2 + rng.below(4);
    let toward = if n >= 3 && rng.chance(0.4) {
        1 + rng.below(n / 2)
    } else {
        0
    };
    let mut lanes: Vec<LaneSpec> = (0..n)
        .map(|i| LaneSpec {
            direction: if i < toward {
                Direction::Toward
            } else {
                Direction::Away
            },
            allowed: Vec::new(),
        })
        .collect();
    if rng.chance(0.35) {
        let last = lanes.len() - 1;
        lanes[last].allowed = vec![ObjectClass::Motorbike];
    }
    let signal = rng.chance(0.6).then(|| SignalPlan {
        green_s: rng.range(8.0, 20.0),
        amber_s: 3.0,
        red_s: rng.range(8.0, 20.0),
        offset_s: rng.range(0.0, 30.0),
    });
    let stop_line_m = signal.map(|_| rng.range(18.0, 40.0));
    let time_of_day = match rng.weighted(&[0.6, 0.2, 0.2]) {
        0 => TimeOfDay::Day,
        1 => TimeOfDay::Dusk,
        _ => TimeOfDay::Night,
    };
    let conditions = Conditions {
        time_of_day,
        rain: if rng.chance(0.25) {
            rng.range(0.2, 0.9)
        } else {
            0.0
        },
        noise: rng.range(1.0, 6.0),
        shadows: rng.chance(0.8),
        shutter_ms: if time_of_day == TimeOfDay::Night {
            rng.range(3.0, 12.0)
        } else {
            rng.range(0.5, 6.0)
        },
    };
    let dense = rng.chance(0.3);
    let flow = FlowSpec {
        per_minute: BTreeMap::from([
            (
                ObjectClass::Car,
                if plate_camera {
                    rng.range(8.0, 16.0)
                } else {
                    rng.range(2.0, 10.0)
                },
            ),
            (
                ObjectClass::Motorbike,
                if dense {
                    rng.range(20.0, 45.0)
                } else {
                    rng.range(4.0, 15.0)
                },
            ),
            (ObjectClass::Bus, rng.range(0.0, 1.5)),
            (ObjectClass::Truck, rng.range(0.0, 2.0)),
        ]),
        speed_kmh: [rng.range(15.0, 30.0), rng.range(32.0, 55.0)],
        passenger_rate: rng.range(0.0, 0.4),
        pedestrians_per_minute: rng.range(0.0, 12.0),
        no_helmet_rate: rng.range(0.1, 0.5),
    };
    // A car or two coming head-on in a lane going away, so front plates are seen as well.
    let mut actors = Vec::new();
    if toward == 0 && rng.chance(0.3) {
        actors.push(ActorSpec {
            class: ObjectClass::Car,
            lane: 0,
            at_s: rng.range(0.0, 8.0),
            speed_kmh: rng.range(20.0, 40.0),
            behaviour: Behaviour::WrongWay,
            plate: None,
            layout: None,
            colour: None,
            helmets: None,
            stop_at_m: None,
            dwell_s: None,
        });
    }
    ScenarioSpec {
        name,
        description: "random scene for training data".into(),
        duration_s: 20.0,
        fps: 10,
        camera,
        plate_camera: None,
        conditions,
        road: RoadSpec {
            lanes,
            lane_width_m: rng.range(3.0, 3.8),
            stop_line_m,
            junction: stop_line_m.is_some() && rng.chance(0.6),
            speed_limit_kmh: 60.0,
            speed_limits: BTreeMap::new(),
            speed_zone_m: None,
            no_stopping: Vec::new(),
            far_m: 160.0,
        },
        signal,
        flow,
        actors,
        plate_face: PlateFace::default(),
    }
}

/// Exports the dataset; returns the counts per split.
pub fn export(opts: &DatasetOptions) -> anyhow::Result<BTreeMap<&'static str, Counts>> {
    anyhow::ensure!(
        opts.train_car_boost.is_finite() && opts.train_car_boost >= 0.0,
        "train_car_boost must be a number ≥ 0, not {}",
        opts.train_car_boost
    );
    anyhow::ensure!(
        (0.0..=0.5).contains(&opts.plate_margin),
        "plate_margin must be 0 to 0.5, not {}",
        opts.plate_margin
    );
    let out = &opts.out;
    for split in ["train", "val"] {
        for dir in [
            format!("detect/images/{split}"),
            format!("detect/labels/{split}"),
            format!("plates/{split}"),
            format!("plate-detect/{split}"),
            format!("helmet/{split}"),
        ] {
            fs::create_dir_all(out.join(&dir))
                .with_context(|| format!("creating {}", out.join(&dir).display()))?;
        }
    }
    let classes: Vec<&str> = ObjectClass::ALL.iter().map(|c| c.as_str()).collect();
    fs::write(out.join("detect/classes.txt"), classes.join("\n") + "\n")
        .context("writing classes.txt")?;
    // The same split described as the Ultralytics layout's data.yaml, so that
    // `edge-agent eval-detect --data OUT/detect/data.yaml --split val` measures a detector on it.
    fs::write(
        out.join("detect/data.yaml"),
        format!(
            "train: images/train\nval: images/val\nnames: [{}]\n",
            classes.join(", ")
        ),
    )
    .context("writing data.yaml")?;

    let scenes: Vec<anyhow::Result<SceneOut>> = (0..opts.scenes)
        .into_par_iter()
        .map(|i| export_scene(opts, i))
        .collect();
    let mut totals: BTreeMap<&'static str, Counts> = BTreeMap::new();
    let mut labels: BTreeMap<(&'static str, &'static str), Vec<String>> = BTreeMap::new();
    for scene in scenes {
        let scene = scene?;
        let t = totals.entry(scene.split).or_default();
        t.detect_images += scene.counts.detect_images;
        t.detect_objects += scene.counts.detect_objects;
        t.plates += scene.counts.plates;
        t.vehicle_crops += scene.counts.vehicle_crops;
        t.rider_crops += scene.counts.rider_crops;
        t.riders_without_helmet += scene.counts.riders_without_helmet;
        for (k, v) in scene.counts.plates_by_layout {
            *t.plates_by_layout.entry(k).or_default() += v;
        }
        labels
            .entry((scene.split, "plates"))
            .or_default()
            .extend(scene.plate_labels);
        labels
            .entry((scene.split, "plate-detect"))
            .or_default()
            .extend(scene.vehicle_labels);
        labels
            .entry((scene.split, "helmet"))
            .or_default()
            .extend(scene.rider_labels);
    }
    for split in ["train", "val"] {
        for part in ["plates", "plate-detect", "helmet"] {
            let lines = labels.remove(&(split, part)).unwrap_or_default();
            let mut text = lines.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            let path = out.join(part).join(split).join("labels.tsv");
            fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    write_json(
        &out.join("manifest.json"),
        &serde_json::json!({
            "generator": concat!("sim ", env!("CARGO_PKG_VERSION")),
            "seed": opts.seed,
            "scenes": opts.scenes,
            "frames_per_scene": opts.frames_per_scene,
            "val_every": opts.val_every,
            "train_car_boost": opts.train_car_boost,
            "plate_margin": opts.plate_margin,
            "plate_face": opts.plate_face,
            "loose_plates": opts.loose_plates,
            "plate_crop": [PLATE_CROP.0, PLATE_CROP.1],
            "vehicle_crop": VEHICLE_CROP,
            "rider_crop": RIDER_CROP,
            "counts": &totals,
        }),
    )?;
    Ok(totals)
}

/// A plate's corners as shares of `crop`, as the plate-detect labels write them.
fn corners_in(corners: &[Px; 4], crop: &BoxPx) -> String {
    corners
        .iter()
        .flat_map(|c| {
            [
                (c[0] - crop.x0) / crop.width(),
                (c[1] - crop.y0) / crop.height(),
            ]
        })
        .map(|v| format!("{v:.5}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Scene `index` of the data set: its split, its scenario and the generator its frames go on
/// drawing from.
fn scene_spec(opts: &DatasetOptions, index: usize) -> (&'static str, ScenarioSpec, Rng) {
    let split = if opts.val_every > 0 && index % opts.val_every == opts.val_every - 1 {
        "val"
    } else {
        "train"
    };
    let mut rng = Rng::stream(opts.seed, 10_000 + index as u64);
    let mut spec = random_scenario(&mut rng, format!("random-{index:05}"), index % 2 == 1);
    if split == "train"
        && let Some(cars) = spec.flow.per_minute.get_mut(&ObjectClass::Car)
    {
        *cars *= opts.train_car_boost;
    }
    spec.plate_face = opts.plate_face;
    (split, spec, rng)
}

fn export_scene(opts: &DatasetOptions, index: usize) -> anyhow::Result<SceneOut> {
    let (split, spec, mut rng) = scene_spec(opts, index);
    let world = World::simulate(&spec, rng.next_u64());
    let renderer = Renderer::new(&world);
    let mut scene = SceneOut {
        split,
        ..SceneOut::default()
    };
    let frames = renderer.frame_count();
    let shots = opts
        .plate_frames_per_scene
        .max(opts.frames_per_scene)
        .max(1);
    let step = (frames / shots).max(1);
    let detect_every = (shots / opts.frames_per_scene.max(1)).max(1);
    let out = &opts.out;
    for (k, f) in (step / 2..frames).step_by(step).take(shots).enumerate() {
        let frame = renderer.render(f);
        let name = format!("{index:05}_{k:03}");
        let quality = 55 + rng.below(41) as u8;
        let seen = &frame.image;
        let (w, h) = (frame.image.width() as f32, frame.image.height() as f32);
        let full = k % detect_every == 0 && k / detect_every < opts.frames_per_scene;
        for (j, o) in frame.truth.objects.iter().enumerate() {
            // Plate crops, rectified from jittered corners as a detector would give them.
            let Some(p) = o.plate.as_ref().filter(|p| {
                let tall =
                    (p.corners[3][1] - p.corners[0][1]).min(p.corners[2][1] - p.corners[1][1]);
                p.visible && p.width_px >= opts.min_plate_px && tall >= opts.min_plate_height_px
            }) else {
                continue;
            };
            let item = format!("{name}_{j:02}");
            let jitter = p.width_px * 0.04;
            let widened = protocol::geometry::widen_quad(&p.corners, opts.plate_margin);
            let corners: [Px; 4] = widened.map(|c| {
                [
                    c[0] + rng.range(-jitter, jitter),
                    c[1] + rng.range(-jitter, jitter),
                ]
            });
            // The camera's compression, applied to the neighbourhood of the plate only (on
            // 8-pixel blocks, as the whole frame would be): much cheaper than the frame.
            let Some(around) = BoxPx::around(&corners) else {
                continue;
            };
            let x0 = ((around.x0 - 16.0).max(0.0) as u32) & !7;
            let y0 = ((around.y0 - 16.0).max(0.0) as u32) & !7;
            let x1 = ((around.x1 + 16.0).min(w) as u32).max(x0 + 8);
            let y1 = ((around.y1 + 16.0).min(h) as u32).max(y0 + 8);
            let local = imageops::crop_imm(seen, x0, y0, x1 - x0, y1 - y0).to_image();
            let local = jpeg_round_trip(&local, quality)?;
            let shifted = corners.map(|c| [c[0] - x0 as f32, c[1] - y0 as f32]);
            if let Some(crop) = rectify(&local, &shifted, PLATE_CROP.0, PLATE_CROP.1) {
                save(
                    &crop,
                    &out.join(format!("plates/{split}/{item}.png")),
                    StillFormat::Png,
                    0,
                )?;
                let layout = serde_json::to_value(p.layout)?
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                let colour = p.colour.as_str();
                scene.plate_labels.push(format!(
                    "{item}.png\t{}\t{layout}\t{colour}\t{:.1}\t{:.1}",
                    p.canonical, p.width_px, p.blur_px
                ));
                *scene.counts.plates_by_layout.entry(layout).or_default() += 1;
                scene.counts.plates += 1;
            }
        }
        if !full {
            continue;
        }

        // Detection frame and YOLO labels.
        let dh = (opts.detect_width as f32 * h / w).round() as u32;
        let small = imageops::resize(seen, opts.detect_width, dh, imageops::FilterType::Triangle);
        let scale = opts.detect_width as f32 / w;
        save(
            &small,
            &out.join(format!("detect/images/{split}/{name}.jpg")),
            StillFormat::Jpg,
            quality,
        )?;
        let mut yolo = String::new();
        for o in &frame.truth.objects {
            let b = o.bbox;
            if o.visible < 0.25 || b.width() * scale < 5.0 || b.height() * scale < 5.0 {
                continue;
            }
            yolo.push_str(&format!(
                "{} {:.6} {:.6} {:.6} {:.6}\n",
                o.class.id(),
                (b.x0 + b.x1) / 2.0 / w,
                (b.y0 + b.y1) / 2.0 / h,
                b.width() / w,
                b.height() / h
            ));
            scene.counts.detect_objects += 1;
        }
        fs::write(out.join(format!("detect/labels/{split}/{name}.txt")), yolo)
            .context("writing labels")?;
        scene.counts.detect_images += 1;

        for (j, o) in frame.truth.objects.iter().enumerate() {
            let item = format!("{name}_{j:02}");
            let b = o.bbox;
            // Vehicle crops with the plate's corners.
            if o.class != ObjectClass::Person
                && o.visible >= 0.7
                && !o.truncated
                && b.width() >= 40.0
            {
                let grow = |r: &mut Rng| r.range(0.05, 0.2);
                let crop = BoxPx {
                    x0: (b.x0 - grow(&mut rng) * b.width()).max(0.0),
                    y0: (b.y0 - grow(&mut rng) * b.height()).max(0.0),
                    x1: (b.x1 + grow(&mut rng) * b.width()).min(w),
                    y1: (b.y1 + grow(&mut rng) * b.height()).min(h),
                };
                let img = crop_resize(seen, &crop, VEHICLE_CROP, VEHICLE_CROP);
                save(
                    &img,
                    &out.join(format!("plate-detect/{split}/{item}.jpg")),
                    StillFormat::Jpg,
                    quality,
                )?;
                let plate = o.plate.as_ref().filter(|p| p.visible && p.width_px >= 4.0);
                let label = match plate {
                    Some(p) => {
                        format!("{item}.jpg\t1\t{}", corners_in(&p.corners, &crop))
                    }
                    None => format!("{item}.jpg\t0\t{}", ["0"; 8].join(" ")),
                };
                scene.vehicle_labels.push(label);
                scene.counts.vehicle_crops += 1;
                // The plate again in a crop around it alone (a margin of nothing to a
                // whole plate on each side, unevenly), as a plate reader is handed a plate
                // another detector found, or a photograph of one.
                if let Some(p) = plate.filter(|p| opts.loose_plates && p.width_px >= 24.0) {
                    let BoxPx {
                        x0: px0,
                        y0: py0,
                        x1: px1,
                        y1: py1,
                    } = BoxPx::around_quad(&p.corners);
                    let (pw, ph) = (px1 - px0, py1 - py0);
                    let side = |r: &mut Rng, size: f32| r.range(0.02, 1.0) * size;
                    let crop = BoxPx {
                        x0: (px0 - side(&mut rng, pw)).max(0.0),
                        y0: (py0 - side(&mut rng, ph.max(pw * 0.3))).max(0.0),
                        x1: (px1 + side(&mut rng, pw)).min(w),
                        y1: (py1 + side(&mut rng, ph.max(pw * 0.3))).min(h),
                    };
                    let img = crop_resize(seen, &crop, VEHICLE_CROP, VEHICLE_CROP);
                    let loose = format!("{item}_p");
                    save(
                        &img,
                        &out.join(format!("plate-detect/{split}/{loose}.jpg")),
                        StillFormat::Jpg,
                        quality,
                    )?;
                    scene
                        .vehicle_labels
                        .push(format!("{loose}.jpg\t1\t{}", corners_in(&p.corners, &crop)));
                    scene.counts.vehicle_crops += 1;
                }
            }
            // Rider crops: the upper part of a motorbike's box.
            if o.class == ObjectClass::Motorbike
                && o.visible >= 0.8
                && !o.truncated
                && b.height() >= 40.0
                && !o.helmets.is_empty()
            {
                let top = BoxPx {
                    x0: b.x0,
                    y0: b.y0,
                    x1: b.x1,
                    y1: b.y0 + b.height() * 0.5,
                };
                let img =
                    jpeg_round_trip(&crop_resize(seen, &top, RIDER_CROP, RIDER_CROP), quality)?;
                save(
                    &img,
                    &out.join(format!("helmet/{split}/{item}.png")),
                    StillFormat::Png,
                    0,
                )?;
                let bare = o.helmets.iter().any(|h| !h);
                scene.rider_labels.push(format!(
                    "{item}.png\t{}",
                    if bare { "no_helmet" } else { "helmet" }
                ));
                scene.counts.rider_crops += 1;
                scene.counts.riders_without_helmet += usize::from(bare);
            }
        }
    }
    Ok(scene)
}

/// Crops `b` out of `img` and resizes it to `w` × `h` (no letterbox).
pub fn crop_resize(img: &RgbImage, b: &BoxPx, w: u32, h: u32) -> RgbImage {
    let x = b.x0.max(0.0) as u32;
    let y = b.y0.max(0.0) as u32;
    let cw = (b.width().ceil() as u32).clamp(1, img.width() - x.min(img.width() - 1));
    let ch = (b.height().ceil() as u32).clamp(1, img.height() - y.min(img.height() - 1));
    let view = imageops::crop_imm(img, x, y, cw, ch).to_image();
    imageops::resize(&view, w, h, imageops::FilterType::Triangle)
}

/// Where the dataset goes when no `--out` is given.
pub fn default_out() -> &'static Path {
    Path::new("data/sim-dataset")
}

#[cfg(test)]
mod tests;
