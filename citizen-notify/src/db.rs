//! Storage of citizen-notify, on [`service_kit::db`]: migrations for each engine under
//! `citizen-notify/migrations`.

use protocol::{PenaltyDecision, Sha256Digest, ViolationNotice as FineNotice};
pub use service_kit::db::{DatabaseSettings, Db, DbError, Migrations};
use service_kit::on_pool;
use sqlx::Row;
use time::OffsetDateTime;

/// The migrations of citizen-notify.
pub static MIGRATIONS: Migrations = Migrations {
    postgres: sqlx::migrate!("migrations/postgres"),
    sqlite: sqlx::migrate!("migrations/sqlite"),
    service_grants: &[],
};

/// Queues a report to central-api of `change` to fine `fine_id` (a `&str`), inside the open
/// transaction `tx`, so the report exists exactly when the change does. (A macro: the
/// transaction types of the two engines differ.)
macro_rules! queue_report {
    ($tx:expr, $fine_id:expr, $change:expr) => {{
        let change: protocol::FineChange = $change;
        let now = OffsetDateTime::now_utc();
        let update = protocol::FineUpdate {
            update_id: uuid::Uuid::now_v7(),
            fine_id: uuid::Uuid::parse_str($fine_id)
                .map_err(|e| DbError::Corrupt(format!("fine id {}: {e}", $fine_id)))?,
            at: protocol::UtcTimestamp::from_datetime(now),
            change,
        };
        let payload = protocol::wire::encode(&update)
            .map_err(|e| DbError::Corrupt(format!("fine update: {e}")))?;
        sqlx::query(
            "INSERT INTO reports (update_id, fine_id, kind, payload, created_at, state, attempts,
                                  next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $5)",
        )
        .bind(update.update_id.hyphenated().to_string())
        .bind($fine_id)
        .bind(update.change.kind())
        .bind(String::from_utf8_lossy(&payload).into_owned())
        .bind(now)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Whether a notice of case `$fine_id` was received, read in transaction `$tx`.
macro_rules! notice_known {
    ($tx:ident, $fine_id:expr) => {
        sqlx::query("SELECT 1 AS one FROM notices WHERE fine_id = $1")
            .bind($fine_id)
            .fetch_optional(&mut *$tx)
            .await?
            .is_some()
    };
}

pub async fn connect(settings: &DatabaseSettings) -> Result<Db, DbError> {
    Db::connect(settings, &MIGRATIONS).await
}

/// The result of storing a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    New,
    /// The same notice, byte for byte, was stored before.
    Duplicate,
    /// Another notice with this fine id was stored before; the first stands.
    Conflict,
}

/// Stores a notice once per fine id, and in the same transaction a pending delivery through
/// each of `channels`.
pub async fn store_notice(
    db: &Db,
    notice: &FineNotice,
    payload: &[u8],
    channels: &[&str],
) -> Result<Stored, DbError> {
    let sha = Sha256Digest::of(payload).to_hex();
    let text = String::from_utf8_lossy(payload).into_owned();
    let fine_id = notice.fine_id.hyphenated().to_string();
    let now = OffsetDateTime::now_utc();
    let inserted = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO notices (fine_id, citizen_id, payload, payload_sha256, received_at, status)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (fine_id) DO NOTHING",
        )
        .bind(&fine_id)
        .bind(notice.citizen_id.as_str())
        .bind(&text)
        .bind(&sha)
        .bind(now)
        .bind("received")
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            for channel in channels {
                sqlx::query(
                    "INSERT INTO deliveries (fine_id, channel, state, attempts, next_attempt_at)
                     VALUES ($1, $2, 'pending', 0, $3)",
                )
                .bind(&fine_id)
                .bind(*channel)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        inserted
    });
    if inserted == 1 {
        return Ok(Stored::New);
    }
    let stored: String = on_pool!(db, pool => {
        sqlx::query("SELECT payload_sha256 FROM notices WHERE fine_id = $1")
            .bind(&fine_id)
            .fetch_one(pool)
            .await?
            .try_get("payload_sha256")?
    });
    Ok(if stored == sha {
        Stored::Duplicate
    } else {
        Stored::Conflict
    })
}

/// A message stored as it was received, read back; `what` names it in the error.
fn stored<M: protocol::Message>(payload: &str, what: &str) -> Result<M, DbError> {
    protocol::wire::decode(payload.as_bytes())
        .map_err(|e| DbError::Corrupt(format!("stored {what}: {e}")))
}

/// The notices of a citizen, newest first.
pub async fn notices_of(db: &Db, citizen_id: &str) -> Result<Vec<FineNotice>, DbError> {
    let payloads: Vec<String> = on_pool!(db, pool => {
        sqlx::query(
            "SELECT payload FROM notices WHERE citizen_id = $1 AND purged_at IS NULL
             ORDER BY received_at DESC",
        )
            .bind(citizen_id)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|row| row.try_get::<String, _>("payload"))
            .collect::<Result<Vec<_>, _>>()?
    });
    payloads.iter().map(|p| stored(p, "notice")).collect()
}

/// The notice of `fine_id` if it is `citizen_id`'s; `None` otherwise (the two are one answer,
/// so nobody learns that another citizen's fine exists).
pub async fn notice_of(
    db: &Db,
    fine_id: &str,
    citizen_id: &str,
) -> Result<Option<FineNotice>, DbError> {
    let payload: Option<String> = on_pool!(db, pool => {
        sqlx::query(
            "SELECT payload FROM notices WHERE fine_id = $1 AND citizen_id = $2 AND purged_at IS NULL",
        )
            .bind(fine_id)
            .bind(citizen_id)
            .fetch_optional(pool)
            .await?
            .map(|row| row.try_get::<String, _>("payload"))
            .transpose()?
    });
    payload.map(|p| stored(&p, "notice")).transpose()
}

/// Stores the penalty decision on a case once: `None` when no notice of the case was received.
/// A second, different decision on one case is a conflict; the first stands.
pub async fn store_decision(
    db: &Db,
    d: &PenaltyDecision,
    payload: &[u8],
) -> Result<Option<Stored>, DbError> {
    let sha = Sha256Digest::of(payload).to_hex();
    let text = String::from_utf8_lossy(payload).into_owned();
    let fine_id = d.fine_id.hyphenated().to_string();
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        if !notice_known!(tx, &fine_id) {
            return Ok(None);
        }
        let inserted = sqlx::query(
            "INSERT INTO decisions (fine_id, decision_id, decision_number, citizen_id, amount_vnd,
                                    payload, payload_sha256, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(&fine_id)
        .bind(d.decision_id.hyphenated().to_string())
        .bind(&d.decision_number)
        .bind(d.citizen_id.as_str())
        .bind(d.amount_vnd as i64)
        .bind(&text)
        .bind(&sha)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let stored = if inserted == 1 {
            Stored::New
        } else {
            let first: String = sqlx::query("SELECT payload_sha256 FROM decisions WHERE fine_id = $1")
                .bind(&fine_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("payload_sha256")?;
            if first == sha { Stored::Duplicate } else { Stored::Conflict }
        };
        tx.commit().await?;
        Ok(Some(stored))
    })
}

/// The penalty decision on case `fine_id`, once one arrived.
pub async fn decision_of(db: &Db, fine_id: &str) -> Result<Option<PenaltyDecision>, DbError> {
    let payload: Option<String> = on_pool!(db, pool => {
        sqlx::query("SELECT payload FROM decisions WHERE fine_id = $1")
            .bind(fine_id)
            .fetch_optional(pool)
            .await?
            .map(|row| row.try_get::<String, _>("payload"))
            .transpose()?
    });
    payload.map(|p| stored(&p, "decision")).transpose()
}

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

/// A `payments` row of either engine as a [`Payment`] (a macro: the row types differ).
macro_rules! payment_from {
    ($row:expr) => {{
        let row = $row;
        (|| -> Result<Payment, DbError> {
            Ok(Payment {
                txn_ref: row.try_get("txn_ref")?,
                fine_id: row.try_get("fine_id")?,
                citizen_id: row.try_get("citizen_id")?,
                amount_vnd: u64::try_from(row.try_get::<i64, _>("amount_vnd")?)
                    .map_err(|_| DbError::Corrupt("negative payment amount".into()))?,
                create_date: row.try_get("create_date")?,
                created_at: row.try_get("created_at")?,
                state: PaymentState::parse(&row.try_get::<String, _>("state")?)?,
                transaction_no: row.try_get("transaction_no")?,
                pay_date: row.try_get("pay_date")?,
            })
        })()
    }};
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
        sqlx::query(select_payments!("WHERE txn_ref = $1"))
            .bind(txn_ref)
            .fetch_optional(pool)
            .await?
            .map(|row| payment_from!(&row))
            .transpose()
    })
}

/// The paid attempt of a fine, if there is one.
pub async fn paid_payment_of(db: &Db, fine_id: &str) -> Result<Option<Payment>, DbError> {
    on_pool!(db, pool => {
        sqlx::query(select_payments!("WHERE fine_id = $1 AND state = 'paid'"))
            .bind(fine_id)
            .fetch_optional(pool)
            .await?
            .map(|row| payment_from!(&row))
            .transpose()
    })
}

/// Attempts still pending that began before `before`, oldest first.
pub async fn pending_payments(db: &Db, before: OffsetDateTime) -> Result<Vec<Payment>, DbError> {
    on_pool!(db, pool => {
        sqlx::query(select_payments!(
            "WHERE state = 'pending' AND created_at < $1 ORDER BY created_at"
        ))
            .bind(before)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| payment_from!(row))
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
pub async fn settle(db: &Db, txn_ref: &str, s: &Settlement<'_>) -> Result<bool, DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let fine: Option<String> = sqlx::query(
            "SELECT fine_id FROM payments WHERE txn_ref = $1 AND state = 'pending'",
        )
        .bind(txn_ref)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| row.try_get("fine_id"))
        .transpose()?;
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
            let amount: i64 = sqlx::query("SELECT amount_vnd FROM payments WHERE txn_ref = $1")
                .bind(txn_ref)
                .fetch_one(&mut *tx)
                .await?
                .try_get("amount_vnd")?;
            queue_report!(tx, &fine, protocol::FineChange::Paid {
                amount_vnd: u64::try_from(amount).unwrap_or(0),
                transaction_no: s.transaction_no.to_owned(),
                paid_at: protocol::vnpay::parse_time(s.pay_date)
                    .unwrap_or_else(protocol::UtcTimestamp::now),
            });
        }
        tx.commit().await?;
        Ok(updated == 1)
    })
}

/// Records a sign-in in flight, to be taken once by the callback.
pub async fn begin_sign_in(
    db: &Db,
    state: &str,
    nonce: &str,
    verifier: &str,
) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        // Sign-ins never finished are forgotten after ten minutes.
        sqlx::query("DELETE FROM sign_ins WHERE created_at < $1")
            .bind(now - time::Duration::minutes(10))
            .execute(pool)
            .await?;
        sqlx::query("INSERT INTO sign_ins (state, nonce, verifier, created_at) VALUES ($1, $2, $3, $4)")
            .bind(state)
            .bind(nonce)
            .bind(verifier)
            .bind(now)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Takes the sign-in of `state` (nonce, PKCE verifier): once, and only within ten minutes.
pub async fn take_sign_in(db: &Db, state: &str) -> Result<Option<(String, String)>, DbError> {
    let since = OffsetDateTime::now_utc() - time::Duration::minutes(10);
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let found = sqlx::query("SELECT nonce, verifier FROM sign_ins WHERE state = $1 AND created_at >= $2")
            .bind(state)
            .bind(since)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| -> Result<(String, String), sqlx::Error> {
                Ok((row.try_get("nonce")?, row.try_get("verifier")?))
            })
            .transpose()?;
        let taken = sqlx::query("DELETE FROM sign_ins WHERE state = $1")
            .bind(state)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(found.filter(|_| taken == 1))
    })
}

/// A signed-in citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitizenSession {
    pub citizen_id: String,
    pub name: String,
    pub csrf: String,
}

pub async fn open_session(
    db: &Db,
    token_sha256: &str,
    session: &CitizenSession,
    ttl: time::Duration,
) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_sha256, citizen_id, name, csrf, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_sha256)
        .bind(&session.citizen_id)
        .bind(&session.name)
        .bind(&session.csrf)
        .bind(now + ttl)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// The live session of a token's digest.
pub async fn session(db: &Db, token_sha256: &str) -> Result<Option<CitizenSession>, DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        sqlx::query(
            "SELECT citizen_id, name, csrf FROM sessions WHERE token_sha256 = $1 AND expires_at > $2",
        )
        .bind(token_sha256)
        .bind(now)
        .fetch_optional(pool)
        .await?
        .map(|row| -> Result<CitizenSession, DbError> {
            Ok(CitizenSession {
                citizen_id: row.try_get("citizen_id")?,
                name: row.try_get("name")?,
                csrf: row.try_get("csrf")?,
            })
        })
        .transpose()
    })
}

pub async fn close_session(db: &Db, token_sha256: &str) -> Result<(), DbError> {
    on_pool!(db, pool => {
        sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
            .bind(token_sha256)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// A citizen's answer to a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// "I was driving".
    Confirmed,
    /// An explanation ("giải trình").
    Disputed,
    /// The owner named another person as the driver.
    DriverNamed,
    /// The owner had sold the vehicle before the violation, to the buyer named.
    VehicleSold,
    /// The vehicle had been stolen, reported to the police.
    VehicleStolen,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Disputed => "disputed",
            Self::DriverNamed => "driver_named",
            Self::VehicleSold => "vehicle_sold",
            Self::VehicleStolen => "vehicle_stolen",
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        [
            Self::Confirmed,
            Self::Disputed,
            Self::DriverNamed,
            Self::VehicleSold,
            Self::VehicleStolen,
        ]
        .into_iter()
        .find(|a| a.as_str() == kind)
    }
}

/// Records the citizen's answer `given` (confirmed, disputed with its reason, a driver named,
/// the vehicle sold or stolen), once, and queues its report to central: `false` when the notice
/// was answered before.
pub async fn answer(
    db: &Db,
    fine_id: &str,
    citizen_id: &str,
    given: protocol::FineChange,
) -> Result<bool, DbError> {
    let kind = given.kind();
    let text = match &given {
        protocol::FineChange::Disputed { reason } => reason.clone(),
        protocol::FineChange::DriverNamed { driver } => driver.full_name.clone(),
        protocol::FineChange::VehicleSold { buyer, sold_on, .. } => {
            format!("{} ({sold_on})", buyer.full_name)
        }
        protocol::FineChange::VehicleStolen {
            reported_on,
            report,
        } => format!("{reported_on}: {report}"),
        _ => String::new(),
    };
    let now = OffsetDateTime::now_utc();
    let inserted = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO responses (fine_id, citizen_id, kind, reason, answered_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (fine_id) DO NOTHING",
        )
        .bind(fine_id)
        .bind(citizen_id)
        .bind(kind)
        .bind(&text)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            queue_report!(tx, fine_id, given);
        }
        tx.commit().await?;
        inserted
    });
    Ok(inserted == 1)
}

/// The citizen's answer to a notice, with what it says (the reason; for a person named, their
/// name; for a theft, the report).
pub async fn answer_of(db: &Db, fine_id: &str) -> Result<Option<(Answer, String)>, DbError> {
    on_pool!(db, pool => {
        sqlx::query("SELECT kind, reason FROM responses WHERE fine_id = $1")
            .bind(fine_id)
            .fetch_optional(pool)
            .await?
            .map(|row| -> Result<(Answer, String), DbError> {
                let kind: String = row.try_get("kind")?;
                let answer = Answer::parse(&kind)
                    .ok_or_else(|| DbError::Corrupt(format!("answer {kind}")))?;
                Ok((answer, row.try_get("reason")?))
            })
            .transpose()
    })
}

/// Central refused the answer to `fine_id` with `code` (e.g. `unknown_citizen`): the answer is
/// taken back, so the citizen may answer again, and the refusal kept to show them — in one
/// transaction.
pub async fn answer_refused(db: &Db, fine_id: &str, kind: &str, code: &str) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM responses WHERE fine_id = $1 AND kind = $2")
            .bind(fine_id)
            .bind(kind)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO refused_answers (fine_id, kind, reason, refused_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(fine_id)
        .bind(kind)
        .bind(code)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    });
    Ok(())
}

/// The last refusal of an answer to `fine_id`: (the answer's kind, central's code).
/// How many times central refused a person the owner named for the fine `fine_id` (a driver,
/// a buyer: the population database did not know them by that name).
pub async fn refused_namings(db: &Db, fine_id: &str) -> Result<i64, DbError> {
    on_pool!(db, pool => {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM refused_answers
             WHERE fine_id = $1 AND kind IN ('driver_named', 'vehicle_sold')",
        )
        .bind(fine_id)
        .fetch_one(pool)
        .await?)
    })
}

pub async fn refused_answer_of(
    db: &Db,
    fine_id: &str,
) -> Result<Option<(String, String)>, DbError> {
    on_pool!(db, pool => {
        sqlx::query(
            "SELECT kind, reason FROM refused_answers WHERE fine_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(fine_id)
        .fetch_optional(pool)
        .await?
        .map(|row| Ok((row.try_get("kind")?, row.try_get("reason")?)))
        .transpose()
    })
}

/// A delivery due now, with its notice.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub channel: String,
    pub attempts: u32,
    pub notice: FineNotice,
}

/// Deliveries pending and due at `now`, the longest waiting first (at most 50 a pass).
pub async fn due_deliveries(db: &Db, now: OffsetDateTime) -> Result<Vec<DueDelivery>, DbError> {
    let rows: Vec<(i64, String, i32, String)> = on_pool!(db, pool => {
        sqlx::query(
            "SELECT d.id, d.channel, d.attempts, n.payload FROM deliveries d
             JOIN notices n ON n.fine_id = d.fine_id
             WHERE d.state = 'pending' AND d.next_attempt_at <= $1
             ORDER BY d.next_attempt_at LIMIT 50",
        )
        .bind(now)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|row| {
            Ok::<_, sqlx::Error>((
                row.try_get("id")?,
                row.try_get("channel")?,
                row.try_get("attempts")?,
                row.try_get("payload")?,
            ))
        })
        .collect::<Result<Vec<_>, _>>()?
    });
    rows.into_iter()
        .map(|(id, channel, attempts, payload)| {
            Ok(DueDelivery {
                id,
                channel,
                attempts: u32::try_from(attempts).unwrap_or(0),
                notice: stored(&payload, "notice")?,
            })
        })
        .collect()
}

/// One attempt, as it is logged and as it leaves the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord<'a> {
    /// `delivered`, `retry` or `failed`.
    pub outcome: &'static str,
    pub detail: &'a str,
    /// When to try again (only for `retry`).
    pub next: Option<OffsetDateTime>,
}

/// Logs attempt number `attempt` of a delivery and moves the delivery on: delivered, failed,
/// or pending until `next`.
pub async fn record_attempt(
    db: &Db,
    delivery_id: i64,
    attempt: u32,
    at: OffsetDateTime,
    record: &AttemptRecord<'_>,
) -> Result<(), DbError> {
    let attempt = i32::try_from(attempt).unwrap_or(i32::MAX);
    let state = match record.outcome {
        "retry" => "pending",
        other => other,
    };
    let finished = (state != "pending").then_some(at);
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, attempt, at, outcome, detail)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(delivery_id)
        .bind(attempt)
        .bind(at)
        .bind(record.outcome)
        .bind(record.detail)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries SET state = $1, attempts = $2, next_attempt_at = $3,
                                   last_error = $4, finished_at = $5
             WHERE id = $6",
        )
        .bind(state)
        .bind(attempt)
        .bind(record.next.unwrap_or(at))
        .bind((!record.detail.is_empty()).then_some(record.detail))
        .bind(finished)
        .bind(delivery_id)
        .execute(&mut *tx)
        .await?;
        if state != "pending" {
            let row = sqlx::query("SELECT fine_id, channel FROM deliveries WHERE id = $1")
                .bind(delivery_id)
                .fetch_one(&mut *tx)
                .await?;
            let (fine_id, channel): (String, String) =
                (row.try_get("fine_id")?, row.try_get("channel")?);
            queue_report!(tx, &fine_id, if state == "delivered" {
                protocol::FineChange::NoticeDelivered { channel }
            } else {
                protocol::FineChange::NoticeFailed {
                    channel,
                    error: record.detail.chars().take(1000).collect(),
                }
            });
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Where a notice's delivery through `channel` stands: state, attempts, and each attempt's
/// outcome in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryView {
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub log: Vec<String>,
}

pub async fn delivery_of(
    db: &Db,
    fine_id: &str,
    channel: &str,
) -> Result<Option<DeliveryView>, DbError> {
    on_pool!(db, pool => {
        let Some(row) = sqlx::query(
            "SELECT id, state, attempts, last_error FROM deliveries WHERE fine_id = $1 AND channel = $2",
        )
        .bind(fine_id)
        .bind(channel)
        .fetch_optional(pool)
        .await?
        else {
            return Ok(None);
        };
        let id: i64 = row.try_get("id")?;
        let log = sqlx::query(
            "SELECT outcome FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| r.try_get::<String, _>("outcome"))
        .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(DeliveryView {
            state: row.try_get("state")?,
            attempts: u32::try_from(row.try_get::<i32, _>("attempts")?).unwrap_or(0),
            last_error: row.try_get("last_error")?,
            log,
        }))
    })
}

/// A report due to central-api.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueReport {
    pub id: i64,
    pub fine_id: String,
    pub kind: String,
    pub payload: String,
    pub attempts: u32,
}

/// Reports pending and due at `now`, oldest first (at most 50 a pass).
pub async fn due_reports(db: &Db, now: OffsetDateTime) -> Result<Vec<DueReport>, DbError> {
    on_pool!(db, pool => {
        sqlx::query(
            "SELECT id, fine_id, kind, payload, attempts FROM reports
             WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT 50",
        )
        .bind(now)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|row| {
            Ok(DueReport {
                id: row.try_get("id")?,
                fine_id: row.try_get("fine_id")?,
                kind: row.try_get("kind")?,
                payload: row.try_get("payload")?,
                attempts: u32::try_from(row.try_get::<i32, _>("attempts")?).unwrap_or(0),
            })
        })
        .collect()
    })
}

/// Moves a report on after an attempt: `delivered`, `refused` (final), or still `pending`
/// until `next`.
pub async fn report_attempted(
    db: &Db,
    id: i64,
    state: &str,
    next: OffsetDateTime,
    error: Option<&str>,
) -> Result<(), DbError> {
    on_pool!(db, pool => {
        sqlx::query(
            "UPDATE reports SET state = $1, attempts = attempts + 1, next_attempt_at = $2,
                                last_error = $3
             WHERE id = $4",
        )
        .bind(state)
        .bind(next)
        .bind(error)
        .bind(id)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// The reports of a fine, oldest first: kind and state.
pub async fn reports_of(db: &Db, fine_id: &str) -> Result<Vec<(String, String)>, DbError> {
    on_pool!(db, pool => {
        sqlx::query("SELECT kind, state FROM reports WHERE fine_id = $1 ORDER BY id")
            .bind(fine_id)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|row| Ok((row.try_get("kind")?, row.try_get("state")?)))
            .collect()
    })
}

/// The result of storing a dispute's resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    New,
    /// This resolution was stored before.
    Duplicate,
    /// No notice of this fine was received.
    UnknownFine,
}

/// Stores central's answer to an owner's dispute, once per resolution id.
pub async fn store_resolution(
    db: &Db,
    r: &protocol::FineResolution,
    payload: &[u8],
) -> Result<Resolved, DbError> {
    let fine_id = r.fine_id.hyphenated().to_string();
    let now = OffsetDateTime::now_utc();
    let text = String::from_utf8_lossy(payload).into_owned();
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        if !notice_known!(tx, &fine_id) {
            return Ok(Resolved::UnknownFine);
        }
        let inserted = sqlx::query(
            "INSERT INTO resolutions (resolution_id, fine_id, outcome, answer, decided_at,
                                      received_at, payload, ground)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (resolution_id) DO NOTHING",
        )
        .bind(r.resolution_id.hyphenated().to_string())
        .bind(&fine_id)
        .bind(r.outcome.as_str())
        .bind(&r.answer)
        .bind(r.decided_at.as_datetime())
        .bind(now)
        .bind(&text)
        .bind(r.ground.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(if inserted == 1 { Resolved::New } else { Resolved::Duplicate })
    })
}

/// Central's latest resolution of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResolution {
    pub outcome: protocol::DisputeOutcome,
    /// What it answers: the owner's explanation, or nothing (a case central closed).
    pub ground: protocol::ResolutionGround,
    pub answer: String,
    pub decided_at: OffsetDateTime,
}

impl CaseResolution {
    /// Whether the case is closed with nothing owed.
    pub fn cancelled(&self) -> bool {
        self.outcome == protocol::DisputeOutcome::Cancelled
    }
}

/// Central's latest resolution of case `fine_id`.
pub async fn resolution_of(db: &Db, fine_id: &str) -> Result<Option<CaseResolution>, DbError> {
    on_pool!(db, pool => {
        sqlx::query(
            "SELECT outcome, ground, answer, decided_at FROM resolutions WHERE fine_id = $1
             ORDER BY decided_at DESC LIMIT 1",
        )
        .bind(fine_id)
        .fetch_optional(pool)
        .await?
        .map(|row| -> Result<_, DbError> {
            let outcome: String = row.try_get("outcome")?;
            let ground: String = row.try_get("ground")?;
            Ok(CaseResolution {
                outcome: protocol::DisputeOutcome::parse(&outcome)
                    .ok_or_else(|| DbError::Corrupt(format!("outcome {outcome}")))?,
                ground: protocol::ResolutionGround::parse(&ground)
                    .ok_or_else(|| DbError::Corrupt(format!("ground {ground}")))?,
                answer: row.try_get("answer")?,
                decided_at: row.try_get("decided_at")?,
            })
        })
        .transpose()
    })
}

/// Every payment attempt on a fine, oldest first.
pub async fn payments_of(db: &Db, fine_id: &str) -> Result<Vec<Payment>, DbError> {
    on_pool!(db, pool => {
        sqlx::query(select_payments!("WHERE fine_id = $1 ORDER BY created_at, txn_ref"))
            .bind(fine_id)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| payment_from!(row))
            .collect()
    })
}

/// The channels a fine's notice went through.
pub async fn delivery_channels_of(db: &Db, fine_id: &str) -> Result<Vec<String>, DbError> {
    on_pool!(db, pool => {
        sqlx::query("SELECT channel FROM deliveries WHERE fine_id = $1 ORDER BY channel")
            .bind(fine_id)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|row| Ok(row.try_get("channel")?))
            .collect()
    })
}

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
        sqlx::query(
            "SELECT format, exported_at FROM data_exports WHERE citizen_id = $1
             ORDER BY exported_at, id",
        )
        .bind(citizen_id)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get("format")?, row.try_get("exported_at")?)))
        .collect()
    })
}
