//! Storage of central-api, on [`service_kit::db`]: PostgreSQL in production, SQLite as the
//! embedded default, one set of queries (see `on_pool!`), migrations for each engine under
//! `central-api/migrations`.

/// Queues a message for citizen-notify in the caller's transaction `tx` (either engine): the
/// outbox row of `kind` keyed by `key`, sent by [`crate::relay`] until delivered.
macro_rules! enqueue {
    ($tx:ident, $kind:expr, $key:expr, $payload:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO outbox (kind, idempotency_key, payload, created_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind($kind)
        .bind($key)
        .bind($payload)
        .bind($now)
        .execute(&mut *$tx)
        .await?
    };
}
pub(crate) use enqueue;

/// In transaction `$tx` (either engine): whether device `$device` is registered and not revoked.
macro_rules! device_active {
    ($tx:ident, $device:expr) => {{
        let active: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM devices WHERE device_id = $1 AND revoked_at IS NULL",
        )
        .bind($device)
        .fetch_one(&mut *$tx)
        .await?;
        active > 0
    }};
}
pub(crate) use device_active;

/// How a transaction that reads, then writes on what it read, begins: on SQLite with the write
/// lock taken at once, so its reads cannot go stale before its write (a deferred transaction
/// fails, rather than waits, when another connection wrote meanwhile).
pub(crate) fn begin_writing(db: &Db) -> &'static str {
    match db {
        Db::Postgres(_) => "BEGIN",
        Db::Sqlite(_) => "BEGIN IMMEDIATE",
    }
}

pub mod at_rest;
pub mod calendar;
pub mod cameras;
pub mod corrections;
pub mod dead_letters;
pub mod deadlines;
pub mod decisions;
pub mod devices;
pub mod disputes;
pub mod evidence;
pub mod fine_updates;
pub mod fines;
pub mod officers;
pub mod owners;
pub mod requests;
pub mod retention;
pub mod review;
pub mod snapshots;
pub mod stats;
pub mod violations;

pub use service_kit::db::{DatabaseSettings, Db, DbError, Migrations};
pub(crate) use service_kit::on_pool;

/// `sql`, which ends in `IN (`, with each of `values` bound in the list and the list closed.
pub(crate) fn in_list<'t, DB, T>(
    sql: &str,
    values: impl IntoIterator<Item = T>,
) -> sqlx::QueryBuilder<DB>
where
    DB: sqlx::Database,
    <DB as sqlx::Database>::Arguments: Default,
    T: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let mut query = sqlx::QueryBuilder::new(sql);
    let mut listed = query.separated(", ");
    for value in values {
        listed.push_bind(value);
    }
    listed.push_unseparated(")");
    query
}

/// The migrations of central-api.
pub static MIGRATIONS: Migrations = Migrations {
    postgres: sqlx::migrate!("migrations/postgres"),
    sqlite: sqlx::migrate!("migrations/sqlite"),
    service_grants: SERVICE_GRANTS,
};

/// What central's own role may not do (with `database.owner_url`): change or delete an audit
/// entry or an erasure record — only blank an entry's details when its subject is purged, as
/// the triggers allow — and so never lose the chain by `TRUNCATE` or a dropped trigger.
const SERVICE_GRANTS: &[&str] = &[
    "REVOKE UPDATE, DELETE ON audit_log FROM {role}",
    "GRANT UPDATE (details, erased_at) ON audit_log TO {role}",
    "REVOKE UPDATE, DELETE ON audit_erased_subjects FROM {role}",
];

/// Connects to `settings.url` and brings central's schema up to date.
pub async fn connect(settings: &DatabaseSettings) -> Result<Db, DbError> {
    Db::connect(settings, &MIGRATIONS).await
}
