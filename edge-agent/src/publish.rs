//! Delivery from the outbox: events published QoS 1 on a persistent MQTT session (re-published
//! after a reconnect and when central's acknowledgement does not come), evidence uploaded to
//! central by content-addressed PUT (retried until it lands), the retained status heartbeat
//! with `offline` as last will (both signed with the device key), and the signal controller's
//! feed handed to the cameras, and central's requests for a camera's picture or clip handed to
//! [`crate::snapshot`]. An event leaves the outbox only on central's application-level
//! [`Ack`](protocol::Ack); acknowledgements, configurations and phases count only as [`ControlPlane`] admits
//! them (signed by whom they must be).
//!
//! Uploads are signed at central's time ([`CentralClock`]), learnt from the `Date` of its
//! answers: a box whose clock is minutes off (a drifted RTC with NTP out of reach, a bad step)
//! would otherwise have every upload refused as outside central's allowed skew and keep its
//! evidence until its disk filled. Its events stay dated by its own clock; central parks those
//! dated in its future with the reason.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use protocol::{
    DeviceId, DeviceKey, DeviceStatus, SignalPhase, Topic, UtcTimestamp, event::Sha256Digest,
    evidence::UploadAuth, snapshot::SnapshotRequest, wire,
};
use rumqttc::{AsyncClient, Event, LastWill, Packet, QoS};
use service_kit::http::Shutdown;
use tokio::sync::{Notify, mpsc};
use tracing::{Instrument as _, debug, error, info, warn};

use crate::{
    config::{CentralSettings, MqttSettings},
    control::ControlPlane,
    outbox::Outbox,
    snapshot::{Frames, send_snapshot},
};

/// Counters of delivery, for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    pub published: AtomicU64,
    pub acked: AtomicU64,
    pub uploaded: AtomicU64,
    pub upload_errors: AtomicU64,
    pub connects: AtomicU64,
    /// Acknowledgements, configurations and phases refused: malformed, unsigned, signed by
    /// another key, for another device, stale or played again.
    pub control_refused: AtomicU64,
    pub connected: AtomicBool,
    pub central_clock: CentralClock,
}

/// Central's clock as this box sees it: how far it is ahead of the box's (ms, negative when
/// behind), from the `Date` header of central's answers. The header has a resolution of a
/// second, so offsets within [`CentralClock::TOLERANCE_MS`] count as none.
#[derive(Debug, Default)]
pub struct CentralClock {
    offset_ms: AtomicI64,
}

impl CentralClock {
    /// Offsets this small are the header's rounding and the network's delay, not a clock fault.
    pub const TOLERANCE_MS: i64 = 2_000;

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// The time on central's clock now, as far as this box knows it.
    pub fn now(&self) -> UtcTimestamp {
        let now = UtcTimestamp::now();
        UtcTimestamp::from_unix_ms(now.unix_ms() + self.offset_ms()).unwrap_or(now)
    }

    /// Learns from an answer dated `date` (an HTTP-date) to a request sent at `sent_ms` and
    /// answered at `received_ms` (this box's clock). Returns the new offset when it changed.
    pub fn observe(&self, date: &str, sent_ms: i64, received_ms: i64) -> Option<i64> {
        let at = httpdate::parse_http_date(date).ok()?;
        let secs = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
        // The header drops the milliseconds: central's time was somewhere in that second.
        let central_ms = i64::try_from(secs).ok()?.saturating_mul(1000) + 500;
        let mid = sent_ms + (received_ms - sent_ms) / 2;
        let offset = central_ms - mid;
        let offset = if offset.abs() <= Self::TOLERANCE_MS + (received_ms - sent_ms) / 2 {
            0
        } else {
            offset
        };
        // The same offset read again, give or take the header's second, is no news.
        let before = self.offset_ms();
        if (offset - before).abs() <= Self::TOLERANCE_MS && (offset == 0) == (before == 0) {
            return None;
        }
        self.offset_ms.store(offset, Ordering::Relaxed);
        Some(offset)
    }
}

/// What the publisher needs.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub device: DeviceId,
    pub key: Arc<DeviceKey>,
    pub outbox: Outbox,
    pub mqtt: MqttSettings,
    pub central: CentralSettings,
    /// Who the box takes acknowledgements, configurations and phases from.
    pub control: Arc<ControlPlane>,
    /// Woken when an event is stored.
    pub wake: Arc<Notify>,
    pub counters: Arc<DeliveryCounters>,
}

/// A configuration from central, with the signed bytes it came as (kept for the next start,
/// which verifies them again).
#[derive(Debug, Clone)]
pub struct CentralConfig {
    pub config: protocol::DeviceConfig,
    pub signed: Vec<u8>,
}

/// Runs delivery until `shutdown`. `status` makes the heartbeat; phases from the signal
/// controller go to `signals`, configurations to `configs`; `frames` gives the pictures central
/// asks for.
#[tracing::instrument(name = "uplink", skip_all, fields(device = %delivery.device))]
pub async fn run(
    delivery: Delivery,
    status: Arc<dyn Fn() -> DeviceStatus + Send + Sync>,
    (signals, configs): (mpsc::Sender<SignalPhase>, mpsc::Sender<CentralConfig>),
    frames: Frames,
    mut shutdown: Shutdown,
) -> anyhow::Result<()> {
    let device = delivery.device.clone();
    let m = &delivery.mqtt;
    let credentials = m
        .username
        .as_deref()
        .zip(m.password.as_ref().map(|p| p.expose()));
    let mut options = service_kit::mqtt::client_options(
        device.as_str(),
        &m.url,
        credentials,
        m.ca_file.as_deref(),
    )?;
    options
        .set_keep_alive(Duration::from_secs(delivery.mqtt.keep_alive_s.max(5)))
        .set_clean_session(false)
        // Whatever arrives on the control topics is read and refused when it is not central's
        // (`service_kit::mqtt::MAX_PACKET`): a message too large to read would stall the
        // session, and with it every acknowledgement and configuration.
        .set_max_packet_size(service_kit::mqtt::MAX_PACKET, 512 * 1024)
        .set_last_will(LastWill::new(
            Topic::Status(device.clone()).to_string(),
            wire::encode_signed(
                &DeviceStatus::offline(device.clone(), UtcTimestamp::now()),
                &delivery.key,
            )?,
            QoS::AtLeastOnce,
            true,
        ));
    let (client, mut eventloop) = AsyncClient::new(options, 256);
    let connected_gen = Arc::new(AtomicU64::new(0));
    // Few at a time: an administrator's clicks, not a feed.
    let (snapshot_tx, mut snapshot_rx) = mpsc::channel::<SnapshotRequest>(4);

    let listener = {
        let client = client.clone();
        let delivery = delivery.clone();
        let connected_gen = connected_gen.clone();
        let mut shutdown = shutdown.clone();
        let listening = async move {
            let ack_topic = Topic::Ack(delivery.device.clone()).to_string();
            let config_topic = Topic::Config(delivery.device.clone()).to_string();
            let snapshot_topic = Topic::SnapshotRequest(delivery.device.clone()).to_string();
            let signal_filter = format!("{}/{}/signal/+", protocol::topic::ROOT, delivery.device);
            loop {
                let event = tokio::select! {
                    e = eventloop.poll() => e,
                    () = shutdown.wait() => break,
                };
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        info!("connected to the broker");
                        delivery.counters.connects.fetch_add(1, Ordering::Relaxed);
                        delivery.counters.connected.store(true, Ordering::Relaxed);
                        for filter in [&ack_topic, &signal_filter, &config_topic, &snapshot_topic] {
                            if let Err(e) = client.try_subscribe(filter.as_str(), QoS::AtLeastOnce)
                            {
                                warn!(error = %e, "subscribing");
                            }
                        }
                        connected_gen.fetch_add(1, Ordering::Relaxed);
                        delivery.wake.notify_one();
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let to = (&signals, &configs, &snapshot_tx);
                        handle_incoming(&delivery, &p.topic, &p.payload, to).await;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if delivery.counters.connected.swap(false, Ordering::Relaxed) {
                            warn!(error = %e, "broker connection lost");
                        } else {
                            debug!(error = %e, "broker not reachable");
                        }
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        };
        tokio::spawn(listening.in_current_span())
    };

    let http = service_kit::tls::client(
        Duration::from_millis(delivery.central.timeout_ms),
        delivery.central.ca_file.as_deref(),
    )
    .context("central.ca_file")?;
    // Pictures are taken and sent beside delivery, one request at a time (a burst lasts its
    // frames' seconds): evidence never waits for an installer's picture.
    let pictures = {
        let (delivery, client, http) = (delivery.clone(), client.clone(), http.clone());
        let mut shutdown = shutdown.clone();
        let answering = async move {
            loop {
                let request = tokio::select! {
                    r = snapshot_rx.recv() => match r { Some(r) => r, None => break },
                    () = shutdown.wait() => break,
                };
                let sent = tokio::select! {
                    r = send_snapshot(&delivery, &client, &http, &frames, &request) => r,
                    () = shutdown.wait() => break,
                };
                if let Err(e) = sent {
                    warn!(camera = %request.camera, error = format!("{e:#}"), "the picture central asked for was not sent");
                }
            }
        };
        tokio::spawn(answering.in_current_span())
    };
    let mut seen_gen = 0;
    let mut status_tick =
        tokio::time::interval(Duration::from_secs(delivery.mqtt.status_every_s.max(1)));
    let mut upload_backoff = Duration::from_millis(200);
    loop {
        tokio::select! {
            () = shutdown.wait() => break,
            () = delivery.wake.notified() => {},
            _ = status_tick.tick() => {
                if delivery.counters.connected.load(Ordering::Relaxed) {
                    let mut s = status();
                    s.outbox_depth = delivery.outbox.depth().await.ok();
                    match wire::encode_signed(&s, &delivery.key) {
                        Ok(payload) => {
                            let _ = client.try_publish(Topic::Status(device.clone()).to_string(), QoS::AtLeastOnce, true, payload);
                        }
                        Err(e) => warn!(error = %e, "status cannot be encoded"),
                    }
                }
            },
            () = tokio::time::sleep(Duration::from_millis(500)) => {},
        }
        if delivery.counters.connected.load(Ordering::Relaxed) {
            let generation = connected_gen.load(Ordering::Relaxed);
            // A new connection: what was published before may not have reached central.
            let round = async {
                if generation != seen_gen {
                    delivery.outbox.reset_published().await?;
                }
                publish_pending(&delivery, &client).await
            };
            match round.await {
                Ok(()) => seen_gen = generation,
                // The outbox keeps everything; a failed round (a busy database) is tried again
                // on the next one, and the agent goes on.
                Err(e) => error!(
                    error = format!("{e:#}"),
                    "publishing from the outbox failed; retrying"
                ),
            }
        }
        match upload_pending(&delivery, &http).await {
            Ok(()) => upload_backoff = Duration::from_millis(200),
            Err(e) => {
                delivery
                    .counters
                    .upload_errors
                    .fetch_add(1, Ordering::Relaxed);
                // Said once per run of failures (a certificate central's CA did not sign, central
                // down), then quietly retried.
                if upload_backoff == Duration::from_millis(200) {
                    warn!(error = format!("{e:#}"), "evidence upload failed; retrying");
                } else {
                    debug!(error = format!("{e:#}"), "evidence upload failed; retrying");
                }
                tokio::time::sleep(upload_backoff).await;
                upload_backoff = (upload_backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    let _ = client.disconnect().await;
    listener.abort();
    pictures.abort();
    Ok(())
}

async fn handle_incoming(
    delivery: &Delivery,
    topic: &str,
    payload: &[u8],
    (signals, configs, snapshots): (
        &mpsc::Sender<SignalPhase>,
        &mpsc::Sender<CentralConfig>,
        &mpsc::Sender<SnapshotRequest>,
    ),
) {
    let control = &delivery.control;
    let (what, taken) = match topic.parse::<Topic>() {
        // An empty retained message clears the topic: nothing to apply.
        Ok(Topic::Config(_)) if payload.is_empty() => return,
        Ok(Topic::Config(_)) => match control.config(payload) {
            Ok(config) => {
                let update = CentralConfig {
                    config,
                    signed: payload.to_vec(),
                };
                if configs.send(update).await.is_err() {
                    warn!("the pipeline has stopped: configuration not applied");
                }
                return;
            }
            Err(e) => ("configuration", e),
        },
        Ok(Topic::Ack(_)) => match control.ack(payload) {
            Ok(ack) => {
                let ids: Vec<String> = ack.event_ids.iter().map(|e| e.to_string()).collect();
                match delivery.outbox.ack(&ids).await {
                    Ok(()) => {
                        delivery
                            .counters
                            .acked
                            .fetch_add(ids.len() as u64, Ordering::Relaxed);
                    }
                    Err(e) => warn!(error = %e, "recording an acknowledgement"),
                }
                return;
            }
            Err(e) => ("acknowledgement", e),
        },
        Ok(Topic::SnapshotRequest(_)) => {
            match control.snapshot_request(payload, UtcTimestamp::now()) {
                Ok(request) => {
                    if snapshots.try_send(request).is_err() {
                        warn!("pictures asked faster than they are sent: a request dropped");
                    }
                    return;
                }
                Err(e) => ("snapshot request", e),
            }
        }
        Ok(Topic::Signal(_, camera)) => {
            match control.signal(&camera, payload, UtcTimestamp::now()) {
                Ok(phase) => {
                    let _ = signals.try_send(phase);
                    return;
                }
                Err(e) => ("signal phase", e),
            }
        }
        _ => return,
    };
    delivery
        .counters
        .control_refused
        .fetch_add(1, Ordering::Relaxed);
    warn!(topic, error = %taken, code = taken.code(), "{what} refused");
}

async fn publish_pending(delivery: &Delivery, client: &AsyncClient) -> anyhow::Result<()> {
    let now = UtcTimestamp::now().unix_ms();
    let again = i64::try_from(delivery.mqtt.republish_after_s)
        .unwrap_or(i64::MAX / 2)
        .saturating_mul(1000);
    let topic = Topic::Violation(delivery.device.clone()).to_string();
    for p in delivery.outbox.pending(200).await? {
        if p.published_ms.is_some_and(|at| now - at < again) {
            continue;
        }
        if client
            .try_publish(topic.clone(), QoS::AtLeastOnce, false, p.payload)
            .is_err()
        {
            // The request queue is full (the connection is slow): try on the next round.
            break;
        }
        delivery.outbox.mark_published(&p.event_id, now).await?;
        delivery.counters.published.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

async fn upload_pending(delivery: &Delivery, http: &reqwest::Client) -> anyhow::Result<()> {
    for u in delivery.outbox.uploads(20).await? {
        let bytes = tokio::fs::read(&u.path).await?;
        let sha = Sha256Digest::parse(&u.sha256).map_err(anyhow::Error::msg)?;
        put_blob(delivery, http, &sha, &u.content_type, bytes).await?;
        delivery.outbox.mark_uploaded(&u.sha256).await?;
        delivery.counters.uploaded.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Uploads one file to central's evidence store, signed at central's time (learnt from the
/// answer's `Date`).
pub(crate) async fn put_blob(
    delivery: &Delivery,
    http: &reqwest::Client,
    sha: &Sha256Digest,
    content_type: &str,
    bytes: Vec<u8>,
) -> anyhow::Result<()> {
    let clock = &delivery.counters.central_clock;
    let auth = UploadAuth::sign(&delivery.key, delivery.device.clone(), sha, clock.now());
    let mut request = http
        .put(format!(
            "{}{}",
            delivery.central.url.trim_end_matches('/'),
            protocol::evidence::path(sha)
        ))
        .header("content-type", content_type)
        .body(bytes);
    for (name, value) in auth.headers() {
        request = request.header(name, value);
    }
    let sent_ms = UtcTimestamp::now().unix_ms();
    let response = request.send().await?;
    let date = response.headers().get(reqwest::header::DATE);
    if let Some(offset) = date
        .and_then(|d| d.to_str().ok())
        .and_then(|d| clock.observe(d, sent_ms, UtcTimestamp::now().unix_ms()))
    {
        if offset == 0 {
            info!("this box's clock agrees with central's again");
        } else {
            warn!(
                offset_s = offset as f64 / 1000.0,
                "this box's clock differs from central's: uploads are signed at central's time, events stay dated by this clock"
            );
        }
    }
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        let body = service_kit::tls::error_text(response).await;
        anyhow::bail!("central refused evidence {sha}: {status} {body}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(unix_s: u64) -> String {
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(unix_s))
    }

    #[test]
    fn central_clock_is_learnt_from_its_answers_dates() {
        let clock = CentralClock::default();
        let t0 = 1_780_000_000_000_i64; // this box's clock, ms
        // Central agrees to within its header's second and the round trip: no offset.
        assert_eq!(clock.observe(&date(1_780_000_000), t0, t0 + 80), None);
        assert_eq!(clock.observe(&date(1_780_000_001), t0, t0 + 80), None);
        assert_eq!(clock.offset_ms(), 0);
        // Central is ten minutes ahead (this box's clock is behind): learnt, within a second.
        let offset = clock.observe(&date(1_780_000_600), t0, t0 + 80).unwrap();
        assert!((offset - 600_000).abs() <= 1_000, "{offset}");
        // Read again a second off: no news.
        assert_eq!(clock.observe(&date(1_780_000_601), t0, t0 + 80), None);
        assert_eq!(clock.offset_ms(), offset);
        // Central behind by five minutes (this box stepped forward), then the clocks agree.
        let offset = clock.observe(&date(1_779_999_700), t0, t0 + 80).unwrap();
        assert!((offset + 300_000).abs() <= 1_000, "{offset}");
        assert_eq!(clock.observe(&date(1_780_000_000), t0, t0 + 80), Some(0));
        // What is not an HTTP-date teaches nothing.
        assert_eq!(clock.observe("yesterday", t0, t0 + 80), None);
        assert_eq!(clock.offset_ms(), 0);
    }

    #[test]
    fn uploads_are_signed_at_central_time() {
        let clock = CentralClock::default();
        let box_now = UtcTimestamp::now().unix_ms();
        clock.observe(&date((box_now / 1000 + 600) as u64), box_now, box_now);
        let signed_at = clock.now().unix_ms();
        assert!(
            (signed_at - box_now - 600_000).abs() < 2_000,
            "{signed_at} against {box_now}"
        );
    }
}
