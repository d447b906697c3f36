//! The whole edge pipeline next to its floor: frames per second the agent judges on a sim
//! stream (RTSP → decode → detect → track → rules), and the raw ONNX Runtime inference rate of
//! the same detector on the same machine, one intra-op thread each.
//!
//! `pipeline [SECONDS] [CAMERAS]` prints one line per figure.

use std::time::{Duration, Instant};

use anyhow::Context;
use edge_agent::config::{CameraConfig, Config, SignalConfig, Transport};
use plate_ocr::{engine::Engine, manifest::Manifest};
use protocol::{Site, ids::CameraId};
use sim::{
    Renderer, ScenarioSpec, World,
    video::{EncodeOptions, RtspServer, encode},
};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().map_or(Ok(20.0), |a| a.parse())?;
    let cameras: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let manifest_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/manifest.toml");

    // The floor: the detector alone on a preprocessed frame.
    let manifest = Manifest::load(manifest_path.as_ref())?;
    let entry = manifest.get("vehicle_det")?;
    let detector =
        edge_agent::detect::Detector::new(Engine::load(&manifest, entry, 1)?, Default::default())?;
    let mut spec = ScenarioSpec::named("normal-flow").context("scenario")?;
    spec.duration_s = 12.0;
    let world = World::simulate(&spec, 1);
    let renderer = Renderer::new(&world);
    let frame = renderer.render(100).image;
    let (input, _) = detector.preprocess(&frame);
    let engine = Engine::load(&manifest, entry, 1)?;
    for _ in 0..5 {
        engine.run(&input)?;
    }
    let n = 200;
    let started = Instant::now();
    for _ in 0..n {
        engine.run(&input)?;
    }
    let raw_fps = f64::from(n) / started.elapsed().as_secs_f64();
    println!("raw ort inference (vehicle_det, 1 thread): {raw_fps:.1} inferences/s");

    // The pipeline: the stream served faster than real time, detection as fast as it goes.
    let encoded = encode(&renderer, &EncodeOptions::default())?;
    // No geometry: no rule fires, so the evidence stage stays idle and the figure is the
    // frame path's (ingest, detect, track, rules).
    let streams = (0..cameras)
        .map(|i| (format!("cam{i}"), encoded.clone()))
        .collect();
    // 25 fps served 2.4 times faster: 60 frames/s, just above what one detector thread takes.
    let server = RtspServer::start("127.0.0.1:0".parse()?, streams, 2.4)?;
    let dir = std::env::temp_dir().join(format!("tve-bench-{}", std::process::id()));
    let mut config = Config::default();
    config.http.bind = "127.0.0.1:0".parse()?;
    config.device.key_path = dir.join("device.key");
    config.device.data_dir = dir.join("data");
    config.models.manifest = manifest_path.into();
    config.cameras = (0..cameras)
        .map(|i| CameraConfig {
            id: CameraId::parse(format!("cam{i}")).expect("id"),
            source: server.url(&format!("cam{i}")),
            transport: Transport::Tcp,
            decoder: "auto".into(),
            detect_fps: 60.0,
            stall_timeout_s: 5.0,
            site: Site {
                name: "bench".into(),
                latitude: 10.8,
                longitude: 106.7,
                address: "bench".into(),
                direction: "bench".into(),
            },
            geometry: Default::default(),
            signal: SignalConfig::None,
            speed_limit_kmh: 50.0,
            speed_limits_kmh: Default::default(),
            red_grace_s: 0.5,
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let status = runtime.block_on(async move {
        let app = edge_agent::build(config).await?;
        let addr = app.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(app.run_until(async move {
            let _ = stop_rx.await;
        }));
        let get = || async move {
            let text = reqwest::get(format!("http://{addr}/status"))
                .await?
                .text()
                .await?;
            anyhow::Ok(serde_json::from_str::<serde_json::Value>(&text)?)
        };
        // Warm up, then count frames judged over the window.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let first = get().await?;
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        let last = get().await?;
        let elapsed = t0.elapsed().as_secs_f64();
        let _ = stop_tx.send(());
        running.await??;
        anyhow::Ok((first, last, elapsed))
    })?;
    let (first, last, elapsed) = status;
    let processed =
        |s: &serde_json::Value, i: usize| s["cameras"][i]["processed"].as_u64().unwrap_or(0);
    let mut total = 0.0;
    for i in 0..cameras {
        let fps = (processed(&last, i) - processed(&first, i)) as f64 / elapsed;
        let decoded = |s: &serde_json::Value| s["cameras"][i]["frames"].as_u64().unwrap_or(0);
        let arriving = (decoded(&last) - decoded(&first)) as f64 / elapsed;
        total += fps;
        println!(
            "pipeline camera {i}: {fps:.1} frames/s judged of {arriving:.1} decoded (inference {} ms, latency {} ms)",
            last["cameras"][i]["inference_ms"], last["cameras"][i]["latency_ms"]
        );
    }
    println!(
        "pipeline {cameras} camera(s): {total:.1} frames/s; ratio to raw inference {:.2} (goal 0.95)",
        total / raw_fps
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
