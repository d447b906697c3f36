//! Notices from central-api: authenticated by the shared-secret HMAC, decoded strictly, stored
//! once per fine id.

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use citizen_notify::{
    config::{DeliverySettings, IntakeSettings, PaymentSettings, PortalSettings},
    db::{delivery_of, notices_of, resolution_of},
    routes::{AppState, router},
    signin::Oidc,
};
use protocol::{DisputeOutcome, FineResolution, UtcTimestamp, service_auth, wire};
use serde_json::Value;
use tower::ServiceExt;

use crate::helpers::{TestDb, key, notice, on_both_engines};

const SECRET: &[u8] = b"a secret shared with central-api";

fn app(t: &TestDb, secret: &str) -> Router {
    router(AppState {
        db: t.db.clone(),
        sealing: crate::helpers::key().clone(),
        intake: IntakeSettings {
            shared_secret: secret.into(),
            max_clock_skew_s: 300,
        },
        payment: PaymentSettings::default(),
        oidc: std::sync::Arc::new(Oidc::new(PortalSettings::default())),
        // A push channel: each new notice gets its delivery.
        delivery: DeliverySettings {
            push_url: "http://app-backend.invalid/api/v1/push".into(),
            push_secret: "the secret shared with the app".into(),
            ..DeliverySettings::default()
        },
    })
}

fn post(body: Vec<u8>, signature: Option<String>) -> Request<Body> {
    post_to("/api/v1/notices", body, signature)
}

fn post_to(path: &str, body: Vec<u8>, signature: Option<String>) -> Request<Body> {
    let mut r = Request::post(path).header("content-type", "application/json");
    if let Some(s) = signature {
        r = r.header(service_auth::SIGNATURE_HEADER, s);
    }
    r.body(Body::from(body)).unwrap()
}

fn signed(body: Vec<u8>) -> Request<Body> {
    signed_to("/api/v1/notices", body)
}

fn signed_to(path: &str, body: Vec<u8>) -> Request<Body> {
    let signature = service_auth::sign(SECRET, UtcTimestamp::now(), &body);
    post_to(path, body, Some(signature))
}

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

async fn a_notice_is_stored_once(t: &TestDb) {
    let app = app(t, std::str::from_utf8(SECRET).unwrap());
    let n = notice();
    let body = wire::encode(&n).unwrap();
    let (status, reply) = call(&app, signed(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let (status, reply) = call(&app, signed(body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["created"], false);
    assert_eq!(
        notices_of(&t.db, key(), "079203012345").await.unwrap(),
        std::slice::from_ref(&n)
    );
    let fine_id = n.fine_id.hyphenated().to_string();
    let delivery = delivery_of(&t.db, &fine_id, "push").await.unwrap().unwrap();
    assert_eq!((delivery.state.as_str(), delivery.attempts), ("pending", 0));

    // Another notice under the same fine id is refused; the first stands.
    let mut other = n.clone();
    other.place = "Ngã sáu Gò Vấp".into();
    let (status, reply) = call(&app, signed(wire::encode(&other).unwrap())).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    assert_eq!(notices_of(&t.db, key(), "079203012345").await.unwrap(), [n]);
}

async fn unauthenticated_or_malformed_notices_are_refused(t: &TestDb) {
    let app = app(t, std::str::from_utf8(SECRET).unwrap());
    let body = wire::encode(&notice()).unwrap();
    let stale = service_auth::sign(
        SECRET,
        UtcTimestamp::from_unix_ms(UtcTimestamp::now().unix_ms() - 3_600_000).unwrap(),
        &body,
    );
    let forged = service_auth::sign(b"not the shared secret", UtcTimestamp::now(), &body);
    let cases = [
        (
            "unsigned",
            post(body.clone(), None),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            "stale",
            post(body.clone(), Some(stale)),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            "forged",
            post(body.clone(), Some(forged)),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            "not a notice",
            signed(b"{\"hello\":1}".to_vec()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
        ),
        (
            "not json",
            signed(b"{".to_vec()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed_json",
        ),
    ];
    for (what, request, status, code) in cases {
        let (got, reply) = call(&app, request).await;
        assert_eq!(
            (got, reply["error"].as_str()),
            (status, Some(code)),
            "{what}: {reply}"
        );
    }
    assert!(
        notices_of(&t.db, key(), "079203012345")
            .await
            .unwrap()
            .is_empty()
    );

    // With no secret configured, nothing is accepted.
    let closed = self::app(t, "");
    let (status, reply) = call(&closed, signed(body)).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("disabled"))
    );
}

async fn a_dispute_answer_is_stored_once_for_a_known_fine(t: &TestDb) {
    let app = app(t, std::str::from_utf8(SECRET).unwrap());
    let n = notice();
    let (status, _) = call(&app, signed(wire::encode(&n).unwrap())).await;
    assert_eq!(status, StatusCode::CREATED);
    let resolution = FineResolution {
        resolution_id: uuid::Uuid::now_v7(),
        fine_id: n.fine_id,
        decided_at: UtcTimestamp::now(),
        outcome: DisputeOutcome::Cancelled,
        answer: "Biển số bị làm giả; quyết định được hủy.".into(),
        ground: protocol::ResolutionGround::Dispute,
    };
    let body = wire::encode(&resolution).unwrap();
    let path = "/api/v1/resolutions";
    let (status, reply) = call(&app, signed_to(path, body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let (status, reply) = call(&app, signed_to(path, body.clone())).await;
    assert_eq!(
        (status, &reply["created"]),
        (StatusCode::OK, &Value::Bool(false))
    );
    let fine_id = n.fine_id.hyphenated().to_string();
    let stored = resolution_of(&t.db, key(), &fine_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.outcome, stored.ground, stored.answer.as_str()),
        (
            DisputeOutcome::Cancelled,
            protocol::ResolutionGround::Dispute,
            resolution.answer.as_str()
        )
    );

    let (status, reply) = call(&app, post_to(path, body, None)).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_signature"))
    );
    let mut unknown = resolution.clone();
    unknown.resolution_id = uuid::Uuid::now_v7();
    unknown.fine_id = uuid::Uuid::now_v7();
    let (status, reply) = call(&app, signed_to(path, wire::encode(&unknown).unwrap())).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_fine"))
    );
}

async fn a_penalty_decision_is_stored_once_for_a_known_case(t: &TestDb) {
    let app = app(t, std::str::from_utf8(SECRET).unwrap());
    let n = notice();
    let d = crate::helpers::decision(&n);
    let body = wire::encode(&d).unwrap();
    let path = "/api/v1/decisions";
    // Before its notice: nothing to decide on.
    let (status, reply) = call(&app, signed_to(path, body.clone())).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_fine"))
    );
    let (status, _) = call(&app, signed(wire::encode(&n).unwrap())).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, reply) = call(&app, signed_to(path, body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let (status, reply) = call(&app, signed_to(path, body.clone())).await;
    assert_eq!(
        (status, &reply["created"]),
        (StatusCode::OK, &Value::Bool(false))
    );
    // A second decision on one case is refused; the first stands.
    let mut second = crate::helpers::decision(&n);
    second.amount_vnd = 20_000_000;
    let (status, reply) = call(&app, signed_to(path, wire::encode(&second).unwrap())).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let fine_id = n.fine_id.hyphenated().to_string();
    assert_eq!(
        citizen_notify::db::decision_of(&t.db, key(), &fine_id)
            .await
            .unwrap(),
        Some(d)
    );
    let (status, reply) = call(&app, post_to(path, body, None)).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_signature"))
    );
}

on_both_engines!(
    a_penalty_decision_is_stored_once_for_a_known_case,
    a_dispute_answer_is_stored_once_for_a_known_fine,
    a_notice_is_stored_once,
    unauthenticated_or_malformed_notices_are_refused,
);

/// The database's disk fills: a notice central sends is answered 507 (central keeps it and
/// sends it again), nothing of it is stored, what was stored stays; once room returns the same
/// notice is taken, without a restart. On SQLite, whose file is on the service's own disk.
#[tokio::test]
async fn a_full_database_disk_refuses_notices_until_room_returns() {
    let disk = service_kit::db_testing::SmallDisk::mount("4m");
    let t = TestDb::sqlite_at(
        &disk.mount.join("notify.db"),
        &citizen_notify::db::MIGRATIONS,
    )
    .await;
    let app = app(&t, std::str::from_utf8(SECRET).unwrap());
    let first = notice();
    let (status, reply) = call(&app, signed(wire::encode(&first).unwrap())).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    // Other files take the disk, all but a few kilobytes.
    let filler = disk.mount.join("filler");
    std::fs::write(&filler, vec![0u8; usize::try_from(disk.free()).unwrap()]).unwrap_or(());
    // Fill to the last block: the write above stops where the disk does.
    let mut later = Vec::new();
    let mut refused = None;
    for _ in 0..200 {
        let mut n = notice();
        n.place = "x".repeat(2000);
        let (status, reply) = call(&app, signed(wire::encode(&n).unwrap())).await;
        if status == StatusCode::CREATED {
            later.push(n);
            continue;
        }
        refused = Some((status, reply, n));
        break;
    }
    let (status, reply, n) = refused.expect("the full disk refuses a notice");
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{reply}");
    assert_eq!(reply["error"], "storage_full");
    let stored = notices_of(&t.db, key(), "079203012345").await.unwrap();
    assert!(
        !stored.contains(&n),
        "nothing of the refused notice is kept"
    );
    assert!(stored.contains(&first) && later.iter().all(|l| stored.contains(l)));
    std::fs::remove_file(&filler).unwrap();
    let (status, reply) = call(&app, signed(wire::encode(&n).unwrap())).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "taken once room returns: {reply}"
    );
    assert!(
        notices_of(&t.db, key(), "079203012345")
            .await
            .unwrap()
            .contains(&n)
    );
}
