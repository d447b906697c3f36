//! What every outbox relay shares (feature `db`): claiming the rows that are due so that one
//! worker alone tries each — with several replicas of a service running, a notice must not be
//! sent, nor an SMS texted, twice because two workers read the same due row.
//!
//! A relay's table keeps, per row, when it is next due (`next_attempt_at`). [`lease`] claims up
//! to `limit` due rows in one statement by pushing their `next_attempt_at` to the end of the
//! lease: other workers pass over them until then, and the worker that holds them writes the
//! real next time (or the row's end) after its attempt. A worker that dies mid-pass leaves its
//! rows to be tried again when the lease runs out. On PostgreSQL the candidate rows are locked
//! with `FOR UPDATE SKIP LOCKED`, so two workers neither wait for each other nor claim the same
//! row; SQLite has one writer at a time, which makes its `UPDATE … RETURNING` atomic already.

use sqlx::{FromRow, postgres::PgRow, sqlite::SqliteRow};
use time::OffsetDateTime;

use crate::db::{Db, DbError};

/// How long a claimed row is left to the worker that claimed it: longer than a pass of
/// `limit` attempts each within its request timeout takes.
pub const LEASE: time::Duration = time::Duration::minutes(5);

/// Which rows of a relay's table are due, and what a claim returns of them.
#[derive(Debug, Clone, Copy)]
pub struct Due {
    /// The table (a constant of the relay, never input).
    pub table: &'static str,
    /// What makes a row still to be sent, besides being due (`state = 'pending'`).
    pub pending: &'static str,
    /// The columns returned, as the row type reads them.
    pub returning: &'static str,
    /// At most this many rows a pass.
    pub limit: u32,
}

/// Claims the rows of `due` whose `next_attempt_at` is at or before `now`, until `now` +
/// [`LEASE`]; returns them, oldest due first as far as the engine orders its candidates.
pub async fn lease<R>(db: &Db, due: &Due, now: OffsetDateTime) -> Result<Vec<R>, DbError>
where
    R: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
{
    let Due {
        table,
        pending,
        returning,
        limit,
    } = *due;
    // SQLite has one writer at a time: its candidates need no lock.
    let lock = match db {
        Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let claim = format!(
        "UPDATE {table} SET next_attempt_at = $2 WHERE id IN (
             SELECT id FROM {table} WHERE {pending} AND next_attempt_at <= $1
             ORDER BY next_attempt_at, id LIMIT {limit}{lock})
         RETURNING {returning}"
    );
    Ok(crate::on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(claim))
            .bind(now)
            .bind(now + LEASE)
            .fetch_all(pool)
            .await?
    }))
}

/// One attempt's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Worth trying again later.
    Retry(String),
    /// The receiver refused it; trying again would not help.
    Refused(String),
}

/// A receiver's HTTP answer as an outcome, the same for every relay: 2xx delivered; no answer
/// (a timeout, a connection refused), 5xx, 408, 425 or 429 worth another try; any other answer
/// a refusal (the message itself, or a key or an address the receiver does not accept: retried
/// as it is, it would be refused again).
pub async fn classify(sent: Result<reqwest::Response, reqwest::Error>) -> Outcome {
    match sent {
        Ok(r) if r.status().is_success() => Outcome::Delivered,
        Ok(r) => {
            let status = r.status();
            let text = crate::tls::error_text(r).await;
            let detail = format!("{status}: {}", text.chars().take(300).collect::<String>());
            let transient = status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429);
            if transient {
                Outcome::Retry(detail)
            } else {
                Outcome::Refused(detail)
            }
        }
        Err(e) => Outcome::Retry(e.to_string()),
    }
}
