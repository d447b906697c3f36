//! A citizen's request to correct their personal data: a supervisor records it as it arrived
//! and answers it once; others neither record nor see it; both steps are in the audit trail,
//! which names the citizen masked and never the request's text. On PostgreSQL and SQLite.

use axum::http::StatusCode;
use central_api::{audit::AuditLog, auth::Role};
use serde_json::json;

use crate::{
    helpers::{TestDb, count, on_both_engines},
    review::world,
};

async fn a_correction_request_is_recorded_and_answered_once(t: &TestDb) {
    let w = world(t).await;
    let supervisor = w.sign_in(Role::Supervisor).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let case = w.pending("51F12345").await;
    let asked = json!({
        "citizen_id": "079203012345",
        "event_id": case.to_string(),
        "channel": "post",
        "request": "Địa chỉ trên thông báo ghi sai số nhà: đúng là 12 Lê Lợi.",
        "received_at": "2026-11-30T02:00:00Z",
    });

    let (status, _) = w
        .call(reviewer.post("/api/v1/corrections", asked.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a reviewer records none");
    for (field, value, code) in [
        ("citizen_id", json!("07920301234"), "invalid_citizen_id"),
        ("channel", json!("telegram"), "invalid_channel"),
        ("request", json!("  "), "invalid_text"),
        ("received_at", json!("2999-01-01T00:00:00Z"), "invalid_time"),
    ] {
        let mut bad = asked.clone();
        bad[field] = value;
        let (status, body) = w.call(supervisor.post("/api/v1/corrections", bad)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{field}: {body}"
        );
    }
    let mut elsewhere = asked.clone();
    elsewhere["event_id"] = json!(protocol::EventId::new().to_string());
    let (status, _) = w
        .call(supervisor.post("/api/v1/corrections", elsewhere))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no such case");

    let (status, recorded) = w
        .call(supervisor.post("/api/v1/corrections", asked.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    assert_eq!(recorded["channel"], "post");
    assert_eq!(recorded["received_at"], "2026-11-30T02:00:00.000Z");
    assert!(recorded["answered_at"].is_null());
    let id = recorded["id"].as_str().unwrap().to_owned();

    let (status, _) = w.call(reviewer.get("/api/v1/corrections")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, open) = w.call(supervisor.get("/api/v1/corrections")).await;
    assert_eq!(open["items"].as_array().unwrap().len(), 1);
    assert_eq!(open["items"][0]["id"], id.as_str());
    let page = crate::disputes::page(&w, &supervisor, "/review/corrections").await;
    assert!(page.contains(&format!("data-id=\"{id}\"")), "{page}");
    assert!(page.contains("id=\"correction-form\""));
    let page = crate::disputes::page(&w, &reviewer, "/review/corrections").await;
    assert!(!page.contains("id=\"correction-form\"") && !page.contains(&id));

    let answer = format!("/api/v1/corrections/{id}/answer");
    let (status, body) = w
        .call(supervisor.post(&answer, json!({ "outcome": "maybe", "answer": "x" })))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_outcome"))
    );
    let reply = json!({
        "outcome": "referred",
        "answer": "Địa chỉ lấy từ Cơ sở dữ liệu quốc gia về dân cư; yêu cầu đã chuyển đến Công an phường.",
    });
    let (status, _) = w.call(reviewer.post(&answer, reply.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, answered) = w.call(supervisor.post(&answer, reply.clone())).await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["outcome"], "referred");
    assert_eq!(answered["answered_by"], "officer:supervisor");
    let (status, body) = w
        .call(supervisor.post(&answer, json!({ "outcome": "refused", "answer": "Không." })))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("already_answered"))
    );
    let (status, _) = w
        .call(supervisor.post(
            &format!("/api/v1/corrections/{}/answer", uuid::Uuid::now_v7()),
            reply,
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, open) = w.call(supervisor.get("/api/v1/corrections")).await;
    assert_eq!(open["items"], json!([]));
    let page = crate::disputes::page(&w, &supervisor, "/review/corrections").await;
    assert!(page.contains("id=\"corrections-empty\""), "{page}");
    let (_, theirs) = w
        .call(supervisor.get("/api/v1/corrections?citizen_id=079203012345"))
        .await;
    assert_eq!(theirs["items"][0]["outcome"], "referred");
    let (_, others) = w
        .call(supervisor.get("/api/v1/corrections?citizen_id=079203099999"))
        .await;
    assert_eq!(others["items"], json!([]));

    // Audited: who recorded and answered, the citizen masked, not what they wrote.
    let trail = AuditLog::new(w.db.clone())
        .for_subject(&format!("correction:{id}"))
        .await
        .unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["correction.recorded", "correction.answered"]);
    assert_eq!(trail[0].details["citizen"], "********2345");
    let leaked = count(
        &w.db,
        "SELECT COUNT(*) FROM audit_log WHERE subject LIKE 'correction:%'
           AND (details LIKE '%Lê Lợi%' OR details LIKE '%079203012345%')",
    )
    .await;
    assert_eq!(leaked, 0);
}

on_both_engines!(a_correction_request_is_recorded_and_answered_once);
