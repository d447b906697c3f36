//! Storage: PostgreSQL in production, SQLite as the embedded default, one set of queries.
//!
//! Every query is written once, in SQL both engines read (`$1` parameters, `ON CONFLICT`,
//! `RETURNING`), and `on_pool!` runs it on whichever pool is configured. Column types differ per
//! engine (timestamptz / text, uuid / blob, jsonb / text) and sqlx maps the Rust types onto them;
//! the migrations under `migrations/postgres` and `migrations/sqlite` keep the two schemas alike.

pub mod dead_letters;
pub mod devices;
pub mod evidence;
pub mod fines;
pub mod officers;
pub mod owners;
pub mod review;
pub mod violations;

use std::str::FromStr;

use sqlx::{
    PgPool, SqlitePool,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::config::DatabaseSettings;

/// A connection pool on one of the two engines.
#[derive(Debug, Clone)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$pool` bound to the configured pool, whichever engine it is.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Postgres($pool) => $body,
            $crate::db::Db::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database.url `{0}` is neither postgres:// nor sqlite://")]
    UnknownScheme(String),
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("creating the folder of the SQLite database {path}: {source}")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Db {
    /// Connects to `settings.url` and brings its schema up to date.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, DbError> {
        let url = settings.url.as_str();
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(std::time::Duration::from_millis(
                    settings.acquire_timeout_ms,
                ))
                .connect(url)
                .await?;
            Self::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(std::time::Duration::from_millis(
                    settings.acquire_timeout_ms,
                ));
            if let Some(parent) = options.get_filename().parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|source| DbError::Folder {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(std::time::Duration::from_millis(
                    settings.acquire_timeout_ms,
                ))
                .connect_with(options)
                .await?;
            Self::Sqlite(pool)
        } else {
            return Err(DbError::UnknownScheme(url.to_owned()));
        };
        db.migrate().await?;
        Ok(db)
    }

    /// Applies the migrations of this engine that have not run yet.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Self::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
            Self::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
        }
        Ok(())
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}
