//! The days the deployment records against the week's rule ([`crate::fines::calendar`]): days
//! off on weekdays and weekend days worked, each from the year's official announcement, each
//! change audited (`calendar:{day}`).

use serde_json::json;
use time::{Date, OffsetDateTime};

use super::{Db, DbError, on_pool};
use crate::{
    audit::{AuditLog, append_in},
    fines::calendar::{Calendar, CalendarDay},
};

/// The day as the table keys it: `YYYY-MM-DD` (its `Display`), which sorts as the days do.
fn key(day: Date) -> String {
    day.to_string()
}

fn parse(text: &str) -> Result<Date, DbError> {
    protocol::time::parse_day(text)
        .map_err(|e| DbError::Corrupt(format!("calendar day `{text}`: {e}")))
}

/// Records `day` (in place of what was recorded for it), audited as done by `actor`.
pub async fn record(
    db: &Db,
    audit: &AuditLog,
    actor: &str,
    day: &CalendarDay,
) -> Result<(), DbError> {
    let postgres = matches!(db, Db::Postgres(_));
    let now = OffsetDateTime::now_utc();
    let _one_at_a_time = audit.lock().await;
    let subject = format!("calendar:{}", key(day.day));
    let details = json!({ "off": day.off, "name": day.name, "reference": day.reference });
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO calendar_days (day, off, name, reference, recorded_by, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (day) DO UPDATE SET off = $2, name = $3, reference = $4,
                                             recorded_by = $5, recorded_at = $6",
        )
        .bind(key(day.day))
        .bind(day.off)
        .bind(&day.name)
        .bind(&day.reference)
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        append_in!(tx, postgres, actor, "calendar.day_recorded", &subject, &details);
        tx.commit().await?;
    });
    Ok(())
}

/// Removes what was recorded for `day`, audited; false when nothing was.
pub async fn remove(db: &Db, audit: &AuditLog, actor: &str, day: Date) -> Result<bool, DbError> {
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    let subject = format!("calendar:{}", key(day));
    let removed = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let removed = sqlx::query("DELETE FROM calendar_days WHERE day = $1")
            .bind(key(day))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        crate::audit::commit_audited!(
            tx,
            postgres,
            removed,
            actor,
            "calendar.day_removed",
            &subject,
            &json!({})
        );
        removed == 1
    });
    Ok(removed)
}

/// The days recorded from `from` to `to`, both included, in order.
pub async fn between(db: &Db, from: Date, to: Date) -> Result<Vec<CalendarDay>, DbError> {
    let rows: Vec<DayRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT day, off, name, reference FROM calendar_days
             WHERE day >= $1 AND day <= $2 ORDER BY day",
        )
        .bind(key(from))
        .bind(key(to))
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(CalendarDay::try_from).collect()
}

/// A `calendar_days` row.
#[derive(sqlx::FromRow)]
struct DayRow {
    /// The day as [`key`] writes it.
    day: String,
    off: bool,
    name: String,
    reference: String,
}

impl TryFrom<DayRow> for CalendarDay {
    type Error = DbError;

    fn try_from(row: DayRow) -> Result<Self, DbError> {
        Ok(Self {
            day: parse(&row.day)?,
            off: row.off,
            name: row.name,
            reference: row.reference,
        })
    }
}

/// The calendar from `from` on: the days recorded from then, with the law's.
pub async fn from(db: &Db, from: Date) -> Result<Calendar, DbError> {
    let days = between(db, from, Date::MAX).await?;
    Ok(Calendar::new(&days))
}
