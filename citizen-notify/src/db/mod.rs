//! Storage of citizen-notify, on [`service_kit::db`], one file per table or group of tables:
//! [`notices`] (notices, decisions, resolutions), [`payments`], [`sessions`] (sign-ins and
//! sessions), [`answers`], [`deliveries`], [`reports`] (the outbox to central), [`exports`].
//! Migrations for each engine are under `citizen-notify/migrations`.

pub use service_kit::{
    db::{DatabaseSettings, Db, DbError, Migrations},
    sealed::SealingKey,
};

/// The migrations of citizen-notify.
pub static MIGRATIONS: Migrations = Migrations {
    postgres: sqlx::migrate!("migrations/postgres"),
    sqlite: sqlx::migrate!("migrations/sqlite"),
    service_grants: &[],
};

/// Queues a report to central-api of `change` to fine `fine_id` (a `&str`), sealed under
/// `key` ([`at_rest::REPORTS`]), inside the open transaction `tx`, so the report exists exactly
/// when the change does. (A macro: the transaction types of the two engines differ.)
macro_rules! queue_report {
    ($tx:expr, $key:expr, $fine_id:expr, $change:expr) => {
        queue_report!($tx, $key, $fine_id, $change, Vec::new())
    };
    ($tx:expr, $key:expr, $fine_id:expr, $change:expr, $documents:expr) => {{
        let change: protocol::FineChange = $change;
        let now = OffsetDateTime::now_utc();
        let update = protocol::FineUpdate {
            update_id: uuid::Uuid::now_v7(),
            fine_id: uuid::Uuid::parse_str($fine_id)
                .map_err(|e| DbError::Corrupt(format!("fine id {}: {e}", $fine_id)))?,
            at: protocol::UtcTimestamp::from_datetime(now),
            change,
            documents: $documents,
        };
        let payload = protocol::wire::encode(&update)
            .map_err(|e| DbError::Corrupt(format!("fine update: {e}")))?;
        let update_id = update.update_id.hyphenated().to_string();
        let payload = $crate::db::at_rest::REPORTS.seal(
            Some($key),
            &update_id,
            &String::from_utf8_lossy(&payload),
        )?;
        sqlx::query(
            "INSERT INTO reports (update_id, fine_id, kind, payload, created_at, state, attempts,
                                  next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $5)",
        )
        .bind(&update_id)
        .bind($fine_id)
        .bind(update.change.kind())
        .bind(payload)
        .bind(now)
        .execute(&mut *$tx)
        .await?;
        update.update_id
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

/// A message stored as it was received in the row keyed `row` of the sealed `column`, opened
/// under `key` and read back.
pub(crate) fn stored<M: protocol::Message>(
    key: &SealingKey,
    column: &at_rest::SealedColumn,
    row: &str,
    payload: String,
) -> Result<M, DbError> {
    let payload = column.open(Some(key), row, payload)?;
    protocol::wire::decode(payload.as_bytes())
        .map_err(|e| DbError::Corrupt(format!("stored {} {row}: {e}", column.what)))
}

pub mod answers;
pub mod at_rest;
pub mod deliveries;
pub mod exports;
pub mod notices;
pub mod payments;
pub mod reports;
pub mod sessions;

pub use answers::{
    Answer, Attached, answer, answer_of, answer_refused, documents_of_answer, documents_of_report,
    refused_answer_of, refused_namings,
};
pub use deliveries::{
    AttemptRecord, DeliveryView, DueDelivery, delivery_channels_of, delivery_of, due_deliveries,
    record_attempt,
};
pub use exports::{exports_of, record_export};
pub use notices::{
    CaseResolution, Resolved, Stored, decision_of, notice_of, notices_of, resolution_of,
    store_decision, store_notice, store_resolution,
};
pub use payments::{
    Payment, PaymentState, Settlement, insert_payment, paid_payment_of, payment, payments_of,
    pending_payments, settle,
};
pub use reports::{DueReport, due_reports, report_attempted, reports_of};
pub use sessions::{
    CitizenSession, begin_sign_in, close_session, open_session, session, take_sign_in,
};
