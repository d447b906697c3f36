//! Penalty decisions: an officer with sanctioning authority decides a case whose notice the
//! owner answered — the amount within the range, the decision number, the points deducted from
//! the licence — and the decision goes to citizen-notify through the outbox, with its audit
//! entry, all in one transaction.

use protocol::{CitizenId, EventId, PenaltyDecision, UtcTimestamp, VehicleClass, wire};
use time::OffsetDateTime;

use super::{Db, DbError, on_pool};
use crate::audit::{AuditLog, append_in};
use crate::fines::{
    VehicleCategory,
    points::{self, Deduction},
    process::{self, AmountRefused, Circumstance},
};

/// What the officer deciding asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Asked {
    /// The amount; the middle of the range when absent.
    pub amount_vnd: Option<u64>,
    /// The circumstance that moves the amount, and what it is.
    pub circumstance: Option<(Circumstance, String)>,
}

/// Why no decision was taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotDecided {
    #[error("no notice was issued for this violation")]
    NoCase,
    #[error("the case is decided already: decision {0}")]
    Already(String),
    #[error(
        "the case is {0}: a decision follows the owner's answer (the violation acknowledged, or an explanation answered)"
    )]
    NotAnswered(String),
    #[error("the case is {0}: nothing is left to decide")]
    Final(String),
    #[error(
        "the owner may explain until {0} (Law 15/2012/QH13, Article 61): the decision waits until then"
    )]
    ExplanationPeriod(UtcTimestamp),
    #[error("{0}")]
    Amount(AmountRefused),
}

/// The decision number of the `n`th decision of its year, as form MQĐ02 writes it.
pub fn decision_number(n: i64) -> String {
    format!("{n:06}/QĐ-XPHC")
}

/// A row of `licence_points` as stored.
#[derive(sqlx::FromRow)]
struct DeductionRow {
    fine_id: String,
    points: i32,
    deducted_at: OffsetDateTime,
    reference: String,
}

impl TryFrom<DeductionRow> for PointsDeduction {
    type Error = DbError;

    fn try_from(r: DeductionRow) -> Result<Self, DbError> {
        Ok(Self {
            fine_id: r.fine_id,
            points: u8::try_from(r.points)
                .map_err(|_| DbError::Corrupt(format!("licence points: {}", r.points)))?,
            deducted_at: UtcTimestamp::from_datetime(r.deducted_at),
            reference: r.reference,
        })
    }
}

/// The deductions from `citizen`'s licence for `licence`, oldest first, read through `$ex` (a
/// pool or a transaction, of either engine).
macro_rules! deductions {
    ($ex:expr, $citizen:expr, $licence:expr) => {
        sqlx::query_as::<_, DeductionRow>(
            "SELECT fine_id, points, deducted_at, reference FROM licence_points
             WHERE citizen_id = $1 AND licence = $2 ORDER BY deducted_at",
        )
        .bind($citizen)
        .bind($licence.as_str())
        .fetch_all($ex)
        .await?
        .into_iter()
        .map(PointsDeduction::try_from)
        .collect::<Result<Vec<_>, DbError>>()?
    };
}

/// The deductions as [`points::left`] counts them.
fn as_deductions(taken: &[PointsDeduction]) -> Vec<Deduction> {
    taken
        .iter()
        .map(|d| Deduction {
            at: d.deducted_at.as_datetime(),
            points: d.points,
        })
        .collect()
}

/// The case as a decision finds it, with its violation's vehicle class.
#[derive(sqlx::FromRow)]
struct CaseRow {
    fine_id: String,
    citizen_id: String,
    status: String,
    amount_vnd: i64,
    points: i32,
    legal_reference: String,
    min_vnd: Option<i64>,
    max_vnd: Option<i64>,
    decision_number: Option<String>,
    organisation: Option<String>,
    vehicle_class: String,
}

/// Decides the case of violation `id` as officer `officer` (username, and name and title for the
/// decision; `actor` in the audit log, whose `fine.decided` entry commits with the decision), at
/// `now`.
pub async fn decide(
    db: &Db,
    audit: &AuditLog,
    id: &EventId,
    (officer, actor): ((&str, &str), &str),
    asked: &Asked,
    now: OffsetDateTime,
) -> Result<Result<PenaltyDecision, NotDecided>, DbError> {
    let corrupt = |what: String| DbError::Corrupt(format!("case of {id}: {what}"));
    let postgres = matches!(db, Db::Postgres(_));
    // The working days of an explanation period: a case is decided within the year after its
    // violation, so its answer came in the last year.
    let calendar = super::calendar::from(
        db,
        (now - time::Duration::days(366))
            .to_offset(protocol::time::VIETNAM)
            .date(),
    )
    .await?;
    let _one_at_a_time = audit.lock().await;
    let result = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let Some(row) = sqlx::query_as::<_, CaseRow>(
            "SELECT f.fine_id, f.citizen_id, f.status, f.amount_vnd, f.points, f.legal_reference,
                    f.min_vnd, f.max_vnd, f.decision_number, f.organisation, v.vehicle_class
             FROM fines f JOIN violations v ON v.event_id = f.event_id
             WHERE f.event_id = $1 AND f.status <> 'transferred'",
        )
        .bind(*id.as_uuid())
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Err(NotDecided::NoCase));
        };
        let CaseRow {
            fine_id,
            citizen_id: citizen,
            status,
            amount_vnd,
            points,
            legal_reference: reference,
            min_vnd,
            max_vnd,
            decision_number: decided,
            organisation,
            vehicle_class: class,
        } = row;
        if let Some(number) = decided {
            return Ok(Err(NotDecided::Already(number)));
        }
        match status.as_str() {
            "confirmed" | "upheld" => {}
            s if s == "paid" || super::fine_updates::is_final(s) => {
                return Ok(Err(NotDecided::Final(status)));
            }
            _ => return Ok(Err(NotDecided::NotAnswered(status))),
        }
        // An organisation's case stands on its own range (twice an individual's) and points
        // (none), set when it opened.
        let offender = process::Offender::of(organisation.as_ref());
        let proposed = amount_vnd.unsigned_abs();
        let min = min_vnd.map_or(proposed, i64::unsigned_abs);
        let max = max_vnd.map_or(proposed, i64::unsigned_abs);
        // An explanation already answered (upheld) has had its period.
        if status == "confirmed" {
            let answered: Option<OffsetDateTime> = sqlx::query_scalar(
                "SELECT received_at FROM fine_updates WHERE fine_id = $1 AND kind = 'confirmed'
                 ORDER BY received_at LIMIT 1",
            )
            .bind(&fine_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(until) =
                process::explanation_until(offender, max, answered.unwrap_or(now), &calendar)
                && now < until
            {
                return Ok(Err(NotDecided::ExplanationPeriod(UtcTimestamp::from_datetime(until))));
            }
        }
        let amount = match process::decided_amount(
            min,
            max,
            proposed,
            asked.amount_vnd,
            asked.circumstance.as_ref().map(|(c, _)| *c),
        ) {
            Ok(a) => a,
            Err(e) => return Ok(Err(NotDecided::Amount(e))),
        };
        let circumstance = asked
            .circumstance
            .as_ref()
            .filter(|_| amount != proposed)
            .map(|(c, text)| format!("{}: {}", c.label_vi(), text.trim()));
        let licence = VehicleCategory::of(
            VehicleClass::parse(&class).ok_or_else(|| corrupt(format!("vehicle class {class}")))?,
        );
        let deducted = u8::try_from(points).map_err(|_| corrupt("points".into()))?;
        let (organisation, points_left, legal_reference) = match organisation {
            // An organisation holds no licence: nothing is deducted, nothing is counted.
            Some(code) => {
                let o = super::owners::organisation_in!(&mut *tx, &code)?
                    .ok_or_else(|| corrupt(format!("organisation {code} not recorded")))?;
                (Some(o), 12, format!("{reference}; {}", process::ORGANISATION_BASIS))
            }
            None => {
                let mut with_this = as_deductions(&deductions!(&mut *tx, &citizen, licence));
                with_this.push(Deduction { at: now, points: deducted });
                (None, points::left(&with_this, now), reference.clone())
            }
        };
        let year = now.to_offset(protocol::time::VIETNAM).year();
        let n: i64 = sqlx::query_scalar(
            "INSERT INTO decision_counters (year, last) VALUES ($1, 1)
             ON CONFLICT (year) DO UPDATE SET last = decision_counters.last + 1
             RETURNING last",
        )
        .bind(year)
        .fetch_one(&mut *tx)
        .await?;
        let decision = PenaltyDecision {
            decision_id: uuid::Uuid::now_v7(),
            fine_id: uuid::Uuid::parse_str(&fine_id).map_err(|e| corrupt(e.to_string()))?,
            decision_number: decision_number(n),
            citizen_id: CitizenId::parse(&citizen).map_err(|e| corrupt(e.to_string()))?,
            amount_vnd: amount,
            points: deducted,
            points_left,
            legal_reference,
            circumstance: circumstance.clone(),
            organisation,
            decided_by: officer.1.to_owned(),
            decided_at: UtcTimestamp::from_datetime(now),
            pay_by: UtcTimestamp::from_datetime(process::pay_by(now)),
        };
        let payload = wire::encode(&decision).map_err(|e| corrupt(format!("decision: {e}")))?;
        let payload = String::from_utf8(payload).map_err(|e| corrupt(e.to_string()))?;
        sqlx::query(
            "UPDATE fines SET decision_number = $1, decision_year = $2, amount_vnd = $3,
                    decided_by = $4, decided_at = $5, circumstance = $6, status = 'decided'
             WHERE fine_id = $7",
        )
        .bind(&decision.decision_number)
        .bind(year)
        .bind(amount as i64)
        .bind(officer.0)
        .bind(now)
        .bind(&circumstance)
        .bind(&fine_id)
        .execute(&mut *tx)
        .await?;
        if deducted > 0 && decision.organisation.is_none() {
            sqlx::query(
                "INSERT INTO licence_points (fine_id, citizen_id, licence, points, deducted_at, reference)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&fine_id)
            .bind(&citizen)
            .bind(licence.as_str())
            .bind(i32::from(deducted))
            .bind(now)
            .bind(&reference)
            .execute(&mut *tx)
            .await?;
        }
        super::enqueue!(
            tx,
            "penalty_decision",
            decision.decision_id.hyphenated().to_string(),
            &payload,
            now
        );
        append_in!(
            tx,
            postgres,
            actor,
            "fine.decided",
            &format!("violation:{id}"),
            &serde_json::json!({
                "fine_id": decision.fine_id,
                "decision_id": decision.decision_id,
                "decision_number": decision.decision_number,
                "citizen_id": decision.citizen_id.as_str(),
                "organisation": decision.organisation.as_ref().map(|o| o.enterprise_code.as_str()),
                "amount_vnd": decision.amount_vnd,
                "points": decision.points,
                "points_left": decision.points_left,
                "circumstance": decision.circumstance,
                "legal_reference": decision.legal_reference,
            })
        );
        tx.commit().await?;
        Ok(decision)
    });
    Ok(result)
}

/// A licence's points as the officer deciding and the citizen see them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct LicencePoints {
    /// `car` or `motorbike`: the category of licence.
    pub licence: String,
    /// Of 12.
    pub left: u8,
    pub deductions: Vec<PointsDeduction>,
}

/// One deduction of a licence's points.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct PointsDeduction {
    pub fine_id: String,
    pub points: u8,
    #[schema(value_type = String, format = DateTime)]
    pub deducted_at: UtcTimestamp,
    pub reference: String,
}

/// The points of `citizen`'s licence for `licence`, at `now`.
pub async fn licence_points(
    db: &Db,
    citizen: &str,
    licence: VehicleCategory,
    now: OffsetDateTime,
) -> Result<LicencePoints, DbError> {
    let deductions = on_pool!(db, pool => deductions!(pool, citizen, licence));
    Ok(LicencePoints {
        licence: licence.as_str().into(),
        left: points::left(&as_deductions(&deductions), now),
        deductions,
    })
}
