//! Streams per box: 1, 2, … simultaneous 1080p H.264 RTSP streams of the red-light junction
//! (served locally in real time, 25 frames/s), the edge agent (the release binary, its own
//! process) detecting at 5 frames/s on each with the junction's geometry and signal, for one
//! whole pass of the scenario. For each count: frames judged per stream, the agent's CPU and
//! resident memory, end-to-end frame latency (the frame decoded → its rules done) p50 / p95, and
//! the violations each camera found next to the scenario's ground truth.
//!
//! `streams [MAX_STREAMS] [SECONDS]` prints one table row per stream count.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use benches::{
    agent_config, cpu_seconds, histogram, quantile, root, row, rss_mib, scenario, video,
};
use edge_agent::config::CameraConfig;
use sim::{Renderer, video::RtspServer};

const DETECT_FPS: f64 = 5.0;
const LATENCY: &str = "tve_edge_frame_latency_seconds";

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let max: usize = args.next().map_or(Ok(12), |a| a.parse())?;
    let seconds: f64 = args.next().map_or(Ok(40.0), |a| a.parse())?;
    let binary = root().join("target/release/edge-agent");
    if !binary.exists() {
        bail!(
            "{} is missing: cargo build --release -p edge-agent",
            binary.display()
        );
    }

    let world = scenario("red-light", 1920, 1080, 1)?;
    // The stream time the agent sees: the window and the 3 s before it, the stream looping.
    let covered = seconds + 3.0;
    let period = f64::from(world.spec.duration_s);
    let truth: usize = (0..)
        .map(|pass| covered - f64::from(pass) * period)
        .take_while(|left| *left > 0.0)
        .map(|left| {
            world
                .violations
                .iter()
                .filter(|v| f64::from(v.t_s) < left)
                .count()
        })
        .sum();
    let renderer = Renderer::new(&world);
    let encoded = video(&world)?;
    #[derive(serde::Deserialize)]
    struct Tables {
        cameras: Vec<CameraConfig>,
    }
    let camera: CameraConfig = toml::from_str::<Tables>(
        &sim::setup::camera_toml(&renderer, "cam0", "rtsp://placeholder")
            .map_err(anyhow::Error::msg)?,
    )?
    .cameras
    .remove(0);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let mut counts: Vec<usize> = [1, 2, 4, 6, 8, 10, 12, 16]
        .into_iter()
        .filter(|n| *n <= max)
        .collect();
    if counts.last() != Some(&max) {
        counts.push(max);
    }
    for n in counts {
        let dir = tempfile::tempdir()?;
        let names: Vec<String> = (0..n).map(|i| format!("cam{i}")).collect();
        let server = RtspServer::start(
            "127.0.0.1:0".parse()?,
            names.iter().map(|m| (m.clone(), encoded.clone())).collect(),
            1.0,
        )?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut config = agent_config(
            dir.path(),
            names
                .iter()
                .map(|m| CameraConfig {
                    id: protocol::ids::CameraId::parse(m.as_str()).expect("id"),
                    source: server.url(m),
                    detect_fps: DETECT_FPS,
                    ..camera.clone()
                })
                .collect(),
        )?;
        config.http.bind = format!("127.0.0.1:{port}").parse()?;
        let path = dir.path().join("edge.toml");
        std::fs::write(&path, toml::to_string(&config)?)?;
        let log = std::fs::File::create(dir.path().join("edge.log"))?;
        let agent = Agent(
            Command::new(&binary)
                .arg("--config")
                .arg(&path)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .context("starting the edge agent")?,
        );
        let pid = agent.0.id().to_string();
        let base = format!("http://127.0.0.1:{port}");
        let figures = runtime.block_on(async {
            let get = |what: &'static str| {
                let url = format!("{base}/{what}");
                async move { anyhow::Ok(reqwest::get(url).await?.text().await?) }
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            while get("healthz").await.is_err() {
                if Instant::now() > deadline {
                    bail!("the edge agent did not start");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            // The pass starts when every stream has a client; judge from 3 s in.
            while names.iter().any(|m| server.started_at(m).is_none()) {
                if Instant::now() > deadline {
                    bail!("the streams did not start");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
            let first: serde_json::Value = serde_json::from_str(&get("status").await?)?;
            let metrics0 = get("metrics").await?;
            let cpu0 = cpu_seconds(&pid)?;
            let t0 = Instant::now();
            let mut rss: f64 = 0.0;
            while t0.elapsed().as_secs_f64() < seconds {
                rss = rss.max(rss_mib(&pid)?);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let last: serde_json::Value = serde_json::from_str(&get("status").await?)?;
            let metrics1 = get("metrics").await?;
            let cpu = cpu_seconds(&pid)? - cpu0;
            let elapsed = t0.elapsed().as_secs_f64();
            anyhow::Ok((first, last, metrics0, metrics1, cpu, elapsed, rss))
        })?;
        drop(agent);
        let (first, last, metrics0, metrics1, cpu, elapsed, rss) = figures;
        let field =
            |s: &serde_json::Value, i: usize, f: &str| s["cameras"][i][f].as_f64().unwrap_or(0.0);
        let fps: Vec<f64> = (0..n)
            .map(|i| (field(&last, i, "processed") - field(&first, i, "processed")) / elapsed)
            .collect();
        let found: Vec<f64> = (0..n).map(|i| field(&last, i, "violations")).collect();
        let mut before = Vec::new();
        let mut after = Vec::new();
        for name in &names {
            let label = format!("camera=\"{name}\"");
            sum_into(&mut before, histogram(&metrics0, LATENCY, &label));
            sum_into(&mut after, histogram(&metrics1, LATENCY, &label));
        }
        let ms =
            |q| quantile(&before, &after, q).map_or("–".into(), |s| format!("{:.0}", s * 1000.0));
        let min_fps = fps.iter().copied().fold(f64::INFINITY, f64::min);
        let mean_fps = fps.iter().sum::<f64>() / n as f64;
        let min_found = found.iter().copied().fold(f64::INFINITY, f64::min);
        let max_found = found.iter().copied().fold(0.0, f64::max);
        row(
            &format!("streams per box: {n} × 1080p, detection at {DETECT_FPS} frames/s each"),
            format!("{mean_fps:.2} frames/s a stream (lowest {min_fps:.2})"),
            &format!("{:.2} each", 0.95 * DETECT_FPS),
            &format!(
                "CPU {:.0} % of {cores} cores, RSS {rss:.0} MiB, latency p50 {} ms p95 {} ms, violations a camera {min_found}–{max_found} (ground truth {truth})",
                100.0 * cpu / elapsed / cores,
                ms(0.5),
                ms(0.95),
            ),
        );
    }
    Ok(())
}

/// Adds one camera's buckets to the box's.
fn sum_into(total: &mut Vec<(f64, f64)>, camera: Vec<(f64, f64)>) {
    if total.is_empty() {
        *total = camera;
        return;
    }
    for (bucket, (_, n)) in total.iter_mut().zip(camera) {
        bucket.1 += n;
    }
}
