//! The outbox relay: delivers the notices of violation, the answers to explanations and the
//! penalty decisions to citizen-notify.
//!
//! A notice enters the outbox in the transaction that issues its fine (an answer, in the one
//! that records it), so none is lost and none exists without its fine. The relay sends each with its idempotency key (the fine id, inside
//! the notice) and the shared-secret signature; a notice is marked delivered only on a 2xx
//! answer, and otherwise tried again after a growing wait. citizen-notify stores a notice once
//! per fine id, so a delivery repeated after a lost answer changes nothing.

use std::time::Duration;

use protocol::{UtcTimestamp, service_auth};
use service_kit::{http::Shutdown, on_pool, outbox, retry::backoff};
use time::OffsetDateTime;

use crate::{
    config::NotifySettings,
    db::{Db, DbError},
};

/// The outbox rows still to deliver.
const DUE: outbox::Due = outbox::Due {
    table: "outbox",
    pending: "delivered_at IS NULL",
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

/// One attempt's outcome, kept on the outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    Failed(String),
}

/// The relay's HTTP side.
#[derive(Debug, Clone)]
pub struct Relay {
    client: reqwest::Client,
    settings: NotifySettings,
}

impl Relay {
    pub fn new(settings: NotifySettings) -> Result<Self, reqwest::Error> {
        let client =
            service_kit::tls::client_builder(Duration::from_millis(settings.timeout_ms)).build()?;
        Ok(Self { client, settings })
    }

    /// Sends one outbox row of `kind` to where citizen-notify takes that kind.
    async fn send(&self, kind: &str, payload: &str) -> Attempt {
        let path = match kind {
            "violation_notice" => "/api/v1/notices",
            "penalty_decision" => "/api/v1/decisions",
            "fine_resolution" => "/api/v1/resolutions",
            other => {
                return Attempt::Failed(format!("no endpoint for outbox rows of kind `{other}`"));
            }
        };
        let url = format!("{}{path}", self.settings.url.trim_end_matches('/'));
        let signature = service_auth::sign(
            self.settings.shared_secret.as_bytes(),
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
        match sent {
            Ok(r) if r.status().is_success() => Attempt::Delivered,
            Ok(r) => {
                let status = r.status();
                let body = service_kit::tls::error_text(r).await;
                Attempt::Failed(format!(
                    "{status}: {}",
                    body.chars().take(300).collect::<String>()
                ))
            }
            Err(e) => Attempt::Failed(e.to_string()),
        }
    }

    /// Sends every notice due at `now` that this worker claims (a replica's worker claims
    /// others: [`service_kit::outbox::lease`]); returns how many were delivered.
    #[tracing::instrument(name = "relay_pass", skip_all)]
    pub async fn deliver_due(&self, db: &Db, now: OffsetDateTime) -> Result<usize, DbError> {
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
            match self.send(&kind, &payload).await {
                Attempt::Delivered => {
                    mark_delivered(db, id, &kind, &key).await?;
                    tracing::info!(kind, key, "delivered to citizen-notify");
                    delivered += 1;
                }
                Attempt::Failed(error) => {
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

/// Runs until `shutdown`, looking for due notices every second.
pub async fn run(db: Db, relay: Relay, shutdown: Shutdown) -> anyhow::Result<()> {
    shutdown
        .every(Duration::from_secs(1), "outbox relay pass", || {
            relay.deliver_due(&db, OffsetDateTime::now_utc())
        })
        .await
}
