//! Payment attempts at the gateway and their settlement: one paid attempt per fine, a second
//! one paid kept as a refund due.

use service_kit::on_pool;
use time::OffsetDateTime;

use super::*;

/// A payment attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub txn_ref: String,
    pub fine_id: String,
    pub citizen_id: String,
    pub amount_vnd: u64,
    /// `vnp_CreateDate` of the attempt.
    pub create_date: String,
    pub created_at: OffsetDateTime,
    pub state: PaymentState,
    pub transaction_no: Option<String>,
    pub pay_date: Option<String>,
}

/// Where a payment attempt stands; every state but `Pending` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentState {
    Pending,
    Paid,
    /// Declined, cancelled or failed at the gateway.
    Failed,
    /// The link ran out with no payment.
    Expired,
    /// Paid at the gateway for a fine already paid by another attempt: the money goes back.
    RefundDue,
}

impl PaymentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::RefundDue => "refund_due",
        }
    }

    fn parse(text: &str) -> Result<Self, DbError> {
        Ok(match text {
            "pending" => Self::Pending,
            "paid" => Self::Paid,
            "failed" => Self::Failed,
            "expired" => Self::Expired,
            "refund_due" => Self::RefundDue,
            other => return Err(DbError::Corrupt(format!("payment state {other}"))),
        })
    }
}

/// A `payments` row, as `select_payments!` reads it.
#[derive(sqlx::FromRow)]
struct PaymentRow {
    txn_ref: String,
    fine_id: String,
    citizen_id: String,
    amount_vnd: i64,
    create_date: String,
    created_at: OffsetDateTime,
    state: String,
    transaction_no: Option<String>,
    pay_date: Option<String>,
}

impl TryFrom<PaymentRow> for Payment {
    type Error = DbError;

    fn try_from(row: PaymentRow) -> Result<Self, DbError> {
        Ok(Self {
            txn_ref: row.txn_ref,
            fine_id: row.fine_id,
            citizen_id: row.citizen_id,
            amount_vnd: u64::try_from(row.amount_vnd)
                .map_err(|_| DbError::Corrupt("negative payment amount".into()))?,
            create_date: row.create_date,
            created_at: row.created_at,
            state: PaymentState::parse(&row.state)?,
            transaction_no: row.transaction_no,
            pay_date: row.pay_date,
        })
    }
}

/// `SELECT <the payment columns> FROM payments <rest>`, as one static string.
macro_rules! select_payments {
    ($rest:literal) => {
        concat!(
            "SELECT txn_ref, fine_id, citizen_id, amount_vnd, create_date, created_at, state, \
             transaction_no, pay_date FROM payments ",
            $rest
        )
    };
}

/// Records a new attempt, pending.
pub async fn insert_payment(db: &Db, p: &Payment) -> Result<(), DbError> {
    let amount = i64::try_from(p.amount_vnd)
        .map_err(|_| DbError::Corrupt("payment amount out of range".into()))?;
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO payments (txn_ref, fine_id, citizen_id, amount_vnd, create_date,
                                   created_at, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&p.txn_ref)
        .bind(&p.fine_id)
        .bind(&p.citizen_id)
        .bind(amount)
        .bind(&p.create_date)
        .bind(p.created_at)
        .bind(p.state.as_str())
        .execute(pool)
        .await?;
    });
    Ok(())
}

pub async fn payment(db: &Db, txn_ref: &str) -> Result<Option<Payment>, DbError> {
    on_pool!(db, pool => {
        sqlx::query_as::<_, PaymentRow>(select_payments!("WHERE txn_ref = $1"))
            .bind(txn_ref)
            .fetch_optional(pool)
            .await?
            .map(Payment::try_from)
            .transpose()
    })
}

/// The paid attempt of a fine, if there is one.
pub async fn paid_payment_of(db: &Db, fine_id: &str) -> Result<Option<Payment>, DbError> {
    on_pool!(db, pool => {
        sqlx::query_as::<_, PaymentRow>(select_payments!("WHERE fine_id = $1 AND state = 'paid'"))
            .bind(fine_id)
            .fetch_optional(pool)
            .await?
            .map(Payment::try_from)
            .transpose()
    })
}

/// Attempts still pending that began before `before`, oldest first.
pub async fn pending_payments(db: &Db, before: OffsetDateTime) -> Result<Vec<Payment>, DbError> {
    on_pool!(db, pool => {
        sqlx::query_as::<_, PaymentRow>(select_payments!(
            "WHERE state = 'pending' AND created_at < $1 ORDER BY created_at"
        ))
        .bind(before)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(Payment::try_from)
        .collect()
    })
}

/// The gateway's word on an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement<'a> {
    pub state: PaymentState,
    pub response_code: &'a str,
    pub transaction_no: &'a str,
    pub bank_code: &'a str,
    pub pay_date: &'a str,
    /// `ipn` or `query`.
    pub by: &'static str,
}

/// Sets the final state of a pending attempt, once: `false` when it was not pending. A payment
/// for a fine that another attempt has paid, or that was cancelled meanwhile, becomes
/// `refund_due`; a paid one marks the notice paid, in the same transaction.
pub async fn settle(
    db: &Db,
    key: &SealingKey,
    txn_ref: &str,
    s: &Settlement<'_>,
) -> Result<bool, DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let fine: Option<String> = sqlx::query_scalar(
            "SELECT fine_id FROM payments WHERE txn_ref = $1 AND state = 'pending'",
        )
        .bind(txn_ref)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(fine) = fine else {
            return Ok(false);
        };
        let mut state = s.state;
        if state == PaymentState::Paid {
            let paid_before = sqlx::query(
                "SELECT txn_ref FROM payments WHERE fine_id = $1 AND state = 'paid'",
            )
            .bind(&fine)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
            // Cancelled while the citizen was at the gateway: nothing was owed any more.
            let cancelled = sqlx::query(
                "SELECT 1 AS one FROM resolutions WHERE fine_id = $1 AND outcome = 'cancelled'",
            )
            .bind(&fine)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
            if paid_before || cancelled {
                state = PaymentState::RefundDue;
            }
        }
        let updated = sqlx::query(
            "UPDATE payments SET state = $1, response_code = $2, transaction_no = $3,
                                 bank_code = $4, pay_date = $5, settled_at = $6, settled_by = $7
             WHERE txn_ref = $8 AND state = 'pending'",
        )
        .bind(state.as_str())
        .bind(s.response_code)
        .bind(s.transaction_no)
        .bind(s.bank_code)
        .bind(s.pay_date)
        .bind(now)
        .bind(s.by)
        .bind(txn_ref)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 1 && state == PaymentState::Paid {
            sqlx::query("UPDATE notices SET status = 'paid' WHERE fine_id = $1")
                .bind(&fine)
                .execute(&mut *tx)
                .await?;
            let amount: i64 =
                sqlx::query_scalar("SELECT amount_vnd FROM payments WHERE txn_ref = $1")
                    .bind(txn_ref)
                    .fetch_one(&mut *tx)
                    .await?;
            queue_report!(tx, key, &fine, protocol::FineChange::Paid {
                amount_vnd: u64::try_from(amount).unwrap_or(0),
                transaction_no: s.transaction_no.to_owned(),
                paid_at: gateways::vnpay::parse_time(s.pay_date)
                    .unwrap_or_else(protocol::UtcTimestamp::now),
            });
        }
        tx.commit().await?;
        Ok(updated == 1)
    })
}

/// Every payment attempt on a fine, oldest first.
pub async fn payments_of(db: &Db, fine_id: &str) -> Result<Vec<Payment>, DbError> {
    on_pool!(db, pool => {
        sqlx::query_as::<_, PaymentRow>(select_payments!(
            "WHERE fine_id = $1 ORDER BY created_at, txn_ref"
        ))
        .bind(fine_id)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(Payment::try_from)
        .collect()
    })
}
