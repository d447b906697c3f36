//! Counts of violations for the operations centre: by hour in Vietnam's time, place (device and
//! camera), kind and status. The database groups; [`crate::stats`] shapes the counts.

use time::OffsetDateTime;

use super::{Db, DbError, on_pool};

/// The violations of one hour (Vietnam's time) at one camera, of one kind, in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// `2025-11-26 15`: the day and hour in Vietnam.
    pub hour: String,
    pub device_id: String,
    /// The name the device was registered with (its site).
    pub device_name: String,
    pub camera_id: String,
    pub kind: String,
    pub status: String,
    pub count: i64,
}

/// The grouping query around an engine's expression of the day and hour in Vietnam, which keeps
/// UTC+7 all year: a fixed shift is its local time.
macro_rules! buckets_sql {
    ($hour:literal) => {
        concat!(
            "SELECT ",
            $hour,
            " AS hour,
                    v.device_id, COALESCE(MAX(d.name), '') AS device_name, v.camera_id, v.kind,
                    v.status, COUNT(*) AS n
             FROM violations v LEFT JOIN devices d ON d.device_id = v.device_id
             WHERE v.occurred_at >= $1 AND v.occurred_at < $2
             GROUP BY 1, v.device_id, v.camera_id, v.kind, v.status
             ORDER BY 1, v.device_id, v.camera_id, v.kind, v.status"
        )
    };
}

const POSTGRES: &str = buckets_sql!(
    "to_char((v.occurred_at AT TIME ZONE 'UTC') + INTERVAL '7 hours', 'YYYY-MM-DD HH24')"
);
const SQLITE: &str = buckets_sql!("strftime('%Y-%m-%d %H', v.occurred_at, '+7 hours')");

/// The buckets of the violations that occurred in `[from, to)`, in hour order.
pub async fn buckets(
    db: &Db,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<Vec<Bucket>, DbError> {
    let sql = match db {
        Db::Postgres(_) => POSTGRES,
        Db::Sqlite(_) => SQLITE,
    };
    let rows: Vec<BucketRow> = on_pool!(db, pool => {
        sqlx::query_as(sql).bind(from).bind(to).fetch_all(pool).await?
    });
    Ok(rows.into_iter().map(Bucket::from).collect())
}

/// A row of the query `buckets_sql!` makes.
#[derive(sqlx::FromRow)]
struct BucketRow {
    hour: Option<String>,
    device_id: String,
    device_name: String,
    camera_id: String,
    kind: String,
    status: String,
    n: i64,
}

impl From<BucketRow> for Bucket {
    fn from(row: BucketRow) -> Self {
        Self {
            hour: row.hour.unwrap_or_default(),
            device_id: row.device_id,
            device_name: row.device_name,
            camera_id: row.camera_id,
            kind: row.kind,
            status: row.status,
            count: row.n,
        }
    }
}
