//! Ingest load harness: signed events from simulated devices through Mosquitto into central-api
//! on PostgreSQL (or SQLite), counted until every one is acknowledged.
//!
//! `cargo run --release -p benches --bin ingest-load -- [EVENTS] [DEVICES] [sqlite]`
//!
//! Prints one summary line per figure; exits non-zero only on errors, never on a figure.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use central_api::{Config, config::MqttSettings, db::devices};
use protocol::{Ack, DeviceId, DeviceKey, EventId, Topic, ViolationEvent, wire};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use service_kit::db_testing::TestDb;

fn mqtt() -> anyhow::Result<(String, u16)> {
    let url = std::env::var("TVE_TEST_MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    central_api::ingest::mqtt::parse_broker_url(&url)
}

/// One device: publishes `events` signed events at QoS 1 and waits for every acknowledgement,
/// publishing again what stays unacknowledged for 3 s (as the edge outbox does: a broker may
/// drop what overflows a subscriber's queue, and only central's ack counts). Returns the
/// events and the republications.
async fn device(
    id: DeviceId,
    key: DeviceKey,
    events: usize,
    host: String,
    port: u16,
) -> anyhow::Result<(usize, usize)> {
    let mut options = MqttOptions::new(format!("load-{id}"), host, port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_inflight(100);
    let (client, mut loop_) = AsyncClient::new(options, 256);
    client
        .subscribe(Topic::Ack(id.clone()).to_string(), QoS::AtLeastOnce)
        .await?;
    let payloads: HashMap<EventId, Vec<u8>> = (0..events)
        .map(|_| {
            let e = ViolationEvent::example(id.clone(), EventId::new());
            wire::encode_signed(&e, &key).map(|p| (e.event_id, p))
        })
        .collect::<Result<_, _>>()?;
    let mut waiting: HashSet<EventId> = payloads.keys().copied().collect();
    let topic = Topic::Violation(id.clone()).to_string();
    let publish = |ids: Vec<EventId>| {
        let client = client.clone();
        let topic = topic.clone();
        let batch: Vec<Vec<u8>> = ids.iter().map(|id| payloads[id].clone()).collect();
        tokio::spawn(async move {
            for payload in batch {
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
    publish(waiting.iter().copied().collect());
    let mut republished = 0;
    while !waiting.is_empty() {
        match tokio::time::timeout(Duration::from_secs(3), loop_.poll()).await {
            Ok(polled) => {
                if let Event::Incoming(Packet::Publish(p)) = polled? {
                    for id in wire::decode::<Ack>(&p.payload)?.event_ids {
                        waiting.remove(&id);
                    }
                }
            }
            Err(_) => {
                republished += waiting.len();
                publish(waiting.iter().copied().collect());
            }
        }
    }
    Ok((events, republished))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init();
    let args: Vec<String> = std::env::args().collect();
    let events: usize = args.get(1).map(|a| a.parse()).transpose()?.unwrap_or(2000);
    let devices_n: usize = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(4);
    let engine = args.get(3).map(String::as_str).unwrap_or("postgres");
    let (host, port) = mqtt()?;
    let db = match engine {
        "postgres" => TestDb::postgres(&central_api::db::MIGRATIONS).await,
        "sqlite" => TestDb::sqlite(&central_api::db::MIGRATIONS).await,
        other => bail!("engine `{other}`: postgres or sqlite"),
    };
    let mut fleet = Vec::new();
    for n in 0..devices_n {
        let id = DeviceId::parse(format!("load-{}-{n}", std::process::id()))?;
        let key = DeviceKey::generate()?;
        devices::register(&db.db, &id, &key.public_key(), "load").await?;
        fleet.push((id, key));
    }
    let mut config = Config::default();
    config.http.bind = "127.0.0.1:0".parse()?;
    config.database = db.settings.clone();
    config.mqtt = MqttSettings {
        url: format!("mqtt://{host}:{port}"),
        client_id: format!("load-central-{}", std::process::id()),
        shared_group: format!("load-{}", std::process::id()),
        ..MqttSettings::default()
    };
    let app = central_api::build(config)
        .await
        .context("starting central-api")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));

    let per_device = events / devices_n;
    let started = Instant::now();
    let tasks: Vec<_> = fleet
        .into_iter()
        .map(|(id, key)| tokio::spawn(device(id, key, per_device, host.clone(), port)))
        .collect();
    let (mut acked, mut republished) = (0, 0);
    for task in tasks {
        let (events, again) = task.await??;
        acked += events;
        republished += again;
    }
    let elapsed = started.elapsed();
    let rate = acked as f64 / elapsed.as_secs_f64();
    println!(
        "ingest-load: {acked} events from {devices_n} devices through Mosquitto into {engine}, all acknowledged in {:.2} s: {rate:.0} events/s ({republished} republished after no ack)",
        elapsed.as_secs_f64()
    );
    let _ = stop.send(());
    running.await??;
    db.finish().await;
    Ok(())
}
