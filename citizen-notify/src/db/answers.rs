//! The owner's answer to a notice (was driving, names the driver or the buyer, explains), and
//! the answers central refused.

use service_kit::{
    on_pool,
    sealed::{BYTES_OVERHEAD, PREFIX},
};
use time::OffsetDateTime;

use super::*;

/// A citizen's answer to a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// "I was driving".
    Confirmed,
    /// An explanation ("giải trình").
    Disputed,
    /// The owner named another person as the driver.
    DriverNamed,
    /// The owner had sold the vehicle before the violation, to the buyer named.
    VehicleSold,
    /// The vehicle had been stolen, reported to the police.
    VehicleStolen,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Disputed => "disputed",
            Self::DriverNamed => "driver_named",
            Self::VehicleSold => "vehicle_sold",
            Self::VehicleStolen => "vehicle_stolen",
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        [
            Self::Confirmed,
            Self::Disputed,
            Self::DriverNamed,
            Self::VehicleSold,
            Self::VehicleStolen,
        ]
        .into_iter()
        .find(|a| a.as_str() == kind)
    }
}

/// A document attached to an answer, with its bytes.
pub type Attached = (protocol::AnswerDocument, Vec<u8>);

/// Records the citizen's answer `given` (confirmed, disputed with its reason, a driver named,
/// the vehicle sold or stolen) with the documents `attached` to it, once, and queues its report
/// to central (naming the documents, kept beside it until sent): `false` when the notice was
/// answered before.
pub async fn answer(
    db: &Db,
    key: &SealingKey,
    fine_id: &str,
    citizen_id: &str,
    given: protocol::FineChange,
    attached: &[Attached],
) -> Result<bool, DbError> {
    let kind = given.kind();
    let text = match &given {
        protocol::FineChange::Disputed { reason } => reason.clone(),
        protocol::FineChange::DriverNamed { driver } => driver.full_name.clone(),
        protocol::FineChange::VehicleSold { buyer, sold_on, .. } => {
            format!("{} ({sold_on})", buyer.full_name)
        }
        protocol::FineChange::VehicleStolen {
            reported_on,
            report,
        } => format!("{reported_on}: {report}"),
        _ => String::new(),
    };
    let text = at_rest::RESPONSES.seal(Some(key), fine_id, &text)?;
    let now = OffsetDateTime::now_utc();
    let inserted = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO responses (fine_id, citizen_id, kind, reason, answered_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (fine_id) DO NOTHING",
        )
        .bind(fine_id)
        .bind(citizen_id)
        .bind(kind)
        .bind(&text)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            let documents = attached.iter().map(|(d, _)| d.clone()).collect();
            let update_id = queue_report!(tx, key, fine_id, given, documents)
                .hyphenated()
                .to_string();
            for (d, body) in attached {
                let sha256 = d.sha256.to_hex();
                let body = at_rest::DOCUMENTS.seal_bytes(
                    Some(key),
                    &at_rest::document_row(&update_id, &sha256),
                    body,
                )?;
                sqlx::query(
                    "INSERT INTO answer_documents
                       (update_id, sha256, fine_id, name, content_type, body, received_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                )
                .bind(&update_id)
                .bind(sha256)
                .bind(fine_id)
                .bind(&d.name)
                .bind(&d.content_type)
                .bind(body)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        inserted
    });
    Ok(inserted == 1)
}

/// The citizen's answer to a notice, with what it says (the reason; for a person named, their
/// name; for a theft, the report).
pub async fn answer_of(
    db: &Db,
    key: &SealingKey,
    fine_id: &str,
) -> Result<Option<(Answer, String)>, DbError> {
    on_pool!(db, pool => {
        sqlx::query_as::<_, (String, String)>(
            "SELECT kind, reason FROM responses WHERE fine_id = $1",
        )
        .bind(fine_id)
        .fetch_optional(pool)
        .await?
        .map(|(kind, reason)| -> Result<(Answer, String), DbError> {
            let answer =
                Answer::parse(&kind).ok_or_else(|| DbError::Corrupt(format!("answer {kind}")))?;
            Ok((answer, at_rest::RESPONSES.open(Some(key), fine_id, reason)?))
        })
        .transpose()
    })
}

/// Central refused the answer to `fine_id` with `code` (e.g. `unknown_citizen`): the answer is
/// taken back, so the citizen may answer again, and the refusal kept to show them — in one
/// transaction.
pub async fn answer_refused(db: &Db, fine_id: &str, kind: &str, code: &str) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM responses WHERE fine_id = $1 AND kind = $2")
            .bind(fine_id)
            .bind(kind)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO refused_answers (fine_id, kind, reason, refused_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(fine_id)
        .bind(kind)
        .bind(code)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    });
    Ok(())
}

/// The last refusal of an answer to `fine_id`: (the answer's kind, central's code).
/// How many times central refused a person the owner named for the fine `fine_id` (a driver,
/// a buyer: the population database did not know them by that name).
pub async fn refused_namings(db: &Db, fine_id: &str) -> Result<i64, DbError> {
    on_pool!(db, pool => {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM refused_answers
             WHERE fine_id = $1 AND kind IN ('driver_named', 'vehicle_sold')",
        )
        .bind(fine_id)
        .fetch_one(pool)
        .await?)
    })
}

pub async fn refused_answer_of(
    db: &Db,
    fine_id: &str,
) -> Result<Option<(String, String)>, DbError> {
    on_pool!(db, pool => {
        Ok(sqlx::query_as::<_, (String, String)>(
            "SELECT kind, reason FROM refused_answers WHERE fine_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(fine_id)
        .fetch_optional(pool)
        .await?)
    })
}

/// The documents the report `update_id` names, with their bytes, to send central before it.
pub async fn documents_of_report(
    db: &Db,
    key: &SealingKey,
    update_id: &str,
) -> Result<Vec<Attached>, DbError> {
    on_pool!(db, pool => {
        sqlx::query_as::<_, AttachedRow>(
            "SELECT sha256, name, content_type, body FROM answer_documents
             WHERE update_id = $1 ORDER BY sha256",
        )
        .bind(update_id)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|mut row| {
            let at = at_rest::document_row(update_id, &row.sha256);
            row.body = at_rest::DOCUMENTS.open_bytes(Some(key), &at, row.body)?;
            Attached::try_from(row)
        })
        .collect()
    })
}

/// The documents attached to the answer to `fine_id` still held: name, kind and size (as
/// attached: a sealed document is [`BYTES_OVERHEAD`] longer).
pub async fn documents_of_answer(
    db: &Db,
    fine_id: &str,
) -> Result<Vec<protocol::AnswerDocument>, DbError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as::<_, DocumentRow>(
            "SELECT d.sha256, d.name, d.content_type,
                    CAST(LENGTH(d.body) - CASE WHEN substr(d.body, 1, $2) = $3 THEN $4 ELSE 0 END
                         AS BIGINT) AS bytes
             FROM answer_documents d JOIN reports r ON r.update_id = d.update_id
             WHERE d.fine_id = $1 AND r.state <> 'refused' ORDER BY d.received_at, d.name",
        )
        .bind(fine_id)
        .bind(PREFIX.len() as i32)
        .bind(PREFIX.as_bytes())
        .bind(BYTES_OVERHEAD as i64)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(protocol::AnswerDocument::try_from)
        .collect::<Result<Vec<_>, _>>()?
    }))
}

/// A document attached to an answer, with its bytes, as `answer_documents` holds it.
#[derive(sqlx::FromRow)]
struct AttachedRow {
    sha256: String,
    name: String,
    content_type: String,
    body: Vec<u8>,
}

impl TryFrom<AttachedRow> for Attached {
    type Error = DbError;

    fn try_from(row: AttachedRow) -> Result<Self, DbError> {
        let document = protocol::AnswerDocument::stored(
            row.name,
            row.content_type,
            &row.sha256,
            row.body.len() as u64,
        )
        .map_err(DbError::Corrupt)?;
        Ok((document, row.body))
    }
}

/// A document attached to an answer, its size without its bytes.
#[derive(sqlx::FromRow)]
struct DocumentRow {
    sha256: String,
    name: String,
    content_type: String,
    bytes: i64,
}

impl TryFrom<DocumentRow> for protocol::AnswerDocument {
    type Error = DbError;

    fn try_from(row: DocumentRow) -> Result<Self, DbError> {
        protocol::AnswerDocument::stored(
            row.name,
            row.content_type,
            &row.sha256,
            u64::try_from(row.bytes).unwrap_or(0),
        )
        .map_err(DbError::Corrupt)
    }
}
