//! Plate detection inside a vehicle box: the vehicle crop (grown as the training crops were)
//! goes to the plate model, which says whether a plate is visible and where its corners are;
//! a plate found is looked at again in a crop around it alone, for its corners.

use image::RgbImage;
use protocol::geometry::Point;

use vision::{
    BoxF, Engine, ModelError,
    pixels::{crop_resize, to_tensor},
};

/// How much the vehicle box is grown on each side (training used 5–20 %).
pub const GROW: f32 = 0.12;

/// The visibility from which a plate counts as found.
pub const VISIBLE: f32 = 0.5;

/// The second look's margin on each side, a share of the plate's width (of its height, or a
/// third of its width if more, above and below), within the loose crops the model learned.
const REFINE_MARGIN: f32 = 0.25;

/// A plate found in a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Probability that a plate is visible.
    pub score: f32,
    /// Corners in frame pixels: top-left, top-right, bottom-right, bottom-left.
    pub corners: [Point; 4],
}

impl Detection {
    /// Width of the plate's top edge, pixels.
    pub fn width_px(&self) -> f32 {
        let [a, b, ..] = self.corners;
        ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt()
    }

    /// Height of its left edge, pixels.
    pub fn height_px(&self) -> f32 {
        let [a, _, _, d] = self.corners;
        ((d[0] - a[0]).powi(2) + (d[1] - a[1]).powi(2)).sqrt()
    }
}

/// The plate detector (`plate_corners` format).
#[derive(Debug)]
pub struct Detector {
    engine: Engine,
    size: (u32, u32),
}

impl Detector {
    pub fn new(engine: Engine) -> Result<Self, ModelError> {
        let entry = engine.entry();
        if entry.format != "plate_corners" || entry.outputs.len() != 1 {
            return Err(ModelError::Format {
                model: entry.name.clone(),
                reason: format!(
                    "a plate detector must be format plate_corners with one output, not {}",
                    entry.format
                ),
            });
        }
        let (h, w) = entry.input_hw()?;
        Ok(Self {
            engine,
            size: (w as u32, h as u32),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The plate in each vehicle box of `frame` (`None` where the box is empty). A plate
    /// found is looked at again closer ([`Detector::refine`]).
    pub fn detect(
        &self,
        frame: &RgbImage,
        vehicles: &[BoxF],
    ) -> Result<Vec<Option<Detection>>, ModelError> {
        let boxes: Vec<BoxF> = vehicles
            .iter()
            .map(|v| v.grown(GROW, frame.width(), frame.height()))
            .collect();
        let found = self.run(frame, &boxes)?;
        self.refine(frame, found)
    }

    /// Each plate found, looked at again in a crop around it alone, a quarter of its width
    /// beyond it on every side: a plate a few pixels wide in a vehicle crop scaled to the model's
    /// input fills that second crop, so its corners are placed to a fraction of the plate's
    /// own pixels rather than the vehicle's. The first look's corners stand where the second
    /// finds no plate.
    pub fn refine(
        &self,
        frame: &RgbImage,
        found: Vec<Option<Detection>>,
    ) -> Result<Vec<Option<Detection>>, ModelError> {
        let (w, h) = frame.dimensions();
        let boxes: Vec<BoxF> = found
            .iter()
            .flatten()
            .filter(|d| d.score >= VISIBLE)
            .map(|d| {
                let b = BoxF::around(&d.corners);
                let (mx, my) = (b.width(), b.height().max(0.3 * b.width()));
                BoxF {
                    x0: (b.x0 - REFINE_MARGIN * mx).max(0.0),
                    y0: (b.y0 - REFINE_MARGIN * my).max(0.0),
                    x1: (b.x1 + REFINE_MARGIN * mx).min(w as f32),
                    y1: (b.y1 + REFINE_MARGIN * my).min(h as f32),
                }
            })
            .collect();
        let mut closer = self.run(frame, &boxes)?.into_iter();
        Ok(found
            .into_iter()
            .map(|d| {
                let d = d?;
                if d.score < VISIBLE {
                    return Some(d);
                }
                match closer.next().flatten() {
                    Some(c) if c.score >= VISIBLE => Some(Detection {
                        score: d.score,
                        corners: c.corners,
                    }),
                    _ => Some(d),
                }
            })
            .collect())
    }

    /// The model on the part of `frame` under each box (`None` where it is empty), corners
    /// in frame pixels.
    fn run(&self, frame: &RgbImage, boxes: &[BoxF]) -> Result<Vec<Option<Detection>>, ModelError> {
        let crops: Vec<Option<(BoxF, RgbImage)>> = boxes
            .iter()
            .map(|b| {
                // Whole pixels, so that the corners map back onto the pixels the model saw.
                let b = BoxF {
                    x0: b.x0.max(0.0).floor(),
                    y0: b.y0.max(0.0).floor(),
                    x1: b.x1.min(frame.width() as f32).ceil(),
                    y1: b.y1.min(frame.height() as f32).ceil(),
                };
                crop_resize(frame, &b, self.size.0, self.size.1).map(|img| (b, img))
            })
            .collect();
        let present: Vec<&RgbImage> = crops.iter().flatten().map(|(_, img)| img).collect();
        if present.is_empty() {
            return Ok(vec![None; boxes.len()]);
        }
        let out = self.engine.run(&to_tensor(&present))?;
        let rows = &out[0];
        if rows.ndim() != 2 || rows.shape()[1] != 9 {
            return Err(ModelError::Format {
                model: self.engine.entry().name.clone(),
                reason: format!("output shape {:?} is not [N, 9]", rows.shape()),
            });
        }
        let mut k = 0;
        Ok(crops
            .iter()
            .map(|c| {
                let (b, _) = c.as_ref()?;
                let r = rows.index_axis(ndarray::Axis(0), k);
                k += 1;
                let at = |i: usize| {
                    [
                        b.x0 + r[1 + 2 * i] * b.width(),
                        b.y0 + r[2 + 2 * i] * b.height(),
                    ]
                };
                Some(Detection {
                    score: r[0],
                    corners: [at(0), at(1), at(2), at(3)],
                })
            })
            .collect())
    }
}
