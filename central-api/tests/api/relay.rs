//! The outbox relay delivers each notice of violation, and each penalty decision, to
//! citizen-notify, signed with the shared secret; a refused or failed delivery waits and is
//! tried again, and only a 2xx marks it done.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    routing::post,
};
use central_api::{config::NotifySettings, db::review::outbox_pending, relay::Relay};
use protocol::{FineChange, PenaltyDecision, UtcTimestamp, ViolationNotice, service_auth, wire};
use time::OffsetDateTime;

use crate::helpers::{TestDb, issue_one, on_both_engines, report};

const SECRET: &str = "a secret shared with citizen-notify";

/// A stand-in for citizen-notify's intake: checks the signature, refuses the first `fail`
/// deliveries with 503, then keeps what it is sent.
#[derive(Clone, Default)]
struct Receiver {
    fail: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<ViolationNotice>>>,
    decisions: Arc<Mutex<Vec<PenaltyDecision>>>,
}

async fn intake(
    State(r): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = headers
        .get(service_auth::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let skew = std::time::Duration::from_secs(60);
    if service_auth::verify(SECRET.as_bytes(), header, &body, UtcTimestamp::now(), skew).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    if r.fail.load(Ordering::SeqCst) > 0 {
        r.fail.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match uri.path() {
        "/api/v1/decisions" => r
            .decisions
            .lock()
            .unwrap()
            .push(wire::decode::<PenaltyDecision>(&body).unwrap()),
        _ => r
            .received
            .lock()
            .unwrap()
            .push(wire::decode::<ViolationNotice>(&body).unwrap()),
    }
    StatusCode::CREATED
}

async fn serve(receiver: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/api/v1/notices", post(intake))
        .route("/api/v1/decisions", post(intake))
        .with_state(receiver);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn relay(url: String, secret: &str) -> Relay {
    Relay::new(NotifySettings {
        url,
        shared_secret: secret.into(),
        ..NotifySettings::default()
    })
    .unwrap()
}

async fn a_notice_is_delivered_once_with_its_signature(t: &TestDb) {
    let id = issue_one(t).await;
    let receiver = Receiver::default();
    let relay = relay(serve(receiver.clone()).await, SECRET);
    assert_eq!(
        relay
            .deliver_due(&t.db, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        relay
            .deliver_due(&t.db, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        0
    );
    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].event_id, id);
    // The notice names the event's evidence, for the citizen's page: the images, and never
    // the camera's own clip, which has no masked copy in this event.
    let names: Vec<&str> = received[0]
        .evidence
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert!(
        names.contains(&"at.jpg") && !names.contains(&"clip.mp4"),
        "{names:?}"
    );
    // And the owner's mobile number on record, for the SMS.
    assert_eq!(
        received[0]
            .contact
            .as_ref()
            .and_then(|c| c.phone.as_deref()),
        Some("0901234567")
    );
    assert!(outbox_pending(&t.db).await.unwrap().is_empty());
    let status = central_api::db::review::fine_of(&t.db, &id)
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(status, "notice_sent");
}

async fn a_failed_delivery_waits_and_is_tried_again(t: &TestDb) {
    issue_one(t).await;
    let receiver = Receiver::default();
    receiver.fail.store(1, Ordering::SeqCst);
    let url = serve(receiver.clone()).await;
    let now = OffsetDateTime::now_utc();

    // Refused: still pending, and not due again at once.
    let relay = relay(url.clone(), SECRET);
    assert_eq!(relay.deliver_due(&t.db, now).await.unwrap(), 0);
    assert_eq!(outbox_pending(&t.db).await.unwrap().len(), 1);
    assert_eq!(relay.deliver_due(&t.db, now).await.unwrap(), 0);
    assert!(receiver.received.lock().unwrap().is_empty());

    // A relay with the wrong secret is refused by the receiver: nothing is marked delivered.
    let later = now + time::Duration::minutes(10);
    let wrong = self::relay(url.clone(), "not the secret we share");
    assert_eq!(wrong.deliver_due(&t.db, later).await.unwrap(), 0);

    // Later, with the receiver back and the right secret, it goes through.
    let much_later = now + time::Duration::hours(1);
    assert_eq!(relay.deliver_due(&t.db, much_later).await.unwrap(), 1);
    assert_eq!(receiver.received.lock().unwrap().len(), 1);
    assert!(outbox_pending(&t.db).await.unwrap().is_empty());
}

async fn an_unreachable_citizen_notify_keeps_the_notice(t: &TestDb) {
    issue_one(t).await;
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let relay = relay(format!("http://127.0.0.1:{port}"), SECRET);
    assert_eq!(
        relay
            .deliver_due(&t.db, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        0
    );
    assert_eq!(outbox_pending(&t.db).await.unwrap().len(), 1);
}

async fn a_decision_goes_to_the_decisions_intake(t: &TestDb) {
    let id = issue_one(t).await;
    let receiver = Receiver::default();
    let relay = relay(serve(receiver.clone()).await, SECRET);
    let now = OffsetDateTime::now_utc();
    assert_eq!(relay.deliver_due(&t.db, now).await.unwrap(), 1);
    let fine_id = receiver.received.lock().unwrap()[0].fine_id;
    report(&t.db, fine_id, FineChange::Confirmed).await;
    let later = now + time::Duration::days(8);
    let decision = central_api::db::decisions::decide(
        &t.db,
        &central_api::audit::AuditLog::new(t.db.clone()),
        &id,
        (("sanctioning", "Trưởng phòng CSGT"), "officer:sanctioning"),
        &Default::default(),
        later,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(relay.deliver_due(&t.db, later).await.unwrap(), 1);
    assert_eq!(*receiver.decisions.lock().unwrap(), [decision]);
    assert_eq!(
        receiver.received.lock().unwrap().len(),
        1,
        "the notice once"
    );
    assert!(outbox_pending(&t.db).await.unwrap().is_empty());
}

on_both_engines!(
    a_decision_goes_to_the_decisions_intake,
    a_notice_is_delivered_once_with_its_signature,
    a_failed_delivery_waits_and_is_tried_again,
    an_unreachable_citizen_notify_keeps_the_notice,
);
