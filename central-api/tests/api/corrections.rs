//! A citizen's request to correct their personal data: a supervisor records it as it arrived
//! and answers it once; others neither record nor see it; both steps are in the audit trail,
//! which names the citizen masked and never the request's text. Its periods are Decree
//! 356/2025/NĐ-CP's: answered with the procedure within 2 working days, corrected within 10 days
//! (15 at the data's source), extended once by at most 10 days. On PostgreSQL and SQLite.

use axum::http::StatusCode;
use central_api::{
    audit::AuditLog,
    auth::Role,
    db::corrections::{self, Acted, Correction, NewCorrection},
};
use protocol::CitizenId;
use serde_json::json;
use time::{OffsetDateTime, macros::datetime};

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

fn done(acted: Acted) -> Correction {
    match acted {
        Acted::Done(c) => *c,
        other => panic!("not done: {other:?}"),
    }
}

fn at(c: &Correction) -> [OffsetDateTime; 3] {
    [c.reply_by, c.answer_by, c.referred_by].map(|t| t.as_datetime())
}

/// The periods, counted from a request that arrived on Monday 30 November 2026 at 09:00 in
/// Hồ Chí Minh City: answered with the procedure by the end of Wednesday 2 December (two working
/// days), corrected by the end of Thursday 10 December (ten days), or of Tuesday 15 December at
/// the data's source (fifteen). Extended once by five days, the fifteen become twenty and end
/// on Sunday the 20th, so at the end of Monday the 21st; a second extension, or one after the
/// period ran out, is refused; the answer after its period is marked late.
async fn a_correction_requests_periods_are_the_decrees(t: &TestDb) {
    let w = world(t).await;
    let audit = AuditLog::new(w.db.clone());
    let citizen = CitizenId::parse("079203012345").unwrap();
    let received = datetime!(2026-11-30 09:00 +7);
    let new = NewCorrection {
        citizen: &citizen,
        event_id: None,
        channel: "email",
        request: "Số điện thoại của tôi đã đổi.",
        received_at: received,
    };
    let by = "officer:supervisor";
    let first = corrections::record(&w.db, None, &audit, &new, by, received)
        .await
        .unwrap();
    assert_eq!(
        at(&first),
        [
            datetime!(2026-12-03 00:00 +7),
            datetime!(2026-12-11 00:00 +7),
            datetime!(2026-12-16 00:00 +7),
        ]
    );
    assert!(!first.reply_overdue(datetime!(2026-12-02 23:59 +7)));
    assert!(first.reply_overdue(datetime!(2026-12-03 00:00 +7)));
    assert!(first.overdue(datetime!(2026-12-11 00:00 +7)));
    let second = corrections::record(&w.db, None, &audit, &new, by, received)
        .await
        .unwrap();

    // Acknowledged late, once.
    let late_reply = datetime!(2026-12-03 08:00 +7);
    let first = done(
        corrections::acknowledge(&w.db, None, &audit, first.id, by, late_reply)
            .await
            .unwrap(),
    );
    assert_eq!(
        first.acknowledged_at.map(|t| t.as_datetime()),
        Some(late_reply)
    );
    assert!(!first.reply_overdue(late_reply));
    assert_eq!(
        corrections::acknowledge(&w.db, None, &audit, first.id, by, late_reply)
            .await
            .unwrap(),
        Acted::AlreadyDone
    );

    // Extended within the period by five days, once; the other, after its period, not at all.
    let reason = ("Chờ Công an phường xác minh địa chỉ thường trú.", 5);
    let extended = done(
        corrections::extend(
            &w.db,
            None,
            &audit,
            first.id,
            (reason.1, reason.0),
            by,
            datetime!(2026-12-05 10:00 +7),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        at(&extended)[1..],
        [
            datetime!(2026-12-16 00:00 +7),
            datetime!(2026-12-22 00:00 +7)
        ]
    );
    assert_eq!(
        (extended.extended_days, extended.extension_reason.as_deref()),
        (Some(5), Some(reason.0))
    );
    assert_eq!(
        corrections::extend(
            &w.db,
            None,
            &audit,
            first.id,
            (3, "lần nữa"),
            by,
            datetime!(2026-12-06 10:00 +7)
        )
        .await
        .unwrap(),
        Acted::AlreadyDone
    );
    assert_eq!(
        corrections::extend(
            &w.db,
            None,
            &audit,
            second.id,
            (5, "muộn"),
            by,
            datetime!(2026-12-11 00:00 +7)
        )
        .await
        .unwrap(),
        Acted::PeriodOver
    );

    // The first corrected here on 16 December, a day after its extended period: late. The
    // second referred to the data's source on the 15th, past its ten days but within fifteen.
    let answered_at = datetime!(2026-12-16 08:00 +7);
    let first = done(
        corrections::answer(
            &w.db,
            None,
            &audit,
            first.id,
            ("corrected", "Đã cập nhật."),
            by,
            answered_at,
        )
        .await
        .unwrap(),
    );
    assert_eq!(first.answered_late, Some(true));
    let second = done(
        corrections::answer(
            &w.db,
            None,
            &audit,
            second.id,
            ("referred", "Đã chuyển."),
            by,
            datetime!(2026-12-15 08:00 +7),
        )
        .await
        .unwrap(),
    );
    assert_eq!(second.answered_late, Some(false));
    assert_eq!(
        corrections::acknowledge(&w.db, None, &audit, second.id, by, answered_at)
            .await
            .unwrap(),
        Acted::AlreadyAnswered
    );

    // Audited: the days of the extension, never its reason's words.
    let trail = audit
        .for_subject(&format!("correction:{}", first.id))
        .await
        .unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "correction.recorded",
            "correction.acknowledged",
            "correction.extended",
            "correction.answered"
        ]
    );
    assert_eq!(trail[2].details, json!({ "days": 5 }));
    let leaked = count(
        &w.db,
        "SELECT COUNT(*) FROM audit_log WHERE details LIKE '%Công an phường%'",
    )
    .await;
    assert_eq!(leaked, 0);
}

/// Through the API and the page: a request past its periods is marked so, may still be
/// acknowledged but no longer extended; one just arrived is extended by 1 to 10 days only.
async fn the_supervisor_sees_the_periods_and_acts_on_them(t: &TestDb) {
    let w = world(t).await;
    let supervisor = w.sign_in(Role::Supervisor).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let asked = |received_at: Option<&str>| {
        json!({
            "citizen_id": "079203012345",
            "channel": "portal",
            "request": "Sai ngày sinh.",
            "received_at": received_at,
        })
    };
    let old =
        protocol::UtcTimestamp::from_datetime(OffsetDateTime::now_utc() - time::Duration::days(60));
    let old = serde_json::to_value(old).unwrap();
    let old = old.as_str().unwrap();
    let (_, late) = w
        .call(supervisor.post("/api/v1/corrections", asked(Some(old))))
        .await;
    let (_, fresh) = w
        .call(supervisor.post("/api/v1/corrections", asked(None)))
        .await;
    let (late, fresh) = (late["id"].as_str().unwrap(), fresh["id"].as_str().unwrap());

    let page = crate::disputes::page(&w, &supervisor, "/review/corrections").await;
    let overdue = page.matches("class=\"reply overdue\"").count()
        + page.matches("class=\"answer overdue\"").count();
    assert_eq!(overdue, 2, "the late request's two periods: {page}");
    assert!(page.contains(&format!("/review/corrections/{fresh}/extend")));
    assert!(
        !page.contains(&format!("/review/corrections/{late}/extend")),
        "too late to extend"
    );

    let extend = |id: &str| format!("/api/v1/corrections/{id}/extend");
    let (status, _) = w
        .call(reviewer.post(&extend(fresh), json!({ "days": 5, "reason": "x" })))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for days in [0, 11] {
        let (status, body) = w
            .call(supervisor.post(&extend(fresh), json!({ "days": days, "reason": "x" })))
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_days")),
            "{days}"
        );
    }
    let (status, body) = w
        .call(supervisor.post(&extend(late), json!({ "days": 5, "reason": "x" })))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("period_over"))
    );
    let (status, body) = w
        .call(supervisor.post(
            &extend(fresh),
            json!({ "days": 10, "reason": "Chờ xác minh." }),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["extended_days"], 10);
    let (status, body) = w
        .call(supervisor.post(&extend(fresh), json!({ "days": 1, "reason": "x" })))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("already_done"))
    );

    let acknowledge = format!("/api/v1/corrections/{late}/acknowledge");
    let (status, body) = w.call(supervisor.post(&acknowledge, json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["acknowledged_by"], "officer:supervisor");
    let (status, body) = w.call(supervisor.post(&acknowledge, json!({}))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("already_done"))
    );
    let page = crate::disputes::page(&w, &supervisor, "/review/corrections").await;
    assert_eq!(
        page.matches("class=\"reply overdue\"").count(),
        0,
        "acknowledged"
    );
    assert!(page.contains("Chờ xác minh."), "the reason shown");
}

on_both_engines!(
    a_correction_request_is_recorded_and_answered_once,
    a_correction_requests_periods_are_the_decrees,
    the_supervisor_sees_the_periods_and_acts_on_them,
);
