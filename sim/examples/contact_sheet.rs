//! Renders one frame of each named scenario (at its first violation, or mid-way) into a
//! contact sheet: `cargo run --release -p sim --example contact_sheet -- sim/docs/scenarios.jpg`.

use image::{RgbImage, imageops};
use sim::{Renderer, ScenarioSpec, World, scenario::LIBRARY};

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sim/docs/scenarios.jpg".into());
    let (tw, th) = (480u32, 270u32);
    let cols = 2u32;
    let rows = (LIBRARY.len() as u32).div_ceil(cols);
    let mut sheet = RgbImage::new(tw * cols, th * rows);
    for (i, (name, _)) in LIBRARY.iter().enumerate() {
        let spec = ScenarioSpec::named(name)?;
        let world = World::simulate(&spec, 1);
        let frame = world
            .violations
            .first()
            .map_or(world.frames.len() / 2, |v| v.frame);
        let image = Renderer::new(&world).render(frame).image;
        let small = imageops::resize(&image, tw, th, imageops::FilterType::Triangle);
        imageops::replace(
            &mut sheet,
            &small,
            i64::from(i as u32 % cols * tw),
            i64::from(i as u32 / cols * th),
        );
        println!("{name}: frame {frame}");
    }
    std::fs::write(&out, sim::output::jpeg_bytes(&sheet, 85)?)?;
    println!("→ {out}");
    Ok(())
}
