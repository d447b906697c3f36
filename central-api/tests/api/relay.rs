//! The outbox relay delivers each notice of violation, and each penalty decision, to
//! citizen-notify, signed with the shared secret; a failed delivery waits and is tried again,
//! only a 2xx marks it done, and a refused one is not sent again until an administrator asks,
//! the refusal in the case's audit trail.

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
use central_api::{
    audit::AuditLog, config::NotifySettings, db::review::outbox_pending, relay::Relay,
};
use protocol::{FineChange, PenaltyDecision, UtcTimestamp, ViolationNotice, service_auth, wire};
use time::OffsetDateTime;

use crate::helpers::{TestDb, issue_one, on_both_engines, report};

const SECRET: &str = "a secret shared with citizen-notify";

/// A stand-in for citizen-notify's intake: checks the signature, refuses the first `fail`
/// deliveries with 503, then keeps what it is sent.
#[derive(Clone, Default)]
struct Receiver {
    fail: Arc<AtomicUsize>,
    /// Refuse the next deliveries as citizen-notify refuses a message it will never take.
    refuse: Arc<AtomicUsize>,
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
    if r.refuse.load(Ordering::SeqCst) > 0 {
        r.refuse.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::UNPROCESSABLE_ENTITY;
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
    Relay::new(
        NotifySettings {
            url,
            shared_secret: secret.into(),
            ..NotifySettings::default()
        },
        None,
    )
    .unwrap()
}

async fn a_notice_is_delivered_once_with_its_signature(t: &TestDb) {
    let id = issue_one(t).await;
    let receiver = Receiver::default();
    let relay = relay(serve(receiver.clone()).await, SECRET);
    assert_eq!(
        relay
            .deliver_due(&t.db, &audit(t), OffsetDateTime::now_utc())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        relay
            .deliver_due(&t.db, &audit(t), OffsetDateTime::now_utc())
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
    let status = central_api::db::review::fine_of(&t.db, None, &id)
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
    assert_eq!(relay.deliver_due(&t.db, &audit(t), now).await.unwrap(), 0);
    assert_eq!(outbox_pending(&t.db).await.unwrap().len(), 1);
    assert_eq!(relay.deliver_due(&t.db, &audit(t), now).await.unwrap(), 0);
    assert!(receiver.received.lock().unwrap().is_empty());

    // Later, with the receiver back, it goes through.
    let much_later = now + time::Duration::hours(1);
    assert_eq!(
        relay
            .deliver_due(&t.db, &audit(t), much_later)
            .await
            .unwrap(),
        1
    );
    assert_eq!(receiver.received.lock().unwrap().len(), 1);
    assert!(outbox_pending(&t.db).await.unwrap().is_empty());
}

fn audit(t: &TestDb) -> AuditLog {
    AuditLog::new(t.db.clone())
}

/// A refusal — the message itself (422), or a secret the receiver does not share (401) — is
/// final: the notice is not sent again by itself, the case's trail says why, and an
/// administrator sends it again once the cause is fixed.
async fn a_refused_notice_waits_for_an_administrator_in_the_cases_trail(t: &TestDb) {
    let id = issue_one(t).await;
    let receiver = Receiver::default();
    receiver.refuse.store(1, Ordering::SeqCst);
    let url = serve(receiver.clone()).await;
    let now = OffsetDateTime::now_utc();
    let relay = relay(url.clone(), SECRET);
    assert_eq!(relay.deliver_due(&t.db, &audit(t), now).await.unwrap(), 0);
    let much_later = now + time::Duration::days(2);
    assert_eq!(
        relay
            .deliver_due(&t.db, &audit(t), much_later)
            .await
            .unwrap(),
        0,
        "a refusal is not retried"
    );
    assert!(receiver.received.lock().unwrap().is_empty());
    let refused = central_api::relay::refused(&t.db).await.unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].kind, "violation_notice");
    assert!(refused[0].error.starts_with("422"), "{:?}", refused[0]);
    let trail = audit(t)
        .for_subject(&format!("violation:{id}"))
        .await
        .unwrap();
    let entry = trail
        .iter()
        .find(|e| e.action == "outbox.refused")
        .expect("the refusal is in the case's trail");
    assert_eq!(entry.details["kind"], "violation_notice");

    // Sent again as an administrator asks; refused again, by a relay whose secret is wrong.
    let row = refused[0].id;
    assert!(
        central_api::relay::retry_refused(&t.db, &audit(t), "admin:cli", row)
            .await
            .unwrap()
    );
    assert!(
        !central_api::relay::retry_refused(&t.db, &audit(t), "admin:cli", row)
            .await
            .unwrap(),
        "only a refused message is sent again"
    );
    let wrong = self::relay(url, "not the secret we share");
    assert_eq!(
        wrong
            .deliver_due(&t.db, &audit(t), much_later)
            .await
            .unwrap(),
        0
    );
    let refused = central_api::relay::refused(&t.db).await.unwrap();
    assert!(refused[0].error.starts_with("401"), "{:?}", refused[0]);

    // The secret set right and the message sent again: delivered, once.
    central_api::relay::retry_refused(&t.db, &audit(t), "admin:cli", row)
        .await
        .unwrap();
    let later_still = much_later + time::Duration::minutes(1);
    assert_eq!(
        relay
            .deliver_due(&t.db, &audit(t), later_still)
            .await
            .unwrap(),
        1
    );
    assert_eq!(receiver.received.lock().unwrap().len(), 1);
    assert!(outbox_pending(&t.db).await.unwrap().is_empty());
    assert_eq!(central_api::relay::refused(&t.db).await.unwrap(), []);
    let retried = audit(t)
        .for_subject(&format!("outbox:{row}"))
        .await
        .unwrap();
    assert_eq!(retried.len(), 2, "each retry is on record");
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
            .deliver_due(&t.db, &audit(t), OffsetDateTime::now_utc())
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
    assert_eq!(relay.deliver_due(&t.db, &audit(t), now).await.unwrap(), 1);
    let fine_id = receiver.received.lock().unwrap()[0].fine_id;
    report(&t.db, fine_id, FineChange::Confirmed).await;
    let later = now + time::Duration::days(8);
    let decision = central_api::db::decisions::decide(
        &t.db,
        &audit(t),
        &id,
        (("sanctioning", "Trưởng phòng CSGT"), "officer:sanctioning"),
        &Default::default(),
        later,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(relay.deliver_due(&t.db, &audit(t), later).await.unwrap(), 1);
    assert_eq!(*receiver.decisions.lock().unwrap(), [decision]);
    assert_eq!(
        receiver.received.lock().unwrap().len(),
        1,
        "the notice once"
    );
    assert!(outbox_pending(&t.db).await.unwrap().is_empty());
}

on_both_engines!(
    a_refused_notice_waits_for_an_administrator_in_the_cases_trail,
    a_decision_goes_to_the_decisions_intake,
    a_notice_is_delivered_once_with_its_signature,
    a_failed_delivery_waits_and_is_tried_again,
    an_unreachable_citizen_notify_keeps_the_notice,
);
