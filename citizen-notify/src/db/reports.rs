//! The outbox of reports to central: what becomes of each fine here, sent until central takes
//! it.

use service_kit::{on_pool, outbox};
use time::OffsetDateTime;

use super::*;

/// A report due to central-api.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueReport {
    pub id: i64,
    /// The update's id: the documents it names are kept under it.
    pub update_id: String,
    pub fine_id: String,
    pub kind: String,
    pub payload: String,
    pub attempts: u32,
}

/// Reports pending and due at `now`, oldest first (at most 50 a pass).
pub async fn due_reports(
    db: &Db,
    key: &SealingKey,
    now: OffsetDateTime,
) -> Result<Vec<DueReport>, DbError> {
    let due: Vec<ReportRow> = outbox::lease(db, &DUE_REPORTS, now).await?;
    due.into_iter()
        .map(|r| {
            Ok(DueReport {
                payload: at_rest::REPORTS.open(Some(key), &r.update_id, r.payload)?,
                id: r.id,
                update_id: r.update_id,
                fine_id: r.fine_id,
                kind: r.kind,
                attempts: u32::try_from(r.attempts).unwrap_or(0),
            })
        })
        .collect()
}

/// The reports still to send; each pass claims its own ([`outbox::lease`]).
const DUE_REPORTS: outbox::Due = outbox::Due {
    table: "reports",
    pending: "state = 'pending'",
    returning: "id, update_id, fine_id, kind, payload, attempts",
    limit: 50,
};

/// A report claimed by a pass.
#[derive(Debug, sqlx::FromRow)]
struct ReportRow {
    id: i64,
    update_id: String,
    fine_id: String,
    kind: String,
    payload: String,
    attempts: i32,
}

/// Moves a report on after an attempt: `delivered`, `refused` (final), or still `pending`
/// until `next`.
pub async fn report_attempted(
    db: &Db,
    id: i64,
    state: &str,
    next: OffsetDateTime,
    error: Option<&str>,
) -> Result<(), DbError> {
    on_pool!(db, pool => {
        sqlx::query(
            "UPDATE reports SET state = $1, attempts = attempts + 1, next_attempt_at = $2,
                                last_error = $3
             WHERE id = $4",
        )
        .bind(state)
        .bind(next)
        .bind(error)
        .bind(id)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// The reports of a fine, oldest first: kind and state.
pub async fn reports_of(db: &Db, fine_id: &str) -> Result<Vec<(String, String)>, DbError> {
    on_pool!(db, pool => {
        Ok(sqlx::query_as("SELECT kind, state FROM reports WHERE fine_id = $1 ORDER BY id")
            .bind(fine_id)
            .fetch_all(pool)
            .await?)
    })
}
