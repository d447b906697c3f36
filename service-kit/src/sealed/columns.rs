//! Columns whose values are sealed ([`super`]), each bound to its row by the row's unique key:
//! a value copied to another row does not open there. A service names its sealed columns as
//! [`SealedColumn`]s, seals on write and opens on read through them, and at each start brings
//! every value kept in the clear by an earlier version, or under a former key, under the
//! current key ([`reseal`]).

use super::{NotOpened, PREFIX, ResealCount, SealingKey};
use crate::{
    db::{Db, DbError},
    on_pool,
};

/// What identifies a row of a table with sealed values, as the text its values are bound to.
#[derive(Debug, Clone, Copy)]
pub enum RowKey {
    /// A unique text column, or an expression of the row's columns.
    Text(&'static str),
    /// A UUID column (PostgreSQL `UUID`, SQLite a 16-byte blob), as its hyphenated lower-case
    /// text.
    Uuid(&'static str),
}

impl RowKey {
    /// The key as an SQL expression of text on `db`'s engine.
    pub fn expr(&self, db: &Db) -> String {
        match (self, db) {
            (Self::Text(e), _) => (*e).to_owned(),
            (Self::Uuid(c), Db::Postgres(_)) => format!("CAST({c} AS TEXT)"),
            (Self::Uuid(c), Db::Sqlite(_)) => {
                let part = |from: u32, len: u32| format!("substr(lower(hex({c})), {from}, {len})");
                format!(
                    "{} || '-' || {} || '-' || {} || '-' || {} || '-' || {}",
                    part(1, 8),
                    part(9, 4),
                    part(13, 4),
                    part(17, 4),
                    part(21, 12)
                )
            }
        }
    }
}

/// A column of sealed values: text (`v1:` and hex) or bytes (a document).
#[derive(Debug, Clone, Copy)]
pub struct SealedColumn {
    /// The table.
    pub table: &'static str,
    /// What identifies a row.
    pub key: RowKey,
    /// The sealed column.
    pub value: &'static str,
    /// Which of the table's rows are sealed, as a condition on the table.
    pub rows: &'static str,
    /// What a value is sealed for: `{bound}:{key}`.
    pub bound: &'static str,
    /// What the column holds, as errors name it.
    pub what: &'static str,
}

impl SealedColumn {
    /// What the value of the row keyed `row` is sealed for.
    pub fn owner(&self, row: &str) -> String {
        format!("{}:{row}", self.bound)
    }

    /// `value` of the row keyed `row` as the table keeps it: sealed under `key`, or as it is
    /// without one.
    pub fn seal(
        &self,
        key: Option<&SealingKey>,
        row: &str,
        value: &str,
    ) -> Result<String, DbError> {
        super::stored(key, value, &self.owner(row)).map_err(|e| self.not_sealed(row, e))
    }

    /// The value of the row keyed `row` as `stored`, opened under `key` (a value kept in the
    /// clear, as it is).
    pub fn open(
        &self,
        key: Option<&SealingKey>,
        row: &str,
        stored: String,
    ) -> Result<String, DbError> {
        super::opened(key, stored, &self.owner(row)).map_err(|e| self.not_opened(row, e))
    }

    /// [`Self::seal`] of bytes.
    pub fn seal_bytes(
        &self,
        key: Option<&SealingKey>,
        row: &str,
        value: &[u8],
    ) -> Result<Vec<u8>, DbError> {
        super::stored_bytes(key, value, &self.owner(row)).map_err(|e| self.not_sealed(row, e))
    }

    /// [`Self::open`] of bytes.
    pub fn open_bytes(
        &self,
        key: Option<&SealingKey>,
        row: &str,
        stored: Vec<u8>,
    ) -> Result<Vec<u8>, DbError> {
        super::opened_bytes(key, stored, &self.owner(row)).map_err(|e| self.not_opened(row, e))
    }

    fn not_opened(&self, row: &str, e: NotOpened) -> DbError {
        DbError::Corrupt(format!("the {} {row}: {e}", self.what))
    }

    fn not_sealed(&self, row: &str, e: impl std::fmt::Display) -> DbError {
        DbError::Corrupt(format!("sealing the {} {row}: {e}", self.what))
    }

    /// What a pass of [`reseal`] stores in place of the row keyed `row`: its value sealed
    /// again, or `None` to leave it; counted in `count`.
    fn sealed_again<T>(
        &self,
        count: &mut ResealCount,
        row: &str,
        outcome: Result<super::Resealed<T>, super::ResealError>,
    ) -> Result<Option<T>, DbError> {
        count.record(outcome).map_err(|e| self.not_sealed(row, e))
    }

    /// The statement that stores a value sealed again on `db`, only over the value as read:
    /// one changed meanwhile was written sealed already.
    fn update(&self, db: &Db) -> String {
        let Self { table, value, .. } = self;
        let key = self.key.expr(db);
        format!("UPDATE {table} SET {value} = $1 WHERE {key} = $2 AND {value} = $3")
    }
}

/// Batches of rows read by [`reseal`].
const BATCH: i64 = 500;

/// Seals every value of the text column `column` kept in the clear, or under a former key,
/// under `key`. The first batch is read whole, so that values sealed under a key no longer
/// configured are found (and counted) at once; after it, without former keys, only values in
/// the clear are read.
pub async fn reseal(
    db: &Db,
    key: &SealingKey,
    column: &SealedColumn,
) -> Result<ResealCount, DbError> {
    let SealedColumn {
        table, value, rows, ..
    } = column;
    let row_key = column.key.expr(db);
    let all = format!(
        "SELECT {row_key} AS k, {value} FROM {table} WHERE {rows} AND {row_key} > $1
         ORDER BY {row_key} LIMIT $2"
    );
    let clear = format!(
        "SELECT {row_key} AS k, {value} FROM {table}
         WHERE {rows} AND {row_key} > $1 AND {value} NOT LIKE '{PREFIX}%'
         ORDER BY {row_key} LIMIT $2"
    );
    let update = column.update(db);
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
            let outcome = key.reseal(&stored, &column.owner(&row));
            let Some(sealed) = column.sealed_again(&mut count, &row, outcome)? else {
                continue;
            };
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

/// [`reseal`] of a column of bytes (documents, up to megabytes each): their keys are read
/// first, those of the values in the clear only unless former keys are configured (then all,
/// and the first is opened to find a key no longer configured at once), then each value alone.
pub async fn reseal_bytes(
    db: &Db,
    key: &SealingKey,
    column: &SealedColumn,
) -> Result<ResealCount, DbError> {
    let SealedColumn {
        table, value, rows, ..
    } = column;
    let row_key = column.key.expr(db);
    let prefix = PREFIX.as_bytes();
    let keys: Vec<(String, bool)> = on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {row_key} AS k, substr({value}, 1, {n}) = $1 AS sealed FROM {table}
             WHERE {rows} ORDER BY {row_key}",
            n = prefix.len()
        )))
        .bind(prefix)
        .fetch_all(pool)
        .await?
    });
    let mut count = ResealCount::default();
    let mut checked = false;
    let read = format!("SELECT {value} FROM {table} WHERE {row_key} = $1");
    let update = column.update(db);
    for (row, sealed) in keys {
        if sealed && checked && !key.has_former() {
            continue;
        }
        checked |= sealed;
        let stored: Option<Vec<u8>> = on_pool!(db, pool => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(read.clone()))
                .bind(&row)
                .fetch_optional(pool)
                .await?
        });
        let Some(stored) = stored else { continue };
        let outcome = key.reseal_bytes(&stored, &column.owner(&row));
        let Some(sealed) = column.sealed_again(&mut count, &row, outcome)? else {
            continue;
        };
        on_pool!(db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                .bind(sealed.as_slice())
                .bind(&row)
                .bind(stored.as_slice())
                .execute(pool)
                .await?;
        });
    }
    Ok(count)
}
