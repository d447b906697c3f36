//! The messages central keeps that carry what the citizens table seals, sealed in the same way
//! ([`crate::sealed`], under `review.secrets_key_file`), each bound to its row: a value copied to
//! another row does not open there.
//!
//! - [`NOTICES`]: a notice of violation in the outbox carries the owner's phone and e-mail from
//!   the registry. It stays after delivery (the paper notice prints it), so it is kept sealed
//!   and opened only to send it and to print it. The outbox's other messages (penalty
//!   decisions, resolutions) carry what `fines` keeps in the clear anyway (the citizen's
//!   number, the amounts, the unit's answer) and are kept as they are.
//! - [`FINE_UPDATES`]: what citizen-notify reported, as it signed it: an owner's answer naming
//!   a driver or a buyer carries that person's name, number and licence, or the sale contract.
//!   Central keeps it as the record of what was answered, and reads a dispute's reason from it
//!   for the supervisor who answers it (`db::disputes`).
//!
//! Where no key is configured the values are kept as they are, and a value kept in the clear by
//! an earlier version opens as it is; the next start seals both, and those sealed under a key
//! since rotated ([`reseal`]).

use service_kit::on_pool;

use super::{Db, DbError};
use crate::sealed::{self, ResealCount, SealingKey};

/// A text column whose values are sealed, each bound to its row by the row's unique text key.
#[derive(Debug, Clone, Copy)]
pub struct SealedColumn {
    /// The table.
    pub table: &'static str,
    /// The column of unique text keys.
    pub key: &'static str,
    /// The sealed column.
    pub value: &'static str,
    /// Which of the table's rows are sealed, as a condition on the table.
    pub rows: &'static str,
    /// What a value is sealed for: `{bound}:{key}`.
    pub bound: &'static str,
    /// What the column holds, as errors name it.
    pub what: &'static str,
}

/// Notices of violation in the outbox, keyed by their idempotency key (the case's id).
pub const NOTICES: SealedColumn = SealedColumn {
    table: "outbox",
    key: "idempotency_key",
    value: "payload",
    rows: "kind = 'violation_notice'",
    bound: "outbox:violation_notice",
    what: "notice",
};

/// What citizen-notify reported on a case, keyed by the update's id.
pub const FINE_UPDATES: SealedColumn = SealedColumn {
    table: "fine_updates",
    key: "update_id",
    value: "payload",
    rows: "TRUE",
    bound: "fine_update",
    what: "case update",
};

impl SealedColumn {
    fn owner(&self, key: &str) -> String {
        format!("{}:{key}", self.bound)
    }

    /// `value` of the row keyed `row` as the table keeps it: sealed under `key`, or as it is
    /// without one.
    pub fn seal(
        &self,
        key: Option<&SealingKey>,
        row: &str,
        value: &str,
    ) -> Result<String, DbError> {
        sealed::stored(key, value, &self.owner(row))
            .map_err(|e| DbError::Corrupt(format!("sealing the {} {row}: {e}", self.what)))
    }

    /// The value of the row keyed `row` as `stored`, opened under `key` (a value kept in the
    /// clear, as it is).
    pub fn open(
        &self,
        key: Option<&SealingKey>,
        row: &str,
        stored: String,
    ) -> Result<String, DbError> {
        sealed::opened(key, stored, &self.owner(row))
            .map_err(|e| DbError::Corrupt(format!("the {} {row}: {e}", self.what)))
    }
}

/// The payload of an outbox row of `kind` keyed `row` as stored, opened under `key`: a notice
/// sealed as [`NOTICES`] seals it, a value in the clear as it is.
pub fn open_outbox(
    key: Option<&SealingKey>,
    kind: &str,
    row: &str,
    stored: String,
) -> Result<String, DbError> {
    sealed::opened(key, stored, &format!("outbox:{kind}:{row}"))
        .map_err(|e| DbError::Corrupt(format!("the outbox's {kind} {row}: {e}")))
}

/// Seals every value of `column` kept in the clear, or under a former key, under `key`. The
/// first batch is read whole, so that values sealed under a key no longer configured are found
/// (and counted) at once; after it, without former keys, only values in the clear are read.
pub async fn reseal(
    db: &Db,
    key: &SealingKey,
    column: &SealedColumn,
) -> Result<ResealCount, DbError> {
    const BATCH: i64 = 500;
    let SealedColumn {
        table,
        key: row_key,
        value,
        rows,
        ..
    } = column;
    let all = format!(
        "SELECT {row_key}, {value} FROM {table} WHERE {rows} AND {row_key} > $1
         ORDER BY {row_key} LIMIT $2"
    );
    let clear = format!(
        "SELECT {row_key}, {value} FROM {table}
         WHERE {rows} AND {row_key} > $1 AND {value} NOT LIKE 'v1:%'
         ORDER BY {row_key} LIMIT $2"
    );
    let update = format!("UPDATE {table} SET {value} = $1 WHERE {row_key} = $2 AND {value} = $3");
    let mut count = ResealCount::default();
    let mut after = String::new();
    let mut first = true;
    loop {
        let query = if first || key.has_former() {
            &all
        } else {
            &clear
        };
        first = false;
        let batch: Vec<(String, String)> = on_pool!(db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(query.to_owned()))
                .bind(&after)
                .bind(BATCH)
                .fetch_all(pool)
                .await?
        });
        let Some((last, _)) = batch.last() else {
            return Ok(count);
        };
        after = last.clone();
        for (row, stored) in batch {
            let again = count
                .record(key.reseal(&stored, &column.owner(&row)))
                .map_err(|e| DbError::Corrupt(format!("sealing the {} {row}: {e}", column.what)))?;
            let Some(sealed) = again else { continue };
            // Only the value as read: one changed meanwhile was written sealed already.
            on_pool!(db, pool => {
                sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                    .bind(sealed.as_str())
                    .bind(&row)
                    .bind(&stored)
                    .execute(pool)
                    .await?;
            });
        }
    }
}

/// [`reseal`] of every sealed column of this module.
pub async fn reseal_all(db: &Db, key: &SealingKey) -> Result<ResealCount, DbError> {
    let mut count = ResealCount::default();
    for column in [&NOTICES, &FINE_UPDATES] {
        count = count.plus(reseal(db, key, column).await?);
    }
    Ok(count)
}
