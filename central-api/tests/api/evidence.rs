//! Evidence upload: signed by the device, content-addressed, size-capped; and the completeness of
//! an event's manifest. On the filesystem store and on an S3-compatible object store.

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use central_api::{
    config::EvidenceSettings,
    db::{devices, evidence},
    evidence_store::{EvidenceStore, sealed::EvidenceKey},
    ingest::{Ingest, IngestMetrics},
    routes::router,
    state::AppState,
};
use protocol::{
    DeviceId, DeviceKey, EventId, Sha256Digest, Topic, UtcTimestamp, ViolationEvent,
    evidence::{UploadAuth, path},
    wire,
};
use service_kit::db_testing::SmallDisk;
use tower::ServiceExt;

use crate::{
    helpers::{TestDb, on_both_engines},
    object_store::ObjectStore,
};

const LINK_SECRET: &str = "the link secret shared with citizen-notify";

struct World {
    app: Router,
    store: EvidenceStore,
    device: DeviceId,
    key: DeviceKey,
    dir: tempfile::TempDir,
    object_store: Option<ObjectStore>,
}

/// Where a test's evidence goes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Files,
    S3,
}

async fn world(t: &TestDb, kind: Kind) -> World {
    world_with(t, kind, |_| {}).await
}

/// [`world`] with its evidence settings changed by `tweak`.
async fn world_with(t: &TestDb, kind: Kind, tweak: impl FnOnce(&mut EvidenceSettings)) -> World {
    let device = DeviceId::parse("hcm-q1-001").unwrap();
    let key = DeviceKey::from_seed([21; 32]);
    devices::register(&t.db, &device, &key.public_key(), "Hàng Xanh")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = EvidenceSettings {
        dir: dir.path().into(),
        max_bytes: 1024 * 1024,
        max_clock_skew_s: 300,
        link_secret: LINK_SECRET.into(),
        ..EvidenceSettings::default()
    };
    tweak(&mut settings);
    let (store, object_store) = match kind {
        Kind::Files => (EvidenceStore::open(dir.path()).unwrap(), None),
        Kind::S3 => {
            let object_store = ObjectStore::start().await;
            settings.s3 = object_store.settings("hcm/");
            // Sealed at rest, as central keeps evidence by default.
            let store = EvidenceStore::s3(dir.path(), &settings.s3)
                .await
                .unwrap()
                .sealed(EvidenceKey::new([7; 32]), Vec::new());
            (store, Some(object_store))
        }
    };
    let app =
        router(AppState::new(t.db.clone(), store.clone(), settings, Default::default()).unwrap());
    World {
        app,
        store,
        device,
        key,
        dir,
        object_store,
    }
}

/// A PUT of `body` to the path of `sha256`, signed by `key` as `device` at `at`.
pub(crate) fn upload(
    sha256: &Sha256Digest,
    body: Vec<u8>,
    device: &DeviceId,
    key: &DeviceKey,
    at: UtcTimestamp,
) -> Request<Body> {
    let auth = UploadAuth::sign(key, device.clone(), sha256, at);
    let mut request = Request::put(path(sha256)).header("content-type", "image/jpeg");
    for (name, value) in auth.headers() {
        request = request.header(name, value);
    }
    request.body(Body::from(body)).unwrap()
}

/// `request` with another Content-Type, or none.
pub(crate) fn retyped(mut request: Request<Body>, content_type: Option<&str>) -> Request<Body> {
    let headers = request.headers_mut();
    headers.remove("content-type");
    if let Some(ct) = content_type {
        headers.insert("content-type", ct.parse().unwrap());
    }
    request
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

async fn a_signed_upload_is_stored_once_under_its_hash(t: &TestDb) {
    stored_once(t, Kind::Files).await;
}

async fn a_signed_upload_is_stored_once_in_the_object_store(t: &TestDb) {
    stored_once(t, Kind::S3).await;
}

async fn stored_once(t: &TestDb, kind: Kind) {
    let w = world(t, kind).await;
    let jpeg = b"\xff\xd8\xff\xe0 a frame of evidence".to_vec();
    let uploaded = jpeg.len();
    let sha = Sha256Digest::of(&jpeg);
    let (status, body) = send(
        &w.app,
        upload(&sha, jpeg.clone(), &w.device, &w.key, UtcTimestamp::now()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["sha256"], sha.to_hex());
    assert_eq!(body["bytes"], jpeg.len());
    assert_eq!(w.store.read(&sha).await.unwrap().unwrap(), jpeg);
    assert!(evidence::exists(&t.db, &sha).await.unwrap());
    assert_eq!(
        std::fs::read_dir(w.dir.path().join("incoming"))
            .unwrap()
            .count(),
        0,
        "nothing left in the spool"
    );
    if let Some(object_store) = &w.object_store {
        // In the bucket, under the prefix, sealed: another central with the same settings and
        // key reads it, the bucket alone holds no image, and nothing but the empty spool is on
        // this one's disk.
        let elsewhere = tempfile::tempdir().unwrap();
        let bucket = EvidenceStore::s3(elsewhere.path(), &object_store.settings("hcm/"))
            .await
            .unwrap();
        assert_ne!(bucket.read(&sha).await.unwrap().unwrap(), jpeg);
        let other = bucket.sealed(EvidenceKey::new([7; 32]), Vec::new());
        assert_eq!(other.read(&sha).await.unwrap().unwrap(), jpeg);
        let unprefixed = EvidenceStore::s3(elsewhere.path(), &object_store.settings(""))
            .await
            .unwrap();
        assert_eq!(unprefixed.size(&sha).await.unwrap(), None);
        assert!(!w.dir.path().join("sha256").exists());
    }

    let (status, body) = send(
        &w.app,
        upload(&sha, jpeg, &w.device, &w.key, UtcTimestamp::now()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["created"], false);
    assert_eq!(
        body["bytes"], uploaded,
        "the size uploaded, not the size held"
    );
}

async fn bad_uploads_are_refused_with_their_reason(t: &TestDb) {
    refused_with_reason(t, Kind::Files).await;
}

async fn bad_uploads_to_the_object_store_are_refused_with_their_reason(t: &TestDb) {
    refused_with_reason(t, Kind::S3).await;
}

async fn refused_with_reason(t: &TestDb, kind: Kind) {
    let w = world(t, kind).await;
    let jpeg = b"\xff\xd8 evidence".to_vec();
    let sha = Sha256Digest::of(&jpeg);
    let now = UtcTimestamp::now();
    let stranger = DeviceId::parse("stranger").unwrap();
    let stale = UtcTimestamp::from_unix_ms(now.unix_ms() - 3_600_000).unwrap();
    let big = vec![7u8; 1024 * 1024 + 1];
    let big_sha = Sha256Digest::of(&big);

    let unsigned = Request::put(path(&sha))
        .body(Body::from(jpeg.clone()))
        .unwrap();
    let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = vec![
        (
            "wrong hash",
            upload(&sha, b"other bytes".to_vec(), &w.device, &w.key, now),
            StatusCode::UNPROCESSABLE_ENTITY,
            "hash_mismatch",
        ),
        (
            "unsigned",
            unsigned,
            StatusCode::UNAUTHORIZED,
            "bad_auth_headers",
        ),
        (
            "unknown device",
            upload(&sha, jpeg.clone(), &stranger, &w.key, now),
            StatusCode::UNAUTHORIZED,
            "unknown_device",
        ),
        (
            "wrong device key",
            upload(
                &sha,
                jpeg.clone(),
                &w.device,
                &DeviceKey::from_seed([1; 32]),
                now,
            ),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            "stale time",
            upload(&sha, jpeg.clone(), &w.device, &w.key, stale),
            StatusCode::UNAUTHORIZED,
            "clock_skew",
        ),
        (
            "oversize",
            upload(&big_sha, big.clone(), &w.device, &w.key, now),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "a page, not evidence",
            retyped(
                upload(&sha, jpeg.clone(), &w.device, &w.key, now),
                Some("text/html"),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "an image that runs script",
            retyped(
                upload(&sha, jpeg.clone(), &w.device, &w.key, now),
                Some("image/svg+xml"),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "no type",
            retyped(upload(&sha, jpeg.clone(), &w.device, &w.key, now), None),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ];
    for (what, request, status, code) in cases {
        let (got, body) = send(&w.app, request).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["error"], code, "{what}: {body}");
    }

    // Oversize without a declared length: counted while streaming.
    let auth = UploadAuth::sign(&w.key, w.device.clone(), &big_sha, now);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let mut request = Request::put(path(&big_sha)).header("content-type", "video/mp4");
    for (name, value) in auth.headers() {
        request = request.header(name, value);
    }
    let streamed = request
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let (got, body) = send(&w.app, streamed).await;
    assert_eq!(got, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    assert!(!evidence::exists(&t.db, &sha).await.unwrap());
    assert!(!w.store.contains(&big_sha).await.unwrap());
    assert!(!w.store.contains(&sha).await.unwrap());
}

/// An object store that is down: the device is told to come back later, nothing is recorded, and
/// the upload goes through once the store answers again.
async fn an_upload_waits_for_an_object_store_that_is_down(t: &TestDb) {
    let mut w = world(t, Kind::S3).await;
    let jpeg = b"\xff\xd8 evidence while the store is down".to_vec();
    let sha = Sha256Digest::of(&jpeg);
    w.object_store.as_mut().unwrap().stop();
    let (status, body) = send(
        &w.app,
        upload(&sha, jpeg.clone(), &w.device, &w.key, UtcTimestamp::now()),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "store_unavailable");
    assert!(!evidence::exists(&t.db, &sha).await.unwrap());
    assert_eq!(
        std::fs::read_dir(w.dir.path().join("incoming"))
            .unwrap()
            .count(),
        0,
        "the spooled upload is cleared"
    );
}

/// Files uploaded ahead of their event count against the device until an event names them:
/// beyond its quota the device waits (and sends again), and nothing it sent is lost.
async fn a_device_holds_only_so_much_evidence_no_event_names(t: &TestDb) {
    let w = world_with(t, Kind::Files, |s| s.unclaimed_max_bytes = 20).await;
    let put = |bytes: &[u8]| {
        upload(
            &Sha256Digest::of(bytes),
            bytes.to_vec(),
            &w.device,
            &w.key,
            UtcTimestamp::now(),
        )
    };
    let first = b"\xff\xd8 twelve bytes".to_vec();
    let second = b"\xff\xd8 the second file".to_vec();
    assert_eq!(send(&w.app, put(&first)).await.0, StatusCode::CREATED);
    let (status, body) = send(&w.app, put(&second)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("unclaimed_quota")),
        "{body}"
    );
    // The same file again is no new byte: answered as stored.
    assert_eq!(send(&w.app, put(&first)).await.0, StatusCode::OK);

    // Its event arrives and names it: the device may send the next one.
    let mut event = ViolationEvent::example_now(w.device.clone(), EventId::new());
    event.evidence.truncate(1);
    event.evidence[0].sha256 = Sha256Digest::of(&first);
    event.evidence[0].bytes = first.len() as u64;
    let payload = wire::encode_signed(&event, &w.key).unwrap();
    Ingest::new(t.db.clone(), IngestMetrics::default())
        .handle(&Topic::Violation(w.device.clone()).to_string(), &payload)
        .await
        .unwrap();
    assert_eq!(send(&w.app, put(&second)).await.0, StatusCode::CREATED);
}

async fn an_event_is_complete_once_every_manifest_file_has_arrived(t: &TestDb) {
    let w = world(t, Kind::Files).await;
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("at.jpg", b"\xff\xd8 at".to_vec()),
        ("plate.jpg", b"\xff\xd8 plate".to_vec()),
    ];
    let mut event = ViolationEvent::example_now(w.device.clone(), EventId::new());
    event.evidence.truncate(files.len());
    for (item, (name, bytes)) in event.evidence.iter_mut().zip(&files) {
        item.name = (*name).into();
        item.sha256 = Sha256Digest::of(bytes);
        item.bytes = bytes.len() as u64;
    }
    let ingest = Ingest::new(t.db.clone(), IngestMetrics::default());
    let payload = wire::encode_signed(&event, &w.key).unwrap();
    ingest
        .handle(&Topic::Violation(w.device.clone()).to_string(), &payload)
        .await
        .unwrap();
    assert_eq!(
        evidence::missing(&t.db, &event.event_id).await.unwrap(),
        ["at.jpg", "plate.jpg"]
    );
    for (i, (_, bytes)) in files.iter().enumerate() {
        let sha = Sha256Digest::of(bytes);
        let (status, _) = send(
            &w.app,
            upload(&sha, bytes.clone(), &w.device, &w.key, UtcTimestamp::now()),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let missing = evidence::missing(&t.db, &event.event_id).await.unwrap();
        assert_eq!(missing.len(), files.len() - i - 1);
    }
}

async fn a_citizen_sees_a_file_only_through_a_valid_link(t: &TestDb) {
    linked(t, Kind::Files).await;
}

async fn a_citizen_sees_a_file_from_the_object_store_through_a_valid_link(t: &TestDb) {
    linked(t, Kind::S3).await;
}

async fn linked(t: &TestDb, kind: Kind) {
    let w = world(t, kind).await;
    let body = b"\xff\xd8 the at.jpg of a red-light run".to_vec();
    let sha = Sha256Digest::of(&body);
    let (status, _) = send(
        &w.app,
        upload(&sha, body.clone(), &w.device, &w.key, UtcTimestamp::now()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let exp = UtcTimestamp::now().unix_ms() / 1000 + 600;
    let get = |uri: String| {
        let app = w.app.clone();
        async move {
            let r = app
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = r.status();
            let header = |name: &str| {
                r.headers()
                    .get(name)
                    .map(|v| v.to_str().unwrap().to_owned())
            };
            let ct = header("content-type");
            if status == StatusCode::OK {
                // Never run as a page of central's, even opened on its own.
                assert_eq!(
                    header("content-security-policy").as_deref(),
                    Some("sandbox; default-src 'none'")
                );
                assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
                let disposition = header("content-disposition").unwrap();
                let inline = ct.as_deref() != Some("application/octet-stream");
                assert_eq!(disposition.starts_with("inline"), inline, "{disposition}");
            }
            let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            (status, ct, bytes.to_vec())
        }
    };
    let good = protocol::evidence_link::link(LINK_SECRET.as_bytes(), &sha, "image/jpeg", exp);
    let (status, ct, bytes) = get(good.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct.as_deref(), Some("image/jpeg"));
    assert_eq!(bytes, body);

    // Another secret, another file under the same signature, another type, a late hour.
    let forged = protocol::evidence_link::link(b"a guess", &sha, "image/jpeg", exp);
    let other = Sha256Digest::of(b"another citizen's clip");
    let moved = good.replace(&sha.to_string(), &other.to_string());
    let retyped = good.replace("image%2Fjpeg", "text%2Fhtml");
    let old = protocol::evidence_link::link(LINK_SECRET.as_bytes(), &sha, "image/jpeg", exp - 3600);
    for uri in [forged, moved, retyped, old] {
        let (status, _, bytes) = get(uri.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
        assert_ne!(bytes, body);
    }
    // A link signed for a type evidence never is: the bytes, as an attachment of bytes.
    let html = protocol::evidence_link::link(LINK_SECRET.as_bytes(), &sha, "text/html", exp);
    let (status, ct, bytes) = get(html).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct.as_deref(), Some("application/octet-stream"));
    assert_eq!(bytes, body);
    // A valid link to a file never uploaded.
    let missing = protocol::evidence_link::link(LINK_SECRET.as_bytes(), &other, "video/mp4", exp);
    assert_eq!(get(missing).await.0, StatusCode::NOT_FOUND);
}

on_both_engines!(
    a_device_holds_only_so_much_evidence_no_event_names,
    a_citizen_sees_a_file_only_through_a_valid_link,
    a_citizen_sees_a_file_from_the_object_store_through_a_valid_link,
    a_signed_upload_is_stored_once_under_its_hash,
    a_signed_upload_is_stored_once_in_the_object_store,
    an_upload_waits_for_an_object_store_that_is_down,
    bad_uploads_are_refused_with_their_reason,
    bad_uploads_to_the_object_store_are_refused_with_their_reason,
    an_event_is_complete_once_every_manifest_file_has_arrived,
    a_full_evidence_disk_refuses_uploads_until_room_returns,
);

/// The evidence disk fills: an upload that does not fit beside the reserve is refused with 507
/// before it is read, one that fills the disk while it is written too (its partial file gone),
/// nothing half-stored is recorded, the refusals are counted; once room returns the same
/// uploads are taken, without a restart.
async fn a_full_evidence_disk_refuses_uploads_until_room_returns(t: &TestDb) {
    let disk = SmallDisk::mount("4m");
    let device = DeviceId::parse("hcm-q1-002").unwrap();
    let key = DeviceKey::from_seed([22; 32]);
    devices::register(&t.db, &device, &key.public_key(), "Ngã Sáu")
        .await
        .unwrap();
    let settings = EvidenceSettings {
        dir: disk.mount.clone(),
        max_bytes: 8 << 20,
        min_free_bytes: 1 << 20,
        ..EvidenceSettings::default()
    };
    let store = EvidenceStore::open(&disk.mount)
        .unwrap()
        .with_min_free(settings.min_free_bytes);
    let app =
        router(AppState::new(t.db.clone(), store.clone(), settings, Default::default()).unwrap());
    let clip = |i: u8| {
        let mut b = vec![i; 900 << 10];
        b[..8].copy_from_slice(b"\x00\x00\x00\x18ftyp");
        b
    };
    let put = |body: Vec<u8>, declared: bool| {
        let sha = Sha256Digest::of(&body);
        let mut r = upload(&sha, body.clone(), &device, &key, UtcTimestamp::now());
        if declared {
            r.headers_mut()
                .insert("content-length", body.len().to_string().parse().unwrap());
        }
        (sha, r)
    };
    // 4 MiB, 1 MiB kept free: two clips of 900 KiB fit, then other files take the disk.
    for i in 0..2 {
        let (_, r) = put(clip(i), true);
        let (status, body) = send(&app, r).await;
        assert_eq!(status, StatusCode::CREATED, "clip {i}: {body}");
    }
    let logs = disk.mount.join("logs");
    std::fs::write(&logs, vec![0u8; 1 << 20]).unwrap();
    // The next, declared, does not fit beside the reserve: refused before it is read.
    let (sha3, r) = put(clip(3), true);
    let (status, body) = send(&app, r).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert_eq!(body["error"], "storage_full");
    assert!(!evidence::exists(&t.db, &sha3).await.unwrap());
    // Undeclared, on a store keeping nothing free, it is read until the disk itself is full:
    // refused the same, nothing left of it.
    let no_reserve = EvidenceStore::open(&disk.mount).unwrap();
    let filler = disk.mount.join("filler");
    let free = no_reserve.disk_room().unwrap();
    std::fs::write(
        &filler,
        vec![0u8; usize::try_from(free).unwrap() - (200 << 10)],
    )
    .unwrap();
    let app0 = router(
        AppState::new(
            t.db.clone(),
            no_reserve.clone(),
            EvidenceSettings {
                dir: disk.mount.clone(),
                max_bytes: 8 << 20,
                min_free_bytes: 0,
                ..EvidenceSettings::default()
            },
            Default::default(),
        )
        .unwrap(),
    );
    let (_, r) = put(clip(3), false);
    let (status, body) = send(&app0, r).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert!(!evidence::exists(&t.db, &sha3).await.unwrap());
    assert_eq!(
        std::fs::read_dir(disk.mount.join("incoming"))
            .unwrap()
            .count(),
        0,
        "the partial upload is removed"
    );
    assert_eq!(no_reserve.metrics.refused_full.get(), 1);
    assert_eq!(store.metrics.refused_full.get(), 1);
    // Room returns: the device's next try is taken, with no restart.
    std::fs::remove_file(&filler).unwrap();
    std::fs::remove_file(&logs).unwrap();
    let (sha, r) = put(clip(3), true);
    let (status, body) = send(&app, r).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(store.read(&sha).await.unwrap().unwrap(), clip(3));
}

/// Central does not start on an object store that refuses its key or lacks the bucket, and says
/// which; one that is not answering yet is waited for.
#[tokio::test]
async fn central_names_what_is_wrong_with_its_object_store() {
    let mut object_store = ObjectStore::start().await;
    let dir = tempfile::tempdir().unwrap();
    let wrong_secret = central_api::evidence_store::S3Settings {
        secret_access_key: "not the secret".into(),
        ..object_store.settings("")
    };
    let e = EvidenceStore::s3(dir.path(), &wrong_secret)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("SignatureDoesNotMatch"), "{e}");
    let no_bucket = central_api::evidence_store::S3Settings {
        bucket: "no-such-bucket".into(),
        ..object_store.settings("")
    };
    let e = EvidenceStore::s3(dir.path(), &no_bucket)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no bucket `no-such-bucket`"), "{e}");

    let settings = object_store.settings("");
    object_store.stop();
    let store = EvidenceStore::s3(dir.path(), &settings).await.unwrap();
    let sha = Sha256Digest::of(b"x");
    let chunks =
        futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"x"))]);
    let e = store.put(&sha, chunks, 10, "image/jpeg").await.unwrap_err();
    assert!(
        matches!(e, central_api::evidence_store::StoreError::Unavailable(_)),
        "{e}"
    );
}
