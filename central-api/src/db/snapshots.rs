//! Pictures asked of a device's camera ([`protocol::snapshot`]): an administrator asks, the MQTT
//! worker publishes the request signed, the device answers with a signed [`Snapshot`] naming
//! the JPEG's hash and uploads the file as an evidence blob. A snapshot is a picture of the
//! street (people, plates): who asked for it is audited, and it is deleted
//! `retention.snapshot_days` after it was asked for.
//!
//! A request may ask for the frames as the device judges them, a burst of them one a second (an
//! installer checking a set-up live): the first frame answers in the request's row, each later
//! one in a row of its own (`{request}.{seq}`, `burst_of` the request), so that every picture is
//! kept, served and deleted the same way.
//!
//! A request may instead ask for a short clip of the camera's own video (`view` `clip`,
//! `clip_s` long), answered with one MP4 whose length is `duration_ms`.

use protocol::{
    CameraId, DeviceId, Sha256Digest, UtcTimestamp,
    snapshot::{BURST_EVERY_MS, Judged, Snapshot, SnapshotRequest, SnapshotView},
};
use time::OffsetDateTime;

use super::{Db, DbError, on_pool};
use crate::audit::{AuditLog, append_in};

/// How long a request may wait for its device: a picture to set a camera up by is wanted now,
/// and a box that was away does not answer a request from an hour ago.
pub const ANSWER_WITHIN: time::Duration = time::Duration::minutes(2);

/// One request and, once answered, the picture.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SnapshotRow {
    pub id: String,
    #[sqlx(rename = "device_id")]
    pub device: String,
    #[sqlx(rename = "camera_id")]
    pub camera: String,
    pub requested_by: String,
    pub requested_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub published_at: Option<OffsetDateTime>,
    pub taken_at: Option<OffsetDateTime>,
    pub sha256: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// `frame` or `judged` ([`SnapshotView`]).
    pub view: String,
    /// The frames asked for.
    pub frames: i64,
    /// The request a later frame of a burst answers; `None` for the request's own row.
    pub burst_of: Option<String>,
    /// The frame's number in its burst, from 0.
    pub seq: i64,
    /// What the device judged in the frame, as it signed it (JSON of [`Judged`]).
    pub judged: Option<String>,
    /// For a clip, the seconds asked for; 0 for pictures.
    pub clip_s: i64,
    /// For a clip that came, its length.
    pub duration_ms: Option<i64>,
}

impl SnapshotRow {
    /// What became of it at `now`: waiting, taken (its file arrived or not) or expired.
    pub fn state(&self, now: OffsetDateTime) -> SnapshotState {
        match (&self.taken_at, &self.sha256) {
            (Some(_), Some(_)) => SnapshotState::Taken,
            _ if now > self.expires_at => SnapshotState::Expired,
            _ => SnapshotState::Waiting,
        }
    }

    /// What the device judged in the frame, for a judged picture.
    pub fn judged(&self) -> Option<Judged> {
        serde_json::from_str(self.judged.as_deref()?).ok()
    }

    /// The id of the request the row answers.
    pub fn request_id(&self) -> &str {
        self.burst_of.as_deref().unwrap_or(&self.id)
    }

    /// Whether it asks for a clip (an MP4) rather than pictures (JPEGs).
    pub fn is_clip(&self) -> bool {
        self.view == SnapshotView::Clip.as_str()
    }

    /// The file's content type.
    pub fn content_type(&self) -> &'static str {
        if self.is_clip() {
            "video/mp4"
        } else {
            "image/jpeg"
        }
    }
}

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotState {
    Waiting,
    Taken,
    Expired,
}

const COLUMNS: &str = "id, device_id, camera_id, requested_by, requested_at, expires_at, \
                       published_at, taken_at, sha256, width, height, view, frames, burst_of, \
                       seq, judged, clip_s, duration_ms";

/// Why a request was not made.
#[derive(Debug, thiserror::Error)]
pub enum NotAsked {
    #[error("no active device {0}")]
    NoDevice(String),
    #[error("device {device} has no camera {camera} configured here")]
    NoCamera { device: String, camera: String },
}

/// What a request asks for: `frames` pictures in `view`, or a clip `clip_s` long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    pub view: SnapshotView,
    pub frames: u8,
    pub clip_s: u8,
}

impl Asked {
    /// One picture in `view`.
    pub fn picture(view: SnapshotView) -> Self {
        Self::burst(view, 1)
    }

    /// `frames` pictures in `view`, a second apart.
    pub fn burst(view: SnapshotView, frames: u8) -> Self {
        Self {
            view,
            frames,
            clip_s: 0,
        }
    }

    /// A clip `seconds` long.
    pub fn clip(seconds: u8) -> Self {
        Self {
            view: SnapshotView::Clip,
            frames: 1,
            clip_s: seconds,
        }
    }
}

/// Records a request for what `asked` says of `camera` of `device` by `officer`, audited, to
/// be published by the MQTT worker; the request. The device has [`ANSWER_WITHIN`] to answer,
/// and a burst's or a clip's length more for its last frame.
pub async fn ask(
    db: &Db,
    audit: &AuditLog,
    (device, camera): (&DeviceId, &CameraId),
    asked: Asked,
    officer: &str,
    now: OffsetDateTime,
) -> Result<Result<SnapshotRequest, NotAsked>, DbError> {
    let Asked {
        view,
        frames,
        clip_s,
    } = asked;
    let id = protocol::random_token(16).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let burst = BURST_EVERY_MS * i64::from(frames.saturating_sub(1)) + 1000 * i64::from(clip_s);
    let expires = now + ANSWER_WITHIN + time::Duration::milliseconds(burst);
    let postgres = matches!(db, Db::Postgres(_));
    let begin = super::begin_writing(db);
    let _one_at_a_time = audit.lock().await;
    on_pool!(db, pool => {
        let mut tx = pool.begin_with(begin).await?;
        if !super::device_active!(tx, device.as_str()) {
            return Ok(Err(NotAsked::NoDevice(device.to_string())));
        }
        let configured: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM cameras WHERE device_id = $1 AND camera_id = $2",
        )
        .bind(device.as_str())
        .bind(camera.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if configured == 0 {
            return Ok(Err(NotAsked::NoCamera {
                device: device.to_string(),
                camera: camera.to_string(),
            }));
        }
        sqlx::query(
            "INSERT INTO snapshots (id, device_id, camera_id, requested_by, requested_at, expires_at,
                                    view, frames, clip_s)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(device.as_str())
        .bind(camera.as_str())
        .bind(officer)
        .bind(now)
        .bind(expires)
        .bind(view.as_str())
        .bind(i64::from(frames))
        .bind(i64::from(clip_s))
        .execute(&mut *tx)
        .await?;
        let mut details = serde_json::json!({
            "camera": camera, "request": id, "view": view.as_str(), "frames": frames,
        });
        if clip_s > 0 {
            details["clip_s"] = clip_s.into();
        }
        let subject = format!("device:{device}");
        append_in!(tx, postgres, officer, "camera.snapshot_requested", &subject, &details);
        tx.commit().await?;
    });
    Ok(Ok(SnapshotRequest {
        request_id: id,
        device: device.clone(),
        camera: camera.clone(),
        requested_at: UtcTimestamp::from_datetime(now),
        expires_at: UtcTimestamp::from_datetime(expires),
        view,
        frames,
        clip_s,
    }))
}

/// The requests not yet published and not expired at `now`.
pub async fn to_publish(db: &Db, now: OffsetDateTime) -> Result<Vec<SnapshotRequest>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query_as::<_, SnapshotRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM snapshots
             WHERE published_at IS NULL AND expires_at > $1 AND burst_of IS NULL
             ORDER BY requested_at"
        )))
        .bind(now)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(|r| request_of(&r)).collect()
}

fn request_of(row: &SnapshotRow) -> Result<SnapshotRequest, DbError> {
    let corrupt = |e: &dyn std::fmt::Display| DbError::Corrupt(format!("snapshot {}: {e}", row.id));
    Ok(SnapshotRequest {
        request_id: row.id.clone(),
        device: DeviceId::parse(&row.device).map_err(|e| corrupt(&e))?,
        camera: CameraId::parse(&row.camera).map_err(|e| corrupt(&e))?,
        requested_at: UtcTimestamp::from_datetime(row.requested_at),
        expires_at: UtcTimestamp::from_datetime(row.expires_at),
        view: view_of(&row.view).ok_or_else(|| corrupt(&format!("view `{}`", row.view)))?,
        frames: u8::try_from(row.frames).map_err(|e| corrupt(&e))?,
        clip_s: u8::try_from(row.clip_s).map_err(|e| corrupt(&e))?,
    })
}

fn view_of(name: &str) -> Option<SnapshotView> {
    [
        SnapshotView::Frame,
        SnapshotView::Judged,
        SnapshotView::Clip,
    ]
    .into_iter()
    .find(|v| v.as_str() == name)
}

/// Marks a request handed to the broker client.
pub async fn published(db: &Db, id: &str, now: OffsetDateTime) -> Result<(), DbError> {
    on_pool!(db, pool => {
        sqlx::query("UPDATE snapshots SET published_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Why a device's snapshot was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("no request {0} was made")]
    Unknown(String),
    #[error("request {id} was made of {asked}, not of {answered}")]
    OtherCamera {
        id: String,
        asked: String,
        answered: String,
    },
    #[error("request {0} expired before its answer came")]
    Expired(String),
    #[error("request {0} was answered before")]
    Answered(String),
    #[error("request {id} asked for {asked}, not for this answer ({answered})")]
    NotAsked {
        id: String,
        asked: String,
        answered: String,
    },
}

impl Refused {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unknown(_) => "unknown_request",
            Self::OtherCamera { .. } => "other_camera",
            Self::Expired(_) => "expired",
            Self::Answered(_) => "answered",
            Self::NotAsked { .. } => "not_asked",
        }
    }
}

/// Takes a device's `snapshot` (its signature verified) arriving at `now`: only for a request
/// made of that device and camera, answered in time and once.
pub async fn answer(
    db: &Db,
    snapshot: &Snapshot,
    now: OffsetDateTime,
) -> Result<Result<(), Refused>, DbError> {
    let id = snapshot.request_id.clone();
    let Some(row) = get(db, &id).await? else {
        return Ok(Err(Refused::Unknown(id)));
    };
    if row.device != snapshot.device.as_str() || row.camera != snapshot.camera.as_str() {
        return Ok(Err(Refused::OtherCamera {
            id,
            asked: format!("{}/{}", row.device, row.camera),
            answered: format!("{}/{}", snapshot.device, snapshot.camera),
        }));
    }
    if now > row.expires_at {
        return Ok(Err(Refused::Expired(id)));
    }
    // The frame asked for, in the view asked for: a judged frame says what was judged in it.
    let judged = row.view == SnapshotView::Judged.as_str();
    if i64::from(snapshot.seq) >= row.frames
        || judged != snapshot.judged.is_some()
        || row.is_clip() != (snapshot.duration_ms > 0)
    {
        return Ok(Err(Refused::NotAsked {
            id,
            asked: if row.is_clip() {
                format!("a clip of {} s", row.clip_s)
            } else {
                format!("{} {} frame(s)", row.frames, row.view)
            },
            answered: if snapshot.duration_ms > 0 {
                format!("a clip of {} ms", snapshot.duration_ms)
            } else {
                format!(
                    "frame {} {}",
                    snapshot.seq,
                    if snapshot.judged.is_some() {
                        "judged"
                    } else {
                        "as it came"
                    }
                )
            },
        }));
    }
    let facts = match &snapshot.judged {
        Some(j) => Some(serde_json::to_string(j).map_err(|e| DbError::Corrupt(e.to_string()))?),
        None => None,
    };
    let (taken_at, sha256) = (snapshot.taken_at.as_datetime(), snapshot.sha256.to_hex());
    let bytes = i64::try_from(snapshot.bytes).unwrap_or(i64::MAX);
    let (width, height) = (i64::from(snapshot.width), i64::from(snapshot.height));
    let duration_ms = (snapshot.duration_ms > 0).then_some(i64::from(snapshot.duration_ms));
    let taken = on_pool!(db, pool => {
        if snapshot.seq == 0 {
            sqlx::query(
                "UPDATE snapshots SET taken_at = $2, answered_at = $3, sha256 = $4, bytes = $5,
                                      width = $6, height = $7, judged = $8, duration_ms = $9
                 WHERE id = $1 AND answered_at IS NULL",
            )
            .bind(&id)
            .bind(taken_at)
            .bind(now)
            .bind(&sha256)
            .bind(bytes)
            .bind(width)
            .bind(height)
            .bind(&facts)
            .bind(duration_ms)
            .execute(pool)
            .await?
            .rows_affected()
        } else {
            // A later frame of the burst: a row of its own, once.
            sqlx::query(
                "INSERT INTO snapshots (id, device_id, camera_id, requested_by, requested_at,
                                        expires_at, published_at, taken_at, answered_at, sha256,
                                        bytes, width, height, judged, view, frames, burst_of, seq)
                 SELECT $9, device_id, camera_id, requested_by, requested_at, expires_at,
                        published_at, $2, $3, $4, $5, $6, $7, $8, view, frames, id, $10
                 FROM snapshots WHERE id = $1
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&id)
            .bind(taken_at)
            .bind(now)
            .bind(&sha256)
            .bind(bytes)
            .bind(width)
            .bind(height)
            .bind(&facts)
            .bind(format!("{id}.{}", snapshot.seq))
            .bind(i64::from(snapshot.seq))
            .execute(pool)
            .await?
            .rows_affected()
        }
    });
    Ok(if taken == 1 {
        Ok(())
    } else {
        Err(Refused::Answered(id))
    })
}

/// One request.
pub async fn get(db: &Db, id: &str) -> Result<Option<SnapshotRow>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, SnapshotRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM snapshots WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(pool)
        .await?
    });
    Ok(row)
}

/// The latest request for pictures in `view` made of `camera` of `device`; with `arrived`,
/// the latest picture in that view that came (its file with it), the later frame of a burst
/// first.
pub async fn latest(
    db: &Db,
    (device, camera): (&str, &str),
    view: SnapshotView,
    arrived: bool,
) -> Result<Option<SnapshotRow>, DbError> {
    let only = if arrived {
        "AND sha256 IN (SELECT sha256 FROM evidence_blobs)"
    } else {
        "AND burst_of IS NULL"
    };
    let row = on_pool!(db, pool => {
        sqlx::query_as::<_, SnapshotRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM snapshots
             WHERE device_id = $1 AND camera_id = $2 AND view = $3 {only}
             ORDER BY requested_at DESC, seq DESC LIMIT 1"
        )))
        .bind(device)
        .bind(camera)
        .bind(view.as_str())
        .fetch_optional(pool)
        .await?
    });
    Ok(row)
}

/// How many of the frames request `id` asked for have come (their signed answers).
pub async fn frames_taken(db: &Db, id: &str) -> Result<i64, DbError> {
    let n = on_pool!(db, pool => {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM snapshots
             WHERE (id = $1 OR burst_of = $1) AND taken_at IS NOT NULL",
        )
        .bind(id)
        .fetch_one(pool)
        .await?
    });
    Ok(n)
}

/// The pictures a camera's set-up was drawn on are kept while it stands.
const UNUSED: &str = "requested_at < $1
     AND id NOT IN (SELECT snapshot_id FROM cameras WHERE snapshot_id IS NOT NULL)";

/// Deletes the requests made before `before`, but the pictures a camera's set-up names,
/// queueing their files for deletion; how many.
pub async fn delete_before(
    db: &Db,
    before: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<u64, DbError> {
    let deleted = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO evidence_deletions (sha256, queued_at)
             SELECT sha256, $2 FROM snapshots WHERE {UNUSED} AND sha256 IS NOT NULL
             ON CONFLICT (sha256) DO NOTHING"
        )))
        .bind(before)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM snapshots WHERE {UNUSED}"
        )))
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        deleted
    });
    Ok(deleted)
}

/// The digest of a taken snapshot's file.
pub fn digest_of(row: &SnapshotRow) -> Option<Sha256Digest> {
    row.sha256
        .as_deref()
        .and_then(|h| Sha256Digest::parse(h).ok())
}
