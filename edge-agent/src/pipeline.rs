//! The wiring, in one place, built from the last stage back to the first:
//!
//! ```text
//! per camera: ingest ─latest frame─▶ camera thread (camera: detect ▶ track ▶ rules ▶ capture)
//!                                        │ violation seen: journaled with what there is;
//!                                        │ then due (after image and clip tail seen): complete
//!                                        ▼ bounded, blocking: violations are never dropped
//!             evidence thread (evidence::stage: plate ▶ images with data bar ▶ clip ▶ sign)
//!                                        ▼
//!                                     outbox (SQLite WAL + files) ──▶ publish (MQTT, HTTPS)
//! ```
//! Each stage is its own module ([`crate::ingest`], [`crate::camera`], [`crate::evidence`],
//! [`crate::outbox`], [`crate::publish`]); this one only starts them and joins them.
//! Frames may be dropped (latest-only, counted); violations and evidence never are: a full
//! evidence queue holds the camera thread back, and the outbox refuses only by its stated
//! policy, counted and logged. A violation is journaled in the outbox as soon as it is seen (a
//! provisional event, held back), so a crash while it waits for its "after" image loses nothing.
//!
//! A plate camera (`role = "plates"`) runs the same detect ▶ track, records where each vehicle
//! was on the road and its largest views ([`crate::pairing`]), and judges nothing; the camera
//! naming it takes the plate of a violating vehicle from there.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::Ordering,
        mpsc::{SyncSender, sync_channel},
    },
    thread,
};

use anyhow::Context;
use plate_ocr::PlateReader;
use protocol::{
    DeviceId, DeviceKey, SignalPhase,
    event::{ClockSync, ModelVersion},
};
use tokio::sync::Notify;
use tracing::{error, info};
use vision::Manifest;

use crate::{
    camera::{
        CLIP_SLACK_S, CameraModels, CameraStats, Controls, Handover, Role, Worker, load_models,
    },
    config::{CameraConfig, CameraRole, Config},
    detect::PeopleDetector,
    evidence::stage::{EvidenceCounters, EvidenceModels, JOBS_WAITING, Job, evidence_thread},
    ingest::{Ingest, State},
    outbox::{Outbox, writer::WriterCounters},
    pairing::Sightings,
};

/// What the agent runs, shared by the cameras.
#[derive(Debug, Clone)]
pub struct Shared {
    pub device: DeviceId,
    /// Plate reads less sure than this are reported unread.
    pub min_plate_confidence: f64,
    pub key: Arc<DeviceKey>,
    pub outbox: Outbox,
    pub wake: Arc<Notify>,
    pub evidence: Arc<EvidenceCounters>,
    /// The outbox writer's retries and what waits in memory.
    pub writer: Arc<WriterCounters>,
    pub models: Vec<ModelVersion>,
    pub clock: ClockSync,
}

/// A running camera.
#[derive(Debug)]
pub struct Camera {
    pub config: Arc<CameraConfig>,
    pub stats: Arc<CameraStats>,
    ingest: Option<Arc<Ingest>>,
    /// What the camera's worker is told: phases, new settings (taken before its next frame), stop.
    controls: Controls,
    thread: Option<thread::JoinHandle<()>>,
    error: Arc<Mutex<Option<String>>>,
}

impl Camera {
    pub fn ingest_state(&self) -> Option<State> {
        self.ingest.as_ref().map(|i| i.state())
    }

    /// Why the camera is not running, when it is not.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn ingest_arc(&self) -> Option<Arc<Ingest>> {
        self.ingest.clone()
    }

    /// Hands the camera the settings central keeps for it (site, geometry, limits, grace); its
    /// worker applies them before its next frame, its tracks going on.
    pub fn reconfigure(&mut self, settings: &protocol::CameraSettings) {
        let config = Arc::new(self.config.with_settings(settings));
        *self
            .controls
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(config.clone());
        self.config = config;
    }

    /// Hands the camera a phase from the signal controller.
    pub fn signal(&self, phase: SignalPhase) {
        self.controls
            .signals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(phase);
    }

    fn stop(&mut self) {
        self.controls.stop.store(true, Ordering::Relaxed);
        if let Some(i) = &self.ingest {
            i.stop();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The whole pipeline: cameras and the evidence thread.
#[derive(Debug)]
pub struct Pipeline {
    pub cameras: Vec<Camera>,
    evidence: Option<thread::JoinHandle<()>>,
    jobs: Option<SyncSender<Job>>,
}

impl Pipeline {
    /// Starts every camera. A camera that cannot start (a broken source line, a missing
    /// decoder) is reported in its status and the others run; models that cannot load stop
    /// the start, as nothing could be judged.
    pub fn start(config: &Config, shared: Shared) -> anyhow::Result<Self> {
        if config.cameras.is_empty() {
            info!("no cameras configured: delivering what the outbox holds");
            return Ok(Self {
                cameras: Vec::new(),
                evidence: None,
                jobs: None,
            });
        }
        let manifest = Manifest::load(&config.models.manifest)
            .with_context(|| format!("models.manifest {}", config.models.manifest.display()))?;
        let reader = PlateReader::load(
            &config.models.manifest,
            plate_ocr::reader::ReaderOptions {
                threads: config.models.intra_threads,
                ..Default::default()
            },
        )
        .context("loading the plate reader")?;
        let models = EvidenceModels {
            reader,
            people: PeopleDetector::load(&config.models, &manifest)?,
        };
        // Check every camera's models before starting any thread.
        let load_models = || -> anyhow::Result<CameraModels> { load_models(config, &manifest) };
        drop(load_models()?);

        let (jobs, rx) = sync_channel::<Job>(JOBS_WAITING);
        let evidence = {
            let shared = shared.clone();
            let settings = config.evidence.clone();
            // Its own small runtime for the outbox: stored events must not depend on the
            // service's runtime still running when the agent stops.
            let rt = crate::outbox::writer_runtime().context("starting the evidence runtime")?;
            thread::Builder::new()
                .name("evidence".into())
                .spawn(move || evidence_thread(&rx, &models, &shared, &settings, &rt))
                .context("starting the evidence thread")?
        };
        let ring_keep_s =
            config.evidence.clip_before_s + config.evidence.clip_after_s + CLIP_SLACK_S;
        // Each plate camera's sightings, written by its worker, read by the camera naming it.
        let sightings: HashMap<&str, Arc<Mutex<Sightings>>> = config
            .cameras
            .iter()
            .filter(|c| c.role == CameraRole::Plates)
            .map(|c| (c.id.as_str(), Arc::default()))
            .collect();
        let mut cameras = Vec::new();
        for camera in &config.cameras {
            let role = match camera.role {
                CameraRole::Plates => Role::Plates(sightings[camera.id.as_str()].clone()),
                CameraRole::Violations => Role::Judge {
                    plates: camera
                        .plate_camera
                        .as_ref()
                        .and_then(|id| Some((id.clone(), sightings.get(id.as_str())?.clone()))),
                },
            };
            let config_arc = Arc::new(camera.clone());
            let stats = Arc::new(CameraStats::default());
            let error = Arc::new(Mutex::new(None));
            let controls = Controls::default();
            let ingest = match Ingest::start(camera, ring_keep_s) {
                Ok(i) => Some(Arc::new(i)),
                Err(e) => {
                    error!(camera = %camera.id, error = %format!("{e:#}"), "camera cannot start");
                    *error.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{e:#}"));
                    None
                }
            };
            let thread = if let Some(ingest) = ingest.clone() {
                let models = load_models()?;
                let worker = Worker::new(
                    config_arc.clone(),
                    models,
                    ingest,
                    stats.clone(),
                    controls.clone(),
                    Handover {
                        jobs: jobs.clone(),
                        settings: config.evidence.clone(),
                    },
                    role,
                );
                Some(
                    thread::Builder::new()
                        .name(format!("camera-{}", camera.id))
                        .spawn(move || worker.run())
                        .context("starting a camera thread")?,
                )
            } else {
                None
            };
            cameras.push(Camera {
                config: config_arc,
                stats,
                ingest,
                controls,
                thread,
                error,
            });
        }
        Ok(Self {
            cameras,
            evidence: Some(evidence),
            jobs: Some(jobs),
        })
    }

    /// Stops the sources; pending violations are finished and stored before this returns.
    pub fn stop(&mut self) {
        for c in &mut self.cameras {
            c.stop();
        }
        self.jobs.take();
        if let Some(t) = self.evidence.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop();
    }
}
