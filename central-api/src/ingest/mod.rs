//! Ingest of violation events: strict parse → device known and signature valid → idempotent
//! insert by event id. Anything refused goes to dead letters with its reason; nothing refused
//! crashes the worker, and nothing accepted is lost.
//!
//! [`Ingest::handle_batch`] is independent of MQTT: the broker worker ([`mqtt`]) feeds it what
//! has arrived, and tests call it (or [`Ingest::handle`], a batch of one) directly. A batch is
//! checked in parallel and stored in one transaction, its audit entries one step of the chain:
//! a replayed backlog drains at the rate of commits of a few hundred events, not of one.
//! [`broker`] is the embedded broker used when none is configured.

pub mod broker;
pub mod mqtt;

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use bytes::Bytes;
use prometheus_client::metrics::{counter::Counter, family::Family};
use protocol::{
    DeviceId, DevicePublicKey, EventId, Topic, ViolationEvent,
    topic::TopicKind,
    wire::{self, WireError},
};
use tokio::sync::Notify;

use crate::audit::AuditLog;
use crate::db::{
    Db, DbError, dead_letters,
    dead_letters::NewDeadLetter,
    devices,
    violations::{self, Inserted, Verified},
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

    /// The database it stores into.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Handles one payload received on `topic`: [`Ingest::handle_batch`] of one.
    pub async fn handle(&self, topic: &str, payload: &[u8]) -> Result<Outcome, DbError> {
        let delivery = Delivery {
            topic: topic.to_owned(),
            payload: Bytes::copy_from_slice(payload),
        };
        self.handle_batch(std::slice::from_ref(&delivery))
            .await?
            .pop()
            .ok_or_else(|| DbError::Corrupt("a delivery without an outcome".into()))
    }

    /// Handles a batch of payloads and returns each one's outcome, in order. The signatures
    /// are checked on the blocking pool, a lane per core; the violations are stored in one
    /// transaction with their audit entries ([`violations::insert`]), and the refused ones kept
    /// as dead letters in one more. Errors are storage failures only: nothing of the batch may
    /// be acknowledged (the broker redelivers it, and what was stored is then a duplicate).
    pub async fn handle_batch(&self, batch: &[Delivery]) -> Result<Vec<Outcome>, DbError> {
        let checked = self.check(batch).await?;
        self.store(batch, &checked).await
    }

    /// The first half of [`Ingest::handle_batch`], the CPU's: topic, strict decode, device and
    /// signature of each delivery, on the blocking pool in parallel lanes. The MQTT worker
    /// checks the next batch while the one before it is being stored. Errors are storage
    /// failures only (reading the devices' keys).
    #[tracing::instrument(name = "check", skip_all, fields(deliveries = batch.len()))]
    pub async fn check(&self, batch: &[Delivery]) -> Result<Checked, DbError> {
        Ok(Checked(self.verify(batch).await?))
    }

    /// The second half of [`Ingest::handle_batch`]: stores what [`Ingest::check`] found of
    /// `batch` (the same deliveries, in order) and returns each one's outcome.
    #[tracing::instrument(name = "ingest", skip_all, fields(deliveries = batch.len()))]
    pub async fn store(
        &self,
        batch: &[Delivery],
        checked: &Checked,
    ) -> Result<Vec<Outcome>, DbError> {
        if checked.0.len() != batch.len() {
            return Err(DbError::Corrupt(format!(
                "{} deliveries and {} checked",
                batch.len(),
                checked.0.len()
            )));
        }
        let checked = &checked.0;
        let now_ms = protocol::UtcTimestamp::now().unix_ms();
        let mut held = Vec::new();
        let mut events = Vec::new();
        for (index, (delivery, checked)) in batch.iter().zip(checked).enumerate() {
            let topic = delivery.topic.as_str();
            let event = match checked {
                Ok(event) => event,
                Err(refusal) => {
                    let code = refusal.code();
                    tracing::warn!(topic, code, reason = %refusal, "event refused");
                    held.push(Held {
                        index,
                        kind: HeldKind::Refused,
                        device: Topic::parse(topic).ok().map(|t| t.device().to_string()),
                        code,
                        reason: refusal.to_string(),
                    });
                    continue;
                }
            };
            let ahead_ms = event.occurred_at.unix_ms() - now_ms;
            if ahead_ms > self.max_future.as_millis() as i64 {
                tracing::warn!(event_id = %event.event_id, device = %event.device, ahead_ms, "event dated in the future parked");
                held.push(Held {
                    index,
                    kind: HeldKind::Parked(event.event_id),
                    device: Some(event.device.to_string()),
                    code: "occurred_in_future",
                    reason: format!(
                        "occurred_at is {:.1} s ahead of central's clock (at most {} s allowed): the device's clock is wrong",
                        ahead_ms as f64 / 1000.0,
                        self.max_future.as_secs()
                    ),
                });
                continue;
            }
            let sha256 = protocol::Sha256Digest::of(&delivery.payload).to_hex();
            events.push((index, event, sha256));
        }
        let verified: Vec<Verified<'_>> = events
            .iter()
            .map(|(index, event, sha256)| Verified {
                event,
                payload: &batch[*index].payload,
                sha256,
            })
            .collect();
        let inserted = violations::insert(&self.db, &self.audit, &verified).await?;
        let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
        let mut stored = false;
        for ((index, event, _), inserted) in events.iter().zip(inserted) {
            let event_id = event.event_id;
            outcomes[*index] = Some(match inserted {
                Inserted::New => {
                    stored = true;
                    tracing::info!(%event_id, device = %event.device, kind = %event.kind, "violation stored");
                    Outcome::Stored(event_id)
                }
                Inserted::Duplicate => {
                    tracing::debug!(%event_id, "duplicate event acknowledged again");
                    Outcome::Duplicate(event_id)
                }
                Inserted::Purged => {
                    tracing::warn!(%event_id, device = %event.device, "event purged before sent again; not stored");
                    Outcome::Purged(event_id)
                }
                Inserted::Conflict { stored_sha256 } => {
                    tracing::warn!(%event_id, "conflicting duplicate refused");
                    held.push(Held {
                        index: *index,
                        kind: HeldKind::Conflict(event_id),
                        device: Some(event.device.to_string()),
                        code: "conflicting_duplicate",
                        reason: format!(
                            "event id {event_id} was stored before with payload sha256 {stored_sha256}; the first stands"
                        ),
                    });
                    continue;
                }
            });
        }
        if stored {
            self.stored.notify_one();
        }
        let event_ids: Vec<Option<String>> = held.iter().map(|h| h.kind.event_id()).collect();
        let letters: Vec<NewDeadLetter<'_>> = held
            .iter()
            .zip(&event_ids)
            .map(|(h, event_id)| NewDeadLetter {
                topic: &batch[h.index].topic,
                device_id: h.device.as_deref(),
                event_id: event_id.as_deref(),
                reason_code: h.code,
                reason: &h.reason,
                payload: &batch[h.index].payload,
            })
            .collect();
        let dead_letters = dead_letters::insert(&self.db, &letters).await?;
        for (h, dead_letter) in held.iter().zip(dead_letters) {
            outcomes[h.index] = Some(h.kind.outcome(h.code, dead_letter));
        }
        let outcomes: Vec<Outcome> = outcomes
            .into_iter()
            .collect::<Option<_>>()
            .ok_or_else(|| DbError::Corrupt("a delivery without an outcome".into()))?;
        for outcome in &outcomes {
            self.metrics
                .events
                .get_or_create(&vec![("outcome", outcome.label())])
                .inc();
        }
        Ok(outcomes)
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

    /// Topic, strict decode, device and signature of each delivery, in order. The keys of the
    /// devices the topics name are read in one query a batch; the decoding and the signature
    /// checks, the CPU work of ingest, run on the blocking pool in parallel lanes. The outer error is a
    /// storage failure; the inner ones refusals.
    async fn verify(
        &self,
        batch: &[Delivery],
    ) -> Result<Vec<Result<ViolationEvent, Refusal>>, DbError> {
        let mut named = HashSet::<DeviceId>::new();
        for delivery in batch {
            if let Ok(topic) = Topic::parse(&delivery.topic)
                && topic.kind() == TopicKind::Violation
            {
                named.insert(topic.device().clone());
            }
        }
        let named: Vec<DeviceId> = named.into_iter().collect();
        let keys = devices::active_keys(&self.db, &named).await?;
        let lanes = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(batch.len().div_ceil(CHECKS_PER_LANE))
            .max(1);
        if lanes == 1 {
            return Ok(batch.iter().map(|d| check(d, &keys)).collect());
        }
        let keys = Arc::new(keys);
        let lanes: Vec<_> = batch
            .chunks(batch.len().div_ceil(lanes))
            .map(|chunk| {
                let (chunk, keys) = (chunk.to_vec(), keys.clone());
                tokio::task::spawn_blocking(move || {
                    chunk.iter().map(|d| check(d, &keys)).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut checked = Vec::with_capacity(batch.len());
        for lane in lanes {
            match lane.await {
                Ok(lane) => checked.extend(lane),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => return Err(DbError::Corrupt(format!("a signature check stopped: {e}"))),
            }
        }
        Ok(checked)
    }
}

/// Fewest deliveries worth a lane of their own on the blocking pool: a check takes tens of
/// microseconds, a hand-over about as long.
const CHECKS_PER_LANE: usize = 16;

/// Topic, strict decode, device and signature of one delivery, with the keys of the devices
/// its batch names.
fn check(
    delivery: &Delivery,
    keys: &HashMap<DeviceId, DevicePublicKey>,
) -> Result<ViolationEvent, Refusal> {
    let parsed = match Topic::parse(&delivery.topic) {
        Ok(t) if t.kind() == TopicKind::Violation => t,
        _ => return Err(Refusal::WrongTopic(delivery.topic.clone())),
    };
    let signed = wire::decode_signed::<ViolationEvent>(&delivery.payload)?;
    if &signed.message.device != parsed.device() {
        return Err(Refusal::DeviceMismatch {
            topic: parsed.device().to_string(),
            event: signed.message.device.to_string(),
        });
    }
    Ok(signed.verify_with(|device| keys.get(device).cloned())?)
}

/// What [`Ingest::check`] found of each delivery of a batch, in order: its event, or why it is
/// refused. Checks are pure but for the devices' keys, so a batch checked once may be stored
/// again after a storage failure.
#[derive(Debug)]
pub struct Checked(Vec<Result<ViolationEvent, Refusal>>);

/// One payload as it came: its topic and its bytes.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub topic: String,
    pub payload: Bytes,
}

/// A payload kept as a dead letter, and why.
struct Held {
    index: usize,
    kind: HeldKind,
    device: Option<String>,
    code: &'static str,
    reason: String,
}

#[derive(Clone, Copy)]
enum HeldKind {
    Refused,
    Parked(EventId),
    Conflict(EventId),
}

impl HeldKind {
    fn event_id(self) -> Option<String> {
        match self {
            Self::Refused => None,
            Self::Parked(id) | Self::Conflict(id) => Some(id.to_string()),
        }
    }

    fn outcome(self, code: &'static str, dead_letter: i64) -> Outcome {
        match self {
            Self::Refused => Outcome::Refused { code, dead_letter },
            Self::Parked(event_id) => Outcome::Parked {
                event_id,
                code,
                dead_letter,
            },
            Self::Conflict(event_id) => Outcome::Conflict {
                event_id,
                dead_letter,
            },
        }
    }
}
