//! Writing what the renderer makes: frame files, ground truth, image helpers shared with the
//! dataset export.

use std::{
    fs,
    io::{BufWriter, Cursor, Write},
    path::Path,
};

use anyhow::Context;
use image::{ImageFormat, RgbImage, codecs::jpeg::JpegEncoder};

use crate::{geom::Px, render::Renderer, truth::ScenarioTruth, world::World};

/// Still image formats for frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StillFormat {
    Png,
    Jpg,
}

/// JPEG bytes of an image at `quality` (1–100).
pub fn jpeg_bytes(img: &RgbImage, quality: u8) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(img.as_raw().len() / 8);
    JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
        .encode_image(img)
        .context("encoding jpeg")?;
    Ok(out)
}

/// The image after a JPEG round trip at `quality`: the camera's compression artefacts.
pub fn jpeg_round_trip(img: &RgbImage, quality: u8) -> anyhow::Result<RgbImage> {
    let bytes = jpeg_bytes(img, quality)?;
    Ok(image::load(Cursor::new(bytes), ImageFormat::Jpeg)
        .context("decoding jpeg")?
        .to_rgb8())
}

pub fn save(img: &RgbImage, path: &Path, format: StillFormat, quality: u8) -> anyhow::Result<()> {
    match format {
        StillFormat::Png => img
            .save_with_format(path, ImageFormat::Png)
            .with_context(|| format!("writing {}", path.display())),
        StillFormat::Jpg => fs::write(path, jpeg_bytes(img, quality)?)
            .with_context(|| format!("writing {}", path.display())),
    }
}

/// Samples the quad `corners` (reading order) of `img` into a `w` × `h` image: rectification.
pub fn rectify(img: &RgbImage, corners: &[Px; 4], w: u32, h: u32) -> Option<RgbImage> {
    let rgb = vision::pixels::rectify_rgb(img.as_raw(), img.width(), img.height(), corners, w, h)?;
    RgbImage::from_raw(w, h, rgb)
}

/// Which frames `render` writes.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    pub format: StillFormat,
    pub quality: u8,
    /// Write every n-th frame's image (the truth always has every frame).
    pub every: usize,
    /// Stop after this many frames.
    pub limit: Option<usize>,
}

/// Renders a world into `out`: `frames/NNNNNN.{png,jpg}` and `truth.json`.
pub fn render_to_dir(
    world: &World,
    out: &Path,
    opts: RenderOptions,
) -> anyhow::Result<ScenarioTruth> {
    let frames_dir = out.join("frames");
    fs::create_dir_all(&frames_dir)
        .with_context(|| format!("creating {}", frames_dir.display()))?;
    let renderer = Renderer::new(world);
    let count = opts
        .limit
        .map_or(renderer.frame_count(), |n| n.min(renderer.frame_count()));
    let ext = match opts.format {
        StillFormat::Png => "png",
        StillFormat::Jpg => "jpg",
    };
    let mut frames = Vec::with_capacity(count);
    for i in 0..count {
        let frame = renderer.render(i);
        if i % opts.every.max(1) == 0 {
            save(
                &frame.image,
                &frames_dir.join(format!("{i:06}.{ext}")),
                opts.format,
                opts.quality,
            )?;
        }
        frames.push(frame.truth);
    }
    let truth = scenario_truth(world, frames);
    write_json(&out.join("truth.json"), &truth)?;
    Ok(truth)
}

/// The ground truth document of a rendered world.
pub fn scenario_truth(world: &World, frames: Vec<crate::truth::FrameTruth>) -> ScenarioTruth {
    let last = frames.len();
    ScenarioTruth {
        scenario: world.spec.name.clone(),
        seed: world.seed,
        fps: world.spec.fps,
        width: world.camera.width(),
        height: world.camera.height(),
        camera: world.spec.camera,
        ground_homography: world.camera.ground_homography().map(|h| h.0),
        road: world.spec.road.clone(),
        signal: world.spec.signal,
        violations: world
            .violations
            .iter()
            .filter(|v| v.frame < last)
            .cloned()
            .collect(),
        frames,
    }
}

pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let file = fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::new(file);
    serde_json::to_writer(&mut w, value).context("serialising ground truth")?;
    w.write_all(b"\n")?;
    w.flush()
        .with_context(|| format!("writing {}", path.display()))
}
