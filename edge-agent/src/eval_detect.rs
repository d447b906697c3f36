//! `edge-agent eval-detect`: the vehicle detector measured on a labelled image set, through the
//! agent's own pre- and post-processing (letterbox, decoding, class map, one box per object)
//! at the agent's own operating threshold.
//!
//! The set is in the YOLO / Roboflow layout: a `data.yaml` naming the classes (`names`), and
//! beside it `SPLIT/images/*.jpg|png` with `SPLIT/labels/NAME.txt` (`class cx cy w h`,
//! normalised). Dataset names are mapped to the agent's classes (`car`; `motobike`,
//! `motorbike`, `motorcycle` → motorbike; `bus`, `truck`); other classes (signal lamps, stop
//! lines) are not vehicles. When the set has no bus or truck class, its `car` means any
//! four-wheeled vehicle, and the detector's buses and trucks count as cars.
//!
//! Per class: AP at IoU 0.5 (all-point interpolated precision–recall curve over every
//! detection the agent keeps), precision and recall at the operating threshold, the recall of
//! vehicles at least 32 px tall, and counts; milliseconds per image are the detector's
//! (pre-processing, inference, decoding), on the configured threads. The same figures are given
//! apart for the dense images, those with at least [`DENSE_MOTORBIKES`] labelled motorbikes:
//! packed two-wheelers are where a detector misses most and spends most.
//!
//! One file for one command: reading the set, matching boxes, the figures and their report are
//! used nowhere else.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, bail};
use protocol::{VehicleClass, messages::SignalState};
use serde::Serialize;
use vision::{BoxF, Manifest};

use crate::{
    config::ModelSettings,
    detect::{PeopleDetector, VehicleDetector, vehicle_of_label},
};

/// Vehicles at least this tall (pixels, in the image as stored) are the ones the recall goal
/// is about.
pub const TALL_PX: f32 = 32.0;

/// IoU at which a detection matches a labelled box.
const IOU: f32 = 0.5;

/// An image with at least this many labelled motorbikes is a dense one.
pub const DENSE_MOTORBIKES: usize = 5;

/// What to measure.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// The set's `data.yaml`.
    pub data: PathBuf,
    /// `valid`, `val` or `test`.
    pub split: String,
    /// The detector's name in the manifests; the configured one when `None`.
    pub detector: Option<String>,
    /// At most this many images (0: all), in name order.
    pub limit: usize,
    /// The operating threshold, instead of the configured or the model's own.
    pub min_score: Option<f32>,
    /// A detector of people (its manifest and name) whose sure finds stand in for the labels of
    /// people the set does not have ([`PeopleFigures`]).
    pub people_reference: Option<(PathBuf, String)>,
    /// The people detector of the masked copies, instead of the configured one (empty: none).
    pub people_detector: Option<String>,
}

/// The figures of one class.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ClassFigures {
    pub ap50: f64,
    /// At the operating threshold.
    pub precision: f64,
    pub recall: f64,
    /// Recall of labelled boxes at least [`TALL_PX`] tall, at the operating threshold.
    pub recall_tall: f64,
    /// Labelled boxes.
    pub count: usize,
    pub count_tall: usize,
    /// Detections at the operating threshold.
    pub detections: usize,
}

/// The whole report (`--json` prints it).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub detector: String,
    pub data: String,
    pub split: String,
    pub images: usize,
    pub threshold: f32,
    pub ms_per_image: f64,
    pub classes: BTreeMap<String, ClassFigures>,
    /// The same figures on the dense images alone, when the set has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dense: Option<DenseFigures>,
    /// The signal-lamp reading on the set's labelled lamps (when it has lamp classes): those at
    /// least [`LAMP_PX`] across, and all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lamps: Option<BTreeMap<String, LampFigures>>,
    /// How many of the labelled vehicles a masked copy would hide.
    pub masking: MaskFigures,
}

/// Vehicles wide enough for their plate to be readable (a plate is at least a quarter of its
/// vehicle's width: [`MASK_MIN_PX`] wide gives a 12 px plate), and those of them the masked copy
/// of their image hides — [`MASK_COVERED`] of the labelled box inside the regions built from
/// the detector's findings down to the tracker's low score (`evidence::mask_regions`), as the
/// agent masks every vehicle but the offender.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MaskFigures {
    pub min_width_px: f32,
    pub vehicles: usize,
    pub hidden: usize,
    pub recall: f64,
    /// The people detector whose finds the masked copy hides too, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people_detector: Option<String>,
    /// The mean share of an image the people detector's regions cover: what it hides, the
    /// people and what it took for people.
    pub people_area: f64,
    /// The people the reference detector is sure of, and how many of them are hidden.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<PeopleFigures>,
}

/// The people of a set without labels of people, as a reference detector (a COCO export)
/// finds them at [`PERSON_SURE`] or more and [`PERSON_MIN_PX`] tall or more, and those of them
/// the masked copy hides ([`MASK_COVERED`] of the box inside the regions the agent builds from
/// its own detector). An agreement between two detectors, not a recall against labels: a
/// person both miss is counted by neither.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeopleFigures {
    pub reference: String,
    pub min_height_px: f32,
    pub people: usize,
    pub hidden: usize,
    pub recall: f64,
    /// Of them, those the vehicle detector's findings alone hide (all of `hidden` where there
    /// is no people detector).
    pub by_vehicle_detector: usize,
}

/// A person this tall has a face of about 12 px (an eighth of the height).
pub const PERSON_MIN_PX: f32 = 96.0;
/// The reference detector's score at which a person counts as found.
pub const PERSON_SURE: f32 = 0.5;

/// `a` out of `b`, 0 when there is none.
fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// A vehicle this wide has a plate of at least 12 px.
pub const MASK_MIN_PX: f32 = 48.0;
/// The share of a vehicle's box the regions must cover for it to count as hidden.
pub const MASK_COVERED: f32 = 0.9;

/// The share of `b` inside the union of `regions`, on a grid of at most 64 × 64 cells.
fn covered(b: &BoxF, regions: &[protocol::VehicleBox]) -> f32 {
    let (w, h) = (b.width().max(1.0), b.height().max(1.0));
    let (nx, ny) = (w.min(64.0) as usize, h.min(64.0) as usize);
    let mut inside = 0usize;
    for j in 0..ny {
        for i in 0..nx {
            let x = b.x0 + (i as f32 + 0.5) * w / nx as f32;
            let y = b.y0 + (j as f32 + 0.5) * h / ny as f32;
            if regions.iter().any(|r| {
                x >= r.x as f32
                    && x <= (r.x + r.width) as f32
                    && y >= r.y as f32
                    && y <= (r.y + r.height) as f32
            }) {
                inside += 1;
            }
        }
    }
    inside as f32 / (nx * ny).max(1) as f32
}

/// The figures of the images with at least `min_motorbikes` labelled motorbikes.
#[derive(Debug, Clone, Serialize)]
pub struct DenseFigures {
    pub min_motorbikes: usize,
    pub images: usize,
    pub ms_per_image: f64,
    pub classes: BTreeMap<String, ClassFigures>,
}

/// The tallies of a set of images.
#[derive(Debug, Default)]
struct Subset {
    tallies: BTreeMap<VehicleClass, Tally>,
    images: usize,
    spent: std::time::Duration,
}

impl Subset {
    fn ms_per_image(&self) -> f64 {
        self.spent.as_secs_f64() * 1000.0 / self.images.max(1) as f64
    }

    fn classes(&self, threshold: f32) -> BTreeMap<String, ClassFigures> {
        self.tallies
            .iter()
            .map(|(c, t)| (c.as_str().to_string(), t.figures(threshold)))
            .collect()
    }
}

/// Whether an image's labelled boxes make it a dense one.
pub fn is_dense(truth: &[Truth]) -> bool {
    truth
        .iter()
        .filter(|t| t.class == VehicleClass::Motorbike)
        .count()
        >= DENSE_MOTORBIKES
}

/// A labelled box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truth {
    pub class: VehicleClass,
    pub bbox: BoxF,
}

/// A detection to score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub class: VehicleClass,
    pub score: f32,
    pub bbox: BoxF,
}

/// The class names of a `data.yaml`: `names: [a, b]`, a block list (`- a`), or a map
/// (`0: a`). Only `names` is read.
pub fn parse_names(yaml: &str) -> anyhow::Result<Vec<String>> {
    let unquote = |s: &str| {
        s.trim()
            .trim_matches(|c| c == '\'' || c == '"')
            .trim()
            .to_string()
    };
    let mut lines = yaml.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("names:") else {
            continue;
        };
        let rest = rest.split(" #").next().unwrap_or("").trim();
        if let Some(inline) = rest.strip_prefix('[') {
            let inline = inline
                .strip_suffix(']')
                .context("data.yaml: `names: [` is not closed on its line")?;
            return Ok(inline
                .split(',')
                .map(unquote)
                .filter(|s| !s.is_empty())
                .collect());
        }
        if !rest.is_empty() {
            bail!("data.yaml: `names` is neither a list nor a map");
        }
        let mut names = BTreeMap::new();
        let mut list = Vec::new();
        for line in lines.by_ref() {
            let t = line.split(" #").next().unwrap_or("").trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if !line.starts_with([' ', '\t', '-']) {
                break;
            }
            if let Some(item) = t.strip_prefix('-') {
                list.push(unquote(item));
            } else if let Some((k, v)) = t.split_once(':') {
                let k: usize = k
                    .trim()
                    .parse()
                    .context("data.yaml: a `names` key is not a number")?;
                names.insert(k, unquote(v));
            }
        }
        if !list.is_empty() {
            return Ok(list);
        }
        let n = names.keys().next_back().map_or(0, |k| k + 1);
        return Ok((0..n)
            .map(|i| names.get(&i).cloned().unwrap_or_default())
            .collect());
    }
    bail!("data.yaml has no `names`")
}

/// The images of a split and their label files, in Roboflow's layout (`SPLIT/images`,
/// `SPLIT/labels`) or Ultralytics' (`images/SPLIT`, `labels/SPLIT`, as `sim dataset` writes
/// it). `valid` and `val` stand for each other.
pub fn split_files(data: &Path, split: &str) -> anyhow::Result<Vec<(PathBuf, PathBuf)>> {
    let root = data.parent().unwrap_or(Path::new("."));
    let candidates: &[&str] = match split {
        "valid" | "val" => &["valid", "val"],
        "test" => &["test"],
        "train" => &["train"],
        other => bail!("--split `{other}`: valid, val, test or train"),
    };
    let (images, labels) = candidates
        .iter()
        .flat_map(|s| {
            [
                (root.join(s).join("images"), root.join(s).join("labels")),
                (root.join("images").join(s), root.join("labels").join(s)),
            ]
        })
        .find(|(images, _)| images.is_dir())
        .with_context(|| {
            format!(
                "no {split}/images or images/{split} folder beside {}",
                data.display()
            )
        })?;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&images)? {
        let path = entry?.path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png" | "bmp")) {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let label = labels.join(format!("{stem}.txt"));
        out.push((path, label));
    }
    out.sort();
    Ok(out)
}

/// The labelled boxes of one image (`w` × `h` pixels) as (dataset class, box); a missing label
/// file is an image with nothing labelled.
pub fn read_labels(label: &Path, w: f32, h: f32) -> anyhow::Result<Vec<(usize, BoxF)>> {
    let text = match std::fs::read_to_string(label) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("{}", label.display())),
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        let bad = || format!("{} line {}: not `class cx cy w h`", label.display(), n + 1);
        if f.len() < 5 {
            bail!(bad());
        }
        let class: usize = f[0].parse().with_context(bad)?;
        let v: Vec<f32> = f[1..5]
            .iter()
            .map(|s| s.parse::<f32>())
            .collect::<Result<_, _>>()
            .with_context(bad)?;
        let (cx, cy, bw, bh) = (v[0] * w, v[1] * h, v[2] * w, v[3] * h);
        out.push((
            class,
            BoxF {
                x0: cx - bw / 2.0,
                y0: cy - bh / 2.0,
                x1: cx + bw / 2.0,
                y1: cy + bh / 2.0,
            },
        ));
    }
    Ok(out)
}

/// The labelled vehicles of one image.
pub fn read_truth(
    label: &Path,
    names: &[Option<VehicleClass>],
    w: f32,
    h: f32,
) -> anyhow::Result<Vec<Truth>> {
    Ok(read_labels(label, w, h)?
        .into_iter()
        .filter_map(|(c, bbox)| {
            Some(Truth {
                class: names.get(c).copied().flatten()?,
                bbox,
            })
        })
        .collect())
}

/// The signal state a dataset's lamp class names (`red_light`, `green_light`, `yellow_light`).
pub fn lamp_of_label(label: &str) -> Option<SignalState> {
    match label.trim().to_ascii_lowercase().as_str() {
        "red_light" | "red" | "light_red" => Some(SignalState::Red),
        "green_light" | "green" | "light_green" => Some(SignalState::Green),
        "yellow_light" | "amber_light" | "yellow" | "amber" | "light_yellow" => {
            Some(SignalState::Amber)
        }
        _ => None,
    }
}

/// Lamps at least this many pixels across (their box's shorter side) are the ones the lamp goal
/// is about.
pub const LAMP_PX: f32 = 8.0;

/// How the signal reading fared on labelled lamps.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LampFigures {
    pub count: usize,
    /// Read as the labelled colour.
    pub correct: usize,
    /// Read as "unknown".
    pub unknown: usize,
    /// Read as another colour, by "labelled_as_read" (`red_as_green`).
    pub wrong: BTreeMap<String, usize>,
    /// Correct among those read (not unknown).
    pub accuracy_read: f64,
    /// Correct among all.
    pub accuracy: f64,
}

impl LampFigures {
    fn add(&mut self, truth: SignalState, read: Option<SignalState>) {
        self.count += 1;
        match read {
            None => self.unknown += 1,
            Some(r) if r == truth => self.correct += 1,
            Some(r) => {
                *self
                    .wrong
                    .entry(format!("{}_as_{}", state_name(truth), state_name(r)))
                    .or_default() += 1;
            }
        }
        let read = self.count - self.unknown;
        self.accuracy_read = if read == 0 {
            0.0
        } else {
            self.correct as f64 / read as f64
        };
        self.accuracy = self.correct as f64 / self.count as f64;
    }
}

fn state_name(s: SignalState) -> &'static str {
    match s {
        SignalState::Red => "red",
        SignalState::Amber => "amber",
        SignalState::Green => "green",
        _ => "other",
    }
}

/// Per class: each detection of the class with whether it matched a labelled box (greedy,
/// surest first, each labelled box matched once), and the labelled boxes matched.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// (score, true positive) of every detection.
    scored: Vec<(f32, bool)>,
    count: usize,
    count_tall: usize,
    /// Labelled boxes found at the operating threshold, all and tall ones.
    found: usize,
    found_tall: usize,
}

impl Tally {
    /// Adds one image's detections and labelled boxes of this class.
    pub fn add(&mut self, found: &[Found], truth: &[Truth], threshold: f32) {
        let mut found: Vec<&Found> = found.iter().collect();
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut taken = vec![false; truth.len()];
        self.count += truth.len();
        let tall = |t: &Truth| t.bbox.height() >= TALL_PX;
        self.count_tall += truth.iter().filter(|t| tall(t)).count();
        for d in found {
            let best = truth
                .iter()
                .enumerate()
                .filter(|(i, _)| !taken[*i])
                .map(|(i, t)| (i, t.bbox.iou(&d.bbox)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let hit = match best {
                Some((i, iou)) if iou >= IOU => {
                    taken[i] = true;
                    if d.score >= threshold {
                        self.found += 1;
                        self.found_tall += usize::from(tall(&truth[i]));
                    }
                    true
                }
                _ => false,
            };
            self.scored.push((d.score, hit));
        }
    }

    /// The class's figures at `threshold`.
    pub fn figures(&self, threshold: f32) -> ClassFigures {
        let mut scored = self.scored.clone();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        // Precision–recall points, then the precision envelope integrated over recall.
        let (mut tp, mut points) = (0usize, Vec::with_capacity(scored.len()));
        for (i, &(_, hit)) in scored.iter().enumerate() {
            tp += usize::from(hit);
            points.push((ratio(tp, self.count), ratio(tp, i + 1)));
        }
        let mut ap = 0.0;
        let mut best = 0.0f64;
        let mut prev_recall = points.last().map_or(0.0, |p| p.0);
        for &(recall, precision) in points.iter().rev() {
            // The recall between this point and the next is worth the best precision reached
            // at any higher recall.
            ap += (prev_recall - recall).max(0.0) * best;
            best = best.max(precision);
            prev_recall = recall;
        }
        ap += prev_recall * best;
        let at = scored.iter().filter(|s| s.0 >= threshold).count();
        let hits = scored.iter().filter(|s| s.0 >= threshold && s.1).count();
        ClassFigures {
            ap50: ap,
            precision: ratio(hits, at),
            recall: ratio(self.found, self.count),
            recall_tall: ratio(self.found_tall, self.count_tall),
            count: self.count,
            count_tall: self.count_tall,
            detections: at,
        }
    }
}

/// Runs the detector over the split and measures it.
pub fn evaluate(models: &ModelSettings, opts: &EvalOptions) -> anyhow::Result<Report> {
    let yaml = std::fs::read_to_string(&opts.data)
        .with_context(|| format!("--data {}", opts.data.display()))?;
    let names = parse_names(&yaml)?;
    let classes: Vec<Option<VehicleClass>> = names.iter().map(|n| vehicle_of_label(n)).collect();
    let lamp_classes: Vec<Option<SignalState>> = names.iter().map(|n| lamp_of_label(n)).collect();
    let mut lamps: BTreeMap<String, LampFigures> = BTreeMap::new();
    if classes.iter().all(Option::is_none) {
        bail!("{}: no class is a vehicle ({names:?})", opts.data.display());
    }
    // A set without buses and trucks calls every four-wheeled vehicle a car.
    let has = |c: VehicleClass| classes.contains(&Some(c));
    let cars_only = !has(VehicleClass::Bus) && !has(VehicleClass::Truck);
    let as_labelled = |c: VehicleClass| match c {
        VehicleClass::Bus | VehicleClass::Truck if cars_only => VehicleClass::Car,
        c => c,
    };
    let mut files = split_files(&opts.data, &opts.split)?;
    if opts.limit > 0 {
        files.truncate(opts.limit);
    }
    if files.is_empty() {
        bail!("no images in the {} split", opts.split);
    }
    let manifest = Manifest::load(&models.manifest)
        .with_context(|| format!("models.manifest {}", models.manifest.display()))?;
    let name = opts
        .detector
        .clone()
        .unwrap_or_else(|| models.vehicle_detector.clone());
    // Every detection the agent would keep for its tracker, down to a low score, draws the
    // precision–recall curve.
    let mut models = models.clone();
    if opts.min_score.is_some() {
        models.min_score = opts.min_score;
    }
    if let Some(p) = &opts.people_detector {
        models.people_detector.clone_from(p);
    }
    let vehicles = VehicleDetector::load(&models, &manifest, &name, 0.05)?;
    let people_detector = PeopleDetector::load(&models, &manifest)?;
    let threshold = vehicles.min_score;
    let reference = opts
        .people_reference
        .as_ref()
        .map(|(path, name)| {
            let settings = ModelSettings {
                detector_manifest: Some(path.clone()),
                min_score: None,
                ..models.clone()
            };
            VehicleDetector::load(&settings, &manifest, name, PERSON_SURE)
                .with_context(|| format!("--people-reference {name}"))
        })
        .transpose()?;
    let mut people_tally = PeopleFigures {
        reference: opts
            .people_reference
            .as_ref()
            .map(|(_, n)| n.clone())
            .unwrap_or_default(),
        min_height_px: PERSON_MIN_PX,
        ..PeopleFigures::default()
    };
    let (mut all, mut dense) = (Subset::default(), Subset::default());
    // The agent masks every detection it keeps for its tracker.
    let mask_floor = crate::track::TrackerOptions::default().low_score;
    let mut masking = MaskFigures {
        min_width_px: MASK_MIN_PX,
        people_detector: people_detector.as_ref().map(|p| p.entry().name.clone()),
        ..MaskFigures::default()
    };
    for (image_path, label) in &files {
        let image = image::open(image_path)
            .with_context(|| format!("{}", image_path.display()))?
            .to_rgb8();
        let (w, h) = (image.width() as f32, image.height() as f32);
        let labels = read_labels(label, w, h)?;
        for (c, b) in &labels {
            let Some(state) = lamp_classes.get(*c).copied().flatten() else {
                continue;
            };
            let read = crate::signal::lit_colour(&image, [b.x0, b.y0, b.x1, b.y1]);
            lamps.entry("all".into()).or_default().add(state, read);
            if b.width().min(b.height()) >= LAMP_PX {
                lamps
                    .entry(format!("min_{LAMP_PX:.0}px"))
                    .or_default()
                    .add(state, read);
            }
        }
        let truth: Vec<Truth> = labels
            .into_iter()
            .filter_map(|(c, bbox)| {
                Some(Truth {
                    class: classes.get(c).copied().flatten()?,
                    bbox,
                })
            })
            .collect();
        let started = Instant::now();
        let (detections, people) = vehicles.detect_with_people(&image)?;
        let spent = started.elapsed();
        let dense_image = is_dense(&truth);
        let found: Vec<Found> = detections
            .iter()
            .filter_map(|d| {
                Some(Found {
                    class: as_labelled(vehicles.class(d.class)?),
                    score: d.score,
                    bbox: d.bbox,
                })
            })
            .collect();
        // As the agent masks: every detection it keeps, down to the tracker's low score.
        let mut others = vehicles.to_hide(
            detections
                .iter()
                .chain(&people)
                .filter(|d| d.score >= mask_floor),
        );
        let by_vehicles = crate::evidence::mask_regions(image.dimensions(), &others);
        if let Some(p) = &people_detector {
            let people = p.detect(&image)?;
            let regions = crate::evidence::mask_regions(image.dimensions(), &people);
            let frame = BoxF {
                x0: 0.0,
                y0: 0.0,
                x1: w,
                y1: h,
            };
            masking.people_area += f64::from(covered(&frame, &regions));
            others.extend(people);
        }
        let regions = crate::evidence::mask_regions(image.dimensions(), &others);
        for t in truth.iter().filter(|t| t.bbox.width() >= MASK_MIN_PX) {
            masking.vehicles += 1;
            if covered(&t.bbox, &regions) >= MASK_COVERED {
                masking.hidden += 1;
            }
        }
        if let Some(reference) = &reference {
            let (_, found) = reference.detect_with_people(&image)?;
            for p in found
                .iter()
                .filter(|p| p.score >= PERSON_SURE && p.bbox.height() >= PERSON_MIN_PX)
            {
                people_tally.people += 1;
                if covered(&p.bbox, &regions) >= MASK_COVERED {
                    people_tally.hidden += 1;
                }
                if covered(&p.bbox, &by_vehicles) >= MASK_COVERED {
                    people_tally.by_vehicle_detector += 1;
                }
            }
        }
        for subset in std::iter::once(&mut all).chain(dense_image.then_some(&mut dense)) {
            subset.images += 1;
            subset.spent += spent;
            for class in VehicleClass::ALL {
                if !has(class) {
                    continue;
                }
                let f: Vec<Found> = found.iter().filter(|d| d.class == class).copied().collect();
                let t: Vec<Truth> = truth.iter().filter(|d| d.class == class).copied().collect();
                subset
                    .tallies
                    .entry(class)
                    .or_default()
                    .add(&f, &t, threshold);
            }
        }
    }
    Ok(Report {
        detector: name,
        data: opts.data.display().to_string(),
        split: opts.split.clone(),
        images: all.images,
        threshold,
        ms_per_image: all.ms_per_image(),
        classes: all.classes(threshold),
        dense: (dense.images > 0).then(|| DenseFigures {
            min_motorbikes: DENSE_MOTORBIKES,
            images: dense.images,
            ms_per_image: dense.ms_per_image(),
            classes: dense.classes(threshold),
        }),
        lamps: (!lamps.is_empty()).then_some(lamps),
        masking: MaskFigures {
            recall: ratio(masking.hidden, masking.vehicles),
            people_area: masking.people_area / all.images.max(1) as f64,
            people: reference.is_some().then(|| PeopleFigures {
                recall: ratio(people_tally.hidden, people_tally.people),
                ..people_tally
            }),
            ..masking
        },
    })
}

/// `edge-agent eval-detect`: loads the configuration (for the models), measures, prints.
pub fn main(config: Option<&Path>, opts: &EvalOptions, json: bool) -> std::process::ExitCode {
    let config = match service_kit::config::load::<crate::Config>(crate::ENV_PREFIX, config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match evaluate(&config.models, opts) {
        Ok(report) => {
            if json {
                match serde_json::to_string_pretty(&report) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return std::process::ExitCode::from(1);
                    }
                }
            } else {
                print!("{}", render(&report));
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

/// The report as a table for people.
pub fn render(r: &Report) -> String {
    let mut out = format!(
        "{} on {} ({}, {} images), threshold {:.2}, {:.1} ms/image\n",
        r.detector, r.data, r.split, r.images, r.threshold, r.ms_per_image
    );
    out.push_str(&format!(
        "{:<10} {:>6} {:>9} {:>7} {:>11} {:>6} {:>10}\n",
        "class", "AP50", "precision", "recall", "recall≥32px", "count", "detections"
    ));
    let rows = |out: &mut String, classes: &BTreeMap<String, ClassFigures>| {
        for (name, f) in classes {
            out.push_str(&format!(
                "{:<10} {:>6.3} {:>9.3} {:>7.3} {:>11.3} {:>6} {:>10}\n",
                name, f.ap50, f.precision, f.recall, f.recall_tall, f.count, f.detections
            ));
        }
    };
    rows(&mut out, &r.classes);
    if let Some(d) = &r.dense {
        out.push_str(&format!(
            "dense images (at least {} motorbikes): {}, {:.1} ms/image\n",
            d.min_motorbikes, d.images, d.ms_per_image
        ));
        rows(&mut out, &d.classes);
    }
    let m = &r.masking;
    out.push_str(&format!(
        "masking: {} of {} vehicles at least {:.0} px wide hidden in the masked copy (recall {:.3}){}\n",
        m.hidden,
        m.vehicles,
        m.min_width_px,
        m.recall,
        m.people_detector
            .as_ref()
            .map(|p| format!(
                ", people also by {p} (its regions cover {:.1} % of an image on average)",
                100.0 * m.people_area
            ))
            .unwrap_or_default()
    ));
    if let Some(p) = &m.people {
        out.push_str(&format!(
            "masking people: {} of the {} people at least {:.0} px tall {} is sure of hidden (agreement {:.3}; {} by the vehicle detector's findings alone)\n",
            p.hidden, p.people, p.min_height_px, p.reference, p.recall, p.by_vehicle_detector
        ));
    }
    for (which, l) in r.lamps.iter().flatten() {
        out.push_str(&format!(
            "signal lamps ({which}): {} labelled, {} read right, {} unknown, accuracy {:.3} of those read ({:.3} of all), wrong {:?}\n",
            l.count, l.correct, l.unknown, l.accuracy_read, l.accuracy, l.wrong
        ));
    }
    out
}

#[cfg(test)]
mod tests;
