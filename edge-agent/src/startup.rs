//! Builds the agent from its configuration: the device key, the outbox, the pipeline of every
//! camera, delivery, and the HTTP endpoints (`/healthz`, `/metrics`, `/status`,
//! `/cameras/{id}/snapshot.jpg`).

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use axum::{
    Json, Router,
    extract::{Path as UrlPath, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus_client::metrics::{family::Family, gauge::Gauge};
use protocol::{
    DeviceId, DeviceKey, DeviceStatus,
    event::{ModelVersion, Sha256Digest},
    messages::{CameraState, CameraStatus, DeviceState},
};
use serde::Serialize;
use service_kit::http::{App, Metrics};
use tokio::sync::{Notify, mpsc};
use tracing::{debug, info, warn};
use vision::Manifest;

use crate::{
    Config,
    camera::CameraStats,
    config::SignalConfig,
    control::ControlPlane,
    evidence::{package::clock, stage::EvidenceCounters},
    ingest::State as IngestState,
    outbox::{Outbox, writer::WriterCounters},
    pipeline::{self, Pipeline},
    publish::{self, Delivery, DeliveryCounters},
};

/// Reads the device key, or makes one (readable by the owner only) on first start. A key file
/// others may read is refused.
pub fn device_key(path: &Path) -> anyhow::Result<DeviceKey> {
    let (key, made) = service_kit::secret_file::signing_key(path, "device.key_path", true)?
        .with_context(|| format!("device.key_path {}", path.display()))?;
    if made {
        tracing::info!(path = %path.display(), public_key = %key.public_key().to_base64(), "device key created");
    }
    Ok(key)
}

/// `edge-agent public-key`: the configured device's public key on standard output.
pub fn print_public_key(config: Option<&Path>) -> std::process::ExitCode {
    let config = match service_kit::config::load::<Config>(crate::ENV_PREFIX, config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match device_key(&config.device.key_path) {
        Ok(key) => {
            println!("{}", key.public_key().to_base64());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

/// What the HTTP endpoints read.
#[derive(Debug)]
struct AgentState {
    device: DeviceId,
    /// The version of central's camera settings in force (0: none yet).
    config_version: Arc<AtomicU64>,
    cameras: Vec<CameraView>,
    outbox: Outbox,
    delivery: Arc<DeliveryCounters>,
    evidence: Arc<EvidenceCounters>,
    writer: Arc<WriterCounters>,
}

#[derive(Debug, Clone)]
struct CameraView {
    config: Arc<crate::config::CameraConfig>,
    stats: Arc<CameraStats>,
    ingest: Option<Arc<crate::ingest::Ingest>>,
    error: Option<String>,
}

impl CameraView {
    fn signal_fault(&self) -> Option<String> {
        self.stats
            .signal_fault
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn state(&self) -> CameraState {
        match self.ingest.as_ref().map(|i| i.state()) {
            Some(IngestState::Streaming) => CameraState::Streaming,
            Some(IngestState::Connecting | IngestState::Reconnecting) => CameraState::Reconnecting,
            _ => CameraState::Down,
        }
    }

    fn fps(&self) -> f64 {
        self.stats.fps_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// One of the ingest's counters; 0 for a camera that never started.
    fn counter(&self, which: fn(&crate::ingest::Counters) -> &std::sync::atomic::AtomicU64) -> u64 {
        self.ingest
            .as_ref()
            .map_or(0, |i| which(i.counters()).load(Ordering::Relaxed))
    }
}

/// Binds the agent's HTTP listener and wires its parts.
pub async fn build(mut config: Config) -> anyhow::Result<App> {
    let metrics = Metrics::new("edge-agent");
    let device = DeviceId::parse(&config.device.id).context("device.id")?;
    let key = Arc::new(device_key(&config.device.key_path)?);
    service_kit::secret_file::create_private_dir(&config.device.data_dir)
        .with_context(|| format!("device.data_dir {}", config.device.data_dir.display()))?;
    // The cameras as central last configured them, kept from before: the box starts with them
    // even when the broker cannot be reached.
    let central_config = config.device.data_dir.join(CENTRAL_CONFIG);
    let config_version = Arc::new(AtomicU64::new(0));
    let control = Arc::new(control_plane(&config, &device)?);
    match read_central_config(&central_config, &control) {
        Ok(Some(kept)) => {
            let changed = config.apply(&kept);
            config_version.store(kept.version, Ordering::Relaxed);
            info!(version = kept.version, cameras = ?changed, "camera settings from central, as kept");
        }
        Ok(None) => {}
        Err(e) => warn!(
            error = format!("{e:#}"),
            "the kept camera settings from central are ignored"
        ),
    }
    let outbox = Outbox::open(
        &config.device.data_dir.join("outbox"),
        config.outbox.clone(),
    )
    .await
    .context("opening the outbox")?;
    let wake = Arc::new(Notify::new());
    let evidence = Arc::new(EvidenceCounters::default());
    let writer = Arc::new(WriterCounters::default());
    // The models matter only to cameras: a box with none still delivers its outbox.
    let models = if config.cameras.is_empty() {
        Vec::new()
    } else {
        let manifest = Manifest::load(&config.models.manifest)
            .with_context(|| format!("models.manifest {}", config.models.manifest.display()))?;
        manifest
            .models()
            .iter()
            .filter_map(|m| {
                Some(ModelVersion {
                    task: m.task.clone(),
                    name: m.name.clone(),
                    sha256: Sha256Digest::parse(&m.sha256).ok()?,
                })
            })
            .collect()
    };
    let shared = pipeline::Shared {
        device: device.clone(),
        min_plate_confidence: config.models.min_plate_confidence,
        key: key.clone(),
        outbox: outbox.clone(),
        wake: wake.clone(),
        evidence: evidence.clone(),
        writer: writer.clone(),
        models,
        clock: clock(config.device.clock_source.as_deref()),
    };
    let pipeline = Pipeline::start(&config, shared)?;
    let cameras: Vec<CameraView> = pipeline
        .cameras
        .iter()
        .map(|c| CameraView {
            config: c.config.clone(),
            stats: c.stats.clone(),
            ingest: c.ingest_arc(),
            error: c.error(),
        })
        .collect();
    let delivery_counters = Arc::new(DeliveryCounters::default());
    let state = Arc::new(AgentState {
        device: device.clone(),
        config_version: config_version.clone(),
        cameras: cameras.clone(),
        outbox: outbox.clone(),
        delivery: delivery_counters.clone(),
        evidence: evidence.clone(),
        writer,
    });
    register_metrics(&metrics, state.clone());

    let token = config
        .device
        .status_token
        .as_ref()
        .map(|t| Arc::<str>::from(t.expose()));
    let router = Router::new()
        .route("/status", get(status))
        .route("/cameras/{id}/snapshot.jpg", get(snapshot))
        .layer(axum::middleware::from_fn(move |request, next| {
            authorised(token.clone(), request, next)
        }))
        .with_state(state.clone());
    let mut app = App::build("edge-agent", &config.http, metrics, router).await?;

    let (signal_tx, mut signal_rx) = mpsc::channel::<protocol::SignalPhase>(64);
    let (config_tx, mut config_rx) = mpsc::channel::<publish::CentralConfig>(4);
    let pipeline = Arc::new(std::sync::Mutex::new(pipeline));
    {
        let pipeline = pipeline.clone();
        let config_version = config_version.clone();
        app.spawn("pipeline", move |mut shutdown| async move {
            loop {
                tokio::select! {
                    () = shutdown.wait() => break,
                    Some(phase) = signal_rx.recv() => {
                        let p = pipeline.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(c) = p.cameras.iter().find(|c| c.config.id == phase.camera) {
                            c.signal(phase);
                        }
                    }
                    Some(publish::CentralConfig { config: update, signed }) = config_rx.recv() => {
                        let current = config_version.load(Ordering::Relaxed);
                        if update.version <= current {
                            debug!(version = update.version, current, "camera settings not newer: kept as they are");
                            continue;
                        }
                        // Kept first, so a restart starts where this leaves off.
                        if let Err(e) = crate::outbox::write_durably(&central_config, &signed) {
                            warn!(error = format!("{e:#}"), "camera settings from central not kept");
                        }
                        let mut p = pipeline.lock().unwrap_or_else(|e| e.into_inner());
                        let mut changed = Vec::new();
                        for c in &mut p.cameras {
                            if let Some(s) = update.camera(&c.config.id) {
                                c.reconfigure(s);
                                changed.push(c.config.id.to_string());
                            }
                        }
                        config_version.store(update.version, Ordering::Relaxed);
                        info!(version = update.version, cameras = ?changed, "camera settings from central");
                    }
                }
            }
            // Stop the sources; pending violations are stored before the agent exits.
            tokio::task::spawn_blocking(move || {
                pipeline.lock().unwrap_or_else(|e| e.into_inner()).stop();
            })
            .await?;
            Ok(())
        });
    }
    let delivery = Delivery {
        device,
        key,
        outbox,
        mqtt: config.mqtt.clone(),
        central: config.central.clone(),
        control,
        wake,
        counters: delivery_counters,
    };
    let status_state = state.clone();
    let (frame_state, video_state) = (state.clone(), state.clone());
    let frames = crate::snapshot::Frames {
        cameras: Arc::new(move |id| {
            let camera = frame_state.cameras.iter().find(|c| &c.config.id == id)?;
            Some(camera.stats.clone())
        }),
        videos: Arc::new(move |id| {
            let camera = video_state.cameras.iter().find(|c| &c.config.id == id)?;
            camera.ingest.clone()
        }),
        config_version: config_version.clone(),
    };
    app.spawn("publish", move |shutdown| {
        publish::run(
            delivery,
            Arc::new(move || device_status(&status_state)),
            (signal_tx, config_tx),
            frames,
            shutdown,
        )
    });
    Ok(app)
}

/// Where the camera settings central last sent are kept, in `device.data_dir`.
const CENTRAL_CONFIG: &str = "central-config.json";

/// Who the box takes acknowledgements, configurations and phases from: central's pinned keys,
/// and the controller key of each camera whose signal comes from its controller.
fn control_plane(config: &Config, device: &DeviceId) -> anyhow::Result<ControlPlane> {
    let central = config.central.control_keys()?;
    if central.is_empty() {
        warn!(
            "central.control_keys is empty: no acknowledgement or configuration can be trusted, \
             so events stay in the outbox; pin central's key (`central-api control-key`)"
        );
    }
    let mut controllers = std::collections::HashMap::new();
    for c in &config.cameras {
        if let SignalConfig::Mqtt { controller_key } = &c.signal {
            let key = protocol::DevicePublicKey::from_base64(controller_key)
                .with_context(|| format!("cameras {}: signal.controller_key", c.id))?;
            controllers.insert(c.id.clone(), key);
        }
    }
    Ok(ControlPlane::new(device.clone(), central, controllers))
}

/// The kept configuration from central, when there is one for this device that central's key
/// verifies (the file is checked again at each start: a hand-edited one is not taken).
fn read_central_config(
    path: &std::path::Path,
    control: &ControlPlane,
) -> anyhow::Result<Option<protocol::DeviceConfig>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let kept = control
        .config(&bytes)
        .with_context(|| format!("{}", path.display()))?;
    Ok(Some(kept))
}

fn device_status(state: &AgentState) -> DeviceStatus {
    let cameras: Vec<CameraStatus> = state
        .cameras
        .iter()
        .map(|c| CameraStatus {
            camera: c.config.id.clone(),
            state: c.state(),
            detect_fps: c.fps().clamp(0.0, 1000.0),
            signal_fault: c.signal_fault(),
        })
        .collect();
    let degraded = cameras
        .iter()
        .any(|c| c.state != CameraState::Streaming || c.signal_fault.is_some());
    DeviceStatus {
        device: state.device.clone(),
        state: if degraded {
            DeviceState::Degraded
        } else {
            DeviceState::Online
        },
        at: Some(protocol::UtcTimestamp::now()),
        software_version: Some(env!("CARGO_PKG_VERSION").into()),
        cameras,
        outbox_depth: None,
    }
}

#[derive(Debug, Serialize)]
struct StatusBody {
    device: String,
    /// The version of central's camera settings in force (0: none yet).
    config_version: u64,
    broker_connected: bool,
    outbox_depth: u64,
    outbox_bytes: u64,
    /// Evidence files still to upload: the outbox has drained when this and `outbox_depth`
    /// are both 0 (an acknowledged event waits for its files).
    uploads_pending: u64,
    published: u64,
    acknowledged: u64,
    uploaded: u64,
    /// Evidence uploads that failed (each is retried).
    upload_errors: u64,
    /// Acknowledgements, configurations and signal phases refused (unsigned, forged, stale, for
    /// another device).
    control_refused: u64,
    /// How far central's clock is ahead of this box's (ms; negative: behind), from the dates of
    /// its answers; 0 within a couple of seconds. Uploads are signed at central's time, events
    /// dated by this box's clock: anything but 0 is a clock to set right.
    central_clock_offset_ms: i64,
    violations_stored: u64,
    violations_refused: u64,
    /// Violations stored without their clip, the outbox or its disk being full.
    violations_without_clip: u64,
    /// Violations made but not yet stored: in memory, being tried again.
    violations_waiting: u64,
    /// Failed attempts to store a violation, each tried again.
    store_retries: u64,
    /// Free bytes on the outbox's disk beyond what is left for the box.
    outbox_disk_room: Option<u64>,
    /// The disk, not the cap, kept the last violation out or shortened it.
    outbox_disk_full: bool,
    cameras: Vec<CameraBody>,
}

#[derive(Debug, Serialize)]
struct CameraBody {
    id: String,
    role: crate::config::CameraRole,
    /// The plate camera this camera takes its plates from.
    #[serde(skip_serializing_if = "Option::is_none")]
    plate_camera: Option<String>,
    state: CameraState,
    error: Option<String>,
    detect_fps: f64,
    frames: u64,
    /// Frames detection has judged.
    processed: u64,
    dropped_frames: u64,
    reconnects: u64,
    stalls: u64,
    inference_ms: f64,
    latency_ms: f64,
    violations: u64,
    signal: Option<protocol::messages::SignalState>,
    /// Why the signal cannot be trusted (no change for longer than a cycle, nothing read).
    #[serde(skip_serializing_if = "Option::is_none")]
    signal_fault: Option<String>,
}

/// Lets a request through when no token is configured, or when it bears the configured one
/// (`Authorization: Bearer TOKEN`); 401 otherwise. Compared as SHA-256 digests, so the time
/// taken says nothing of how much of a guess was right.
async fn authorised(
    token: Option<Arc<str>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(token) = token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let digest = |s: &str| protocol::Sha256Digest::of(s.as_bytes());
        if digest(given) != digest(&token) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "this box's status and pictures need its device.status_token\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

async fn status(State(state): State<Arc<AgentState>>) -> Response {
    let cameras = state
        .cameras
        .iter()
        .map(|c| CameraBody {
            id: c.config.id.to_string(),
            role: c.config.role,
            plate_camera: c.config.plate_camera.as_ref().map(ToString::to_string),
            state: c.state(),
            error: c.error.clone(),
            detect_fps: c.fps(),
            frames: c.counter(|k| &k.frames),
            processed: c.stats.processed.load(Ordering::Relaxed),
            dropped_frames: c.counter(|k| &k.dropped),
            reconnects: c.counter(|k| &k.reconnects),
            stalls: c.counter(|k| &k.stalls),
            inference_ms: c.stats.last_detect_us.load(Ordering::Relaxed) as f64 / 1000.0,
            latency_ms: c.stats.latency_us.load(Ordering::Relaxed) as f64 / 1000.0,
            violations: c.stats.findings.load(Ordering::Relaxed),
            signal: *c.stats.signal.lock().unwrap_or_else(|e| e.into_inner()),
            signal_fault: c.signal_fault(),
        })
        .collect();
    let body = StatusBody {
        config_version: state.config_version.load(Ordering::Relaxed),
        device: state.device.to_string(),
        broker_connected: state.delivery.connected.load(Ordering::Relaxed),
        outbox_depth: state.outbox.depth().await.unwrap_or(0),
        outbox_bytes: state.outbox.bytes().await.unwrap_or(0),
        uploads_pending: state.outbox.uploads_pending().await.unwrap_or(0),
        published: state.delivery.published.load(Ordering::Relaxed),
        acknowledged: state.delivery.acked.load(Ordering::Relaxed),
        uploaded: state.delivery.uploaded.load(Ordering::Relaxed),
        upload_errors: state.delivery.upload_errors.load(Ordering::Relaxed),
        control_refused: state.delivery.control_refused.load(Ordering::Relaxed),
        central_clock_offset_ms: state.delivery.central_clock.offset_ms(),
        violations_stored: state.evidence.stored.load(Ordering::Relaxed),
        violations_refused: state.evidence.refused.load(Ordering::Relaxed),
        violations_without_clip: state.evidence.without_clip.load(Ordering::Relaxed),
        violations_waiting: state.writer.waiting.load(Ordering::Relaxed),
        store_retries: state.writer.retries.load(Ordering::Relaxed),
        outbox_disk_room: state.outbox.disk_room(),
        outbox_disk_full: state.outbox.disk_full(),
        cameras,
    };
    Json(body).into_response()
}

/// The latest frame with the geometry in force drawn on it (central's once taken up), for
/// setting the camera up.
async fn snapshot(State(state): State<Arc<AgentState>>, UrlPath(id): UrlPath<String>) -> Response {
    let Some(camera) = state.cameras.iter().find(|c| c.config.id.as_str() == id) else {
        return (StatusCode::NOT_FOUND, "no such camera").into_response();
    };
    let Some(frame) = camera
        .stats
        .snapshot
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
    else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no frame yet").into_response();
    };
    let config = camera
        .stats
        .in_force
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(|| camera.config.clone());
    let drawn = tokio::task::spawn_blocking(move || {
        let img = crate::overlay::draw_geometry(frame.rgb(), &config.geometry);
        crate::evidence::jpeg(&img, 85)
    })
    .await;
    match drawn {
        Ok(Ok(bytes)) => ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "snapshot failed").into_response(),
    }
}

/// Each camera's end-to-end frame latency (decoded → rules done) as one histogram family,
/// `tve_edge_frame_latency_seconds{camera}`.
#[derive(Debug)]
struct FrameLatency(Arc<AgentState>);

impl prometheus_client::collector::Collector for FrameLatency {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::{encoding::EncodeMetric, metrics::MetricType, registry::Unit};
        let mut family = encoder.encode_descriptor(
            "edge_frame_latency",
            "Time from a frame leaving the decoder to its rules done",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for c in &self.0.cameras {
            let labels = [("camera", c.config.id.to_string())];
            c.stats.latency.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

fn register_metrics(metrics: &Metrics, state: Arc<AgentState>) {
    metrics.register_collector(FrameLatency(state.clone()));
    type ByCamera = Family<Vec<(&'static str, String)>, Gauge<f64, std::sync::atomic::AtomicU64>>;
    let gauges: Vec<(&'static str, &'static str, ByCamera)> = vec![
        (
            "edge_detect_fps",
            "Frames per second reaching detection",
            ByCamera::default(),
        ),
        (
            "edge_frames_total",
            "Decoded frames taken from the camera",
            ByCamera::default(),
        ),
        (
            "edge_dropped_frames_total",
            "Frames replaced before detection took them",
            ByCamera::default(),
        ),
        (
            "edge_inference_ms",
            "Detector time of the last frame",
            ByCamera::default(),
        ),
        (
            "edge_reconnects_total",
            "Stream reconnections",
            ByCamera::default(),
        ),
        (
            "edge_violations_total",
            "Violations found",
            ByCamera::default(),
        ),
        (
            "edge_signal_fault",
            "1 while the camera's signal cannot be trusted (no change for longer than a cycle)",
            ByCamera::default(),
        ),
    ];
    for (name, help, family) in &gauges {
        metrics.register(name, help, family.clone());
    }
    let totals = Family::<
        Vec<(&'static str, &'static str)>,
        Gauge<f64, std::sync::atomic::AtomicU64>,
    >::default();
    metrics.register(
        "edge_delivery",
        "Outbox and delivery figures",
        totals.clone(),
    );
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            for c in &state.cameras {
                let label = vec![("camera", c.config.id.to_string())];
                let values = [
                    c.fps(),
                    c.counter(|k| &k.frames) as f64,
                    c.counter(|k| &k.dropped) as f64,
                    c.stats.last_detect_us.load(Ordering::Relaxed) as f64 / 1000.0,
                    c.counter(|k| &k.reconnects) as f64,
                    c.stats.findings.load(Ordering::Relaxed) as f64,
                    f64::from(u8::from(c.signal_fault().is_some())),
                ];
                for ((_, _, family), v) in gauges.iter().zip(values) {
                    family.get_or_create(&label).set(v);
                }
            }
            let depth = state.outbox.depth().await.unwrap_or(0) as f64;
            let bytes = state.outbox.bytes().await.unwrap_or(0) as f64;
            let uploads = state.outbox.uploads_pending().await.unwrap_or(0) as f64;
            let d = &state.delivery;
            let (e, w) = (&state.evidence, &state.writer);
            let n = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
            for (what, v) in [
                ("outbox_depth", depth),
                ("outbox_bytes", bytes),
                ("uploads_pending", uploads),
                ("published", n(&d.published)),
                ("acknowledged", n(&d.acked)),
                ("uploaded", n(&d.uploaded)),
                ("upload_errors", n(&d.upload_errors)),
                ("control_refused", n(&d.control_refused)),
                (
                    "central_clock_offset_ms",
                    d.central_clock.offset_ms() as f64,
                ),
                ("broker_connects", n(&d.connects)),
                ("stored", n(&e.stored)),
                ("refused", n(&e.refused)),
                ("without_clip", n(&e.without_clip)),
                ("store_waiting", n(&w.waiting)),
                ("store_retries", n(&w.retries)),
                ("store_recovered", n(&w.recovered)),
                ("delivered_as_journaled", n(&w.delivered_as_journaled)),
                (
                    "outbox_disk_room",
                    state.outbox.disk_room().unwrap_or(0) as f64,
                ),
                (
                    "outbox_disk_full",
                    f64::from(u8::from(state.outbox.disk_full())),
                ),
            ] {
                totals.get_or_create(&vec![("figure", what)]).set(v);
            }
        }
    });
}
