//! What citizen-notify reports about a fine (`POST /api/v1/fine-updates`): signed with the
//! shared secret, stored once per update id, the fine's status moved forward only, each in the
//! violation's audit trail.

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use central_api::{
    config::NotifySettings,
    db::review::{fine_of, outbox_pending},
    evidence_store::EvidenceStore,
    routes::router,
    state::AppState,
};
use protocol::{FineChange, FineUpdate, UtcTimestamp, service_auth, wire};
use serde_json::Value;
use tower::ServiceExt;

use crate::helpers::{TestDb, issue_one, on_both_engines};

pub(crate) const SECRET: &str = "a secret shared with citizen-notify";

pub(crate) fn app(t: &TestDb, dir: &std::path::Path) -> Router {
    let mut state = AppState::new(
        t.db.clone(),
        EvidenceStore::open(dir).unwrap(),
        Default::default(),
        Default::default(),
    )
    .unwrap();
    state.notify = NotifySettings {
        shared_secret: SECRET.into(),
        ..NotifySettings::default()
    };
    router(state)
}

pub(crate) fn update(fine_id: uuid::Uuid, change: FineChange) -> FineUpdate {
    FineUpdate {
        update_id: uuid::Uuid::now_v7(),
        fine_id,
        at: UtcTimestamp::now(),
        change,
        documents: Vec::new(),
    }
}

pub(crate) async fn send(app: &Router, u: &FineUpdate, secret: &str) -> (StatusCode, Value) {
    send_bytes(app, wire::encode(u).unwrap(), secret).await
}

async fn send_bytes(app: &Router, body: Vec<u8>, secret: &str) -> (StatusCode, Value) {
    let request = Request::post("/api/v1/fine-updates").header("content-type", "application/json");
    signed_call(app, request, body, secret).await
}

/// Sends `request` with `body` signed with `secret`, as citizen-notify calls central: the
/// status and the JSON answered (`null` for none).
pub(crate) async fn signed_call(
    app: &Router,
    request: axum::http::request::Builder,
    body: Vec<u8>,
    secret: &str,
) -> (StatusCode, Value) {
    let signature = service_auth::sign(secret.as_bytes(), UtcTimestamp::now(), &body);
    let request = request
        .header(service_auth::SIGNATURE_HEADER, signature)
        .body(Body::from(body))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn the_fine_moves_forward_once_per_update_and_is_audited(t: &TestDb) {
    let event = issue_one(t).await;
    let fine_id: uuid::Uuid = outbox_pending(&t.db).await.unwrap()[0].1.parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = app(t, dir.path());
    let status = || async { fine_of(&t.db, None, &event).await.unwrap().unwrap().status };

    let delivered = update(
        fine_id,
        FineChange::NoticeDelivered {
            channel: "push".into(),
        },
    );
    let (code, body) = send(&app, &delivered, SECRET).await;
    assert_eq!(
        (code, body["status"].as_str()),
        (StatusCode::CREATED, Some("notice_delivered"))
    );
    let (code, body) = send(&app, &delivered, SECRET).await;
    assert_eq!(
        (code, body["duplicate"].as_bool()),
        (StatusCode::OK, Some(true))
    );

    // Forged, unknown, malformed: refused, nothing changes.
    let paid = update(
        fine_id,
        FineChange::Paid {
            amount_vnd: 19_000_000,
            transaction_no: "14000001".into(),
            paid_at: UtcTimestamp::now(),
        },
    );
    let (code, _) = send(&app, &paid, "not the shared secret").await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, body) = send(
        &app,
        &update(uuid::Uuid::now_v7(), FineChange::Confirmed),
        SECRET,
    )
    .await;
    assert_eq!(
        (code, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_fine"))
    );
    let free = String::from_utf8(wire::encode(&paid).unwrap())
        .unwrap()
        .replace("\"amount_vnd\":19000000", "\"amount_vnd\":0");
    assert!(free.contains("\"amount_vnd\":0"), "{free}");
    let (code, body) = send_bytes(&app, free.into_bytes(), SECRET).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(status().await, "notice_delivered");

    let (code, body) = send(&app, &paid, SECRET).await;
    assert_eq!(
        (code, body["status"].as_str()),
        (StatusCode::CREATED, Some("paid"))
    );
    // A report that arrives late does not move a paid fine back.
    let late = update(fine_id, FineChange::Confirmed);
    let (code, body) = send(&app, &late, SECRET).await;
    assert_eq!(
        (code, body["status"].as_str()),
        (StatusCode::CREATED, Some("paid"))
    );
    assert_eq!(status().await, "paid");

    let trail = central_api::audit::AuditLog::new(t.db.clone())
        .for_subject(&format!("violation:{event}"))
        .await
        .unwrap();
    let actions: Vec<&str> = trail
        .iter()
        .filter(|e| e.actor == "service:citizen-notify")
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        actions,
        ["fine.notice_delivered", "fine.paid", "fine.confirmed"]
    );
}

on_both_engines!(the_fine_moves_forward_once_per_update_and_is_audited);
