//! Each test makes its own world: a fresh PostgreSQL database or SQLite file.

use citizen_notify::db::MIGRATIONS;
pub use service_kit::db_testing::TestDb;

pub async fn postgres() -> TestDb {
    TestDb::postgres(&MIGRATIONS).await
}

pub async fn sqlite() -> TestDb {
    TestDb::sqlite(&MIGRATIONS).await
}

/// Runs async test bodies once on PostgreSQL and once on SQLite, as two tests each.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        service_kit::on_both_engines!(crate::helpers::postgres, crate::helpers::sqlite; $($name),*);
    };
}
pub(crate) use on_both_engines;
