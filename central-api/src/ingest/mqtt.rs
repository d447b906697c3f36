//! The MQTT worker: subscribes to every device's violation and status topics, hands the
//! violations that have arrived to [`Ingest`] a batch at a time, publishes the
//! application-level [`Ack`] once they are durably stored, and only then acknowledges the MQTT
//! deliveries; statuses are recorded as they come.
//! Acknowledgements and device configurations go out signed with central's control key
//! ([`ControlKey`]). A storage failure is retried in place: the delivery stays
//! unacknowledged, so the broker keeps the event until central has it.
//!
//! The session is persistent (`clean_session = false`): events published while central is down
//! wait in the broker for this client id.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::bail;
use protocol::{Ack, DeviceId, EventId, Topic, UtcTimestamp, topic::TopicKind, wire};
use rumqttc::{AsyncClient, Event, Packet, Publish, QoS};
use service_kit::http::Shutdown;
use tokio::sync::mpsc;

use super::Ingest;
use crate::{config::MqttSettings, control::ControlKey};

/// Where the worker connects and what it subscribes to.
#[derive(Debug, Clone)]
pub struct Connection {
    /// `mqtt://` or `mqtts://` with host and port.
    pub url: String,
    /// Credentials and CA file apply to an external broker only.
    pub external: bool,
    /// The subscription filters (violations, statuses, snapshots): shared on an external broker, plain on
    /// the embedded one.
    pub filters: Vec<String>,
}

impl Connection {
    /// An external broker from `mqtt.url`, subscribed through the shared group.
    pub fn external(settings: &MqttSettings) -> anyhow::Result<Self> {
        protocol::topic::BrokerUrl::parse(&settings.url).map_err(anyhow::Error::msg)?;
        Ok(Self {
            url: settings.url.clone(),
            external: true,
            filters: [TopicKind::Violation, TopicKind::Status, TopicKind::Snapshot]
                .map(|k| k.shared_filter(&settings.shared_group))
                .to_vec(),
        })
    }

    /// The embedded broker listening on `addr`.
    pub fn embedded(addr: std::net::SocketAddr) -> Self {
        Self {
            url: format!("mqtt://{addr}"),
            external: false,
            filters: [TopicKind::Violation, TopicKind::Status, TopicKind::Snapshot]
                .map(TopicKind::filter_all)
                .to_vec(),
        }
    }
}

/// Host and port of `mqtt://HOST[:PORT]` (default port 1883).
pub fn parse_broker_url(url: &str) -> anyhow::Result<(String, u16)> {
    protocol::topic::parse_broker_url(url).map_err(anyhow::Error::msg)
}

/// Publishes, retained and signed now (so a rotated control key signs them all again on the next
/// connection), the device configurations not yet published (or all of them), each marked
/// published once handed to the client (QoS 1: the client resends it until the broker has it,
/// and all go out again after a reconnection).
async fn publish_configs(
    db: &crate::db::Db,
    client: &AsyncClient,
    control: &ControlKey,
    all: bool,
) -> anyhow::Result<()> {
    for (device, version, payload) in crate::db::cameras::to_publish(db, all).await? {
        let topic = Topic::Config(device.clone()).to_string();
        let config = wire::decode::<protocol::DeviceConfig>(payload.as_bytes())
            .map_err(|e| anyhow::anyhow!("the stored configuration of {device}: {e}"))?;
        let signed = control.sign(&config)?;
        client
            .try_publish(topic, QoS::AtLeastOnce, true, signed)
            .map_err(|e| anyhow::anyhow!("publishing the configuration of {device}: {e}"))?;
        crate::db::cameras::published(db, &device, version).await?;
        tracing::info!(%device, version, "device configuration published");
    }
    Ok(())
}

/// Publishes, signed, the snapshot requests not yet published and not expired, each marked
/// published once handed to the client (not retained: a request is for the device connected
/// now; the persistent session keeps it for a device away for moments).
async fn publish_snapshot_requests(
    db: &crate::db::Db,
    client: &AsyncClient,
    control: &ControlKey,
) -> anyhow::Result<()> {
    let now = time::OffsetDateTime::now_utc();
    for request in crate::db::snapshots::to_publish(db, now).await? {
        let topic = Topic::SnapshotRequest(request.device.clone()).to_string();
        let signed = control.sign(&request)?;
        client
            .try_publish(topic, QoS::AtLeastOnce, false, signed)
            .map_err(|e| anyhow::anyhow!("publishing a snapshot request: {e}"))?;
        crate::db::snapshots::published(db, &request.request_id, now).await?;
        tracing::info!(device = %request.device, camera = %request.camera, "snapshot requested");
    }
    Ok(())
}

/// Runs the worker until `shutdown`.
pub async fn run(
    ingest: Ingest,
    settings: MqttSettings,
    connection: Connection,
    control: ControlKey,
    mut shutdown: Shutdown,
) -> anyhow::Result<()> {
    let (credentials, ca_file) = match (&settings.username, &settings.password) {
        (Some(u), Some(p)) if connection.external => {
            (Some((u.as_str(), p.expose())), settings.ca_file.as_deref())
        }
        _ if connection.external => (None, settings.ca_file.as_deref()),
        _ => (None, None),
    };
    let mut options = service_kit::mqtt::client_options(
        &settings.client_id,
        &connection.url,
        credentials,
        ca_file,
    )?;
    options
        .set_keep_alive(Duration::from_secs(settings.keep_alive_s.max(5)))
        .set_clean_session(false)
        .set_manual_acks(true)
        // Any packet the protocol allows is read, so that ingest refuses it as a dead letter
        // (`service_kit::mqtt::MAX_PACKET`; the broker's limit: deploy/mosquitto-central.conf).
        .set_max_packet_size(
            service_kit::mqtt::MAX_PACKET,
            settings.max_payload_bytes + 1024,
        );
    let (client, mut events) = AsyncClient::new(options, 64);
    // Unbounded, so the poller never waits on the processor: the processor's acknowledgements
    // travel through this same event loop, and a poller blocked on a full channel would stop
    // them (a deadlock under load). What it holds at QoS 1 is bounded by the broker's in-flight
    // window, since nothing is acknowledged to the broker before it is processed; QoS 0, which
    // the broker does not hold back, is bounded here (devices publish at QoS 1).
    let (tx, rx) = mpsc::unbounded_channel::<Publish>();
    let at_most_once = Arc::new(AtMostOnceBacklog::new(AT_MOST_ONCE_WAITING));
    let db = ingest.db().clone();
    let dropped = ingest.clone();
    let processor = tokio::spawn(process(
        ingest,
        client.clone(),
        control.clone(),
        (rx, at_most_once.clone()),
        shutdown.clone(),
    ));
    // Device configurations go out retained; all of them again after each connection (a broker
    // without persistence forgets retained messages when it restarts).
    let mut configs = tokio::time::interval(Duration::from_secs(1));
    let mut republish = true;
    let mut connected = false;
    tracing::info!(url = %connection.url, filters = ?connection.filters, "mqtt ingest starting");

    let mut backoff = Duration::from_millis(100);
    loop {
        tokio::select! {
            () = shutdown.wait() => break,
            _ = configs.tick(), if connected => {
                match publish_configs(&db, &client, &control, republish).await {
                    Ok(()) => republish = false,
                    Err(e) => tracing::warn!(error = format!("{e:#}"), "publishing device configurations"),
                }
                if let Err(e) = publish_snapshot_requests(&db, &client, &control).await {
                    tracing::warn!(error = format!("{e:#}"), "publishing snapshot requests");
                }
            }
            polled = events.poll() => match polled {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    backoff = Duration::from_millis(100);
                    connected = true;
                    republish = true;
                    tracing::info!(session_present = ack.session_present, "connected to the mqtt broker");
                    for filter in &connection.filters {
                        client.subscribe(filter, QoS::AtLeastOnce).await?;
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    if !at_most_once.admit(publish.qos) {
                        dropped.count("at_most_once_dropped");
                        tracing::warn!(topic = %publish.topic, "a QoS 0 message beyond the backlog dropped");
                        continue;
                    }
                    if tx.send(publish).is_err() {
                        bail!("the ingest processor stopped");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    connected = false;
                    tracing::warn!(error = %e, retry_ms = backoff.as_millis() as u64, "mqtt connection lost");
                    tokio::select! {
                        () = shutdown.wait() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
    // Let the processor finish what it holds, polling so its acknowledgements go out.
    drop(tx);
    let drain = async {
        tokio::pin!(processor);
        loop {
            tokio::select! {
                done = &mut processor => return done,
                polled = events.poll() => if polled.is_err() { return (&mut processor).await },
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(5), drain).await {
        Ok(Ok(result)) => result?,
        Ok(Err(e)) => bail!("the ingest processor panicked: {e}"),
        Err(_) => {
            tracing::warn!("ingest did not drain in time; the broker redelivers what is left")
        }
    }
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), events.poll()).await;
    Ok(())
}

/// Most deliveries taken in one batch: one transaction, one acknowledgement a device. The
/// broker's in-flight window for central's client (Mosquitto's `max_inflight_messages`) bounds
/// what can be waiting, and so the batch, below this.
const BATCH_MAX: usize = 256;

/// Most event ids in one acknowledgement: about 4 KiB signed, within the 10 KiB a client
/// takes by default (rumqttc's), though the protocol allows up to
/// [`protocol::messages::MAX_ACK_IDS`].
const ACK_IDS_PER_MESSAGE: usize = 100;

/// Takes what has arrived, up to [`BATCH_MAX`], and ingests it as a batch: statuses and
/// snapshot answers one by one, violations together; then acknowledges to each device the
/// events stored (one signed [`Ack`] naming them all), and only then to the broker. Two stages:
/// while one batch is stored ([`Ingest::store`], the database's time), the next is checked
/// ([`Ingest::check`], the CPU's), with one checked batch waiting at most; the broker's
/// in-flight window holds the rest back. Batches are stored and acknowledged in the order they
/// arrived.
async fn process(
    ingest: Ingest,
    client: AsyncClient,
    control: ControlKey,
    (deliveries, at_most_once): (mpsc::UnboundedReceiver<Publish>, Arc<AtMostOnceBacklog>),
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let (checked_tx, mut checked) = mpsc::channel::<CheckedBatch>(1);
    let checker = tokio::spawn(check(
        ingest.clone(),
        deliveries,
        checked_tx,
        shutdown.clone(),
    ));
    while let Some(CheckedBatch {
        batch,
        others,
        violations,
        checks,
    }) = checked.recv().await
    {
        let _taken: Vec<_> = batch
            .iter()
            .filter_map(|p| at_most_once.taken(p.qos))
            .collect();
        let mut handled = true;
        for &(index, kind) in &others {
            let (topic, payload) = (&batch[index].topic, &batch[index].payload);
            let other = if kind == TopicKind::Status {
                retrying(&shutdown, || ingest.status(topic, payload)).await
            } else {
                retrying(&shutdown, || ingest.snapshot(topic, payload)).await
            };
            handled &= other.is_some();
        }
        let outcomes = if handled {
            retrying(&shutdown, || ingest.store(&violations, &checks)).await
        } else {
            None
        };
        // Stopping with storage failing: nothing of the batch is acknowledged, and the broker
        // delivers it again.
        let Some(outcomes) = outcomes else {
            continue;
        };
        let mut acks = HashMap::<DeviceId, Vec<EventId>>::new();
        for (delivery, outcome) in violations.iter().zip(&outcomes) {
            if let Some(event_id) = outcome.ack()
                && let Ok(topic) = Topic::parse(&delivery.topic)
            {
                let ids = acks.entry(topic.device().clone()).or_default();
                if !ids.contains(&event_id) {
                    ids.push(event_id);
                }
            }
        }
        for (device, ids) in acks {
            for ids in ids.chunks(ACK_IDS_PER_MESSAGE) {
                send_ack(&client, &control, device.clone(), ids.to_vec()).await?;
            }
        }
        for publish in &batch {
            client.ack(publish).await?;
        }
    }
    match checker.await {
        Ok(()) => Ok(()),
        Err(e) => bail!("the ingest checker stopped: {e}"),
    }
}

/// A batch taken from the broker: its statuses and snapshot answers (index and kind), its
/// violations and what [`Ingest::check`] found of them.
struct CheckedBatch {
    batch: Vec<Publish>,
    others: Vec<(usize, TopicKind)>,
    violations: Vec<super::Delivery>,
    checks: super::Checked,
}

/// The first stage of [`process`]: takes what has arrived, up to [`BATCH_MAX`], and checks its
/// violations (everything not a status or a snapshot answer: what is on no violation topic is
/// refused there) while the batch before is being stored.
async fn check(
    ingest: Ingest,
    mut deliveries: mpsc::UnboundedReceiver<Publish>,
    checked: mpsc::Sender<CheckedBatch>,
    shutdown: Shutdown,
) {
    while let Some(first) = deliveries.recv().await {
        let mut batch: Vec<Publish> = Vec::with_capacity(BATCH_MAX);
        batch.push(first);
        while batch.len() < BATCH_MAX
            && let Ok(next) = deliveries.try_recv()
        {
            batch.push(next);
        }
        let (mut others, mut violations) = (Vec::new(), Vec::new());
        for (index, p) in batch.iter().enumerate() {
            match Topic::parse(&p.topic).map(|t| t.kind()) {
                Ok(kind @ (TopicKind::Status | TopicKind::Snapshot)) => others.push((index, kind)),
                _ => violations.push(super::Delivery {
                    topic: p.topic.clone(),
                    payload: p.payload.clone(),
                }),
            }
        }
        // Stopping with storage failing: the batch is left unacknowledged, for the broker to
        // deliver again.
        let Some(checks) = retrying(&shutdown, || ingest.check(&violations)).await else {
            continue;
        };
        let taken = CheckedBatch {
            batch,
            others,
            violations,
            checks,
        };
        if checked.send(taken).await.is_err() {
            return;
        }
    }
}

/// Runs `step` until it stores, waiting longer after each storage failure; `None` if central
/// is stopping (the broker delivers again what was not acknowledged).
async fn retrying<T, F>(shutdown: &Shutdown, mut step: impl FnMut() -> F) -> Option<T>
where
    F: Future<Output = Result<T, crate::db::DbError>>,
{
    let mut retry = Duration::from_millis(200);
    loop {
        match step().await {
            Ok(done) => return Some(done),
            Err(e) if shutdown.is_stopping() => {
                tracing::warn!(error = %e, "storage failed while stopping; the broker redelivers");
                return None;
            }
            Err(e) => {
                tracing::error!(error = %e, retry_ms = retry.as_millis() as u64, "storage failed; retrying");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Most QoS 0 messages waiting for the processor; more are dropped, counted.
const AT_MOST_ONCE_WAITING: usize = 1024;

/// The QoS 0 messages waiting for the processor: the broker holds back QoS 1 deliveries until
/// they are acknowledged, but sends QoS 0 ones as fast as they are published, so whoever may
/// publish on central's topics could otherwise fill its memory.
#[derive(Debug)]
struct AtMostOnceBacklog {
    waiting: AtomicUsize,
    max: usize,
}

impl AtMostOnceBacklog {
    fn new(max: usize) -> Self {
        Self {
            waiting: AtomicUsize::new(0),
            max,
        }
    }

    /// Whether a delivery of `qos` may wait for the processor (QoS 1 always).
    fn admit(&self, qos: QoS) -> bool {
        if qos != QoS::AtMostOnce {
            return true;
        }
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok()
    }

    /// The processor takes a delivery of `qos`: its place is free once the guard is dropped.
    fn taken(&self, qos: QoS) -> Option<Taken<'_>> {
        (qos == QoS::AtMostOnce).then_some(Taken(self))
    }
}

/// A QoS 0 delivery being processed.
struct Taken<'a>(&'a AtMostOnceBacklog);

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn send_ack(
    client: &AsyncClient,
    control: &ControlKey,
    device: DeviceId,
    event_ids: Vec<EventId>,
) -> anyhow::Result<()> {
    let count = event_ids.len();
    let ack = Ack {
        device: device.clone(),
        event_ids,
        stored_at: UtcTimestamp::now(),
    };
    let payload = control.sign(&ack)?;
    client
        .publish(
            Topic::Ack(device.clone()).to_string(),
            QoS::AtLeastOnce,
            false,
            payload,
        )
        .await?;
    tracing::debug!(%device, count, "acknowledged to the device");
    Ok(())
}

#[cfg(test)]
mod tests {
    use rumqttc::QoS;

    use super::AtMostOnceBacklog;

    #[test]
    fn qos_0_waits_up_to_the_backlog_and_qos_1_always() {
        let backlog = AtMostOnceBacklog::new(2);
        assert!(backlog.admit(QoS::AtMostOnce));
        assert!(backlog.admit(QoS::AtMostOnce));
        assert!(!backlog.admit(QoS::AtMostOnce), "a third is dropped");
        assert!(
            backlog.admit(QoS::AtLeastOnce),
            "held back by the broker, never dropped"
        );
        drop(backlog.taken(QoS::AtMostOnce));
        assert!(
            backlog.admit(QoS::AtMostOnce),
            "one processed frees its place"
        );
        assert!(backlog.taken(QoS::AtLeastOnce).is_none());
    }
}
