//! A camera's pages: its picture asked of the device through the broker, the live check of what
//! the device judged frame by frame, and a set-up drawn on the picture, checked, and a stale
//! save refused.
//!
//! Long because each test walks one user's whole task through the service step by step, as
//! the user does it, and asserts at every step; a test cut into pieces would set the same
//! world up again for each and no longer show the task whole.

use super::*;

async fn an_administrator_sees_the_cameras_picture_asked_through_the_broker(t: &TestDb) {
    use central_api::{
        audit::AuditLog,
        db::{cameras, evidence, retention, snapshots},
        ingest::{Ingest, IngestMetrics},
    };
    use protocol::{CameraId, DeviceKey, Topic, UtcTimestamp, snapshot::Snapshot, wire};
    let w = world(t).await;
    let admin = sign_in(&w, Role::Admin).await;
    let reviewer = sign_in(&w, Role::Reviewer).await;
    let camera = CameraId::parse("hang-xanh-2").unwrap();
    let audit = AuditLog::new(w.db.clone());
    cameras::save(
        &w.db,
        &audit,
        &w.device,
        &protocol::CameraSettings {
            geometry: serde_json::from_str(
                r#"{ "stop_line": { "a": [200, 700], "b": [1700, 700], "before": [960, 900] } }"#,
            )
            .unwrap(),
            ..crate::helpers::camera_settings("hang-xanh-2")
        },
        "admin",
    )
    .await
    .unwrap()
    .unwrap();
    let page_uri = "/review/admin/camera?device=hcm-q1-001&camera=hang-xanh-2";
    let ask = |session: &Session, camera: &str| {
        form(
            Some(session),
            "/review/admin/camera/snapshot",
            &[
                ("csrf", session.csrf.as_str()),
                ("device", "hcm-q1-001"),
                ("camera", camera),
            ],
        )
    };
    // Only an administrator asks a box for a picture of the street, and only of a camera
    // central keeps.
    assert_eq!(
        send(&w, ask(&reviewer, "hang-xanh-2")).await.status,
        StatusCode::FORBIDDEN
    );
    let unknown = send(&w, ask(&admin, "no-such-camera")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let asked = send(&w, ask(&admin, "hang-xanh-2")).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    assert_eq!(asked.location(), format!("{page_uri}#snapshot"));
    let now = time::OffsetDateTime::now_utc();
    let request = only_request(&w, now).await;
    assert_eq!((&request.device, &request.camera), (&w.device, &camera));
    assert!(request.expires_at.unix_ms() - request.requested_at.unix_ms() <= 120_000);
    let waiting = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        waiting.body.contains("data-state=\"waiting\""),
        "{}",
        waiting.body
    );
    snapshots::published(&w.db, &request.request_id, now)
        .await
        .unwrap();
    assert!(snapshots::to_publish(&w.db, now).await.unwrap().is_empty());
    // Who asked is in the audit log.
    let audited = crate::helpers::count(
        &w.db,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'camera.snapshot_requested' AND actor = 'officer:admin'",
    )
    .await;
    assert_eq!(audited, 1);

    // The device answers: its signed snapshot first, then the file.
    let jpeg = b"\xff\xd8\xff\xe0 the junction as the camera sees it".to_vec();
    let answer = Snapshot {
        request_id: request.request_id.clone(),
        device: w.device.clone(),
        camera: camera.clone(),
        taken_at: UtcTimestamp::now(),
        width: 64,
        height: 48,
        sha256: Sha256Digest::of(&jpeg),
        bytes: jpeg.len() as u64,
        seq: 0,
        judged: None,
        duration_ms: 0,
    };
    let ingest = Ingest::new(w.db.clone(), IngestMetrics::default());
    let topic = Topic::Snapshot(w.device.clone()).to_string();
    let take = |snapshot: &Snapshot, key: &DeviceKey| {
        let payload = wire::encode_signed(snapshot, key).unwrap();
        let (ingest, topic) = (ingest.clone(), topic.clone());
        async move { ingest.snapshot(&topic, &payload).await.unwrap() }
    };
    // Signed by anyone but the device, or for a camera not asked: refused.
    let forger = DeviceKey::from_seed([0x66; 32]);
    assert_eq!(take(&answer, &forger).await, "snapshot_refused");
    let other_camera = Snapshot {
        camera: CameraId::parse("hang-xanh-1").unwrap(),
        ..answer.clone()
    };
    assert_eq!(take(&other_camera, &w.key).await, "snapshot_refused");
    assert_eq!(take(&answer, &w.key).await, "snapshot");
    assert_eq!(
        take(&answer, &w.key).await,
        "snapshot_refused",
        "one answer to a request"
    );
    assert!(evidence::named(&w.db, &answer.sha256).await.unwrap());
    let arriving = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        arriving.body.contains("data-state=\"arriving\""),
        "{}",
        arriving.body
    );
    let uploaded = send(&w, as_device(&w, &answer.sha256, jpeg.clone())).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);

    // The page draws the geometry over the picture, and says when it was taken.
    let shown = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        shown.body.contains("data-state=\"taken\""),
        "{}",
        shown.body
    );
    let picture_uri = format!("/review/admin/snapshots/{}", request.request_id);
    assert!(
        shown
            .body
            .contains(&format!("id=\"snapshot-picture\" href=\"{picture_uri}\"")),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("viewBox=\"0 0 64 48\""));
    let picture = w
        .app
        .clone()
        .oneshot(get(Some(&admin), &picture_uri))
        .await
        .unwrap();
    assert_eq!(picture.status(), StatusCode::OK);
    assert_eq!(picture.headers()[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(
        picture.headers()[header::CACHE_CONTROL],
        "private, no-store"
    );
    let bytes = axum::body::to_bytes(picture.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), jpeg.as_slice());
    assert_eq!(
        send(&w, get(Some(&reviewer), &picture_uri)).await.status,
        StatusCode::FORBIDDEN
    );

    // Ten seconds of the camera's video: asked from the page, answered with one MP4 and its
    // length; a picture sent for it refused.
    let clip_asked = send(&w, ask_view(&admin, "clip")).await;
    assert_eq!(
        clip_asked.status,
        StatusCode::SEE_OTHER,
        "{}",
        clip_asked.body
    );
    assert_eq!(clip_asked.location(), format!("{page_uri}#clip"));
    let clip = only_request(&w, now).await;
    assert_eq!(
        (clip.view, clip.clip_s, clip.frames),
        (protocol::snapshot::SnapshotView::Clip, 10, 1)
    );
    snapshots::published(&w.db, &clip.request_id, now)
        .await
        .unwrap();
    let recording = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        recording
            .body
            .contains("id=\"clip-state\" data-state=\"waiting\""),
        "{}",
        recording.body
    );
    let mp4 = b"\0\0\0\x18ftypisom the junction moving".to_vec();
    let as_picture = Snapshot {
        request_id: clip.request_id.clone(),
        ..answer.clone()
    };
    assert_eq!(take(&as_picture, &w.key).await, "snapshot_refused");
    let clip_answer = Snapshot {
        request_id: clip.request_id.clone(),
        sha256: Sha256Digest::of(&mp4),
        bytes: mp4.len() as u64,
        duration_ms: 10_040,
        ..answer.clone()
    };
    assert_eq!(take(&clip_answer, &w.key).await, "snapshot");
    let upload = as_device(&w, &clip_answer.sha256, mp4.clone());
    let uploaded = send(&w, crate::evidence::retyped(upload, Some("video/mp4"))).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    let shown = send(&w, get(Some(&admin), page_uri)).await;
    let clip_uri = format!("/review/admin/snapshots/{}", clip.request_id);
    assert!(
        shown
            .body
            .contains("id=\"clip-state\" data-state=\"taken\"")
            && shown.body.contains("10.0 s")
            && shown.body.contains(&format!(
                "id=\"clip-video\" controls preload=\"metadata\" src=\"{clip_uri}\""
            )),
        "{}",
        shown.body
    );
    assert!(
        shown
            .body
            .contains(&format!("id=\"snapshot-picture\" href=\"{picture_uri}\"")),
        "the picture drawn on is still the frame, not the clip"
    );
    let served = w
        .app
        .clone()
        .oneshot(get(Some(&admin), &clip_uri))
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()[header::CONTENT_TYPE], "video/mp4");

    // A request the device never answered expires, and says so.
    let late = ask_frame(&w, &audit, &camera, now).await;
    crate::helpers::raw(
        &w.db,
        &format!(
            "UPDATE snapshots SET expires_at = requested_at WHERE id = '{}'",
            late.request_id
        ),
    )
    .await
    .unwrap();
    assert!(
        snapshots::to_publish(&w.db, time::OffsetDateTime::now_utc())
            .await
            .unwrap()
            .is_empty(),
        "an expired request is not sent"
    );
    let late_answer = Snapshot {
        request_id: late.request_id,
        ..answer.clone()
    };
    assert_eq!(take(&late_answer, &w.key).await, "snapshot_refused");
    let expired = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        expired.body.contains("data-state=\"expired\""),
        "{}",
        expired.body
    );
    // The picture that came stays drawn on.
    assert!(expired.body.contains("id=\"snapshot-picture\""));

    // Thirty days on, the pictures are deleted, the file with them.
    let store = central_api::evidence_store::EvidenceStore::open(w.dir.path()).unwrap();
    assert!(store.read(&answer.sha256).await.unwrap().is_some());
    let swept = retention::sweep(
        &w.db,
        &audit,
        &store,
        &retention::RetentionSettings::default(),
        now + time::Duration::days(31),
    )
    .await
    .unwrap();
    assert_eq!(swept.snapshots_deleted, 3);
    assert_eq!(swept.blobs_deleted, 2);
    assert!(store.read(&answer.sha256).await.unwrap().is_none());
    assert!(store.read(&clip_answer.sha256).await.unwrap().is_none());
    assert!(
        snapshots::get(&w.db, &request.request_id)
            .await
            .unwrap()
            .is_none()
    );
}

/// The device's upload of a JPEG `file` whose hash is `sha256`, signed now.
fn as_device(w: &World, sha256: &Sha256Digest, file: Vec<u8>) -> Request<Body> {
    crate::evidence::upload(
        sha256,
        file,
        &w.device,
        &w.key,
        protocol::UtcTimestamp::now(),
    )
}

/// An administrator's press of the button asking hang-xanh-2's device for `view`.
fn ask_view(session: &Session, view: &str) -> Request<Body> {
    form(
        Some(session),
        "/review/admin/camera/snapshot",
        &[
            ("csrf", session.csrf.as_str()),
            ("device", "hcm-q1-001"),
            ("camera", "hang-xanh-2"),
            ("view", view),
        ],
    )
}

/// The one request waiting to be published at `now`.
async fn only_request(w: &World, now: time::OffsetDateTime) -> protocol::snapshot::SnapshotRequest {
    let mut outgoing = central_api::db::snapshots::to_publish(&w.db, now)
        .await
        .unwrap();
    assert_eq!(outgoing.len(), 1, "{outgoing:?}");
    outgoing.remove(0)
}

/// A request for one frame of `camera` as it came, made by the administrator at `now`.
async fn ask_frame(
    w: &World,
    audit: &central_api::audit::AuditLog,
    camera: &protocol::CameraId,
    now: time::OffsetDateTime,
) -> protocol::snapshot::SnapshotRequest {
    central_api::db::snapshots::ask(
        &w.db,
        audit,
        (&w.device, camera),
        central_api::db::snapshots::Asked::picture(protocol::snapshot::SnapshotView::Frame),
        "officer:admin",
        now,
    )
    .await
    .unwrap()
    .unwrap()
}

async fn a_live_check_shows_what_the_device_judged_frame_by_frame(t: &TestDb) {
    use central_api::{
        audit::AuditLog,
        db::{cameras, snapshots},
        ingest::{Ingest, IngestMetrics},
    };
    use protocol::{
        CameraId, Topic, UtcTimestamp, VehicleBox, VehicleClass,
        messages::SignalState,
        snapshot::{Judged, JudgedVehicle, Snapshot, SnapshotView},
        wire,
    };
    let w = world(t).await;
    let admin = sign_in(&w, Role::Admin).await;
    let audit = AuditLog::new(w.db.clone());
    let camera = CameraId::parse("hang-xanh-2").unwrap();
    let settings = crate::helpers::camera_settings("hang-xanh-2");
    cameras::save(&w.db, &audit, &w.device, &settings, "admin")
        .await
        .unwrap()
        .unwrap();
    let issued = cameras::config_version(&w.db, w.device.as_str())
        .await
        .unwrap()
        .expect("a configuration issued");
    let page_uri = "/review/admin/camera?device=hcm-q1-001&camera=hang-xanh-2";

    // The administrator asks to watch the device judge: fifteen judged frames, one a second.
    let asked = send(&w, ask_view(&admin, "judged")).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    assert_eq!(asked.location(), format!("{page_uri}#live"));
    let now = time::OffsetDateTime::now_utc();
    let request = only_request(&w, now).await;
    assert_eq!((request.view, request.frames), (SnapshotView::Judged, 15));
    assert!(
        request.expires_at.unix_ms() - request.requested_at.unix_ms() <= 120_000 + 14_000,
        "the first frame within two minutes, the burst's length more for the last"
    );
    let running = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        running.body.contains("data-running=\"1\"") && running.body.contains("0/15"),
        "{}",
        running.body
    );

    let ingest = Ingest::new(w.db.clone(), IngestMetrics::default());
    let topic = Topic::Snapshot(w.device.clone()).to_string();
    let take = |snapshot: &Snapshot| {
        let payload = wire::encode_signed(snapshot, &w.key).unwrap();
        let (ingest, topic) = (ingest.clone(), topic.clone());
        async move { ingest.snapshot(&topic, &payload).await.unwrap() }
    };
    let frame = |seq: u8, jpeg: &[u8], judged: Option<Judged>| Snapshot {
        request_id: request.request_id.clone(),
        device: w.device.clone(),
        camera: camera.clone(),
        taken_at: UtcTimestamp::now(),
        width: 64,
        height: 48,
        sha256: Sha256Digest::of(jpeg),
        bytes: jpeg.len() as u64,
        seq,
        judged,
        duration_ms: 0,
    };
    let judged = |version: u64| Judged {
        config_version: version,
        signal: Some(SignalState::Red),
        signal_fault: None,
        vehicles: vec![JudgedVehicle {
            track: 12,
            class: VehicleClass::Motorbike,
            bbox: VehicleBox {
                x: 10,
                y: 10,
                width: 8,
                height: 12,
            },
            speed_kmh: Some(42.4),
            lane: Some("Làn xe máy".into()),
        }],
    };
    let (first, second) = (b"\xff\xd8 judged 0".to_vec(), b"\xff\xd8 judged 1".to_vec());
    assert_eq!(
        take(&frame(0, &first, Some(judged(issued)))).await,
        "snapshot"
    );
    assert_eq!(
        take(&frame(1, &second, Some(judged(issued)))).await,
        "snapshot"
    );
    // Each frame once; none beyond those asked; none as it came for a judged request.
    for refused in [
        frame(1, &second, Some(judged(issued))),
        frame(15, b"late", Some(judged(issued))),
        frame(2, b"plain", None),
    ] {
        assert_eq!(
            take(&refused).await,
            "snapshot_refused",
            "frame {}",
            refused.seq
        );
    }
    for jpeg in [&first, &second] {
        let sha = Sha256Digest::of(jpeg);
        let uploaded = send(&w, as_device(&w, &sha, jpeg.clone())).await;
        assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    }

    // The page shows the latest frame, what the device judged in it, and that it judges by
    // the configuration saved last; the frame to draw on is not a judged one.
    let shown = send(&w, get(Some(&admin), page_uri)).await;
    let latest = format!("/review/admin/snapshots/{}.1", request.request_id);
    for expected in [
        format!("id=\"live-picture\" src=\"{latest}\""),
        "2/15".to_owned(),
        format!("data-version=\"{issued}\" data-current=\"yes\""),
        "data-signal=\"red\"".to_owned(),
        "#12".to_owned(),
        "Làn xe máy".to_owned(),
        "42 km/h".to_owned(),
    ] {
        assert!(shown.body.contains(&expected), "{expected}: {}", shown.body);
    }
    assert!(
        !shown.body.contains("id=\"snapshot-picture\""),
        "{}",
        shown.body
    );
    let picture = send(&w, get(Some(&admin), &latest)).await;
    assert_eq!(picture.status, StatusCode::OK);
    assert!(
        picture.body.ends_with(" judged 1"),
        "the second frame's file"
    );

    // A newer set-up saved: the frame shown was judged by the one before, and the page says so.
    cameras::save(
        &w.db,
        &audit,
        &w.device,
        &protocol::CameraSettings {
            speed_limit_kmh: 50.0,
            ..settings
        },
        "admin",
    )
    .await
    .unwrap()
    .unwrap();
    let stale = send(&w, get(Some(&admin), page_uri)).await;
    assert!(stale.body.contains("data-current=\"no\""), "{}", stale.body);

    // The burst's frames go with their request when it is deleted.
    snapshots::delete_before(&w.db, now + time::Duration::minutes(1), now)
        .await
        .unwrap();
    let left = crate::helpers::count(&w.db, "SELECT COUNT(*) FROM snapshots").await;
    assert_eq!(left, 0);
}

async fn a_set_up_drawn_on_the_picture_is_checked_and_a_stale_save_refused(t: &TestDb) {
    use central_api::{
        audit::AuditLog,
        db::{retention, snapshots},
    };
    use protocol::{CameraId, UtcTimestamp, camera::SpeedTrapSpec, snapshot::Snapshot};
    let w = world(t).await;
    let admin = sign_in(&w, Role::Admin).await;
    let other = sign_in_as(&w, crate::review::SECOND_ADMIN).await;
    let audit = AuditLog::new(w.db.clone());
    let camera = CameraId::parse("hang-xanh-2").unwrap();
    // A picture from the camera, 1280 × 720, to draw on (the camera is not set up yet: asking
    // needs its row, so the picture is recorded as the device would answer).
    central_api::db::cameras::save(
        &w.db,
        &audit,
        &w.device,
        &crate::helpers::camera_settings("hang-xanh-2"),
        "officer:admin",
    )
    .await
    .unwrap()
    .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let asked = ask_frame(&w, &audit, &camera, now).await;
    let picture = Snapshot {
        request_id: asked.request_id.clone(),
        device: w.device.clone(),
        camera: camera.clone(),
        taken_at: UtcTimestamp::now(),
        width: 1280,
        height: 720,
        sha256: Sha256Digest::of(b"picture"),
        bytes: 7,
        seq: 0,
        judged: None,
        duration_ms: 0,
    };
    snapshots::answer(&w.db, &picture, now)
        .await
        .unwrap()
        .unwrap();

    // Both administrators open the page on revision 1.
    let page_uri = "/review/admin/camera?device=hcm-q1-001&camera=hang-xanh-2";
    for s in [&admin, &other] {
        let page = send(&w, get(Some(s), page_uri)).await;
        assert!(
            page.body.contains("name=\"base\" value=\"1\""),
            "{}",
            page.body
        );
        assert!(page.body.contains("id=\"geometry-editor\""));
        assert!(page.body.contains("src=\"/review/assets/camera.js\""));
    }
    let script = send(&w, get(Some(&admin), "/review/assets/camera.js")).await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.body.contains("geometry-editor"));

    let image = [
        [400.0, 700.0],
        [880.0, 700.0],
        [760.0, 400.0],
        [520.0, 400.0],
    ];
    let road = [[0.0, 0.0], [7.0, 0.0], [7.0, 30.0], [0.0, 30.0]];
    let calibration = serde_json::json!({ "image": image, "road": road }).to_string();
    let geometry =
        r#"{ "stop_line": { "a": [300, 600], "b": [1000, 600], "before": [640, 700] } }"#;
    let fields = |s: &Session, base: &str, geometry: &str, calibration: &str, name: &str| {
        let owned: Vec<(String, String)> = [
            ("csrf", s.csrf.as_str()),
            ("device", "hcm-q1-001"),
            ("camera", "hang-xanh-2"),
            ("base", base),
            ("snapshot", asked.request_id.as_str()),
            ("calibration", calibration),
            ("site_name", name),
            ("latitude", "10.8013"),
            ("longitude", "106.7115"),
            ("speed_limit_kmh", "60"),
            ("red_grace_s", "0.5"),
            ("geometry", geometry),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        owned
    };
    let post = |owned: Vec<(String, String)>, s: &Session| {
        let pairs: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        form(Some(s), "/review/admin/camera", &pairs)
    };
    // A stop line beside the lanes, off the road: refused, saying so.
    let beside = r#"{ "stop_line": { "a": [900, 200], "b": [1200, 200], "before": [1000, 300] },
        "lanes": [{ "name": "1", "polygon": [[300, 700], [700, 700], [650, 300], [350, 300]],
                    "direction": [0, -1] }] }"#;
    let refused = send(&w, post(fields(&admin, "1", beside, "", "A"), &admin)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("off the road"), "{}", refused.body);
    // Drawn off the picture, or calibrated on three points in a line: refused, saying where.
    let off = r#"{ "stop_line": { "a": [300, 600], "b": [1900, 600], "before": [640, 700] } }"#;
    let refused = send(&w, post(fields(&admin, "1", off, "", "A"), &admin)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("off the picture (1280 × 720 px)"),
        "{}",
        refused.body
    );
    let in_a_line = serde_json::json!({
        "image": [[400.0, 700.0], [500.0, 700.0], [600.0, 700.0], [520.0, 400.0]],
        "road": [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 30.0]],
    })
    .to_string();
    let refused = send(
        &w,
        post(fields(&admin, "1", geometry, &in_a_line, "A"), &admin),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("calibration"), "{}", refused.body);

    // The first saves: the speed is measured through the homography the four points make.
    let saved = send(
        &w,
        post(
            fields(&admin, "1", geometry, &calibration, "Hàng Xanh A"),
            &admin,
        ),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let cameras = central_api::db::cameras::of_device(&w.db, &w.device)
        .await
        .unwrap();
    let Some(SpeedTrapSpec::Homography(m)) = &cameras[0].geometry.speed else {
        panic!("a homography: {:?}", cameras[0].geometry.speed);
    };
    let h = protocol::geometry::Homography(*m);
    for (r, i) in road.iter().zip(&image) {
        let p = h.apply([r[0] as f32, r[1] as f32]).unwrap();
        assert!(
            (p[0] - i[0] as f32).abs() < 0.5 && (p[1] - i[1] as f32).abs() < 0.5,
            "{p:?} {i:?}"
        );
    }
    let kept = crate::helpers::count(
        &w.db,
        &format!(
            "SELECT COUNT(*) FROM cameras WHERE revision = 2 AND snapshot_id = '{}'",
            asked.request_id
        ),
    )
    .await;
    assert_eq!(kept, 1, "the picture it was drawn on named beside it");
    // Drawn back: the road grid the calibration implies.
    let drawn = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        drawn.body.contains("id=\"road-grid\"><polyline"),
        "{}",
        drawn.body
    );
    // The four points are kept beside the homography they made, drawn back with their places
    // on the road, and offered to the device's next camera (a plate camera) to be calibrated
    // on the same points.
    assert_eq!(
        cameras[0].geometry.calibration.map(|c| c.road),
        Some(road.map(|p| p.map(|v| v as f32)))
    );
    assert!(drawn.body.contains("P3 (7, 30 m)"), "{}", drawn.body);
    let next = send(
        &w,
        get(
            Some(&admin),
            "/review/admin/camera?device=hcm-q1-001&camera=hang-xanh-3",
        ),
    )
    .await;
    assert!(
        next.body.contains(
            "<option value=\"hang-xanh-2\" data-road=\"[[0.0,0.0],[7.0,0.0],[7.0,30.0],[0.0,30.0]]\">"
        ),
        "{}",
        next.body
    );
    let alone = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        !alone.body.contains("name=\"shared_points\""),
        "no other camera to share with"
    );

    // The second administrator saves on the revision they opened: refused, their form kept,
    // and told whose set-up stands.
    let stale = send(
        &w,
        post(fields(&other, "1", geometry, "", "Hàng Xanh B"), &other),
    )
    .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(stale.body.contains("officer:admin"), "{}", stale.body);
    assert!(
        stale.body.contains("value=\"Hàng Xanh B\""),
        "what they typed is kept"
    );
    assert!(
        stale.body.contains("name=\"base\" value=\"2\""),
        "{}",
        stale.body
    );
    let cameras = central_api::db::cameras::of_device(&w.db, &w.device)
        .await
        .unwrap();
    assert_eq!(cameras[0].site.name, "Hàng Xanh A");
    // Sent again, having been told: theirs stands now.
    let again = send(
        &w,
        post(fields(&other, "2", geometry, "", "Hàng Xanh B"), &other),
    )
    .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);

    // A fixed-time plan, anchored on when the installer saw red begin ten seconds ago.
    let seen = time::OffsetDateTime::now_utc() - time::Duration::seconds(10);
    let local = seen.to_offset(time::UtcOffset::from_hms(7, 0, 0).unwrap());
    let red_at = format!(
        "{:02}:{:02}:{:02}.{}",
        local.hour(),
        local.minute(),
        local.second(),
        local.millisecond() / 100
    );
    let with_plan = |red_at: &str| {
        let mut f = fields(&admin, "3", geometry, "", "Hàng Xanh B");
        for (k, v) in [
            ("plan_green_s", "40"),
            ("plan_amber_s", "3"),
            ("plan_red_s", "37"),
            ("plan_red_at", red_at),
        ] {
            f.push((k.to_owned(), v.to_owned()));
        }
        f
    };
    let refused = send(&w, post(with_plan("half past seven"), &admin)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("plan_red_at"), "{}", refused.body);
    let planned = send(&w, post(with_plan(&red_at), &admin)).await;
    assert_eq!(planned.status, StatusCode::SEE_OTHER, "{}", planned.body);
    let cameras = central_api::db::cameras::of_device(&w.db, &w.device)
        .await
        .unwrap();
    let plan = cameras[0].signal_plan.expect("the plan saved");
    assert_eq!((plan.green_s, plan.amber_s, plan.red_s), (40.0, 3.0, 37.0));
    // Red began at `seen` (to the tenth): so the cycle's green began 43 s before, modulo 80 s.
    let red = (seen.unix_timestamp_nanos() / 100_000_000) as f64 / 10.0;
    let expected = (red - 43.0).rem_euclid(80.0);
    let apart = (plan.offset_s - expected).abs();
    assert!(
        apart.min(80.0 - apart) < 0.05,
        "{plan:?} against {expected}"
    );
    let shown = send(&w, get(Some(&admin), page_uri)).await;
    assert!(
        shown
            .body
            .contains("name=\"plan_red_s\" inputmode=\"decimal\" value=\"37\"")
            && shown.body.contains("id=\"plan-saved\""),
        "{}",
        shown.body
    );

    // The calibration as the geometry field gives it (the drawing tool writes it there, or a
    // hand): the homography made from its points, whatever `speed` said; points given out of
    // order, which would fold the road over the horizon, refused.
    let by_hand = |image: &[[f64; 2]; 4]| {
        let geometry = serde_json::json!({
            "speed": { "homography": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]] },
            "calibration": { "image": image, "road": road },
        });
        post(
            fields(&admin, "4", &geometry.to_string(), "", "Hàng Xanh B"),
            &admin,
        )
    };
    let mut folded = image;
    folded.swap(2, 3);
    let refused = send(&w, by_hand(&folded)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body.contains("one view of the road"),
        "{}",
        refused.body
    );
    let saved = send(&w, by_hand(&image)).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let cameras = central_api::db::cameras::of_device(&w.db, &w.device)
        .await
        .unwrap();
    let Some(SpeedTrapSpec::Homography(m)) = &cameras[0].geometry.speed else {
        panic!("a homography: {:?}", cameras[0].geometry.speed);
    };
    let far = protocol::geometry::Homography(*m)
        .apply([7.0, 30.0])
        .unwrap();
    assert!(
        (far[0] - 760.0).abs() < 0.5 && (far[1] - 400.0).abs() < 0.5,
        "{far:?}"
    );

    // The picture a set-up names outlives the snapshots' retention.
    let store = central_api::evidence_store::EvidenceStore::open(w.dir.path()).unwrap();
    let swept = retention::sweep(
        &w.db,
        &audit,
        &store,
        &retention::RetentionSettings::default(),
        now + time::Duration::days(31),
    )
    .await
    .unwrap();
    assert_eq!(swept.snapshots_deleted, 0);
    assert!(
        snapshots::get(&w.db, &asked.request_id)
            .await
            .unwrap()
            .is_some()
    );
}

on_both_engines!(
    a_live_check_shows_what_the_device_judged_frame_by_frame,
    a_set_up_drawn_on_the_picture_is_checked_and_a_stale_save_refused,
    an_administrator_sees_the_cameras_picture_asked_through_the_broker,
);
