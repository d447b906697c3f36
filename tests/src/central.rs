//! central-api as the tests drive it: its environment on PostgreSQL or SQLite, its command
//! line, a device registered and seeded, events published until acknowledged, evidence uploaded.

use std::{path::Path, process::Command};

use anyhow::bail;
use protocol::{Ack, DeviceId, DeviceKey, Topic, ViolationEvent, wire};

use crate::*;

/// Runs one administrative command of central-api (`officer-add`, `device-add`,
/// `registry-add`, …) on the database `central_env` names, in `dir` (where central runs);
/// officers get [`OFFICER_PASSWORD`]. Returns what it printed.
pub fn central_admin(central_env: &[(&str, &str)], dir: &Path, args: &[&str]) -> String {
    let output = Command::new(binary("central-api").unwrap_or_else(|e| panic!("{e:#}")))
        .current_dir(dir)
        .args(args)
        .envs(central_env.iter().copied())
        .env("TVE_OFFICER_PASSWORD", OFFICER_PASSWORD)
        .output()
        .unwrap_or_else(|e| panic!("running central-api {args:?}: {e}"));
    assert!(
        output.status.success(),
        "central-api {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The public half of the control key of central run in `dir` with `central_env` (made now
/// when it has none yet), as an installer pins it on a device.
pub fn central_control_key(central_env: &[(&str, &str)], dir: &Path) -> protocol::DevicePublicKey {
    let printed = central_admin(central_env, dir, &["control-key"]);
    protocol::DevicePublicKey::from_base64(printed.trim())
        .unwrap_or_else(|e| panic!("central-api control-key printed {printed:?}: {e}"))
}

/// Seeds central's database the way an operator would before start-up: the officers `reviewer`
/// (Trần Thị Bình), `supervisor` (Lê Văn Cường) and `chief` (Phạm Minh Đức, with sanctioning
/// authority), the device with a new key, and the white plate 51F-123.45 registered to
/// Nguyễn Văn An (079203012345). Returns the device's key.
pub fn seed_central(central_env: &[(&str, &str)], dir: &Path, device: &DeviceId) -> DeviceKey {
    let key = DeviceKey::generate().unwrap_or_else(|e| panic!("device key: {e}"));
    seed_central_for(central_env, dir, device, &key.public_key().to_base64());
    key
}

/// [`seed_central`] for a device whose key is elsewhere (an edge agent's), by its public key.
pub fn seed_central_for(
    central_env: &[(&str, &str)],
    dir: &Path,
    device: &DeviceId,
    public_key: &str,
) {
    let admin = |args: &[&str]| central_admin(central_env, dir, args);
    admin(&[
        "officer-add",
        "--username",
        "reviewer",
        "--full-name",
        "Trần Thị Bình",
        "--role",
        "reviewer",
    ]);
    for (username, name, role) in [
        ("supervisor", "Lê Văn Cường", "supervisor"),
        ("chief", "Phạm Minh Đức", "sanctioning"),
    ] {
        admin(&[
            "officer-add",
            "--username",
            username,
            "--full-name",
            name,
            "--role",
            role,
        ]);
    }
    admin(&[
        "device-add",
        "--id",
        device.as_str(),
        "--public-key",
        public_key,
        "--name",
        "Ngã tư Hàng Xanh",
    ]);
    admin(&[
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
        "12 Võ Văn Tần, Phường Xuân Hòa, TP.HCM",
    ]);
}

/// Uploads `bytes` of content type `ct` to central as `device`'s evidence, signed with its
/// `key`, as the edge does.
pub fn upload_evidence(
    central: &Service,
    device: &DeviceId,
    key: &DeviceKey,
    bytes: &[u8],
    ct: &str,
) {
    let sha = protocol::Sha256Digest::of(bytes);
    let auth = protocol::evidence::UploadAuth::sign(
        key,
        device.clone(),
        &sha,
        protocol::UtcTimestamp::now(),
    );
    let mut request =
        ureq::put(&central.url(&protocol::evidence::path(&sha))).header("content-type", ct);
    for (name, value) in auth.headers() {
        request = request.header(name, &value);
    }
    request
        .send(bytes)
        .unwrap_or_else(|e| panic!("uploading evidence {sha}: {e}"));
}

/// Publishes `event` as `device` through the test broker until central acknowledges it, as the
/// edge outbox does (central may not have subscribed yet when it first goes out), and verifies
/// the acknowledgement with central's `control_key` ([`central_control_key`]).
pub fn publish_until_acked(
    device: &DeviceId,
    key: &DeviceKey,
    control_key: &protocol::DevicePublicKey,
    event: &ViolationEvent,
) -> anyhow::Result<Ack> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    use std::time::Duration;
    let (host, port) = mqtt_host_port()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let mut options = MqttOptions::new(unique("edge"), host, port);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = AsyncClient::new(options, 16);
        client
            .subscribe(Topic::Ack(device.clone()).to_string(), QoS::AtLeastOnce)
            .await?;
        let payload = wire::encode_signed(event, key)?;
        let topic = Topic::Violation(device.clone()).to_string();
        let mut subscribed = false;
        for _ in 0..30 {
            if subscribed {
                client
                    .publish(&topic, QoS::AtLeastOnce, false, payload.clone())
                    .await?;
            }
            let wait = async {
                loop {
                    match events.poll().await? {
                        Event::Incoming(Packet::SubAck(_)) => return Ok(None),
                        Event::Incoming(Packet::Publish(p)) => {
                            // Verified as the edge does, with central's control key.
                            let ack = wire::decode_signed::<Ack>(&p.payload)?
                                .verify_by(std::slice::from_ref(control_key))?;
                            return Ok::<_, anyhow::Error>(Some(ack));
                        }
                        _ => {}
                    }
                }
            };
            match tokio::time::timeout(Duration::from_secs(1), wait).await {
                Ok(Ok(Some(ack))) => return Ok(ack),
                Ok(Ok(None)) => subscribed = true,
                Ok(Err(e)) => return Err(e),
                Err(_) => {}
            }
        }
        bail!("central did not acknowledge the event within 30 s")
    })
}

/// The environment of a central-api on `db`, the broker at `mqtt`, serving on `port`, its
/// evidence under `dir`: the group and client id its own, so several runs share a broker.
pub fn central_env(db: &Database, mqtt: &str, port: u16, dir: &Path) -> Vec<(String, String)> {
    [
        ("CENTRAL__HTTP__BIND", format!("127.0.0.1:{port}")),
        ("CENTRAL__DATABASE__URL", db.url.clone()),
        ("CENTRAL__MQTT__URL", mqtt.to_owned()),
        ("CENTRAL__MQTT__CLIENT_ID", unique("central")),
        ("CENTRAL__MQTT__SHARED_GROUP", unique("group")),
        (
            "CENTRAL__EVIDENCE__DIR",
            dir.join("evidence").display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The environment of a central-api process of its own under `dir`: SQLite and its evidence
/// there, any free port, the test broker with a client id and a shared group of its own.
pub fn sqlite_central_env(dir: &Path) -> Vec<(String, String)> {
    [
        ("CENTRAL__HTTP__BIND", "127.0.0.1:0".to_owned()),
        (
            "CENTRAL__DATABASE__URL",
            format!("sqlite://{}/central.db", dir.display()),
        ),
        (
            "CENTRAL__EVIDENCE__DIR",
            dir.join("evidence").display().to_string(),
        ),
        ("CENTRAL__MQTT__URL", mqtt_url()),
        ("CENTRAL__MQTT__CLIENT_ID", unique("central")),
        ("CENTRAL__MQTT__SHARED_GROUP", unique("group")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
