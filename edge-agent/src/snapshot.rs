//! Central's requests for a camera's picture, answered through the broker only (central
//! cannot reach the box; [`protocol::snapshot`] says why and how): the camera's current frame,
//! a burst of frames as the camera judges them, or a short clip of the camera's own video.
//! Each answer is a [`Snapshot`] signed by the device on its snapshot topic, naming the hash of
//! the file then uploaded through the evidence upload. Nothing is kept: a picture lost on the
//! way is asked for again.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use protocol::{
    CameraId, Topic, UtcTimestamp,
    event::Sha256Digest,
    snapshot::{Snapshot, SnapshotRequest, SnapshotView},
    wire,
};
use rumqttc::{AsyncClient, QoS};
use tracing::{debug, info};
use vision::Picture;

use crate::{
    camera::CameraStats,
    ingest::Ingest,
    publish::{Delivery, put_blob},
};

/// A camera's figures by its id (`None`: not a camera of this box).
pub type CameraLookup = Arc<dyn Fn(&CameraId) -> Option<Arc<CameraStats>> + Send + Sync>;

/// A camera's stream by its id, for its own encoded video (`None`: not a camera of this box,
/// or one whose stream could not be started).
pub type VideoLookup = Arc<dyn Fn(&CameraId) -> Option<Arc<Ingest>> + Send + Sync>;

/// What the box's cameras show, for the pictures central asks for: each camera's figures by its
/// id (its latest frame, and its judged frames while watched), its stream (the clip), and the
/// version of central's configuration in force.
#[derive(Clone)]
pub struct Frames {
    pub cameras: CameraLookup,
    pub videos: VideoLookup,
    pub config_version: Arc<AtomicU64>,
}

impl std::fmt::Debug for Frames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frames")
            .field("config_version", &self.config_version)
            .finish_non_exhaustive()
    }
}

/// How many times a picture's upload is tried before it is given up (central shows the request
/// unanswered, and the administrator asks again).
const SNAPSHOT_TRIES: u32 = 3;

/// Answers central's `request`: the camera's current frame — or, for a judged view, the frame
/// as the camera judged it, drawn ([`crate::overlay::draw_judged`]) — as a JPEG, named in a
/// signed [`Snapshot`] on the device's snapshot topic, then uploaded as an evidence file; for a
/// burst, a frame a second until the frames asked for are sent or the request expires. Nothing
/// is kept: a picture lost on the way is asked for again.
#[tracing::instrument(
    name = "snapshot",
    skip_all,
    fields(camera = %request.camera, view = ?request.view)
)]
pub(crate) async fn send_snapshot(
    delivery: &Delivery,
    client: &AsyncClient,
    http: &reqwest::Client,
    frames: &Frames,
    request: &SnapshotRequest,
) -> anyhow::Result<()> {
    if request.view == SnapshotView::Clip {
        return send_clip(delivery, (client, http), frames, request).await;
    }
    let camera = (frames.cameras)(&request.camera)
        .with_context(|| format!("camera `{}` is not run here", request.camera))?;
    let judged = request.view == SnapshotView::Judged;
    let every = Duration::from_millis(protocol::snapshot::BURST_EVERY_MS as u64);
    if judged {
        // Judged frames are kept from now for the burst's length, and a little after.
        camera.watch((every * u32::from(request.frames)).as_secs_f64() + 5.0);
    }
    // Only frames judged after the request: the last one kept may be from a burst long past.
    let mut last_frame = camera.processed.load(Ordering::Relaxed);
    for seq in 0..request.frames {
        let started = tokio::time::Instant::now();
        if UtcTimestamp::now().unix_ms() >= request.expires_at.unix_ms() {
            info!(sent = seq, "the request expired before its last frame");
            break;
        }
        let (image, taken_at, facts) = if judged {
            let view = next_judged(&camera, last_frame).await.with_context(|| {
                format!(
                    "camera `{}` judged no frame (not streaming?)",
                    request.camera
                )
            })?;
            last_frame = view.frame;
            let version = frames.config_version.load(Ordering::Relaxed);
            let facts = protocol::snapshot::Judged {
                config_version: version,
                signal: view.signal,
                signal_fault: view.signal_fault.clone(),
                vehicles: view.vehicles.clone(),
            };
            let taken_at = view.taken_at;
            let drawn =
                tokio::task::spawn_blocking(move || crate::overlay::draw_judged(&view, version))
                    .await?;
            (Arc::new(Picture::from_rgb(drawn)), taken_at, Some(facts))
        } else {
            let frame = camera
                .snapshot
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .with_context(|| {
                    format!("camera `{}` has no frame (not streaming)", request.camera)
                })?;
            (frame, UtcTimestamp::now(), None)
        };
        send_picture(
            delivery,
            client,
            http,
            request,
            seq,
            (image, taken_at),
            facts,
        )
        .await?;
        if seq + 1 < request.frames {
            tokio::time::sleep_until(started + every).await;
        }
    }
    Ok(())
}

/// The camera's next judged frame after frame number `after`, waiting up to 3 s for it.
async fn next_judged(camera: &CameraStats, after: u64) -> Option<Arc<crate::camera::JudgedView>> {
    for _ in 0..60 {
        if let Some(view) = camera.judged_after(after) {
            return Some(view);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// One picture for `request`: its signed [`Snapshot`] published, then its JPEG uploaded.
async fn send_picture(
    delivery: &Delivery,
    client: &AsyncClient,
    http: &reqwest::Client,
    request: &SnapshotRequest,
    seq: u8,
    (image, taken_at): (Arc<Picture>, UtcTimestamp),
    judged: Option<protocol::snapshot::Judged>,
) -> anyhow::Result<()> {
    let (width, height) = image.dimensions();
    let jpeg =
        tokio::task::spawn_blocking(move || crate::evidence::jpeg(image.rgb(), 90)).await??;
    let snapshot = Snapshot {
        seq,
        judged,
        ..answer(delivery, request, (taken_at, width, height), &jpeg)
    };
    send_file(delivery, (client, http), &snapshot, jpeg).await?;
    info!(width, height, seq, "picture sent to central");
    Ok(())
}

/// How long past its length a clip may take to be recorded before it is given up (a camera
/// that stopped streaming meanwhile).
const CLIP_GRACE: Duration = Duration::from_secs(10);

/// Answers a request for a clip: the camera's own H.264 from the keyframe at or before the
/// moment the request is taken, `clip_s` seconds of it, remuxed into an MP4 (not decoded or
/// encoded again), as one [`Snapshot`] with its length.
async fn send_clip(
    delivery: &Delivery,
    (client, http): (&AsyncClient, &reqwest::Client),
    frames: &Frames,
    request: &SnapshotRequest,
) -> anyhow::Result<()> {
    let not_streaming = || format!("camera `{}` is not streaming", request.camera);
    let video = (frames.videos)(&request.camera).with_context(not_streaming)?;
    let from = video.ring_end().with_context(not_streaming)?;
    let to = from + f64::from(request.clip_s);
    // Recorded as it comes: the ring holds what the camera sends from now on.
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(u64::from(request.clip_s)) + CLIP_GRACE;
    while video.ring_end().is_none_or(|end| end < to) {
        if tokio::time::Instant::now() >= deadline
            || UtcTimestamp::now().unix_ms() >= request.expires_at.unix_ms()
        {
            anyhow::bail!(
                "camera `{}` did not send {} s of video in time",
                request.camera,
                request.clip_s
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let units = video.clip(from, to);
    let (first, last) = match units.as_slice() {
        [first, .., last] => (first.t, last.t),
        _ => anyhow::bail!("camera `{}` has no video to send", request.camera),
    };
    let taken_at = UtcTimestamp::from_unix_ms(video.unix_ms_at(first))
        .context("the clip's time is out of range")?;
    let mp4 = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let dir = tempfile::tempdir().context("a folder for the clip")?;
        let path = dir.path().join("clip.mp4");
        crate::evidence::clip::remux_mp4(&units, &path)?;
        std::fs::read(&path).context("reading the clip back")
    })
    .await??;
    // The picture's size, from the camera's latest frame (the stream's own).
    let (width, height) = (frames.cameras)(&request.camera)
        .and_then(|c| c.snapshot.lock().unwrap_or_else(|e| e.into_inner()).clone())
        .map(|p| p.dimensions())
        .with_context(not_streaming)?;
    let duration_ms = (((last - first) * 1000.0).round() as u32).max(1);
    let snapshot = Snapshot {
        duration_ms,
        ..answer(delivery, request, (taken_at, width, height), &mp4)
    };
    send_file(delivery, (client, http), &snapshot, mp4).await?;
    info!(duration_ms, bytes = snapshot.bytes, "clip sent to central");
    Ok(())
}

/// The answer to `request` naming `file`, taken at `taken_at`, `width` × `height`: the first
/// frame as it came, until said otherwise.
fn answer(
    delivery: &Delivery,
    request: &SnapshotRequest,
    (taken_at, width, height): (UtcTimestamp, u32, u32),
    file: &[u8],
) -> Snapshot {
    Snapshot {
        request_id: request.request_id.clone(),
        device: delivery.device.clone(),
        camera: request.camera.clone(),
        taken_at,
        width,
        height,
        sha256: Sha256Digest::of(file),
        bytes: file.len() as u64,
        seq: 0,
        judged: None,
        duration_ms: 0,
    }
}

/// Publishes `snapshot` signed, then uploads its file `bytes`, tried [`SNAPSHOT_TRIES`] times.
async fn send_file(
    delivery: &Delivery,
    (client, http): (&AsyncClient, &reqwest::Client),
    snapshot: &Snapshot,
    bytes: Vec<u8>,
) -> anyhow::Result<()> {
    let signed = wire::encode_signed(snapshot, &delivery.key)?;
    client
        .publish(
            Topic::Snapshot(delivery.device.clone()).to_string(),
            QoS::AtLeastOnce,
            false,
            signed,
        )
        .await?;
    let mut tries = 0;
    loop {
        tries += 1;
        let body = bytes.clone();
        match put_blob(
            delivery,
            http,
            &snapshot.sha256,
            snapshot.content_type(),
            body,
        )
        .await
        {
            Ok(()) => return Ok(()),
            Err(e) if tries < SNAPSHOT_TRIES => {
                debug!(
                    error = format!("{e:#}"),
                    "upload of a picture failed; retrying"
                );
                tokio::time::sleep(Duration::from_millis(500 * u64::from(tries))).await;
            }
            Err(e) => return Err(e),
        }
    }
}
