//! The wiring, in one place, built from the last stage back to the first:
//!
//! ```text
//! per camera: Ingest ─latest frame─▶ camera thread (detect ▶ track ▶ rules ▶ captures)
//!                                        │ violation seen: journaled with what there is;
//!                                        │ then due (after image and clip tail seen): complete
//!                                        ▼ bounded, blocking: violations are never dropped
//!             evidence thread (plate read + vote ▶ images with data bar ▶ clip remux, masked copy ▶ sign)
//!                                        ▼
//!                                     outbox (SQLite WAL + files) ──▶ publish (MQTT, HTTPS)
//! ```
//! Frames may be dropped (latest-only, counted); violations and evidence never are: a full
//! evidence queue holds the camera thread back, and the outbox refuses only by its stated
//! policy, counted and logged. A violation is journaled in the outbox as soon as it is seen (a
//! provisional event, held back), so a crash while it waits for its "after" image loses nothing.
//!
//! A plate camera (`role = "plates"`) runs the same detect ▶ track, records where each vehicle
//! was on the road and its largest views ([`crate::pairing`]), and judges nothing; the camera
//! naming it takes the plate of a violating vehicle from there.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
        mpsc::{Receiver, SyncSender, sync_channel},
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::Context;
use image::RgbImage;
use plate_ocr::{
    PlateReader,
    image_ops::{BoxF, crop_resize, to_tensor},
    manifest::Manifest,
};
use prometheus_client::metrics::histogram::Histogram;
use protocol::{
    DeviceId, DeviceKey, EventId, SignalPhase, UtcTimestamp, VehicleClass, ViolationEvent,
    ViolationKind,
    event::{
        ClockState, ClockSync, Measurement, ModelVersion, PlateRead, SignalObservation, Vehicle,
        VehicleBox,
    },
    messages::{SignalSource, SignalState},
    wire,
};
use tokio::sync::Notify;
use tracing::{error, info, warn};

use crate::{
    clip::{FrameBoxes, MAX_GAP_S},
    config::{CameraConfig, CameraRole, Config, SignalConfig},
    evidence::{self, Capture, File, Shape},
    ingest::{Frame, Ingest, State},
    outbox::{
        NewFile, Outbox, Stored,
        writer::{Entry, Outcome, RetryPolicy, Writer, WriterCounters},
    },
    pairing::{RoadPath, Sighting, Sightings, View, offer_view},
    plate::{PlateOutcome, read_plate},
    rules::{self, Finding, Geometry, History, Limits, Sample},
    signal::{FixedPlan, LampReader, SignalWatch, Timeline},
    track::{TrackState, Tracker, TrackerOptions},
};

/// Per-camera figures for `/status` and `/metrics`.
#[derive(Debug)]
pub struct CameraStats {
    pub processed: AtomicU64,
    pub detect_us: AtomicU64,
    pub last_detect_us: AtomicU64,
    pub findings: AtomicU64,
    /// Frames per second reaching detection, ×1000.
    pub fps_milli: AtomicU64,
    /// End-to-end frame latency (decoded to rules done) of the last frame, µs.
    pub latency_us: AtomicU64,
    /// The same for every frame judged, seconds.
    pub latency: Histogram,
    pub snapshot: Mutex<Option<Arc<RgbImage>>>,
    pub signal: Mutex<Option<SignalState>>,
    /// Why the camera's signal cannot be trusted, when it cannot ([`SignalWatch`]).
    pub signal_fault: Mutex<Option<String>>,
    /// Until when an installer watches the camera live (central asked for judged frames):
    /// meanwhile each frame judged is kept in [`Self::judged`] with what was judged in it. Not
    /// otherwise: measuring every track's speed every frame is work nobody would look at.
    pub watched_until: Mutex<Option<Instant>>,
    /// The latest frame judged while watched.
    pub judged: Mutex<Option<Arc<JudgedView>>>,
    /// The settings the camera judges by, once central's have been taken up (before: those of
    /// the box's file).
    pub in_force: Mutex<Option<Arc<CameraConfig>>>,
}

/// A frame as the camera's worker judged it, for the installer watching it live.
#[derive(Debug)]
pub struct JudgedView {
    /// The frame's number among those the camera judged (a newer frame has a larger one).
    pub frame: u64,
    pub taken_at: UtcTimestamp,
    pub image: Arc<RgbImage>,
    /// The settings judged by: the set-up in force.
    pub camera: Arc<CameraConfig>,
    pub signal: Option<SignalState>,
    pub signal_fault: Option<String>,
    /// The tracks confirmed in the frame, with the speed measured and the lane they are in.
    pub vehicles: Vec<protocol::snapshot::JudgedVehicle>,
}

impl CameraStats {
    /// Keeps judged frames for the next `for_s` seconds at least.
    pub fn watch(&self, for_s: f64) {
        let until = Instant::now() + Duration::from_secs_f64(for_s.max(0.0));
        let mut at = self.watched_until.lock().unwrap_or_else(|e| e.into_inner());
        if at.is_none_or(|t| t < until) {
            *at = Some(until);
        }
    }

    fn watched(&self) -> bool {
        self.watched_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|t| Instant::now() < t)
    }

    /// The latest judged frame newer than frame number `after`.
    pub fn judged_after(&self, after: u64) -> Option<Arc<JudgedView>> {
        self.judged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|v| v.frame > after)
    }
}

impl Default for CameraStats {
    fn default() -> Self {
        Self {
            processed: AtomicU64::default(),
            detect_us: AtomicU64::default(),
            last_detect_us: AtomicU64::default(),
            findings: AtomicU64::default(),
            fps_milli: AtomicU64::default(),
            latency_us: AtomicU64::default(),
            latency: Histogram::new([
                0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0,
            ]),
            snapshot: Mutex::default(),
            signal: Mutex::default(),
            signal_fault: Mutex::default(),
            watched_until: Mutex::default(),
            judged: Mutex::default(),
            in_force: Mutex::default(),
        }
    }
}

/// Counters of the evidence stage.
#[derive(Debug, Default)]
pub struct EvidenceCounters {
    pub stored: AtomicU64,
    pub without_clip: AtomicU64,
    pub refused: AtomicU64,
    pub unread_plates: AtomicU64,
    pub errors: AtomicU64,
}

/// The models a camera thread runs.
struct CameraModels {
    vehicles: crate::detect::VehicleDetector,
    tracker: TrackerOptions,
    helmet: Option<Helmet>,
}

/// The helmet classifier on a rider crop (the upper half of a motorbike's box).
pub struct Helmet {
    engine: plate_ocr::engine::Engine,
    size: (u32, u32),
}

impl std::fmt::Debug for Helmet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Helmet").field("size", &self.size).finish()
    }
}

impl Helmet {
    pub fn load(manifest: &Manifest, name: &str, threads: usize) -> anyhow::Result<Self> {
        let entry = manifest.get(name)?;
        let (h, w) = entry.input_hw()?;
        Ok(Self {
            engine: plate_ocr::engine::Engine::load(manifest, entry, threads)?,
            size: (w as u32, h as u32),
        })
    }

    /// The probability that the rider of the motorbike in `bbox` wears no helmet.
    pub fn no_helmet(&self, frame: &RgbImage, bbox: &BoxF) -> anyhow::Result<Option<f32>> {
        let upper = BoxF {
            y1: bbox.y0 + bbox.height() / 2.0,
            ..*bbox
        };
        let Some(crop) = crop_resize(frame, &upper, self.size.0, self.size.1) else {
            return Ok(None);
        };
        let out = self.engine.run(&to_tensor(&[&crop]))?;
        Ok(out.first().and_then(|o| o.iter().nth(1).copied()))
    }
}

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
    signals: Arc<Mutex<Vec<SignalPhase>>>,
    /// New settings from central, taken by the camera's worker before its next frame.
    settings: Arc<Mutex<Option<Arc<CameraConfig>>>>,
    thread: Option<thread::JoinHandle<()>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
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
        *self.settings.lock().unwrap_or_else(|e| e.into_inner()) = Some(config.clone());
        self.config = config;
    }

    /// Hands the camera a phase from the signal controller.
    pub fn signal(&self, phase: SignalPhase) {
        self.signals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(phase);
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
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
        // Check every camera's models before starting any thread.
        let load_models =
            || -> anyhow::Result<CameraModels> { load_camera_models(config, &manifest) };
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
                .spawn(move || evidence_thread(&rx, &reader, &shared, &settings, &rt))
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
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let signals = Arc::new(Mutex::new(Vec::new()));
            let settings = Arc::new(Mutex::new(None));
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
                    stats.clone(),
                    signals.clone(),
                    jobs.clone(),
                    config.evidence.clone(),
                    ingest,
                    stop.clone(),
                    settings.clone(),
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
                signals,
                settings,
                thread,
                stop,
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

fn load_camera_models(config: &Config, manifest: &Manifest) -> anyhow::Result<CameraModels> {
    // Low-score detections feed the tracker's second pass (ByteTrack); it decides.
    let low = TrackerOptions::default().low_score;
    let m = &config.models;
    let vehicles = crate::detect::VehicleDetector::load(m, manifest, &m.vehicle_detector, low)?;
    let helmet = if m.helmet_classifier.is_empty() {
        info!("no helmet classifier configured: the no-helmet rule is off");
        None
    } else {
        Some(
            Helmet::load(manifest, &m.helmet_classifier, 1)
                .with_context(|| format!("models.helmet_classifier `{}`", m.helmet_classifier))?,
        )
    };
    let min_score = vehicles.min_score;
    Ok(CameraModels {
        vehicles,
        tracker: TrackerOptions {
            high_score: min_score,
            new_track_score: (min_score + 0.1).min(0.95),
            ..TrackerOptions::default()
        },
        helmet,
    })
}

/// A confirmed track seen in this frame.
#[derive(Debug, Clone)]
struct Seen {
    id: u64,
    bbox: BoxF,
    class: VehicleClass,
    /// Each class its detections gave, with its share of their votes.
    class_votes: Vec<(VehicleClass, f32)>,
    score: f32,
}

/// The signal fault of a camera reading the lamps before they are placed on its picture.
pub const LAMPS_NOT_SET_UP: &str =
    "the signal head's lamps are not set up: place them on the camera's page in central";

/// A box as the messages give it: whole pixels, within the frame's top and left edges.
fn vehicle_box(b: &BoxF) -> VehicleBox {
    VehicleBox {
        x: b.x0.max(0.0) as u32,
        y: b.y0.max(0.0) as u32,
        width: b.width().max(1.0) as u32,
        height: b.height().max(1.0) as u32,
    }
}

/// What a track has shown so far.
#[derive(Debug)]
struct Followed {
    history: History,
    /// The largest views of the vehicle.
    views: Vec<View>,
    no_helmet: Vec<f32>,
    fired: HashSet<ViolationKind>,
    score: f32,
    last_seen: f64,
}

const MAX_SAMPLES: usize = 900;
/// How long (seconds of the judging camera's time) a violation's evidence waits for a lagging
/// plate camera to reach the moment the vehicle had passed it.
pub const PLATE_WAIT_S: f64 = 5.0;

/// How much longer than a clip's span the camera's H.264 ring, and what was seen over it, are
/// kept: the clip starts at the keyframe before its span.
const CLIP_SLACK_S: f64 = 6.0;

/// The offender's box in a processed frame (when it was seen there) and everything else found
/// in it, its riders left out: what a masked copy of that frame hides.
fn apart(boxes: &FrameBoxes, due: &Due) -> (Option<BoxF>, Vec<(BoxF, Shape)>) {
    let vehicle = boxes
        .tracks
        .iter()
        .find(|b| b.0 == due.finding.track)
        .map(|b| b.1);
    let two_wheeler = due.class == VehicleClass::Motorbike;
    (
        vehicle,
        evidence::others(&boxes.found, vehicle, two_wheeler),
    )
}

/// How a masked copy hides a followed vehicle of `class`.
fn shape_of(class: VehicleClass) -> Shape {
    if class == VehicleClass::Motorbike {
        Shape::TwoWheeler
    } else {
        Shape::Vehicle
    }
}

/// A violation waiting for its "after" image and the end of its clip.
#[derive(Debug, Clone)]
struct Due {
    /// Its event's id, from the moment it is seen: the journaled event and the complete one
    /// are one event.
    event_id: EventId,
    finding: Finding,
    class: VehicleClass,
    score: f32,
    bbox: BoxF,
    captures: [Option<Capture>; 3],
    signal: Option<SignalObservation>,
}

/// A violation ready for its evidence; `provisional`: journaled as soon as it is seen, with
/// what there is, until the complete event replaces it.
#[derive(Debug)]
struct Job {
    provisional: bool,
    camera: Arc<CameraConfig>,
    due: Due,
    views: Vec<View>,
    /// The plate camera's view of the vehicle, when it has one that saw it.
    paired: Option<Paired>,
    clip: Vec<crate::ingest::AccessUnit>,
    /// What the detector saw over the clip, the offender left out: what its masked copy hides.
    clip_boxes: Vec<FrameBoxes>,
    /// Unix ms of camera time 0.
    utc_of: i64,
}

/// The plate camera's sighting of a violating vehicle.
#[derive(Debug)]
struct Paired {
    camera: protocol::ids::CameraId,
    sighting: Sighting,
}

/// A frame kept for evidence: the picture, and what was seen in it.
type Recent = (Arc<RgbImage>, Arc<FrameBoxes>);

/// What a camera's worker does with its tracks.
#[derive(Debug, Clone)]
enum Role {
    /// Judges them by the rules; takes plates from its plate camera's sightings, if it has one.
    Judge {
        plates: Option<(protocol::ids::CameraId, Arc<Mutex<Sightings>>)>,
    },
    /// Records them for the camera it reads plates for.
    Plates(Arc<Mutex<Sightings>>),
}

struct Worker {
    camera: Arc<CameraConfig>,
    models: CameraModels,
    stats: Arc<CameraStats>,
    signals: Arc<Mutex<Vec<SignalPhase>>>,
    jobs: SyncSender<Job>,
    settings: crate::config::EvidenceSettings,
    ingest: Arc<Ingest>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// Settings from central waiting to be applied (see [`Camera::reconfigure`]).
    pending: Arc<Mutex<Option<Arc<CameraConfig>>>>,
    role: Role,
    geometry: Geometry,
    limits: Limits,
    tracker: Tracker,
    followed: HashMap<u64, Followed>,
    recent: VecDeque<Recent>,
    /// What was seen in each processed frame over the span a clip may cover, for its masked
    /// copy (longer than `recent`, and without the pictures).
    seen: VecDeque<Arc<FrameBoxes>>,
    due: Vec<Due>,
    timeline: Timeline,
    lamps: LampReader,
    watch: SignalWatch,
}

impl Worker {
    #[allow(clippy::too_many_arguments)]
    fn new(
        camera: Arc<CameraConfig>,
        models: CameraModels,
        stats: Arc<CameraStats>,
        signals: Arc<Mutex<Vec<SignalPhase>>>,
        jobs: SyncSender<Job>,
        settings: crate::config::EvidenceSettings,
        ingest: Arc<Ingest>,
        stop: Arc<std::sync::atomic::AtomicBool>,
        pending: Arc<Mutex<Option<Arc<CameraConfig>>>>,
        role: Role,
    ) -> Self {
        let geometry = Geometry::from(&camera.geometry);
        let tracker = Tracker::new(models.tracker);
        let limits = limits_of(&camera);
        let watch = SignalWatch::new(camera.signal_max_cycle_s);
        Self {
            camera,
            models,
            stats,
            signals,
            jobs,
            settings,
            ingest,
            stop,
            pending,
            role,
            geometry,
            limits,
            tracker,
            followed: HashMap::new(),
            recent: VecDeque::new(),
            seen: VecDeque::new(),
            due: Vec::new(),
            timeline: Timeline::new(120.0),
            lamps: LampReader::new(),
            watch,
        }
    }

    /// Takes up settings from central, if any came: the geometry and limits the rules judge by,
    /// the site the evidence names. Tracks go on.
    fn take_settings(&mut self) {
        let new = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(camera) = new {
            self.geometry = Geometry::from(&camera.geometry);
            self.limits = limits_of(&camera);
            *self
                .stats
                .in_force
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(camera.clone());
            self.camera = camera;
            info!(camera = %self.camera.id, site = %self.camera.site.name, "settings from central applied");
        }
    }

    /// UTC of a camera time.
    fn utc(&self, t: f64) -> UtcTimestamp {
        utc_at(self.ingest.unix_ms_at(0.0), t)
    }

    fn run(mut self) {
        let id = self.camera.id.clone();
        info!(camera = %id, source = %self.camera.source, "camera started");
        let mut window: VecDeque<Instant> = VecDeque::new();
        let period = Duration::from_secs_f64(1.0 / self.camera.detect_fps);
        let mut next_at = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            self.take_settings();
            // Keep to the detect rate even when the source runs faster: wait first, then take
            // the newest frame, so none waits out the pause.
            let now = Instant::now();
            if now < next_at {
                thread::sleep(next_at - now);
            }
            let Some(frame) = self.ingest.next_frame(Duration::from_millis(200)) else {
                if self.ingest.state() == State::Ended {
                    break;
                }
                continue;
            };
            next_at = Instant::now() + period.mul_f64(0.9);
            if let Err(e) = self.process(&frame) {
                warn!(camera = %id, error = %format!("{e:#}"), "frame not processed");
            }
            let latency = frame.decoded_at.elapsed();
            self.stats
                .latency_us
                .store(latency.as_micros() as u64, Ordering::Relaxed);
            self.stats.latency.observe(latency.as_secs_f64());
            window.push_back(Instant::now());
            while window
                .front()
                .is_some_and(|t| t.elapsed() > Duration::from_secs(5))
            {
                window.pop_front();
            }
            if window.len() > 1 {
                let span = window
                    .back()
                    .zip(window.front())
                    .map_or(1.0, |(b, f)| b.duration_since(*f).as_secs_f64().max(1e-3));
                self.stats.fps_milli.store(
                    ((window.len() - 1) as f64 / span * 1000.0) as u64,
                    Ordering::Relaxed,
                );
            }
        }
        // Finish what was seen: every pending violation is stored with what there is.
        let pending: Vec<Due> = self.due.drain(..).collect();
        for due in pending {
            self.send(due, false);
        }
        info!(camera = %id, "camera stopped");
    }

    fn process(&mut self, frame: &Frame) -> anyhow::Result<()> {
        let t = frame.t;
        self.update_signal(frame);
        let started = Instant::now();
        let (detections, people) = self.models.vehicles.detect_with_people(&frame.image)?;
        let us = started.elapsed().as_micros() as u64;
        self.stats.detect_us.fetch_add(us, Ordering::Relaxed);
        self.stats.last_detect_us.store(us, Ordering::Relaxed);
        self.stats.processed.fetch_add(1, Ordering::Relaxed);
        let tracks: Vec<Seen> = self
            .tracker
            .update(&detections)
            .into_iter()
            .filter(|t| t.state == TrackState::Confirmed && t.missed == 0)
            .filter_map(|t| {
                Some(Seen {
                    id: t.id,
                    bbox: t.bbox,
                    class: self.models.vehicles.class(t.class)?,
                    class_votes: self.models.vehicles.class_votes(t.class_shares()),
                    score: t.score,
                })
            })
            .collect();
        if let Role::Plates(sightings) = &self.role {
            self.record_sightings(frame, &tracks, sightings);
            *self
                .stats
                .snapshot
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(frame.image.clone());
            self.keep_judged(frame, &tracks);
            return Ok(());
        }
        for seen in &tracks {
            let &Seen {
                id,
                bbox,
                class,
                score,
                ..
            } = seen;
            let f = self.followed.entry(id).or_insert_with(|| Followed {
                history: History {
                    track: id,
                    class,
                    class_votes: Vec::new(),
                    samples: Vec::new(),
                },
                views: Vec::new(),
                no_helmet: Vec::new(),
                fired: HashSet::new(),
                score,
                last_seen: t,
            });
            f.history.class = class;
            f.history.class_votes.clone_from(&seen.class_votes);
            f.history.samples.push(Sample { t, bbox });
            if f.history.samples.len() > MAX_SAMPLES {
                f.history.samples.remove(0);
            }
            f.score = f.score.max(score);
            f.last_seen = t;
            offer_view(&mut f.views, &frame.image, bbox);
            if class == VehicleClass::Motorbike
                && let Some(helmet) = &self.models.helmet
                && bbox.height() >= 24.0
                && let Some(p) = helmet.no_helmet(&frame.image, &bbox)?
            {
                f.no_helmet.push(p);
                if f.no_helmet.len() > 12 {
                    f.no_helmet.remove(0);
                }
            }
        }
        let boxes = Arc::new(FrameBoxes {
            t,
            tracks: tracks
                .iter()
                .map(|t| (t.id, t.bbox, shape_of(t.class)))
                .collect(),
            found: self
                .models
                .vehicles
                .to_hide(detections.iter().chain(&people)),
        });
        self.recent.push_back((frame.image.clone(), boxes.clone()));
        let keep = self.settings.image_offset_s + 1.5;
        while self.recent.front().is_some_and(|r| t - r.1.t > keep) {
            self.recent.pop_front();
        }
        self.seen.push_back(boxes);
        let keep = self.settings.clip_before_s + self.settings.clip_after_s + CLIP_SLACK_S;
        while self.seen.front().is_some_and(|b| t - b.t > keep) {
            self.seen.pop_front();
        }
        *self
            .stats
            .snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(frame.image.clone());

        // Rules on every track seen this frame.
        for &Seen {
            id,
            bbox,
            class,
            score,
            ..
        } in &tracks
        {
            let Some(f) = self.followed.get(&id) else {
                continue;
            };
            let helmet_probs = self.models.helmet.as_ref().map(|_| f.no_helmet.as_slice());
            // A rule that has fired for this track is not run again (each runs on every
            // track every frame).
            let open = |kind| !f.fired.contains(&kind);
            let (h, g, l) = (&f.history, &self.geometry, &self.limits);
            let found = [
                open(ViolationKind::RedLight)
                    .then(|| rules::red_light(h, g, &self.timeline, l))
                    .flatten(),
                open(ViolationKind::Speeding)
                    .then(|| rules::speeding(h, g, l))
                    .flatten(),
                open(ViolationKind::WrongWay)
                    .then(|| rules::wrong_way(h, g, l))
                    .flatten(),
                open(ViolationKind::WrongLane)
                    .then(|| rules::wrong_lane(h, g, l))
                    .flatten(),
                open(ViolationKind::IllegalStopping)
                    .then(|| rules::illegal_stopping(h, g, l))
                    .flatten(),
                open(ViolationKind::NoHelmet)
                    .then(|| rules::no_helmet(h, helmet_probs, l))
                    .flatten(),
            ];
            let new: Vec<Finding> = found.into_iter().flatten().collect();
            for finding in new {
                let event_id = EventId::new();
                info!(camera = %self.camera.id, kind = %finding.kind, track = id, event = %event_id, "violation seen");
                self.stats.findings.fetch_add(1, Ordering::Relaxed);
                if let Some(f) = self.followed.get_mut(&id) {
                    f.fired.insert(finding.kind);
                }
                let signal = (finding.kind == ViolationKind::RedLight)
                    .then(|| self.timeline.phase_at(finding.t))
                    .flatten()
                    .map(|at| SignalObservation {
                        phase: at.state,
                        time_into_red_ms: (at.state == SignalState::Red)
                            .then_some((at.since * 1000.0).round().max(0.0) as u64),
                        // Red's start unseen: its age counts from its first sight.
                        red_start_unseen: at.state == SignalState::Red && !at.start_seen,
                        source: match self.camera.signal {
                            SignalConfig::Mqtt { .. } => SignalSource::Controller,
                            SignalConfig::Fixed { .. } => SignalSource::Plan,
                            _ => SignalSource::Classifier,
                        },
                    });
                let mut due = Due {
                    event_id,
                    class,
                    score,
                    bbox,
                    captures: [None, None, None],
                    signal,
                    finding,
                };
                self.capture(&mut due);
                // Journaled now, so that the violation outlives a crash while it waits.
                self.send(due.clone(), true);
                self.due.push(due);
            }
        }
        // Violations whose after image and clip tail have now been seen.
        let mut due = std::mem::take(&mut self.due);
        for d in &mut due {
            self.capture(d);
        }
        let tail_s = self.settings.clip_after_s.max(self.settings.image_offset_s);
        let (ready, waiting): (Vec<Due>, Vec<Due>) = due.into_iter().partition(|d| {
            t >= d.finding.t + tail_s
                && d.captures[2].is_some()
                && self.plates_caught_up(d.finding.t + tail_s, t)
        });
        self.due = waiting;
        for d in ready {
            self.send(d, false);
        }
        self.followed.retain(|_, f| t - f.last_seen < 30.0);
        self.keep_judged(frame, &tracks);
        Ok(())
    }

    /// While an installer watches the camera live: the frame with the tracks confirmed in it,
    /// each with the speed measured for it and the lane it is in, the signal read.
    fn keep_judged(&self, frame: &Frame, tracks: &[Seen]) {
        if !self.stats.watched() {
            return;
        }
        let vehicles = tracks
            .iter()
            .take(protocol::snapshot::MAX_VEHICLES)
            .map(|seen| {
                let speed = self
                    .followed
                    .get(&seen.id)
                    .and_then(|f| rules::measured_speed(&f.history, &self.geometry, &self.limits));
                protocol::snapshot::JudgedVehicle {
                    track: seen.id,
                    class: seen.class,
                    bbox: vehicle_box(&seen.bbox),
                    speed_kmh: speed.map(|(kmh, _)| kmh as f32),
                    lane: self
                        .geometry
                        .lane_at(rules::foot(&seen.bbox))
                        .map(|l| l.name.clone()),
                }
            })
            .collect();
        let view = JudgedView {
            frame: self.stats.processed.load(Ordering::Relaxed),
            taken_at: self.utc(frame.t),
            image: frame.image.clone(),
            camera: self.camera.clone(),
            signal: *self.stats.signal.lock().unwrap_or_else(|e| e.into_inner()),
            signal_fault: self
                .stats
                .signal_fault
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            vehicles,
        };
        *self.stats.judged.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(view));
    }

    /// A plate camera's frame: each vehicle's place on the road and its largest views, for the
    /// camera it reads plates for.
    fn record_sightings(&self, frame: &Frame, tracks: &[Seen], sightings: &Mutex<Sightings>) {
        let at_ms = self.utc(frame.t).unix_ms();
        let mut sightings = sightings.lock().unwrap_or_else(|e| e.into_inner());
        for &Seen {
            id, bbox, class, ..
        } in tracks
        {
            sightings.seen(
                id,
                class,
                at_ms,
                self.geometry.to_road(&bbox),
                &frame.image,
                bbox,
            );
        }
        sightings.frame_done(at_ms);
        sightings.forget_before(at_ms - crate::pairing::KEEP_MS);
    }

    /// Whether the plate camera, if this camera has one, has processed its frames up to camera
    /// time `until`: a plate camera that lags behind (its frames larger, its detector slower)
    /// would otherwise be asked for a vehicle it has not yet seen pass. It is waited for at most
    /// [`PLATE_WAIT_S`] of this camera's time, so that a stalled plate camera holds no evidence.
    fn plates_caught_up(&self, until: f64, now: f64) -> bool {
        let Role::Judge {
            plates: Some((_, sightings)),
        } = &self.role
        else {
            return true;
        };
        now >= until + PLATE_WAIT_S
            || sightings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .seen_upto(self.utc(until).unix_ms())
    }

    /// The plate camera's sighting of `track`, when this camera has a plate camera and it saw
    /// the vehicle unmistakably.
    fn paired(&self, track: u64) -> Option<Paired> {
        let Role::Judge {
            plates: Some((camera, sightings)),
        } = &self.role
        else {
            return None;
        };
        let f = self.followed.get(&track)?;
        let path: RoadPath = f
            .history
            .samples
            .iter()
            .filter_map(|s| Some((self.utc(s.t).unix_ms(), self.geometry.to_road(&s.bbox)?)))
            .collect();
        let sightings = sightings.lock().unwrap_or_else(|e| e.into_inner());
        match sightings.find(f.history.class, &path) {
            Some((sighting, distance_m)) => {
                info!(camera = %self.camera.id, plate_camera = %camera, track, distance_m, "vehicle found by the plate camera");
                Some(Paired {
                    camera: camera.clone(),
                    sighting,
                })
            }
            None => {
                info!(camera = %self.camera.id, plate_camera = %camera, track, seen = sightings.len(), "vehicle not found unmistakably by the plate camera");
                None
            }
        }
    }

    fn update_signal(&mut self, frame: &Frame) {
        let t = frame.t;
        match &self.camera.signal {
            SignalConfig::None => {}
            SignalConfig::Lamps => {
                if let Some(head) = &self.camera.geometry.signal_head {
                    let state = self.lamps.read(&frame.image, head);
                    self.timeline.observe(t, state);
                }
            }
            SignalConfig::Fixed {
                green_s,
                amber_s,
                red_s,
                offset_s,
            } => {
                let plan = FixedPlan {
                    green_s: *green_s,
                    amber_s: *amber_s,
                    red_s: *red_s,
                    offset_s: *offset_s,
                };
                let unix = self.utc(t).unix_ms() as f64 / 1000.0;
                self.timeline.observe_plan(t, unix, &plan);
            }
            SignalConfig::Mqtt { .. } => {
                let phases: Vec<SignalPhase> =
                    std::mem::take(&mut *self.signals.lock().unwrap_or_else(|e| e.into_inner()));
                let now_ms = self.utc(t).unix_ms();
                for p in phases {
                    let ago = (now_ms - p.changed_at.unix_ms()) as f64 / 1000.0;
                    self.timeline.change(t - ago.max(0.0), p.phase);
                }
                self.timeline.seen(t);
            }
        }
        *self.stats.signal.lock().unwrap_or_else(|e| e.into_inner()) = self.timeline.current();
        let fault = match self.camera.signal {
            SignalConfig::None => None,
            SignalConfig::Lamps if self.camera.geometry.signal_head.is_none() => {
                Some(LAMPS_NOT_SET_UP.to_owned())
            }
            _ => self.watch.fault(t, &self.timeline),
        };
        let mut kept = self
            .stats
            .signal_fault
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if fault.is_some() && kept.is_none() {
            warn!(camera = %self.camera.id, fault = fault.as_deref().unwrap_or(""), "signal fault: the red-light rule cannot be trusted here");
        } else if fault.is_none() && kept.is_some() {
            info!(camera = %self.camera.id, "signal changing again");
        }
        *kept = fault;
    }

    /// Fills the before / at / after images from the frames seen.
    fn capture(&self, due: &mut Due) {
        let targets = [
            due.finding.t - self.settings.image_offset_s,
            due.finding.t,
            due.finding.t + self.settings.image_offset_s,
        ];
        for (k, target) in targets.into_iter().enumerate() {
            if due.captures[k].is_some() {
                continue;
            }
            let pick = if k == 2 {
                self.recent.iter().find(|r| r.1.t >= target)
            } else {
                self.recent
                    .iter()
                    .min_by(|a, b| (a.1.t - target).abs().total_cmp(&(b.1.t - target).abs()))
            };
            if let Some((image, boxes)) = pick {
                let (vehicle, others) = apart(boxes, due);
                due.captures[k] = Some(Capture {
                    t: boxes.t,
                    at: self.utc(boxes.t),
                    image: image.clone(),
                    vehicle,
                    others,
                });
            }
        }
    }

    /// Hands `due` to the evidence stage: complete, or `provisional` to be journaled.
    fn send(&self, due: Due, provisional: bool) {
        let views = self
            .followed
            .get(&due.finding.track)
            .map(|f| f.views.clone())
            .unwrap_or_default();
        let paired = self.paired(due.finding.track);
        let clip = if provisional {
            Vec::new()
        } else {
            self.ingest.clip(
                due.finding.t - self.settings.clip_before_s,
                due.finding.t + self.settings.clip_after_s,
            )
        };
        // What was seen from a little before the clip's first frame to a little after its
        // last, each frame without the offender.
        let clip_boxes = match (clip.first(), clip.last()) {
            (Some(first), Some(last)) => self
                .seen
                .iter()
                .filter(|b| b.t >= first.t - MAX_GAP_S && b.t <= last.t + MAX_GAP_S)
                .map(|b| {
                    let (vehicle, found) = apart(b, &due);
                    let tracks = b.tracks.iter().filter(|(id, ..)| *id != due.finding.track);
                    FrameBoxes {
                        t: b.t,
                        // A vehicle the offender's box covers is the offender.
                        tracks: tracks
                            .filter(|(_, bbox, _)| vehicle.is_none_or(|v| v.iou(bbox) < 0.5))
                            .copied()
                            .collect(),
                        found,
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        let job = Job {
            provisional,
            camera: self.camera.clone(),
            due,
            views,
            paired,
            clip,
            clip_boxes,
            utc_of: self.ingest.unix_ms_at(0.0),
        };
        // Blocking: a violation is never dropped; a slow evidence stage holds this camera.
        if self.jobs.send(job).is_err() {
            error!(camera = %self.camera.id, "the evidence stage has stopped: violation lost");
        }
    }
}

/// The limits a camera's rules judge by.
fn limits_of(camera: &CameraConfig) -> Limits {
    Limits {
        speed_kmh: camera.speed_limit_kmh,
        speed_kmh_by_class: camera
            .speed_limits_kmh
            .iter()
            .map(|(c, l)| (*c, *l))
            .collect(),
        red_grace_s: camera.red_grace_s,
        ..Limits::default()
    }
}

fn utc_at(start_ms: i64, t: f64) -> UtcTimestamp {
    UtcTimestamp::from_unix_ms(start_ms + (t * 1000.0).round() as i64)
        .unwrap_or_else(UtcTimestamp::now)
}

fn evidence_thread(
    jobs: &Receiver<Job>,
    reader: &PlateReader,
    shared: &Shared,
    settings: &crate::config::EvidenceSettings,
    rt: &tokio::runtime::Runtime,
) {
    let scratch = std::env::temp_dir();
    let mut queue = VecDeque::new();
    let mut writer = Writer::new(
        shared.outbox.clone(),
        RetryPolicy::default(),
        shared.writer.clone(),
    );
    loop {
        for (id, provisional, outcome) in rt.block_on(writer.retry()) {
            account(shared, "", None, false, &id, provisional, &outcome);
        }
        // As many wait in memory as the stage keeps: no new job until one is stored.
        let wait = writer.next_retry_in();
        let job = if writer.is_full() {
            thread::sleep(wait.unwrap_or(Duration::from_millis(100)));
            continue;
        } else {
            match next_job(jobs, &mut queue, |j: &Job| j.provisional, wait) {
                Next::Job(job) => job,
                Next::Idle => continue,
                Next::Closed => break,
            }
        };
        let camera = job.camera.id.to_string();
        let kind = job.due.finding.kind;
        let entry = build_event(&job, reader, shared, settings, &scratch).and_then(
            |(event, files, clip)| {
                let payload = wire::encode_signed(&event, &shared.key)?;
                // The manifest lists the files in order, each hashed once when it was made;
                // the outbox takes the bytes as they are.
                let files = files
                    .into_iter()
                    .zip(&event.evidence)
                    .map(|(f, item)| NewFile {
                        sha256: item.sha256.to_hex(),
                        name: f.name,
                        content_type: f.content_type.into(),
                        bytes: f.bytes,
                    })
                    .collect();
                let plate_read = event.plate.is_some();
                let entry = Entry {
                    event_id: event.event_id.to_string(),
                    payload,
                    files,
                    clip,
                    provisional: job.provisional,
                    created_ms: UtcTimestamp::now().unix_ms(),
                };
                anyhow::Ok((entry, plate_read))
            },
        );
        match entry {
            Ok((entry, plate_read)) => {
                let id = entry.event_id.clone();
                let outcome = rt.block_on(writer.store(entry));
                account(
                    shared,
                    &camera,
                    Some(kind),
                    plate_read,
                    &id,
                    job.provisional,
                    &outcome,
                );
            }
            Err(e) => {
                shared.evidence.errors.fetch_add(1, Ordering::Relaxed);
                error!(camera = %camera, %kind, error = %format!("{e:#}"), "evidence not built");
            }
        }
    }
    // Stopping: what still waits is tried for a while longer; a journal entry of what is left
    // goes out at the next start.
    let until = Instant::now() + STOP_RETRY;
    while writer.waiting() > 0 && Instant::now() < until {
        thread::sleep(writer.next_retry_in().unwrap_or_default());
        for (id, provisional, outcome) in rt.block_on(writer.retry()) {
            account(shared, "", None, false, &id, provisional, &outcome);
        }
    }
    if writer.waiting() > 0 {
        error!(
            violations = writer.waiting(),
            "violations not stored when the agent stopped (those journaled go out at the next start)"
        );
    }
}

/// How long a stopping agent keeps trying to store what waits in memory.
const STOP_RETRY: Duration = Duration::from_secs(10);

/// Counts and logs what became of an event handed to the outbox. The log says whether a plate
/// was read, never which: a plate is personal data, and logs are kept and shipped apart from
/// the evidence, under other rules.
fn account(
    shared: &Shared,
    camera: &str,
    kind: Option<ViolationKind>,
    plate_read: bool,
    id: &str,
    provisional: bool,
    outcome: &Outcome,
) {
    let kind = kind.map(|k| k.to_string()).unwrap_or_default();
    let stored = match outcome {
        Outcome::Waiting { .. } => return,
        Outcome::DeliveredAsJournaled => {
            shared.evidence.stored.fetch_add(1, Ordering::Relaxed);
            shared.wake.notify_one();
            return;
        }
        Outcome::Stored(stored) => *stored,
    };
    if provisional {
        match stored {
            Stored::Kept => {
                info!(camera = %camera, kind = %kind, event = %id, "violation journaled")
            }
            other => {
                warn!(camera = %camera, kind = %kind, event = %id, outcome = ?other, "violation not journaled")
            }
        }
        return;
    }
    match stored {
        Stored::Kept | Stored::Duplicate => {
            shared.evidence.stored.fetch_add(1, Ordering::Relaxed);
            info!(camera = %camera, kind = %kind, event = %id, plate_read, "violation stored");
        }
        Stored::KeptWithoutClip => {
            shared.evidence.stored.fetch_add(1, Ordering::Relaxed);
            shared.evidence.without_clip.fetch_add(1, Ordering::Relaxed);
            warn!(
                camera = %camera,
                event = %id,
                disk_full = shared.outbox.disk_full(),
                "outbox full: violation stored without its clip"
            );
        }
        Stored::Refused => {
            shared.evidence.refused.fetch_add(1, Ordering::Relaxed);
            error!(
                camera = %camera,
                kind = %kind,
                event = %id,
                disk_full = shared.outbox.disk_full(),
                "outbox full: violation refused"
            );
        }
    }
    shared.wake.notify_one();
}

/// What [`next_job`] found.
enum Next<T> {
    Job(T),
    /// Nothing came within the wait.
    Idle,
    /// The cameras have stopped and nothing is left.
    Closed,
}

/// The next job: the jobs waiting are taken from the channel (as many as it holds, so a slow
/// stage still holds the cameras back), `urgent` ones (journal entries) first — each is what a
/// crash would otherwise lose, and none is moved after its own complete event, which its camera
/// sent later. Waits for one at most `wait` when given.
fn next_job<T>(
    jobs: &Receiver<T>,
    queue: &mut VecDeque<T>,
    urgent: impl Fn(&T) -> bool,
    wait: Option<Duration>,
) -> Next<T> {
    if queue.is_empty() {
        let got = match wait {
            None => jobs.recv().map_err(|_| true),
            Some(wait) => jobs
                .recv_timeout(wait)
                .map_err(|e| matches!(e, std::sync::mpsc::RecvTimeoutError::Disconnected)),
        };
        match got {
            Ok(job) => queue.push_back(job),
            Err(true) => return Next::Closed,
            Err(false) => return Next::Idle,
        }
    }
    while queue.len() < JOBS_WAITING {
        match jobs.try_recv() {
            Ok(job) => queue.push_back(job),
            Err(_) => break,
        }
    }
    let first = queue.iter().position(urgent).unwrap_or(0);
    queue.remove(first).map_or(Next::Closed, Next::Job)
}

/// Jobs the evidence stage's channel holds (and as many again taken from it, waiting).
const JOBS_WAITING: usize = 16;

type Built = (ViolationEvent, Vec<File>, Option<String>);

fn build_event(
    job: &Job,
    reader: &PlateReader,
    shared: &Shared,
    settings: &crate::config::EvidenceSettings,
    scratch: &std::path::Path,
) -> anyhow::Result<Built> {
    let due = &job.due;
    let camera = &job.camera;
    let hint = Some(due.class.plate_category());
    // The plate camera's views first; the camera's own when it has none or they give no
    // reading.
    let min = shared.min_plate_confidence;
    let paired = match &job.paired {
        Some(p) => read_plate(reader, &p.sighting.views, hint, min)?,
        None => PlateOutcome::default(),
    };
    let PlateOutcome {
        read: plate,
        unread: plate_unread,
        closeup,
    } = if paired.read.is_some() {
        paired
    } else {
        let own = read_plate(reader, &job.views, hint, min)?;
        if own.read.is_some() || !paired.seen() {
            own
        } else {
            paired
        }
    };
    if plate.is_none() {
        shared
            .evidence
            .unread_plates
            .fetch_add(1, Ordering::Relaxed);
    }
    let occurred_at = utc_at(job.utc_of, due.finding.t);
    let measurement = Measurement {
        speed_kmh: (due.finding.kind == ViolationKind::Speeding)
            .then_some(due.finding.value)
            .flatten()
            .map(|v| (v * 10.0).round() / 10.0),
        limit_kmh: due.finding.limit,
        signal: due.signal.clone(),
        lane: due.finding.lane.clone(),
        dwell_ms: (due.finding.kind == ViolationKind::IllegalStopping)
            .then_some(due.finding.value)
            .flatten()
            .map(|v| (v * 1000.0).round().max(0.0) as u64),
    };
    let lines = data_bar(
        camera,
        &shared.device,
        due.finding.kind,
        &measurement,
        plate.as_ref(),
    );
    let mut files = Vec::new();
    for (name, capture) in ["before.jpg", "at.jpg", "after.jpg"]
        .iter()
        .zip(&due.captures)
    {
        let Some(c) = capture else { continue };
        let mut lines = lines.clone();
        lines[0] = format!("{} · {}", evidence::local_time(&c.at), lines[0]);
        let img = evidence::stamp(&c.image, &lines, c.vehicle);
        files.push(File {
            name: (*name).into(),
            content_type: "image/jpeg",
            bytes: evidence::jpeg(&img, settings.jpeg_quality)?,
            captured_at: c.at,
            masking: None,
        });
        // The copy a citizen is shown: every other vehicle, with its plate and rider, hidden.
        let regions = evidence::mask_regions(c.image.dimensions(), &c.others);
        let masked = evidence::stamp(&evidence::mask(&c.image, &regions), &lines, c.vehicle);
        files.push(File {
            name: name.replace(".jpg", "-masked.jpg"),
            content_type: "image/jpeg",
            bytes: evidence::jpeg(&masked, settings.jpeg_quality)?,
            captured_at: c.at,
            masking: Some(protocol::Masking {
                of: (*name).into(),
                regions,
                frames: None,
            }),
        });
    }
    // The plate camera's frame in which the vehicle was largest.
    if let Some(p) = &job.paired
        && let Some((ms, image, bbox)) = &p.sighting.frame
    {
        let at = UtcTimestamp::from_unix_ms(*ms).unwrap_or(occurred_at);
        let mut lines = lines.clone();
        lines[0] = format!(
            "{} · camera biển số {} · {}",
            evidence::local_time(&at),
            p.camera,
            lines[0]
        );
        files.push(File {
            name: "plate-camera.jpg".into(),
            content_type: "image/jpeg",
            bytes: evidence::jpeg(
                &evidence::stamp(image, &lines, Some(*bbox)),
                settings.jpeg_quality,
            )?,
            captured_at: at,
            masking: None,
        });
        let regions = evidence::outside(image.dimensions(), *bbox);
        files.push(File {
            name: "plate-camera-masked.jpg".into(),
            content_type: "image/jpeg",
            bytes: evidence::jpeg(
                &evidence::stamp(&evidence::mask(image, &regions), &lines, Some(*bbox)),
                settings.jpeg_quality,
            )?,
            captured_at: at,
            masking: Some(protocol::Masking {
                of: "plate-camera.jpg".into(),
                regions,
                frames: None,
            }),
        });
    }
    if let Some((crop, text)) = closeup {
        files.push(File {
            name: "plate.jpg".into(),
            content_type: "image/jpeg",
            bytes: evidence::jpeg(
                &evidence::plate_closeup(&crop, &text),
                settings.jpeg_quality,
            )?,
            captured_at: occurred_at,
            masking: None,
        });
    }
    let mut clip_name = None;
    if job.clip.len() > 1 {
        let captured_at = utc_at(job.utc_of, job.clip[0].t);
        let path = scratch.join(format!("tve-clip-{}.mp4", EventId::new()));
        match crate::clip::remux_mp4(&job.clip, &path) {
            Ok(()) => {
                let bytes = std::fs::read(&path).context("reading the clip")?;
                let _ = std::fs::remove_file(&path);
                files.push(File {
                    name: CLIP.into(),
                    content_type: "video/mp4",
                    bytes,
                    captured_at,
                    masking: None,
                });
                clip_name = Some(CLIP.to_owned());
                files.extend(masked_clip(job, scratch, captured_at));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                warn!(camera = %camera.id, error = %format!("{e:#}"), "clip not made; the images stand");
            }
        }
    }
    let event = ViolationEvent {
        event_id: due.event_id,
        device: shared.device.clone(),
        camera: camera.id.clone(),
        site: camera.site.clone(),
        kind: due.finding.kind,
        occurred_at,
        clock: shared.clock.clone(),
        vehicle: Vehicle {
            class: due.class,
            confidence: f64::from(due.score).clamp(0.0, 1.0),
            track_id: due.finding.track,
            bbox: vehicle_box(&due.bbox),
        },
        plate,
        plate_unread,
        measurement,
        evidence: files.iter().map(File::item).collect(),
        models: shared.models.clone(),
    };
    Ok((event, files, clip_name))
}

/// The clip's name in the package.
const CLIP: &str = "clip.mp4";

/// The clip's masked copy (the other vehicles and the people in it pixelated, frame by frame)
/// and the list of what each frame hides; none where it cannot be made, and then the clip is
/// not shown outside the police at all.
fn masked_clip(job: &Job, scratch: &std::path::Path, captured_at: UtcTimestamp) -> Vec<File> {
    let path = scratch.join(format!("tve-clip-masked-{}.mp4", EventId::new()));
    let made = crate::clip::mask_mp4(&job.clip, &job.clip_boxes, &path).and_then(|frames| {
        let bytes = std::fs::read(&path).context("reading the masked clip")?;
        let list = serde_json::to_vec(&protocol::event::MaskedFrames {
            of: CLIP.into(),
            frames,
        })?;
        Ok((bytes, list))
    });
    let _ = std::fs::remove_file(&path);
    match made {
        Ok((bytes, list)) => vec![
            File {
                name: "clip-masked.mp4".into(),
                content_type: "video/mp4",
                bytes,
                captured_at,
                masking: Some(protocol::Masking {
                    of: CLIP.into(),
                    regions: Vec::new(),
                    frames: Some("clip-masked.json".into()),
                }),
            },
            File {
                name: "clip-masked.json".into(),
                content_type: "application/json",
                bytes: list,
                captured_at,
                masking: None,
            },
        ],
        Err(e) => {
            warn!(camera = %job.camera.id, error = %format!("{e:#}"), "masked clip not made; the clip is shown to the police only");
            Vec::new()
        }
    }
}

fn data_bar(
    camera: &CameraConfig,
    device: &DeviceId,
    kind: ViolationKind,
    m: &Measurement,
    plate: Option<&PlateRead>,
) -> Vec<String> {
    let site = &camera.site;
    let mut first = format!("{} · {}", site.name, site.address);
    if !site.direction.is_empty() {
        first.push_str(&format!(" · {}", site.direction));
    }
    let mut second = format!("Vi phạm: {}", kind.label_vi());
    if let (Some(v), Some(l)) = (m.speed_kmh, m.limit_kmh) {
        second.push_str(&format!(" · Tốc độ {v:.0} km/h, giới hạn {l:.0} km/h"));
    }
    if let Some(s) = &m.signal {
        let phase = match s.phase {
            SignalState::Red => "đỏ",
            SignalState::Amber => "vàng",
            SignalState::Green => "xanh",
            _ => "không rõ",
        };
        second.push_str(&format!(" · Đèn {phase}"));
        if let Some(ms) = s.time_into_red_ms {
            // "≥": red's start was not seen; this is the least it can have been.
            let at_least = if s.red_start_unseen { " ≥" } else { "" };
            second.push_str(&format!("{at_least} {:.1} s", ms as f64 / 1000.0).replace('.', ","));
        }
    }
    if let Some(ms) = m.dwell_ms {
        second.push_str(&format!(" · Dừng {:.0} s", ms as f64 / 1000.0));
    }
    let third = format!(
        "Biển số: {} · Camera {} · Thiết bị {device} · {:.5}, {:.5}",
        plate.map_or("chưa đọc được", |p| p.display.as_str()),
        camera.id,
        site.latitude,
        site.longitude
    );
    vec![first, second, third]
}

/// The clock state the events carry.
pub fn clock(source: Option<&str>) -> ClockSync {
    match source {
        Some(s) => ClockSync {
            state: ClockState::Synced,
            source: Some(s.to_owned()),
            offset_ms: None,
        },
        None => ClockSync {
            state: ClockState::Unsynced,
            source: None,
            offset_ms: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_entries_go_first_and_nothing_is_lost_or_reordered_otherwise() {
        let (tx, rx) = sync_channel::<(char, u32)>(JOBS_WAITING);
        // Complete events 1 and 2 waiting, then the journal entries of 3 and 4.
        for job in [('c', 1), ('c', 2), ('j', 3), ('j', 4)] {
            tx.send(job).expect("send");
        }
        drop(tx);
        let mut queue = VecDeque::new();
        let mut order = Vec::new();
        while let Next::Job(job) = next_job(&rx, &mut queue, |j| j.0 == 'j', None) {
            order.push(job);
        }
        assert_eq!(order, [('j', 3), ('j', 4), ('c', 1), ('c', 2)]);
    }

    #[test]
    fn waiting_for_a_job_ends_when_a_retry_is_due() {
        let (tx, rx) = sync_channel::<u32>(JOBS_WAITING);
        let mut queue = VecDeque::new();
        let wait = Some(Duration::from_millis(10));
        assert!(matches!(
            next_job(&rx, &mut queue, |_| false, wait),
            Next::Idle
        ));
        tx.send(7).expect("send");
        assert!(matches!(
            next_job(&rx, &mut queue, |_| false, wait),
            Next::Job(7)
        ));
        drop(tx);
        assert!(matches!(
            next_job(&rx, &mut queue, |_| false, wait),
            Next::Closed
        ));
    }
}
