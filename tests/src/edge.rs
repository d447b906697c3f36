//! The edge side: a box's configuration around simulated cameras, the simulator serving a
//! scenario over RTSP, and waiting for a box's outbox to drain.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use protocol::DeviceId;

use crate::*;

/// An edge box for one simulated camera, and central seeded for it as [`seed_central_for`] does:
/// a new device id, its configuration in `dir` (`sim setup SCENARIO` at `source`, seed 1; its key
/// and data in `dir`; the broker `mqtt`, central at `central_url`, the shipped models) and its
/// key registered with central (`central_env`). Returns the device id and the configuration's
/// path.
pub fn edge_box(
    central_env: &[(&str, &str)],
    dir: &Path,
    scenario: &str,
    source: &str,
    mqtt: &str,
    central_url: &str,
) -> (String, PathBuf) {
    let cameras = sim_setup(scenario, "hang-xanh-1", source);
    edge_box_with(central_env, dir, &cameras, mqtt, central_url)
}

/// The `[[cameras]]` configuration `sim setup SCENARIO` writes for a camera `id` at `source`.
pub fn sim_setup(scenario: &str, id: &str, source: &str) -> String {
    let camera = Command::new(binary("sim").unwrap_or_else(|e| panic!("{e:#}")))
        .args(["setup", scenario, "--id", id, "--source", source])
        .output()
        .unwrap_or_else(|e| panic!("sim setup: {e}"));
    assert!(camera.status.success(), "sim setup: {camera:?}");
    String::from_utf8_lossy(&camera.stdout).into_owned()
}

/// [`edge_box`] for the cameras configured by `cameras` (`[[cameras]]` tables).
pub fn edge_box_with(
    central_env: &[(&str, &str)],
    dir: &Path,
    cameras: &str,
    mqtt: &str,
    central_url: &str,
) -> (String, PathBuf) {
    let device = unique("edge");
    let path = dir.join("edge.toml");
    let control_key = central_control_key(central_env, dir);
    std::fs::write(
        &path,
        format!(
            "[device]\nid = \"{device}\"\nkey_path = \"{dir}/device.key\"\ndata_dir = \"{dir}/edge\"\n\n\
             [http]\nbind = \"127.0.0.1:0\"\n\n[mqtt]\nurl = \"{mqtt}\"\nstatus_every_s = 2\nrepublish_after_s = 5\n\n\
             [central]\nurl = \"{central_url}\"\ncontrol_keys = [\"{control_key}\"]\n\n[models]\nmanifest = \"{root}/models/manifest.toml\"\nvehicle_detector = \"{detector}\"\n\n{cameras}",
            dir = dir.display(),
            root = workspace_root().display(),
            detector = sim::setup::DETECTOR,
        ),
    )
    .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    let public_key = Command::new(binary("edge-agent").unwrap_or_else(|e| panic!("{e:#}")))
        .args(["--config", &path.to_string_lossy(), "public-key"])
        .output()
        .unwrap_or_else(|e| panic!("edge-agent public-key: {e}"));
    assert!(public_key.status.success(), "{public_key:?}");
    seed_central_for(
        central_env,
        dir,
        &DeviceId::parse(&device).unwrap_or_else(|e| panic!("{e}")),
        String::from_utf8_lossy(&public_key.stdout).trim(),
    );
    (device, path)
}

/// The events the edge agent logged as stored so far.
pub fn stored_events(edge: &Service) -> std::collections::BTreeSet<String> {
    edge.logged("violation stored", "event")
        .into_iter()
        .collect()
}

/// `sim serve SCENARIO --seed SEED`: the simulated junction's camera streaming, looping, at
/// `rtsp://127.0.0.1:{port}/{scenario}`.
pub fn serve_scenario(scenario: &str, seed: u64, port: u16, dir: &Path) -> Running {
    Running::binary(
        "sim",
        &[
            "serve",
            scenario,
            "--seed",
            &seed.to_string(),
            "--bind",
            &format!("127.0.0.1:{port}"),
        ],
        dir,
    )
}

/// The first `[[cameras]]` table of `sim setup SCENARIO`'s output (the overview camera, without
/// its plate camera), as camera `id` at `source`.
pub fn overview_camera(scenario: &str, id: &str, source: &str) -> String {
    let setup = sim_setup(scenario, id, source);
    let first = setup
        .split("\n[[cameras]]")
        .next()
        .unwrap_or_default()
        .to_owned();
    first
        .lines()
        .filter(|l| !l.starts_with("plate_camera"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n\n"
}

/// The red-light runners of a simulated junction: their classes and when they cross (seconds
/// into the scenario).
#[derive(Debug, Clone)]
pub struct Runners {
    pub crossings: Vec<(String, f64)>,
    pub first: f64,
    pub last: f64,
}

impl Runners {
    pub fn of(world: &sim::World) -> Self {
        let crossings: Vec<(String, f64)> = world
            .violations
            .iter()
            .filter(|v| v.kind == protocol::ViolationKind::RedLight)
            .map(|v| (format!("{:?}", v.class).to_lowercase(), f64::from(v.t_s)))
            .collect();
        let (first, last) = crossings
            .iter()
            .fold((f64::MAX, 0.0_f64), |(a, b), (_, t)| (a.min(*t), b.max(*t)));
        Self {
            crossings,
            first,
            last,
        }
    }

    /// Seconds into the scenario by which the last runner's violation is stored: once its clip
    /// is complete, some seconds after the crossing.
    pub fn stored_by(&self) -> f64 {
        self.last + 10.0
    }
}

/// Waits (at most `secs`) until the edge agent has delivered everything it holds.
pub fn wait_drained(edge: &Service, secs: u64) {
    let status_url = format!("http://{}/status", edge.addr);
    let count = |status: &serde_json::Value, key: &str| status[key].as_u64().unwrap_or(0);
    // What the cameras have seen so far: each one stored (or refused) before the outbox counts
    // as drained. A violation whose clip tail or plate camera it still waits for is not yet in
    // the outbox, and a loaded box takes longer than the stream over it.
    let seen: u64 = get_json_at(&status_url)
        .ok()
        .and_then(|s| {
            s["cameras"]
                .as_array()
                .map(|cs| cs.iter().map(|c| count(c, "violations")).sum())
        })
        .unwrap_or(0);
    eventually(secs, "the edge agent's outbox drains", || {
        let status = get_json_at(&status_url).ok()?;
        let done = count(&status, "violations_stored") + count(&status, "violations_refused");
        // Acknowledged events wait in the outbox for their files: drained is both at 0.
        (done >= seen
            && status["outbox_depth"] == 0
            && status["uploads_pending"] == 0
            && status["broker_connected"] == true)
            .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}; edge log:\n{}", edge.log_tail(40)));
}

/// The overview camera's stream of `world` (one keyframe a second, 3 Mbit/s), to be served
/// looping in real time.
pub fn overview_stream(world: &sim::World, spec: &sim::ScenarioSpec) -> sim::video::Encoded {
    sim::video::encode(
        &sim::Renderer::new(world),
        &sim::video::EncodeOptions {
            bitrate_kbps: 3000,
            keyframe_every: spec.fps,
            limit: None,
        },
    )
    .unwrap_or_else(|e| panic!("encoding the scenario: {e:#}"))
}
