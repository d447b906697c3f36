//! The helmet classifier: the probability that a motorbike's rider wears no helmet, from the
//! upper half of the motorbike's box.

use vision::{BoxF, Manifest, Picture, pixels::to_tensor};

/// The helmet classifier on a rider crop (the upper half of a motorbike's box).
pub struct Helmet {
    engine: vision::Engine,
    size: (u32, u32),
}

impl std::fmt::Debug for Helmet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Helmet").field("size", &self.size).finish()
    }
}

impl Helmet {
    pub fn load(manifest: &Manifest, name: &str, threads: usize) -> anyhow::Result<Self> {
        let entry = manifest.get(name)?;
        let (h, w) = entry.input_hw()?;
        Ok(Self {
            engine: vision::Engine::load(manifest, entry, threads)?,
            size: (w as u32, h as u32),
        })
    }

    /// The probability that the rider of the motorbike in `bbox` wears no helmet.
    pub fn no_helmet(&self, frame: &Picture, bbox: &BoxF) -> anyhow::Result<Option<f32>> {
        let upper = BoxF {
            y1: bbox.y0 + bbox.height() / 2.0,
            ..*bbox
        };
        let Some(crop) = frame.crop_resize(&upper, self.size.0, self.size.1) else {
            return Ok(None);
        };
        let out = self.engine.run(&to_tensor(&[&crop]))?;
        Ok(out.first().and_then(|o| o.iter().nth(1).copied()))
    }
}
