//! The device registry: which boxes may report, the keys their events are signed with, and the
//! latest status each reported.

use std::collections::HashMap;

use protocol::{DeviceId, DevicePublicKey};
use serde::Serialize;
use time::OffsetDateTime;

use super::{
    Db, DbError, on_pool,
    requests::{Confirmation, commit_confirmed, with_confirmation},
};
use crate::audit::{AuditLog, commit_audited};

/// A registered device.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: DeviceId,
    pub public_key: DevicePublicKey,
    pub name: String,
    pub registered_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// Registers a device, or replaces the key of one already registered (key rotation), in the
/// caller's transaction `$tx` as of `$now`.
macro_rules! register_in {
    ($tx:ident, $id:expr, $key:expr, $name:expr, $now:expr) => {{
        let (id, key, name): (&DeviceId, &DevicePublicKey, &str) = ($id, $key, $name);
        sqlx::query(
            "INSERT INTO devices (device_id, public_key, name, registered_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (device_id) DO UPDATE SET public_key = $2, name = $3, revoked_at = NULL",
        )
        .bind(id.as_str())
        .bind(key.to_base64())
        .bind(name)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Registers a device, or replaces the key of one already registered (key rotation),
/// unrecorded: tests and the first devices of a new database. Everything else goes through
/// [`save`].
pub async fn register(
    db: &Db,
    id: &DeviceId,
    key: &DevicePublicKey,
    name: &str,
) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        register_in!(tx, id, key, name, now);
        tx.commit().await?;
    });
    Ok(())
}

/// Registers a device as [`register`] does, with its `device.registered` entry by `actor`, in
/// one transaction; on a second officer's `confirmation` of the request for it, which is
/// marked confirmed in the same transaction. False when that request no longer waits.
pub async fn save(
    db: &Db,
    audit: &AuditLog,
    actor: &str,
    (id, key, name): (&DeviceId, &DevicePublicKey, &str),
    confirmation: Option<&Confirmation>,
) -> Result<bool, DbError> {
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let details = with_confirmation(
        serde_json::json!({ "public_key": key.to_base64(), "name": name }),
        confirmation,
    );
    let _one_at_a_time = audit.lock().await;
    let entry = (
        actor,
        "device.registered",
        &format!("device:{id}"),
        &details,
    );
    let saved = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        commit_confirmed!(tx, postgres, confirmation, now, entry, {
            register_in!(tx, id, key, name, now);
        })
    });
    Ok(saved)
}

/// Revokes a device as `actor`, with its `device.revoked` entry in the same transaction: its
/// events are refused from now on. False when it was not registered or already revoked.
pub async fn revoke(
    db: &Db,
    audit: &AuditLog,
    actor: &str,
    id: &DeviceId,
) -> Result<bool, DbError> {
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    let done = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let done = sqlx::query(
            "UPDATE devices SET revoked_at = $1 WHERE device_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let subject = format!("device:{id}");
        let details = serde_json::json!({});
        commit_audited!(tx, postgres, done, actor, "device.revoked", &subject, &details);
        done
    });
    Ok(done == 1)
}

/// The key events of `id` must verify with, when the device is registered and not revoked.
pub async fn active_key(db: &Db, id: &DeviceId) -> Result<Option<DevicePublicKey>, DbError> {
    Ok(active_keys(db, std::slice::from_ref(id)).await?.remove(id))
}

/// The keys events must verify with of those of `ids` registered and not revoked, in one
/// query (a batch of deliveries names many devices).
pub async fn active_keys(
    db: &Db,
    ids: &[DeviceId],
) -> Result<HashMap<DeviceId, DevicePublicKey>, DbError> {
    let mut keys = HashMap::new();
    for chunk in ids.chunks(crate::audit::ROWS_PER_STATEMENT) {
        let rows: Vec<(String, String)> = on_pool!(db, pool => {
            let mut select = super::in_list(
                "SELECT device_id, public_key FROM devices WHERE revoked_at IS NULL AND device_id IN (",
                chunk.iter().map(DeviceId::as_str),
            );
            select.build_query_as().fetch_all(pool).await?
        });
        // A key that no longer parses is treated as no key: the event goes to dead letters.
        keys.extend(rows.into_iter().filter_map(|(id, key)| {
            Some((
                DeviceId::parse(id).ok()?,
                DevicePublicKey::from_base64(&key).ok()?,
            ))
        }));
    }
    Ok(keys)
}

/// A device with the latest status it reported.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeviceHealth {
    pub device_id: String,
    pub name: String,
    /// Revoked devices' events are refused.
    pub revoked: bool,
    /// `online`, `degraded`, `offline`; absent before the first status.
    pub state: Option<String>,
    /// When central last heard from it.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub heard_at: Option<protocol::UtcTimestamp>,
    pub software_version: Option<String>,
    /// Each camera: `{ camera, state, detect_fps }`.
    #[schema(value_type = Vec<Object>)]
    pub cameras: Vec<protocol::CameraStatus>,
    pub outbox_depth: Option<i64>,
}

/// Records a device's status as of `reported`, replacing the one before when that one was
/// reported earlier; false when it was not (a status played again, or overtaken).
pub async fn record_status(
    db: &Db,
    status: &protocol::DeviceStatus,
    reported: protocol::UtcTimestamp,
) -> Result<bool, DbError> {
    let cameras = serde_json::to_string(&status.cameras)
        .map_err(|e| DbError::Corrupt(format!("camera status: {e}")))?;
    let state = match status.state {
        protocol::DeviceState::Online => "online",
        protocol::DeviceState::Degraded => "degraded",
        protocol::DeviceState::Offline => "offline",
    };
    let now = OffsetDateTime::now_utc();
    let reported = reported.as_datetime();
    // Compared here, not in SQL: SQLite keeps times as RFC 3339 text, whose order is not the
    // times' when their fractions differ in length.
    let recorded = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let held: Option<Option<OffsetDateTime>> =
            sqlx::query_scalar("SELECT reported_at FROM device_status WHERE device_id = $1")
                .bind(status.device.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if held.flatten().is_some_and(|held| held >= reported) {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO device_status (device_id, state, reported_at, received_at, software_version,
                                        cameras, outbox_depth)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (device_id) DO UPDATE SET state = $2, reported_at = $3, received_at = $4,
                 software_version = $5, cameras = $6, outbox_depth = $7",
        )
        .bind(status.device.as_str())
        .bind(state)
        .bind(reported)
        .bind(now)
        .bind(status.software_version.as_deref())
        .bind(&cameras)
        .bind(status.outbox_depth.map(|d| d as i64))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        true
    });
    Ok(recorded)
}

/// Every registered device with its latest status, by id.
pub async fn health(db: &Db) -> Result<Vec<DeviceHealth>, DbError> {
    let rows: Vec<HealthRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT d.device_id, d.name, d.revoked_at IS NOT NULL AS revoked, s.state,
                    s.received_at, s.software_version, s.cameras, s.outbox_depth
             FROM devices d LEFT JOIN device_status s ON s.device_id = d.device_id
             ORDER BY d.device_id",
        )
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(DeviceHealth::try_from).collect()
}

/// A device with its latest status, as [`health`] reads it.
#[derive(sqlx::FromRow)]
struct HealthRow {
    device_id: String,
    name: String,
    revoked: bool,
    state: Option<String>,
    received_at: Option<OffsetDateTime>,
    software_version: Option<String>,
    /// The cameras' status as JSON text.
    cameras: Option<String>,
    outbox_depth: Option<i64>,
}

impl TryFrom<HealthRow> for DeviceHealth {
    type Error = DbError;

    fn try_from(row: HealthRow) -> Result<Self, DbError> {
        let cameras = match row.cameras {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| DbError::Corrupt(format!("camera status: {e}")))?,
            None => Vec::new(),
        };
        Ok(Self {
            device_id: row.device_id,
            name: row.name,
            revoked: row.revoked,
            state: row.state,
            heard_at: row.received_at.map(protocol::UtcTimestamp::from_datetime),
            software_version: row.software_version,
            cameras,
            outbox_depth: row.outbox_depth,
        })
    }
}
