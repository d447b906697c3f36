//! Storage of central-api, on [`service_kit::db`]: PostgreSQL in production, SQLite as the
//! embedded default, one set of queries (see `on_pool!`), migrations for each engine under
//! `central-api/migrations`.

pub mod cameras;
pub mod dead_letters;
pub mod devices;
pub mod disputes;
pub mod evidence;
pub mod fine_updates;
pub mod fines;
pub mod officers;
pub mod owners;
pub mod review;
pub mod stats;
pub mod violations;

pub use service_kit::db::{DatabaseSettings, Db, DbError, Migrations};
pub(crate) use service_kit::on_pool;

/// The migrations of central-api.
pub static MIGRATIONS: Migrations = Migrations {
    postgres: sqlx::migrate!("migrations/postgres"),
    sqlite: sqlx::migrate!("migrations/sqlite"),
};

/// Connects to `settings.url` and brings central's schema up to date.
pub async fn connect(settings: &DatabaseSettings) -> Result<Db, DbError> {
    Db::connect(settings, &MIGRATIONS).await
}
