//! Ingest of violation events: strict parse → device known and signature valid → idempotent
//! insert by event id. Anything refused goes to dead letters with its reason; nothing refused
//! crashes the worker, and nothing accepted is lost.
//!
//! [`Ingest::handle`] is independent of MQTT: the broker worker ([`mqtt`]) feeds it, and tests
//! call it directly. [`broker`] is the embedded broker used when none is configured.

pub mod broker;
pub mod mqtt;

use std::sync::Arc;

use prometheus_client::metrics::{counter::Counter, family::Family};
use protocol::{
    EventId, Topic, ViolationEvent,
    topic::TopicKind,
    wire::{self, WireError},
};
use tokio::sync::Notify;

use crate::audit::AuditLog;
use crate::db::{
    Db, DbError, dead_letters,
    dead_letters::NewDeadLetter,
    devices,
    violations::{self, Inserted},
};

/// How far a running device's status may be from central's clock, either way, and still count:
/// a device sends one every `mqtt.status_every_s` (15 s by default).
pub const STATUS_MAX_AGE_MS: i64 = 120_000;

/// What became of one payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new violation, stored: acknowledge it.
    Stored(EventId),
    /// Stored before, byte for byte: acknowledge it again.
    Duplicate(EventId),
    /// Stored before and since purged by retention: acknowledged, not stored again, and no
    /// dead letter (which would keep what the purge removed).
    Purged(EventId),
    /// An event with this id and other bytes was stored before: the first stands, this one is a
    /// dead letter; acknowledge the id so the device stops sending it.
    Conflict { event_id: EventId, dead_letter: i64 },
    /// Refused and kept as a dead letter; not acknowledged.
    Refused {
        code: &'static str,
        dead_letter: i64,
    },
    /// Kept as a dead letter rather than a violation (its time lies further ahead of central's
    /// clock than the skew allowed), and acknowledged: the device need not send it again, and
    /// an operator finds it with its reason.
    Parked {
        event_id: EventId,
        code: &'static str,
        dead_letter: i64,
    },
}

impl Outcome {
    /// The event id to acknowledge to the device, if any.
    pub fn ack(&self) -> Option<EventId> {
        match self {
            Self::Stored(id) | Self::Duplicate(id) | Self::Purged(id) => Some(*id),
            Self::Conflict { event_id, .. } | Self::Parked { event_id, .. } => Some(*event_id),
            Self::Refused { .. } => None,
        }
    }

    /// The label of this outcome in metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Stored(_) => "stored",
            Self::Duplicate(_) => "duplicate",
            Self::Purged(_) => "purged",
            Self::Conflict { .. } => "conflict",
            Self::Refused { code, .. } | Self::Parked { code, .. } => code,
        }
    }
}

/// Why a payload was refused, beyond what [`WireError`] names.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("topic `{0}` is not a violation topic")]
    WrongTopic(String),
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("event of device `{event}` arrived on the topic of device `{topic}`")]
    DeviceMismatch { topic: String, event: String },
}

impl Refusal {
    fn code(&self) -> &'static str {
        match self {
            Self::WrongTopic(_) => "wrong_topic",
            Self::Wire(e) => e.code(),
            Self::DeviceMismatch { .. } => "device_mismatch",
        }
    }
}

/// Ingest counters, registered under `tve_ingest_events_total{outcome}`.
#[derive(Debug, Clone, Default)]
pub struct IngestMetrics {
    pub events: Family<Vec<(&'static str, &'static str)>, Counter>,
}

impl IngestMetrics {
    pub fn register(&self, metrics: &service_kit::http::Metrics) {
        metrics.register(
            "ingest_events",
            "Violation payloads received, by outcome (stored, duplicate, conflict, or the refusal code)",
            self.events.clone(),
        );
    }
}

/// The ingest step, shared by every worker.
#[derive(Debug, Clone)]
pub struct Ingest {
    db: Db,
    audit: AuditLog,
    metrics: IngestMetrics,
    stored: Arc<Notify>,
    max_future: std::time::Duration,
}

/// How far ahead of central's clock an event's time may lie, unless configured
/// (`evidence.max_clock_skew_s`).
pub const DEFAULT_MAX_FUTURE: std::time::Duration = std::time::Duration::from_secs(300);

impl Ingest {
    pub fn new(db: Db, metrics: IngestMetrics) -> Self {
        Self {
            audit: AuditLog::new(db.clone()),
            db,
            metrics,
            stored: Arc::new(Notify::new()),
            max_future: DEFAULT_MAX_FUTURE,
        }
    }

    /// Counts a payload the worker did not take, under `outcome`.
    pub fn count(&self, outcome: &'static str) {
        self.metrics
            .events
            .get_or_create(&vec![("outcome", outcome)])
            .inc();
    }

    /// Audits into `audit`, the service's one log (its appends take turns with the others').
    pub fn with_audit(mut self, audit: AuditLog) -> Self {
        self.audit = audit;
        self
    }

    /// Events dated further ahead of central's clock than `skew` are parked, not stored: a
    /// device clock stepped forward (a bad NTP correction) must not date a violation in the
    /// future.
    pub fn with_max_future(mut self, skew: std::time::Duration) -> Self {
        self.max_future = skew;
        self
    }

    /// Notified each time a new violation is stored (the owner lookup waits on it).
    pub fn stored_signal(&self) -> Arc<Notify> {
        self.stored.clone()
    }

    /// Handles one payload received on `topic`. Errors are storage failures only: the payload
    /// was neither stored nor dead-lettered, so the caller must not acknowledge it (the broker
    /// redelivers it).
    /// The database it stores into.
    pub fn db(&self) -> &Db {
        &self.db
    }

    #[tracing::instrument(name = "ingest", skip_all, fields(%topic))]
    pub async fn handle(&self, topic: &str, payload: &[u8]) -> Result<Outcome, DbError> {
        let outcome = self.handle_inner(topic, payload).await?;
        self.metrics
            .events
            .get_or_create(&vec![("outcome", outcome.label())])
            .inc();
        Ok(outcome)
    }

    async fn handle_inner(&self, topic: &str, payload: &[u8]) -> Result<Outcome, DbError> {
        let event = match self.verify(topic, payload).await? {
            Ok(event) => event,
            Err(refusal) => {
                let code = refusal.code();
                let device = Topic::parse(topic).ok().map(|t| t.device().to_string());
                let dead_letter = dead_letters::insert(
                    &self.db,
                    NewDeadLetter {
                        topic,
                        device_id: device.as_deref(),
                        event_id: None,
                        reason_code: code,
                        reason: &refusal.to_string(),
                        payload,
                    },
                )
                .await?;
                tracing::warn!(topic, code, reason = %refusal, dead_letter, "event refused");
                return Ok(Outcome::Refused { code, dead_letter });
            }
        };
        let event_id = event.event_id;
        let ahead_ms = event.occurred_at.unix_ms() - protocol::UtcTimestamp::now().unix_ms();
        if ahead_ms > self.max_future.as_millis() as i64 {
            let code = "occurred_in_future";
            let reason = format!(
                "occurred_at is {:.1} s ahead of central's clock (at most {} s allowed): the device's clock is wrong",
                ahead_ms as f64 / 1000.0,
                self.max_future.as_secs()
            );
            let id = event_id.to_string();
            let dead_letter = dead_letters::insert(
                &self.db,
                NewDeadLetter {
                    topic,
                    device_id: Some(event.device.as_str()),
                    event_id: Some(&id),
                    reason_code: code,
                    reason: &reason,
                    payload,
                },
            )
            .await?;
            tracing::warn!(%event_id, device = %event.device, ahead_ms, dead_letter, "event dated in the future parked");
            return Ok(Outcome::Parked {
                event_id,
                code,
                dead_letter,
            });
        }
        let payload_sha256 = protocol::Sha256Digest::of(payload).to_hex();
        match violations::insert(&self.db, &self.audit, &event, payload, &payload_sha256).await? {
            Inserted::New => {
                self.stored.notify_one();
                tracing::info!(%event_id, device = %event.device, kind = %event.kind, "violation stored");
                Ok(Outcome::Stored(event_id))
            }
            Inserted::Duplicate => {
                tracing::debug!(%event_id, "duplicate event acknowledged again");
                Ok(Outcome::Duplicate(event_id))
            }
            Inserted::Purged => {
                tracing::warn!(%event_id, device = %event.device, "event purged before sent again; not stored");
                Ok(Outcome::Purged(event_id))
            }
            Inserted::Conflict { stored_sha256 } => {
                let reason = format!(
                    "event id {event_id} was stored before with payload sha256 {stored_sha256}; the first stands"
                );
                let id = event_id.to_string();
                let dead_letter = dead_letters::insert(
                    &self.db,
                    NewDeadLetter {
                        topic,
                        device_id: Some(event.device.as_str()),
                        event_id: Some(&id),
                        reason_code: "conflicting_duplicate",
                        reason: &reason,
                        payload,
                    },
                )
                .await?;
                tracing::warn!(%event_id, dead_letter, "conflicting duplicate refused");
                Ok(Outcome::Conflict {
                    event_id,
                    dead_letter,
                })
            }
        }
    }

    /// Records a device's status from its status topic. A status is not evidence: one that does
    /// not parse, names another device or comes from an unknown device is counted and logged,
    /// not kept (the broker redelivers retained statuses at every connection). Errors are
    /// storage failures only.
    pub async fn status(&self, topic: &str, payload: &[u8]) -> Result<&'static str, DbError> {
        let label = match self.status_inner(topic, payload).await? {
            Ok(()) => "status",
            Err(reason) => {
                tracing::warn!(topic, reason, "device status ignored");
                "status_ignored"
            }
        };
        self.metrics
            .events
            .get_or_create(&vec![("outcome", label)])
            .inc();
        Ok(label)
    }

    async fn status_inner(
        &self,
        topic: &str,
        payload: &[u8],
    ) -> Result<Result<(), String>, DbError> {
        let device = match Topic::parse(topic) {
            Ok(Topic::Status(device)) => device,
            _ => return Ok(Err("not a status topic".into())),
        };
        let signed = match wire::decode_signed::<protocol::DeviceStatus>(payload) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if signed.message.device != device {
            return Ok(Err(format!(
                "status of `{}` on the topic of `{device}`",
                signed.message.device
            )));
        }
        let key = devices::active_key(&self.db, &device).await?;
        let status = match signed.verify_with(|_| key) {
            Ok(status) => status,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let now = protocol::UtcTimestamp::now();
        let Some(at) = status.at else {
            return Ok(Err("the status says not when it was made".into()));
        };
        // A running device's status counts while it is fresh: an old one played again (or the
        // retained status of a device gone silent) never shows it running. The last will is
        // signed when the device connects, so it is as old as the connection; it counts as of
        // its arrival, and no status made before it counts after it.
        let reported = if status.state == protocol::DeviceState::Offline {
            now
        } else {
            let age_ms = now.unix_ms() - at.unix_ms();
            if age_ms.abs() > STATUS_MAX_AGE_MS {
                return Ok(Err(format!(
                    "made {} s from now: a running device's status counts for {} s",
                    age_ms / 1000,
                    STATUS_MAX_AGE_MS / 1000
                )));
            }
            at
        };
        if !devices::record_status(&self.db, &status, reported).await? {
            return Ok(Err("not newer than the status recorded".into()));
        }
        Ok(Ok(()))
    }

    /// Takes a device's answer to a snapshot request from its snapshot topic: signed by the
    /// device the topic names, for a request central made of that device and camera, in time
    /// and once. A refused one is counted and logged, not kept (a snapshot is not evidence);
    /// errors are storage failures only.
    pub async fn snapshot(&self, topic: &str, payload: &[u8]) -> Result<&'static str, DbError> {
        let label = match self.snapshot_inner(topic, payload).await? {
            Ok(()) => "snapshot",
            Err(reason) => {
                tracing::warn!(topic, reason, "snapshot refused");
                "snapshot_refused"
            }
        };
        self.metrics
            .events
            .get_or_create(&vec![("outcome", label)])
            .inc();
        Ok(label)
    }

    async fn snapshot_inner(
        &self,
        topic: &str,
        payload: &[u8],
    ) -> Result<Result<(), String>, DbError> {
        let device = match Topic::parse(topic) {
            Ok(Topic::Snapshot(device)) => device,
            _ => return Ok(Err("not a snapshot topic".into())),
        };
        let signed = match wire::decode_signed::<protocol::snapshot::Snapshot>(payload) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if signed.message.device != device {
            return Ok(Err(format!(
                "snapshot of `{}` on the topic of `{device}`",
                signed.message.device
            )));
        }
        let key = devices::active_key(&self.db, &device).await?;
        let snapshot = match signed.verify_with(|_| key) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let now = time::OffsetDateTime::now_utc();
        Ok(crate::db::snapshots::answer(&self.db, &snapshot, now)
            .await?
            .map_err(|e| e.to_string()))
    }

    /// Topic, strict decode, device and signature. The outer error is a storage failure; the
    /// inner one a refusal.
    async fn verify(
        &self,
        topic: &str,
        payload: &[u8],
    ) -> Result<Result<ViolationEvent, Refusal>, DbError> {
        let parsed = match Topic::parse(topic) {
            Ok(t) if t.kind() == TopicKind::Violation => t,
            _ => return Ok(Err(Refusal::WrongTopic(topic.to_owned()))),
        };
        let signed = match wire::decode_signed::<ViolationEvent>(payload) {
            Ok(signed) => signed,
            Err(e) => return Ok(Err(e.into())),
        };
        if &signed.message.device != parsed.device() {
            return Ok(Err(Refusal::DeviceMismatch {
                topic: parsed.device().to_string(),
                event: signed.message.device.to_string(),
            }));
        }
        let key = devices::active_key(&self.db, &signed.message.device).await?;
        Ok(signed.verify_with(|_| key).map_err(Refusal::from))
    }
}
