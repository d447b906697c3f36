//! The evidence uplink over HTTPS: central's certificate is checked — against the deployment's
//! own CA when `central.ca_file` names it — and an agent that does not trust the certificate
//! sends nothing and keeps everything until it can. A box whose clock is minutes off central's
//! still delivers its evidence, and says how far off it is.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use edge_agent::outbox::{NewFile, Outbox};
use protocol::{EventId, Sha256Digest, UtcTimestamp, ViolationEvent, wire};
use service_kit::tls::TestCa;

async fn status(agent: &common::RunningAgent) -> serde_json::Value {
    common::status(&agent.addr).await.unwrap()
}

/// Waits (at most 10 s) for the agent to upload `image` and let it go, checks that central
/// has it, and returns the agent's status.
async fn delivered(
    agent: &common::RunningAgent,
    central: &common::Central,
    sha: &Sha256Digest,
    image: &[u8],
) -> serde_json::Value {
    let mut s = serde_json::Value::Null;
    for _ in 0..200 {
        s = status(agent).await;
        if s["uploaded"] == 1 && s["outbox_bytes"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s["uploaded"], 1, "{s}");
    assert_eq!(s["outbox_bytes"], 0, "{s}");
    assert_eq!(
        central
            .blobs
            .lock()
            .unwrap()
            .get(&sha.to_hex())
            .map(Vec::as_slice),
        Some(image)
    );
    s
}

/// A violation and its image waiting in the outbox under `dir`, as a restarted agent finds
/// them: the image's digest and bytes.
async fn waiting_violation(
    dir: &std::path::Path,
    device: &protocol::DeviceId,
    key: &protocol::DeviceKey,
) -> (Sha256Digest, Vec<u8>) {
    let image = b"\xff\xd8 the image at the stop line".to_vec();
    let sha = Sha256Digest::of(&image);
    let mut event = ViolationEvent::example(device.clone(), EventId::new());
    event.evidence.truncate(1);
    event.evidence[0].name = "at.jpg".into();
    event.evidence[0].sha256 = sha;
    event.evidence[0].bytes = image.len() as u64;
    let outbox = Outbox::open(&dir.join("data/outbox"), Default::default())
        .await
        .unwrap();
    outbox
        .put(
            &event.event_id.to_string(),
            &wire::encode_signed(&event, key).unwrap(),
            &[NewFile {
                sha256: sha.to_hex(),
                name: "at.jpg".into(),
                content_type: "image/jpeg".into(),
                bytes: image.clone(),
            }],
            None,
            UtcTimestamp::now().unix_ms(),
        )
        .await
        .unwrap();
    outbox.close().await;
    (sha, image)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_goes_over_https_only_to_a_central_whose_certificate_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    std::fs::create_dir(&ca_dir).unwrap();
    let ca = TestCa::create(&ca_dir).unwrap();
    let device = common::device_id("edge-tls");
    let key = edge_agent::startup::device_key(&dir.path().join("device.key")).unwrap();
    let central = common::Central::start_with(
        &common::mosquitto_url(),
        &device,
        key.public_key(),
        Some(&ca),
    )
    .await;
    assert!(central.url.starts_with("https://"), "{}", central.url);

    // A violation and its image wait in the outbox, as a restarted agent finds them.
    let (sha, image) = waiting_violation(dir.path(), &device, &key).await;

    // Trusting only the system's roots, the agent refuses central's certificate: the event goes
    // over MQTT, the image stays at the edge.
    let mut config =
        common::agent_config(dir.path(), &device, &common::mosquitto_url(), &central.url);
    let agent = common::RunningAgent::start(config.clone()).await;
    let mut refused = serde_json::Value::Null;
    for _ in 0..200 {
        refused = status(&agent).await;
        if refused["acknowledged"] == 1 && refused["upload_errors"].as_u64() >= Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("untrusted: {refused}");
    assert_eq!(refused["acknowledged"], 1, "{refused}");
    assert!(refused["upload_errors"].as_u64() >= Some(2), "{refused}");
    assert_eq!(refused["uploaded"], 0);
    assert!(central.blobs.lock().unwrap().is_empty());
    agent.stop().await;

    // With the deployment's CA, the image goes over HTTPS and the outbox lets it go.
    config.central.ca_file = Some(ca.ca.clone());
    let agent = common::RunningAgent::start(config).await;
    let trusted = delivered(&agent, &central, &sha, &image).await;
    println!("trusted: {trusted}");
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_goes_up_from_a_box_whose_clock_is_minutes_off_centrals() {
    // Central's clock ten minutes ahead of the box's (a box whose RTC drifted, NTP out of
    // reach) and ten minutes behind (a bad step forward): twice the skew central allows an
    // upload's signed time either way.
    for offset_ms in [600_000_i64, -600_000] {
        let dir = tempfile::tempdir().unwrap();
        let device = common::device_id("edge-clock");
        let key = edge_agent::startup::device_key(&dir.path().join("device.key")).unwrap();
        let central = common::Central::start(&device, key.public_key()).await;
        central
            .clock_offset_ms
            .store(offset_ms, std::sync::atomic::Ordering::Relaxed);
        let (sha, image) = waiting_violation(dir.path(), &device, &key).await;

        let config =
            common::agent_config(dir.path(), &device, &common::mosquitto_url(), &central.url);
        let agent = common::RunningAgent::start(config).await;
        let s = delivered(&agent, &central, &sha, &image).await;
        println!("central {offset_ms} ms ahead: {s}");
        // The box says how far off it is, to the second the header gives.
        let seen = s["central_clock_offset_ms"].as_i64().unwrap();
        assert!(
            (seen - offset_ms).abs() <= 1_500,
            "{seen} against {offset_ms}"
        );
        agent.stop().await;
    }
}
