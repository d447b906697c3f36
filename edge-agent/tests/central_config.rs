//! Camera settings from central: the retained configuration on the device's config topic, signed
//! by central's control key, is applied to the running camera — the limits its rules judge by
//! and the site its evidence names change without a restart — and kept for the next start. One
//! signed by anyone else is not applied, whatever version it claims, and a kept file edited by
//! hand is not taken at the next start.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use protocol::{CameraSettings, DeviceConfig, Topic, UtcTimestamp, ViolationKind, wire};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sim::video::RtspServer;

/// Publishes `payload` retained on `topic` and waits for the broker to have it.
async fn retain(topic: &str, payload: Vec<u8>) {
    let (host, port) = protocol::topic::parse_broker_url(&common::mosquitto_url()).unwrap();
    let id = format!("central-config-test-{}", std::process::id());
    let (client, mut events) = AsyncClient::new(MqttOptions::new(id, host, port), 8);
    client
        .publish(topic, QoS::AtLeastOnce, true, payload)
        .await
        .unwrap();
    loop {
        if let Event::Incoming(Packet::PubAck(_)) = events.poll().await.unwrap() {
            break;
        }
    }
    let _ = client.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn central_settings_change_a_running_camera_and_are_kept() {
    let (video, geometry) = common::busy_stream();
    let server = RtspServer::start(
        "127.0.0.1:0".parse().unwrap(),
        vec![("cam".into(), video)],
        1.0,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let device = common::device_id("edge-config");
    let key = edge_agent::startup::device_key(&dir.path().join("device.key")).unwrap();
    let central = common::Central::start(&device, key.public_key()).await;
    let mut config =
        common::agent_config(dir.path(), &device, &common::mosquitto_url(), &central.url);
    let mut camera = common::camera("cam-1", server.url("cam"));
    camera.geometry = geometry.clone();
    camera.speed_limit_kmh = 200.0;
    camera.site.name = "Trạm thử".into();
    config.cameras = vec![camera.clone()];
    let agent = common::RunningAgent::start(config).await;

    // At 200 km/h nobody speeds.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(central.events().is_empty(), "{:?}", central.events());

    // Central lowers the limit and names the site.
    let settings = DeviceConfig {
        device: device.clone(),
        version: 1,
        issued_at: UtcTimestamp::now(),
        cameras: vec![CameraSettings {
            camera: camera.id.clone(),
            site: protocol::Site {
                name: "Cầu Sài Gòn".into(),
                ..camera.site.clone()
            },
            geometry: protocol::camera::CameraGeometry {
                // A stop line along the top of the picture: drawn where it was not before.
                stop_line: Some(protocol::camera::LineSpec {
                    a: [0.0, 4.0],
                    b: [7000.0, 4.0],
                    before: [100.0, 100.0],
                }),
                ..geometry
            },
            speed_limit_kmh: 10.0,
            speed_limits_kmh: Default::default(),
            red_grace_s: 0.5,
            signal_plan: None,
        }],
    };
    let topic = Topic::Config(device.clone()).to_string();
    // First a forgery: the highest version there is (it would lock the box out of every later
    // one), under a key of the forger's own.
    let forged = DeviceConfig {
        version: (1 << 53) - 1,
        ..settings.clone()
    };
    let forger = protocol::DeviceKey::from_seed([0x66; 32]);
    retain(&topic, wire::encode_signed(&forged, &forger).unwrap()).await;
    let mut status = serde_json::Value::Null;
    for _ in 0..100 {
        status = common::status(&agent.addr).await.unwrap();
        if status["control_refused"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["control_refused"], 1, "{status}");
    assert_eq!(
        status["config_version"], 0,
        "the forged settings are not applied"
    );
    retain(
        &topic,
        wire::encode_signed(&settings, &common::control_key()).unwrap(),
    )
    .await;
    let mut events = Vec::new();
    for _ in 0..300 {
        events = central.events();
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!events.is_empty(), "speeding reported under the new limit");
    for e in &events {
        assert_eq!(e.kind, ViolationKind::Speeding);
        assert_eq!(e.site.name, "Cầu Sài Gòn");
        assert_eq!(e.measurement.limit_kmh, Some(10.0));
    }
    let status = common::status(&agent.addr).await.unwrap();
    assert_eq!(status["config_version"], 1);
    // The box's own picture for setting it up draws the set-up in force: central's stop line.
    let jpeg = reqwest::get(format!("http://{}/cameras/cam-1/snapshot.jpg", agent.addr))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let drawn = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    let red = (0..drawn.width())
        .filter(|&x| {
            let [r, g, b] = drawn.get_pixel(x, 4).0;
            r > 180 && g < 120 && b < 120
        })
        .count();
    assert!(
        red as f64 > 0.9 * f64::from(drawn.width()),
        "{red} of {} pixels of the new stop line drawn",
        drawn.width()
    );
    agent.stop().await;
    retain(&topic, Vec::new()).await;

    // Kept as central signed it, and in force from the next start, before any broker is heard.
    let kept_path = dir.path().join("data/central-config.json");
    let kept = std::fs::read(&kept_path).unwrap();
    let read = wire::decode_signed::<DeviceConfig>(&kept)
        .unwrap()
        .verify_by(&[common::control_key().public_key()])
        .unwrap();
    assert_eq!(read, settings);
    let mut offline = common::agent_config(dir.path(), &device, "mqtt://127.0.0.1:9", &central.url);
    offline.cameras = vec![camera];
    let agent = common::RunningAgent::start(offline.clone()).await;
    let status = common::status(&agent.addr).await.unwrap();
    assert_eq!(status["config_version"], 1);
    agent.stop().await;

    // The kept file edited on the box (a higher limit): not taken; the box runs on its own
    // settings until central's come again.
    let edited = String::from_utf8(kept.clone())
        .unwrap()
        .replace("\"speed_limit_kmh\":10", "\"speed_limit_kmh\":90");
    assert_ne!(edited.as_bytes(), kept, "the limit is in the kept file");
    std::fs::write(&kept_path, edited).unwrap();
    let agent = common::RunningAgent::start(offline).await;
    let status = common::status(&agent.addr).await.unwrap();
    assert_eq!(status["config_version"], 0);
    agent.stop().await;
}
