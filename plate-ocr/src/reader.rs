//! [`PlateReader`]: what the edge agent calls with a frame and a vehicle box. Detection,
//! rectification, colour, recognition constrained by the grammar, and voting across the reads
//! of one tracked vehicle.

use std::path::Path;

use image::RgbImage;
use protocol::{PlateCategory, PlateColour, PlateLayout};

use vision::{BoxF, Engine, Manifest, ModelError, pixels::rectify};

use crate::{
    colour,
    detect::{Detection, Detector},
    recognize::{Hint, Reading, Recognizer},
    vote,
};

/// Tuning of the reader.
#[derive(Debug, Clone, Copy)]
pub struct ReaderOptions {
    /// Intra-op threads of each model.
    pub threads: usize,
    /// Below this visibility score no plate is read.
    pub min_score: f32,
    /// Plates narrower than this (pixels) are not read: nobody could.
    pub min_width_px: f32,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            threads: 1,
            min_score: crate::detect::VISIBLE,
            min_width_px: 16.0,
        }
    }
}

/// One plate read in one frame.
#[derive(Debug, Clone)]
pub struct PlateRead {
    pub detection: Detection,
    pub layout: PlateLayout,
    pub colour: PlateColour,
    pub reading: Reading,
    /// The plate seen straight on: the close-up for the evidence.
    pub crop: RgbImage,
}

/// The plate reader of the shipped (or any configured) models.
#[derive(Debug)]
pub struct PlateReader {
    detector: Detector,
    recognizer: Recognizer,
    opts: ReaderOptions,
    versions: Vec<String>,
}

impl PlateReader {
    /// Loads the plate detector and recognizer of the manifest at `path`.
    pub fn load(path: &Path, opts: ReaderOptions) -> Result<Self, ModelError> {
        let manifest = Manifest::load(path)?;
        let det = manifest.for_task("plate_detector")?;
        let rec = manifest.for_task("plate_recognizer")?;
        Ok(Self {
            versions: vec![det.version(), rec.version()],
            detector: Detector::new(Engine::load(&manifest, det, opts.threads)?)?,
            recognizer: Recognizer::new(Engine::load(&manifest, rec, opts.threads)?)?,
            opts,
        })
    }

    /// The models' versions (`name@sha256-prefix`).
    pub fn versions(&self) -> &[String] {
        &self.versions
    }

    pub fn recognizer(&self) -> &Recognizer {
        &self.recognizer
    }

    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Reads the plate of each vehicle box in `frame` (full resolution). `hint` is the plate
    /// category each vehicle's class implies, where known.
    pub fn read(
        &self,
        frame: &RgbImage,
        vehicles: &[(BoxF, Option<PlateCategory>)],
    ) -> Result<Vec<Option<PlateRead>>, ModelError> {
        let boxes: Vec<BoxF> = vehicles.iter().map(|(b, _)| *b).collect();
        let detections = self.detector.detect(frame, &boxes)?;
        let mut crops = Vec::new();
        for (i, d) in detections.iter().enumerate() {
            let Some(d) = d.filter(|d| {
                d.score >= self.opts.min_score && d.width_px() >= self.opts.min_width_px
            }) else {
                continue;
            };
            if let Some(crop) = self.recognizer.crop(frame, &d.corners) {
                // The colour from the plate alone: the recognizer's crop has a margin around it.
                let (w, h) = crop.dimensions();
                let colour = rectify(frame, &d.corners, w, h)
                    .map_or_else(|| colour::classify(&crop), |tight| colour::classify(&tight));
                crops.push((i, d, crop, colour));
            }
        }
        let mut out = vec![None; vehicles.len()];
        for (i, d, crop, colour) in crops {
            let layout = layout_of(&d);
            let hint = Hint {
                category: vehicles[i].1,
                layout: Some(layout),
            };
            let reading = self
                .recognizer
                .recognize(&[&crop], hint)?
                .pop()
                .ok_or_else(|| ModelError::Runtime("no reading".into()))?;
            out[i] = Some(PlateRead {
                layout,
                colour,
                detection: d,
                reading,
                crop,
            });
        }
        Ok(out)
    }

    /// One reading from several reads of the same vehicle, each weighted by its detection
    /// score and its best candidate's confidence: a view in which the plate is found but cannot
    /// be read (blurred, half hidden) weighs next to nothing, as it says next to nothing, and
    /// does not blur the slots of the views that read it.
    pub fn vote(&self, reads: &[&PlateRead], hint: Option<PlateCategory>) -> Option<Reading> {
        let weighted: Vec<(&[Vec<f32>], f32)> = reads
            .iter()
            .map(|r| {
                let sure = r
                    .reading
                    .best()
                    .map_or(MIN_WEIGHT, |c| c.confidence.max(MIN_WEIGHT));
                (r.reading.slots.as_slice(), r.detection.score * sure)
            })
            .collect();
        let slots = vote::average(&weighted)?;
        // The layout most of the reads saw.
        let one_line = reads
            .iter()
            .filter(|r| r.layout == PlateLayout::OneLine)
            .count();
        let layout = match (2 * one_line).cmp(&reads.len()) {
            std::cmp::Ordering::Greater => Some(PlateLayout::OneLine),
            std::cmp::Ordering::Less => Some(PlateLayout::TwoLine),
            std::cmp::Ordering::Equal => None,
        };
        let hint = Hint {
            category: hint,
            layout,
        };
        Some(self.recognizer.reading(slots, hint))
    }
}

/// A read's least weight in a vote (its confidence may be nil): where no view reads the
/// plate, the views still count by their detection scores.
const MIN_WEIGHT: f32 = 1e-6;

/// One line or two, from the plate's shape: the long plate is 4.7 times as wide as high, the
/// others at most twice.
pub fn layout_of(d: &Detection) -> PlateLayout {
    if d.width_px() > 3.0 * d.height_px().max(1.0) {
        PlateLayout::OneLine
    } else {
        PlateLayout::TwoLine
    }
}
