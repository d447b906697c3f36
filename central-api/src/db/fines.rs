//! The fine schedule as stored: loaded whole (it is small) and seeded from the shipped file.

use protocol::{ViolationKind, camera::ZoneCase};
use time::Date;

use super::{Db, DbError, on_pool};
use crate::audit::{AuditLog, append_in};
use crate::fines::{FineRule, FineSchedule, VehicleCategory};

/// A row of `fine_schedule` as stored.
#[derive(sqlx::FromRow)]
struct RuleRow {
    kind: String,
    vehicle: String,
    over_kmh_from: Option<i32>,
    over_kmh_to: Option<i32>,
    over_kmh_from_included: bool,
    over_kmh_to_included: bool,
    min_vnd: i64,
    max_vnd: i64,
    points: i32,
    reference: String,
    effective_from: Date,
    effective_to: Option<Date>,
    verify: bool,
    zone_case: Option<String>,
}

impl TryFrom<RuleRow> for FineRule {
    type Error = DbError;

    fn try_from(r: RuleRow) -> Result<Self, DbError> {
        let corrupt = |what: String| DbError::Corrupt(format!("fine schedule: {what}"));
        let vehicle = r.vehicle;
        let points = r.points;
        Ok(Self {
            kind: r.kind.parse::<ViolationKind>().map_err(corrupt)?,
            vehicle: VehicleCategory::parse(&vehicle)
                .ok_or_else(|| corrupt(format!("vehicle `{vehicle}`")))?,
            over_kmh_from: r.over_kmh_from.map(|v| v.unsigned_abs()),
            over_kmh_to: r.over_kmh_to.map(|v| v.unsigned_abs()),
            over_kmh_from_included: r.over_kmh_from_included,
            over_kmh_to_included: r.over_kmh_to_included,
            zone_case: r
                .zone_case
                .map(|c| c.parse::<ZoneCase>())
                .transpose()
                .map_err(corrupt)?,
            min_vnd: r.min_vnd.unsigned_abs(),
            max_vnd: r.max_vnd.unsigned_abs(),
            points: u8::try_from(points).map_err(|_| corrupt(format!("points {points}")))?,
            reference: r.reference,
            effective_from: r.effective_from,
            effective_to: r.effective_to,
            verify: r.verify,
        })
    }
}

/// The schedule's rows in the order they were added, read through `$ex` (a pool or a
/// transaction of either engine).
macro_rules! select_rules {
    ($ex:expr) => {
        sqlx::query_as::<_, RuleRow>(
            "SELECT kind, vehicle, over_kmh_from, over_kmh_to, over_kmh_from_included,
                    over_kmh_to_included, min_vnd, max_vnd, points, reference,
                    effective_from, effective_to, verify, zone_case
             FROM fine_schedule ORDER BY id",
        )
        .fetch_all($ex)
        .await?
    };
}

/// The schedule made of its stored rows.
fn schedule_of(rows: Vec<RuleRow>) -> Result<FineSchedule, DbError> {
    let rules = rows
        .into_iter()
        .map(FineRule::try_from)
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(FineSchedule { rules })
}

/// The whole schedule, every period, in the order the rows were added.
pub async fn load_schedule(db: &Db) -> Result<FineSchedule, DbError> {
    let rows = on_pool!(db, pool => { select_rules!(pool) });
    schedule_of(rows)
}

/// Inserts the rule `r` in the transaction `tx` (of either engine).
macro_rules! insert_rule {
    ($tx:ident, $r:ident) => {
        sqlx::query(
            "INSERT INTO fine_schedule
               (kind, vehicle, over_kmh_from, over_kmh_to, over_kmh_from_included,
                over_kmh_to_included, min_vnd, max_vnd, points, reference,
                effective_from, effective_to, verify, zone_case)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind($r.kind.as_str())
        .bind($r.vehicle.as_str())
        .bind($r.over_kmh_from.map(|v| v as i32))
        .bind($r.over_kmh_to.map(|v| v as i32))
        .bind($r.over_kmh_from_included)
        .bind($r.over_kmh_to_included)
        .bind($r.min_vnd as i64)
        .bind($r.max_vnd as i64)
        .bind(i32::from($r.points))
        .bind(&$r.reference)
        .bind($r.effective_from)
        .bind($r.effective_to)
        .bind($r.verify)
        .bind($r.zone_case.map(|c| c.as_str()))
        .execute(&mut *$tx)
        .await?
    };
}

/// Adds rules (the first schedule).
pub async fn insert_rules(db: &Db, rules: &[FineRule]) -> Result<(), DbError> {
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        for r in rules {
            insert_rule!(tx, r);
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Why an amendment was not made.
#[derive(Debug, thiserror::Error)]
pub enum NotAmended {
    #[error("{0}")]
    Invalid(String),
    #[error("the schedule changed meanwhile; try again")]
    Changed,
}

/// Amends the schedule as `actor`: `rules` in force from `from`, ending the rules they replace
/// (see [`FineSchedule::amended`]), with the `fine_schedule.amended` audit entry, in one
/// transaction. Returns how many rules ended.
pub async fn amend(
    db: &Db,
    audit: &AuditLog,
    actor: &str,
    from: Date,
    rules: &[FineRule],
) -> Result<Result<usize, NotAmended>, DbError> {
    let current = load_schedule(db).await?;
    let (ended, amended) = match current.amended(from, rules) {
        Ok(done) => done,
        Err(e) => return Ok(Err(NotAmended::Invalid(e))),
    };
    let added = &amended.rules[current.rules.len()..];
    let postgres = db.engine() == "postgres";
    let details = serde_json::json!({
        "effective_from": from.to_string(), "rules": rules, "ended": ended.len(),
    });
    let _one_at_a_time = audit.lock().await;
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        if postgres {
            sqlx::query("LOCK TABLE fine_schedule IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM fine_schedule ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;
        if ids.len() != current.rules.len() {
            return Ok(Err(NotAmended::Changed));
        }
        for i in &ended {
            sqlx::query("UPDATE fine_schedule SET effective_to = $1 WHERE id = $2")
                .bind(from)
                .bind(ids[*i])
                .execute(&mut *tx)
                .await?;
        }
        for r in added {
            insert_rule!(tx, r);
        }
        append_in!(tx, postgres, actor, "fine_schedule.amended", "fine_schedule", &details);
        tx.commit().await?;
    });
    Ok(Ok(ended.len()))
}

/// Seeds the schedule from `shipped`: the whole of it into an empty table; into a schedule
/// already kept, only the shipped rules of a case it has no rule for at all (a violation the
/// schedule could not fine before, such as illegal stopping by its zone's case) — never one an
/// amendment has ended or replaced. Returns the rows added.
///
/// The schedule is read and completed in one transaction that holds the table against other
/// writers: replicas starting together seed it once between them, the later finding the rules
/// the earlier added.
pub async fn seed_missing(db: &Db, shipped: &FineSchedule) -> Result<usize, DbError> {
    let postgres = matches!(db, Db::Postgres(_));
    let begin = super::begin_writing(db);
    let added = on_pool!(db, pool => {
        let mut tx = pool.begin_with(begin).await?;
        if postgres {
            sqlx::query("LOCK TABLE fine_schedule IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let kept = schedule_of(select_rules!(&mut *tx))?;
        let missing: Vec<&FineRule> = shipped
            .rules
            .iter()
            .filter(|r| !kept.rules.iter().any(|k| k.same_case(r)))
            .collect();
        for r in &missing {
            insert_rule!(tx, r);
        }
        tx.commit().await?;
        missing.len()
    });
    Ok(added)
}
