//! What the edge agent's tests stand up around it: a central stand-in that speaks the real
//! protocol (verifies each event's signature, acknowledges it on the ack topic, takes evidence
//! by signed content-addressed PUT) over Mosquitto and HTTP, and the sim's RTSP streams.
#![allow(dead_code, clippy::unwrap_used)]

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
    routing::put,
};
use edge_agent::outbox::{NewFile, writer::Entry};
use protocol::{
    Ack, DeviceId, DeviceKey, DevicePublicKey, Topic, UtcTimestamp, ViolationEvent,
    event::{EvidenceItem, Sha256Digest},
    evidence::UploadAuth,
    wire,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

/// The control key of the central stand-in, which signs its acknowledgements; every agent of
/// [`agent_config`] pins it.
pub fn control_key() -> protocol::DeviceKey {
    protocol::DeviceKey::from_seed([0x43; 32])
}

/// The Mosquitto this machine runs (the Makefile starts it).
pub fn mosquitto_url() -> String {
    std::env::var("TVE_TEST_MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into())
}

/// A unique device id per test run, so tests sharing the broker never see each other.
pub fn device_id(prefix: &str) -> DeviceId {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000;
    DeviceId::parse(format!("{prefix}-{n}")).unwrap()
}

#[derive(Clone)]
struct Http {
    key: DevicePublicKey,
    blobs: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    clock_offset_ms: Arc<AtomicI64>,
}

/// Takes a blob as central does, by its clock (this one's runs `clock_offset_ms` ahead of the
/// machine's), and dates the answer by it as central's HTTP server does.
async fn put_blob(
    State(http): State<Http>,
    Path(sha): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let now = UtcTimestamp::from_unix_ms(
        UtcTimestamp::now().unix_ms() + http.clock_offset_ms.load(Ordering::Relaxed),
    )
    .unwrap();
    let date = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + Duration::from_millis(now.unix_ms() as u64),
    );
    let status = 'status: {
        let Ok(digest) = Sha256Digest::parse(&sha) else {
            break 'status StatusCode::BAD_REQUEST;
        };
        let Ok(auth) = UploadAuth::from_headers(|n| headers.get(n).and_then(|v| v.to_str().ok()))
        else {
            break 'status StatusCode::UNAUTHORIZED;
        };
        if auth
            .verify(&http.key, &digest, now, Duration::from_secs(300))
            .is_err()
        {
            break 'status StatusCode::UNAUTHORIZED;
        }
        if Sha256Digest::of(&body) != digest {
            break 'status StatusCode::UNPROCESSABLE_ENTITY;
        }
        http.blobs.lock().unwrap().insert(sha, body.to_vec());
        StatusCode::CREATED
    };
    (status, [(header::DATE, date)])
}

/// The central stand-in.
pub struct Central {
    /// Every verified event as it arrived, repeats included.
    pub events: Arc<Mutex<Vec<ViolationEvent>>>,
    pub blobs: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    pub rejected: Arc<Mutex<Vec<String>>>,
    /// While false, events are taken but not acknowledged (central "down" after storing).
    pub acking: Arc<AtomicBool>,
    /// How far this central's clock is ahead of the machine's, ms (negative: behind).
    pub clock_offset_ms: Arc<AtomicI64>,
    pub url: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Central {
    pub async fn start(device: &DeviceId, key: DevicePublicKey) -> Self {
        Self::start_on(&mosquitto_url(), device, key).await
    }

    /// The stand-in on the broker at `broker` (`mqtt://HOST:PORT`).
    pub async fn start_on(broker: &str, device: &DeviceId, key: DevicePublicKey) -> Self {
        Self::start_with(broker, device, key, None).await
    }

    /// The stand-in serving HTTPS with the certificate `tls` signed (the server code central
    /// serves with), on the broker at `broker`.
    pub async fn start_with(
        broker: &str,
        device: &DeviceId,
        key: DevicePublicKey,
        tls: Option<&service_kit::tls::TestCa>,
    ) -> Self {
        let blobs = Arc::new(Mutex::new(HashMap::new()));
        let clock_offset_ms = Arc::new(AtomicI64::new(0));
        let router = Router::new()
            .route("/api/v1/evidence/{sha}", put(put_blob))
            .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
            .with_state(Http {
                key,
                blobs: blobs.clone(),
                clock_offset_ms: clock_offset_ms.clone(),
            });
        let mut settings = service_kit::http::HttpSettings::loopback(0);
        settings.tls_cert = tls.map(|ca| ca.cert.clone());
        settings.tls_key = tls.map(|ca| ca.key.clone());
        let listener = service_kit::http::Server::bind(&settings, router)
            .await
            .unwrap();
        let scheme = if settings.tls() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = listener.run_until(std::future::pending()).await;
        });
        let (host, port) = protocol::topic::parse_broker_url(broker).unwrap();
        let mut options = MqttOptions::new(format!("central-{device}"), host, port);
        options
            .set_keep_alive(Duration::from_secs(5))
            .set_clean_session(false)
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 256);
        let events = Arc::new(Mutex::new(Vec::new()));
        let rejected = Arc::new(Mutex::new(Vec::new()));
        let acking = Arc::new(AtomicBool::new(true));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let mqtt = {
            let (events, rejected, acking) = (events.clone(), rejected.clone(), acking.clone());
            let topic = Topic::Violation(device.clone()).to_string();
            let device = device.clone();
            tokio::spawn(async move {
                let mut ready = Some(ready_tx);
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            client.subscribe(&topic, QoS::AtLeastOnce).await.unwrap();
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            if let Some(r) = ready.take() {
                                let _ = r.send(());
                            }
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            let verified = wire::decode_signed::<ViolationEvent>(&p.payload)
                                .and_then(|s| s.verify(&key).map(|()| s.message));
                            match verified {
                                Ok(event) => {
                                    let id = event.event_id;
                                    events.lock().unwrap().push(event);
                                    if acking.load(Ordering::Relaxed) {
                                        let ack = Ack {
                                            device: device.clone(),
                                            event_ids: vec![id],
                                            stored_at: UtcTimestamp::now(),
                                        };
                                        let _ = client
                                            .publish(
                                                Topic::Ack(device.clone()).to_string(),
                                                QoS::AtLeastOnce,
                                                false,
                                                wire::encode_signed(&ack, &control_key()).unwrap(),
                                            )
                                            .await;
                                    }
                                }
                                Err(e) => rejected.lock().unwrap().push(e.to_string()),
                            }
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                }
            })
        };
        tokio::time::timeout(Duration::from_secs(20), ready_rx)
            .await
            .expect("central subscribed")
            .unwrap();
        Self {
            events,
            blobs,
            rejected,
            acking,
            clock_offset_ms,
            url,
            tasks: vec![server, mqtt],
        }
    }

    pub fn events(&self) -> Vec<ViolationEvent> {
        self.events.lock().unwrap().clone()
    }
}

impl Drop for Central {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A camera of the agent with the test defaults: TCP, automatic decoder, no geometry, no signal.
pub fn camera(id: &str, source: String) -> edge_agent::config::CameraConfig {
    edge_agent::config::CameraConfig {
        id: protocol::ids::CameraId::parse(id).unwrap(),
        source,
        role: Default::default(),
        plate_camera: None,
        transport: edge_agent::config::Transport::Tcp,
        decoder: "auto".into(),
        detect_fps: 8.0,
        stall_timeout_s: 2.0,
        site: protocol::Site {
            name: "Sim".into(),
            latitude: 10.8016,
            longitude: 106.7111,
            address: "Điện Biên Phủ, Bình Thạnh, TP. Hồ Chí Minh".into(),
            direction: "hướng Hàng Xanh".into(),
        },
        geometry: Default::default(),
        signal: edge_agent::config::SignalConfig::None,
        speed_limit_kmh: 50.0,
        speed_limits_kmh: Default::default(),
        red_grace_s: 0.5,
        signal_max_cycle_s: edge_agent::config::default_max_cycle(),
    }
}

/// The agent's `/status` on `addr`.
pub async fn status(addr: &str) -> Option<serde_json::Value> {
    let text = reqwest::get(format!("http://{addr}/status"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    serde_json::from_str(&text).ok()
}

/// Where the agent keeps its state, on `broker` and `central`, for a test in `dir`.
pub fn agent_config(
    dir: &std::path::Path,
    device: &DeviceId,
    broker: &str,
    central: &str,
) -> edge_agent::Config {
    let mut c = edge_agent::Config::default();
    c.http.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    c.device.id = device.to_string();
    c.device.key_path = dir.join("device.key");
    c.device.data_dir = dir.join("data");
    c.mqtt.url = broker.into();
    c.central.url = central.into();
    c.central.control_keys = vec![control_key().public_key().to_base64()];
    c.models.manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/manifest.toml").into();
    c.models.vehicle_detector = sim::setup::DETECTOR.into();
    c
}

/// An agent built from its configuration and running in this process.
pub struct RunningAgent {
    /// Its HTTP address, `host:port`.
    pub addr: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningAgent {
    pub async fn start(config: edge_agent::Config) -> Self {
        let app = edge_agent::build(config).await.unwrap();
        let addr = app.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self { addr, stop, task }
    }

    /// Stops it as SIGTERM would, and checks it stopped cleanly.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// A named scenario, shortened to `seconds` at `fps`, served as `rtsp://…/cam`.
pub fn serve_scenario(name: &str, fps: u32, seconds: f32, seed: u64) -> sim::video::RtspServer {
    let mut spec = sim::ScenarioSpec::named(name).unwrap();
    spec.fps = fps;
    spec.duration_s = seconds;
    let world = sim::World::simulate(&spec, seed);
    let encoded = sim::video::encode(&sim::Renderer::new(&world), &Default::default()).unwrap();
    sim::video::RtspServer::start(
        "127.0.0.1:0".parse().unwrap(),
        vec![("cam".into(), encoded)],
        1.0,
    )
    .unwrap()
}

/// The sim's `normal-flow` junction, 20 s at 15 frames/s (seed 3), encoded once, with its
/// calibrated geometry: with a low speed limit nearly every vehicle is a violation.
pub fn busy_stream() -> (sim::video::Encoded, protocol::camera::CameraGeometry) {
    let mut spec = sim::ScenarioSpec::named("normal-flow").unwrap();
    spec.fps = 15;
    spec.duration_s = 20.0;
    let world = sim::World::simulate(&spec, 3);
    let renderer = sim::Renderer::new(&world);
    let encoded = sim::video::encode(
        &renderer,
        &sim::video::EncodeOptions {
            keyframe_every: 15,
            bitrate_kbps: 2000,
            ..sim::video::EncodeOptions::default()
        },
    )
    .unwrap();
    (encoded, sim::setup::camera_geometry(&renderer))
}

/// Who an agent of [`agent_config`] takes control messages from: the central stand-in's key.
pub fn control_plane(device: &DeviceId) -> edge_agent::control::ControlPlane {
    edge_agent::control::ControlPlane::new(
        device.clone(),
        vec![control_key().public_key()],
        HashMap::new(),
    )
}

pub fn outbox_file(name: &str, bytes: Vec<u8>) -> NewFile {
    NewFile {
        sha256: Sha256Digest::of(&bytes).to_hex(),
        name: name.into(),
        content_type: if name.ends_with(".mp4") {
            "video/mp4".into()
        } else {
            "image/jpeg".into()
        },
        bytes,
    }
}

/// Violation `i`'s journal entry (before and at images) or complete event (with the after
/// image and the clip), signed as the agent signs them.
pub fn outbox_entry(key: &DeviceKey, event: &ViolationEvent, i: usize, complete: bool) -> Entry {
    let image = |what: &str| {
        let mut bytes = format!("{what} of violation {i} ").into_bytes();
        bytes.resize(20_000 + i * 7, b'x');
        bytes
    };
    let mut files = vec![
        outbox_file("before.jpg", image("before")),
        outbox_file("at.jpg", image("at")),
    ];
    if complete {
        files.push(outbox_file("after.jpg", image("after")));
        files.push(outbox_file("clip.mp4", image("clip").repeat(5)));
    }
    let mut event = event.clone();
    event.evidence = files
        .iter()
        .map(|f| EvidenceItem {
            name: f.name.clone(),
            sha256: Sha256Digest::parse(&f.sha256).unwrap(),
            bytes: f.bytes.len() as u64,
            content_type: f.content_type.clone(),
            captured_at: event.occurred_at,
            masking: None,
        })
        .collect();
    Entry {
        event_id: event.event_id.to_string(),
        payload: wire::encode_signed(&event, key).unwrap(),
        files,
        clip: complete.then(|| "clip.mp4".to_string()),
        provisional: !complete,
        created_ms: UtcTimestamp::now().unix_ms(),
    }
}

/// An outbox in `dir` that never counts the disk full.
pub async fn outbox(dir: &std::path::Path) -> edge_agent::outbox::Outbox {
    edge_agent::outbox::Outbox::open(
        &dir.join("outbox"),
        edge_agent::config::OutboxSettings {
            min_free_bytes: 0,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// The publisher as the agent runs it, alone: `device`'s outbox delivered over the test broker
/// to the central stand-in at `central_url`, acknowledgements taken under [`control_key`].
pub struct Publisher {
    pub counters: Arc<edge_agent::publish::DeliveryCounters>,
    /// Wakes it when an event is stored.
    pub wake: Arc<tokio::sync::Notify>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Publisher {
    /// Starts it, publishing an unacknowledged event again after `republish_after_s`, and waits
    /// up to 5 s for it to reach the broker.
    pub async fn start(
        device: &DeviceId,
        key: Arc<DeviceKey>,
        outbox: edge_agent::outbox::Outbox,
        central_url: &str,
        republish_after_s: u64,
    ) -> Self {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let (signals, _) = tokio::sync::mpsc::channel(16);
        let (configs, _) = tokio::sync::mpsc::channel(4);
        let wake = Arc::new(tokio::sync::Notify::new());
        let counters = Arc::new(edge_agent::publish::DeliveryCounters::default());
        let delivery = edge_agent::publish::Delivery {
            device: device.clone(),
            key,
            outbox,
            mqtt: edge_agent::config::MqttSettings {
                url: mosquitto_url(),
                republish_after_s,
                ..Default::default()
            },
            central: edge_agent::config::CentralSettings {
                url: central_url.into(),
                ..Default::default()
            },
            control: Arc::new(control_plane(device)),
            wake: wake.clone(),
            counters: counters.clone(),
        };
        let status = {
            let device = device.clone();
            Arc::new(move || protocol::DeviceStatus::offline(device.clone(), UtcTimestamp::now()))
        };
        let task = tokio::spawn(edge_agent::publish::run(
            delivery,
            status,
            (signals, configs),
            edge_agent::snapshot::Frames {
                cameras: Arc::new(|_: &protocol::CameraId| None),
                videos: Arc::new(|_: &protocol::CameraId| None),
                config_version: Arc::default(),
            },
            service_kit::http::Shutdown::from_watch(stop_rx),
        ));
        for _ in 0..200 {
            if counters.connected.load(Ordering::Relaxed) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Self {
            counters,
            wake,
            stop,
            task,
        }
    }

    /// Stops it as the agent's shutdown does, and checks it ended cleanly.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.await.unwrap().unwrap();
    }
}
