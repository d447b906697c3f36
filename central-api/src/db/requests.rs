//! Requests waiting for a second officer (four eyes, docs/security.md). A change that one
//! officer must not make alone — an officer created or given a role or password, a device's key,
//! a decision reversed, a fine cancelled — is stored here as a request with everything needed to
//! make it. Another officer allowed to make it confirms it, and the change is made in the same
//! transaction as the request is marked confirmed (`settle_in!`); or somebody refuses it (the
//! requester too: withdrawn). A request not confirmed within [`LAPSES_AFTER`] lapses.

use protocol::UtcTimestamp;
use serde::Serialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{Db, DbError, on_pool};
use crate::audit::{AuditLog, append_in};

/// How long a request waits for its second officer: three days.
pub const LAPSES_AFTER: Duration = Duration::hours(72);

/// The changes that wait for a second officer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An officer created, or given a new name, role or password (`officer:NAME`).
    OfficerSave,
    /// A device registered, or given a new key (`device:ID`).
    DeviceRegister,
    /// A confirmation withdrawn or a rejection reopened (`violation:ID`).
    ViolationReverse,
    /// A disputed fine cancelled: the owner's explanation accepted (`violation:ID`).
    FineCancel,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::OfficerSave,
        Kind::DeviceRegister,
        Kind::ViolationReverse,
        Kind::FineCancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OfficerSave => "officer.save",
            Kind::DeviceRegister => "device.register",
            Kind::ViolationReverse => "violation.reverse",
            Kind::FineCancel => "fine.cancel",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Request {
    #[schema(value_type = String, format = Uuid)]
    pub request_id: Uuid,
    /// `officer.save`, `device.register`, `violation.reverse` or `fine.cancel`.
    pub kind: String,
    /// What it changes: `officer:NAME`, `device:ID`, `violation:ID`.
    pub subject: String,
    /// The change asked for (never a password: only whether one is set).
    #[schema(value_type = Object)]
    pub change: Value,
    /// The officer's username.
    pub requested_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: UtcTimestamp,
    /// `pending`, `confirmed`, `refused`, `withdrawn` or `lapsed`.
    pub status: String,
    pub decided_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<UtcTimestamp>,
    /// Why it was refused.
    pub note: Option<String>,
    /// Whole payload, secrets included: what the confirmation applies.
    #[serde(skip)]
    #[schema(ignore)]
    pub payload: Value,
}

impl Request {
    /// Whether it still waits for its second officer at `now`.
    pub fn waiting(&self, now: OffsetDateTime) -> bool {
        self.status == "pending" && !self.lapsed(now)
    }

    /// Whether it waited past [`LAPSES_AFTER`] at `now`.
    pub fn lapsed(&self, now: OffsetDateTime) -> bool {
        self.requested_at.as_datetime() + LAPSES_AFTER < now
    }

    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(&self.kind)
    }
}

/// What is shown of a payload: a password hash only as `"password": "set"`.
fn shown(payload: &Value) -> Value {
    let mut shown = payload.clone();
    if let Some(map) = shown.as_object_mut()
        && map.remove("password_hash").is_some()
    {
        map.insert("password".into(), Value::from("set"));
    }
    shown
}

#[derive(sqlx::FromRow)]
struct Row {
    request_id: Uuid,
    kind: String,
    subject: String,
    payload: String,
    requested_by: String,
    requested_at: OffsetDateTime,
    status: String,
    decided_by: Option<String>,
    decided_at: Option<OffsetDateTime>,
    note: Option<String>,
}

impl TryFrom<Row> for Request {
    type Error = DbError;

    fn try_from(r: Row) -> Result<Self, DbError> {
        let payload: Value = serde_json::from_str(&r.payload)
            .map_err(|e| DbError::Corrupt(format!("request {}: {e}", r.request_id)))?;
        Ok(Request {
            request_id: r.request_id,
            kind: r.kind,
            subject: r.subject,
            change: shown(&payload),
            requested_by: r.requested_by,
            requested_at: UtcTimestamp::from_datetime(r.requested_at),
            status: r.status,
            decided_by: r.decided_by,
            decided_at: r.decided_at.map(UtcTimestamp::from_datetime),
            note: r.note,
            payload,
        })
    }
}

const COLUMNS: &str = "request_id, kind, subject, payload, requested_by, requested_at, status,
                       decided_by, decided_at, note";

/// Why a request was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotRequested {
    #[error("request {0} for the same change waits for a second officer: confirm or refuse it")]
    Waiting(Uuid),
}

/// Stores a request of `kind` on `subject` by officer `requested_by` (`actor` in the audit
/// log), with its `<kind>.requested` entry, in one transaction. A request of the same kind on
/// the same subject that lapsed is marked so; one still waiting refuses this one.
pub async fn open(
    db: &Db,
    audit: &AuditLog,
    kind: Kind,
    subject: &str,
    payload: &Value,
    (requested_by, actor): (&str, &str),
) -> Result<Result<Request, NotRequested>, DbError> {
    let now = OffsetDateTime::now_utc();
    let text =
        serde_json::to_string(payload).map_err(|e| DbError::Corrupt(format!("request: {e}")))?;
    let id = Uuid::now_v7();
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    let waiting = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let before: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM requests WHERE kind = $1 AND subject = $2 AND status = 'pending'"
        )))
        .bind(kind.as_str())
        .bind(subject)
        .fetch_optional(&mut *tx)
        .await?;
        let mut waiting = None;
        if let Some(before) = before.map(Request::try_from).transpose()? {
            if before.lapsed(now) {
                sqlx::query("UPDATE requests SET status = 'lapsed' WHERE request_id = $1")
                    .bind(before.request_id)
                    .execute(&mut *tx)
                    .await?;
            } else {
                waiting = Some(before.request_id);
            }
        }
        if waiting.is_none() {
            sqlx::query(
                "INSERT INTO requests
                   (request_id, kind, subject, payload, requested_by, requested_at, status)
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending')",
            )
            .bind(id)
            .bind(kind.as_str())
            .bind(subject)
            .bind(&text)
            .bind(requested_by)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let details = serde_json::json!({ "request_id": id, "change": shown(payload) });
            append_in!(
                tx,
                postgres,
                actor,
                &format!("{}.requested", kind.as_str()),
                subject,
                &details
            );
            tx.commit().await?;
        }
        waiting
    });
    if let Some(waiting) = waiting {
        return Ok(Err(NotRequested::Waiting(waiting)));
    }
    let stored = get(db, id)
        .await?
        .ok_or_else(|| DbError::Corrupt(format!("request {id} stored and gone")))?;
    Ok(Ok(stored))
}

/// The request `id`.
pub async fn get(db: &Db, id: Uuid) -> Result<Option<Request>, DbError> {
    let row: Option<Row> = on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM requests WHERE request_id = $1"
        )))
        .bind(id)
        .fetch_optional(pool)
        .await?
    });
    row.map(Request::try_from).transpose()
}

/// Requests still waiting at `now`, oldest first; those of `subject` only when given.
pub async fn waiting(
    db: &Db,
    subject: Option<&str>,
    now: OffsetDateTime,
) -> Result<Vec<Request>, DbError> {
    let rows: Vec<Row> = on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM requests
             WHERE status = 'pending' AND ($1 IS NULL OR subject = $1)"
        )))
        .bind(subject)
        .fetch_all(pool)
        .await?
    });
    let mut requests = rows
        .into_iter()
        .map(Request::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    requests.retain(|r| r.waiting(now));
    // Compared as times, not as SQLite's text.
    requests.sort_by_key(|r| (r.requested_at.as_datetime(), r.request_id));
    Ok(requests)
}

/// The second officer who confirms a request: the change is made as theirs.
#[derive(Debug, Clone)]
pub struct Confirmation {
    pub request_id: Uuid,
    /// The requester, named in the change's audit entry.
    pub requested_by: String,
    /// The confirming officer's username.
    pub by: String,
}

/// Adds `confirmation`'s request and requester to audit `details` (an object), when the change
/// is made on a confirmation.
pub fn with_confirmation(mut details: Value, confirmation: Option<&Confirmation>) -> Value {
    if let (Some(c), Some(map)) = (confirmation, details.as_object_mut()) {
        map.insert("request_id".into(), Value::from(c.request_id.to_string()));
        map.insert("requested_by".into(), Value::from(c.requested_by.clone()));
    }
    details
}

/// Marks the request of `$confirmation` (an `Option<&Confirmation>`) confirmed in the caller's
/// transaction `$tx`, as of `$now`, and evaluates to whether it may be made: true with no
/// confirmation; false when the request no longer waits or would be confirmed by its own
/// requester (the caller then rolls back).
macro_rules! settle_in {
    ($tx:ident, $confirmation:expr, $now:expr) => {{
        let confirmation: Option<&$crate::db::requests::Confirmation> = $confirmation;
        match confirmation {
            None => true,
            Some(c) => {
                sqlx::query(
                    "UPDATE requests SET status = 'confirmed', decided_by = $1, decided_at = $2
                     WHERE request_id = $3 AND status = 'pending' AND requested_by <> $1",
                )
                .bind(&c.by)
                .bind($now)
                .bind(c.request_id)
                .execute(&mut *$tx)
                .await?
                .rows_affected()
                    == 1
            }
        }
    }};
}
pub(crate) use settle_in;

/// Makes a change that may come on a second officer's confirmation, in the caller's
/// transaction `$tx`: settles the request of `$confirmation` ([`settle_in`]), then runs
/// `$change`, appends the change's entry (`$entry`: actor, action, subject, details) and
/// commits. Evaluates to false, with nothing made, when the request no longer waits.
macro_rules! commit_confirmed {
    ($tx:ident, $postgres:expr, $confirmation:expr, $now:expr, $entry:expr, $change:block) => {{
        let (actor, action, subject, details) = $entry;
        let may = $crate::db::requests::settle_in!($tx, $confirmation, $now);
        if may {
            $change
            $crate::audit::append_in!($tx, $postgres, actor, action, subject, details);
            $tx.commit().await?;
        }
        may
    }};
}
pub(crate) use commit_confirmed;

/// Refuses request `id` as officer `by` (`actor` in the audit log) for `note`: `withdrawn` when
/// `by` asked for it. False when it no longer waited.
pub async fn refuse(
    db: &Db,
    audit: &AuditLog,
    request: &Request,
    (by, actor): (&str, &str),
    note: &str,
) -> Result<bool, DbError> {
    let now = OffsetDateTime::now_utc();
    let status = if by == request.requested_by {
        "withdrawn"
    } else {
        "refused"
    };
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    let done = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE requests SET status = $1, decided_by = $2, decided_at = $3, note = $4
             WHERE request_id = $5 AND status = 'pending'",
        )
        .bind(status)
        .bind(by)
        .bind(now)
        .bind(note)
        .bind(request.request_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            let details = serde_json::json!({ "request_id": request.request_id, "note": note });
            append_in!(
                tx,
                postgres,
                actor,
                &format!("{}.{status}", request.kind),
                &request.subject,
                &details
            );
            tx.commit().await?;
        }
        changed == 1
    });
    Ok(done)
}
