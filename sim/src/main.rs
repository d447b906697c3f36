//! `sim`: synthetic traffic scenes with exact ground truth.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use sim::{
    dataset::{self, DatasetOptions},
    output::{RenderOptions, StillFormat, render_to_dir},
    scenario::{LIBRARY, ScenarioSpec},
    world::World,
};

#[derive(Debug, Parser)]
#[command(
    name = "sim",
    version,
    about = "Synthetic traffic scenes with exact ground truth: frames, video, RTSP, training data"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Lists the named scenarios, one per line: name, then what it shows.
    List,
    /// Renders a scenario to frames and ground truth (`truth.json`).
    Render {
        /// A named scenario (see `list`) or a path to a scenario TOML file.
        scenario: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value = "data/sim-render")]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = StillFormat::Jpg)]
        format: StillFormat,
        /// JPEG quality.
        #[arg(long, default_value_t = 90)]
        quality: u8,
        /// Write every n-th frame's image (the truth has every frame).
        #[arg(long, default_value_t = 1)]
        every: usize,
        /// Render only the first N frames.
        #[arg(long)]
        frames: Option<usize>,
    },
    /// Exports training data from random scenes (detection, plates, plate corners, helmets).
    Dataset {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value = "data/sim-dataset")]
        out: PathBuf,
        #[arg(long, default_value_t = 200)]
        scenes: usize,
        #[arg(long, default_value_t = 12)]
        frames_per_scene: usize,
        /// Every n-th scene goes to the validation split.
        #[arg(long, default_value_t = 10)]
        val_every: usize,
    },
}

/// A named scenario or a TOML file.
fn load_scenario(name: &str) -> Result<ScenarioSpec, String> {
    if LIBRARY.iter().any(|(n, _)| *n == name) {
        return ScenarioSpec::named(name).map_err(|e| e.to_string());
    }
    let text = std::fs::read_to_string(name).map_err(|e| format!("scenario `{name}` is neither a named scenario (see `sim list`) nor a readable file: {e}"))?;
    ScenarioSpec::from_toml(&text).map_err(|e| format!("{name}: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::List => {
            for (name, _) in LIBRARY {
                match ScenarioSpec::named(name) {
                    Ok(spec) => println!("{name}\t{}", spec.description),
                    Err(e) => println!("{name}\tinvalid: {e}"),
                }
            }
            ExitCode::SUCCESS
        }
        Command::Render {
            scenario,
            seed,
            out,
            format,
            quality,
            every,
            frames,
        } => {
            let spec = match load_scenario(&scenario) {
                Ok(spec) => spec,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let world = World::simulate(&spec, seed);
            match render_to_dir(
                &world,
                &out,
                RenderOptions {
                    format,
                    quality,
                    every,
                    limit: frames,
                },
            ) {
                Ok(truth) => {
                    println!(
                        "{}: {} frames, {} violations → {}",
                        spec.name,
                        truth.frames.len(),
                        truth.violations.len(),
                        out.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Dataset {
            seed,
            out,
            scenes,
            frames_per_scene,
            val_every,
        } => {
            let opts = DatasetOptions {
                out: out.clone(),
                seed,
                scenes,
                frames_per_scene,
                val_every,
                ..DatasetOptions::default()
            };
            let started = std::time::Instant::now();
            match dataset::export(&opts) {
                Ok(counts) => {
                    for (split, c) in counts {
                        println!(
                            "{split}: {} frames ({} objects), {} plates {:?}, {} vehicle crops, {} rider crops ({} without helmet)",
                            c.detect_images,
                            c.detect_objects,
                            c.plates,
                            c.plates_by_layout,
                            c.vehicle_crops,
                            c.rider_crops,
                            c.riders_without_helmet
                        );
                    }
                    println!(
                        "dataset in {} ({:.0} s)",
                        out.display(),
                        started.elapsed().as_secs_f32()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
