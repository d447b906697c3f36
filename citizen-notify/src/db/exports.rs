//! The record of each citizen's data export.

use service_kit::on_pool;
use time::OffsetDateTime;

use super::*;

/// Records that `citizen_id` took away their data as `format` at `at`.
pub async fn record_export(
    db: &Db,
    citizen_id: &str,
    format: &str,
    at: OffsetDateTime,
) -> Result<(), DbError> {
    on_pool!(db, pool => {
        sqlx::query("INSERT INTO data_exports (citizen_id, format, exported_at) VALUES ($1, $2, $3)")
            .bind(citizen_id)
            .bind(format)
            .bind(at)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// The exports of `citizen_id`, oldest first: format and when.
pub async fn exports_of(
    db: &Db,
    citizen_id: &str,
) -> Result<Vec<(String, OffsetDateTime)>, DbError> {
    on_pool!(db, pool => {
        Ok(sqlx::query_as(
            "SELECT format, exported_at FROM data_exports WHERE citizen_id = $1
             ORDER BY exported_at, id",
        )
        .bind(citizen_id)
        .fetch_all(pool)
        .await?)
    })
}
