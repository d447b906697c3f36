//! The review queue: its filters, one page of it oldest first with a capped count, and where
//! an officer goes next after a decision.

use protocol::{EventId, UtcTimestamp};
use serde::Serialize;
use time::OffsetDateTime;

use crate::db::{Db, DbError, on_pool, violations::Status};

/// Filters of the queue; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub status: Option<Status>,
    pub kind: Option<String>,
    pub camera: Option<String>,
    pub plate: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub limit: i64,
    pub offset: i64,
}

/// One line of the queue.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    pub event_id: String,
    pub device: String,
    pub camera: String,
    pub kind: String,
    pub vehicle_class: String,
    pub plate: Option<String>,
    pub plate_colour: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: UtcTimestamp,
    pub status: String,
    pub owner_lookup: Option<String>,
}

/// One page of the queue.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueuePage {
    pub items: Vec<QueueItem>,
    /// How many violations match the filter in all, counted up to [`TOTAL_CAP`].
    pub total: i64,
    /// Whether `total` is the whole count (false: more than [`TOTAL_CAP`] match).
    pub total_exact: bool,
}

/// The most a queue page's `total` counts: past it the page says "1000+", and a queue of
/// hundreds of thousands (the backlog of a province after an outage) does not make every page
/// count them all.
pub const TOTAL_CAP: i64 = 1_000;

/// Appends to `$q` the `WHERE` of filter `$f`, only the conditions given: each combination is a
/// statement of its own with a plan that uses its index (a generic plan of `$1 IS NULL OR status
/// = $1` cannot, and scans the table).
macro_rules! push_filters {
    ($q:ident, $f:expr) => {{
        let f: &QueueFilter = $f;
        $q.push(" WHERE TRUE");
        if let Some(status) = f.status {
            $q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(kind) = &f.kind {
            $q.push(" AND kind = ").push_bind(kind.clone());
        }
        if let Some(camera) = &f.camera {
            $q.push(" AND camera_id = ").push_bind(camera.clone());
        }
        if let Some(plate) = &f.plate {
            $q.push(" AND (plate_text = ")
                .push_bind(plate.clone())
                .push(" OR corrected_plate = ")
                .push_bind(plate.clone())
                .push(")");
        }
        if let Some(from) = f.from {
            $q.push(" AND occurred_at >= ").push_bind(from);
        }
        if let Some(to) = f.to {
            $q.push(" AND occurred_at < ").push_bind(to);
        }
    }};
}

/// A line of the queue as stored.
#[derive(sqlx::FromRow)]
struct QueueRow {
    event_id: uuid::Uuid,
    device_id: String,
    camera_id: String,
    kind: String,
    vehicle_class: String,
    plate: Option<String>,
    plate_colour: Option<String>,
    occurred_at: OffsetDateTime,
    status: String,
    owner_lookup: Option<String>,
}

impl From<QueueRow> for QueueItem {
    fn from(r: QueueRow) -> Self {
        Self {
            event_id: r.event_id.hyphenated().to_string(),
            device: r.device_id,
            camera: r.camera_id,
            kind: r.kind,
            vehicle_class: r.vehicle_class,
            plate: r.plate,
            plate_colour: r.plate_colour,
            occurred_at: UtcTimestamp::from_datetime(r.occurred_at),
            status: r.status,
            owner_lookup: r.owner_lookup,
        }
    }
}

/// One page of the queue, oldest first, and how many match the filter (up to [`TOTAL_CAP`]).
pub async fn list(db: &Db, f: &QueueFilter) -> Result<QueuePage, DbError> {
    list_counting(db, f, TOTAL_CAP).await
}

/// [`list`], counting up to `cap`.
pub async fn list_counting(db: &Db, f: &QueueFilter, cap: i64) -> Result<QueuePage, DbError> {
    let (rows, counted) = on_pool!(db, pool => {
        let mut page = sqlx::QueryBuilder::new(
            "SELECT event_id, device_id, camera_id, kind, vehicle_class,
                    COALESCE(corrected_plate, plate_text) AS plate, plate_colour, occurred_at,
                    status, owner_lookup
             FROM violations",
        );
        push_filters!(page, f);
        page.push(" ORDER BY occurred_at, event_id LIMIT ")
            .push_bind(f.limit)
            .push(" OFFSET ")
            .push_bind(f.offset);
        let rows: Vec<QueueRow> = page.build_query_as().fetch_all(pool).await?;
        let mut count = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM (SELECT 1 FROM violations");
        push_filters!(count, f);
        count.push(" LIMIT ").push_bind(cap + 1).push(") AS capped");
        let counted: i64 = count.build_query_scalar().fetch_one(pool).await?;
        (rows, counted)
    });
    Ok(QueuePage {
        items: rows.into_iter().map(QueueItem::from).collect(),
        total: counted.min(cap),
        total_exact: counted <= cap,
    })
}

/// The violation pending review that comes after `id` in the queue's order (oldest first), or
/// the first one when none comes after: where an officer goes next after a decision.
pub async fn next_pending(db: &Db, id: &EventId) -> Result<Option<EventId>, DbError> {
    let next = on_pool!(db, pool => {
        sqlx::query_scalar::<_, uuid::Uuid>(
            "SELECT v.event_id FROM violations v
             LEFT JOIN violations this ON this.event_id = $1
             WHERE v.status = $2 AND v.event_id <> $1
             ORDER BY CASE WHEN this.event_id IS NULL
                             OR v.occurred_at > this.occurred_at
                             OR (v.occurred_at = this.occurred_at AND v.event_id > this.event_id)
                           THEN 0 ELSE 1 END,
                      v.occurred_at, v.event_id
             LIMIT 1",
        )
        .bind(*id.as_uuid())
        .bind(Status::PendingReview.as_str())
        .fetch_optional(pool)
        .await?
    });
    Ok(next.and_then(|uuid| EventId::from_uuid(uuid).ok()))
}
