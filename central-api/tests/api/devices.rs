//! Device health: statuses recorded from the status topic, signed by their device (a malformed
//! one, one for another device, from an unknown device, signed by another key, stale or played
//! again ignored), listed with each registered device in the JSON API and on the devices page.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use central_api::{
    auth::Role,
    db::devices,
    ingest::{Ingest, IngestMetrics},
};
use protocol::{
    CameraId, CameraState, CameraStatus, DeviceId, DeviceKey, DeviceState, DeviceStatus, Topic,
    UtcTimestamp, wire,
};
use tower::ServiceExt;

use crate::{
    helpers::{TestDb, on_both_engines},
    review::world,
};

async fn statuses_are_recorded_and_shown(t: &TestDb) {
    let w = world(t).await;
    let ingest = Ingest::new(w.db.clone(), IngestMetrics::default());
    let topic = Topic::Status(w.device.clone()).to_string();
    let status = DeviceStatus {
        device: w.device.clone(),
        state: DeviceState::Degraded,
        at: Some(UtcTimestamp::now()),
        software_version: Some("0.1.0".into()),
        cameras: vec![
            CameraStatus {
                camera: CameraId::parse("north").unwrap(),
                state: CameraState::Streaming,
                detect_fps: 5.0,
                signal_fault: Some("signal red for 412 s without a change".into()),
            },
            CameraStatus {
                camera: CameraId::parse("south").unwrap(),
                state: CameraState::Down,
                detect_fps: 0.0,
                signal_fault: None,
            },
        ],
        outbox_depth: Some(12),
    };
    let payload = wire::encode_signed(&status, &w.key).unwrap();
    assert_eq!(ingest.status(&topic, &payload).await.unwrap(), "status");

    let stranger = DeviceId::parse("hcm-unknown-9").unwrap();
    let mut theirs = status.clone();
    theirs.device = stranger.clone();
    let forger = DeviceKey::from_seed([66; 32]);
    // What would show a dead device as running: "online" under another key, unsigned, or made
    // long ago (a recording played now).
    let online = DeviceStatus {
        state: DeviceState::Online,
        at: Some(UtcTimestamp::now()),
        ..status.clone()
    };
    let old = DeviceStatus {
        at: Some(UtcTimestamp::from_unix_ms(UtcTimestamp::now().unix_ms() - 600_000).unwrap()),
        ..online.clone()
    };
    for (topic, payload) in [
        (topic.clone(), b"{not json".to_vec()),
        (topic.clone(), wire::encode_signed(&theirs, &w.key).unwrap()),
        (
            Topic::Status(stranger).to_string(),
            wire::encode_signed(&theirs, &forger).unwrap(),
        ),
        (
            topic.clone(),
            wire::encode_signed(&online, &forger).unwrap(),
        ),
        (topic.clone(), wire::encode(&online).unwrap()),
        (topic.clone(), wire::encode_signed(&old, &w.key).unwrap()),
        // The status recorded, played again.
        (topic.clone(), payload.clone()),
    ] {
        assert_eq!(
            ingest.status(&topic, &payload).await.unwrap(),
            "status_ignored"
        );
    }

    let health = devices::health(&w.db).await.unwrap();
    assert_eq!(health.len(), 1, "only registered devices: {health:?}");
    assert_eq!(
        health[0].state.as_deref(),
        Some("degraded"),
        "none of those counted"
    );

    // The last will, signed when the device connected: it counts as of its arrival, and a
    // status made before it, played after it, does not bring the device back.
    let will = DeviceStatus::offline(w.device.clone(), UtcTimestamp::now());
    let will = wire::encode_signed(&will, &w.key).unwrap();
    assert_eq!(ingest.status(&topic, &will).await.unwrap(), "status");
    let before = wire::encode_signed(&online, &w.key).unwrap();
    assert_eq!(
        ingest.status(&topic, &before).await.unwrap(),
        "status_ignored"
    );
    let health = devices::health(&w.db).await.unwrap();
    assert_eq!(health[0].state.as_deref(), Some("offline"));
    // The device back, with a status made now.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let back = DeviceStatus {
        at: Some(UtcTimestamp::now()),
        ..status.clone()
    };
    let back = wire::encode_signed(&back, &w.key).unwrap();
    assert_eq!(ingest.status(&topic, &back).await.unwrap(), "status");
    let health = devices::health(&w.db).await.unwrap();
    let d = &health[0];
    assert_eq!(d.state.as_deref(), Some("degraded"));
    assert_eq!(d.outbox_depth, Some(12));
    assert_eq!(d.cameras, status.cameras);

    let viewer = w.sign_in(Role::Auditor).await;
    let (code, json) = w.call(viewer.get("/api/v1/devices")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(json["items"][0]["state"], "degraded");
    assert_eq!(json["items"][0]["cameras"][1]["state"], "down");
    let response = w
        .app
        .clone()
        .oneshot(
            Request::get("/review/devices")
                .header(header::COOKIE, format!("tve_session={}", viewer.token))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let page = String::from_utf8(page.to_vec()).unwrap();
    assert!(page.contains("Hoạt động kém"), "{page}");
    assert!(page.contains("mất hình"), "{page}");
    // A camera whose signal never changes is shown as a fault, not a quiet junction.
    assert!(page.contains("Lỗi đèn tín hiệu"), "{page}");
    assert!(page.contains("signal red for 412 s"), "{page}");
    assert!(page.contains(w.device.as_str()));
}

/// Statuses are ordered by their time, whatever its fraction: .1 s comes before .123 s (SQLite
/// keeps `…01.1Z` and `…01.123Z`, which sort the other way as text).
async fn statuses_are_ordered_by_time_not_by_text(t: &TestDb) {
    let w = world(t).await;
    let status = DeviceStatus::offline(w.device.clone(), UtcTimestamp::now());
    let at = |ms: i64| UtcTimestamp::from_unix_ms(1_764_146_101_000 + ms).unwrap();
    // (time after the first, whether it is newer than the one held)
    for (ms, newer) in [
        (100, true),
        (123, true),
        (120, false),
        (1_000, true),
        (1_000, false),
    ] {
        let recorded = devices::record_status(&w.db, &status, at(ms))
            .await
            .unwrap();
        assert_eq!(recorded, newer, "+{ms} ms");
    }
}

on_both_engines!(
    statuses_are_recorded_and_shown,
    statuses_are_ordered_by_time_not_by_text
);
