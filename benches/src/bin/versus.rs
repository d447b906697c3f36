//! Detection against its floor and against the reference, on the same model and the same video:
//!
//! 1. the floor: ONNX Runtime alone on one preprocessed frame, from Rust (`ort`) and from Python
//!    (`onnxruntime`), one intra-op thread each;
//! 2. the edge agent's frames judged per second on the sim junction at 1080p served over RTSP
//!    faster than real time (ingest, decode, detect, track, rules), and its CPU per frame;
//! 3. the reference Python loop (benches/reference/reference_pipeline.py: OpenCV VideoCapture,
//!    resize, onnxruntime, NMS, a rule without tracking) on the same video as an MP4 file.
//!
//! `versus [SECONDS]` prints one table row per figure.

use std::time::Duration;

use benches::{
    agent_config, agent_window, bench_camera, detector_floor, python, row, scenario, video,
};
use edge_agent::{evidence::clip::remux_mp4, ingest::AccessUnit};
use sim::{Renderer, video::RtspServer};

fn main() -> anyhow::Result<()> {
    let seconds: f64 = std::env::args().nth(1).map_or(Ok(20.0), |a| a.parse())?;
    let dir = tempfile::tempdir()?;

    // The video: the ordinary junction, 8 s of 1080p sampled 120 times a second, so a camera
    // served in real time offers more frames than one detector thread takes.
    let mut spec = scenario("normal-flow", 1920, 1080, 1)?.spec;
    spec.duration_s = spec.duration_s.min(8.0);
    spec.fps = 120;
    let world = sim::World::simulate(&spec, 1);
    let renderer = Renderer::new(&world);
    let encoded = video(&world)?;
    let mp4 = dir.path().join("junction.mp4");
    let units: Vec<AccessUnit> = encoded
        .units
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            Some(AccessUnit {
                t: i as f64 / f64::from(spec.fps),
                keyframe: !b.flags().contains(gstreamer::BufferFlags::DELTA_UNIT),
                data: b.map_readable().ok()?.as_slice().into(),
            })
        })
        .collect();
    remux_mp4(&units, &mp4)?;

    // 1. The floor, on one frame of it.
    let (rust_floor, input, model, format) = detector_floor(&renderer.render(100).image)?;
    let tensor = dir.path().join("input.f32");
    let bytes: Vec<u8> = input.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&tensor, bytes)?;
    let shape = input
        .shape()
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let py_floor = python(
        "ort_floor.py",
        &[
            "--model",
            &model.to_string_lossy(),
            "--tensor",
            &tensor.to_string_lossy(),
            "--shape",
            &shape,
            "--threads",
            "1",
        ],
    )?;
    let py_floor_rate = py_floor["inferences_per_s"].as_f64().unwrap_or(0.0);
    row(
        "detector floor, Rust `ort` (vehicle_det 416², 1 thread)",
        format!("{rust_floor:.1} inferences/s"),
        "",
        &format!("{:.2} ms each", 1000.0 / rust_floor),
    );
    row(
        "detector floor, Python `onnxruntime` (same tensor, 1 thread)",
        format!("{py_floor_rate:.1} inferences/s"),
        "",
        &format!("Rust / Python {:.2}", rust_floor / py_floor_rate),
    );

    // 2. The edge agent on the video over RTSP in real time, 120 frames/s offered, detection
    //    as fast as it goes.
    let server = RtspServer::start("127.0.0.1:0".parse()?, vec![("cam0".into(), encoded)], 1.0)?;
    let config = agent_config(
        dir.path(),
        vec![bench_camera("cam0", server.url("cam0"), 120.0)],
    )?;
    let window = agent_window(config, Duration::from_secs(4), seconds)?;
    let judged = window.judged_fps(0);
    let edge_cpu_ms = 1000.0 * window.cpu_s / window.delta(0, "processed");
    row(
        "edge agent, 1 camera 1080p at 120 frames/s over RTSP (decode, detect, track, rules)",
        format!("{judged:.1} frames/s"),
        "≥ 0.95 × floor",
        &format!(
            "{:.2} of the Rust floor; {:.1} frames/s decoded",
            judged / rust_floor,
            window.decoded_fps(0)
        ),
    );
    row(
        "edge agent CPU a frame judged (the process: RTSP, decode of every frame, detect, track)",
        format!("{edge_cpu_ms:.1} ms"),
        "",
        "",
    );

    // 3. The reference loop on the same video from the MP4 file, every frame.
    let reference = python(
        "reference_pipeline.py",
        &[
            "--model",
            &model.to_string_lossy(),
            "--video",
            &mp4.to_string_lossy(),
            "--format",
            &format,
            "--threads",
            "1",
            "--stop-line-y",
            "700",
        ],
    )?;
    let reference_fps = reference["fps"].as_f64().unwrap_or(0.0);
    let reference_cpu = reference["cpu_ms_per_frame"].as_f64().unwrap_or(0.0);
    row(
        "reference Python loop (OpenCV VideoCapture → resize → onnxruntime → NMS → rule), same video",
        format!("{reference_fps:.1} frames/s"),
        "",
        &format!(
            "{} frames; OpenCV {}, onnxruntime {}",
            reference["frames"], reference["opencv"], reference["onnxruntime"]
        ),
    );
    row(
        "reference CPU a frame",
        format!("{reference_cpu:.1} ms"),
        "",
        &format!(
            "edge agent / reference CPU a frame {:.2}",
            edge_cpu_ms / reference_cpu
        ),
    );
    row(
        "edge agent / reference, frames/s",
        format!("{:.2}", judged / reference_fps),
        "≥ 1.5",
        "",
    );
    Ok(())
}
