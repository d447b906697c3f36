//! The case as the law runs it: the reviewer's confirmation issues a notice of violation that
//! decides nothing; the owner answers; only an officer with sanctioning authority decides, once,
//! after the explanation period where the law gives one, at the middle of the range unless a
//! stated circumstance moves it; the decision deducts the licence points and goes to
//! citizen-notify through the outbox.

use axum::http::StatusCode;
use central_api::{
    auth::Role,
    db::{
        decisions::{self, Asked},
        review::{fine_of, outbox_pending},
    },
    fines::{VehicleCategory, process::Circumstance},
};
use protocol::{FineChange, PenaltyDecision, ViolationNotice};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::{
    disputes::disputed,
    helpers::{TestDb, audit_actions, on_both_engines, queued, report},
    review::{SECOND_SUPERVISOR, confirmed_by, world},
};

fn error(body: &serde_json::Value) -> Option<&str> {
    body["error"].as_str()
}

async fn a_notice_decides_nothing_and_a_sanctioning_officer_decides_after_the_answer(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let chief = w.sign_in(Role::Sanctioning).await;
    let (id, fine_id, notice) = w.confirmed(&reviewer).await;

    // The notice: what was seen and by when to answer; no amount, no decision number.
    for absent in ["amount_vnd", "decision_number", "points"] {
        assert!(
            notice.get(absent).is_none(),
            "a notice carries no {absent}: {notice}"
        );
    }
    let notice: ViolationNotice = serde_json::from_value(notice).unwrap();
    assert_eq!(
        notice.answer_due.as_datetime() - notice.issued_at.as_datetime(),
        Duration::days(20)
    );
    assert_eq!(
        notice.legal_reference,
        "Điểm b khoản 9 Điều 6 Nghị định số 168/2024/NĐ-CP"
    );
    let outbox = outbox_pending(&w.db).await.unwrap();
    assert_eq!(outbox.len(), 1);
    let case = fine_of(&w.db, None, &id).await.unwrap().unwrap();
    assert_eq!(
        (case.decision_number, case.status.as_str()),
        (None, "issued")
    );
    assert_eq!(
        (case.min_vnd, case.max_vnd),
        (Some(18_000_000), Some(20_000_000))
    );

    let decide = format!("/api/v1/violations/{id}/decision");
    // A reviewer confirms camera events; they hold no sanctioning authority.
    let (status, body) = w.call(reviewer.post(&decide, json!({}))).await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    // Nothing is decided before the owner answers.
    let (status, body) = w.call(chief.post(&decide, json!({}))).await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::CONFLICT, Some("not_answered")),
        "{body}"
    );

    // The owner declares they were driving. A range reaching 15 M gives them five working
    // days to explain (Law 15/2012/QH13, Article 61): the decision waits.
    report(&w.db, fine_id, FineChange::Confirmed).await;
    let (status, body) = w.call(chief.post(&decide, json!({}))).await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::CONFLICT, Some("explanation_period")),
        "{body}"
    );

    // Eight days on, the period is over.
    let later = OffsetDateTime::now_utc() + Duration::days(8);
    let decision = decisions::decide(
        &w.db,
        &central_api::audit::AuditLog::new(w.db.clone()),
        &id,
        (("sanctioning", "Trưởng phòng CSGT"), "officer:sanctioning"),
        &Asked::default(),
        later,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(decision.decision_number, "000001/QĐ-XPHC");
    assert_eq!(decision.amount_vnd, 19_000_000, "the middle of 18–20 M");
    assert_eq!((decision.points, decision.points_left), (4, 8));
    assert_eq!(decision.citizen_id.as_str(), "079203012345");
    assert_eq!(
        decision.pay_by.as_datetime() - decision.decided_at.as_datetime(),
        Duration::days(10)
    );
    let case = fine_of(&w.db, None, &id).await.unwrap().unwrap();
    assert_eq!(case.status, "decided");
    assert_eq!(case.decision_number.as_deref(), Some("000001/QĐ-XPHC"));
    let sent: PenaltyDecision = queued(&w.db, &decision.decision_id.to_string()).await;
    assert_eq!(sent, decision);

    // The licence lost the decision's points (counted from the decision, eight days on).
    let (status, points) = w
        .call(chief.get("/api/v1/citizens/079203012345/licence-points?licence=car"))
        .await;
    assert_eq!(status, StatusCode::OK, "{points}");
    assert_eq!(points["deductions"].as_array().unwrap().len(), 1);
    assert_eq!(points["deductions"][0]["points"], 4);
    let then = decisions::licence_points(&w.db, "079203012345", VehicleCategory::Car, later)
        .await
        .unwrap();
    assert_eq!(then.left, 8);
    let (_, moto) = w
        .call(chief.get("/api/v1/citizens/079203012345/licence-points?licence=motorbike"))
        .await;
    assert_eq!(moto["left"], 12, "another licence keeps its points");

    // One decision per case.
    let (status, body) = w.call(chief.post(&decide, json!({}))).await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::CONFLICT, Some("decided"))
    );
    // A late "delivered" does not take the case back.
    report(
        &w.db,
        fine_id,
        FineChange::NoticeDelivered {
            channel: "push".into(),
        },
    )
    .await;
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "decided"
    );

    // A supervisor withdraws it: the decision cancelled gives the licence its points back.
    let supervisor = w.sign_in(Role::Supervisor).await;
    let asked = w
        .call(supervisor.post(
            &format!("/api/v1/violations/{id}/reverse"),
            json!({ "reason": "equipment_fault", "note": "Camera lệch hướng, đo sai." }),
        ))
        .await;
    let second = w.sign_in_as(SECOND_SUPERVISOR).await;
    confirmed_by(&w, &second, asked).await;
    let then = decisions::licence_points(&w.db, "079203012345", VehicleCategory::Car, later)
        .await
        .unwrap();
    assert_eq!((then.left, then.deductions.len()), (12, 0));
}

async fn an_explanation_not_accepted_goes_to_a_decision_a_stated_circumstance_moves(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let supervisor = w.sign_in(Role::Supervisor).await;
    let chief = w.sign_in(Role::Sanctioning).await;
    let (id, _) = disputed(&w, &reviewer).await;
    let decide = format!("/api/v1/violations/{id}/decision");
    let (status, body) = w.call(chief.post(&decide, json!({}))).await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::CONFLICT, Some("not_answered")),
        "an explanation waits for its answer: {body}"
    );
    let (status, body) = w
        .call(supervisor.post(
            &format!("/api/v1/violations/{id}/resolve"),
            json!({ "outcome": "upheld", "answer": "Hình ảnh cho thấy đèn đỏ đã bật 1,2 giây." }),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The amount moves from the middle only with a circumstance, stated, and the right way.
    for (ask, code) in [
        (json!({ "amount_vnd": 18_000_000 }), "amount"),
        (
            json!({ "amount_vnd": 19_500_000, "circumstance": "mitigating", "circumstance_note": "lần đầu vi phạm" }),
            "amount",
        ),
        (
            json!({ "amount_vnd": 21_000_000, "circumstance": "aggravating", "circumstance_note": "tái phạm" }),
            "amount",
        ),
    ] {
        let (status, body) = w.call(chief.post(&decide, ask.clone())).await;
        assert_eq!(
            (status, error(&body)),
            (StatusCode::CONFLICT, Some(code)),
            "{ask}"
        );
    }
    let (status, body) = w
        .call(chief.post(
            &decide,
            json!({ "amount_vnd": 18_000_000, "circumstance": "mitigating" }),
        ))
        .await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::BAD_REQUEST, Some("bad_request")),
        "a circumstance needs what it is"
    );
    let (status, body) = w
        .call(chief.post(
            &decide,
            json!({ "amount_vnd": 18_000_000, "circumstance": "mitigating",
                    "circumstance_note": "Người vi phạm đã tự nguyện khai báo" }),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["amount_vnd"], 18_000_000);
    assert!(
        body["circumstance"]
            .as_str()
            .unwrap()
            .starts_with(Circumstance::Mitigating.label_vi())
    );
    let (_, one) = w.call(chief.get(&format!("/api/v1/violations/{id}"))).await;
    let actions = audit_actions(&one);
    assert_eq!(
        actions[actions.len() - 3..],
        ["fine.disputed", "fine.upheld", "fine.decided"]
    );
}

async fn a_case_closed_after_its_explanation_is_never_decided(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let supervisor = w.sign_in(Role::Supervisor).await;
    let chief = w.sign_in(Role::Sanctioning).await;
    let (id, _) = disputed(&w, &reviewer).await;
    let asked = w
        .call(supervisor.post(
            &format!("/api/v1/violations/{id}/resolve"),
            json!({ "outcome": "cancelled", "answer": "Chấp nhận giải trình." }),
        ))
        .await;
    let second = w.sign_in_as(SECOND_SUPERVISOR).await;
    confirmed_by(&w, &second, asked).await;
    let (status, body) = w
        .call(chief.post(&format!("/api/v1/violations/{id}/decision"), json!({})))
        .await;
    assert_eq!(
        (status, error(&body)),
        (StatusCode::CONFLICT, Some("case_final"))
    );
    assert_eq!(
        fine_of(&w.db, None, &id)
            .await
            .unwrap()
            .unwrap()
            .decision_number,
        None
    );
}

/// The explanation period counts working days: the days recorded off in the calendar (a lunar
/// New Year, from the year's announcement) lengthen it, each record audited.
async fn days_recorded_off_lengthen_the_explanation_period(t: &TestDb) {
    use central_api::{db::calendar, fines::calendar::CalendarDay};
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let (id, fine_id, _) = w.confirmed(&reviewer).await;
    report(&w.db, fine_id, FineChange::Confirmed).await;
    let audit = central_api::audit::AuditLog::new(w.db.clone());
    let today = OffsetDateTime::now_utc()
        .to_offset(protocol::time::VIETNAM)
        .date();
    // The ten days after the answer recorded off.
    for n in 1..=10 {
        let day = CalendarDay {
            day: today + Duration::days(n),
            off: true,
            name: "Tết Nguyên đán".into(),
            reference: "Thông báo của Bộ Nội vụ".into(),
        };
        calendar::record(&w.db, &audit, "admin:cli", &day)
            .await
            .unwrap();
    }
    let decide = |at: OffsetDateTime| {
        let (db, audit) = (w.db.clone(), audit.clone());
        async move {
            decisions::decide(
                &db,
                &audit,
                &id,
                (("sanctioning", "Trưởng phòng CSGT"), "officer:sanctioning"),
                &Asked::default(),
                at,
            )
            .await
            .unwrap()
        }
    };
    // `central-api calendar` lists them with the Labour Code's holidays of fixed date.
    let next = today + Duration::days(1);
    let lines = central_api::admin::calendar_lines(&w.db, next.year())
        .await
        .unwrap();
    assert!(
        lines.contains(&format!(
            "{next}  off      Tết Nguyên đán (Thông báo của Bộ Nội vụ)"
        )),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{}-09-02", next.year())))
    );
    // Eight days on, five working days would be over; with ten days off none has begun.
    let now = OffsetDateTime::now_utc();
    match decide(now + Duration::days(8)).await {
        Err(decisions::NotDecided::ExplanationPeriod(until)) => {
            assert!(until.as_datetime() > now + Duration::days(15), "{until}");
        }
        other => panic!("decided within the explanation period: {other:?}"),
    }
    // The days off, then five working days (a weekend or two, perhaps a holiday of fixed date,
    // among them): over by day 22.
    let decision = decide(now + Duration::days(22)).await.unwrap();
    assert_eq!(decision.amount_vnd, 19_000_000);
    // Each day recorded is in the audit trail; one taken back is too.
    let first = today + Duration::days(1);
    assert!(
        calendar::remove(&w.db, &audit, "admin:cli", first)
            .await
            .unwrap()
    );
    assert!(
        !calendar::remove(&w.db, &audit, "admin:cli", first)
            .await
            .unwrap()
    );
    let subject = format!("calendar:{first}");
    let actions: Vec<String> = audit
        .for_subject(&subject)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["calendar.day_recorded", "calendar.day_removed"]);
    assert!(audit.verify().await.unwrap().is_ok());
}

on_both_engines!(
    days_recorded_off_lengthen_the_explanation_period,
    a_notice_decides_nothing_and_a_sanctioning_officer_decides_after_the_answer,
    an_explanation_not_accepted_goes_to_a_decision_a_stated_circumstance_moves,
    a_case_closed_after_its_explanation_is_never_decided,
);
