//! Central under load: central-api in this process on a fresh database and the machine's
//! Mosquitto, and simulated devices publishing signed events to it.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use central_api::{Config, config::MqttSettings, db::devices};
use protocol::{Ack, DeviceId, DeviceKey, EventId, Topic, ViolationEvent, wire};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use service_kit::db_testing::TestDb;

/// The broker the tests use (`TVE_TEST_MQTT_URL`, Mosquitto on 1883 by default).
pub fn mqtt() -> anyhow::Result<(String, u16)> {
    let url = std::env::var("TVE_TEST_MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    central_api::ingest::mqtt::parse_broker_url(&url)
}

/// A Mosquitto of the harness's own, configured as `deploy/mosquitto-central.conf` says a
/// production broker for central should be, on a free loopback port; stopped when dropped.
#[derive(Debug)]
pub struct Mosquitto {
    child: std::process::Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    pub fn start() -> anyhow::Result<Self> {
        let settings = include_str!("../../deploy/mosquitto-central.conf");
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = tempfile::tempdir()?;
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "{settings}\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            ),
        )?;
        let child = std::process::Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting mosquitto (installed by `make deps`)")?;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("mosquitto did not listen on {port} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            child,
            port,
            _dir: dir,
        })
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What devices sent: events, the copies of them sent again on purpose (a replay central must
/// acknowledge without storing twice), those sent again for want of an ack, and each event's
/// time from its first publication to central's acknowledgement, seconds.
#[derive(Debug, Default, Clone)]
pub struct Sent {
    pub events: usize,
    pub duplicates: usize,
    pub republished: usize,
    /// Messages central must refuse (malformed, unsigned, forged), each sent once.
    pub bad: usize,
    pub ack_latency_s: Vec<f64>,
    /// The first publication and the last acknowledgement.
    pub span: Option<(Instant, Instant)>,
}

impl Sent {
    fn add(&mut self, other: Sent) {
        self.events += other.events;
        self.duplicates += other.duplicates;
        self.republished += other.republished;
        self.bad += other.bad;
        self.ack_latency_s.extend(other.ack_latency_s);
        self.span = match (self.span, other.span) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
    }

    /// Events a second from the first publication to the last acknowledgement.
    pub fn rate(&self) -> f64 {
        self.span.map_or(0.0, |(first, last)| {
            self.events as f64 / (last - first).as_secs_f64()
        })
    }

    /// The `q` quantile of the acknowledgement latencies, seconds.
    pub fn ack_quantile(&self, q: f64) -> f64 {
        let mut sorted = self.ack_latency_s.clone();
        sorted.sort_by(f64::total_cmp);
        sorted
            .get(((sorted.len().max(1) - 1) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    }
}

/// How a device sends.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Events a second (0: all at once).
    pub rate: f64,
    /// Every this many-th event is sent twice (0: none).
    pub duplicate_every: usize,
    /// A message central must refuse after every this many-th event (0: none).
    pub bad_every: usize,
}

/// One device: publishes `events` signed events at QoS 1 at `pace`, and waits for every
/// acknowledgement (verified with central's `control` key, as the edge does), publishing again
/// what stays unacknowledged for 3 s (as the edge outbox does: a broker may drop what overflows
/// a subscriber's queue, and only central's ack counts).
pub async fn device(
    id: DeviceId,
    key: DeviceKey,
    control: protocol::DevicePublicKey,
    events: usize,
    pace: Pace,
    (host, port): (String, u16),
) -> anyhow::Result<Sent> {
    let mut options = MqttOptions::new(format!("load-{id}"), host, port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_inflight(100);
    let (client, mut loop_) = AsyncClient::new(options, 256);
    client
        .subscribe(Topic::Ack(id.clone()).to_string(), QoS::AtLeastOnce)
        .await?;
    let payloads: Arc<HashMap<EventId, Vec<u8>>> = Arc::new(
        (0..events)
            .map(|_| {
                let e = ViolationEvent::example(id.clone(), EventId::new());
                wire::encode_signed(&e, &key).map(|p| (e.event_id, p))
            })
            .collect::<Result<_, _>>()?,
    );
    let mut sent = Sent {
        events,
        ..Sent::default()
    };
    let mut bad = Vec::new();
    let mut order: Vec<Item> = Vec::new();
    for (i, event_id) in payloads.keys().enumerate() {
        order.push(Item::Event(*event_id));
        if pace.duplicate_every > 0 && i % pace.duplicate_every == 0 {
            order.push(Item::Event(*event_id));
            sent.duplicates += 1;
        }
        // After an event, never last: the acknowledgement of the events after it shows it was
        // taken.
        if pace.bad_every > 0 && i % pace.bad_every == pace.bad_every / 2 && i + 1 < events {
            order.push(Item::Bad(bad.len()));
            bad.push(bad_payload(bad.len(), &id, &key)?);
        }
    }
    sent.bad = bad.len();
    let bad = Arc::new(bad);
    let first_sent: Arc<std::sync::Mutex<HashMap<EventId, Instant>>> = Arc::default();
    let topic = Topic::Violation(id.clone()).to_string();
    let publish = |items: Vec<Item>, rate: f64| {
        let (client, topic) = (client.clone(), topic.clone());
        let (payloads, bad, first_sent) = (payloads.clone(), bad.clone(), first_sent.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            for (n, item) in items.into_iter().enumerate() {
                if rate > 0.0 {
                    tokio::time::sleep_until(
                        (started + Duration::from_secs_f64(n as f64 / rate)).into(),
                    )
                    .await;
                }
                let payload = match item {
                    Item::Event(id) => {
                        if let Ok(mut first) = first_sent.lock() {
                            first.entry(id).or_insert_with(Instant::now);
                        }
                        payloads[&id].clone()
                    }
                    Item::Bad(n) => bad[n].clone(),
                };
                if client
                    .publish(&topic, QoS::AtLeastOnce, false, payload)
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    };
    let mut waiting: HashSet<EventId> = payloads.keys().copied().collect();
    publish(order, pace.rate);
    let mut last_ack = Instant::now();
    let mut acked_at = last_ack;
    while !waiting.is_empty() {
        if let Ok(polled) = tokio::time::timeout(Duration::from_millis(500), loop_.poll()).await
            && let Event::Incoming(Packet::Publish(p)) = polled?
        {
            last_ack = Instant::now();
            acked_at = last_ack;
            let ack = wire::decode_signed::<Ack>(&p.payload)?.verify_by(&[control])?;
            let first = first_sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            for id in ack.event_ids {
                if waiting.remove(&id)
                    && let Some(at) = first.get(&id)
                {
                    sent.ack_latency_s.push(at.elapsed().as_secs_f64());
                }
            }
        }
        // Nothing acknowledged for 3 s: what was published and not acknowledged goes again.
        if last_ack.elapsed() > Duration::from_secs(3) {
            let due: Vec<EventId> = first_sent
                .lock()
                .map(|f| {
                    waiting
                        .iter()
                        .filter(|id| f.contains_key(*id))
                        .copied()
                        .collect()
                })
                .unwrap_or_default();
            sent.republished += due.len();
            publish(due.into_iter().map(Item::Event).collect(), 0.0);
            last_ack = Instant::now();
        }
    }
    let first = first_sent
        .lock()
        .ok()
        .and_then(|f| f.values().min().copied());
    sent.span = first.map(|first| (first, acked_at));
    Ok(sent)
}

/// What a device publishes: one of its events, or one of its messages central must refuse.
#[derive(Debug, Clone, Copy)]
enum Item {
    Event(EventId),
    Bad(usize),
}

/// The `n`-th message central must refuse of a device, in turn: malformed JSON, an event
/// without its signature, an event signed by a key not the device's.
fn bad_payload(n: usize, device: &DeviceId, key: &DeviceKey) -> anyhow::Result<Vec<u8>> {
    let event = ViolationEvent::example(device.clone(), EventId::new());
    Ok(match n % 3 {
        0 => format!("{{\"schema\": \"tve.violation\", \"n\": {n}").into_bytes(),
        1 => {
            let mut value: serde_json::Value =
                serde_json::from_slice(&wire::encode_signed(&event, key)?)?;
            value
                .as_object_mut()
                .context("an event is an object")?
                .remove("signature");
            serde_json::to_vec(&value)?
        }
        _ => wire::encode_signed(&event, &DeviceKey::from_seed([0x5a; 32]))?,
    })
}

/// central-api running in this process.
#[allow(missing_debug_implementations)] // the running task and the database are not Debug
pub struct Central {
    pub db: TestDb,
    pub addr: std::net::SocketAddr,
    pub broker: (String, u16),
    /// The broker's own process, when the harness started one.
    _mosquitto: Option<Mosquitto>,
    /// The key its acknowledgements are signed with.
    pub control: protocol::DevicePublicKey,
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// Its evidence and its sealing key.
    _dir: tempfile::TempDir,
}

impl Central {
    /// Starts central on a fresh `engine` (`postgres` or `sqlite`) database and the broker:
    /// the tests' (`own_broker` false), or a Mosquitto of its own set up for ingest.
    pub async fn start(engine: &str, own_broker: bool) -> anyhow::Result<Self> {
        let mosquitto = own_broker.then(Mosquitto::start).transpose()?;
        let broker = match &mosquitto {
            Some(m) => ("127.0.0.1".to_owned(), m.port),
            None => mqtt()?,
        };
        let db = match engine {
            "postgres" => TestDb::postgres(&central_api::db::MIGRATIONS).await,
            "sqlite" => TestDb::sqlite(&central_api::db::MIGRATIONS).await,
            other => bail!("engine `{other}`: postgres or sqlite"),
        };
        let mut config = Config::default();
        config.http.bind = "127.0.0.1:0".parse()?;
        config.database = db.settings.clone();
        config.mqtt = MqttSettings {
            url: format!("mqtt://{}:{}", broker.0, broker.1),
            client_id: format!("load-central-{}", std::process::id()),
            shared_group: format!("load-{}", std::process::id()),
            ..MqttSettings::default()
        };
        let dir = tempfile::tempdir()?;
        config.evidence.dir = dir.path().join("evidence");
        config.evidence.key_file = dir.path().join("evidence.key");
        config.review.secrets_key_file = dir.path().join("secrets.key");
        config.mqtt.control_key_file = dir.path().join("control.key");
        config.audit.anchor_file = dir.path().join("audit-anchors.jsonl");
        let control = central_api::control::ControlKey::load(&config.mqtt.control_key_file, true)?
            .context("the control key")?
            .public_key();
        let app = central_api::build(config)
            .await
            .context("starting central-api")?;
        let addr = app.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            db,
            addr,
            broker,
            _mosquitto: mosquitto,
            control,
            stop,
            running,
            _dir: dir,
        })
    }

    /// Registers `n` devices with fresh keys.
    pub async fn fleet(&self, n: usize) -> anyhow::Result<Vec<(DeviceId, DeviceKey)>> {
        let mut fleet = Vec::new();
        for i in 0..n {
            let id = DeviceId::parse(format!("load-{}-{i}", std::process::id()))?;
            let key = DeviceKey::generate()?;
            devices::register(&self.db.db, &id, &key.public_key(), "load").await?;
            fleet.push((id, key));
        }
        Ok(fleet)
    }

    /// Every device of `fleet` sends `each` events at `pace`; returns what was sent.
    pub async fn load(
        &self,
        fleet: Vec<(DeviceId, DeviceKey)>,
        each: usize,
        pace: Pace,
    ) -> anyhow::Result<Sent> {
        let tasks: Vec<_> = fleet
            .into_iter()
            .map(|(id, key)| {
                tokio::spawn(device(
                    id,
                    key,
                    self.control,
                    each,
                    pace,
                    self.broker.clone(),
                ))
            })
            .collect();
        let mut total = Sent::default();
        for task in tasks {
            total.add(task.await??);
        }
        Ok(total)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.running.await??;
        self.db.finish().await;
        Ok(())
    }
}
