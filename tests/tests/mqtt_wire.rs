//! The wire contract through a real broker (Mosquitto on loopback): a signed violation event
//! published at QoS 1 arrives byte for byte and verifies; a device's last will is a valid
//! `offline` status. These tests need the broker `make deps` starts and fail when it is absent.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::Duration;

use protocol::{
    DeviceId, DeviceKey, DeviceState, DeviceStatus, EventId, Topic, ViolationEvent,
    topic::TopicKind, wire,
};
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, QoS};
use tokio::time::timeout;

fn options(client_id: &str) -> MqttOptions {
    let (host, port) = tests::mqtt_host_port().unwrap();
    let mut options = MqttOptions::new(client_id, host, port);
    options.set_keep_alive(Duration::from_secs(5));
    options
}

/// Polls until the broker acknowledges the subscription, failing loudly when it cannot connect.
async fn subscribed(client: &AsyncClient, events: &mut EventLoop, filter: &str) {
    client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    let wait = async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => return,
                Ok(_) => {}
                Err(e) => panic!(
                    "cannot reach the MQTT broker at {} (run `make deps`): {e}",
                    tests::mqtt_url()
                ),
            }
        }
    };
    timeout(Duration::from_secs(10), wait)
        .await
        .expect("subscription acknowledged");
}

async fn next_publish(events: &mut EventLoop) -> rumqttc::Publish {
    let wait = async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap() {
                return p;
            }
        }
    };
    timeout(Duration::from_secs(10), wait)
        .await
        .expect("a message arrives")
}

#[tokio::test]
async fn a_signed_violation_crosses_the_broker_and_verifies() {
    let device = DeviceId::parse(tests::unique("dev")).unwrap();
    let key = DeviceKey::generate().unwrap();
    let event = ViolationEvent::example(device.clone(), EventId::new());
    let topic = Topic::Violation(device.clone()).to_string();

    let (central, mut central_events) = AsyncClient::new(options(&tests::unique("central")), 16);
    subscribed(
        &central,
        &mut central_events,
        &TopicKind::Violation.filter_all(),
    )
    .await;

    let (edge, mut edge_events) = AsyncClient::new(options(&tests::unique("edge")), 16);
    let payload = wire::encode_signed(&event, &key).unwrap();
    edge.publish(&topic, QoS::AtLeastOnce, false, payload.clone())
        .await
        .unwrap();
    tokio::spawn(async move { while edge_events.poll().await.is_ok() {} });

    // Other tests may publish on the same filter: wait for this device's event.
    let received = loop {
        let p = next_publish(&mut central_events).await;
        if p.topic == topic {
            break p;
        }
    };
    assert_eq!(received.payload.as_ref(), payload.as_slice());
    let parsed = Topic::parse(&received.topic).unwrap();
    assert_eq!(parsed, Topic::Violation(device.clone()));
    let verified = wire::decode_signed::<ViolationEvent>(&received.payload)
        .unwrap()
        .verify_with(|d| (d == parsed.device()).then(|| key.public_key()))
        .unwrap();
    assert_eq!(verified, event);
}

#[tokio::test]
async fn a_dropped_device_leaves_an_offline_status() {
    let device = DeviceId::parse(tests::unique("dev")).unwrap();
    let topic = Topic::Status(device.clone()).to_string();

    let (watcher, mut watcher_events) = AsyncClient::new(options(&tests::unique("ops")), 16);
    subscribed(&watcher, &mut watcher_events, &topic).await;

    let key = DeviceKey::from_seed([3; 32]);
    let will = wire::encode_signed(
        &DeviceStatus::offline(device.clone(), protocol::UtcTimestamp::now()),
        &key,
    )
    .unwrap();
    let mut edge_options = options(&tests::unique("edge"));
    edge_options.set_keep_alive(Duration::from_secs(1));
    edge_options.set_last_will(LastWill::new(&topic, will, QoS::AtLeastOnce, false));
    let (_edge, mut edge_events) = AsyncClient::new(edge_options, 16);
    // Connect, then vanish without a DISCONNECT: the broker must publish the will.
    let connected = async {
        loop {
            if let Event::Incoming(Packet::ConnAck(_)) = edge_events.poll().await.unwrap() {
                return;
            }
        }
    };
    timeout(Duration::from_secs(10), connected)
        .await
        .expect("edge connects");
    drop(edge_events);

    let status = next_publish(&mut watcher_events).await;
    assert_eq!(status.topic, topic);
    let status = wire::decode_signed::<DeviceStatus>(&status.payload)
        .unwrap()
        .verify_with(|_| Some(key.public_key()))
        .unwrap();
    assert_eq!(status.device, device);
    assert_eq!(status.state, DeviceState::Offline);
}
