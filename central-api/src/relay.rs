//! The outbox relay: delivers the notices of violation, the answers to explanations and the
//! penalty decisions to citizen-notify.
//!
//! A notice enters the outbox in the transaction that issues its fine (an answer, in the one
//! that records it), so none is lost and none exists without its fine. The relay sends each with its idempotency key (the fine id, inside
//! the notice) and the shared-secret signature; a notice is marked delivered only on a 2xx
//! answer, and otherwise tried again after a growing wait. citizen-notify stores a notice once
//! per fine id, so a delivery repeated after a lost answer changes nothing. A notice waits
//! sealed ([`crate::db::at_rest::NOTICES`]) and is opened only to be sent.

use std::time::Duration;

use protocol::{UtcTimestamp, service_auth};
use service_kit::{
    http::Shutdown,
    on_pool,
    outbox::{self, Outcome, classify},
    retry::backoff,
};
use time::OffsetDateTime;

use crate::{
    audit::{AuditLog, append_in},
    config::NotifySettings,
    db::{Db, DbError, at_rest},
    sealed::SealingKey,
};

/// Who refusals are recorded as, in the audit trail.
const RELAY: &str = "service:relay";

/// The outbox rows still to deliver.
const DUE: outbox::Due = outbox::Due {
    table: "outbox",
    pending: "delivered_at IS NULL AND refused_at IS NULL",
    returning: "id, kind, idempotency_key, payload, attempts",
    limit: 50,
};

/// One outbox row claimed for delivery.
#[derive(Debug, sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    kind: String,
    idempotency_key: String,
    payload: String,
    attempts: i32,
}

/// The relay's HTTP side.
#[derive(Debug, Clone)]
pub struct Relay {
    client: reqwest::Client,
    settings: NotifySettings,
    /// The key the notices wait sealed under (`review.secrets_key_file`).
    key: Option<SealingKey>,
}

impl Relay {
    pub fn new(settings: NotifySettings, key: Option<SealingKey>) -> Result<Self, reqwest::Error> {
        let client =
            service_kit::tls::client_builder(Duration::from_millis(settings.timeout_ms)).build()?;
        Ok(Self {
            client,
            settings,
            key,
        })
    }

    /// Sends one outbox row of `kind` to where citizen-notify takes that kind.
    async fn send(&self, kind: &str, payload: &str) -> Outcome {
        let path = match kind {
            "violation_notice" => "/api/v1/notices",
            "penalty_decision" => "/api/v1/decisions",
            "fine_resolution" => "/api/v1/resolutions",
            other => {
                return Outcome::Refused(format!("no endpoint for outbox rows of kind `{other}`"));
            }
        };
        let url = format!("{}{path}", self.settings.url.trim_end_matches('/'));
        let signature = service_auth::sign(
            self.settings.shared_secret.expose().as_bytes(),
            UtcTimestamp::now(),
            payload.as_bytes(),
        );
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header(service_auth::SIGNATURE_HEADER, signature)
            .body(payload.to_owned())
            .send()
            .await;
        classify(sent).await
    }

    /// Sends every notice due at `now` that this worker claims (a replica's worker claims
    /// others: [`service_kit::outbox::lease`]); returns how many were delivered.
    #[tracing::instrument(name = "relay_pass", skip_all)]
    pub async fn deliver_due(
        &self,
        db: &Db,
        audit: &AuditLog,
        now: OffsetDateTime,
    ) -> Result<usize, DbError> {
        let due: Vec<OutboxRow> = outbox::lease(db, &DUE, now).await?;
        let mut delivered = 0;
        for OutboxRow {
            id,
            kind,
            idempotency_key: key,
            payload,
            attempts,
        } in due
        {
            let outcome = match at_rest::open_outbox(self.key.as_ref(), &kind, &key, payload) {
                // A notice that does not open under the configured keys waits for an
                // administrator to configure the one it was sealed under.
                Err(error) => (
                    Outcome::Refused(format!(
                        "{error} (the key: review.secrets_key_file; former ones: \
                         review.old_secrets_key_files)"
                    )),
                    None,
                ),
                Ok(payload) => (self.send(&kind, &payload).await, Some(payload)),
            };
            match outcome {
                (Outcome::Delivered, _) => {
                    mark_delivered(db, id, &kind, &key).await?;
                    tracing::info!(kind, key, "delivered to citizen-notify");
                    delivered += 1;
                }
                (Outcome::Refused(error), payload) => {
                    tracing::error!(
                        kind,
                        key,
                        error,
                        "citizen-notify refused it: not sent again"
                    );
                    let payload = payload.as_deref().unwrap_or_default();
                    mark_refused(db, audit, (id, &kind, &key, payload), &error, now).await?;
                }
                (Outcome::Retry(error), _) => {
                    let wait = backoff(
                        u32::try_from(attempts + 1).unwrap_or(1),
                        self.settings.max_backoff_s,
                    );
                    tracing::warn!(
                        kind,
                        key,
                        error,
                        retry_s = wait.as_secs(),
                        "not delivered to citizen-notify"
                    );
                    on_pool!(db, pool => {
                        sqlx::query(
                            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2
                             WHERE id = $3",
                        )
                        .bind(now + wait)
                        .bind(&error)
                        .bind(id)
                        .execute(pool)
                        .await?;
                    });
                }
            }
        }
        Ok(delivered)
    }
}

/// Marks outbox row `id` delivered; a fine's notice (keyed by the fine id) moves the fine to
/// `notice_sent`.
async fn mark_delivered(db: &Db, id: i64, kind: &str, key: &str) -> Result<(), DbError> {
    let now = OffsetDateTime::now_utc();
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE outbox SET delivered_at = $1, attempts = attempts + 1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if kind == "violation_notice" {
            sqlx::query("UPDATE fines SET status = $1 WHERE fine_id = $2 AND status = $3")
                .bind("notice_sent")
                .bind(key)
                .bind("issued")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Marks outbox row `id` (of `kind`, with idempotency key `key` and `payload`, empty when it
/// did not open) refused for `error`, with an `outbox.refused` entry in the trail of its case's
/// violation (or, for a row of no known case, under `outbox:{key}`), in one transaction.
async fn mark_refused(
    db: &Db,
    audit: &AuditLog,
    (id, kind, key, payload): (i64, &str, &str, &str),
    error: &str,
    now: OffsetDateTime,
) -> Result<(), DbError> {
    // Every message of the outbox is about one case, by its `fine_id`; a notice's key is its
    // case's id.
    let fine_id = serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v["fine_id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| key.to_owned());
    let details = serde_json::json!({ "kind": kind, "key": key, "error": error });
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE outbox SET refused_at = $1, attempts = attempts + 1, last_error = $2
             WHERE id = $3",
        )
        .bind(now)
        .bind(error)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let event: Option<uuid::Uuid> =
            sqlx::query_scalar("SELECT event_id FROM fines WHERE fine_id = $1")
                .bind(&fine_id)
                .fetch_optional(&mut *tx)
                .await?;
        let subject = match event {
            Some(event) => format!("violation:{}", event.hyphenated()),
            None => format!("outbox:{key}"),
        };
        append_in!(tx, postgres, RELAY, "outbox.refused", &subject, &details);
        tx.commit().await?;
    });
    Ok(())
}

/// A message citizen-notify refused, as `central-api outbox-retry` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub refused_at: OffsetDateTime,
    pub error: String,
}

/// A refused `outbox` row.
#[derive(sqlx::FromRow)]
struct RefusedRow {
    id: i64,
    kind: String,
    idempotency_key: String,
    refused_at: OffsetDateTime,
    last_error: Option<String>,
}

impl From<RefusedRow> for Refused {
    fn from(row: RefusedRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            key: row.idempotency_key,
            refused_at: row.refused_at,
            error: row.last_error.unwrap_or_default(),
        }
    }
}

/// The messages citizen-notify refused and that wait for an administrator, oldest first.
pub async fn refused(db: &Db) -> Result<Vec<Refused>, DbError> {
    on_pool!(db, pool => {
        Ok(sqlx::query_as::<_, RefusedRow>(
            "SELECT id, kind, idempotency_key, refused_at, last_error FROM outbox
             WHERE delivered_at IS NULL AND refused_at IS NOT NULL ORDER BY id",
        )
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(Refused::from)
        .collect())
    })
}

/// Sends refused message `id` again at the relay's next pass, as administrator `actor` asks
/// (the cause fixed: a secret set right, citizen-notify upgraded), with its `outbox.retried`
/// audit entry; `false` when no refused message has that id.
pub async fn retry_refused(
    db: &Db,
    audit: &AuditLog,
    actor: &str,
    id: i64,
) -> Result<bool, DbError> {
    let now = OffsetDateTime::now_utc();
    let postgres = matches!(db, Db::Postgres(_));
    let _one_at_a_time = audit.lock().await;
    on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        let Some(row) = sqlx::query_as::<_, RetriedRow>(
            "UPDATE outbox SET refused_at = NULL, next_attempt_at = $1
             WHERE id = $2 AND refused_at IS NOT NULL AND delivered_at IS NULL
             RETURNING kind, idempotency_key, last_error",
        )
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(false);
        };
        let details = serde_json::json!({
            "id": id,
            "kind": row.kind,
            "key": row.idempotency_key,
            "refused_for": row.last_error,
        });
        append_in!(tx, postgres, actor, "outbox.retried", &format!("outbox:{id}"), &details);
        tx.commit().await?;
    });
    Ok(true)
}

/// A refused `outbox` row put back to be sent, as its audit entry names it.
#[derive(sqlx::FromRow)]
struct RetriedRow {
    kind: String,
    idempotency_key: String,
    last_error: Option<String>,
}

/// Runs until `shutdown`, looking for due notices every second.
pub async fn run(db: Db, audit: AuditLog, relay: Relay, shutdown: Shutdown) -> anyhow::Result<()> {
    shutdown
        .every(Duration::from_secs(1), "outbox relay pass", || {
            relay.deliver_due(&db, &audit, OffsetDateTime::now_utc())
        })
        .await
}
