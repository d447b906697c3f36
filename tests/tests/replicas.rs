//! Two central-api replicas as processes, in one shared group on one PostgreSQL, fed by devices
//! through a Mosquitto of the test's own; one replica is killed (SIGKILL) while events are in
//! flight to both. The devices publish again what stays unacknowledged, as the edge's outbox
//! does: every event is stored exactly once, and the audit chain both replicas appended to,
//! batch by batch, holds.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{
    collections::{HashMap, HashSet},
    process::Command,
    time::{Duration, Instant},
};

use protocol::{Ack, DeviceId, DeviceKey, DevicePublicKey, EventId, Topic, ViolationEvent, wire};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tests::{
    Database, Mosquitto, Service, central_admin, central_control_key, central_env, env_refs,
    free_port, seed_central, unique,
};

const DEVICES: usize = 4;
const EVENTS_EACH: usize = 150;
/// Events a second each device offers.
const RATE: f64 = 100.0;

#[test]
fn a_replica_killed_under_load_loses_no_event_and_stores_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = Database::create("tve_replicas");
    let broker = Mosquitto::start().unwrap();
    let mqtt = broker.url();
    let group = unique("group");
    let replica_env = |name: &str| {
        let mut env = central_env(&db, &mqtt, free_port().unwrap(), dir);
        for (key, value) in &mut env {
            match key.as_str() {
                "CENTRAL__MQTT__CLIENT_ID" => *value = unique(name),
                "CENTRAL__MQTT__SHARED_GROUP" => value.clone_from(&group),
                _ => {}
            }
        }
        env
    };
    // Both run in one folder: the same control key, evidence key and evidence.
    let (env_a, env_b) = (replica_env("replica-a"), replica_env("replica-b"));
    let first = DeviceId::parse(unique("box")).unwrap();
    let mut devices = vec![(first.clone(), seed_central(&env_refs(&env_a), dir, &first))];
    for _ in 1..DEVICES {
        let id = DeviceId::parse(unique("box")).unwrap();
        let key = DeviceKey::generate().unwrap();
        central_admin(
            &env_refs(&env_a),
            dir,
            &[
                "device-add",
                "--id",
                id.as_str(),
                "--public-key",
                &key.public_key().to_base64(),
                "--name",
                "Ngã tư Hàng Xanh",
            ],
        );
        devices.push((id, key));
    }
    let control = central_control_key(&env_refs(&env_a), dir);
    let mut replica_a = Service::start("central-api", &[], &env_refs(&env_a), dir).unwrap();
    let replica_b = Service::start("central-api", &[], &env_refs(&env_b), dir).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (host, port) = protocol::topic::parse_broker_url(&mqtt).unwrap();
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let loads: Vec<_> = devices
        .into_iter()
        .map(|(id, key)| {
            runtime.spawn(device(
                id,
                key,
                control,
                (host.clone(), port),
                acked.clone(),
            ))
        })
        .collect();
    // Killed once a third is acknowledged: the rest is in flight or not yet sent.
    let started = Instant::now();
    while acked.load(std::sync::atomic::Ordering::Relaxed) < DEVICES * EVENTS_EACH / 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "a third of the events was not acknowledged within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let stored_by_a = replica_a.logged("violation stored", "event_id").len();
    assert!(stored_by_a > 0, "replica A took no part in the load");
    replica_a.child.kill().unwrap();
    replica_a.child.wait().unwrap();
    let at_kill = acked.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        at_kill < DEVICES * EVENTS_EACH,
        "the load was over before the kill"
    );
    let mut republished = 0;
    for load in loads {
        republished += runtime.block_on(load).unwrap();
    }

    // The table's key holds one row an event whatever happens; an event stored twice — by both
    // replicas, or again after the kill — would show as a second `violation.received` entry.
    let rows = count(&db, "SELECT count(*) FROM violations")[0];
    assert_eq!(rows, (DEVICES * EVENTS_EACH) as i64, "every event stored");
    let entries = count(
        &db,
        "SELECT count(*), count(DISTINCT subject) FROM audit_log WHERE action = 'violation.received'",
    );
    assert_eq!(entries, [rows, rows], "stored once: one entry an event");
    let stored_by_b = replica_b.logged("violation stored", "event_id").len();
    assert!(stored_by_b > 0, "replica B took no part in the load");
    let token = replica_b.token_of("supervisor").unwrap();
    let check = replica_b.get_json("/api/v1/audit/verify", &token).unwrap();
    assert_eq!(check["ok"], true, "{check}");
    eprintln!(
        "{} events, {at_kill} acknowledged when replica A was killed, {republished} published again; stored by A {stored_by_a}, by B {stored_by_b}",
        DEVICES * EVENTS_EACH
    );
    replica_b.stop().unwrap();
}

/// The counts a query returns, in order.
fn count(db: &Database, sql: &str) -> Vec<i64> {
    let out = Command::new("psql")
        .args([&db.url, "-tA", "-F", " ", "-c", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}");
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace()
        .map(|n| n.parse::<i64>().unwrap())
        .collect()
}

/// A device: publishes its events at [`RATE`], counts each acknowledgement (verified with
/// central's control key) into `acked`, and publishes again what stays unacknowledged for 2 s,
/// as the edge's outbox does, until all are acknowledged. Returns how many it published again.
async fn device(
    id: DeviceId,
    key: DeviceKey,
    control: DevicePublicKey,
    (host, port): (String, u16),
    acked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> usize {
    let mut options = MqttOptions::new(unique("edge"), host, port);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(options, 256);
    client
        .subscribe(Topic::Ack(id.clone()).to_string(), QoS::AtLeastOnce)
        .await
        .unwrap();
    let payloads: HashMap<EventId, Vec<u8>> = (0..EVENTS_EACH)
        .map(|_| {
            let event = ViolationEvent::example_now(id.clone(), EventId::new());
            (event.event_id, wire::encode_signed(&event, &key).unwrap())
        })
        .collect();
    let topic = Topic::Violation(id.clone()).to_string();
    let order: Vec<Vec<u8>> = payloads.values().cloned().collect();
    let (publisher, publish_topic) = (client.clone(), topic.clone());
    tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        for (n, payload) in order.into_iter().enumerate() {
            tokio::time::sleep_until(started + Duration::from_secs_f64(n as f64 / RATE)).await;
            publisher
                .publish(&publish_topic, QoS::AtLeastOnce, false, payload)
                .await
                .unwrap();
        }
    });
    let mut waiting: HashSet<EventId> = payloads.keys().copied().collect();
    let mut republished = 0;
    let mut last_ack = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !waiting.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} events of {id} unacknowledged after 120 s",
            waiting.len()
        );
        if let Ok(polled) = tokio::time::timeout(Duration::from_millis(200), events.poll()).await
            && let Event::Incoming(Packet::Publish(p)) = polled.unwrap()
        {
            let ack: Ack = wire::decode_signed::<Ack>(&p.payload)
                .unwrap()
                .verify_by(&[control])
                .unwrap();
            for event_id in ack.event_ids {
                if waiting.remove(&event_id) {
                    acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    last_ack = Instant::now();
                }
            }
        }
        if last_ack.elapsed() > Duration::from_secs(2) {
            for event_id in &waiting {
                client
                    .publish(&topic, QoS::AtLeastOnce, false, payloads[event_id].clone())
                    .await
                    .unwrap();
                republished += 1;
            }
            last_ack = Instant::now();
        }
    }
    republished
}
