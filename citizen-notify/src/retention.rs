//! Retention: what citizen-notify deletes once a case is over for it. The rules, their defaults
//! and their legal grounds are in `docs/privacy.md`.
//!
//! A notice whose case **closed** — paid here, or cancelled by central's answer to a dispute —
//! is emptied `closed_days` after it closed, once no payment of it is still waiting for the
//! gateway's word and every report on it has reached central: its payload (the owner's name and
//! address, the plate, the evidence links) is blanked, and its deliveries with their attempts,
//! the owner's answers (taken and refused), central's decision and dispute resolutions and the
//! reports sent are deleted, in one transaction. The notice's row stays with its id and the
//! hash of its payload, so that central sending the notice again is answered as a duplicate and
//! nothing is delivered twice; so do its payments, the merchant's accounting records. The
//! portal and the owner's data export no longer show it.
//!
//! Cases that close in central without a word to this service (time-barred undecided, moved to
//! the driver the owner named) are not yet emptied here.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use service_kit::{ConfigError, http::Shutdown, on_pool};
use time::OffsetDateTime;

use crate::db::{Db, DbError};

/// How long a closed case's notice is kept (`[retention]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Days a notice is kept after its case closed (paid, or cancelled): as long as central
    /// keeps the case's evidence (its `retention.closed_evidence_days`), so the owner can see
    /// it while the decision can still be complained about or taken to court.
    pub closed_days: u32,
    /// How often the sweep runs.
    pub sweep_interval_s: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            closed_days: 395,
            sweep_interval_s: 3600,
        }
    }
}

impl RetentionSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=36_500).contains(&self.closed_days) {
            return Err(ConfigError::invalid(
                "retention.closed_days",
                "must be 1 to 36500 days",
            ));
        }
        if self.sweep_interval_s == 0 {
            return Err(ConfigError::invalid(
                "retention.sweep_interval_s",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// The condition under which the notice `notices.fine_id` of a case closed before the cutoff
/// (parameter `$1`) may be emptied.
const DUE: &str = "notices.purged_at IS NULL
     AND (EXISTS (SELECT 1 FROM payments p WHERE p.fine_id = notices.fine_id
                    AND p.state = 'paid' AND p.settled_at < $1)
          OR EXISTS (SELECT 1 FROM resolutions r WHERE r.fine_id = notices.fine_id
                       AND r.outcome = 'cancelled' AND r.received_at < $1))
     AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.fine_id = notices.fine_id
                       AND p.state = 'pending')
     AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.fine_id = notices.fine_id
                       AND r.state = 'pending')";

/// Sweeps once at `now`: empties the notices due; their fine ids.
#[tracing::instrument(name = "retention_sweep", skip_all)]
pub async fn sweep(
    db: &Db,
    rules: &RetentionSettings,
    now: OffsetDateTime,
) -> Result<Vec<String>, DbError> {
    let cutoff = now - time::Duration::DAY * i32::try_from(rules.closed_days).unwrap_or(i32::MAX);
    let due: Vec<String> = on_pool!(db, pool => {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT fine_id FROM notices WHERE {DUE} ORDER BY received_at LIMIT 500"
        )))
        .bind(cutoff)
        .fetch_all(pool)
        .await?
    });
    let mut emptied = Vec::new();
    for fine_id in due {
        if empty(db, &fine_id, cutoff, now).await? {
            tracing::info!(fine_id = %fine_id, "notice of a closed case emptied");
            emptied.push(fine_id);
        }
    }
    Ok(emptied)
}

/// Empties the notice of `fine_id` if it is still due (a payment begun or a report queued
/// since it was found keeps it); whether it did.
async fn empty(
    db: &Db,
    fine_id: &str,
    cutoff: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<bool, DbError> {
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let claimed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE notices SET payload = '', status = 'purged', purged_at = $3
             WHERE {DUE} AND fine_id = $2"
        )))
        .bind(cutoff)
        .bind(fine_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "DELETE FROM delivery_attempts
             WHERE delivery_id IN (SELECT id FROM deliveries WHERE fine_id = $1)",
        )
        .bind(fine_id)
        .execute(&mut *tx)
        .await?;
        for table in [
            "deliveries",
            "responses",
            "refused_answers",
            "resolutions",
            "decisions",
            "reports",
            "answer_documents",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE fine_id = $1"
            )))
            .bind(fine_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    })
}

/// Runs until `shutdown`, sweeping every `rules.sweep_interval_s`.
pub async fn run(db: Db, rules: RetentionSettings, shutdown: Shutdown) -> anyhow::Result<()> {
    let every = Duration::from_secs(rules.sweep_interval_s.max(1));
    shutdown
        .every(every, "retention sweep", || async {
            sweep(&db, &rules, OffsetDateTime::now_utc())
                .await
                .map(|_| ())
                .map_err(anyhow::Error::from)
        })
        .await
}
