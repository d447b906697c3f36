//! The edge deletes an event from its outbox only on an acknowledgement central's control key
//! signed. Whoever can publish on the device's ack topic — a forged acknowledgement, or an
//! unsigned one as the first version of the wire contract took — deletes nothing: the event
//! waits, is published again, and leaves only when central acknowledges it.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use edge_agent::outbox::{
    Stored,
    writer::{Outcome, RetryPolicy, Writer, WriterCounters},
};
use protocol::{Ack, DeviceKey, EventId, Topic, UtcTimestamp, ViolationEvent, wire};
use rumqttc::{AsyncClient, MqttOptions, QoS};

/// Waits up to `seconds` for `check`.
async fn until(seconds: u64, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} within {seconds} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_acknowledgement_central_signed_releases_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let device = common::device_id("edge-forged-ack");
    let key = Arc::new(edge_agent::startup::device_key(&dir.path().join("device.key")).unwrap());
    let central = common::Central::start(&device, key.public_key()).await;
    // Central takes the event but says nothing yet.
    central.acking.store(false, Ordering::Relaxed);
    let outbox = common::outbox(dir.path()).await;
    let event = ViolationEvent::example(device.clone(), EventId::new());
    let mut writer = Writer::new(
        outbox.clone(),
        RetryPolicy::default(),
        Arc::new(WriterCounters::default()),
    );
    assert_eq!(
        writer
            .store(common::outbox_entry(&key, &event, 1, true))
            .await,
        Outcome::Stored(Stored::Kept)
    );

    let publisher =
        common::Publisher::start(&device, key.clone(), outbox.clone(), &central.url, 1).await;
    let counters = publisher.counters.clone();
    until(20, "central has the event", async || {
        central
            .events()
            .iter()
            .any(|e| e.event_id == event.event_id)
    })
    .await;

    // Someone else on the broker acknowledges it: with a key of their own, and unsigned.
    let (host, port) = protocol::topic::parse_broker_url(&common::mosquitto_url()).unwrap();
    let mut options = MqttOptions::new(format!("forger-{device}"), host, port);
    options.set_max_packet_size(2 << 20, 2 << 20);
    let (forger, mut events) = AsyncClient::new(options, 16);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let ack = Ack {
        device: device.clone(),
        event_ids: vec![event.event_id],
        stored_at: UtcTimestamp::now(),
    };
    let topic = Topic::Ack(device.clone()).to_string();
    // And a message larger than anything central sends, which once stalled the session: the
    // client would not read it, and the broker delivered it again at every reconnection.
    for payload in [
        wire::encode_signed(&ack, &DeviceKey::from_seed([66; 32])).unwrap(),
        wire::encode(&ack).unwrap(),
        vec![b'{'; 1 << 20],
    ] {
        forger
            .publish(&topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
    until(
        10,
        "the forged acknowledgements and the oversized one refused",
        async || counters.control_refused.load(Ordering::Relaxed) >= 3,
    )
    .await;
    assert_eq!(outbox.depth().await.unwrap(), 1, "the event is still held");
    assert_eq!(counters.acked.load(Ordering::Relaxed), 0);

    // Central's own acknowledgement of the event, published again, releases it.
    central.acking.store(true, Ordering::Relaxed);
    until(
        20,
        "the outbox empties on central's acknowledgement",
        async || outbox.depth().await.unwrap() == 0,
    )
    .await;
    assert_eq!(counters.acked.load(Ordering::Relaxed), 1);
    publisher.stop().await;
}

/// Anything a broker could deliver on the control topics is refused without a panic, and
/// counted; none of it is taken.
#[test]
fn arbitrary_control_payloads_are_refused() {
    let device = protocol::DeviceId::parse("hcm-q1-001").unwrap();
    let plane = common::control_plane(&device);
    let camera = protocol::CameraId::parse("north").unwrap();
    let genuine = wire::encode_signed(
        &Ack {
            device: device.clone(),
            event_ids: vec![EventId::new()],
            stored_at: UtcTimestamp::now(),
        },
        &common::control_key(),
    )
    .unwrap();
    assert!(plane.ack(&genuine).is_ok());
    for bad in [
        Vec::new(),
        b"{".to_vec(),
        b"null".to_vec(),
        genuine[..genuine.len() - 3].to_vec(),
        [&genuine[..], b" "].concat(),
    ] {
        assert!(plane.ack(&bad).is_err());
        assert!(plane.config(&bad).is_err());
        assert!(plane.signal(&camera, &bad, UtcTimestamp::now()).is_err());
    }
    // A flipped byte anywhere in a signed acknowledgement.
    for i in 0..genuine.len() {
        let mut flipped = genuine.clone();
        flipped[i] ^= 0x01;
        assert!(plane.ack(&flipped).is_err(), "byte {i} flipped was taken");
    }
}
