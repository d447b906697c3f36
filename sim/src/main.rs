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
        /// Image size, e.g. 1920x1080 (the camera's field of view is kept).
        #[arg(long, value_parser = parse_size)]
        size: Option<(u32, u32)>,
        /// Through the scenario's plate camera instead of its overview camera.
        #[arg(long)]
        plates: bool,
        /// Also write the frames as H.264 in MP4 to this file.
        #[cfg(feature = "video")]
        #[arg(long)]
        video: Option<PathBuf>,
    },
    /// Serves scenarios (encoded once) or MP4 files over RTSP, looping, in real time.
    #[cfg(feature = "video")]
    Serve {
        /// Named scenarios or scenario files: each at rtsp://BIND/NAME.
        scenarios: Vec<String>,
        /// MP4 files (H.264) to serve as they are, at rtsp://BIND/FILE-STEM.
        #[arg(long)]
        mp4: Vec<PathBuf>,
        #[arg(long, default_value = "127.0.0.1:8554")]
        bind: std::net::SocketAddr,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_parser = parse_size)]
        size: Option<(u32, u32)>,
        #[arg(long, default_value_t = 4000)]
        bitrate_kbps: u32,
        /// Times real time: 1 is a live camera; more sends frames faster, for tests.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
    /// Prints the scenario's camera as a `[[cameras]]` table of the edge agent's configuration
    /// (stream URL, calibrated geometry, limits, signal).
    Setup {
        scenario: String,
        /// The stream's URL, e.g. rtsp://127.0.0.1:8554/red-light.
        #[arg(long)]
        source: String,
        /// The camera's id in the agent (its plate camera's: ID-plates).
        #[arg(long, default_value = "cam-1")]
        id: String,
        /// The plate camera's stream, for a scenario with one; by default SOURCE-plates, as
        /// `sim serve` names it.
        #[arg(long)]
        plate_source: Option<String>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_parser = parse_size)]
        size: Option<(u32, u32)>,
    },
    /// Exports training data from random scenes (detection, plates, plate corners, helmets).
    Dataset {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value = "data/sim-dataset")]
        out: PathBuf,
        #[arg(long, default_value_t = 200)]
        scenes: usize,
        /// Frames per scene for detection, vehicle and rider crops.
        #[arg(long, default_value_t = 12)]
        frames_per_scene: usize,
        /// Frames per scene for plate crops.
        #[arg(long, default_value_t = 36)]
        plate_frames_per_scene: usize,
        /// Every n-th scene goes to the validation split.
        #[arg(long, default_value_t = 10)]
        val_every: usize,
        /// Cars per minute in training scenes multiplied by this (more one-line plates);
        /// validation scenes stay as drawn.
        #[arg(long, default_value_t = 1.0)]
        train_car_boost: f32,
        /// Margin around each plate crop, a share of the plate's width on every side (the
        /// recognizer's `crop_margin`).
        #[arg(long, default_value_t = dataset::PLATE_MARGIN)]
        plate_margin: f32,
        /// The plates' typeface: dejavu (the shipped recognizer's) or stroke (the plates' own
        /// capitals).
        #[arg(long, default_value = "dejavu")]
        plate_face: sim::plate::PlateFace,
        /// Each vehicle crop's plate again in a loose crop around the plate alone (plate
        /// detector data).
        #[arg(long)]
        loose_plates: bool,
    },
    /// Writes plate crops as street cameras and detectors give them (embossing, screws,
    /// holders, dirt, glare, night light, blur, noise, compression, tilted and loose crops),
    /// in the layout of `dataset`'s `plates/`: recognizer training data.
    PlateCrops {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value = "data/plate-crops")]
        out: PathBuf,
        /// Recognizer crops (plates/).
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Loose crops of the plate alone, with its corners (plate-detect/).
        #[arg(long, default_value_t = 0)]
        detect_count: usize,
        /// Every n-th crop goes to the validation split.
        #[arg(long, default_value_t = 20)]
        val_every: usize,
        /// Share of the plates lettered in the plates' own capitals; the rest in DejaVu, the
        /// face of the scenes.
        #[arg(long, default_value_t = 0.75)]
        stroke_share: f32,
    },
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once('x')
        .ok_or("size is WIDTHxHEIGHT, e.g. 1920x1080")?;
    let w: u32 = w
        .parse()
        .map_err(|_| format!("width `{w}` is not a number"))?;
    let h: u32 = h
        .parse()
        .map_err(|_| format!("height `{h}` is not a number"))?;
    Ok((w, h))
}

/// A named scenario or a TOML file, at the requested size.
fn load_sized(name: &str, size: Option<(u32, u32)>) -> Result<ScenarioSpec, String> {
    let spec = load_scenario(name)?;
    match size {
        Some((w, h)) => spec.resized(w, h).map_err(|e| e.to_string()),
        None => Ok(spec),
    }
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
        Command::Setup {
            scenario,
            source,
            id,
            plate_source,
            seed,
            size,
        } => {
            let spec = match load_sized(&scenario, size) {
                Ok(spec) => spec,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let world = sim::World::simulate(&spec, seed);
            let overview = sim::Renderer::new(&world);
            let plate_world = world.plate_view();
            let tables = match &plate_world {
                Some(plates) => sim::setup::paired_toml(
                    &overview,
                    &sim::Renderer::new(plates),
                    &id,
                    &source,
                    &plate_source.unwrap_or_else(|| format!("{source}-plates")),
                ),
                None => sim::setup::camera_toml(&overview, &id, &source),
            };
            match tables {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Render {
            scenario,
            seed,
            out,
            format,
            quality,
            every,
            frames,
            size,
            plates,
            #[cfg(feature = "video")]
            video,
        } => {
            let spec = match load_sized(&scenario, size) {
                Ok(spec) => spec,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut world = World::simulate(&spec, seed);
            if plates {
                let Some(view) = world.plate_view() else {
                    eprintln!("error: scenario {} has no plate camera", spec.name);
                    return ExitCode::from(2);
                };
                world = view;
            }
            let opts = RenderOptions {
                format,
                quality,
                every,
                limit: frames,
            };
            let truth = match render_to_dir(&world, &out, opts) {
                Ok(truth) => truth,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            #[cfg(feature = "video")]
            if let Some(path) = video {
                let renderer = sim::Renderer::new(&world);
                let opts = sim::video::EncodeOptions {
                    keyframe_every: spec.fps,
                    limit: frames,
                    ..Default::default()
                };
                if let Err(e) = sim::video::write_mp4(&renderer, &path, &opts) {
                    eprintln!("error: {e:#}");
                    return ExitCode::FAILURE;
                }
                println!("video → {}", path.display());
            }
            println!(
                "{}: {} frames, {} violations → {}",
                spec.name,
                truth.frames.len(),
                truth.violations.len(),
                out.display()
            );
            ExitCode::SUCCESS
        }
        #[cfg(feature = "video")]
        Command::Serve {
            scenarios,
            mp4,
            bind,
            seed,
            size,
            bitrate_kbps,
            speed,
        } => match serve(&scenarios, &mp4, bind, seed, size, bitrate_kbps, speed) {
            Ok(()) => ExitCode::SUCCESS,
            Err(Failure::Usage(e)) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
            Err(Failure::Runtime(e)) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Dataset {
            seed,
            out,
            scenes,
            frames_per_scene,
            plate_frames_per_scene,
            val_every,
            train_car_boost,
            plate_margin,
            plate_face,
            loose_plates,
        } => {
            let opts = DatasetOptions {
                out: out.clone(),
                seed,
                scenes,
                frames_per_scene,
                plate_frames_per_scene,
                val_every,
                train_car_boost,
                plate_margin,
                plate_face,
                loose_plates,
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
        Command::PlateCrops {
            seed,
            out,
            count,
            detect_count,
            val_every,
            stroke_share,
        } => {
            let opts = sim::plate_crops::CropOptions {
                seed,
                count,
                detect_count,
                val_every,
                stroke_share,
            };
            let started = std::time::Instant::now();
            match sim::plate_crops::export(&opts, &out) {
                Ok(w) => {
                    println!(
                        "plates: {} training, {} validation; plate-detect: {} training, {} validation; in {} ({:.0} s)",
                        w.plates_train,
                        w.plates_val,
                        w.detect_train,
                        w.detect_val,
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

#[cfg(feature = "video")]
enum Failure {
    Usage(String),
    Runtime(anyhow::Error),
}

#[cfg(feature = "video")]
fn serve(
    scenarios: &[String],
    mp4: &[PathBuf],
    bind: std::net::SocketAddr,
    seed: u64,
    size: Option<(u32, u32)>,
    bitrate_kbps: u32,
    speed: f64,
) -> Result<(), Failure> {
    use sim::video::{EncodeOptions, RtspServer, read_mp4};
    if scenarios.is_empty() && mp4.is_empty() {
        return Err(Failure::Usage(
            "name at least one scenario or --mp4 file".into(),
        ));
    }
    let mut streams = Vec::new();
    let mut linked = Vec::new();
    for name in scenarios {
        let spec = load_sized(name, size).map_err(Failure::Usage)?;
        let world = World::simulate(&spec, seed);
        let opts = EncodeOptions {
            bitrate_kbps,
            keyframe_every: spec.fps,
            limit: None,
        };
        // A scenario with a plate camera is served as two streams in step: NAME and
        // NAME-plates.
        eprintln!("encoding {} ({} frames)", spec.name, world.frames.len());
        let site = sim::video::encode_site(&world, &spec.name, &opts).map_err(Failure::Runtime)?;
        streams.extend(site.streams);
        linked.extend(site.linked);
    }
    for path in mp4 {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("video")
            .to_owned();
        streams.push((name, read_mp4(path).map_err(Failure::Runtime)?));
    }
    if !(speed.is_finite() && speed > 0.0) {
        return Err(Failure::Usage("--speed must be more than 0".into()));
    }
    let server =
        RtspServer::start_linked(bind, streams, speed, &linked).map_err(Failure::Runtime)?;
    for name in server.names() {
        println!("{}", server.url(name));
    }
    // Serves until Ctrl-C or SIGTERM, whatever the signals' state it was started with (a script
    // starts its background jobs with SIGINT ignored), then hangs up on its clients.
    let (stop, stopped) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop.send(());
    })
    .map_err(|e| Failure::Runtime(anyhow::anyhow!("handling Ctrl-C: {e}")))?;
    let _ = stopped.recv();
    eprintln!("stopping");
    drop(server);
    Ok(())
}
