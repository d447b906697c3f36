//! The deadlines of a case, kept by a sweep ([`sweep`], run by [`run`]):
//!
//! - **No answer in 20 days** (Circular 73/2024/TT-BCA, Article 24 clause 5): a case whose
//!   notice was not answered by its `answer_due` gets its warnings — to the vehicle
//!   registration authority, and to the inspection authority (Đăng kiểm) for a car; for a
//!   motorbike, which is not inspected, the notice through the commune police of the owner's
//!   residence (form 04) — each recorded once, with when.
//! - **Warnings lifted** when the case ends (paid, closed without a penalty, moved to the
//!   driver the owner named, or time-barred): the end of the warning is recorded.
//! - **Time bar** (Law 15/2012/QH13, Article 6 clause 1 point a): a case not decided one year
//!   after the violation's day is closed, `time_barred`, nothing owed.
//!
//! Each step and its entry in the audit trail, under its violation, commit together.

use std::time::Duration;

use protocol::ResolutionGround;
use serde::Serialize;
use serde_json::json;
use service_kit::http::Shutdown;
use time::OffsetDateTime;

use super::{Db, DbError, disputes::closed_by_central, on_pool};
use crate::{
    audit::{AuditLog, append_in},
    fines::{VehicleCategory, process},
};

/// Who a warning goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Addressee {
    /// The vehicle registration authority.
    Registration,
    /// The inspection authority (Đăng kiểm): cars.
    Inspection,
    /// The commune police of the owner's residence (form 04): motorbikes.
    CommunePolice,
}

impl Addressee {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Inspection => "inspection",
            Self::CommunePolice => "commune_police",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Registration, Self::Inspection, Self::CommunePolice]
            .into_iter()
            .find(|a| a.as_str() == name)
    }

    /// Who is warned about an unanswered notice for a vehicle of `category`.
    pub fn for_vehicle(category: VehicleCategory) -> [Self; 2] {
        match category {
            VehicleCategory::Car => [Self::Registration, Self::Inspection],
            VehicleCategory::Motorbike => [Self::Registration, Self::CommunePolice],
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Self::Registration => "Cơ quan đăng ký xe",
            Self::Inspection => "Cơ quan đăng kiểm",
            Self::CommunePolice => "Công an cấp xã nơi chủ phương tiện cư trú (mẫu 04)",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Registration => "Vehicle registration authority",
            Self::Inspection => "Inspection authority",
            Self::CommunePolice => "Commune police of the owner's residence (form 04)",
        }
    }
}

/// A warning of a case.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Warning {
    pub addressee: Addressee,
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: protocol::UtcTimestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub lifted_at: Option<protocol::UtcTimestamp>,
}

/// What one sweep did: the cases (fine id, violation id) warned, whose warnings were lifted,
/// and closed as time-barred.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Swept {
    pub warned: Vec<(String, uuid::Uuid)>,
    pub lifted: Vec<(String, uuid::Uuid)>,
    pub barred: Vec<(String, uuid::Uuid)>,
}

/// Cases handled in one sweep at most, for each step.
const BATCH: i64 = 500;

/// The audit entry of a deadline step on the case `fine_id` of violation `event_id`, appended in
/// the step's own transaction `$tx`.
macro_rules! step_entry {
    ($tx:ident, $postgres:expr, $action:expr, $fine_id:expr, $event_id:expr) => {
        append_in!(
            $tx,
            $postgres,
            "system",
            $action,
            &format!("violation:{}", $event_id.hyphenated()),
            &json!({ "fine_id": $fine_id })
        )
    };
}

/// A case whose notice went unanswered, with the class of its vehicle.
#[derive(sqlx::FromRow)]
struct UnansweredRow {
    fine_id: String,
    event_id: uuid::Uuid,
    vehicle_class: String,
}

/// A case not decided, with when its violation happened.
#[derive(sqlx::FromRow)]
struct UndecidedRow {
    fine_id: String,
    event_id: uuid::Uuid,
    occurred_at: OffsetDateTime,
}

/// Keeps the deadlines as of `now`: each case's step and its audit entry in one transaction.
#[tracing::instrument(name = "deadline_sweep", skip_all)]
pub async fn sweep(db: &Db, audit: &AuditLog, now: OffsetDateTime) -> Result<Swept, DbError> {
    let mut swept = Swept::default();
    // A violation is barred when a year has passed since its day: every violation at least a
    // year and a day old is looked at, and `process::time_bar` says exactly.
    let year_ago = now - time::Duration::days(365);
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    on_pool!(db, pool => {
        // Not answered yet: issued, its notice sent, delivered or failed.
        let rows = sqlx::query_as::<_, UnansweredRow>(
            "SELECT f.fine_id, f.event_id, v.vehicle_class FROM fines f
             JOIN violations v ON v.event_id = f.event_id
             WHERE f.status IN ('issued', 'notice_sent', 'notice_delivered', 'notice_failed')
               AND f.answer_due < $1
               AND NOT EXISTS (SELECT 1 FROM case_warnings w WHERE w.fine_id = f.fine_id)
             ORDER BY f.answer_due LIMIT $2",
        )
        .bind(now).bind(BATCH).fetch_all(pool).await?;
        for UnansweredRow { fine_id, event_id, vehicle_class: class } in rows {
            let category = protocol::VehicleClass::parse(&class)
                .map(VehicleCategory::of)
                .ok_or_else(|| DbError::Corrupt(format!("vehicle class {class}")))?;
            let mut tx = pool.begin().await?;
            let mut warned = 0;
            for to in Addressee::for_vehicle(category) {
                warned += sqlx::query(
                    "INSERT INTO case_warnings (fine_id, addressee, issued_at) VALUES ($1, $2, $3)
                     ON CONFLICT (fine_id, addressee) DO NOTHING",
                )
                .bind(&fine_id)
                .bind(to.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            if warned > 0 {
                step_entry!(tx, postgres, "case.warned", &fine_id, event_id);
                swept.warned.push((fine_id, event_id));
            }
            tx.commit().await?;
        }
        // Ended: paid, closed without a penalty, moved to the driver named, time-barred.
        let rows = sqlx::query_as::<_, (String, uuid::Uuid)>(
            "SELECT DISTINCT f.fine_id, f.event_id FROM case_warnings w
             JOIN fines f ON f.fine_id = w.fine_id
             WHERE w.lifted_at IS NULL
               AND f.status IN ('paid', 'cancelled', 'transferred', 'time_barred')
             LIMIT $1",
        )
        .bind(BATCH).fetch_all(pool).await?;
        for (fine_id, event_id) in rows {
            let mut tx = pool.begin().await?;
            let lifted = sqlx::query(
                "UPDATE case_warnings SET lifted_at = $1 WHERE fine_id = $2 AND lifted_at IS NULL",
            )
            .bind(now)
            .bind(&fine_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if lifted > 0 {
                step_entry!(tx, postgres, "case.warnings_lifted", &fine_id, event_id);
                swept.lifted.push((fine_id, event_id));
            }
            tx.commit().await?;
        }
        let rows = sqlx::query_as::<_, UndecidedRow>(
            "SELECT f.fine_id, f.event_id, v.occurred_at FROM fines f
             JOIN violations v ON v.event_id = f.event_id
             WHERE f.decision_number IS NULL
               AND f.status NOT IN ('paid', 'cancelled', 'transferred', 'time_barred')
               AND v.occurred_at < $1
             ORDER BY v.occurred_at LIMIT $2",
        )
        .bind(year_ago).bind(BATCH).fetch_all(pool).await?;
        for UndecidedRow { fine_id, event_id, occurred_at } in rows {
            if now < process::time_bar(occurred_at) {
                continue;
            }
            let mut tx = pool.begin().await?;
            let closed = sqlx::query(
                "UPDATE fines SET status = 'time_barred', closed_at = $2
                 WHERE fine_id = $1 AND decision_number IS NULL
                   AND status NOT IN ('paid', 'cancelled', 'transferred', 'time_barred')",
            )
            .bind(&fine_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if closed == 1 {
                // citizen-notify closes the case too: the owner is no longer asked to answer,
                // and its copy is emptied with the closed cases'.
                let (key, payload) =
                    closed_by_central(&fine_id, ResolutionGround::TimeBarred, now)?;
                super::enqueue!(tx, "fine_resolution", key, &payload, now);
                step_entry!(tx, postgres, "case.time_barred", &fine_id, event_id);
                swept.barred.push((fine_id, event_id));
            }
            tx.commit().await?;
        }
    });
    for (action, cases) in [
        ("case.warned", &swept.warned),
        ("case.warnings_lifted", &swept.lifted),
        ("case.time_barred", &swept.barred),
    ] {
        for (fine_id, _) in cases {
            tracing::info!(fine_id, action, "case deadline");
        }
    }
    Ok(swept)
}

/// The warnings of case `fine_id`, in the order given.
pub async fn warnings_of(db: &Db, fine_id: &str) -> Result<Vec<Warning>, DbError> {
    let rows: Vec<WarningRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT addressee, issued_at, lifted_at FROM case_warnings WHERE fine_id = $1
             ORDER BY issued_at, addressee",
        )
        .bind(fine_id)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter().map(Warning::try_from).collect()
}

/// A `case_warnings` row.
#[derive(sqlx::FromRow)]
struct WarningRow {
    addressee: String,
    issued_at: OffsetDateTime,
    lifted_at: Option<OffsetDateTime>,
}

impl TryFrom<WarningRow> for Warning {
    type Error = DbError;

    fn try_from(row: WarningRow) -> Result<Self, DbError> {
        let to = row.addressee;
        Ok(Self {
            addressee: Addressee::parse(&to)
                .ok_or_else(|| DbError::Corrupt(format!("warning addressee {to}")))?,
            issued_at: protocol::UtcTimestamp::from_datetime(row.issued_at),
            lifted_at: row.lifted_at.map(protocol::UtcTimestamp::from_datetime),
        })
    }
}

/// How often the deadlines are swept.
pub const SWEEP: Duration = Duration::from_secs(60);

/// Runs until `shutdown`, sweeping every [`SWEEP`].
pub async fn run(db: Db, audit: AuditLog, shutdown: Shutdown) -> anyhow::Result<()> {
    shutdown
        .every(SWEEP, "deadline sweep", || {
            sweep(&db, &audit, OffsetDateTime::now_utc())
        })
        .await
}
