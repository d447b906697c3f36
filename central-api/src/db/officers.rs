//! Officers and sessions.

use sqlx::Row;
use time::{Duration, OffsetDateTime};

use super::{Db, DbError, on_pool};
use crate::auth::{Officer, Role};

/// Creates an officer (or replaces the name, role and password of one). The officer's sessions
/// and bearer tokens end in the same transaction: a changed password or role takes effect at
/// once, not when the old sessions expire.
pub async fn upsert(db: &Db, officer: &Officer, password_hash: &str) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO officers (username, full_name, role, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (username) DO UPDATE SET full_name = $2, role = $3, password_hash = $4,
                                                  disabled_at = NULL",
        )
        .bind(&officer.username)
        .bind(&officer.full_name)
        .bind(officer.role.as_str())
        .bind(password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE username = $1")
            .bind(&officer.username)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Disables an officer and ends their sessions, in one transaction; they can no longer sign
/// in (saving them again enables them). False when there is no such active officer.
pub async fn disable(db: &Db, username: &str) -> Result<bool, DbError> {
    let now = OffsetDateTime::now_utc();
    let disabled = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE officers SET disabled_at = $1 WHERE username = $2 AND disabled_at IS NULL",
        )
        .bind(now)
        .bind(username)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM sessions WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        changed == 1
    });
    Ok(disabled)
}

/// Every active officer, by username.
pub async fn list(db: &Db) -> Result<Vec<Officer>, DbError> {
    let rows = on_pool!(db, pool => {
        sqlx::query(
            "SELECT username, full_name, role FROM officers WHERE disabled_at IS NULL
             ORDER BY username",
        )
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|row| -> Result<_, DbError> {
            Ok((
                row.try_get::<String, _>("username")?,
                row.try_get::<String, _>("full_name")?,
                row.try_get::<String, _>("role")?,
            ))
        })
        .collect::<Result<Vec<_>, _>>()?
    });
    rows.into_iter()
        .map(|(username, full_name, role)| {
            let role = Role::parse(&role)
                .ok_or_else(|| DbError::Corrupt(format!("officer {username}: role {role}")))?;
            Ok(Officer {
                username,
                full_name,
                role,
            })
        })
        .collect()
}

/// An active officer and their password hash.
pub async fn find(db: &Db, username: &str) -> Result<Option<(Officer, String)>, DbError> {
    let row = on_pool!(db, pool => {
        sqlx::query(
            "SELECT username, full_name, role, password_hash FROM officers
             WHERE username = $1 AND disabled_at IS NULL",
        )
        .bind(username)
        .fetch_optional(pool)
        .await?
        .map(|row| {
            Ok::<_, sqlx::Error>((
                row.try_get::<String, _>("username")?,
                row.try_get::<String, _>("full_name")?,
                row.try_get::<String, _>("role")?,
                row.try_get::<String, _>("password_hash")?,
            ))
        })
        .transpose()?
    });
    row.map(|(username, full_name, role, hash)| {
        let role = Role::parse(&role).ok_or_else(|| DbError::Corrupt(format!("role `{role}`")))?;
        Ok((
            Officer {
                username,
                full_name,
                role,
            },
            hash,
        ))
    })
    .transpose()
}

/// Opens a session: stores the token's digest with its CSRF token and expiry.
pub async fn open_session(
    db: &Db,
    username: &str,
    token_sha256: &str,
    csrf: &str,
    ttl: Duration,
) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO sessions (token_sha256, username, csrf_token, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_sha256)
        .bind(username)
        .bind(csrf)
        .bind(now)
        .bind(now + ttl)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// The officer and CSRF token of a live session.
pub async fn session(db: &Db, token_sha256: &str) -> Result<Option<(Officer, String)>, DbError> {
    let now = OffsetDateTime::now_utc();
    let row = on_pool!(db, pool => {
        sqlx::query(
            "SELECT o.username, s.csrf_token FROM sessions s
             JOIN officers o ON o.username = s.username
             WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND o.disabled_at IS NULL",
        )
        .bind(token_sha256)
        .bind(now)
        .fetch_optional(pool)
        .await?
        .map(|row| {
            Ok::<_, sqlx::Error>((
                row.try_get::<String, _>("username")?,
                row.try_get::<String, _>("csrf_token")?,
            ))
        })
        .transpose()?
    });
    let Some((username, csrf)) = row else {
        return Ok(None);
    };
    Ok(find(db, &username)
        .await?
        .map(|(officer, _)| (officer, csrf)))
}

pub async fn close_session(db: &Db, token_sha256: &str) -> Result<(), DbError> {
    on_pool!(db, pool => {
        sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
            .bind(token_sha256)
            .execute(pool)
            .await?;
    });
    Ok(())
}
