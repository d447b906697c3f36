//! A camera's worker: one thread per camera, reading the newest frame at the detect rate.
//!
//! - `judge`: detect and track, follow each confirmed vehicle (its history, largest views,
//!   helmet readings), read the signal, and run the rules on every track each frame
//!   ([`crate::rules::judge`]);
//! - `capture`: a violation seen is journaled at once, then waits for its "after" image and
//!   its clip's tail (and a lagging plate camera) before it goes, whole, to the evidence stage;
//!   a plate camera only records its sightings for the camera it reads plates for.
//!
//! [`CameraStats`] are the figures `/status` and `/metrics` read, and the judged frames an
//! installer watches live.

mod capture;
mod judge;

pub use capture::PLATE_WAIT_S;
use capture::Recent;
pub(crate) use capture::{CLIP_SLACK_S, Due, Paired};
use judge::Followed;
pub use judge::LAMPS_NOT_SET_UP;
pub(crate) use judge::vehicle_box;

use std::{
    collections::{HashMap, VecDeque},
    sync::atomic::AtomicBool,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
        mpsc::SyncSender,
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::Context;
use prometheus_client::metrics::histogram::Histogram;
use protocol::{SignalPhase, UtcTimestamp, messages::SignalState};
use tracing::{info, warn};
use vision::{Manifest, Picture};

use crate::{
    config::{CameraConfig, Config},
    detect::Helmet,
    evidence::{clip::FrameBoxes, stage::Job},
    ingest::{Ingest, State},
    pairing::Sightings,
    rules::{Geometry, Limits},
    signal::{LampReader, SignalWatch, Timeline},
    track::{Tracker, TrackerOptions},
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
    pub snapshot: Mutex<Option<Arc<Picture>>>,
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
    pub image: Arc<Picture>,
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

/// The models a camera thread runs.
pub(crate) struct CameraModels {
    pub(crate) vehicles: crate::detect::VehicleDetector,
    pub(crate) tracker: TrackerOptions,
    pub(crate) helmet: Option<Helmet>,
}

pub(crate) fn load_models(config: &Config, manifest: &Manifest) -> anyhow::Result<CameraModels> {
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

/// What a camera's worker does with its tracks.
#[derive(Debug, Clone)]
pub(crate) enum Role {
    /// Judges them by the rules; takes plates from its plate camera's sightings, if it has one.
    Judge {
        plates: Option<(protocol::ids::CameraId, Arc<Mutex<Sightings>>)>,
    },
    /// Records them for the camera it reads plates for.
    Plates(Arc<Mutex<Sightings>>),
}

/// A running camera's control channel: what the pipeline, and through it central, tells its
/// worker — the signal controller's phases, settings to take up before the next frame
/// ([`crate::pipeline::Camera::reconfigure`]), and stop.
#[derive(Debug, Clone, Default)]
pub(crate) struct Controls {
    pub(crate) signals: Arc<Mutex<Vec<SignalPhase>>>,
    pub(crate) settings: Arc<Mutex<Option<Arc<CameraConfig>>>>,
    pub(crate) stop: Arc<AtomicBool>,
}

/// Where a worker hands its violations: the evidence stage's channel, and the evidence settings
/// that time the images and the clip.
#[derive(Debug, Clone)]
pub(crate) struct Handover {
    pub(crate) jobs: SyncSender<Job>,
    pub(crate) settings: crate::config::EvidenceSettings,
}

/// A camera's worker: follows the camera's vehicles frame by frame and judges them.
pub(crate) struct Worker {
    camera: Arc<CameraConfig>,
    models: CameraModels,
    stats: Arc<CameraStats>,
    controls: Controls,
    jobs: SyncSender<Job>,
    settings: crate::config::EvidenceSettings,
    ingest: Arc<Ingest>,
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
    pub(crate) fn new(
        camera: Arc<CameraConfig>,
        models: CameraModels,
        ingest: Arc<Ingest>,
        stats: Arc<CameraStats>,
        controls: Controls,
        handover: Handover,
        role: Role,
    ) -> Self {
        let geometry = Geometry::from(&camera.geometry);
        let tracker = Tracker::new(TrackerOptions {
            frame_s: 1.0 / camera.detect_fps.max(0.1),
            ..models.tracker
        });
        let limits = limits_of(&camera);
        let watch = SignalWatch::new(camera.signal_max_cycle_s);
        Self {
            camera,
            models,
            stats,
            controls,
            jobs: handover.jobs,
            settings: handover.settings,
            ingest,
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
            .controls
            .settings
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
            info!(site = %self.camera.site.name, "settings from central applied");
        }
    }

    /// UTC of a camera time.
    fn utc(&self, t: f64) -> UtcTimestamp {
        utc_at(self.ingest.unix_ms_at(0.0), t)
    }

    #[tracing::instrument(name = "camera", skip_all, fields(camera = %self.camera.id))]
    pub(crate) fn run(mut self) {
        info!(source = %self.camera.source, "camera started");
        let mut window: VecDeque<Instant> = VecDeque::new();
        let period = Duration::from_secs_f64(1.0 / self.camera.detect_fps);
        let mut next_at = Instant::now();
        while !self.controls.stop.load(Ordering::Relaxed) {
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
                warn!(error = %format!("{e:#}"), "frame not processed");
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
        info!("camera stopped");
    }
}

/// The limits a camera's rules judge by.
pub(crate) fn limits_of(camera: &CameraConfig) -> Limits {
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

pub(crate) fn utc_at(start_ms: i64, t: f64) -> UtcTimestamp {
    UtcTimestamp::from_unix_ms(start_ms + (t * 1000.0).round() as i64)
        .unwrap_or_else(UtcTimestamp::now)
}
