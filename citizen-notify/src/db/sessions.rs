//! Citizens' sign-ins in flight (`state`, nonce and PKCE verifier, used once) and their
//! sessions, each kept as its token's SHA-256.

use service_kit::on_pool;
use time::OffsetDateTime;

use super::*;

/// Records a sign-in in flight, to be taken once by the callback.
pub async fn begin_sign_in(
    db: &Db,
    state: &str,
    nonce: &str,
    verifier: &str,
) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        // Sign-ins never finished are forgotten after ten minutes.
        sqlx::query("DELETE FROM sign_ins WHERE created_at < $1")
            .bind(now - time::Duration::minutes(10))
            .execute(pool)
            .await?;
        sqlx::query("INSERT INTO sign_ins (state, nonce, verifier, created_at) VALUES ($1, $2, $3, $4)")
            .bind(state)
            .bind(nonce)
            .bind(verifier)
            .bind(now)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Takes the sign-in of `state` (nonce, PKCE verifier): once, and only within ten minutes.
pub async fn take_sign_in(db: &Db, state: &str) -> Result<Option<(String, String)>, DbError> {
    let since = OffsetDateTime::now_utc() - time::Duration::minutes(10);
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let found: Option<(String, String)> = sqlx::query_as(
            "SELECT nonce, verifier FROM sign_ins WHERE state = $1 AND created_at >= $2",
        )
        .bind(state)
        .bind(since)
        .fetch_optional(&mut *tx)
        .await?;
        let taken = sqlx::query("DELETE FROM sign_ins WHERE state = $1")
            .bind(state)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(found.filter(|_| taken == 1))
    })
}

/// A signed-in citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitizenSession {
    pub citizen_id: String,
    pub name: String,
    pub csrf: String,
}

/// A session as `sessions` holds it.
#[derive(sqlx::FromRow)]
struct SessionRow {
    citizen_id: String,
    name: String,
    csrf: String,
}

impl From<SessionRow> for CitizenSession {
    fn from(row: SessionRow) -> Self {
        Self {
            citizen_id: row.citizen_id,
            name: row.name,
            csrf: row.csrf,
        }
    }
}

pub async fn open_session(
    db: &Db,
    key: &SealingKey,
    token_sha256: &str,
    session: &CitizenSession,
    ttl: time::Duration,
) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    let name = at_rest::SESSIONS.seal(Some(key), token_sha256, &session.name)?;
    on_pool!(db, pool => {
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_sha256, citizen_id, name, csrf, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_sha256)
        .bind(&session.citizen_id)
        .bind(name)
        .bind(&session.csrf)
        .bind(now + ttl)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// The live session of a token's digest.
pub async fn session(
    db: &Db,
    key: &SealingKey,
    token_sha256: &str,
) -> Result<Option<CitizenSession>, DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        Ok(sqlx::query_as::<_, SessionRow>(
            "SELECT citizen_id, name, csrf FROM sessions
             WHERE token_sha256 = $1 AND expires_at > $2",
        )
        .bind(token_sha256)
        .bind(now)
        .fetch_optional(pool)
        .await?
        .map(|mut row: SessionRow| -> Result<CitizenSession, DbError> {
            row.name = at_rest::SESSIONS.open(Some(key), token_sha256, row.name)?;
            Ok(row.into())
        })
        .transpose()?)
    })
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
