//! Storage of citizen-notify, on [`service_kit::db`]: migrations for each engine under
//! `citizen-notify/migrations`.

use protocol::{FineNotice, Sha256Digest};
pub use service_kit::db::{DatabaseSettings, Db, DbError, Migrations};
use service_kit::on_pool;
use sqlx::Row;
use time::OffsetDateTime;

/// The migrations of citizen-notify.
pub static MIGRATIONS: Migrations = Migrations {
    postgres: sqlx::migrate!("migrations/postgres"),
    sqlite: sqlx::migrate!("migrations/sqlite"),
};

pub async fn connect(settings: &DatabaseSettings) -> Result<Db, DbError> {
    Db::connect(settings, &MIGRATIONS).await
}

/// The result of storing a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    New,
    /// The same notice, byte for byte, was stored before.
    Duplicate,
    /// Another notice with this fine id was stored before; the first stands.
    Conflict,
}

/// Stores a notice once per fine id.
pub async fn store_notice(db: &Db, notice: &FineNotice, payload: &[u8]) -> Result<Stored, DbError> {
    let sha = Sha256Digest::of(payload).to_hex();
    let text = String::from_utf8_lossy(payload).into_owned();
    let fine_id = notice.fine_id.hyphenated().to_string();
    let now = OffsetDateTime::now_utc();
    let inserted = on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO notices (fine_id, decision_number, citizen_id, payload, payload_sha256,
                                  received_at, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (fine_id) DO NOTHING",
        )
        .bind(&fine_id)
        .bind(&notice.decision_number)
        .bind(notice.citizen_id.as_str())
        .bind(&text)
        .bind(&sha)
        .bind(now)
        .bind("received")
        .execute(pool)
        .await?
        .rows_affected()
    });
    if inserted == 1 {
        return Ok(Stored::New);
    }
    let stored: String = on_pool!(db, pool => {
        sqlx::query("SELECT payload_sha256 FROM notices WHERE fine_id = $1")
            .bind(&fine_id)
            .fetch_one(pool)
            .await?
            .try_get("payload_sha256")?
    });
    Ok(if stored == sha {
        Stored::Duplicate
    } else {
        Stored::Conflict
    })
}

/// The notices of a citizen, newest first.
pub async fn notices_of(db: &Db, citizen_id: &str) -> Result<Vec<FineNotice>, DbError> {
    let payloads: Vec<String> = on_pool!(db, pool => {
        sqlx::query("SELECT payload FROM notices WHERE citizen_id = $1 ORDER BY received_at DESC")
            .bind(citizen_id)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|row| row.try_get::<String, _>("payload"))
            .collect::<Result<Vec<_>, _>>()?
    });
    payloads
        .iter()
        .map(|p| {
            protocol::wire::decode::<FineNotice>(p.as_bytes())
                .map_err(|e| DbError::Corrupt(format!("stored notice: {e}")))
        })
        .collect()
}
