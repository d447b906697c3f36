//! Test databases (feature `testing`): each test makes its own world, a fresh PostgreSQL
//! database with a random name or a SQLite file in a temporary folder, migrated for the service.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AssertSqlSafe, Connection, PgConnection};

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
        Self::postgres_with(migrations, false).await
    }

    /// A new database on the test PostgreSQL owned by the test role, which migrates it, and
    /// the service connected as a role of its own (`tve_service`, which `make deps` makes; or
    /// `TVE_TEST_SERVICE_CREDENTIALS`, `user:password`), as [`DatabaseSettings::owner_url`]
    /// sets a production database up.
    pub async fn postgres_as_service(migrations: &Migrations) -> Self {
        Self::postgres_with(migrations, true).await
    }

    async fn postgres_with(migrations: &Migrations, as_service: bool) -> Self {
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
        let owned = with_database(&base, &name);
        let settings = if as_service {
            let credentials = std::env::var("TVE_TEST_SERVICE_CREDENTIALS")
                .unwrap_or_else(|_| "tve_service:tve_service".into());
            let mut url = reqwest::Url::parse(&owned)
                .unwrap_or_else(|e| panic!("TVE_TEST_DATABASE_URL {base}: {e}"));
            let (user, password) = credentials.split_once(':').unwrap_or((&credentials, ""));
            let _ = url.set_username(user);
            let _ = url.set_password(Some(password));
            DatabaseSettings {
                url: url.to_string(),
                owner_url: Some(owned),
                max_connections: 4,
                ..DatabaseSettings::default()
            }
        } else {
            DatabaseSettings {
                url: owned,
                max_connections: 4,
                ..DatabaseSettings::default()
            }
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
        let mut t = Self::sqlite_at(&dir.path().join("test.db"), migrations).await;
        t._dir = Some(dir);
        t
    }

    /// A new SQLite database in the file `path` (on a disk of the test's choosing).
    pub async fn sqlite_at(path: &std::path::Path, migrations: &Migrations) -> Self {
        let settings = DatabaseSettings {
            url: format!("sqlite://{}", path.display()),
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
            _dir: None,
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
    let Ok(names) = sqlx::query_scalar::<_, String>(
        "SELECT datname FROM pg_database WHERE datname LIKE 'tve\\_t\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    else {
        return;
    };
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

/// A tmpfs of a given size mounted under a temporary folder, unmounted when dropped: a disk
/// that fills, for the tests of what a service does then. Mounting needs root, as CI runs; a
/// test that asks for one panics without it rather than skip.
#[derive(Debug)]
pub struct SmallDisk {
    pub mount: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (`mount -o size=`: `4m`, `6m`).
    pub fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary folder: {e}"));
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).unwrap_or_else(|e| panic!("{}: {e}", mount.display()));
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mount)
            .status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "mounting a {size} tmpfs at {} (the tests run as root): {status:?}",
            mount.display()
        );
        Self { mount, _dir: dir }
    }

    /// Free bytes on the disk.
    pub fn free(&self) -> u64 {
        let st = rustix::fs::statvfs(&self.mount)
            .unwrap_or_else(|e| panic!("statvfs {}: {e}", self.mount.display()));
        st.f_bavail * st.f_frsize
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.mount)
            .status();
    }
}
