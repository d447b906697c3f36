//! Plate detection inside a vehicle box: the vehicle crop (grown as the training crops were)
//! goes to the plate model, which says whether a plate is visible and where its corners are.

use image::RgbImage;
use protocol::geometry::Point;

use crate::{
    engine::{Engine, ModelError},
    image_ops::{BoxF, crop_resize, to_tensor},
};

/// How much the vehicle box is grown on each side (training used 5–20 %).
pub const GROW: f32 = 0.12;

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

    /// The plate in each vehicle box of `frame` (`None` where the box is empty).
    pub fn detect(
        &self,
        frame: &RgbImage,
        vehicles: &[BoxF],
    ) -> Result<Vec<Option<Detection>>, ModelError> {
        let crops: Vec<Option<(BoxF, RgbImage)>> = vehicles
            .iter()
            .map(|v| {
                let grown = v.grown(GROW, frame.width(), frame.height());
                crop_resize(frame, &grown, self.size.0, self.size.1).map(|img| (grown, img))
            })
            .collect();
        let present: Vec<&RgbImage> = crops.iter().flatten().map(|(_, img)| img).collect();
        if present.is_empty() {
            return Ok(vec![None; vehicles.len()]);
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
