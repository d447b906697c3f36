//! The box's own HTTP endpoints: `/status` (what each camera sees and does, the outbox and
//! delivery), `/cameras/{id}/snapshot.jpg`, the token they are guarded by, and the metrics.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Json,
    extract::{Path as UrlPath, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use prometheus_client::metrics::{family::Family, gauge::Gauge};
use protocol::messages::CameraState;
use serde::Serialize;
use service_kit::http::Metrics;

use super::*;

#[derive(Debug, Serialize)]
pub(super) struct StatusBody {
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
pub(super) struct CameraBody {
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
pub(super) async fn authorised(
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

pub(super) async fn status(State(state): State<Arc<AgentState>>) -> Response {
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
pub(super) async fn snapshot(
    State(state): State<Arc<AgentState>>,
    UrlPath(id): UrlPath<String>,
) -> Response {
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
pub(super) struct FrameLatency(Arc<AgentState>);

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

pub(super) fn register_metrics(metrics: &Metrics, state: Arc<AgentState>) {
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
