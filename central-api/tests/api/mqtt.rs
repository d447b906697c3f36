//! The service as a whole over MQTT: a device publishes signed events, central stores them and
//! answers with acknowledgements on the device's ack topic; refused events are acknowledged
//! never; events published while central is down are ingested when it comes back. Against
//! Mosquitto (PostgreSQL and SQLite) and against the embedded broker.
//!
//! Long because each test runs the service against a real broker through a whole episode (an
//! outage, a restart, a flood of bad messages) and asserts at every step.

use std::time::Duration;

use central_api::{
    Config,
    config::MqttSettings,
    db::{Db, dead_letters, devices, violations},
};
use protocol::{
    Ack, CameraId, CameraState, CameraStatus, DeviceId, DeviceKey, DeviceState, DeviceStatus,
    EventId, Topic, ViolationEvent, wire,
};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use tokio::{sync::oneshot, task::JoinHandle, time::timeout};

use crate::helpers::{TestDb, on_both_engines};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", EventId::new().as_uuid().simple())
}

fn mosquitto() -> (String, u16) {
    let url = std::env::var("TVE_TEST_MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    central_api::ingest::mqtt::parse_broker_url(&url).unwrap()
}

/// The control key central signs its acknowledgements with in these tests.
fn control_key() -> DeviceKey {
    DeviceKey::from_seed([0x43; 32])
}

/// An acknowledgement as a device takes it: signed by central's control key.
fn verified_ack(payload: &[u8]) -> Ack {
    wire::decode_signed::<Ack>(payload)
        .unwrap()
        .verify_by(&[control_key().public_key()])
        .unwrap()
}

/// A running central-api and the means to stop it.
struct Central {
    stop: oneshot::Sender<()>,
    running: JoinHandle<anyhow::Result<()>>,
    /// Its evidence and its sealing key.
    _dir: tempfile::TempDir,
}

impl Central {
    async fn start(database: &TestDb, mqtt: MqttSettings) -> Self {
        let mut config = Config::default();
        config.http.bind = "127.0.0.1:0".parse().unwrap();
        config.database = database.settings.clone();
        config.mqtt = mqtt;
        let dir = tempfile::tempdir().unwrap();
        config.evidence.dir = dir.path().join("evidence");
        config.evidence.key_file = dir.path().join("evidence.key");
        config.review.secrets_key_file = dir.path().join("secrets.key");
        config.mqtt.control_key_file = dir.path().join("control.key");
        config.audit.anchor_file = dir.path().join("audit-anchors.jsonl");
        service_kit::secret_file::create(
            &config.mqtt.control_key_file,
            &control_key().to_base64_secret(),
        )
        .unwrap();
        let app = central_api::build(config).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            stop,
            running,
            _dir: dir,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.running.await.unwrap().unwrap();
    }
}

/// A device: its key registered with central, and an MQTT client subscribed to its ack topic.
struct Device {
    id: DeviceId,
    key: DeviceKey,
    client: AsyncClient,
    events: EventLoop,
}

impl Device {
    async fn connect(db: &Db, host: &str, port: u16) -> Self {
        Self::connect_with(db, MqttOptions::new(unique("edge"), host, port)).await
    }

    async fn connect_with(db: &Db, mut options: MqttOptions) -> Self {
        let id = DeviceId::parse(unique("dev")).unwrap();
        let key = DeviceKey::generate().unwrap();
        devices::register(db, &id, &key.public_key(), "test")
            .await
            .unwrap();
        let (host, port) = options.broker_address();
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = AsyncClient::new(options, 16);
        client
            .subscribe(Topic::Ack(id.clone()).to_string(), QoS::AtLeastOnce)
            .await
            .unwrap();
        let mut last_error = None;
        let subscribed = async {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => return,
                    Ok(_) => {}
                    // A broker that has just started may not listen yet: a device tries again,
                    // as the edge agent does.
                    Err(e) => {
                        last_error = Some(e.to_string());
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        };
        if timeout(Duration::from_secs(10), subscribed).await.is_err() {
            panic!(
                "cannot reach the MQTT broker at {host}:{port}: {}",
                last_error.unwrap_or_else(|| "no answer".into())
            );
        }
        Self {
            id,
            key,
            client,
            events,
        }
    }

    fn event(&self) -> ViolationEvent {
        ViolationEvent::example_now(self.id.clone(), EventId::new())
    }

    async fn publish(&mut self, payload: Vec<u8>) {
        let topic = Topic::Violation(self.id.clone()).to_string();
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }

    /// Publishes `event` signed with the device key.
    async fn send(&mut self, event: &ViolationEvent) {
        let payload = wire::encode_signed(event, &self.key).unwrap();
        self.publish(payload).await;
    }

    /// Sends `event` until central acknowledges it, as the edge outbox does: an event published
    /// before central's subscription is in place reaches no one, and only central's ack counts.
    async fn send_until_acked(&mut self, event: &ViolationEvent) -> Ack {
        let payload = wire::encode_signed(event, &self.key).unwrap();
        for _ in 0..20 {
            self.publish(payload.clone()).await;
            let wait = async {
                loop {
                    if let Event::Incoming(Packet::Publish(p)) = self.events.poll().await.unwrap() {
                        return verified_ack(&p.payload);
                    }
                }
            };
            if let Ok(ack) = timeout(Duration::from_secs(1), wait).await {
                return ack;
            }
        }
        panic!("central did not acknowledge {} within 20 s", event.event_id)
    }

    /// The next acknowledgement central sends this device.
    async fn next_ack(&mut self) -> Ack {
        let wait = async {
            loop {
                if let Event::Incoming(Packet::Publish(p)) = self.events.poll().await.unwrap() {
                    return verified_ack(&p.payload);
                }
            }
        };
        timeout(Duration::from_secs(20), wait)
            .await
            .expect("central acknowledges within 20 s")
    }
}

fn external(host: &str, port: u16) -> MqttSettings {
    MqttSettings {
        url: format!("mqtt://{host}:{port}"),
        client_id: unique("central"),
        shared_group: unique("group"),
        ..MqttSettings::default()
    }
}

async fn events_are_acknowledged_once_stored_and_refusals_never(t: &TestDb) {
    let (host, port) = mosquitto();
    let central = Central::start(t, external(&host, port)).await;
    let mut device = Device::connect(&t.db, &host, port).await;

    let event = device.event();
    let payload = wire::encode_signed(&event, &device.key).unwrap();
    let ack = device.send_until_acked(&event).await;
    assert_eq!(ack.device, device.id);
    assert_eq!(ack.event_ids, [event.event_id]);
    let stored = violations::get(&t.db, &event.event_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.payload, payload);

    // The same event again (a device that missed the ack): acknowledged again, stored once.
    device.publish(payload).await;
    assert_eq!(device.next_ack().await.event_ids, [event.event_id]);

    // A forged event gets no acknowledgement; the next valid one does, so the forged one was
    // handled (in order) and refused.
    let forged = wire::encode_signed(&device.event(), &DeviceKey::from_seed([66; 32])).unwrap();
    device.publish(forged).await;
    let next = device.event();
    device.send(&next).await;
    assert_eq!(device.next_ack().await.event_ids, [next.event_id]);
    let letters = dead_letters::recent(&t.db, 50).await.unwrap();
    assert!(
        letters.iter().any(|l| l.reason_code == "bad_signature"
            && l.device_id.as_deref() == Some(device.id.as_str())),
        "{letters:?}"
    );
    assert!(
        violations::get(&t.db, &next.event_id)
            .await
            .unwrap()
            .is_some()
    );
    central.stop().await;
}

async fn events_published_while_central_is_down_arrive_when_it_returns(t: &TestDb) {
    let (host, port) = mosquitto();
    let settings = external(&host, port);
    // The first run establishes the persistent session and its subscription.
    let central = Central::start(t, settings.clone()).await;
    let mut device = Device::connect(&t.db, &host, port).await;
    let warm = device.event();
    assert_eq!(
        device.send_until_acked(&warm).await.event_ids,
        [warm.event_id]
    );
    central.stop().await;

    let queued = device.event();
    device.send(&queued).await;
    // Let the publish reach the broker before central returns.
    let delivered = async {
        loop {
            if let Event::Incoming(Packet::PubAck(_)) = device.events.poll().await.unwrap() {
                return;
            }
        }
    };
    timeout(Duration::from_secs(10), delivered).await.unwrap();

    let central = Central::start(t, settings).await;
    assert_eq!(device.next_ack().await.event_ids, [queued.event_id]);
    assert!(
        violations::get(&t.db, &queued.event_id)
            .await
            .unwrap()
            .is_some()
    );
    central.stop().await;
}

/// A burst larger than any channel between the MQTT event loop and ingest: every event must be
/// acknowledged (a poller that waits on a full channel stops the acknowledgements that would
/// empty it).
async fn a_burst_of_events_is_all_acknowledged(t: &TestDb) {
    let (host, port) = mosquitto();
    let central = Central::start(t, external(&host, port)).await;
    let mut device = Device::connect(&t.db, &host, port).await;
    let first = device.event();
    device.send_until_acked(&first).await;
    let events: Vec<ViolationEvent> = (0..300).map(|_| device.event()).collect();
    // Publish from a task while this one polls the device's event loop for the acks.
    let (client, topic) = (
        device.client.clone(),
        Topic::Violation(device.id.clone()).to_string(),
    );
    let payloads: Vec<Vec<u8>> = events
        .iter()
        .map(|e| wire::encode_signed(e, &device.key).unwrap())
        .collect();
    tokio::spawn(async move {
        for payload in payloads {
            client
                .publish(&topic, QoS::AtLeastOnce, false, payload)
                .await
                .unwrap();
        }
    });
    let mut waiting: std::collections::HashSet<EventId> =
        events.iter().map(|e| e.event_id).collect();
    while !waiting.is_empty() {
        for id in device.next_ack().await.event_ids {
            waiting.remove(&id);
        }
    }
    assert_eq!(violations::count(&t.db).await.unwrap(), 301);
    central.stop().await;
}

/// A message larger than any event, on a broker that lets it through (Mosquitto has no size
/// limit unless configured): a dead letter, and ingest goes on. Central used to refuse to read
/// the packet, which closed its connection; the broker then delivered the same message again
/// to the persistent session at every reconnection, and nothing behind it was ever ingested.
async fn an_oversized_message_is_a_dead_letter_and_ingest_goes_on(t: &TestDb) {
    let (host, port) = mosquitto();
    let central = Central::start(t, external(&host, port)).await;
    let mut options = MqttOptions::new(unique("edge"), host.as_str(), port);
    options.set_max_packet_size(2 << 20, 2 << 20);
    let mut device = Device::connect_with(&t.db, options).await;
    let first = device.event();
    device.send_until_acked(&first).await;

    let oversized = vec![b'{'; 1 << 20];
    device.publish(oversized.clone()).await;
    let next = device.event();
    device.send(&next).await;
    assert_eq!(device.next_ack().await.event_ids, [next.event_id]);
    let letters = dead_letters::recent(&t.db, 10).await.unwrap();
    let letter = letters
        .iter()
        .find(|l| l.reason_code == "oversized")
        .unwrap_or_else(|| panic!("no dead letter for the oversized message: {letters:?}"));
    assert_eq!(letter.payload_bytes, oversized.len() as i64);
    assert_eq!(violations::count(&t.db).await.unwrap(), 2);
    central.stop().await;
}

async fn device_statuses_are_recorded_as_they_come(t: &TestDb) {
    let (host, port) = mosquitto();
    let central = Central::start(t, external(&host, port)).await;
    let Device {
        id,
        key,
        client,
        mut events,
    } = Device::connect(&t.db, &host, port).await;
    let drive = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let status = |state| DeviceStatus {
        device: id.clone(),
        state,
        at: Some(protocol::UtcTimestamp::now()),
        software_version: Some("0.1.0".into()),
        cameras: vec![CameraStatus {
            camera: CameraId::parse("north").unwrap(),
            state: CameraState::Streaming,
            detect_fps: 5.0,
            signal_fault: None,
        }],
        outbox_depth: Some(3),
    };
    let recorded = |want: &'static str| {
        let (db, id) = (t.db.clone(), id.clone());
        async move {
            devices::health(&db)
                .await
                .unwrap()
                .into_iter()
                .find(|d| d.device_id == id.as_str())
                .filter(|d| d.state.as_deref() == Some(want))
        }
    };
    let topic = Topic::Status(id.clone()).to_string();
    // Heartbeats, as the edge agent sends them, until central has one (a retained status is
    // not replayed to a shared subscription made after it); then the broker's last will.
    for (state, want) in [
        (DeviceState::Online, "online"),
        (DeviceState::Offline, "offline"),
    ] {
        let mut seen = None;
        for _ in 0..100 {
            let payload = if state == DeviceState::Offline {
                let will = DeviceStatus::offline(id.clone(), protocol::UtcTimestamp::now());
                wire::encode_signed(&will, &key).unwrap()
            } else {
                wire::encode_signed(&status(state), &key).unwrap()
            };
            client
                .publish(&topic, QoS::AtLeastOnce, true, payload)
                .await
                .unwrap();
            if let Some(d) = recorded(want).await {
                seen = Some(d);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let seen = seen.unwrap_or_else(|| panic!("central records `{want}` within 20 s"));
        if want == "online" {
            assert_eq!(seen.outbox_depth, Some(3));
            assert_eq!(seen.cameras[0].detect_fps, 5.0);
        }
    }
    // An empty retained message removes the status from the broker.
    client
        .publish(&topic, QoS::AtLeastOnce, true, Vec::new())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drive.abort();
    central.stop().await;
}

/// A Mosquitto of the test's own that takes only TLS (a certificate from a CA made here) and
/// only known usernames with their passwords: `central` and `device`.
struct SecureBroker {
    child: std::process::Child,
    port: u16,
    ca: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for SecureBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(dir: &std::path::Path, program: &str, args: &[&str]) {
    let out = std::process::Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn secure_broker() -> SecureBroker {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = service_kit::tls::TestCa::create(d).unwrap();
    run(
        d,
        "mosquitto_passwd",
        &["-b", "-c", "passwd", "central", "central-secret"],
    );
    run(
        d,
        "mosquitto_passwd",
        &["-b", "passwd", "device", "device-secret"],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = |f: &str| d.join(f).display().to_string();
    std::fs::write(
        d.join("mosquitto.conf"),
        format!(
            "user root\npersistence false\nlistener {port} 127.0.0.1\ncafile {}\ncertfile {}\n\
             keyfile {}\nallow_anonymous false\npassword_file {}\n",
            ca.ca.display(),
            ca.cert.display(),
            ca.key.display(),
            p("passwd")
        ),
    )
    .unwrap();
    let log = std::fs::File::create(d.join("mosquitto.log")).unwrap();
    let child = std::process::Command::new("mosquitto")
        .args(["-c", &p("mosquitto.conf")])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("mosquitto (make deps installs it)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    SecureBroker {
        child,
        port,
        ca: ca.ca,
        _dir: dir,
    }
}

/// Whether a client with `options` is let in: its first answer from the broker.
async fn let_in(mut options: MqttOptions) -> Result<(), String> {
    options.set_keep_alive(Duration::from_secs(5));
    let (_client, mut events) = AsyncClient::new(options, 4);
    let first = async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    timeout(Duration::from_secs(10), first)
        .await
        .unwrap_or(Err("no answer".into()))
}

async fn a_broker_over_tls_with_passwords(t: &TestDb) {
    let broker = secure_broker();
    let url = format!("mqtts://127.0.0.1:{}", broker.port);
    let options = |user: Option<(&str, &str)>, ca: Option<&std::path::Path>| {
        service_kit::mqtt::client_options(&unique("c"), &url, user, ca).unwrap()
    };
    // The broker is what it should be: no password, no entry; an untrusted certificate, no
    // connection.
    assert!(
        let_in(options(Some(("device", "device-secret")), Some(&broker.ca)))
            .await
            .is_ok()
    );
    let refused = let_in(options(None, Some(&broker.ca))).await;
    assert!(refused.is_err(), "an anonymous client was let in");
    let untrusted = let_in(options(Some(("device", "device-secret")), None)).await;
    assert!(
        untrusted.is_err(),
        "a client not trusting the test CA connected"
    );

    let settings = MqttSettings {
        url: url.clone(),
        username: Some("central".into()),
        password: Some("central-secret".into()),
        ca_file: Some(broker.ca.clone()),
        ..external("127.0.0.1", broker.port)
    };
    let central = Central::start(t, settings).await;
    let mut device = Device::connect_with(
        &t.db,
        options(Some(("device", "device-secret")), Some(&broker.ca)),
    )
    .await;
    let event = device.event();
    let ack = device.send_until_acked(&event).await;
    assert_eq!(ack.event_ids, [event.event_id]);
    central.stop().await;
}

/// The configuration a new subscriber to `device`'s config topic gets first: the retained one,
/// or the one central publishes next.
async fn retained_config(host: &str, port: u16, device: &DeviceId) -> protocol::DeviceConfig {
    let (client, mut events) = AsyncClient::new(MqttOptions::new(unique("reader"), host, port), 16);
    client
        .subscribe(Topic::Config(device.clone()).to_string(), QoS::AtLeastOnce)
        .await
        .unwrap();
    let wait = async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap()
                && !p.payload.is_empty()
            {
                // Signed by central, as the device verifies it.
                return wire::decode_signed::<protocol::DeviceConfig>(&p.payload)
                    .unwrap()
                    .verify_by(&[control_key().public_key()])
                    .unwrap();
            }
        }
    };
    let config = timeout(Duration::from_secs(20), wait)
        .await
        .expect("a retained configuration within 20 s");
    let _ = client.disconnect().await;
    config
}

async fn camera_settings_go_out_retained_and_again_after_a_reconnection(t: &TestDb) {
    use central_api::db::cameras;
    let (host, port) = mosquitto();
    let settings = external(&host, port);
    let central = Central::start(t, settings.clone()).await;
    let device = Device::connect(&t.db, &host, port).await;
    let camera = |id: &str, limit: f64| protocol::CameraSettings {
        camera: CameraId::parse(id).unwrap(),
        site: protocol::event::Site {
            name: "Ngã tư Hàng Xanh".into(),
            latitude: 10.8013,
            longitude: 106.7115,
            address: "Xô Viết Nghệ Tĩnh, Bình Thạnh".into(),
            direction: "hướng Điện Biên Phủ".into(),
        },
        geometry: Default::default(),
        speed_limit_kmh: limit,
        speed_limits_kmh: Default::default(),
        red_grace_s: 0.5,
        signal_plan: None,
    };
    cameras::save(
        &t.db,
        &central_api::audit::AuditLog::new(t.db.clone()),
        &device.id,
        &camera("cam-1", 50.0),
        "officer:admin",
    )
    .await
    .unwrap()
    .unwrap();
    let first = retained_config(&host, port, &device.id).await;
    assert_eq!(first.cameras.len(), 1);
    let saved = cameras::save(
        &t.db,
        &central_api::audit::AuditLog::new(t.db.clone()),
        &device.id,
        &camera("cam-2", 60.0),
        "officer:admin",
    )
    .await
    .unwrap()
    .unwrap();
    assert!(saved.version > first.version);
    let mut second = retained_config(&host, port, &device.id).await;
    for _ in 0..50 {
        if second.version == saved.version {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        second = retained_config(&host, port, &device.id).await;
    }
    assert_eq!(second.version, saved.version);
    let limits: Vec<f64> = second.cameras.iter().map(|c| c.speed_limit_kmh).collect();
    assert_eq!(limits, [50.0, 60.0]);

    // The broker forgets it (as one without persistence does when restarted); central's next
    // connection puts it back.
    let (cleaner, mut cleaner_events) =
        AsyncClient::new(MqttOptions::new(unique("cleaner"), &host, port), 16);
    cleaner
        .publish(
            Topic::Config(device.id.clone()).to_string(),
            QoS::AtLeastOnce,
            true,
            Vec::<u8>::new(),
        )
        .await
        .unwrap();
    loop {
        if let Event::Incoming(Packet::PubAck(_)) = cleaner_events.poll().await.unwrap() {
            break;
        }
    }
    central.stop().await;
    let central = Central::start(t, settings).await;
    assert_eq!(retained_config(&host, port, &device.id).await, second);
    central.stop().await;
}

async fn a_cameras_picture_is_asked_signed_and_its_answer_taken(t: &TestDb) {
    use central_api::db::{cameras, snapshots};
    use protocol::snapshot::{Snapshot, SnapshotRequest};
    let (host, port) = mosquitto();
    let central = Central::start(t, external(&host, port)).await;
    let device = Device::connect(&t.db, &host, port).await;
    let audit = central_api::audit::AuditLog::new(t.db.clone());
    let camera = CameraId::parse("cam-1").unwrap();
    let settings = crate::helpers::camera_settings("cam-1");
    cameras::save(&t.db, &audit, &device.id, &settings, "officer:admin")
        .await
        .unwrap()
        .unwrap();
    // The box listens on its request topic, as the edge agent does.
    let (listener, mut heard) = AsyncClient::new(MqttOptions::new(unique("box"), &host, port), 16);
    listener
        .subscribe(
            Topic::SnapshotRequest(device.id.clone()).to_string(),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = heard.poll().await.unwrap() {
            break;
        }
    }
    let asked = central_api::admin::ask_snapshot(
        &t.db,
        &audit,
        "officer:admin",
        (device.id.as_str(), "cam-1"),
        central_api::db::snapshots::Asked::picture(protocol::snapshot::SnapshotView::Frame),
    )
    .await
    .unwrap();
    let payload = timeout(Duration::from_secs(20), async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = heard.poll().await.unwrap() {
                return p.payload.to_vec();
            }
        }
    })
    .await
    .expect("the request published within 20 s");
    let request = wire::decode_signed::<SnapshotRequest>(&payload)
        .unwrap()
        .verify_by(&[control_key().public_key()])
        .expect("signed by central's control key");
    assert_eq!(request, asked);

    let jpeg = b"\xff\xd8 the junction".to_vec();
    let answer = Snapshot {
        request_id: request.request_id.clone(),
        device: device.id.clone(),
        camera,
        taken_at: protocol::UtcTimestamp::now(),
        width: 1920,
        height: 1080,
        sha256: protocol::Sha256Digest::of(&jpeg),
        bytes: jpeg.len() as u64,
        seq: 0,
        judged: None,
        duration_ms: 0,
    };
    device
        .client
        .publish(
            Topic::Snapshot(device.id.clone()).to_string(),
            QoS::AtLeastOnce,
            false,
            wire::encode_signed(&answer, &device.key).unwrap(),
        )
        .await
        .unwrap();
    let mut device = device;
    let taken = timeout(Duration::from_secs(20), async {
        loop {
            tokio::select! {
                _ = device.events.poll() => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    let row = snapshots::get(&t.db, &request.request_id).await.unwrap().unwrap();
                    if row.taken_at.is_some() {
                        return row;
                    }
                }
            }
        }
    })
    .await
    .expect("the answer taken within 20 s");
    assert_eq!(taken.sha256, Some(answer.sha256.to_hex()));
    assert_eq!((taken.width, taken.height), (Some(1920), Some(1080)));
    let _ = listener.disconnect().await;
    central.stop().await;
}

on_both_engines!(
    a_cameras_picture_is_asked_signed_and_its_answer_taken,
    camera_settings_go_out_retained_and_again_after_a_reconnection,
    a_broker_over_tls_with_passwords,
    device_statuses_are_recorded_as_they_come,
    a_burst_of_events_is_all_acknowledged,
    an_oversized_message_is_a_dead_letter_and_ingest_goes_on,
    events_are_acknowledged_once_stored_and_refusals_never,
    events_published_while_central_is_down_arrive_when_it_returns,
);

#[tokio::test]
async fn the_embedded_broker_serves_devices_when_none_is_configured() {
    let t = crate::helpers::sqlite().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = MqttSettings {
        url: String::new(),
        embedded_bind: format!("127.0.0.1:{port}").parse().unwrap(),
        ..MqttSettings::default()
    };
    let central = Central::start(&t, settings).await;
    let mut device = Device::connect(&t.db, "127.0.0.1", port).await;
    let event = device.event();
    assert_eq!(
        device.send_until_acked(&event).await.event_ids,
        [event.event_id]
    );
    // The owner-lookup task of the running service moves it into the review queue.
    let queued = async {
        loop {
            let v = violations::get(&t.db, &event.event_id).await.unwrap();
            if v.is_some_and(|v| v.status == violations::Status::PendingReview) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    timeout(Duration::from_secs(10), queued)
        .await
        .expect("the violation reaches the review queue");
    central.stop().await;
    t.finish().await;
}
