//! The central chain as separate processes, over loopback: a device publishes a signed violation
//! through Mosquitto, central-api stores it and finds the owner, an officer approves it through
//! the API, and the fine's notice reaches citizen-notify.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{process::Command, time::Duration};

use protocol::{Ack, DeviceId, DeviceKey, EventId, Topic, ViolationEvent, wire};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use tests::{Service, binary, eventually, unique};

const PASSWORD: &str = "mật khẩu của cán bộ 2025";
const SECRET: &str = "the secret central and notify share";

fn admin(central_env: &[(&str, &str)], dir: &std::path::Path, args: &[&str]) {
    let output = Command::new(binary("central-api").unwrap())
        .current_dir(dir)
        .args(args)
        .envs(central_env.iter().copied())
        .env("TVE_OFFICER_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "central-api {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Publishes `event` as `device` until central acknowledges it, as the edge outbox does (central
/// may not have subscribed yet when it first goes out).
fn publish_and_wait_for_ack(device: &DeviceId, key: &DeviceKey, event: &ViolationEvent) -> Ack {
    let (host, port) = tests::mqtt_host_port().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut options = MqttOptions::new(unique("edge"), host, port);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = AsyncClient::new(options, 16);
        client
            .subscribe(Topic::Ack(device.clone()).to_string(), QoS::AtLeastOnce)
            .await
            .unwrap();
        let payload = wire::encode_signed(event, key).unwrap();
        let topic = Topic::Violation(device.clone()).to_string();
        let mut subscribed = false;
        for _ in 0..30 {
            if subscribed {
                client
                    .publish(&topic, QoS::AtLeastOnce, false, payload.clone())
                    .await
                    .unwrap();
            }
            let wait = async {
                loop {
                    match events.poll().await.unwrap() {
                        Event::Incoming(Packet::SubAck(_)) => return None,
                        Event::Incoming(Packet::Publish(p)) => {
                            return Some(wire::decode::<Ack>(&p.payload).unwrap());
                        }
                        _ => {}
                    }
                }
            };
            match tokio::time::timeout(Duration::from_secs(1), wait).await {
                Ok(Some(ack)) => return ack,
                Ok(None) => subscribed = true,
                Err(_) => {}
            }
        }
        panic!("central did not acknowledge the event within 30 s")
    })
}

fn get_json(url: &str, token: &str) -> Value {
    let body = ureq::get(url)
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&body).unwrap()
}

fn post_json(url: &str, token: Option<&str>, body: &str) -> Value {
    let mut request = ureq::post(url).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    let text = request
        .send(body)
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_published_violation_is_approved_and_its_notice_reaches_citizen_notify() {
    let dir = std::env::temp_dir().join(unique("chain"));
    std::fs::create_dir_all(&dir).unwrap();
    let notify_db = format!("sqlite://{}/notify.db", dir.display());
    let notify = Service::start(
        "citizen-notify",
        &[],
        &[
            ("NOTIFY__HTTP__BIND", "127.0.0.1:0"),
            ("NOTIFY__DATABASE__URL", &notify_db),
            ("NOTIFY__INTAKE__SHARED_SECRET", SECRET),
        ],
        &dir,
    )
    .unwrap();

    let central_db = format!("sqlite://{}/central.db", dir.display());
    let client_id = unique("central");
    let group = unique("group");
    let notify_url = notify.url("");
    let mqtt_url = tests::mqtt_url();
    let central_env = [
        ("CENTRAL__HTTP__BIND", "127.0.0.1:0"),
        ("CENTRAL__DATABASE__URL", central_db.as_str()),
        ("CENTRAL__MQTT__URL", mqtt_url.as_str()),
        ("CENTRAL__MQTT__CLIENT_ID", client_id.as_str()),
        ("CENTRAL__MQTT__SHARED_GROUP", group.as_str()),
        ("CENTRAL__NOTIFY__URL", notify_url.as_str()),
        ("CENTRAL__NOTIFY__SHARED_SECRET", SECRET),
    ];
    let device = DeviceId::parse(unique("dev")).unwrap();
    let key = DeviceKey::generate().unwrap();
    admin(
        &central_env,
        &dir,
        &[
            "officer-add",
            "--username",
            "reviewer",
            "--full-name",
            "Trần Thị B",
            "--role",
            "reviewer",
        ],
    );
    admin(
        &central_env,
        &dir,
        &[
            "device-add",
            "--id",
            device.as_str(),
            "--public-key",
            &key.public_key().to_base64(),
        ],
    );
    admin(
        &central_env,
        &dir,
        &[
            "registry-add",
            "--plate",
            "51F-123.45",
            "--class",
            "car",
            "--citizen-id",
            "079203012345",
            "--full-name",
            "Nguyễn Văn An",
            "--address",
            "12 Võ Văn Tần, TP.HCM",
        ],
    );
    let central = Service::start("central-api", &[], &central_env, &dir).unwrap();

    let event = ViolationEvent::example(device.clone(), EventId::new());
    let ack = publish_and_wait_for_ack(&device, &key, &event);
    assert_eq!(ack.event_ids, [event.event_id]);

    let session = post_json(
        &central.url("/api/v1/session"),
        None,
        &format!(r#"{{"username":"reviewer","password":"{PASSWORD}"}}"#),
    );
    let token = session["token"].as_str().unwrap().to_owned();
    let id = event.event_id.to_string();
    eventually(20, "the violation reaches the review queue", || {
        let queue = get_json(&central.url("/api/v1/violations"), &token);
        queue["items"]
            .as_array()?
            .iter()
            .any(|i| i["event_id"] == id.as_str())
            .then_some(())
    })
    .unwrap();

    let approved = post_json(
        &central.url(&format!("/api/v1/violations/{id}/approve")),
        Some(&token),
        "{}",
    );
    assert_eq!(approved["fine"]["amount_vnd"], 19_000_000);

    let fine = eventually(30, "the notice reaches citizen-notify", || {
        let one = get_json(&central.url(&format!("/api/v1/violations/{id}")), &token);
        (one["fine"]["status"] == "notice_sent").then(|| one["fine"].clone())
    })
    .unwrap();
    assert!(
        fine["decision_number"]
            .as_str()
            .unwrap()
            .contains("/QĐ-XPVPHC/"),
        "{fine}"
    );

    assert_eq!(central.stop().unwrap().code(), Some(0));
    assert_eq!(notify.stop().unwrap().code(), Some(0));
    std::fs::remove_dir_all(dir).unwrap();
}
