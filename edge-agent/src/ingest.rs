//! Ingest: one GStreamer pipeline per camera, with two taps on the camera's own H.264.
//!
//! ```text
//! rtspsrc | urisourcebin ! parsebin ─▶ h264parse ─▶ tee ─┬─▶ appsink "enc"  (ring of N s of H.264)
//!                                                          └─▶ decoder ▶ videorate ▶ 4:2:0 ▶ appsink "raw"
//! ```
//! The raw tap gives the decoder's own 4:2:0 planes (I420, or NV12 from a hardware decoder:
//! `videoconvert` passes either through untouched) as a [`Picture`]: the detector samples its
//! input from the planes, and only crops and evidence frames are ever made RGB.
//! The raw tap is latest-only: a frame that is not taken before the next arrives is dropped and
//! counted, so latency never builds. The ring keeps the encoded access units so the evidence
//! clip is a remux of what the camera sent. A supervisor thread restarts the pipeline with
//! capped exponential backoff and jitter on error, end of stream or a stall (no frame within
//! the stall timeout).
//!
//! Times are on the camera clock: seconds since the agent started, continuous across
//! reconnects (each connection's first buffer is placed at the wall time it arrived).

use std::{
    collections::VecDeque,
    sync::{
        Arc, Condvar, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video::{self as gst_video, prelude::*};
use tracing::{debug, info, warn};
use vision::{
    Picture,
    picture::{Colour, Siting, Yuv420},
};

use crate::config::{CameraConfig, Transport};

/// Starts GStreamer once per process.
pub fn init() -> anyhow::Result<()> {
    gst::init().context("starting GStreamer")
}

/// A decoded frame at full resolution.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Camera clock, seconds.
    pub t: f64,
    pub image: Arc<Picture>,
    /// When the decoder handed it over: where its end-to-end latency is counted from.
    pub decoded_at: std::time::Instant,
}

/// One encoded access unit (Annex B byte stream, parameter sets before each keyframe).
#[derive(Debug, Clone)]
pub struct AccessUnit {
    pub t: f64,
    pub keyframe: bool,
    pub data: Arc<[u8]>,
}

/// A camera's connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Connecting,
    Streaming,
    Reconnecting,
    /// A file source reached its end.
    Ended,
    Stopped,
}

/// Counters the pipeline and `/metrics` read.
#[derive(Debug, Default)]
pub struct Counters {
    pub frames: AtomicU64,
    /// Frames replaced before detection took them.
    pub dropped: AtomicU64,
    pub units: AtomicU64,
    pub reconnects: AtomicU64,
    pub stalls: AtomicU64,
}

#[derive(Debug)]
struct Clock {
    started: Instant,
    /// Per connection: the camera time and the PTS of its first buffer.
    base: Option<(f64, u64)>,
    last_t: f64,
}

impl Clock {
    fn at(&mut self, pts_ns: u64) -> f64 {
        let (t0, p0) = *self.base.get_or_insert_with(|| {
            let now = self.started.elapsed().as_secs_f64();
            (now.max(self.last_t + 0.001), pts_ns)
        });
        let t = t0 + (pts_ns.saturating_sub(p0)) as f64 / 1e9;
        self.last_t = self.last_t.max(t);
        t
    }
}

#[derive(Debug)]
struct Shared {
    camera: String,
    /// Failed attempts at the stream since it last gave a frame.
    failures: AtomicU64,
    slot: Mutex<Option<Frame>>,
    fresh: Condvar,
    ring: Mutex<VecDeque<AccessUnit>>,
    ring_keep_s: f64,
    clock: Mutex<Clock>,
    state: Mutex<State>,
    last_buffer: Mutex<Option<Instant>>,
    stop: AtomicBool,
    counters: Counters,
    /// When the camera time began, on the monotonic clock ...
    started: Instant,
    /// ... and the UTC (Unix ms) that instant was last found to be.
    origin_ms: AtomicI64,
}

/// A change of the wall clock against the monotonic one beyond this (ms) is a step, logged.
const CLOCK_STEP_MS: i64 = 1000;

/// The UTC (Unix ms) of the monotonic instant `elapsed` before the wall clock read `now_ms`.
fn origin_ms(now_ms: i64, elapsed: Duration) -> i64 {
    now_ms - i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running camera ingest; stops when dropped.
#[derive(Debug)]
pub struct Ingest {
    shared: Arc<Shared>,
    supervisor: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Ingest {
    /// Starts ingesting `camera`, keeping `ring_keep_s` seconds of encoded video.
    pub fn start(camera: &CameraConfig, ring_keep_s: f64) -> anyhow::Result<Self> {
        init()?;
        let launch = launch_line(camera)?;
        // Refuse a line GStreamer cannot build (a missing decoder) before any thread starts.
        gst::parse::launch(&launch)
            .with_context(|| format!("camera {}: building `{launch}`", camera.id))?;
        let started = Instant::now();
        let shared = Arc::new(Shared {
            camera: camera.id.to_string(),
            failures: AtomicU64::new(0),
            slot: Mutex::new(None),
            fresh: Condvar::new(),
            ring: Mutex::new(VecDeque::new()),
            ring_keep_s,
            clock: Mutex::new(Clock {
                started,
                base: None,
                last_t: 0.0,
            }),
            state: Mutex::new(State::Connecting),
            last_buffer: Mutex::new(None),
            stop: AtomicBool::new(false),
            counters: Counters::default(),
            started,
            origin_ms: AtomicI64::new(origin_ms(
                protocol::UtcTimestamp::now().unix_ms(),
                Duration::ZERO,
            )),
        });
        let supervisor = {
            let shared = shared.clone();
            let id = camera.id.to_string();
            let stall = Duration::from_secs_f64(camera.stall_timeout_s);
            let live = camera.source.starts_with("rtsp");
            thread::Builder::new()
                .name(format!("ingest-{id}"))
                .spawn(move || supervise(&shared, &launch, stall, live))
                .context("starting the ingest thread")?
        };
        Ok(Self {
            shared,
            supervisor: Mutex::new(Some(supervisor)),
        })
    }

    /// The newest frame not yet taken, waiting up to `timeout` for one.
    pub fn next_frame(&self, timeout: Duration) -> Option<Frame> {
        let slot = lock(&self.shared.slot);
        let (mut slot, _) = self
            .shared
            .fresh
            .wait_timeout_while(slot, timeout, |s| {
                s.is_none() && !self.shared.stop.load(Ordering::Relaxed)
            })
            .unwrap_or_else(|e| e.into_inner());
        slot.take()
    }

    /// The encoded video from the keyframe at or before `from` to `to` (camera clock).
    pub fn clip(&self, from: f64, to: f64) -> Vec<AccessUnit> {
        let ring = lock(&self.shared.ring);
        let start = ring
            .iter()
            .rposition(|u| u.keyframe && u.t <= from)
            .or_else(|| ring.iter().position(|u| u.keyframe));
        let Some(start) = start else {
            return Vec::new();
        };
        ring.iter()
            .skip(start)
            .take_while(|u| u.t <= to)
            .cloned()
            .collect()
    }

    /// The newest time the ring holds.
    pub fn ring_end(&self) -> Option<f64> {
        lock(&self.shared.ring).back().map(|u| u.t)
    }

    /// UTC (Unix ms) of camera time `t`, by the wall clock as it is now: camera time runs on
    /// the monotonic clock, which no NTP step moves, and is put on the wall clock when an
    /// event is made, so a box whose clock is set right while it runs dates its next events
    /// right (a box that booted unsynced and was stepped by hours would otherwise date every
    /// event of the camera wrong until the agent restarts). A step is logged.
    pub fn unix_ms_at(&self, t: f64) -> i64 {
        let origin = origin_ms(
            protocol::UtcTimestamp::now().unix_ms(),
            self.shared.started.elapsed(),
        );
        let before = self.shared.origin_ms.swap(origin, Ordering::Relaxed);
        if (origin - before).abs() > CLOCK_STEP_MS {
            warn!(
                step_ms = origin - before,
                "the wall clock was stepped: events are dated by it from now on"
            );
        }
        origin + (t * 1000.0).round() as i64
    }

    pub fn state(&self) -> State {
        *lock(&self.shared.state)
    }

    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Stops the pipeline; waiting readers wake with nothing.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.fresh.notify_all();
        if let Some(t) = lock(&self.supervisor).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `gst-launch` line of a camera.
pub fn launch_line(camera: &CameraConfig) -> anyhow::Result<String> {
    let uri = &camera.source;
    if uri.contains(['!', '"', '\'', ' ']) {
        return Err(anyhow!(
            "camera {}: source `{uri}` holds a character a URI may not",
            camera.id
        ));
    }
    let source = if uri.starts_with("rtsp://") || uri.starts_with("rtsps://") {
        let protocols = match camera.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Auto => "udp+tcp",
        };
        format!(
            "rtspsrc location={uri} protocols={protocols} latency=200 do-retransmission=false ! rtph264depay"
        )
    } else {
        format!("urisourcebin uri={uri} ! parsebin")
    };
    let decoder = match camera.decoder.as_str() {
        "auto" => "decodebin".to_owned(),
        name if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => name.to_owned(),
        other => {
            return Err(anyhow!(
                "camera {}: decoder `{other}` is not an element name",
                camera.id
            ));
        }
    };
    let fps = camera.detect_fps.ceil().max(1.0) as u32;
    let sync = !uri.starts_with("rtsp");
    Ok(format!(
        "{source} ! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! tee name=t \
         t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=2000000000 ! appsink name=enc sync={sync} emit-signals=false \
         t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=2000000000 ! {decoder} ! videorate drop-only=true max-rate={fps} ! videoconvert ! video/x-raw,format={{I420,NV12}} ! appsink name=raw sync={sync} max-buffers=1 drop=true"
    ))
}

/// A camera that cannot be reached is said once, then once a minute with the retries so far:
/// a camera still starting (a server encoding its stream) or down for hours does not fill the
/// log with a line every two seconds. `/status` and the metrics count every reconnect.
#[derive(Debug, Default)]
struct Outage {
    warned: Option<Instant>,
}

/// How often a camera still failing is said again.
const OUTAGE_WARN_EVERY: Duration = Duration::from_secs(60);

impl Outage {
    /// Whether the `failures`-th failure in a row, at `now`, is logged as a warning.
    fn warn(&mut self, failures: u64, now: Instant) -> bool {
        let due = failures == 1
            || self
                .warned
                .is_none_or(|w| now.duration_since(w) >= OUTAGE_WARN_EVERY);
        if due {
            self.warned = Some(now);
        }
        due
    }
}

#[tracing::instrument(name = "ingest", skip_all, fields(camera = %shared.camera))]
fn supervise(shared: &Arc<Shared>, launch: &str, stall: Duration, live: bool) {
    let mut outage = Outage::default();
    let mut backoff = Duration::from_millis(250);
    const MAX_BACKOFF: Duration = Duration::from_secs(2);
    while !shared.stop.load(Ordering::Relaxed) {
        let outcome = run_once(shared, launch, stall);
        let streamed = lock(&shared.clock).base.is_some();
        lock(&shared.clock).base = None;
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let why = match outcome {
            Outcome::Ended if !live => {
                info!("source ended");
                *lock(&shared.state) = State::Ended;
                shared.fresh.notify_all();
                return;
            }
            Outcome::Stalled => {
                shared.counters.stalls.fetch_add(1, Ordering::Relaxed);
                "stalled".to_owned()
            }
            Outcome::Ended => "ended".to_owned(),
            Outcome::Failed(e) => format!("{e:#}"),
        };
        let failures = shared.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if outage.warn(failures, Instant::now()) {
            warn!(retries = failures - 1, error = %why, "stream failed, reconnecting");
        } else {
            debug!(retries = failures - 1, error = %why, "stream failed, reconnecting");
        }
        *lock(&shared.state) = State::Reconnecting;
        shared.counters.reconnects.fetch_add(1, Ordering::Relaxed);
        if streamed {
            backoff = Duration::from_millis(250);
        }
        // Jitter of ±25 % so cameras behind one switch do not reconnect in step.
        let jitter =
            0.75 + 0.5 * f64::from(Instant::now().elapsed().subsec_nanos() % 1000) / 1000.0;
        let wait = backoff.mul_f64(jitter);
        let until = Instant::now() + wait;
        while Instant::now() < until && !shared.stop.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(50));
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    *lock(&shared.state) = State::Stopped;
}

enum Outcome {
    Ended,
    Stalled,
    Failed(anyhow::Error),
}

fn run_once(shared: &Arc<Shared>, launch: &str, stall: Duration) -> Outcome {
    let pipeline = match build(shared, launch) {
        Ok(p) => p,
        Err(e) => return Outcome::Failed(e),
    };
    *lock(&shared.state) = State::Connecting;
    *lock(&shared.last_buffer) = None;
    let started = Instant::now();
    let outcome = if let Err(e) = pipeline.set_state(gst::State::Playing) {
        Outcome::Failed(anyhow!("cannot start: {e}"))
    } else {
        watch(shared, &pipeline, stall, started)
    };
    let _ = pipeline.set_state(gst::State::Null);
    outcome
}

fn watch(shared: &Shared, pipeline: &gst::Pipeline, stall: Duration, started: Instant) -> Outcome {
    let Some(bus) = pipeline.bus() else {
        return Outcome::Failed(anyhow!("pipeline has no bus"));
    };
    // A first connection may take longer than a stall (RTSP set-up, the first keyframe).
    let first = stall.max(Duration::from_secs(10));
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return Outcome::Ended;
        }
        if let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(100),
            &[gst::MessageType::Error, gst::MessageType::Eos],
        ) {
            return match msg.view() {
                gst::MessageView::Error(e) => Outcome::Failed(anyhow!(
                    "{} ({})",
                    e.error(),
                    e.debug().map(|d| d.to_string()).unwrap_or_default()
                )),
                _ => Outcome::Ended,
            };
        }
        let last = *lock(&shared.last_buffer);
        let stalled = match last {
            Some(at) => at.elapsed() > stall,
            None => started.elapsed() > first,
        };
        if stalled {
            return Outcome::Stalled;
        }
    }
}

fn build(shared: &Arc<Shared>, launch: &str) -> anyhow::Result<gst::Pipeline> {
    let pipeline = gst::parse::launch(launch)
        .context("building the pipeline")?
        .downcast::<gst::Pipeline>()
        .map_err(|_| anyhow!("not a pipeline"))?;
    let sink = |name: &str| -> anyhow::Result<gst_app::AppSink> {
        pipeline
            .by_name(name)
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| anyhow!("no appsink {name}"))
    };
    let raw = sink("raw")?;
    let enc = sink("enc")?;
    {
        let shared = shared.clone();
        raw.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let Some(frame) = to_frame(&shared, &sample) {
                        shared.counters.frames.fetch_add(1, Ordering::Relaxed);
                        *lock(&shared.last_buffer) = Some(Instant::now());
                        let was = std::mem::replace(&mut *lock(&shared.state), State::Streaming);
                        if was != State::Streaming {
                            let retries = shared.failures.swap(0, Ordering::Relaxed);
                            info!(retries, "stream up");
                        }
                        if lock(&shared.slot).replace(frame).is_some() {
                            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                        shared.fresh.notify_one();
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    {
        let shared = shared.clone();
        enc.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let Some(buffer) = sample.buffer() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let Some(pts) = buffer.pts() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let Ok(map) = buffer.map_readable() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let t = lock(&shared.clock).at(pts.nseconds());
                    let unit = AccessUnit {
                        t,
                        keyframe: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
                        data: Arc::from(map.as_slice()),
                    };
                    shared.counters.units.fetch_add(1, Ordering::Relaxed);
                    let mut ring = lock(&shared.ring);
                    ring.push_back(unit);
                    // Drop what is too old, then anything before the next keyframe: a clip
                    // can only start on one.
                    while ring.len() > 1
                        && ring
                            .front()
                            .is_some_and(|u| t - u.t > shared.ring_keep_s || !u.keyframe)
                    {
                        ring.pop_front();
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }
    Ok(pipeline)
}

/// The frame in a raw sample.
fn to_frame(shared: &Shared, sample: &gst::Sample) -> Option<Frame> {
    let (picture, pts) = picture_of(sample)?;
    let t = lock(&shared.clock).at(pts.nseconds());
    Some(Frame {
        t,
        image: Arc::new(picture),
        decoded_at: std::time::Instant::now(),
    })
}

/// The picture of a raw 4:2:0 sample (I420, or NV12 as hardware decoders give it) and its
/// time, with the colorimetry its caps state. The planes are copied out of the buffer: a
/// decoder's buffer pool is small, and frames are held for evidence for seconds.
pub(crate) fn picture_of(sample: &gst::Sample) -> Option<(Picture, gst::ClockTime)> {
    let buffer = sample.buffer()?;
    let info = gst_video::VideoInfo::from_caps(sample.caps()?).ok()?;
    let pts = buffer.pts()?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).ok()?;
    let (w, h) = (info.width(), info.height());
    let (cw, ch) = Yuv420::chroma_size(w, h);
    // `rows` rows of `bytes` bytes from a plane, without the stride's padding.
    let plane = |index: u32, bytes: usize, rows: u32| -> Option<Vec<u8>> {
        let data = frame.plane_data(index).ok()?;
        let stride = usize::try_from(*frame.plane_stride().get(index as usize)?).ok()?;
        let mut out = Vec::with_capacity(bytes * rows as usize);
        for r in 0..rows as usize {
            out.extend_from_slice(data.get(r * stride..r * stride + bytes)?);
        }
        Some(out)
    };
    let (cw_bytes, w_bytes) = (cw as usize, w as usize);
    let planes = match info.format() {
        gst_video::VideoFormat::I420 => [
            plane(0, w_bytes, h)?,
            plane(1, cw_bytes, ch)?,
            plane(2, cw_bytes, ch)?,
        ],
        gst_video::VideoFormat::Nv12 => {
            let uv = plane(1, 2 * cw_bytes, ch)?;
            [
                plane(0, w_bytes, h)?,
                uv.iter().step_by(2).copied().collect(),
                uv.iter().skip(1).step_by(2).copied().collect(),
            ]
        }
        _ => return None,
    };
    let site = info.chroma_site();
    let siting = Siting {
        cosited_x: site.contains(gst_video::VideoChromaSite::H_COSITED),
        cosited_y: site.contains(gst_video::VideoChromaSite::V_COSITED),
    };
    let yuv = Yuv420::new((w, h), planes, colour_of(&info), siting).ok()?;
    Some((Picture::from_yuv(yuv), pts))
}

/// The matrix and range a stream's caps state; a stream that states none is taken as its
/// size suggests, as GStreamer does (BT.709 from 720 rows up, BT.601 below).
fn colour_of(info: &gst_video::VideoInfo) -> Colour {
    use gst_video::{VideoColorMatrix as M, VideoColorRange as R};
    let c = info.colorimetry();
    let matrix = match c.matrix() {
        M::Bt709 => Colour::BT709,
        M::Bt601 => Colour::BT601,
        M::Bt2020 => Colour::BT2020,
        M::Fcc => Colour {
            kr: 0.30,
            kb: 0.11,
            full_range: false,
        },
        M::Smpte240m => Colour {
            kr: 0.212,
            kb: 0.087,
            full_range: false,
        },
        _ if info.height() >= 720 => Colour::BT709,
        _ => Colour::BT601,
    };
    if c.range() == R::Range0_255 {
        matrix.full()
    } else {
        matrix
    }
}

#[cfg(test)]
mod tests;
