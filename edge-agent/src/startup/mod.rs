//! Builds the agent from its configuration: the device key, the outbox, the pipeline of every
//! camera, delivery, and the HTTP endpoints (`/healthz`, `/metrics`, `/status`,
//! `/cameras/{id}/snapshot.jpg`).
//! The endpoints themselves and the metrics are in `endpoints`.

mod endpoints;

use endpoints::{authorised, register_metrics, snapshot, status};

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use anyhow::Context;
use axum::{Router, routing::get};
use protocol::{
    DeviceId, DeviceKey, DeviceStatus,
    event::{ModelVersion, Sha256Digest},
    messages::{CameraState, CameraStatus, DeviceState},
};
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
