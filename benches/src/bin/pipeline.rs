//! The whole edge pipeline next to its floor with several cameras: frames per second the agent
//! judges on sim streams (RTSP → decode → detect → track → rules), and the raw ONNX Runtime
//! inference rate of the same detector on the same machine, one intra-op thread each.
//!
//! `pipeline [SECONDS] [CAMERAS]` prints one table row per figure.

use std::time::Duration;

use benches::{
    agent_config, agent_window, batched_rate, bench_camera, detector_floor, row, scenario, video,
};
use sim::{Renderer, video::RtspServer};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().map_or(Ok(20.0), |a| a.parse())?;
    let cameras: usize = args.next().map_or(Ok(1), |a| a.parse())?;

    // The floor: the detector alone on a preprocessed frame.
    let mut spec = scenario("normal-flow", 1280, 720, 1)?.spec;
    spec.duration_s = 12.0;
    // Sampled 60 times a second: each camera served in real time offers 60 frames/s, more than
    // its share of one detector thread.
    spec.fps = 60;
    let world = sim::World::simulate(&spec, 1);
    let (raw_fps, input, _, _) = detector_floor(&Renderer::new(&world).render(100).image)?;
    // Batching the cameras' frames into one run instead: frames a second either way.
    for threads in [1, 2] {
        let single = batched_rate(&input, 1, threads)?;
        let batched = batched_rate(&input, cameras.max(2), threads)?;
        row(
            &format!(
                "detector, {} frames batched in one run against one at a time ({threads} intra-op thread{})",
                cameras.max(2),
                if threads == 1 { "" } else { "s" }
            ),
            format!("{batched:.1} against {single:.1} frames/s"),
            "batch when faster",
            &format!("batched / single {:.2}", batched / single),
        );
    }

    // The pipeline: the cameras' 720p streams over RTSP, detection as fast as it goes on each.
    let encoded = video(&world)?;
    let streams = (0..cameras)
        .map(|i| (format!("cam{i}"), encoded.clone()))
        .collect();
    let server = RtspServer::start("127.0.0.1:0".parse()?, streams, 1.0)?;
    let dir = tempfile::tempdir()?;
    let config = agent_config(
        dir.path(),
        (0..cameras)
            .map(|i| bench_camera(&format!("cam{i}"), server.url(&format!("cam{i}")), 120.0))
            .collect(),
    )?;
    let window = agent_window(config, Duration::from_secs(4), seconds)?;
    let total: f64 = (0..cameras).map(|i| window.judged_fps(i)).sum();
    let per_camera = (0..cameras)
        .map(|i| format!("{:.1}", window.judged_fps(i)))
        .collect::<Vec<_>>()
        .join(" + ");
    row(
        &format!(
            "edge agent, {cameras} cameras 720p at 60 frames/s over RTSP, all frames/s judged"
        ),
        format!("{total:.1} frames/s"),
        "≥ 0.95 × floor",
        &format!(
            "{:.2} of the floor ({raw_fps:.1} inferences/s, 1 thread); cameras {per_camera}",
            total / raw_fps
        ),
    );
    Ok(())
}
