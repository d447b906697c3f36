//! Storage shared by the services: PostgreSQL in production, SQLite as the embedded default,
//! one set of queries.
//!
//! Every query is written once, in SQL both engines read (`$1` parameters, `ON CONFLICT`,
//! `RETURNING`), and [`on_pool!`](crate::on_pool) runs it on whichever pool is configured.
//! Column types differ per engine (timestamptz / text, uuid / blob, jsonb / text) and sqlx maps
//! the Rust types onto them; each service keeps two migration folders, `migrations/postgres` and
//! `migrations/sqlite`, that keep its two schemas alike.

use serde::{Deserialize, Serialize};
use sqlx::migrate::Migrator;

/// Where a service keeps its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host/db` in production; `sqlite://PATH` (created when missing)
    /// is the embedded default.
    pub url: String,
    /// PostgreSQL only: the database owner's URL. When set, the migrations run as the owner
    /// and the service's own role (the user of `url`) is given only what the service needs —
    /// rows to read and write, never the schema: it cannot drop or alter a table, its
    /// triggers, or `TRUNCATE` one (see [`Migrations::service_grants`]). Unset, the role of
    /// `url` migrates and owns the schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_url: Option<String>,
    pub max_connections: u32,
    /// How long to wait for a connection (and, on SQLite, for a lock).
    pub acquire_timeout_ms: u64,
}

impl DatabaseSettings {
    /// An embedded SQLite database at `path`.
    pub fn sqlite(path: &str) -> Self {
        Self {
            url: format!("sqlite://{path}"),
            ..Self::default()
        }
    }

    /// The URL as logs and errors may show it: a password in it replaced by `***`.
    pub fn redacted_url(&self) -> String {
        redacted(&self.url)
    }

    /// Checks the URL's scheme and the pool size; errors name the field.
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        let url = &self.url;
        if !(url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite:"))
        {
            return Err(crate::ConfigError::invalid(
                "database.url",
                "must start with postgres://, postgresql:// or sqlite:",
            ));
        }
        if self.max_connections == 0 {
            return Err(crate::ConfigError::invalid(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        if let Some(owner) = &self.owner_url {
            let postgres = |u: &str| u.starts_with("postgres://") || u.starts_with("postgresql://");
            if !postgres(owner) || !postgres(url) {
                return Err(crate::ConfigError::invalid(
                    "database.owner_url",
                    "is for PostgreSQL: both it and database.url must start with postgres://",
                ));
            }
            if role_of(owner) == role_of(url) {
                return Err(crate::ConfigError::invalid(
                    "database.owner_url",
                    "names the role of database.url: the owner must be another role",
                ));
            }
        }
        Ok(())
    }
}

/// `url` with its password replaced by `***`.
fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The user a PostgreSQL URL connects as (empty when it names none).
fn role_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.username().to_owned())
        .unwrap_or_default()
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://data/tve.db".into(),
            owner_url: None,
            max_connections: 8,
            acquire_timeout_ms: 5_000,
        }
    }
}

/// A service's migrations, one set per engine (`sqlx::migrate!` in the service's crate).
#[derive(Debug)]
pub struct Migrations {
    pub postgres: Migrator,
    pub sqlite: Migrator,
    /// PostgreSQL statements the owner runs after migrating, when the service connects as a
    /// role of its own ([`DatabaseSettings::owner_url`]), each with `{role}` for that role:
    /// what the service may not do on top of [`BASE_GRANTS`] (an append-only table's `UPDATE`
    /// and `DELETE` revoked, say). Empty for none.
    pub service_grants: &'static [&'static str],
}

/// What a service's own role gets on every table: its rows, never the schema (no `TRUNCATE`,
/// no `ALTER`, no `DROP`, no trigger), and only a look at the migrations' ledger.
pub const BASE_GRANTS: &[&str] = &[
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    "REVOKE ALL ON _sqlx_migrations FROM {role}",
    "GRANT SELECT ON _sqlx_migrations TO {role}",
];

use std::str::FromStr;

use sqlx::{
    PgPool, SqlitePool,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// A connection pool on one of the two engines.
#[derive(Debug, Clone)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$pool` bound to the configured pool, whichever engine it is: the query
/// is written once and compiled for both.
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Postgres($pool) => $body,
            $crate::db::Db::Sqlite($pool) => $body,
        }
    };
}

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
    #[error(
        "database.url names the role `{0}`, which cannot be given rights: a plain name of letters, digits and `_` is needed"
    )]
    Role(String),
    #[error("creating the folder of the SQLite database {path}: {source}")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl DbError {
    /// Whether the database could not write for want of disk: SQLite's SQLITE_FULL (13, with
    /// any extended code), PostgreSQL's `53100 disk_full`, or the OS's ENOSPC.
    pub fn is_storage_full(&self) -> bool {
        match self {
            Self::Sqlx(sqlx::Error::Database(e)) => e.code().is_some_and(|code| {
                code == "53100" || code.parse::<i32>().is_ok_and(|c| c & 0xff == 13)
            }),
            Self::Sqlx(sqlx::Error::Io(e)) => e.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }
}

impl Db {
    /// Connects to `settings.url` and brings its schema up to date with the service's
    /// migrations for that engine: as the owner of `settings.owner_url` when it is set (the
    /// service's role then given its rights again, for the tables just made), else as the role
    /// of `url`.
    pub async fn connect(
        settings: &DatabaseSettings,
        migrations: &Migrations,
    ) -> Result<Self, DbError> {
        if let Some(owner) = &settings.owner_url {
            let owned = Self::open(&DatabaseSettings {
                url: owner.clone(),
                owner_url: None,
                max_connections: 1,
                ..settings.clone()
            })
            .await?;
            let granted = async {
                owned.migrate(migrations).await?;
                owned.grant(&role_of(&settings.url), migrations).await
            };
            let result = granted.await;
            owned.close().await;
            result?;
            return Self::open(settings).await;
        }
        let db = Self::open(settings).await?;
        db.migrate(migrations).await?;
        Ok(db)
    }

    /// Gives the service's role `role` what [`BASE_GRANTS`] and the service's own
    /// [`Migrations::service_grants`] say, as the owner.
    async fn grant(&self, role: &str, migrations: &Migrations) -> Result<(), DbError> {
        let Self::Postgres(pool) = self else {
            return Ok(());
        };
        if role.is_empty() || !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(DbError::Role(role.to_owned()));
        }
        let mut tx = pool.begin().await?;
        for statement in BASE_GRANTS.iter().chain(migrations.service_grants) {
            let sql = statement.replace("{role}", &format!("\"{role}\""));
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A pool on `settings.url`, as it is.
    async fn open(settings: &DatabaseSettings) -> Result<Self, DbError> {
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
                crate::secret_file::create_private_dir(parent).map_err(|source| {
                    DbError::Folder {
                        path: parent.display().to_string(),
                        source,
                    }
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
        Ok(db)
    }

    /// Applies the migrations of this engine that have not run yet.
    pub async fn migrate(&self, migrations: &Migrations) -> Result<(), DbError> {
        match self {
            Self::Postgres(pool) => migrations.postgres.run(pool).await?,
            Self::Sqlite(pool) => migrations.sqlite.run(pool).await?,
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
        crate::on_pool!(self, pool => pool.close().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_password_never_shows() {
        let with = |url: &str| DatabaseSettings {
            url: url.into(),
            ..DatabaseSettings::default()
        };
        let shown = with("postgres://tve:hunter2-secret@db.internal:5432/tve").redacted_url();
        assert_eq!(shown, "postgres://tve:***@db.internal:5432/tve");
        assert_eq!(
            with("postgres://tve@db.internal/tve").redacted_url(),
            "postgres://tve@db.internal/tve"
        );
        assert_eq!(
            with("sqlite://data/central.db").redacted_url(),
            "sqlite://data/central.db"
        );
    }

    #[test]
    fn an_owner_is_another_postgres_role() {
        let with = |url: &str, owner: &str| DatabaseSettings {
            url: url.into(),
            owner_url: Some(owner.into()),
            ..DatabaseSettings::default()
        };
        let field = |s: DatabaseSettings| s.validate().err().map(|e| e.to_string());
        assert_eq!(
            field(with(
                "postgres://central:a@db/tve",
                "postgres://owner:b@db/tve"
            )),
            None
        );
        for bad in [
            with("postgres://central:a@db/tve", "postgres://central:a@db/tve"),
            with("sqlite://data/central.db", "postgres://owner:b@db/tve"),
            with("postgres://central:a@db/tve", "sqlite://data/central.db"),
        ] {
            let message = field(bad).unwrap_or_default();
            assert!(message.contains("database.owner_url"), "{message}");
        }
    }
}
