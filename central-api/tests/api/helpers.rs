//! Each test makes its own world: a fresh PostgreSQL database (random name) or SQLite file.

use std::sync::atomic::{AtomicU32, Ordering};

use central_api::{config::DatabaseSettings, db::Db};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};

/// The PostgreSQL `make deps` prepares; the role may create databases.
fn postgres_base_url() -> String {
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
    /// A new database on the test PostgreSQL. Fails loudly when it cannot be reached.
    pub async fn postgres() -> Self {
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
            .unwrap();
        let settings = DatabaseSettings {
            url: with_database(&base, &name),
            max_connections: 4,
            ..DatabaseSettings::default()
        };
        Self {
            db: central_api::db::connect(&settings).await.unwrap(),
            settings,
            postgres_name: Some(name),
            _dir: None,
        }
    }

    /// A new SQLite database in a temporary folder.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let settings = DatabaseSettings {
            url: format!("sqlite://{}", dir.path().join("central.db").display()),
            max_connections: 4,
            ..DatabaseSettings::default()
        };
        Self {
            db: central_api::db::connect(&settings).await.unwrap(),
            settings,
            postgres_name: None,
            _dir: Some(dir),
        }
    }

    /// Closes the pool and drops the PostgreSQL database.
    pub async fn finish(self) {
        self.db.close().await;
        if let Some(name) = self.postgres_name {
            let mut admin = PgConnection::connect(&postgres_base_url()).await.unwrap();
            sqlx::query(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await
            .unwrap();
        }
    }
}

/// Drops the databases of test processes that are gone (a test that panicked leaves its
/// database behind; the next run clears it).
async fn drop_leftovers(admin: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE 'tve\\_t\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.get("datname"))
            .collect();
    for name in names {
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

/// The citizen every test registry knows.
pub fn owner() -> protocol::CitizenId {
    protocol::CitizenId::parse("079203012345").unwrap()
}

/// Registers the white plate 51F-123.45 (a Toyota Vios) to [`owner`].
pub async fn seed_registry(db: &Db) {
    use central_api::db::owners::{Citizen, Registration, upsert_citizen, upsert_registration};
    upsert_citizen(
        db,
        &Citizen {
            id: owner(),
            full_name: "Nguyễn Văn An".into(),
            address: "12 Võ Văn Tần, Phường Xuân Hòa, TP.HCM".into(),
            phone: Some("0901234567".into()),
            email: None,
        },
    )
    .await
    .unwrap();
    upsert_registration(
        db,
        &Registration {
            plate_text: "51F12345".into(),
            plate_colour: protocol::PlateColour::White,
            vehicle_class: protocol::VehicleClass::Car,
            make: "Toyota".into(),
            model: "Vios".into(),
            colour: "trắng".into(),
            owner: owner(),
        },
    )
    .await
    .unwrap();
}

/// Runs an async test body once on PostgreSQL and once on SQLite, as two tests.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn postgres() {
                    let t = crate::helpers::TestDb::postgres().await;
                    super::$name(&t).await;
                    t.finish().await;
                }

                #[tokio::test]
                async fn sqlite() {
                    let t = crate::helpers::TestDb::sqlite().await;
                    super::$name(&t).await;
                    t.finish().await;
                }
            }
        )*
    };
}
pub(crate) use on_both_engines;
