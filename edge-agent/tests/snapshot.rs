//! A picture for central, through the broker only: central's signed request on the device's
//! snapshot request topic is answered with the camera's current frame, named in a snapshot
//! signed by the device and uploaded through the evidence upload; a clip asked for is the
//! camera's own video as an MP4. A request signed by anyone else, or one that waited past its
//! expiry, gets no picture.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use protocol::{
    CameraId, DeviceKey, Sha256Digest, Topic, UtcTimestamp,
    snapshot::{Snapshot, SnapshotRequest, SnapshotView},
    wire,
};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use sim::video::RtspServer;

/// A client of the broker subscribed to `topic`.
async fn subscribed(topic: &str) -> (AsyncClient, EventLoop) {
    let (host, port) = protocol::topic::parse_broker_url(&common::mosquitto_url()).unwrap();
    let id = format!("snapshot-test-{}", std::process::id());
    let mut options = MqttOptions::new(id, host, port);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = AsyncClient::new(options, 16);
    client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = events.poll().await.unwrap() {
            return (client, events);
        }
    }
}

/// The next message on the subscription within `wait`, polling the client meanwhile.
async fn next_message(events: &mut EventLoop, wait: Duration) -> Option<Vec<u8>> {
    tokio::time::timeout(wait, async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap() {
                return p.payload.to_vec();
            }
        }
    })
    .await
    .ok()
}

/// The next picture the box sends within 20 s, its signature checked against `key`.
async fn next_snapshot(answers: &mut EventLoop, key: &DeviceKey) -> Snapshot {
    let payload = next_message(answers, Duration::from_secs(20))
        .await
        .expect("a picture within 20 s");
    wire::decode_signed::<Snapshot>(&payload)
        .unwrap()
        .verify_by(&[key.public_key()])
        .expect("signed by the device")
}

/// The file `sha256` as central got it, waiting up to 10 s for it.
async fn uploaded(central: &common::Central, sha256: &Sha256Digest) -> Vec<u8> {
    for _ in 0..100 {
        if let Some(blob) = central.blobs.lock().unwrap().get(&sha256.to_hex()) {
            return blob.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{sha256:?} not uploaded within 10 s")
}

fn request(device: &protocol::DeviceId, id: &str, requested_at: UtcTimestamp) -> SnapshotRequest {
    SnapshotRequest {
        request_id: id.into(),
        device: device.clone(),
        camera: CameraId::parse("cam-1").unwrap(),
        requested_at,
        expires_at: UtcTimestamp::from_unix_ms(requested_at.unix_ms() + 120_000).unwrap(),
        view: SnapshotView::Frame,
        frames: 1,
        clip_s: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn central_gets_the_cameras_frame_on_its_signed_request_only() {
    let (video, geometry) = common::busy_stream();
    let server = RtspServer::start(
        "127.0.0.1:0".parse().unwrap(),
        vec![("cam".into(), video)],
        1.0,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let device = common::device_id("edge-snapshot");
    let key = edge_agent::startup::device_key(&dir.path().join("device.key")).unwrap();
    let central = common::Central::start(&device, key.public_key()).await;
    let mut config =
        common::agent_config(dir.path(), &device, &common::mosquitto_url(), &central.url);
    let mut camera = common::camera("cam-1", server.url("cam"));
    camera.geometry = geometry;
    config.cameras = vec![camera];
    let agent = common::RunningAgent::start(config).await;
    // The camera streams, and the box is on the broker (its subscriptions go out as it
    // connects: a second later they are in place).
    for _ in 0..300 {
        let status = common::status(&agent.addr).await.unwrap();
        if status["cameras"][0]["processed"].as_u64().unwrap_or(0) > 0
            && status["broker_connected"] == true
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (client, mut answers) = subscribed(&Topic::Snapshot(device.clone()).to_string()).await;
    let ask = |payload: Vec<u8>| {
        let client = client.clone();
        let topic = Topic::SnapshotRequest(device.clone()).to_string();
        async move {
            client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
                .unwrap()
        }
    };
    // Someone on the broker asks the box to film the street: no picture, the refusal counted.
    let forger = DeviceKey::from_seed([0x66; 32]);
    let forged = request(&device, "forged-request-000001", UtcTimestamp::now());
    ask(wire::encode_signed(&forged, &forger).unwrap()).await;
    // Central's request from ten minutes ago, delivered late: no picture either.
    let ten_minutes_ago = UtcTimestamp::from_unix_ms(UtcTimestamp::now().unix_ms() - 600_000);
    let late = request(&device, "late-request-00000001", ten_minutes_ago.unwrap());
    ask(wire::encode_signed(&late, &common::control_key()).unwrap()).await;
    assert_eq!(
        next_message(&mut answers, Duration::from_secs(3)).await,
        None,
        "no picture for a forged or expired request"
    );
    let status = common::status(&agent.addr).await.unwrap();
    assert_eq!(status["control_refused"], 2, "{status}");

    // Central's own, now.
    let genuine = request(&device, "central-request-000001", UtcTimestamp::now());
    ask(wire::encode_signed(&genuine, &common::control_key()).unwrap()).await;
    let snapshot = next_snapshot(&mut answers, &key).await;
    assert_eq!(snapshot.request_id, genuine.request_id);
    assert_eq!(snapshot.camera, genuine.camera);
    assert!(
        (snapshot.taken_at.unix_ms() - UtcTimestamp::now().unix_ms()).abs() < 20_000,
        "taken now"
    );
    // The file it names reaches central through the signed upload, and is the frame.
    let blob = uploaded(&central, &snapshot.sha256).await;
    assert_eq!(Sha256Digest::of(&blob), snapshot.sha256);
    assert_eq!(blob.len() as u64, snapshot.bytes);
    let picture = image::load_from_memory(&blob).unwrap();
    assert_eq!(
        (picture.width(), picture.height()),
        (snapshot.width, snapshot.height)
    );
    assert!(snapshot.width >= 320 && snapshot.height >= 240);
    assert_eq!(
        (snapshot.seq, snapshot.judged),
        (0, None),
        "a frame as it came"
    );

    // Two seconds of the camera's own video, from when the box took the request: one MP4,
    // its length and first frame's time said in the signed answer.
    let clip = SnapshotRequest {
        view: SnapshotView::Clip,
        clip_s: 2,
        ..request(&device, "central-request-clip01", UtcTimestamp::now())
    };
    ask(wire::encode_signed(&clip, &common::control_key()).unwrap()).await;
    let answer = next_snapshot(&mut answers, &key).await;
    assert_eq!(answer.request_id, clip.request_id);
    assert_eq!(answer.content_type(), "video/mp4");
    assert!(
        (1_900..=8_000).contains(&answer.duration_ms),
        "{} ms",
        answer.duration_ms
    );
    assert!(
        answer.taken_at.unix_ms() >= clip.requested_at.unix_ms() - 10_000,
        "from about when it was asked for (the keyframe before)"
    );
    assert_eq!(
        (answer.width, answer.height),
        (snapshot.width, snapshot.height)
    );
    let mp4 = uploaded(&central, &answer.sha256).await;
    assert_eq!(mp4.len() as u64, answer.bytes);
    assert_eq!(&mp4[4..8], b"ftyp", "an MP4");

    // Three frames as the camera judges them, a second apart: each says what was judged in
    // it — the configuration (none from central yet), the vehicles tracked — and its picture
    // arrives.
    let burst = SnapshotRequest {
        view: SnapshotView::Judged,
        frames: 3,
        ..request(&device, "central-request-000002", UtcTimestamp::now())
    };
    ask(wire::encode_signed(&burst, &common::control_key()).unwrap()).await;
    let mut frames = Vec::new();
    while frames.len() < 3 {
        let frame = next_snapshot(&mut answers, &key).await;
        assert_eq!(frame.request_id, burst.request_id);
        frames.push(frame);
    }
    let seqs: Vec<u8> = frames.iter().map(|f| f.seq).collect();
    assert_eq!(seqs, [0, 1, 2]);
    for pair in frames.windows(2) {
        let apart = pair[1].taken_at.unix_ms() - pair[0].taken_at.unix_ms();
        assert!((500..3_000).contains(&apart), "{apart} ms apart");
    }
    let judged: Vec<_> = frames
        .iter()
        .map(|f| f.judged.clone().expect("judged"))
        .collect();
    assert!(judged.iter().all(|j| j.config_version == 0));
    assert!(
        judged.iter().any(|j| !j.vehicles.is_empty()),
        "the busy street's vehicles tracked: {judged:?}"
    );
    let last = frames.last().unwrap();
    let drawn = image::load_from_memory(&uploaded(&central, &last.sha256).await).unwrap();
    assert_eq!((drawn.width(), drawn.height()), (last.width, last.height));
    // Asked again once the box stopped keeping judged frames: a frame judged now, not the
    // last one kept.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let again = SnapshotRequest {
        view: SnapshotView::Judged,
        ..request(&device, "central-request-000003", UtcTimestamp::now())
    };
    ask(wire::encode_signed(&again, &common::control_key()).unwrap()).await;
    let fresh = next_snapshot(&mut answers, &key).await;
    assert_eq!(fresh.request_id, again.request_id);
    assert!(
        fresh.taken_at.unix_ms() >= again.requested_at.unix_ms() - 500,
        "judged after the request: {} against {}",
        fresh.taken_at.unix_ms(),
        again.requested_at.unix_ms()
    );
    let _ = client.disconnect().await;
    agent.stop().await;
}
