//! The device registry: which boxes may report, and the keys their events are signed with.

use protocol::{DeviceId, DevicePublicKey};
use sqlx::Row;
use time::OffsetDateTime;

use super::{Db, DbError, on_pool};

/// A registered device.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: DeviceId,
    pub public_key: DevicePublicKey,
    pub name: String,
    pub registered_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// Registers a device, or replaces the key of one already registered (key rotation).
pub async fn register(
    db: &Db,
    id: &DeviceId,
    key: &DevicePublicKey,
    name: &str,
) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO devices (device_id, public_key, name, registered_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (device_id) DO UPDATE SET public_key = $2, name = $3, revoked_at = NULL",
        )
        .bind(id.as_str())
        .bind(key.to_base64())
        .bind(name)
        .bind(now)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// Revokes a device: its events are refused from now on.
pub async fn revoke(db: &Db, id: &DeviceId) -> Result<bool, DbError> {
    let now = OffsetDateTime::now_utc();
    let done = on_pool!(db, pool => {
        sqlx::query("UPDATE devices SET revoked_at = $1 WHERE device_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id.as_str())
            .execute(pool)
            .await?
            .rows_affected()
    });
    Ok(done == 1)
}

/// The key events of `id` must verify with, when the device is registered and not revoked.
pub async fn active_key(db: &Db, id: &DeviceId) -> Result<Option<DevicePublicKey>, DbError> {
    let key: Option<String> = on_pool!(db, pool => {
        sqlx::query("SELECT public_key FROM devices WHERE device_id = $1 AND revoked_at IS NULL")
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?
            .map(|row| row.try_get("public_key"))
            .transpose()?
    });
    // A key that no longer parses is treated as no key: the event goes to dead letters.
    Ok(key.and_then(|k| DevicePublicKey::from_base64(&k).ok()))
}
