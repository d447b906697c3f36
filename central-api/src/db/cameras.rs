//! The cameras of each device as central keeps them — site, geometry, limits — and the device
//! configuration built from them: each change makes a new version, stored to be published
//! (retained) on the device's config topic by the MQTT worker.

use protocol::{DeviceConfig, DeviceId, UtcTimestamp, device_config::CameraSettings, wire};
use time::OffsetDateTime;

use super::{Db, DbError, on_pool};
use crate::audit::{AuditLog, append_in};

/// Why a camera's settings were not saved.
#[derive(Debug, thiserror::Error)]
pub enum NotSaved {
    #[error("no active device {0}")]
    NoDevice(String),
    #[error(
        "the camera's set-up was saved by {by} (revision {revision}) since this one was opened: \
         reload to see it"
    )]
    Stale { by: String, revision: i64 },
    #[error("no picture {0} taken by this camera")]
    NoPicture(String),
}

/// How a save was made: on which revision of the camera's set-up (a form names the one it was
/// opened on; the API saves over whatever is there), and on which picture from the camera it
/// was drawn.
#[derive(Debug, Clone, Copy, Default)]
pub struct Edit<'a> {
    pub base: Option<i64>,
    pub snapshot: Option<&'a str>,
}

/// A camera's revision: 0 before its first save.
pub async fn revision(db: &Db, device: &str, camera: &str) -> Result<i64, DbError> {
    let found: Option<i64> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT revision FROM cameras WHERE device_id = $1 AND camera_id = $2")
            .bind(device)
            .bind(camera)
            .fetch_optional(pool)
            .await?
    });
    Ok(found.unwrap_or(0))
}

/// A camera's revision as a save finds it: who saved it last, and on which picture.
#[derive(sqlx::FromRow)]
struct RevisionRow {
    revision: i64,
    updated_by: String,
    snapshot_id: Option<String>,
}

/// Saves `settings` for its camera of `device` as `officer` (the actor), and the device's next
/// configuration (every camera of the device), to be published, with the `camera.saved` audit
/// entry, in one transaction. Returns that configuration.
pub async fn save(
    db: &Db,
    audit: &AuditLog,
    device: &DeviceId,
    settings: &CameraSettings,
    officer: &str,
) -> Result<Result<DeviceConfig, NotSaved>, DbError> {
    save_as(db, audit, device, settings, officer, Edit::default()).await
}

/// [`save`], refused when the camera was saved since revision `edit.base`, and naming the
/// picture `edit.snapshot` it was drawn on (a picture of this camera, taken).
pub async fn save_as(
    db: &Db,
    audit: &AuditLog,
    device: &DeviceId,
    settings: &CameraSettings,
    officer: &str,
    edit: Edit<'_>,
) -> Result<Result<DeviceConfig, NotSaved>, DbError> {
    let now = OffsetDateTime::now_utc();
    let json = serde_json::to_string(settings)
        .map_err(|e| DbError::Corrupt(format!("camera settings: {e}")))?;
    let postgres = matches!(db, Db::Postgres(_));
    let begin = super::begin_writing(db);
    let _one_at_a_time = audit.lock().await;
    on_pool!(db, pool => {
        let mut tx = pool.begin_with(begin).await?;
        if !super::device_active!(tx, device.as_str()) {
            return Ok(Err(NotSaved::NoDevice(device.to_string())));
        }
        let current = sqlx::query_as::<_, RevisionRow>(
            "SELECT revision, updated_by, snapshot_id FROM cameras
             WHERE device_id = $1 AND camera_id = $2",
        )
        .bind(device.as_str())
        .bind(settings.camera.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let (revision, by, kept_picture) = match current {
            Some(row) => (row.revision, row.updated_by, row.snapshot_id),
            None => (0, String::new(), None),
        };
        if edit.base.is_some_and(|base| base != revision) {
            return Ok(Err(NotSaved::Stale { by, revision }));
        }
        if let Some(id) = edit.snapshot {
            let taken: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM snapshots WHERE id = $1 AND device_id = $2
                   AND camera_id = $3 AND sha256 IS NOT NULL",
            )
            .bind(id)
            .bind(device.as_str())
            .bind(settings.camera.as_str())
            .fetch_one(&mut *tx)
            .await?;
            if taken == 0 {
                return Ok(Err(NotSaved::NoPicture(id.to_owned())));
            }
        }
        let picture = edit.snapshot.map(str::to_owned).or(kept_picture);
        let written = sqlx::query(
            "INSERT INTO cameras (device_id, camera_id, settings, updated_by, updated_at,
                                  revision, snapshot_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (device_id, camera_id)
             DO UPDATE SET settings = $3, updated_by = $4, updated_at = $5, revision = $6,
                           snapshot_id = $7
             WHERE cameras.revision = $8",
        )
        .bind(device.as_str())
        .bind(settings.camera.as_str())
        .bind(&json)
        .bind(officer)
        .bind(now)
        .bind(revision + 1)
        .bind(&picture)
        .bind(revision)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // Another save came between the read and this write (another replica).
        if written == 0 {
            return Ok(Err(NotSaved::Stale { by, revision: revision + 1 }));
        }
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT settings FROM cameras WHERE device_id = $1 ORDER BY camera_id",
        )
        .bind(device.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM device_configs WHERE device_id = $1")
                .bind(device.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        // The box measures by the homography alone; the four points it was made from stay with
        // central's set-up (a box of an earlier release refuses a geometry field it does not
        // know).
        let cameras = decode(&rows)?
            .into_iter()
            .map(|mut c| {
                c.geometry.calibration = None;
                c
            })
            .collect();
        let config = DeviceConfig {
            device: device.clone(),
            version: next_version(version.unwrap_or(0).unsigned_abs(), now),
            issued_at: UtcTimestamp::from_datetime(now),
            cameras,
        };
        let payload = String::from_utf8(
            wire::encode(&config).map_err(|e| DbError::Corrupt(format!("device config: {e}")))?,
        )
        .map_err(|e| DbError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO device_configs (device_id, version, payload, issued_at, published_at)
             VALUES ($1, $2, $3, $4, NULL)
             ON CONFLICT (device_id)
             DO UPDATE SET version = $2, payload = $3, issued_at = $4, published_at = NULL",
        )
        .bind(device.as_str())
        .bind(config.version as i64)
        .bind(&payload)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let details = serde_json::json!({
            "camera": settings.camera, "version": config.version, "settings": settings,
            "revision": revision + 1, "picture": picture,
        });
        let subject = format!("device:{device}");
        append_in!(tx, postgres, officer, "camera.saved", &subject, &details);
        tx.commit().await?;
        Ok(Ok(config))
    })
}

/// The version after `last`, issued at `now`: the later of `last + 1` and `now` in milliseconds
/// since 1970. Versions so carry central's clock as their epoch: a central restored from a
/// backup older than a device's configuration, or installed anew, still issues versions above
/// every one it issued before (a device takes only a newer version than the one it holds).
fn next_version(last: u64, now: OffsetDateTime) -> u64 {
    let ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    (last + 1).max(ms)
}

/// The settings of every camera of `device`.
pub async fn of_device(db: &Db, device: &DeviceId) -> Result<Vec<CameraSettings>, DbError> {
    let rows: Vec<String> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT settings FROM cameras WHERE device_id = $1 ORDER BY camera_id")
            .bind(device.as_str())
            .fetch_all(pool)
            .await?
    });
    decode(&rows)
}

/// Camera settings as the `settings` column keeps them.
fn decode(rows: &[String]) -> Result<Vec<CameraSettings>, DbError> {
    rows.iter()
        .map(|s| serde_json::from_str(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DbError::Corrupt(format!("camera settings: {e}")))
}

/// Device configurations to publish: those not yet published, or every one (`all`, after the
/// broker connection was made again: a broker without persistence forgets retained messages).
pub async fn to_publish(db: &Db, all: bool) -> Result<Vec<(DeviceId, i64, String)>, DbError> {
    let rows: Vec<ConfigRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT device_id, version, payload FROM device_configs
             WHERE $1 OR published_at IS NULL ORDER BY device_id",
        )
        .bind(all)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(ConfigRow::into_parts).collect()
}

/// A device configuration as stored, as [`to_publish`] reads it.
#[derive(sqlx::FromRow)]
struct ConfigRow {
    device_id: String,
    version: i64,
    payload: String,
}

impl ConfigRow {
    /// The device, the version and the payload.
    fn into_parts(self) -> Result<(DeviceId, i64, String), DbError> {
        let d = self.device_id;
        let device =
            DeviceId::parse(&d).map_err(|e| DbError::Corrupt(format!("device {d}: {e}")))?;
        Ok((device, self.version, self.payload))
    }
}

/// The version of `device`'s configuration central issued last, if any.
pub async fn config_version(db: &Db, device: &str) -> Result<Option<u64>, DbError> {
    let version = on_pool!(db, pool => {
        sqlx::query_scalar::<_, i64>("SELECT version FROM device_configs WHERE device_id = $1")
            .bind(device)
            .fetch_optional(pool)
            .await?
    });
    Ok(version.map(i64::unsigned_abs))
}

/// Marks version `version` of `device`'s configuration published (a newer one saved meanwhile
/// stays to publish).
pub async fn published(db: &Db, device: &DeviceId, version: i64) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        sqlx::query(
            "UPDATE device_configs SET published_at = $1 WHERE device_id = $2 AND version = $3",
        )
        .bind(now)
        .bind(device.as_str())
        .bind(version)
        .execute(pool)
        .await?;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::next_version;

    #[test]
    fn versions_follow_the_clock_and_never_go_back() {
        let now = datetime!(2026-12-05 12:00 UTC);
        let ms = 1_796_472_000_000;
        assert_eq!(next_version(0, now), ms, "a first version is the time");
        assert_eq!(
            next_version(7, now),
            ms,
            "one restored from an old backup jumps ahead"
        );
        assert_eq!(next_version(ms, now), ms + 1, "two in one millisecond");
        assert_eq!(
            next_version(ms + 5, now),
            ms + 6,
            "a clock set back changes nothing"
        );
    }
}
