//! Benches of the project: criterion micro-benches under `benches/`, and the whole-process
//! harnesses under `src/bin/` that `make bench` runs (`scripts/bench.sh`). A harness prints each
//! figure as a markdown table row ([`row`]) and fails only on an error, never on a figure.

pub mod ingest;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};
use sim::{
    Renderer, ScenarioSpec, World,
    video::{EncodeOptions, Encoded, encode},
};

/// The workspace's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// The models' manifest.
pub fn manifest() -> PathBuf {
    root().join("models/manifest.toml")
}

/// The detection floor: the sim's detector ([`sim::setup::DETECTOR`]) alone, one intra-op
/// thread, on `frame` as the edge agent preprocesses it. Returns inferences a second, the input
/// tensor, the model's file and its format (as the manifest names it).
pub fn detector_floor(
    frame: &image::RgbImage,
) -> anyhow::Result<(f64, ndarray::Array4<f32>, PathBuf, String)> {
    use vision::{Engine, Manifest};
    let path = manifest();
    let models = Manifest::load(&path)?;
    let entry = models.get(sim::setup::DETECTOR)?;
    let detector =
        edge_agent::detect::Detector::new(Engine::load(&models, entry, 1)?, Default::default())?;
    let (input, _) = detector.preprocess(frame);
    let engine = Engine::load(&models, entry, 1)?;
    for _ in 0..5 {
        engine.run(&input)?;
    }
    let runs = 200;
    let started = std::time::Instant::now();
    for _ in 0..runs {
        engine.run(&input)?;
    }
    let rate = f64::from(runs) / started.elapsed().as_secs_f64();
    let file = path.parent().context("models folder")?.join(&entry.file);
    Ok((rate, input, file, entry.format.clone()))
}

/// Frames a second through the sim's detector ([`sim::setup::DETECTOR`]) when `batch` frames go
/// in one run, on `threads` intra-op threads: whether batching the cameras' frames pays on this
/// machine.
pub fn batched_rate(
    input: &ndarray::Array4<f32>,
    batch: usize,
    threads: usize,
) -> anyhow::Result<f64> {
    use vision::{Engine, Manifest};
    let models = Manifest::load(&manifest())?;
    let engine = Engine::load(&models, models.get(sim::setup::DETECTOR)?, threads)?;
    let views: Vec<_> = (0..batch).map(|_| input.view()).collect();
    let batched = ndarray::concatenate(ndarray::Axis(0), &views)?;
    for _ in 0..3 {
        engine.run(&batched)?;
    }
    let runs = (240 / batch).max(10);
    let started = std::time::Instant::now();
    for _ in 0..runs {
        engine.run(&batched)?;
    }
    Ok((runs * batch) as f64 / started.elapsed().as_secs_f64())
}

/// One figure as a row of the results table: what, its value, the goal, the ratio or a note.
pub fn row(figure: &str, value: impl std::fmt::Display, goal: &str, note: &str) {
    println!("| {figure} | {value} | {goal} | {note} |");
}

/// A named scenario at `width`×`height` (the camera's field of view kept), simulated.
pub fn scenario(name: &str, width: u32, height: u32, seed: u64) -> anyhow::Result<World> {
    let spec = ScenarioSpec::named(name)
        .and_then(|s| s.resized(width, height))
        .with_context(|| format!("scenario {name} at {width}×{height}"))?;
    Ok(World::simulate(&spec, seed))
}

/// The world's video as H.264 (4 Mbit/s, a keyframe a second), as a camera would send it.
pub fn video(world: &World) -> anyhow::Result<Encoded> {
    encode(
        &Renderer::new(world),
        &EncodeOptions {
            bitrate_kbps: 4000,
            keyframe_every: world.spec.fps,
            limit: None,
        },
    )
}

/// CPU seconds (user and system) process `pid` has used; `self` for this one.
pub fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command's closing parenthesis; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').context("/proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / clock_ticks())
}

/// Clock ticks a second of `/proc` times, asked once.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Resident memory of process `pid`, MiB.
pub fn rss_mib(pid: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .context("VmRSS")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib / 1024.0)
}

/// Runs a script of `benches/reference` with the bench virtualenv's Python; its one line of
/// JSON.
pub fn python(script: &str, args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let python = root().join(".venv-bench/bin/python");
    if !python.exists() {
        bail!(
            "{} is missing: `make deps-bench` installs it",
            python.display()
        );
    }
    let output = Command::new(&python)
        .arg(root().join("benches/reference").join(script))
        .args(args)
        .output()
        .with_context(|| format!("running {script}"))?;
    if !output.status.success() {
        bail!(
            "{script} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8(output.stdout)?;
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .with_context(|| format!("{script} printed {text}"))
}

/// The `/status` of an edge agent.
pub async fn status(addr: std::net::SocketAddr) -> anyhow::Result<serde_json::Value> {
    let text = reqwest::get(format!("http://{addr}/status"))
        .await?
        .text()
        .await?;
    Ok(serde_json::from_str(&text)?)
}

/// The cumulative buckets (upper bound, count) of a Prometheus histogram with `labels` in the
/// text of `/metrics`.
pub fn histogram(metrics: &str, name: &str, labels: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{");
    metrics
        .lines()
        .filter(|l| l.starts_with(&prefix) && l.contains(labels))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            let count = l.rsplit(' ').next()?.parse().ok()?;
            Some((bound, count))
        })
        .collect()
}

/// The `q` quantile of the observations between two readings of a histogram's buckets,
/// interpolated within its bucket (as Prometheus' `histogram_quantile`).
pub fn quantile(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> Option<f64> {
    let counts: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, n)| {
            let earlier = before
                .iter()
                .find(|(b, _)| b == le)
                .map_or(0.0, |(_, m)| *m);
            (*le, n - earlier)
        })
        .collect();
    let total = counts.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, n) in &counts {
        if n >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let within = if n > lower.1 {
                (rank - lower.1) / (n - lower.1)
            } else {
                0.0
            };
            return Some(lower.0 + (le - lower.0) * within);
        }
        lower = (le, n);
    }
    None
}

/// An edge agent's configuration for a harness: its files under `dir`, HTTP on a free port, the
/// shipped models, no broker to reach (events wait in the outbox), `cameras`.
pub fn agent_config(
    dir: &Path,
    cameras: Vec<edge_agent::config::CameraConfig>,
) -> anyhow::Result<edge_agent::config::Config> {
    let mut config = edge_agent::config::Config::default();
    config.http.bind = "127.0.0.1:0".parse()?;
    config.device.key_path = dir.join("device.key");
    config.device.data_dir = dir.join("data");
    config.models.manifest = manifest();
    config.models.vehicle_detector = sim::setup::DETECTOR.into();
    config.mqtt.url = "mqtt://127.0.0.1:9".into();
    config.cameras = cameras;
    Ok(config)
}

/// One camera of a harness: the stream at `source`, detection up to `detect_fps`, no geometry
/// (no rule fires, so the figure is the frame path's: ingest, detect, track, rules).
pub fn bench_camera(id: &str, source: String, detect_fps: f64) -> edge_agent::config::CameraConfig {
    use edge_agent::config::{CameraConfig, SignalConfig, Transport};
    CameraConfig {
        id: protocol::ids::CameraId::parse(id).expect("camera id"),
        source,
        role: Default::default(),
        plate_camera: None,
        transport: Transport::Tcp,
        decoder: "auto".into(),
        detect_fps,
        stall_timeout_s: 5.0,
        site: protocol::Site {
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
        signal_max_cycle_s: edge_agent::config::default_max_cycle(),
    }
}

/// What an agent's `/status` said at the start and the end of a window, how long it was, and
/// the CPU seconds this process used meanwhile.
#[derive(Debug)]
pub struct Window {
    pub first: serde_json::Value,
    pub last: serde_json::Value,
    pub elapsed: f64,
    pub cpu_s: f64,
}

impl Window {
    /// Frames per second camera `i` judged (detection, tracking, rules) in the window.
    pub fn judged_fps(&self, i: usize) -> f64 {
        self.delta(i, "processed") / self.elapsed
    }

    /// Frames per second camera `i` decoded in the window.
    pub fn decoded_fps(&self, i: usize) -> f64 {
        self.delta(i, "frames") / self.elapsed
    }

    pub fn delta(&self, i: usize, field: &str) -> f64 {
        let at = |s: &serde_json::Value| s["cameras"][i][field].as_f64().unwrap_or(0.0);
        at(&self.last) - at(&self.first)
    }
}

/// Runs an edge agent in this process on `config`: `warmup` first, then a window of `seconds`.
pub fn agent_window(
    config: edge_agent::config::Config,
    warmup: std::time::Duration,
    seconds: f64,
) -> anyhow::Result<Window> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = edge_agent::build(config).await?;
        let addr = app.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(app.run_until(async move {
            let _ = stop_rx.await;
        }));
        tokio::time::sleep(warmup).await;
        let first = status(addr).await?;
        let cpu0 = cpu_seconds("self")?;
        let t0 = std::time::Instant::now();
        tokio::time::sleep(std::time::Duration::from_secs_f64(seconds)).await;
        let last = status(addr).await?;
        let cpu_s = cpu_seconds("self")? - cpu0;
        let elapsed = t0.elapsed().as_secs_f64();
        let _ = stop_tx.send(());
        running.await??;
        Ok(Window {
            first,
            last,
            elapsed,
            cpu_s,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_buckets_filled_between_readings() {
        let before = [(0.1, 10.0), (0.2, 10.0), (f64::INFINITY, 10.0)];
        let after = [(0.1, 20.0), (0.2, 30.0), (f64::INFINITY, 30.0)];
        // 20 new observations: 10 in (0, 0.1], 10 in (0.1, 0.2].
        assert!((quantile(&before, &after, 0.5).unwrap() - 0.1).abs() < 1e-9);
        assert!((quantile(&before, &after, 0.75).unwrap() - 0.15).abs() < 1e-9);
        assert_eq!(quantile(&after, &after, 0.5), None);
    }

    #[test]
    fn buckets_are_read_for_one_label_set() {
        let text = "edge_frame_latency_seconds_bucket{camera=\"cam0\",le=\"0.05\"} 3\n\
                    edge_frame_latency_seconds_bucket{camera=\"cam1\",le=\"0.05\"} 9\n\
                    edge_frame_latency_seconds_bucket{camera=\"cam0\",le=\"+Inf\"} 4\n";
        assert_eq!(
            histogram(text, "edge_frame_latency_seconds", "camera=\"cam0\""),
            [(0.05, 3.0), (f64::INFINITY, 4.0)]
        );
    }
}
