//! Detection: one engine type for every detector format the manifest names. Frames are
//! letterboxed (or resized, for DETR-family exports) without intermediate copies beyond the
//! input tensor; outputs of YOLOv8/YOLO11 (`[N, 4+nc, A]`), YOLOX (raw grid `[N, A, 5+nc]`)
//! and NMS-free DETR-family models (`labels, boxes, scores`) become boxes in frame pixels with
//! the model's class id; classes are mapped to road-user classes by configuration.
//!
//! One file for the three output formats because they share the letterbox, the class map and
//! the one-box-per-object step, and differ only in decoding; a format added is a decoder here.

mod helmet;

pub use helmet::Helmet;

use std::{collections::BTreeMap, path::Path, str::FromStr};

use anyhow::Context as _;
use ndarray::{Array2, Array4, ArrayD};
use protocol::VehicleClass;
use vision::{BoxF, Engine, Manifest, ModelEntry, ModelError, Pixels, engine::Output};

use crate::{config::ModelSettings, evidence::Shape};

/// How a detector's outputs are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `[N, 4+nc, A]`: cx, cy, w, h in input pixels, then class scores; NMS needed.
    Yolov8,
    /// `[N, A, 5+nc]` on strides 8/16/32, raw: grid decoding, objectness × class; BGR 0–255
    /// input padded at the right and bottom; NMS needed.
    Yolox,
    /// `labels [N,K]`, `boxes [N,K,4]` xyxy in original pixels, `scores [N,K]`, with a second
    /// input `orig_target_sizes` (w, h); no NMS.
    Detr,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "yolov8" | "yolo11" => Ok(Self::Yolov8),
            "yolox" => Ok(Self::Yolox),
            "detr" => Ok(Self::Detr),
            other => Err(format!(
                "unknown detector format `{other}` (yolov8, yolox or detr)"
            )),
        }
    }
}

/// One detected object, in frame pixels, with the model's class id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub class: usize,
    pub score: f32,
    pub bbox: BoxF,
}

/// Thresholds.
#[derive(Debug, Clone, Copy)]
pub struct DetectOptions {
    pub score_threshold: f32,
    pub nms_iou: f32,
}

impl Default for DetectOptions {
    fn default() -> Self {
        Self {
            score_threshold: 0.3,
            nms_iou: 0.5,
        }
    }
}

/// Where the frame went in the model's input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub scale_x: f32,
    pub scale_y: f32,
    pub dx: f32,
    pub dy: f32,
}

impl Letterbox {
    fn to_frame(self, x: f32, y: f32) -> [f32; 2] {
        [(x - self.dx) / self.scale_x, (y - self.dy) / self.scale_y]
    }

    /// A centre-size box in input pixels as a box in frame pixels.
    fn centre_box_to_frame(self, cx: f32, cy: f32, w: f32, h: f32) -> BoxF {
        let p0 = self.to_frame(cx - w / 2.0, cy - h / 2.0);
        let p1 = self.to_frame(cx + w / 2.0, cy + h / 2.0);
        BoxF {
            x0: p0[0],
            y0: p0[1],
            x1: p1[0],
            y1: p1[1],
        }
    }
}

/// A detector of any supported format.
#[derive(Debug)]
pub struct Detector {
    engine: Engine,
    format: Format,
    size: (u32, u32),
    sizes_input: Option<String>,
    opts: DetectOptions,
}

impl Detector {
    pub fn new(engine: Engine, opts: DetectOptions) -> Result<Self, ModelError> {
        let entry = engine.entry();
        let format: Format = entry.format.parse().map_err(|reason| ModelError::Format {
            model: entry.name.clone(),
            reason,
        })?;
        let (h, w) = entry.input_hw()?;
        let sizes_input = match format {
            Format::Detr => {
                let other = engine
                    .input_names()
                    .into_iter()
                    .find(|n| *n != entry.input_name);
                Some(other.ok_or_else(|| ModelError::Format {
                    model: entry.name.clone(),
                    reason: "a DETR-family model takes a second input of image sizes".into(),
                })?)
            }
            _ => None,
        };
        Ok(Self {
            engine,
            format,
            size: (w as u32, h as u32),
            sizes_input,
            opts,
        })
    }

    /// Loads a detector from a model file (checked against `entry.sha256`).
    pub fn load_file(
        path: &Path,
        entry: &ModelEntry,
        threads: usize,
        opts: DetectOptions,
    ) -> Result<Self, ModelError> {
        Self::new(Engine::load_file(path, entry, threads)?, opts)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn entry(&self) -> &ModelEntry {
        self.engine.entry()
    }

    /// The model's input, and where the frame lies in it.
    pub fn preprocess<'a>(&self, frame: impl Into<Pixels<'a>>) -> (Array4<f32>, Letterbox) {
        let frame = frame.into();
        let (w, h) = self.size;
        let (fw, fh) = frame.dimensions();
        let (fw, fh) = (fw as f32, fh as f32);
        let (box_, pad, bgr, unit) = match self.format {
            Format::Yolov8 => {
                let s = (w as f32 / fw).min(h as f32 / fh);
                let (nw, nh) = (fw * s, fh * s);
                (
                    Letterbox {
                        scale_x: s,
                        scale_y: s,
                        dx: (w as f32 - nw) / 2.0,
                        dy: (h as f32 - nh) / 2.0,
                    },
                    114.0 / 255.0,
                    false,
                    1.0 / 255.0,
                )
            }
            Format::Yolox => {
                let s = (w as f32 / fw).min(h as f32 / fh);
                (
                    Letterbox {
                        scale_x: s,
                        scale_y: s,
                        dx: 0.0,
                        dy: 0.0,
                    },
                    114.0,
                    true,
                    1.0,
                )
            }
            Format::Detr => (
                Letterbox {
                    scale_x: w as f32 / fw,
                    scale_y: h as f32 / fh,
                    dx: 0.0,
                    dy: 0.0,
                },
                0.0,
                false,
                1.0 / 255.0,
            ),
        };
        let mut t = Array4::<f32>::from_elem((1, 3, h as usize, w as usize), pad);
        sample_into(frame, &box_, bgr, unit, &mut t);
        (t, box_)
    }

    /// Detects objects in a frame.
    pub fn detect<'a>(&self, frame: impl Into<Pixels<'a>>) -> Result<Vec<Detection>, ModelError> {
        let frame = frame.into();
        let (input, letterbox) = self.preprocess(frame);
        let (fw, fh) = frame.dimensions();
        let sizes = Array2::from_shape_vec((1, 2), vec![i64::from(fw), i64::from(fh)])
            .map_err(|e| ModelError::Runtime(e.to_string()))?;
        let sizes_input = self.sizes_input.as_deref().map(|name| (name, &sizes));
        let outputs = self.engine.run_typed(&input, sizes_input)?;
        let bad = |reason: String| ModelError::Format {
            model: self.engine.entry().name.clone(),
            reason,
        };
        let f32_out = |i: usize| {
            outputs
                .get(i)
                .and_then(Output::as_f32)
                .ok_or_else(|| bad(format!("output {i} is not float")))
        };
        let found = match self.format {
            Format::Yolov8 => nms(
                decode_yolov8(f32_out(0)?, &letterbox, self.opts.score_threshold).map_err(bad)?,
                self.opts.nms_iou,
            ),
            Format::Yolox => nms(
                decode_yolox(
                    f32_out(0)?,
                    &letterbox,
                    self.size,
                    self.opts.score_threshold,
                )
                .map_err(bad)?,
                self.opts.nms_iou,
            ),
            Format::Detr => {
                let labels = outputs
                    .first()
                    .ok_or_else(|| bad("no labels output".into()))?;
                decode_detr(labels, f32_out(1)?, f32_out(2)?, self.opts.score_threshold)
                    .map_err(bad)?
            }
        };
        let (fw, fh) = (fw as f32, fh as f32);
        Ok(found
            .into_iter()
            .map(|mut d| {
                d.bbox = BoxF {
                    x0: d.bbox.x0.clamp(0.0, fw),
                    y0: d.bbox.y0.clamp(0.0, fh),
                    x1: d.bbox.x1.clamp(0.0, fw),
                    y1: d.bbox.y1.clamp(0.0, fh),
                };
                d
            })
            .filter(|d| d.bbox.width() > 1.0 && d.bbox.height() > 1.0)
            .collect())
    }
}

fn decode_yolov8(
    out: &ArrayD<f32>,
    lb: &Letterbox,
    threshold: f32,
) -> Result<Vec<Detection>, String> {
    let shape = out.shape();
    if shape.len() != 3 || shape[1] < 5 {
        return Err(format!("yolov8 output {shape:?} is not [N, 4+nc, A]"));
    }
    let (rows, anchors) = (shape[1], shape[2]);
    let mut found = Vec::new();
    for a in 0..anchors {
        let (class, score) = (4..rows)
            .map(|r| (r - 4, out[[0, r, a]]))
            .fold((0, f32::MIN), |best, c| if c.1 > best.1 { c } else { best });
        if score < threshold {
            continue;
        }
        let (cx, cy, w, h) = (
            out[[0, 0, a]],
            out[[0, 1, a]],
            out[[0, 2, a]],
            out[[0, 3, a]],
        );
        found.push(Detection {
            class,
            score,
            bbox: lb.centre_box_to_frame(cx, cy, w, h),
        });
    }
    Ok(found)
}

fn decode_yolox(
    out: &ArrayD<f32>,
    lb: &Letterbox,
    size: (u32, u32),
    threshold: f32,
) -> Result<Vec<Detection>, String> {
    let shape = out.shape();
    if shape.len() != 3 || shape[2] < 6 {
        return Err(format!("yolox output {shape:?} is not [N, A, 5+nc]"));
    }
    let mut grid = Vec::with_capacity(shape[1]);
    for stride in [8u32, 16, 32] {
        let (gw, gh) = (size.0 / stride, size.1 / stride);
        for y in 0..gh {
            for x in 0..gw {
                grid.push((x as f32, y as f32, stride as f32));
            }
        }
    }
    if grid.len() != shape[1] {
        return Err(format!(
            "yolox output has {} anchors, the input size gives {}",
            shape[1],
            grid.len()
        ));
    }
    let mut found = Vec::new();
    for (a, (gx, gy, s)) in grid.into_iter().enumerate() {
        let obj = out[[0, a, 4]];
        if obj < threshold {
            continue;
        }
        let (class, cls) = (5..shape[2])
            .map(|k| (k - 5, out[[0, a, k]]))
            .fold((0, f32::MIN), |best, c| if c.1 > best.1 { c } else { best });
        let score = obj * cls;
        if score < threshold {
            continue;
        }
        let cx = (out[[0, a, 0]] + gx) * s;
        let cy = (out[[0, a, 1]] + gy) * s;
        let w = out[[0, a, 2]].exp() * s;
        let h = out[[0, a, 3]].exp() * s;
        found.push(Detection {
            class,
            score,
            bbox: lb.centre_box_to_frame(cx, cy, w, h),
        });
    }
    Ok(found)
}

fn decode_detr(
    labels: &Output,
    boxes: &ArrayD<f32>,
    scores: &ArrayD<f32>,
    threshold: f32,
) -> Result<Vec<Detection>, String> {
    let k = scores
        .shape()
        .get(1)
        .copied()
        .ok_or("detr scores are not [N, K]")?;
    if boxes.shape() != [1, k, 4] {
        return Err(format!("detr boxes {:?} are not [N, K, 4]", boxes.shape()));
    }
    let label = |i: usize| -> Option<usize> {
        match labels {
            Output::I64(a) => usize::try_from(a[[0, i]]).ok(),
            Output::F32(a) => Some(a[[0, i]].max(0.0) as usize),
        }
    };
    Ok((0..k)
        .filter(|&i| scores[[0, i]] >= threshold)
        .filter_map(|i| {
            Some(Detection {
                class: label(i)?,
                score: scores[[0, i]],
                bbox: BoxF {
                    x0: boxes[[0, i, 0]],
                    y0: boxes[[0, i, 1]],
                    x1: boxes[[0, i, 2]],
                    y1: boxes[[0, i, 3]],
                },
            })
        })
        .collect())
}

/// The vehicle detector as the agent runs it: the model of `models.vehicle_detector` (from
/// `models.detector_manifest` when set), its classes mapped to vehicle classes, one box per
/// object, and the operating threshold (`models.min_score`, else the model's own `min_score`
/// in its manifest, else [`DEFAULT_MIN_SCORE`]).
#[derive(Debug)]
pub struct VehicleDetector {
    pub detector: Detector,
    /// Model class id → vehicle class (`None`: not a vehicle the rules judge).
    pub classes: Vec<Option<VehicleClass>>,
    /// Detections at or above this start and keep tracks.
    pub min_score: f32,
    /// Model class id → whether it is a person (a pedestrian, or a rider boxed apart): not
    /// followed, but hidden in what a citizen is shown.
    pub people: Vec<bool>,
}

/// The operating threshold of a detector whose manifest names none.
pub const DEFAULT_MIN_SCORE: f32 = 0.5;

impl VehicleDetector {
    /// Loads the detector `name` as the configuration describes it, keeping detections down
    /// to `low` (the tracker's second pass, or an evaluation's whole curve).
    pub fn load(
        m: &ModelSettings,
        manifest: &Manifest,
        name: &str,
        low: f32,
    ) -> anyhow::Result<Self> {
        let extra = m
            .detector_manifest
            .as_ref()
            .map(|p| {
                Manifest::load(p)
                    .with_context(|| format!("models.detector_manifest {}", p.display()))
            })
            .transpose()?;
        let from = extra.as_ref().unwrap_or(manifest);
        let field = || format!("models.vehicle_detector `{name}`");
        let entry = from.get(name).with_context(field)?;
        let min_score = m.min_score.or(entry.min_score).unwrap_or(DEFAULT_MIN_SCORE);
        let opts = DetectOptions {
            score_threshold: low.min(min_score),
            ..DetectOptions::default()
        };
        let detector = Detector::new(
            Engine::load(from, entry, m.intra_threads).with_context(field)?,
            opts,
        )
        .with_context(field)?;
        let classes = vehicle_classes(&detector.entry().labels, &m.class_map);
        if classes.iter().all(Option::is_none) {
            anyhow::bail!(
                "models.class_map: no class of `{name}` is a vehicle (labels {:?})",
                detector.entry().labels
            );
        }
        let people = detector
            .entry()
            .labels
            .iter()
            .map(|l| is_person_label(l))
            .collect();
        Ok(Self {
            detector,
            classes,
            min_score,
            people,
        })
    }

    /// How a masked copy hides a detection of a model class: `None` for what it need not hide
    /// (a signal lamp, a bag).
    pub fn mask_shape(&self, class: usize) -> Option<Shape> {
        match self.class(class) {
            Some(VehicleClass::Motorbike) => Some(Shape::TwoWheeler),
            Some(_) => Some(Shape::Vehicle),
            None if self.people.get(class).copied().unwrap_or(false) => Some(Shape::Person),
            None => None,
        }
    }

    /// What a masked copy hides of `found` (a frame's vehicles and people): each box with its
    /// shape.
    pub fn to_hide<'a>(
        &self,
        found: impl IntoIterator<Item = &'a Detection>,
    ) -> Vec<(BoxF, Shape)> {
        found
            .into_iter()
            .filter_map(|d| Some((d.bbox, self.mask_shape(d.class)?)))
            .collect()
    }

    /// Whether a detection this sure is of a road user in full view ([`crate::rules::Sample::sure`]):
    /// at least [`crate::rules::SURE_SCORE`] and this detector's operating point.
    pub fn sure(&self, score: f32) -> bool {
        score >= crate::rules::SURE_SCORE.max(self.min_score)
    }

    /// The vehicle class of a model class.
    pub fn class(&self, class: usize) -> Option<VehicleClass> {
        self.classes.get(class).copied().flatten()
    }

    /// A track's class votes (model class, share: `Track::class_shares`) as vehicle classes,
    /// the shares of model classes naming one vehicle class added up.
    pub fn class_votes(
        &self,
        shares: impl IntoIterator<Item = (usize, f32)>,
    ) -> Vec<(VehicleClass, f32)> {
        let mut votes: Vec<(VehicleClass, f32)> = Vec::new();
        for (c, share) in shares {
            let Some(class) = self.class(c) else {
                continue;
            };
            match votes.iter_mut().find(|(k, _)| *k == class) {
                Some(v) => v.1 += share,
                None => votes.push((class, share)),
            }
        }
        votes
    }

    /// The vehicles in a frame, one box each.
    pub fn detect<'a>(&self, frame: impl Into<Pixels<'a>>) -> Result<Vec<Detection>, ModelError> {
        Ok(self.detect_with_people(frame)?.0)
    }

    /// The vehicles in a frame, one box each, and the people in it.
    pub fn detect_with_people<'a>(
        &self,
        frame: impl Into<Pixels<'a>>,
    ) -> Result<(Vec<Detection>, Vec<Detection>), ModelError> {
        let found = self.detector.detect(frame)?;
        let people = found
            .iter()
            .filter(|d| self.people.get(d.class).copied().unwrap_or(false))
            .copied()
            .collect();
        let group = |c: usize| {
            self.class(c)
                .map(|v| u8::from(v == VehicleClass::Motorbike))
        };
        Ok((
            merge_classes(found, group, self.detector.opts.nms_iou),
            people,
        ))
    }
}

/// The people detector of the masked copies (`models.people_detector`): a model taught the
/// people of real streets, run on the images and the clip of each violation (not on every
/// frame the camera judges), whose finds are hidden beside everything the vehicle detector
/// found. A vehicle detector learns people poorly where its real training set labels none;
/// this one keeps only what it finds of its person class.
#[derive(Debug)]
pub struct PeopleDetector {
    detector: Detector,
    people: Vec<bool>,
}

/// The masking threshold of a people detector whose manifest names none: low, as a face
/// hidden for nothing costs less than one shown.
pub const PEOPLE_MIN_SCORE: f32 = 0.25;

impl PeopleDetector {
    /// The detector `models.people_detector` names; `None` when the setting is empty.
    pub fn load(m: &ModelSettings, manifest: &Manifest) -> anyhow::Result<Option<Self>> {
        let name = &m.people_detector;
        if name.is_empty() {
            return Ok(None);
        }
        let field = || format!("models.people_detector `{name}`");
        let entry = manifest.get(name).with_context(field)?;
        let opts = DetectOptions {
            score_threshold: entry.min_score.unwrap_or(PEOPLE_MIN_SCORE),
            ..DetectOptions::default()
        };
        let detector = Detector::new(Engine::load(manifest, entry, 1).with_context(field)?, opts)
            .with_context(field)?;
        let people: Vec<bool> = detector
            .entry()
            .labels
            .iter()
            .map(|l| is_person_label(l))
            .collect();
        if !people.contains(&true) {
            anyhow::bail!(
                "models.people_detector: `{name}` has no person class (labels {:?})",
                detector.entry().labels
            );
        }
        Ok(Some(Self { detector, people }))
    }

    /// The model's manifest entry (its name and hash go with what it hid).
    pub fn entry(&self) -> &ModelEntry {
        self.detector.entry()
    }

    /// The people in a frame, each to be hidden as a [`Shape::Person`].
    pub fn detect<'a>(
        &self,
        frame: impl Into<Pixels<'a>>,
    ) -> Result<Vec<(BoxF, Shape)>, ModelError> {
        Ok(self
            .detector
            .detect(frame)?
            .into_iter()
            .filter(|d| self.people.get(d.class).copied().unwrap_or(false))
            .map(|d| (d.bbox, Shape::Person))
            .collect())
    }
}

/// Whether a label names a person: COCO's `person`, and the names data sets use.
pub fn is_person_label(label: &str) -> bool {
    matches!(
        label.trim().to_ascii_lowercase().as_str(),
        "person" | "people" | "pedestrian" | "rider"
    )
}

/// The vehicle class a label names: the agent's own names, and the names data sets and COCO
/// exports use (`motorcycle`, Roboflow's `motobike`); `None` for what is not a vehicle the
/// agent follows (people, bicycles, signal lamps).
pub fn vehicle_of_label(label: &str) -> Option<VehicleClass> {
    match label.trim().to_ascii_lowercase().as_str() {
        "car" | "cars" => Some(VehicleClass::Car),
        "motorbike" | "motobike" | "motorcycle" | "motorbikes" | "motorcycles" => {
            Some(VehicleClass::Motorbike)
        }
        "bus" => Some(VehicleClass::Bus),
        "truck" => Some(VehicleClass::Truck),
        _ => None,
    }
}

/// Model class id → vehicle class: by `class_map` (`{ 2 = "car", 3 = "motorbike" }`) when it
/// is set, else by the model's label names ([`vehicle_of_label`]).
pub fn vehicle_classes(
    labels: &[String],
    class_map: &BTreeMap<String, VehicleClass>,
) -> Vec<Option<VehicleClass>> {
    let n = labels.len().max(
        class_map
            .keys()
            .filter_map(|k| k.parse::<usize>().ok())
            .max()
            .map_or(0, |k| k + 1),
    );
    (0..n)
        .map(|i| {
            if class_map.is_empty() {
                labels.get(i).and_then(|l| vehicle_of_label(l))
            } else {
                class_map.get(&i.to_string()).copied()
            }
        })
        .collect()
}

/// One object, one box: a detector may see one vehicle as a car (0.86) and a truck (0.12), or
/// a motorbike and a bicycle, whatever its family (a DETR export does no NMS across classes,
/// a YOLO one none either). `group` gives each model class its kind of vehicle (`None`: not
/// one the agent follows, dropped); boxes of one kind overlapping by `iou` or more, or of
/// different kinds by [`CROSS_KIND_IOU`] or more, are one object, kept as the surest of them.
pub fn merge_classes(
    mut found: Vec<Detection>,
    group: impl Fn(usize) -> Option<u8>,
    iou: f32,
) -> Vec<Detection> {
    found.retain(|d| group(d.class).is_some());
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(found.len());
    for d in found {
        let same = |k: &Detection| {
            let overlap = k.bbox.iou(&d.bbox);
            overlap >= CROSS_KIND_IOU || (group(k.class) == group(d.class) && overlap >= iou)
        };
        if !kept.iter().any(same) {
            kept.push(d);
        }
    }
    kept
}

/// Boxes of different kinds of vehicle (a car and a motorbike) that overlap this much are one
/// object: a rider beside a car overlaps it far less.
pub const CROSS_KIND_IOU: f32 = 0.8;

/// Greedy non-maximum suppression within each class.
pub fn nms(mut found: Vec<Detection>, iou: f32) -> Vec<Detection> {
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(found.len().min(300));
    for d in found {
        if kept
            .iter()
            .all(|k| k.class != d.class || k.bbox.iou(&d.bbox) < iou)
        {
            kept.push(d);
        }
    }
    kept
}

/// Samples `frame` bilinearly straight into the NCHW tensor `t` where `place` puts it (pixel
/// centres mapped, edges clamped, as [`vision::pixels::bilinear_rgb`]), scaled by `unit`,
/// channels reversed when `bgr`; what lies outside stays as it was (the padding). The columns'
/// source pixels and weights are worked out once, not per row: this runs on every frame.
fn sample_into(frame: Pixels<'_>, place: &Letterbox, bgr: bool, unit: f32, t: &mut Array4<f32>) {
    let (h, w) = (t.shape()[2], t.shape()[3]);
    let (fw, fh) = frame.dimensions();
    if fw == 0 || fh == 0 {
        return;
    }
    let (fw, fh) = (fw as f32, fh as f32);
    let nw = ((fw * place.scale_x).round() as usize).min(w);
    let nh = ((fh * place.scale_y).round() as usize).min(h);
    let (ox, oy) = (place.dx.round() as usize, place.dy.round() as usize);
    // Where each tensor pixel's centre falls in the frame, for the part inside the tensor.
    let at = |n: usize, offset: usize, size: usize, scale: f32| -> Vec<f32> {
        (0..n.min(size.saturating_sub(offset)))
            .map(|i| (i as f32 + 0.5) / scale - 0.5)
            .collect()
    };
    let xs = at(nw, ox, w, place.scale_x);
    let ys = at(nh, oy, h, place.scale_y);
    let plane = h * w;
    let Some(data) = t.as_slice_mut() else {
        return;
    };
    let order = if bgr { [2, 1, 0] } else { [0, 1, 2] };
    frame.sample_grid(&xs, &ys, |x, y, rgb| {
        let at = (oy + y) * w + ox + x;
        for (ch, v) in order.iter().zip(rgb) {
            data[ch * plane + at] = v * unit;
        }
    });
}

#[cfg(test)]
mod tests;
