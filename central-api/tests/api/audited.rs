//! Every officer's decision on a case and its audit entry commit together: while the entry
//! cannot be written (the log's table unwritable, as a full disk would leave it) the decision is
//! not taken either — the plate stays as read, the case pending, the fine undecided, the dispute
//! open, the approval standing — and once the log takes entries again the same decision is taken
//! and on record.

use axum::http::StatusCode;
use central_api::{
    audit::AuditLog,
    auth::Role,
    db::{
        decisions::{self, Asked},
        fine_updates,
        review::fine_of,
    },
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::{
    disputes::disputed,
    helpers::{TestDb, audit_actions, audit_writable, on_both_engines},
    review::{SECOND_SUPERVISOR, Session, World, world},
};

/// The confirmation, as `second`, of the request `asked` answered with.
fn confirm(second: &Session, asked: &serde_json::Value) -> axum::http::Request<axum::body::Body> {
    let id = asked["request_id"].as_str().unwrap();
    second.post(&format!("/api/v1/requests/{id}/confirm"), json!({}))
}

/// The violation as the API shows it, with its audit trail.
async fn violation(w: &World, s: &Session, id: impl std::fmt::Display) -> serde_json::Value {
    let (status, one) = w.call(s.get(&format!("/api/v1/violations/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    one
}

/// `request` refused while the log is down (its table unwritable); the log is up again after.
async fn refused_while_down(w: &World, request: axum::http::Request<axum::body::Body>) {
    audit_writable(&w.db, false).await;
    let (status, body) = w.call(request).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    audit_writable(&w.db, true).await;
}

/// `request` done: its answer.
async fn done(w: &World, request: axum::http::Request<axum::body::Body>) -> serde_json::Value {
    let (status, body) = w.call(request).await;
    assert!(status.is_success(), "{status} {body}");
    body
}

async fn a_decision_on_a_case_is_taken_only_with_its_audit_entry(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let supervisor = w.sign_in(Role::Supervisor).await;
    let second = w.sign_in_as(SECOND_SUPERVISOR).await;

    // A plate corrected, then the violation confirmed.
    let id = w.pending("51F12846").await;
    let correct = || {
        reviewer.post(
            &format!("/api/v1/violations/{id}/plate"),
            json!({ "plate": "51F-123.45" }),
        )
    };
    refused_while_down(&w, correct()).await;
    let one = violation(&w, &reviewer, id).await;
    assert_eq!(one["plate"], "51F12846", "not corrected unaudited");
    done(&w, correct()).await;
    let one = violation(&w, &reviewer, id).await;
    assert_eq!(one["plate"], "51F12345");
    assert!(audit_actions(&one).contains(&"plate.corrected"));

    // Confirmed by another officer than the one who corrected the plate.
    let approve = || supervisor.post(&format!("/api/v1/violations/{id}/approve"), json!({}));
    refused_while_down(&w, approve()).await;
    assert_eq!(
        violation(&w, &reviewer, id).await["status"],
        "pending_review"
    );
    assert!(
        fine_of(&w.db, None, &id).await.unwrap().is_none(),
        "no case opened"
    );
    done(&w, approve()).await;
    let one = violation(&w, &reviewer, id).await;
    assert_eq!(one["status"], "approved");
    assert!(audit_actions(&one).contains(&"violation.confirmed"));

    // The approval withdrawn: asked by a supervisor (the request too is kept only with its
    // entry), confirmed by another (the request stays waiting while the change cannot be made).
    let reverse = || {
        supervisor.post(
            &format!("/api/v1/violations/{id}/reverse"),
            json!({ "reason": "not_a_violation", "note": "Đèn vàng, không phải đèn đỏ." }),
        )
    };
    refused_while_down(&w, reverse()).await;
    let asked = done(&w, reverse()).await;
    refused_while_down(&w, confirm(&second, &asked)).await;
    assert_eq!(violation(&w, &supervisor, id).await["status"], "approved");
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "issued"
    );
    done(&w, confirm(&second, &asked)).await;
    let one = violation(&w, &supervisor, id).await;
    assert_eq!(one["status"], "rejected");
    assert!(audit_actions(&one).contains(&"violation.reversed"));

    // A rejection reopened by a supervisor.
    let id = w.pending("51F12345").await;
    let (status, _) = w
        .call(reviewer.post(
            &format!("/api/v1/violations/{id}/reject"),
            json!({ "reason": "duplicate" }),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let reopen = || {
        supervisor.post(
            &format!("/api/v1/violations/{id}/reverse"),
            json!({ "note": "Không trùng: hai lần vượt đèn khác nhau." }),
        )
    };
    let asked = done(&w, reopen()).await;
    refused_while_down(&w, confirm(&second, &asked)).await;
    assert_eq!(violation(&w, &supervisor, id).await["status"], "rejected");
    done(&w, confirm(&second, &asked)).await;
    let one = violation(&w, &supervisor, id).await;
    assert_eq!(one["status"], "pending_review");
    assert!(
        audit_actions(&one)
            .iter()
            .filter(|a| **a == "violation.reversed")
            .count()
            == 1
    );

    // A dispute answered.
    let (id, _) = disputed(&w, &reviewer).await;
    let resolve = || {
        supervisor.post(
            &format!("/api/v1/violations/{id}/resolve"),
            json!({ "outcome": "upheld", "answer": "Hình ảnh cho thấy rõ biển số." }),
        )
    };
    refused_while_down(&w, resolve()).await;
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "disputed"
    );
    done(&w, resolve()).await;
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "upheld"
    );
    assert!(audit_actions(&violation(&w, &supervisor, id).await).contains(&"fine.upheld"));

    // The penalty decision on the upheld case.
    let later = OffsetDateTime::now_utc() + Duration::days(8);
    let audit = AuditLog::new(w.db.clone());
    let asked = Asked::default();
    let decide = || {
        decisions::decide(
            &w.db,
            &audit,
            &id,
            (("chief", "Trưởng phòng CSGT"), "officer:chief"),
            &asked,
            later,
        )
    };
    audit_writable(&w.db, false).await;
    assert!(decide().await.is_err(), "no decision unaudited");
    audit_writable(&w.db, true).await;
    assert_eq!(
        fine_of(&w.db, None, &id)
            .await
            .unwrap()
            .unwrap()
            .decision_number,
        None
    );
    let decision = decide().await.unwrap().unwrap();
    assert_eq!(
        decision.decision_number, "000001/QĐ-XPHC",
        "no number spent"
    );
    assert!(audit_actions(&violation(&w, &supervisor, id).await).contains(&"fine.decided"));
}

/// What citizen-notify reports is taken with its entry or not at all: a report refused while
/// the log is down is taken, and recorded, when it is sent again — not answered "taken before"
/// and left out of the trail.
async fn a_fine_update_is_taken_only_with_its_audit_entry(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let (id, fine_id, _) = w.confirmed(&reviewer).await;
    let update = protocol::FineUpdate {
        update_id: uuid::Uuid::now_v7(),
        fine_id,
        at: protocol::UtcTimestamp::now(),
        change: protocol::FineChange::Confirmed,
        documents: Vec::new(),
    };
    let payload = String::from_utf8(protocol::wire::encode(&update).unwrap()).unwrap();
    let audit = AuditLog::new(w.db.clone());
    let apply = || fine_updates::apply(&w.db, &audit, &update, (&payload, None));
    audit_writable(&w.db, false).await;
    assert!(apply().await.is_err());
    audit_writable(&w.db, true).await;
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "issued"
    );
    assert!(matches!(
        apply().await.unwrap(),
        fine_updates::Applied::New { .. }
    ));
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "confirmed"
    );
    let one = violation(&w, &reviewer, id).await;
    assert!(audit_actions(&one).contains(&"fine.confirmed"), "{one}");
    assert!(matches!(
        apply().await.unwrap(),
        fine_updates::Applied::Duplicate
    ));
}

/// Reads of personal data are on record under the officer who read: a violation opened with its
/// owner, a vehicle's history searched by plate, a citizen's licence points; while the record
/// cannot be written, the data is not shown.
async fn reads_of_personal_data_are_on_record_before_they_are_answered(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let id = w.pending("51F12345").await;
    let reads = [
        (
            format!("/api/v1/violations/{id}"),
            "violation.viewed",
            json!({ "violation": id.to_string(), "owner": "079203012345" }),
        ),
        (
            "/api/v1/violations?status=all&plate=51F-123.45".to_owned(),
            "plate.searched",
            json!({ "plate": "51F12345" }),
        ),
        (
            "/api/v1/citizens/079203012345/licence-points?licence=car".to_owned(),
            "licence_points.viewed",
            json!({ "citizen": "079203012345", "licence": "car" }),
        ),
        (
            format!("/review/violations/{id}"),
            "violation.viewed",
            json!({ "violation": id.to_string(), "owner": "079203012345" }),
        ),
    ];
    let log = AuditLog::new(w.db.clone());
    for (uri, action, details) in reads {
        audit_writable(&w.db, false).await;
        let (status, _, _) = w.call_bytes(reviewer.get(&uri)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        audit_writable(&w.db, true).await;
        let before = log.for_subject("officer:reviewer").await.unwrap().len();
        let (status, _, _) = w.call_bytes(reviewer.get(&uri)).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let mine = log.for_subject("officer:reviewer").await.unwrap();
        assert_eq!(mine.len(), before + 1, "{uri}");
        let entry = mine.last().unwrap();
        assert_eq!((entry.action.as_str(), &entry.details), (action, &details));
    }
    // The queue without a plate searched is not a search of anyone's history.
    let before = log.for_subject("officer:reviewer").await.unwrap().len();
    let (status, _) = w.call(reviewer.get("/api/v1/violations")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        log.for_subject("officer:reviewer").await.unwrap().len(),
        before
    );
}

/// Administration, too: a device revoked, an officer disabled, a camera saved, the schedule
/// amended and a change asked of a second officer are made only with their entries.
async fn administration_is_done_only_with_its_audit_entry(t: &TestDb) {
    use central_api::db::{cameras, devices, fines::load_schedule, requests};

    let w = world(t).await;
    let admin = w.sign_in(Role::Admin).await;
    let rules = load_schedule(&w.db).await.unwrap().rules.len();
    let day = (OffsetDateTime::now_utc()
        .to_offset(protocol::time::VIETNAM)
        .date()
        + Duration::days(30))
    .to_string();
    let change = |i: usize| match i {
        0 => admin.send("DELETE", "/api/v1/devices/hcm-q1-001", json!({})),
        1 => admin.send("DELETE", "/api/v1/officers/reviewer", json!({})),
        2 => admin.send(
            "PUT",
            "/api/v1/devices/hcm-q1-001/cameras/cam-1",
            json!({
                "camera": "cam-1",
                "site": { "name": "Ngã tư Hàng Xanh", "latitude": 10.8013,
                          "longitude": 106.7115, "address": "", "direction": "" },
                "geometry": {}, "speed_limit_kmh": 60.0, "speed_limits_kmh": {},
                "red_grace_s": 0.5
            }),
        ),
        3 => admin.post(
            "/api/v1/fine-schedule",
            json!({
                "effective_from": day,
                "rules": [{ "kind": "red_light", "vehicle": "car", "min_vnd": 20_000_000,
                            "max_vnd": 22_000_000, "points": 6,
                            "reference": "Điểm a khoản 10 Điều 6" }]
            }),
        ),
        _ => admin.post(
            "/api/v1/officers",
            json!({ "username": "lan.tt", "full_name": "Trần Thị Lan", "role": "reviewer",
                    "password": "một mật khẩu đủ dài" }),
        ),
    };
    let waiting = async || {
        requests::waiting(&w.db, None, OffsetDateTime::now_utc())
            .await
            .unwrap()
            .len()
    };
    // Camera settings are read before the device is revoked below.
    for i in [2, 3, 4, 1, 0] {
        refused_while_down(&w, change(i)).await;
    }
    assert!(
        devices::active_key(&w.db, &w.device)
            .await
            .unwrap()
            .is_some(),
        "not revoked"
    );
    assert_eq!(
        w.try_sign_in("reviewer", crate::review::PASSWORD).await.0,
        StatusCode::OK
    );
    assert!(
        cameras::of_device(&w.db, &w.device)
            .await
            .unwrap()
            .is_empty(),
        "no camera"
    );
    assert_eq!(
        load_schedule(&w.db).await.unwrap().rules.len(),
        rules,
        "not amended"
    );
    assert_eq!(waiting().await, 0, "not asked");
    for i in [2, 3, 4, 1, 0] {
        done(&w, change(i)).await;
    }
    assert!(
        devices::active_key(&w.db, &w.device)
            .await
            .unwrap()
            .is_none()
    );
    assert_ne!(
        w.try_sign_in("reviewer", crate::review::PASSWORD).await.0,
        StatusCode::OK
    );
    assert_eq!(cameras::of_device(&w.db, &w.device).await.unwrap().len(), 1);
    assert_eq!(load_schedule(&w.db).await.unwrap().rules.len(), rules + 1);
    assert_eq!(waiting().await, 1);
    let log = AuditLog::new(w.db.clone());
    let actions = |entries: Vec<central_api::audit::AuditEntry>| -> Vec<String> {
        entries.into_iter().map(|e| e.action).collect()
    };
    assert_eq!(
        actions(log.for_subject("device:hcm-q1-001").await.unwrap()),
        ["camera.saved", "device.revoked"]
    );
    assert_eq!(
        actions(log.for_subject("fine_schedule").await.unwrap()),
        ["fine_schedule.amended"]
    );
    assert_eq!(
        actions(log.for_subject("officer:lan.tt").await.unwrap()),
        ["officer.save.requested"]
    );
    assert!(
        actions(log.for_subject("officer:reviewer").await.unwrap())
            .contains(&"officer.disabled".to_owned())
    );
}

/// A sign-in opens its session only with its entry, and a refused one is counted toward the
/// lock only with its entry.
async fn a_sign_in_is_made_only_with_its_audit_entry(t: &TestDb) {
    use crate::helpers::count;

    let w = world(t).await;
    let sessions = "SELECT COUNT(*) FROM sessions WHERE username = 'reviewer'";
    let failures =
        "SELECT CAST(failed_sign_ins AS BIGINT) FROM officers WHERE username = 'reviewer'";
    let wrong = "not the reviewer's password";
    audit_writable(&w.db, false).await;
    assert_eq!(
        w.try_sign_in("reviewer", wrong).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let right = crate::review::PASSWORD;
    assert_eq!(
        w.try_sign_in("reviewer", right).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    audit_writable(&w.db, true).await;
    assert_eq!(
        count(&w.db, sessions).await,
        0,
        "no session opened unrecorded"
    );
    assert_eq!(
        count(&w.db, failures).await,
        0,
        "no failure counted unrecorded"
    );

    assert_eq!(
        w.try_sign_in("reviewer", wrong).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(count(&w.db, failures).await, 1);
    w.sign_in(Role::Reviewer).await;
    assert_eq!(count(&w.db, sessions).await, 1);
    assert_eq!(
        count(&w.db, failures).await,
        0,
        "a sign-in starts the count again"
    );
    let trail: Vec<String> = AuditLog::new(w.db.clone())
        .for_subject("officer:reviewer")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(trail, ["officer.sign_in_failed", "officer.signed_in"]);
}

on_both_engines!(
    a_sign_in_is_made_only_with_its_audit_entry,
    administration_is_done_only_with_its_audit_entry,
    reads_of_personal_data_are_on_record_before_they_are_answered,
    a_decision_on_a_case_is_taken_only_with_its_audit_entry,
    a_fine_update_is_taken_only_with_its_audit_entry
);
