//! The case of a confirmed violation as the review side shows it: the notice, the owner's
//! answer or the person named as driver, and the decision once taken.

use protocol::{EventId, UtcTimestamp};
use serde::Serialize;
use time::OffsetDateTime;

use crate::{
    db::{Db, DbError, at_rest, on_pool},
    sealed::SealingKey,
};

/// The case of a confirmed violation, as the review side shows it: the notice, the owner's
/// answer, and the decision once taken.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FineSummary {
    pub fine_id: String,
    /// `…/QĐ-XPHC` once decided.
    pub decision_number: Option<String>,
    /// The decision's amount; before it, the proposal (the middle of the range).
    pub amount_vnd: i64,
    pub min_vnd: Option<i64>,
    pub max_vnd: Option<i64>,
    pub points: i32,
    pub legal_reference: String,
    /// `issued` (the notice), `notice_sent`, `notice_delivered`, `notice_failed`, `confirmed`
    /// (the owner acknowledged), `disputed` (explains), `upheld`, `decided`, `paid`,
    /// `cancelled`.
    pub status: String,
    /// Who confirmed the violation and issued the notice.
    pub issued_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: UtcTimestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub answer_due: Option<UtcTimestamp>,
    pub decided_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<UtcTimestamp>,
    pub circumstance: Option<String>,
    /// On the case of a person the owner named (the driver, or the buyer): who, as the owner
    /// declared them.
    pub named: Option<NamedPerson>,
    /// The warnings given because the notice went unanswered, and whether they were lifted.
    pub warnings: Vec<crate::db::deadlines::Warning>,
}

/// The person an owner named, as the review side shows them.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NamedPerson {
    /// `driver` or `buyer`.
    pub named_as: String,
    pub full_name: String,
    pub citizen_id: String,
    /// The driver's licence number.
    pub licence_no: Option<String>,
    /// The buyer's: the day of the sale and the contract.
    pub sold_on: Option<String>,
    pub contract: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub declared_at: UtcTimestamp,
}

/// A case as [`fine_of`] reads it, with the transfer that opened it, if one did.
#[derive(sqlx::FromRow)]
struct FineRow {
    fine_id: String,
    decision_number: Option<String>,
    amount_vnd: i64,
    min_vnd: Option<i64>,
    max_vnd: Option<i64>,
    points: i32,
    legal_reference: String,
    status: String,
    issued_by: String,
    issued_at: OffsetDateTime,
    answer_due: Option<OffsetDateTime>,
    decided_by: Option<String>,
    decided_at: Option<OffsetDateTime>,
    circumstance: Option<String>,
    #[sqlx(flatten)]
    named: NamedRow,
}

/// The columns of `case_transfers` in [`FineRow`]: all `NULL` when no transfer opened the case.
#[derive(sqlx::FromRow)]
struct NamedRow {
    /// The case the transfer closed, which its sealed values are bound to.
    transfer_of: Option<String>,
    named_as: Option<String>,
    named_name: Option<String>,
    named_id: Option<String>,
    licence_no: Option<String>,
    sold_on: Option<String>,
    contract: Option<String>,
    declared_at: Option<OffsetDateTime>,
}

impl NamedRow {
    /// The person named, when a transfer opened the case (`named_as` set), their sealed
    /// values opened under `key`; a transfer without a column its table requires is corrupt.
    fn person(
        self,
        key: Option<&SealingKey>,
        fine_id: &str,
    ) -> Result<Option<NamedPerson>, DbError> {
        let Some(named_as) = self.named_as else {
            return Ok(None);
        };
        let missing = |what: &str| DbError::Corrupt(format!("case transfer to {fine_id}: {what}"));
        let from = self
            .transfer_of
            .ok_or_else(|| missing("no case it closed"))?;
        let open = |column: &at_rest::SealedColumn, value: Option<String>| {
            value.map(|v| column.open(key, &from, v)).transpose()
        };
        Ok(Some(NamedPerson {
            named_as,
            full_name: open(&at_rest::TRANSFER_NAMES, self.named_name)?
                .ok_or_else(|| missing("no full name"))?,
            citizen_id: self.named_id.ok_or_else(|| missing("no citizen id"))?,
            licence_no: open(&at_rest::TRANSFER_LICENCES, self.licence_no)?,
            sold_on: self.sold_on,
            contract: open(&at_rest::TRANSFER_CONTRACTS, self.contract)?,
            declared_at: UtcTimestamp::from_datetime(
                self.declared_at
                    .ok_or_else(|| missing("no declaration time"))?,
            ),
        }))
    }
}

impl FineSummary {
    /// The case as `r` holds it, the person named opened under `key`.
    fn of_row(r: FineRow, key: Option<&SealingKey>) -> Result<Self, DbError> {
        Ok(Self {
            named: r.named.person(key, &r.fine_id)?,
            fine_id: r.fine_id,
            decision_number: r.decision_number,
            amount_vnd: r.amount_vnd,
            min_vnd: r.min_vnd,
            max_vnd: r.max_vnd,
            points: r.points,
            legal_reference: r.legal_reference,
            status: r.status,
            issued_by: r.issued_by,
            issued_at: UtcTimestamp::from_datetime(r.issued_at),
            answer_due: r.answer_due.map(UtcTimestamp::from_datetime),
            decided_by: r.decided_by,
            decided_at: r.decided_at.map(UtcTimestamp::from_datetime),
            circumstance: r.circumstance,
            warnings: Vec::new(),
        })
    }
}

/// The case of a violation, if any (the open one: after an owner named the driver, the
/// driver's), the person named opened under `key`.
pub async fn fine_of(
    db: &Db,
    key: Option<&SealingKey>,
    id: &EventId,
) -> Result<Option<FineSummary>, DbError> {
    let fine = on_pool!(db, pool => {
        sqlx::query_as::<_, FineRow>(
            "SELECT f.fine_id, f.decision_number, f.amount_vnd, f.min_vnd, f.max_vnd, f.points,
                    f.legal_reference, f.status, f.issued_by, f.issued_at, f.answer_due,
                    f.decided_by, f.decided_at, f.circumstance, t.fine_id AS transfer_of,
                    t.named_as,
                    t.full_name AS named_name, t.citizen_id AS named_id, t.licence_no, t.sold_on,
                    t.contract, t.declared_at
             FROM fines f LEFT JOIN case_transfers t ON t.to_fine_id = f.fine_id
             WHERE f.event_id = $1 AND f.status <> 'transferred'",
        )
        .bind(*id.as_uuid())
        .fetch_optional(pool)
        .await?
    });
    let Some(mut fine) = fine.map(|r| FineSummary::of_row(r, key)).transpose()? else {
        return Ok(None);
    };
    fine.warnings = crate::db::deadlines::warnings_of(db, &fine.fine_id).await?;
    Ok(Some(fine))
}
