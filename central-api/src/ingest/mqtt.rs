//! The MQTT worker: subscribes to every device's violation and status topics, hands each
//! violation to [`Ingest`], publishes the application-level [`Ack`] once an event is durably
//! stored, and only then acknowledges the MQTT delivery; statuses are recorded as they come.
//! Acknowledgements and device configurations go out signed with central's control key
//! ([`ControlKey`]). A storage failure is retried in place: the delivery stays
//! unacknowledged, so the broker keeps the event until central has it.
//!
//! The session is persistent (`clean_session = false`): events published while central is down
//! wait in the broker for this client id.

use std::time::Duration;

use anyhow::bail;
use protocol::{Ack, Topic, UtcTimestamp, topic::TopicKind, wire};
use rumqttc::{AsyncClient, Event, Packet, Publish, QoS};
use service_kit::http::Shutdown;
use tokio::sync::mpsc;

use super::{Ingest, Outcome};
use crate::{config::MqttSettings, control::ControlKey};

/// Where the worker connects and what it subscribes to.
#[derive(Debug, Clone)]
pub struct Connection {
    /// `mqtt://` or `mqtts://` with host and port.
    pub url: String,
    /// Credentials and CA file apply to an external broker only.
    pub external: bool,
    /// The subscription filters (violations, statuses): shared on an external broker, plain on
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
            filters: [TopicKind::Violation, TopicKind::Status]
                .map(|k| k.shared_filter(&settings.shared_group))
                .to_vec(),
        })
    }

    /// The embedded broker listening on `addr`.
    pub fn embedded(addr: std::net::SocketAddr) -> Self {
        Self {
            url: format!("mqtt://{addr}"),
            external: false,
            filters: [TopicKind::Violation, TopicKind::Status]
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
            (Some((u.as_str(), p.as_str())), settings.ca_file.as_deref())
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
        .set_max_packet_size(
            settings.max_payload_bytes + 1024,
            settings.max_payload_bytes + 1024,
        );
    let (client, mut events) = AsyncClient::new(options, 64);
    // Unbounded, so the poller never waits on the processor: the processor's acknowledgements
    // travel through this same event loop, and a poller blocked on a full channel would stop
    // them (a deadlock under load). What it holds is bounded by the broker's in-flight window,
    // since nothing is acknowledged to the broker before it is processed.
    let (tx, rx) = mpsc::unbounded_channel::<Publish>();
    let db = ingest.db().clone();
    let processor = tokio::spawn(process(
        ingest,
        client.clone(),
        control.clone(),
        rx,
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

/// Ingests each delivery in order; acknowledges to the device, then to the broker.
async fn process(
    ingest: Ingest,
    client: AsyncClient,
    control: ControlKey,
    mut deliveries: mpsc::UnboundedReceiver<Publish>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    while let Some(publish) = deliveries.recv().await {
        let mut retry = Duration::from_millis(200);
        let status = Topic::parse(&publish.topic).is_ok_and(|t| t.kind() == TopicKind::Status);
        let outcome = loop {
            let handled = if status {
                ingest
                    .status(&publish.topic, &publish.payload)
                    .await
                    .map(|_| None)
            } else {
                ingest
                    .handle(&publish.topic, &publish.payload)
                    .await
                    .map(Some)
            };
            match handled {
                Ok(outcome) => break Some(outcome),
                Err(e) if shutdown.is_stopping() => {
                    tracing::warn!(error = %e, "storage failed while stopping; the broker redelivers");
                    break None;
                }
                Err(e) => {
                    tracing::error!(error = %e, retry_ms = retry.as_millis() as u64, "storage failed; retrying");
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(Duration::from_secs(5));
                }
            }
        };
        let Some(outcome) = outcome else { continue };
        if let Some(event_id) = outcome.as_ref().and_then(Outcome::ack)
            && let Ok(topic) = Topic::parse(&publish.topic)
        {
            send_ack(&client, &control, topic.device().clone(), event_id).await?;
        }
        client.ack(&publish).await?;
    }
    Ok(())
}

async fn send_ack(
    client: &AsyncClient,
    control: &ControlKey,
    device: protocol::DeviceId,
    event_id: protocol::EventId,
) -> anyhow::Result<()> {
    let ack = Ack {
        device: device.clone(),
        event_ids: vec![event_id],
        stored_at: UtcTimestamp::now(),
    };
    let payload = control.sign(&ack)?;
    client
        .publish(
            Topic::Ack(device).to_string(),
            QoS::AtLeastOnce,
            false,
            payload,
        )
        .await?;
    tracing::debug!(%event_id, "acknowledged to the device");
    Ok(())
}
