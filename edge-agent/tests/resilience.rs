//! Nothing accepted is lost: the agent binary killed with SIGKILL at random moments while
//! violations are in flight, the broker killed and restarted, the camera server stopped and
//! restarted. Every violation the agent journaled or stored reaches central (exactly once by
//! event id) — those killed while waiting for their "after" image too, with the images they
//! had — the outbox is never corrupt, and the stream comes back within seconds of the server.
//!
//! The camera is the sim's `normal-flow` scenario with a 10 km/h limit, so nearly every
//! vehicle is a speeding violation: events are always in flight.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    collections::{BTreeSet, HashMap},
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use edge_agent::{
    config::{CameraConfig, Config},
    outbox::Outbox,
};
use protocol::DeviceId;
use sim::video::RtspServer;

/// The two tests run one after the other: each loads the machine as one roadside box would.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(
    dir: &Path,
    device: &DeviceId,
    source: String,
    geometry: protocol::camera::CameraGeometry,
    broker: &str,
    central: &str,
    http_port: u16,
) -> Config {
    let mut c = common::agent_config(dir, device, broker, central);
    c.http.bind = SocketAddr::from(([127, 0, 0, 1], http_port));
    c.mqtt.republish_after_s = 3;
    c.mqtt.status_every_s = 2;
    c.central.timeout_ms = 5000;
    c.evidence.clip_before_s = 2.0;
    c.evidence.clip_after_s = 1.5;
    c.evidence.image_offset_s = 0.5;
    c.cameras = vec![CameraConfig {
        geometry,
        // Nearly every vehicle is a violation: events are always in flight.
        speed_limit_kmh: 10.0,
        ..common::camera("cam-1", source)
    }];
    c
}

/// The agent binary, its log lines kept.
struct Agent {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Agent {
    fn spawn(config_path: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_edge-agent"))
            .arg("--config")
            .arg(config_path)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Self { child, lines }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Event ids the agent logged with `message` ("violation stored", "violation journaled").
    fn logged(&self, message: &str) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(message))
            .filter_map(|l| {
                let at = l.find("event=")? + "event=".len();
                Some(l[at..].split_whitespace().next()?.to_owned())
            })
            .collect()
    }

    fn log_tail(&self) -> String {
        let lines = self.lines.lock().unwrap();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn status(port: u16) -> Option<serde_json::Value> {
    common::status(&format!("127.0.0.1:{port}")).await
}

/// Waits until the agent's outbox is empty: everything stored has been acknowledged.
async fn drained(port: u16, within: Duration) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if let Some(s) = status(port).await
            && s["outbox_depth"] == 0
            && s["broker_connected"] == true
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    false
}

async fn outbox_is_sound(data: &Path) {
    let outbox = Outbox::open(&data.join("outbox"), Default::default())
        .await
        .unwrap();
    let problems = outbox.verify().await.unwrap();
    assert!(problems.is_empty(), "outbox problems: {problems:?}");
    outbox.close().await;
}

/// The events an outbox holds for central (a provisional one counts: it goes out at the next
/// start).
async fn held(data: &Path) -> BTreeSet<String> {
    let outbox = Outbox::open(&data.join("outbox"), Default::default())
        .await
        .unwrap();
    let ids = outbox
        .pending(100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.event_id)
        .collect();
    outbox.close().await;
    ids
}

fn received(central: &common::Central) -> (BTreeSet<String>, usize) {
    let events = central.events();
    let unique: BTreeSet<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    (unique, events.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_twenty_times_the_agent_delivers_every_stored_event_once() {
    let _serial = SERIAL.lock().await;
    let (encoded, geometry) = common::busy_stream();
    let server = RtspServer::start(
        "127.0.0.1:0".parse().unwrap(),
        vec![("cam".into(), encoded)],
        1.0,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let device = common::device_id("edge-kill");
    let key = edge_agent::startup::device_key(&dir.path().join("device.key")).unwrap();
    let central = common::Central::start(&device, key.public_key()).await;
    let port = free_port();
    let config = config(
        dir.path(),
        &device,
        server.url("cam"),
        geometry,
        &common::mosquitto_url(),
        &central.url,
        port,
    );
    let config_path = dir.path().join("edge.toml");
    std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();

    let mut stored = Vec::new();
    let mut journaled = Vec::new();
    let mut seen = Vec::new();
    // A fixed sequence of "random" moments: 1.5 to 6.5 s after start.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..20 {
        let mut agent = Agent::spawn(&config_path);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let wait = 1.5 + (x % 5000) as f64 / 1000.0;
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        agent.kill();
        let ids = agent.logged("violation stored");
        let kept = agent.logged("violation journaled");
        println!(
            "round {round}: killed after {wait:.1} s, {} journaled, {} stored",
            kept.len(),
            ids.len()
        );
        stored.extend(ids);
        journaled.extend(kept);
        seen.extend(agent.logged("violation seen"));
        outbox_is_sound(&dir.path().join("data")).await;
    }
    // The last run: everything left in the outbox goes out. It goes on seeing violations
    // until it is stopped; those it has not delivered by then stay in its outbox.
    let mut agent = Agent::spawn(&config_path);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        drained(port, Duration::from_secs(90)).await,
        "outbox drained; log:\n{}",
        agent.log_tail()
    );
    agent.kill();
    stored.extend(agent.logged("violation stored"));
    journaled.extend(agent.logged("violation journaled"));
    seen.extend(agent.logged("violation seen"));
    let held = held(&dir.path().join("data")).await;
    let (got, deliveries) = received(&central);
    let stored: BTreeSet<String> = stored.into_iter().collect();
    let kept: BTreeSet<String> = journaled.into_iter().chain(stored.clone()).collect();
    let missing: Vec<&String> = kept
        .iter()
        .filter(|id| !got.contains(*id) && !held.contains(*id))
        .collect();
    // Killed while waiting for the "after" image: delivered from the journal, without it.
    let from_journal = central
        .events()
        .iter()
        .filter(|e| kept.contains(&e.event_id.to_string()))
        .filter(|e| !e.evidence.iter().any(|i| i.name == "after.jpg"))
        .map(|e| e.event_id)
        .collect::<BTreeSet<_>>()
        .len();
    // Seen but killed before the journal's write committed (the evidence stage's few
    // milliseconds of plate reading and JPEG encoding).
    let unjournaled = seen.iter().filter(|id| !kept.contains(*id)).count();
    println!(
        "kill -9 ×20: {} violations seen, {} journaled or stored ({} stored complete, {from_journal} delivered from the journal), {unjournaled} killed before their journal entry; {} received ({} deliveries, duplicates discarded by id), {} seen by the last run still in its outbox, {} missing",
        seen.len(),
        kept.len(),
        stored.len(),
        got.len(),
        deliveries,
        held.len(),
        missing.len()
    );
    assert!(stored.len() >= 5, "violations were in flight");
    assert!(missing.is_empty(), "lost: {missing:?}");
    assert!(
        from_journal > 0,
        "some violation was killed while it waited, and came through the journal"
    );
    assert!(central.rejected.lock().unwrap().is_empty());
    outbox_is_sound(&dir.path().join("data")).await;
}

/// A private Mosquitto on `port` (the system one is shared with other tests).
fn mosquitto(port: u16) -> Child {
    Command::new("mosquitto")
        .args(["-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto is installed (make deps)")
}

async fn wait_port(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("port {port} never opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_and_camera_outages_lose_nothing_and_the_stream_comes_back() {
    let _serial = SERIAL.lock().await;
    let (encoded, geometry) = common::busy_stream();
    let server = RtspServer::start(
        "127.0.0.1:0".parse().unwrap(),
        vec![("cam".into(), encoded.clone())],
        1.0,
    )
    .unwrap();
    let rtsp_addr = server.addr();
    let broker_port = free_port();
    let mut broker = mosquitto(broker_port);
    wait_port(broker_port).await;
    let broker_url = format!("mqtt://127.0.0.1:{broker_port}");
    let dir = tempfile::tempdir().unwrap();
    let device = common::device_id("edge-outage");
    let key = edge_agent::startup::device_key(&dir.path().join("device.key")).unwrap();
    let central = common::Central::start_on(&broker_url, &device, key.public_key()).await;
    let port = free_port();
    let config = config(
        dir.path(),
        &device,
        server.url("cam"),
        geometry,
        &broker_url,
        &central.url,
        port,
    );
    let config_path = dir.path().join("edge.toml");
    std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
    let agent = Agent::spawn(&config_path);
    tokio::time::sleep(Duration::from_secs(6)).await;

    // The broker dies; violations keep coming and wait in the outbox.
    broker.kill().unwrap();
    broker.wait().unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let during = status(port).await.unwrap();
    println!("broker down: {during}");
    assert_eq!(during["broker_connected"], false);
    broker = mosquitto(broker_port);
    wait_port(broker_port).await;
    assert!(
        drained(port, Duration::from_secs(60)).await,
        "drained after the broker came back; log:\n{}",
        agent.log_tail()
    );

    // The camera server goes away and comes back on the same address.
    drop(server);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let down = status(port).await.unwrap();
    let frames_before = down["cameras"][0]["frames"].as_u64().unwrap();
    println!("camera down: {}", down["cameras"][0]);
    assert_ne!(down["cameras"][0]["state"], "streaming");
    let server = RtspServer::start(rtsp_addr, vec![("cam".into(), encoded)], 1.0).unwrap();
    let back_at = Instant::now();
    let mut back_after = None;
    while back_at.elapsed() < Duration::from_secs(15) {
        if let Some(s) = status(port).await
            && s["cameras"][0]["state"] == "streaming"
            && s["cameras"][0]["frames"].as_u64().unwrap_or(0) > frames_before
        {
            back_after = Some(back_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let back_after = back_after.expect("the stream came back");
    println!(
        "stream back {:.2} s after the server",
        back_after.as_secs_f64()
    );
    assert!(back_after < Duration::from_secs(5));
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(drained(port, Duration::from_secs(60)).await);

    let stored: BTreeSet<String> = agent.logged("violation stored").into_iter().collect();
    let (got, deliveries) = received(&central);
    let missing: Vec<&String> = stored.difference(&got).collect();
    let reconnects: HashMap<&str, u64> = HashMap::from([(
        "camera",
        status(port).await.unwrap()["cameras"][0]["reconnects"]
            .as_u64()
            .unwrap(),
    )]);
    println!(
        "outages: {} stored, {} received ({deliveries} deliveries), {} missing, {reconnects:?}",
        stored.len(),
        got.len(),
        missing.len()
    );
    assert!(stored.len() >= 3, "violations were in flight");
    assert!(missing.is_empty(), "lost: {missing:?}");
    drop(agent);
    drop(server);
    let _ = broker.kill();
    let _ = broker.wait();
}
