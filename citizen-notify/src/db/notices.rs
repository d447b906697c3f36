//! Notices of violation, penalty decisions and central's answers to disputes, as central sent
//! them: each stored once (by fine id or resolution id), the exact bytes kept (notices and
//! decisions sealed, [`super::at_rest`]).

use protocol::{PenaltyDecision, Sha256Digest, ViolationNotice as FineNotice};
use service_kit::on_pool;
use time::OffsetDateTime;

use super::*;

/// The result of storing a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    New,
    /// The same notice, byte for byte, was stored before.
    Duplicate,
    /// Another notice with this fine id was stored before; the first stands.
    Conflict,
}

/// Stores a notice once per fine id, sealed under `key`, and in the same transaction a pending
/// delivery through each of `channels`.
pub async fn store_notice(
    db: &Db,
    key: &SealingKey,
    notice: &FineNotice,
    payload: &[u8],
    channels: &[&str],
) -> Result<Stored, DbError> {
    let sha = Sha256Digest::of(payload).to_hex();
    let fine_id = notice.fine_id.hyphenated().to_string();
    let text = at_rest::NOTICES.seal(Some(key), &fine_id, &String::from_utf8_lossy(payload))?;
    let now = OffsetDateTime::now_utc();
    let inserted = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO notices (fine_id, citizen_id, payload, payload_sha256, received_at, status)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (fine_id) DO NOTHING",
        )
        .bind(&fine_id)
        .bind(notice.citizen_id.as_str())
        .bind(&text)
        .bind(&sha)
        .bind(now)
        .bind("received")
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            for channel in channels {
                sqlx::query(
                    "INSERT INTO deliveries (fine_id, channel, state, attempts, next_attempt_at)
                     VALUES ($1, $2, 'pending', 0, $3)",
                )
                .bind(&fine_id)
                .bind(*channel)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        inserted
    });
    if inserted == 1 {
        return Ok(Stored::New);
    }
    let stored: String = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT payload_sha256 FROM notices WHERE fine_id = $1")
            .bind(&fine_id)
            .fetch_one(pool)
            .await?
    });
    Ok(if stored == sha {
        Stored::Duplicate
    } else {
        Stored::Conflict
    })
}

/// The notices of a citizen, newest first.
pub async fn notices_of(
    db: &Db,
    key: &SealingKey,
    citizen_id: &str,
) -> Result<Vec<FineNotice>, DbError> {
    let payloads: Vec<(String, String)> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT fine_id, payload FROM notices WHERE citizen_id = $1 AND purged_at IS NULL
             ORDER BY received_at DESC",
        )
        .bind(citizen_id)
        .fetch_all(pool)
        .await?
    });
    payloads
        .into_iter()
        .map(|(id, p)| stored(key, &at_rest::NOTICES, &id, p))
        .collect()
}

/// The notice of `fine_id` if it is `citizen_id`'s; `None` otherwise (the two are one answer,
/// so nobody learns that another citizen's fine exists).
pub async fn notice_of(
    db: &Db,
    key: &SealingKey,
    fine_id: &str,
    citizen_id: &str,
) -> Result<Option<FineNotice>, DbError> {
    let payload: Option<String> = on_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT payload FROM notices
             WHERE fine_id = $1 AND citizen_id = $2 AND purged_at IS NULL",
        )
        .bind(fine_id)
        .bind(citizen_id)
        .fetch_optional(pool)
        .await?
    });
    payload
        .map(|p| stored(key, &at_rest::NOTICES, fine_id, p))
        .transpose()
}

/// Stores the penalty decision on a case once: `None` when no notice of the case was received.
/// A second, different decision on one case is a conflict; the first stands.
pub async fn store_decision(
    db: &Db,
    key: &SealingKey,
    d: &PenaltyDecision,
    payload: &[u8],
) -> Result<Option<Stored>, DbError> {
    let sha = Sha256Digest::of(payload).to_hex();
    let fine_id = d.fine_id.hyphenated().to_string();
    let text = at_rest::DECISIONS.seal(Some(key), &fine_id, &String::from_utf8_lossy(payload))?;
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        if !notice_known!(tx, &fine_id) {
            return Ok(None);
        }
        let inserted = sqlx::query(
            "INSERT INTO decisions (fine_id, decision_id, decision_number, citizen_id, amount_vnd,
                                    payload, payload_sha256, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(&fine_id)
        .bind(d.decision_id.hyphenated().to_string())
        .bind(&d.decision_number)
        .bind(d.citizen_id.as_str())
        .bind(d.amount_vnd as i64)
        .bind(&text)
        .bind(&sha)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let stored = if inserted == 1 {
            Stored::New
        } else {
            let first: String =
                sqlx::query_scalar("SELECT payload_sha256 FROM decisions WHERE fine_id = $1")
                    .bind(&fine_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if first == sha { Stored::Duplicate } else { Stored::Conflict }
        };
        tx.commit().await?;
        Ok(Some(stored))
    })
}

/// The penalty decision on case `fine_id`, once one arrived.
pub async fn decision_of(
    db: &Db,
    key: &SealingKey,
    fine_id: &str,
) -> Result<Option<PenaltyDecision>, DbError> {
    let payload: Option<String> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT payload FROM decisions WHERE fine_id = $1")
            .bind(fine_id)
            .fetch_optional(pool)
            .await?
    });
    payload
        .map(|p| stored(key, &at_rest::DECISIONS, fine_id, p))
        .transpose()
}

/// The result of storing a dispute's resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    New,
    /// This resolution was stored before.
    Duplicate,
    /// No notice of this fine was received.
    UnknownFine,
}

/// Stores central's answer to an owner's dispute, once per resolution id.
pub async fn store_resolution(
    db: &Db,
    key: &SealingKey,
    r: &protocol::FineResolution,
    payload: &[u8],
) -> Result<Resolved, DbError> {
    let fine_id = r.fine_id.hyphenated().to_string();
    let now = OffsetDateTime::now_utc();
    let resolution_id = r.resolution_id.hyphenated().to_string();
    let text =
        at_rest::RESOLUTIONS.seal(Some(key), &resolution_id, &String::from_utf8_lossy(payload))?;
    let answer = at_rest::RESOLUTION_ANSWERS.seal(Some(key), &resolution_id, &r.answer)?;
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        if !notice_known!(tx, &fine_id) {
            return Ok(Resolved::UnknownFine);
        }
        let inserted = sqlx::query(
            "INSERT INTO resolutions (resolution_id, fine_id, outcome, answer, decided_at,
                                      received_at, payload, ground)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (resolution_id) DO NOTHING",
        )
        .bind(&resolution_id)
        .bind(&fine_id)
        .bind(r.outcome.as_str())
        .bind(&answer)
        .bind(r.decided_at.as_datetime())
        .bind(now)
        .bind(&text)
        .bind(r.ground.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(if inserted == 1 { Resolved::New } else { Resolved::Duplicate })
    })
}

/// Central's latest resolution of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResolution {
    pub outcome: protocol::DisputeOutcome,
    /// What it answers: the owner's explanation, or nothing (a case central closed).
    pub ground: protocol::ResolutionGround,
    pub answer: String,
    pub decided_at: OffsetDateTime,
}

impl CaseResolution {
    /// Whether the case is closed with nothing owed.
    pub fn cancelled(&self) -> bool {
        self.outcome == protocol::DisputeOutcome::Cancelled
    }
}

/// Central's latest resolution of case `fine_id`, its answer opened under `key`.
pub async fn resolution_of(
    db: &Db,
    key: &SealingKey,
    fine_id: &str,
) -> Result<Option<CaseResolution>, DbError> {
    on_pool!(db, pool => {
        sqlx::query_as::<_, ResolutionRow>(
            "SELECT resolution_id, outcome, ground, answer, decided_at FROM resolutions
             WHERE fine_id = $1 ORDER BY decided_at DESC LIMIT 1",
        )
        .bind(fine_id)
        .fetch_optional(pool)
        .await?
        .map(|mut row| {
            row.answer = at_rest::RESOLUTION_ANSWERS.open(Some(key), &row.resolution_id, row.answer)?;
            CaseResolution::try_from(row)
        })
        .transpose()
    })
}

/// A resolution as `resolutions` holds it.
#[derive(sqlx::FromRow)]
struct ResolutionRow {
    resolution_id: String,
    outcome: String,
    ground: String,
    answer: String,
    decided_at: OffsetDateTime,
}

impl TryFrom<ResolutionRow> for CaseResolution {
    type Error = DbError;

    fn try_from(row: ResolutionRow) -> Result<Self, DbError> {
        let ResolutionRow {
            resolution_id: _,
            outcome,
            ground,
            answer,
            decided_at,
        } = row;
        Ok(Self {
            outcome: protocol::DisputeOutcome::parse(&outcome)
                .ok_or_else(|| DbError::Corrupt(format!("outcome {outcome}")))?,
            ground: protocol::ResolutionGround::parse(&ground)
                .ok_or_else(|| DbError::Corrupt(format!("ground {ground}")))?,
            answer,
            decided_at,
        })
    }
}
