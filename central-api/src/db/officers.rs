//! Officers and sessions.

use time::{Duration, OffsetDateTime};

use super::{
    Db, DbError, on_pool,
    requests::{Confirmation, commit_confirmed, with_confirmation},
};
use crate::{
    audit::{AuditLog, append_in, commit_audited},
    auth::{Officer, Role},
    sealed::{ResealCount, Sealed, SealingKey},
};

/// Creates an officer (or replaces the name, role and password of one) in the caller's
/// transaction `$tx`, as of `$now`. The officer's sessions and bearer tokens end with it: a
/// changed password or role takes effect at once, not when the old sessions expire. Saved
/// again, a locked account is unlocked.
macro_rules! upsert_in {
    ($tx:ident, $officer:expr, $password_hash:expr, $now:expr) => {{
        let (officer, password_hash): (&Officer, &str) = ($officer, $password_hash);
        sqlx::query(
            "INSERT INTO officers (username, full_name, role, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (username) DO UPDATE SET full_name = $2, role = $3, password_hash = $4,
                                                  disabled_at = NULL, locked_at = NULL,
                                                  failed_sign_ins = 0",
        )
        .bind(&officer.username)
        .bind(&officer.full_name)
        .bind(officer.role.as_str())
        .bind(password_hash)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE username = $1")
            .bind(&officer.username)
            .execute(&mut *$tx)
            .await?;
    }};
}

/// Creates an officer (or replaces the name, role and password of one) and ends their
/// sessions, unrecorded: the first officers of a new database and of tests. Everything else
/// goes through [`save`].
pub async fn upsert(db: &Db, officer: &Officer, password_hash: &str) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        upsert_in!(tx, officer, password_hash, now);
        tx.commit().await?;
    });
    Ok(())
}

/// Saves an officer as [`upsert`] does, with its `officer.saved` entry by `actor`, in one
/// transaction; on a second officer's `confirmation` of the request for it, which is marked
/// confirmed in the same transaction. False when that request no longer waits.
pub async fn save(
    db: &Db,
    audit: &AuditLog,
    actor: &str,
    officer: &Officer,
    password_hash: &str,
    confirmation: Option<&Confirmation>,
) -> Result<bool, DbError> {
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let details = with_confirmation(
        serde_json::json!({ "role": officer.role.as_str(), "full_name": officer.full_name }),
        confirmation,
    );
    let _one_at_a_time = audit.lock().await;
    let entry = (actor, "officer.saved", &officer.actor(), &details);
    let saved = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        commit_confirmed!(tx, postgres, confirmation, now, entry, {
            upsert_in!(tx, officer, password_hash, now);
        })
    });
    Ok(saved)
}

/// Disables an officer as `actor` and ends their sessions, with its `officer.disabled` entry,
/// in one transaction; they can no longer sign in (saving them again enables them). False when
/// there is no such active officer.
pub async fn disable(
    db: &Db,
    audit: &AuditLog,
    actor: &str,
    username: &str,
) -> Result<bool, DbError> {
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
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
        let subject = format!("officer:{username}");
        let details = serde_json::json!({});
        commit_audited!(tx, postgres, changed, actor, "officer.disabled", &subject, &details);
        changed == 1
    });
    Ok(disabled)
}

/// An officer as [`list`] reads them.
#[derive(sqlx::FromRow)]
struct OfficerRow {
    username: String,
    full_name: String,
    role: String,
}

impl TryFrom<OfficerRow> for Officer {
    type Error = DbError;

    fn try_from(r: OfficerRow) -> Result<Self, DbError> {
        let OfficerRow {
            username,
            full_name,
            role,
        } = r;
        let role = Role::parse(&role)
            .ok_or_else(|| DbError::Corrupt(format!("officer {username}: role {role}")))?;
        Ok(Self {
            username,
            full_name,
            role,
        })
    }
}

/// Every active officer, by username.
pub async fn list(db: &Db) -> Result<Vec<Officer>, DbError> {
    let rows: Vec<OfficerRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT username, full_name, role FROM officers WHERE disabled_at IS NULL
             ORDER BY username",
        )
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(Officer::try_from).collect()
}

/// An active officer as sign-in needs them.
#[derive(Debug, Clone)]
pub struct Found {
    pub officer: Officer,
    pub password_hash: String,
    /// Locked by failed sign-ins until an administrator unlocks the account.
    pub locked: bool,
    /// The officer's TOTP secret, sealed (`crate::sealed`), when they have a second factor.
    pub totp_secret: Option<String>,
}

/// An active officer as [`find`] reads them.
#[derive(sqlx::FromRow)]
struct FoundRow {
    username: String,
    full_name: String,
    role: String,
    password_hash: String,
    locked: bool,
    totp_secret: Option<String>,
}

impl TryFrom<FoundRow> for Found {
    type Error = DbError;

    fn try_from(r: FoundRow) -> Result<Self, DbError> {
        let role =
            Role::parse(&r.role).ok_or_else(|| DbError::Corrupt(format!("role `{}`", r.role)))?;
        Ok(Self {
            officer: Officer {
                username: r.username,
                full_name: r.full_name,
                role,
            },
            password_hash: r.password_hash,
            locked: r.locked,
            totp_secret: r.totp_secret,
        })
    }
}

/// An active officer, their password hash and whether their account is locked.
pub async fn find(db: &Db, username: &str) -> Result<Option<Found>, DbError> {
    let row: Option<FoundRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT username, full_name, role, password_hash, locked_at IS NOT NULL AS locked,
                    totp_secret
             FROM officers WHERE username = $1 AND disabled_at IS NULL",
        )
        .bind(username)
        .fetch_optional(pool)
        .await?
    });
    row.map(Found::try_from).transpose()
}

/// What an officer's TOTP secret is sealed for: it opens in their row only.
pub fn totp_owner(username: &str) -> String {
    format!("officer-totp:{username}")
}

/// Gives an active officer a second factor (`Some` secret, sealed for [`totp_owner`]) or takes
/// it away (`None`). False when there is no such active officer.
pub async fn set_totp(db: &Db, username: &str, secret: Option<&Sealed>) -> Result<bool, DbError> {
    let changed = on_pool!(db, pool => {
        sqlx::query(
            "UPDATE officers SET totp_secret = $1, totp_last_step = NULL
             WHERE username = $2 AND disabled_at IS NULL",
        )
        .bind(secret.map(Sealed::as_str))
        .bind(username)
        .execute(pool)
        .await?
        .rows_affected()
    });
    Ok(changed == 1)
}

/// Brings every officer's TOTP secret under the current `key`: those kept in the clear
/// before secrets were sealed, and those sealed under a former key. Run at start, before any
/// sign-in reads them.
pub async fn reseal_totp(db: &Db, key: &SealingKey) -> anyhow::Result<ResealCount> {
    let rows: Vec<(String, String)> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT username, totp_secret FROM officers WHERE totp_secret IS NOT NULL",
        )
        .fetch_all(pool)
        .await
        .map_err(DbError::from)?
    });
    let mut count = ResealCount::default();
    for (username, secret) in rows {
        let Some(value) = count.record(key.reseal(&secret, &totp_owner(&username)))? else {
            continue;
        };
        // Only the secret as read: one enrolled meanwhile is sealed under the current key.
        on_pool!(db, pool => {
            sqlx::query(
                "UPDATE officers SET totp_secret = $1 WHERE username = $2 AND totp_secret = $3",
            )
            .bind(value.as_str())
            .bind(&username)
            .bind(&secret)
            .execute(pool)
            .await
            .map_err(DbError::from)?;
        });
    }
    Ok(count)
}

/// Records that the officer used the code of `step`: false when a code of that step or a later
/// one was used before (a code is good once).
pub async fn use_totp_step(db: &Db, username: &str, step: i64) -> Result<bool, DbError> {
    let changed = on_pool!(db, pool => {
        sqlx::query(
            "UPDATE officers SET totp_last_step = $1
             WHERE username = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(username)
        .execute(pool)
        .await?
        .rows_affected()
    });
    Ok(changed == 1)
}

/// Counts a failed sign-in of an active officer, locking the account when it makes
/// `lock_after` in a row, with its `officer.sign_in_failed` entry (`details`, and the failures in
/// a row) and, when it locks, `officer.locked`, in one transaction. Returns the failures in a
/// row and whether this one locked it; `None` (and nothing recorded) for no active officer.
pub async fn sign_in_failed(
    db: &Db,
    audit: &AuditLog,
    username: &str,
    lock_after: u32,
    details: serde_json::Value,
) -> Result<Option<(u32, bool)>, DbError> {
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let subject = format!("officer:{username}");
    let _one_at_a_time = audit.lock().await;
    let row = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let before = sqlx::query_as::<_, (i32, bool)>(
            "UPDATE officers SET failed_sign_ins = failed_sign_ins + 1
             WHERE username = $1 AND disabled_at IS NULL
             RETURNING failed_sign_ins, locked_at IS NOT NULL AS locked",
        )
        .bind(username)
        .fetch_optional(&mut *tx)
        .await?;
        let locks = before.is_some_and(|(failed, locked)| {
            !locked && i64::from(failed) >= i64::from(lock_after.max(1))
        });
        if locks {
            sqlx::query("UPDATE officers SET locked_at = $1 WHERE username = $2")
                .bind(now)
                .bind(username)
                .execute(&mut *tx)
                .await?;
        }
        if let Some((failed, _)) = before {
            let mut details = details.clone();
            if let Some(map) = details.as_object_mut() {
                map.insert("failures_in_a_row".into(), failed.into());
            }
            append_in!(tx, postgres, &subject, "officer.sign_in_failed", &subject, &details);
            if locks {
                let details = serde_json::json!({ "failures_in_a_row": failed });
                append_in!(tx, postgres, &subject, "officer.locked", &subject, &details);
            }
        }
        tx.commit().await?;
        before.map(|(failed, _)| (u32::try_from(failed).unwrap_or(0), locks))
    });
    Ok(row)
}

/// Unlocks, as `actor`, an account locked by failed sign-ins, with its `officer.unlocked`
/// entry in the same transaction. False when it was not locked.
pub async fn unlock(
    db: &Db,
    audit: &AuditLog,
    actor: &str,
    username: &str,
) -> Result<bool, DbError> {
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    let changed = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE officers SET locked_at = NULL, failed_sign_ins = 0
             WHERE username = $1 AND locked_at IS NOT NULL",
        )
        .bind(username)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let subject = format!("officer:{username}");
        let details = serde_json::json!({});
        commit_audited!(tx, postgres, changed, actor, "officer.unlocked", &subject, &details);
        changed
    });
    Ok(changed == 1)
}

/// Opens a session after a successful sign-in: stores the token's digest with its CSRF token
/// and expiry, starts the failures in a row again from none, and appends `officer.signed_in`,
/// in one transaction.
pub async fn open_session(
    db: &Db,
    audit: &AuditLog,
    username: &str,
    (token_sha256, csrf): (&str, &str),
    ttl: Duration,
) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let subject = format!("officer:{username}");
    let _one_at_a_time = audit.lock().await;
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE officers SET failed_sign_ins = 0 WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_sha256, username, csrf_token, created_at, expires_at,
                                   last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $4)",
        )
        .bind(token_sha256)
        .bind(username)
        .bind(csrf)
        .bind(now)
        .bind(now + ttl)
        .execute(&mut *tx)
        .await?;
        append_in!(tx, postgres, &subject, "officer.signed_in", &subject, &serde_json::json!({}));
        tx.commit().await?;
    });
    Ok(())
}

/// How stale a session's last use may be before it is written again: a busy officer's every
/// request need not be a write.
const SEEN_EVERY: Duration = Duration::seconds(30);

/// A live session as [`session`] reads it: its officer, CSRF token and last use.
#[derive(sqlx::FromRow)]
struct SessionRow {
    username: String,
    csrf_token: String,
    seen: OffsetDateTime,
}

/// The officer and CSRF token of a live session: not expired, and used within `idle` (its use
/// now recorded).
pub async fn session(
    db: &Db,
    token_sha256: &str,
    idle: Duration,
) -> Result<Option<(Officer, String)>, DbError> {
    let now = OffsetDateTime::now_utc();
    let row = on_pool!(db, pool => {
        let row = sqlx::query_as::<_, SessionRow>(
            "SELECT o.username, s.csrf_token, COALESCE(s.last_seen_at, s.created_at) AS seen
             FROM sessions s JOIN officers o ON o.username = s.username
             WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND o.disabled_at IS NULL
               AND COALESCE(s.last_seen_at, s.created_at) > $3",
        )
        .bind(token_sha256)
        .bind(now)
        .bind(now - idle)
        .fetch_optional(pool)
        .await?;
        // Written only when stale, not on every request.
        if row.as_ref().is_some_and(|r| r.seen < now - SEEN_EVERY.min(idle / 2)) {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_sha256 = $2")
                .bind(now)
                .bind(token_sha256)
                .execute(pool)
                .await?;
        }
        row.map(|r| (r.username, r.csrf_token))
    });
    let Some((username, csrf)) = row else {
        return Ok(None);
    };
    Ok(find(db, &username)
        .await?
        .map(|found| (found.officer, csrf)))
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
