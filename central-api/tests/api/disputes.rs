//! An owner's dispute reaches the supervisors' list; only a supervisor answers it, once; the
//! fine is upheld or cancelled, the answer is queued with it and relayed to citizen-notify's
//! resolution intake, and a cancelled fine stays cancelled whatever is reported later.

use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{Request, StatusCode, Uri, header},
    routing::post,
};
use central_api::{auth::Role, config::NotifySettings, db::review::fine_of, relay::Relay};
use protocol::{DisputeOutcome, EventId, FineChange, FineResolution, UtcTimestamp, wire};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;

use crate::{
    helpers::{TestDb, audit_actions, on_both_engines, report},
    review::{SECOND_SUPERVISOR, Session, World, confirmed_by, world},
};

/// Confirms a violation of 51F-123.45 and reports the owner's explanation of its notice.
pub(crate) async fn disputed(w: &World, reviewer: &Session) -> (EventId, uuid::Uuid) {
    let (id, fine_id, _) = w.confirmed(reviewer).await;
    report(
        &w.db,
        fine_id,
        FineChange::Disputed {
            reason: "Xe của tôi hôm đó ở Đà Nẵng; biển số bị làm giả.".into(),
        },
    )
    .await;
    (id, fine_id)
}

pub(crate) async fn page(w: &World, s: &Session, uri: &str) -> String {
    let response = w
        .app
        .clone()
        .oneshot(
            Request::get(uri)
                .header(header::COOKIE, format!("tve_session={}", s.token))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// What the stand-in for citizen-notify was sent: path and body.
type Sent = Arc<Mutex<Vec<(String, Bytes)>>>;

/// A stand-in for citizen-notify: keeps the path and body of what it is sent.
async fn notify_stub(got: Sent) -> String {
    async fn keep(State(got): State<Sent>, uri: Uri, body: Bytes) -> StatusCode {
        got.lock().unwrap().push((uri.path().to_owned(), body));
        StatusCode::CREATED
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/api/v1/notices", post(keep))
        .route("/api/v1/resolutions", post(keep))
        .with_state(got);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn a_supervisor_answers_a_dispute_once_and_the_owner_is_told(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let supervisor = w.sign_in(Role::Supervisor).await;
    let (id, fine_id) = disputed(&w, &reviewer).await;

    let (status, open) = w.call(reviewer.get("/api/v1/disputes")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(open["items"][0]["event_id"], id.to_string());
    assert!(
        open["items"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("Đà Nẵng")
    );
    let list = page(&w, &supervisor, "/review/disputes").await;
    assert!(list.contains("biển số bị làm giả"), "{list}");
    let detail = page(&w, &supervisor, &format!("/review/violations/{id}")).await;
    assert!(detail.contains("id=\"dispute-reason\""));
    assert!(detail.contains("id=\"resolve-form\""));
    let as_reviewer = page(&w, &reviewer, &format!("/review/violations/{id}")).await;
    assert!(!as_reviewer.contains("id=\"resolve-form\""));

    let resolve = format!("/api/v1/violations/{id}/resolve");
    let answer = "Camera ghi nhận rõ biển số và đặc điểm xe; quyết định được giữ nguyên.";
    let (status, body) = w
        .call(reviewer.post(&resolve, json!({ "outcome": "upheld", "answer": answer })))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    for bad in [
        json!({ "outcome": "maybe", "answer": answer }),
        json!({ "outcome": "upheld", "answer": "  " }),
    ] {
        let (status, _) = w.call(supervisor.post(&resolve, bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "disputed"
    );

    // A cancellation waits for a second supervisor; the fine stays disputed meanwhile.
    let asked = w
        .call(supervisor.post(
            &resolve,
            json!({ "outcome": "cancelled", "answer": answer }),
        ))
        .await;
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "disputed"
    );
    let second = w.sign_in_as(SECOND_SUPERVISOR).await;
    let body = confirmed_by(&w, &second, asked).await;
    let resolution: FineResolution = serde_json::from_value(body).unwrap();
    assert_eq!(resolution.fine_id, fine_id);
    assert_eq!(resolution.outcome, DisputeOutcome::Cancelled);
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "cancelled"
    );
    let (status, body) = w
        .call(supervisor.post(&resolve, json!({ "outcome": "upheld", "answer": answer })))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("not_disputed"))
    );
    let (_, open) = w.call(supervisor.get("/api/v1/disputes")).await;
    assert_eq!(open["items"], json!([]));

    // A payment reported afterwards does not bring a cancelled fine back.
    report(
        &w.db,
        fine_id,
        FineChange::Paid {
            amount_vnd: 19_000_000,
            transaction_no: "14123456".into(),
            paid_at: UtcTimestamp::now(),
        },
    )
    .await;
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "cancelled"
    );

    let (_, one) = w
        .call(supervisor.get(&format!("/api/v1/violations/{id}")))
        .await;
    let actions = audit_actions(&one);
    assert!(actions.contains(&"fine.cancelled"), "{actions:?}");
    let detail = page(&w, &supervisor, &format!("/review/violations/{id}")).await;
    assert!(detail.contains("id=\"dispute-answer\""));

    // The notice and the answer both go to citizen-notify, each to its own intake.
    let got = Arc::new(Mutex::new(Vec::new()));
    let relay = Relay::new(
        NotifySettings {
            url: notify_stub(got.clone()).await,
            shared_secret: "s".into(),
            ..NotifySettings::default()
        },
        None,
    )
    .unwrap();
    assert_eq!(
        relay
            .deliver_due(
                &w.db,
                &central_api::audit::AuditLog::new(w.db.clone()),
                OffsetDateTime::now_utc()
            )
            .await
            .unwrap(),
        2
    );
    let got = got.lock().unwrap();
    let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/api/v1/notices", "/api/v1/resolutions"]);
    let sent = wire::decode::<FineResolution>(&got[1].1).unwrap();
    assert_eq!(sent, resolution);
    let sent: Value = serde_json::from_slice(&got[1].1).unwrap();
    assert_eq!(sent["schema"], "tve.fine_resolution");
}

async fn a_supervisor_withdraws_an_approval_or_reopens_a_rejection(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let supervisor = w.sign_in(Role::Supervisor).await;
    let second = w.sign_in_as(SECOND_SUPERVISOR).await;
    let note = "Xe cứu thương đang làm nhiệm vụ; hình ảnh cho thấy đèn ưu tiên bật.";

    // An approval withdrawn: the fine cancelled, the owner told why, the violation rejected.
    let id = w.pending("51F12345").await;
    let reverse = format!("/api/v1/violations/{id}/reverse");
    let (status, body) = w
        .call(supervisor.post(&reverse, json!({ "note": note })))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("not_decided")),
        "nothing decided yet"
    );
    let (status, body) = w
        .call(reviewer.post(&format!("/api/v1/violations/{id}/approve"), json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fine_id = body["notice"]["fine_id"].as_str().unwrap().to_owned();
    let withdraw = json!({ "reason": "emergency_vehicle", "note": note });
    let (status, body) = w.call(reviewer.post(&reverse, withdraw.clone())).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "reviewers do not reverse"
    );
    for bad in [
        json!({ "reason": "emergency_vehicle", "note": " " }),
        json!({ "reason": "because", "note": note }),
        json!({ "note": note }),
    ] {
        let (status, body) = w.call(supervisor.post(&reverse, bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let detail = page(&w, &supervisor, &format!("/review/violations/{id}")).await;
    assert!(detail.contains("id=\"reverse-form\""));
    let as_reviewer = page(&w, &reviewer, &format!("/review/violations/{id}")).await;
    assert!(!as_reviewer.contains("id=\"reverse-form\""));
    let asked = w.call(supervisor.post(&reverse, withdraw.clone())).await;
    let body = confirmed_by(&w, &second, asked).await;
    assert_eq!(body["status"], "rejected");
    assert_eq!(body["resolution"]["fine_id"], fine_id.as_str());
    assert_eq!(body["resolution"]["outcome"], "cancelled");
    assert_eq!(body["resolution"]["answer"], note);
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "cancelled"
    );
    let (_, one) = w
        .call(supervisor.get(&format!("/api/v1/violations/{id}")))
        .await;
    assert_eq!(one["status"], "rejected");
    assert_eq!(one["reject_reason"], "emergency_vehicle");
    assert!(audit_actions(&one).contains(&"violation.reversed"));
    // Done once: the owner was told the decision is cancelled, so it is not reopened.
    let (status, body) = w.call(supervisor.post(&reverse, withdraw.clone())).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("fine_final"))
    );

    // A rejection reopened: back in the queue, and approved afresh.
    let id = w.pending("51F12345").await;
    let (status, _) = w
        .call(reviewer.post(
            &format!("/api/v1/violations/{id}/reject"),
            json!({ "reason": "plate_unreadable" }),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let asked = w
        .call(supervisor.post(
            &format!("/api/v1/violations/{id}/reverse"),
            json!({ "note": "Biển số đọc được trên ảnh thứ hai." }),
        ))
        .await;
    let body = confirmed_by(&w, &second, asked).await;
    assert_eq!(
        (body["status"].as_str(), &body["resolution"]),
        (Some("pending_review"), &Value::Null)
    );
    let (status, body) = w
        .call(reviewer.post(&format!("/api/v1/violations/{id}/approve"), json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A disputed fine is answered through the dispute; a paid one stays paid.
    let (disputed_id, _) = disputed(&w, &reviewer).await;
    let (status, body) = w
        .call(supervisor.post(
            &format!("/api/v1/violations/{disputed_id}/reverse"),
            withdraw.clone(),
        ))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("disputed"))
    );
    let paid_id = w.pending("51F12345").await;
    let (_, body) = w
        .call(reviewer.post(&format!("/api/v1/violations/{paid_id}/approve"), json!({})))
        .await;
    let paid_fine = uuid::Uuid::parse_str(body["notice"]["fine_id"].as_str().unwrap()).unwrap();
    report(
        &w.db,
        paid_fine,
        FineChange::Paid {
            amount_vnd: 19_000_000,
            transaction_no: "14422574".into(),
            paid_at: UtcTimestamp::now(),
        },
    )
    .await;
    let (status, body) = w
        .call(supervisor.post(&format!("/api/v1/violations/{paid_id}/reverse"), withdraw))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("fine_final"))
    );
    assert_eq!(
        fine_of(&w.db, None, &paid_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        "paid"
    );
}

on_both_engines!(
    a_supervisor_answers_a_dispute_once_and_the_owner_is_told,
    a_supervisor_withdraws_an_approval_or_reopens_a_rejection,
);
