//! Test databases (feature `testing`): each test makes its own world, a fresh PostgreSQL
//! database with a random name or a SQLite file in a temporary folder, migrated for the service.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};

use crate::db::{DatabaseSettings, Db, Migrations};

/// The PostgreSQL `make deps` prepares (`TVE_TEST_DATABASE_URL`); its role may create databases.
pub fn postgres_base_url() -> String {
    std::env::var("TVE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://tve:tve@127.0.0.1:5432/tve_test".into())
}

fn with_database(url: &str, name: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => format!("{url}/{name}"),
    }
}

/// A database of one engine, made for one test.
#[derive(Debug)]
pub struct TestDb {
    pub db: Db,
    /// Settings that reach the same database, for a service built in the test.
    pub settings: DatabaseSettings,
    postgres_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new database on the test PostgreSQL. Panics, naming the server, when it cannot be
    /// reached: these tests never skip.
    pub async fn postgres(migrations: &Migrations) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = postgres_base_url();
        let mut admin = PgConnection::connect(&base).await.unwrap_or_else(|e| {
            panic!("cannot reach the test PostgreSQL at {base} (run `make deps`): {e}")
        });
        drop_leftovers(&mut admin).await;
        let name = format!(
            "tve_t_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        let settings = DatabaseSettings {
            url: with_database(&base, &name),
            max_connections: 4,
            ..DatabaseSettings::default()
        };
        let db = Db::connect(&settings, migrations)
            .await
            .unwrap_or_else(|e| panic!("migrating test database {name}: {e}"));
        Self {
            db,
            settings,
            postgres_name: Some(name),
            _dir: None,
        }
    }

    /// A new SQLite database in a temporary folder.
    pub async fn sqlite(migrations: &Migrations) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary folder: {e}"));
        let settings = DatabaseSettings {
            url: format!("sqlite://{}", dir.path().join("test.db").display()),
            max_connections: 4,
            ..DatabaseSettings::default()
        };
        let db = Db::connect(&settings, migrations)
            .await
            .unwrap_or_else(|e| panic!("migrating the SQLite test database: {e}"));
        Self {
            db,
            settings,
            postgres_name: None,
            _dir: Some(dir),
        }
    }

    /// Closes the pool and drops the PostgreSQL database.
    pub async fn finish(self) {
        self.db.close().await;
        if let Some(name) = self.postgres_name
            && let Ok(mut admin) = PgConnection::connect(&postgres_base_url()).await
        {
            let _ = sqlx::query(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await;
        }
    }
}

/// Drops the databases of test processes that are gone (a test that panicked leaves its
/// database behind; the next run clears it).
async fn drop_leftovers(admin: &mut PgConnection) {
    let Ok(rows) = sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE 'tve\\_t\\_%'")
        .fetch_all(&mut *admin)
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String, _>("datname") else {
            continue;
        };
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = sqlx::query(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut *admin)
            .await;
        }
    }
}

/// Runs async test bodies `async fn NAME(&TestDb)` once on PostgreSQL and once on SQLite, as two
/// tests each (`NAME::postgres`, `NAME::sqlite`); `$postgres` and `$sqlite` make the databases.
#[macro_export]
macro_rules! on_both_engines {
    ($postgres:path, $sqlite:path; $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn postgres() {
                    let t = $postgres().await;
                    super::$name(&t).await;
                    t.finish().await;
                }

                #[tokio::test]
                async fn sqlite() {
                    let t = $sqlite().await;
                    super::$name(&t).await;
                    t.finish().await;
                }
            }
        )*
    };
}
