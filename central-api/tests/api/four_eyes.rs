//! Four eyes: an officer's role or password, a device's key, a reversal and a cancellation are
//! only asked for by one officer and made when another, allowed to make them, confirms. Nobody
//! confirms their own request; a refused, withdrawn or lapsed request changes nothing; each
//! step is in the audit log.

use axum::http::StatusCode;
use central_api::{
    audit::AuditLog,
    auth::Role,
    ingest::{Ingest, IngestMetrics, Outcome},
};
use protocol::{DeviceKey, EventId, Topic, ViolationEvent, wire};
use serde_json::{Value, json};

use crate::{
    helpers::{TestDb, on_both_engines, raw},
    review::{SECOND_ADMIN, SECOND_SUPERVISOR, Session, World, confirmed_by, world},
};

fn confirm(s: &Session, request: &Value) -> axum::http::Request<axum::body::Body> {
    let id = request["request_id"].as_str().unwrap();
    s.post(&format!("/api/v1/requests/{id}/confirm"), json!({}))
}

fn refuse(s: &Session, request: &Value, note: &str) -> axum::http::Request<axum::body::Body> {
    let id = request["request_id"].as_str().unwrap();
    s.post(
        &format!("/api/v1/requests/{id}/refuse"),
        json!({ "note": note }),
    )
}

/// The role officer `username` signs in with (password of the world).
async fn role_of(w: &World, username: &str, password: &str) -> Option<String> {
    let (status, body) = w.try_sign_in(username, password).await;
    (status == StatusCode::OK).then(|| body["role"].as_str().unwrap().to_owned())
}

fn error(answer: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (answer.0, answer.1["error"].as_str())
}

pub(crate) async fn an_officer_is_given_a_role_only_when_a_second_administrator_confirms(
    t: &TestDb,
) {
    let w = world(t).await;
    let admin = w.sign_in(Role::Admin).await;
    let second = w.sign_in_as(SECOND_ADMIN).await;
    let supervisor = w.sign_in(Role::Supervisor).await;
    let password = "mật khẩu mới của người duyệt";
    let promote = || {
        admin.post(
            "/api/v1/officers",
            json!({ "username": "reviewer", "full_name": "Cán bộ duyệt", "role": "admin",
                    "password": password }),
        )
    };

    // Asked: nothing changes yet, and the answer carries no password.
    let (status, asked) = w.call(promote()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{asked}");
    assert_eq!(asked["kind"], "officer.save");
    assert_eq!(asked["subject"], "officer:reviewer");
    assert_eq!(asked["requested_by"], "admin");
    assert_eq!(asked["change"]["role"], "admin");
    assert!(!asked.to_string().contains("argon2"), "{asked}");
    assert_eq!(
        role_of(&w, "reviewer", crate::review::PASSWORD)
            .await
            .as_deref(),
        Some("reviewer")
    );
    assert_eq!(role_of(&w, "reviewer", password).await, None);

    // The same change asked again waits on the first; its requester cannot confirm it, nor can
    // an officer who may not make it; a reviewer does not even see it.
    assert_eq!(
        error(&w.call(promote()).await),
        (StatusCode::CONFLICT, Some("request_waiting"))
    );
    assert_eq!(
        error(&w.call(confirm(&admin, &asked)).await),
        (StatusCode::CONFLICT, Some("second_officer_needed"))
    );
    assert_eq!(
        error(&w.call(confirm(&supervisor, &asked)).await),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let reviewer = w.sign_in(Role::Reviewer).await;
    let (_, list) = w.call(reviewer.get("/api/v1/requests")).await;
    assert_eq!(list["items"], json!([]));
    let (_, list) = w.call(second.get("/api/v1/requests")).await;
    assert_eq!(
        list["items"][0]["request_id"], asked["request_id"],
        "{list}"
    );
    assert_eq!(list["items"][0]["change"]["password"], "set");

    // Refused by the second administrator: nothing changed, and it cannot be confirmed after.
    let (status, refused) = w
        .call(refuse(&second, &asked, "Không có quyết định bổ nhiệm."))
        .await;
    assert_eq!(
        (status, refused["status"].as_str()),
        (StatusCode::OK, Some("refused"))
    );
    assert_eq!(
        error(&w.call(confirm(&second, &asked)).await),
        (StatusCode::CONFLICT, Some("request_settled"))
    );
    assert_eq!(
        role_of(&w, "reviewer", crate::review::PASSWORD)
            .await
            .as_deref(),
        Some("reviewer")
    );

    // Asked again and confirmed: made as the second administrator's, naming who asked.
    let made = confirmed_by(&w, &second, w.call(promote()).await).await;
    assert_eq!(made["role"], "admin");
    assert_eq!(
        role_of(&w, "reviewer", password).await.as_deref(),
        Some("admin")
    );
    let trail = AuditLog::new(w.db.clone())
        .for_subject("officer:reviewer")
        .await
        .unwrap();
    let steps: Vec<(&str, &str)> = trail
        .iter()
        .filter(|e| e.action.starts_with("officer.save"))
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("officer:admin", "officer.save.requested"),
            ("officer:admin.b", "officer.save.refused"),
            ("officer:admin", "officer.save.requested"),
            ("officer:admin.b", "officer.saved"),
        ]
    );
    let saved = trail.iter().find(|e| e.action == "officer.saved").unwrap();
    assert_eq!(saved.details["requested_by"], "admin");
    assert!(
        !trail
            .iter()
            .any(|e| e.details.to_string().contains("argon2"))
    );

    // A change to the second administrator's own account is not theirs to confirm.
    let (status, own) = w
        .call(admin.post(
            "/api/v1/officers",
            json!({ "username": SECOND_ADMIN, "full_name": "Quản trị thứ hai", "role": "admin",
                    "password": "mật khẩu mà người yêu cầu biết" }),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{own}");
    assert_eq!(
        error(&w.call(confirm(&second, &own)).await),
        (StatusCode::CONFLICT, Some("second_officer_needed"))
    );
}

async fn a_device_key_is_replaced_only_when_a_second_administrator_confirms(t: &TestDb) {
    let w = world(t).await;
    let admin = w.sign_in(Role::Admin).await;
    let second = w.sign_in_as(SECOND_ADMIN).await;
    let forged = DeviceKey::from_seed([99; 32]);
    let ingest = Ingest::new(w.db.clone(), IngestMetrics::default());
    let send = async |key: &DeviceKey| {
        let event = ViolationEvent::example_now(w.device.clone(), EventId::new());
        ingest
            .handle(
                &Topic::Violation(w.device.clone()).to_string(),
                &wire::encode_signed(&event, key).unwrap(),
            )
            .await
            .unwrap()
    };
    let rotate = || {
        admin.post(
            "/api/v1/devices",
            json!({ "id": w.device.as_str(), "public_key": forged.public_key().to_base64() }),
        )
    };

    // An administrator alone cannot put a key of their own on a device.
    let (status, asked) = w.call(rotate()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{asked}");
    assert!(matches!(send(&forged).await, Outcome::Refused { .. }));
    assert!(matches!(send(&w.key).await, Outcome::Stored(_)));
    assert_eq!(
        error(&w.call(confirm(&admin, &asked)).await),
        (StatusCode::CONFLICT, Some("second_officer_needed"))
    );
    // The requester withdraws it; asked again, it lapses after three days unconfirmed.
    let (status, withdrawn) = w.call(refuse(&admin, &asked, "Nhầm khóa.")).await;
    assert_eq!(
        (status, withdrawn["status"].as_str()),
        (StatusCode::OK, Some("withdrawn"))
    );
    let (_, asked) = w.call(rotate()).await;
    raw(
        &w.db,
        "UPDATE requests SET requested_at = '2026-01-01T00:00:00Z' WHERE status = 'pending'",
    )
    .await
    .unwrap();
    assert_eq!(
        error(&w.call(confirm(&second, &asked)).await),
        (StatusCode::CONFLICT, Some("request_settled"))
    );
    let (_, list) = w.call(second.get("/api/v1/requests")).await;
    assert_eq!(list["items"], json!([]), "a lapsed request no longer waits");
    assert!(matches!(send(&forged).await, Outcome::Refused { .. }));

    // Asked anew and confirmed: the new key signs, the old one no longer does.
    confirmed_by(&w, &second, w.call(rotate()).await).await;
    assert!(matches!(send(&forged).await, Outcome::Stored(_)));
    assert!(matches!(send(&w.key).await, Outcome::Refused { .. }));
}

async fn a_reversal_waits_for_a_second_supervisor_on_the_violation_page(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let supervisor = w.sign_in(Role::Supervisor).await;
    let second = w.sign_in_as(SECOND_SUPERVISOR).await;
    let (id, _, _) = w.confirmed(&reviewer).await;
    let (status, asked) = w
        .call(supervisor.post(
            &format!("/api/v1/violations/{id}/reverse"),
            json!({ "reason": "not_a_violation", "note": "Đèn vàng, không phải đèn đỏ." }),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{asked}");
    let (_, one) = w
        .call(reviewer.get(&format!("/api/v1/violations/{id}")))
        .await;
    assert_eq!(one["status"], "approved", "not reversed alone");

    // On the page: the requester may withdraw, the second supervisor confirm; while it waits
    // no second reversal is offered; a reviewer sees none of it.
    let page = |s: &Session| {
        let uri = format!("/review/violations/{id}");
        let w = &w;
        let request = s.get(&uri);
        async move {
            let (_, _, body) = w.call_bytes(request).await;
            String::from_utf8(body).unwrap()
        }
    };
    let own = page(&supervisor).await;
    assert!(
        own.contains("id=\"requests\"") && own.contains("refuse-request"),
        "{own}"
    );
    assert!(!own.contains("confirm-request") && !own.contains("id=\"reverse-form\""));
    let other = page(&second).await;
    assert!(other.contains("confirm-request"), "{other}");
    assert!(!page(&reviewer).await.contains("id=\"requests\""));

    let (status, confirmed) = w.call(confirm(&second, &asked)).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["result"]["status"], "rejected");
    assert_eq!(confirmed["request"]["decided_by"], SECOND_SUPERVISOR);
    let (_, one) = w
        .call(reviewer.get(&format!("/api/v1/violations/{id}")))
        .await;
    assert_eq!(one["status"], "rejected");
    let reversed = one["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "violation.reversed")
        .unwrap()
        .clone();
    assert_eq!(reversed["actor"], "officer:supervisor.b", "{reversed}");
    assert_eq!(
        reversed["details"]["requested_by"], "supervisor",
        "{reversed}"
    );
}

on_both_engines!(
    an_officer_is_given_a_role_only_when_a_second_administrator_confirms,
    a_device_key_is_replaced_only_when_a_second_administrator_confirms,
    a_reversal_waits_for_a_second_supervisor_on_the_violation_page,
);
