//! The owner's answer and the deadlines of a case: an owner naming another person as the driver
//! moves the case to that person (checked against the population database), who is sent a
//! notice of their own and decided against; answers that cannot be taken are refused with
//! their reason and recorded; a notice unanswered for 20 days brings its warnings, lifted when
//! the case ends; a case undecided a year after the violation is closed as time-barred.

use axum::http::StatusCode;
use central_api::{
    auth::Role,
    db::{
        deadlines::{self, Addressee},
        decisions::{self, Asked, NotDecided},
        review::{fine_of, outbox_pending},
    },
    fines::VehicleCategory,
};
use protocol::{
    CitizenId, DisputeOutcome, EventId, FineChange, FineResolution, NamedAs, NamedDriver,
    ResolutionGround, UtcTimestamp, ViolationEvent, ViolationNotice, wire,
};
use time::{Duration, OffsetDateTime};

use crate::{
    fine_updates::{SECRET, app, send, update},
    helpers::{TestDb, on_both_engines, owner, queued, report, seed_citizen},
    review::{World, world},
};

const DRIVER: &str = "079095001234";

/// The cases central closed itself that wait in the outbox for citizen-notify, and why.
async fn closings(t: &central_api::db::Db) -> Vec<(uuid::Uuid, ResolutionGround)> {
    outbox_pending(t)
        .await
        .unwrap()
        .iter()
        .filter_map(|(_, _, payload)| wire::decode::<FineResolution>(payload.as_bytes()).ok())
        .map(|r| {
            assert_eq!(r.outcome, DisputeOutcome::Cancelled, "nothing is owed");
            (r.fine_id, r.ground)
        })
        .collect()
}

async fn seed_driver(t: &TestDb) {
    seed_citizen(
        &t.db,
        DRIVER,
        "Trần Thị Bình",
        "45 Lê Lợi, Phường Sài Gòn, TP.HCM",
        "0912345678",
    )
    .await;
}

fn driver_named(full_name: &str, citizen_id: &str) -> FineChange {
    FineChange::DriverNamed {
        driver: NamedDriver {
            full_name: full_name.into(),
            citizen_id: CitizenId::parse(citizen_id).unwrap(),
            licence_no: "790123456789".into(),
        },
    }
}

/// Central's answer says the case moved to the person named.
fn moved((status, body): (StatusCode, serde_json::Value)) {
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::CREATED, Some("transferred")),
        "{body}"
    );
}

async fn the_owner_names_the_driver_and_the_case_moves_to_them(t: &TestDb) {
    seed_driver(t).await;
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let (id, owners_case, _) = w.confirmed(&reviewer).await;
    let dir = tempfile::tempdir().unwrap();
    let app = app(t, dir.path());
    let audit = central_api::audit::AuditLog::new(t.db.clone());
    let refusals = || async {
        audit
            .for_subject(&format!("violation:{id}"))
            .await
            .unwrap()
            .iter()
            .filter(|e| e.action == "fine.answer_refused")
            .map(|e| e.details["reason"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };

    // Refused, each with its reason, recorded, nothing changed: a citizen id nobody has, a
    // name that is not the one the population database holds, the owner naming themselves.
    for (change, code) in [
        (
            driver_named("Trần Thị Bình", "079095009999"),
            "unknown_citizen",
        ),
        (driver_named("Trần Văn Bình", DRIVER), "name_mismatch"),
        (
            driver_named("Nguyễn Văn An", owner().as_str()),
            "self_named",
        ),
    ] {
        let (status, body) = send(&app, &update(owners_case, change), SECRET).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{body}"
        );
    }
    assert_eq!(
        refusals().await,
        ["unknown_citizen", "name_mismatch", "self_named"]
    );
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "issued"
    );
    assert_eq!(
        outbox_pending(&w.db).await.unwrap().len(),
        1,
        "the owner's notice only"
    );
    assert_eq!(closings(&w.db).await, []);

    // The name as the population database holds it, written with other spaces and case.
    let declared = update(owners_case, driver_named("  trần thị   BÌNH ", DRIVER));
    moved(send(&app, &declared, SECRET).await);
    let (status, body) = send(&app, &declared, SECRET).await;
    assert_eq!(
        (status, body["duplicate"].as_bool()),
        (StatusCode::OK, Some(true))
    );

    // The open case is now the driver's, with who the owner named; a notice of its own, to the
    // driver, waits in the outbox.
    let case = fine_of(&w.db, None, &id).await.unwrap().unwrap();
    assert_ne!(case.fine_id, owners_case.to_string());
    assert_eq!(case.status, "issued");
    let named = case.named.as_ref().unwrap();
    assert_eq!(
        (named.citizen_id.as_str(), named.full_name.as_str()),
        (DRIVER, "Trần Thị Bình")
    );
    let notice: ViolationNotice = queued(&w.db, &case.fine_id).await;
    assert_eq!(notice.citizen_id.as_str(), DRIVER);
    assert_eq!(notice.named_as, Some(NamedAs::Driver));
    // The owner's own case is closed in citizen-notify too, once: nothing is owed on it.
    assert_eq!(
        closings(&w.db).await,
        [(owners_case, ResolutionGround::Transferred)]
    );
    assert_eq!(notice.plate, "51F-123.45");
    assert_eq!(
        notice.contact.as_ref().and_then(|c| c.phone.as_deref()),
        Some("0912345678")
    );
    assert_eq!(
        notice.answer_due.as_datetime() - notice.issued_at.as_datetime(),
        Duration::days(20)
    );

    // The driver answers for themselves: they cannot pass the case on again.
    let driver_case: uuid::Uuid = case.fine_id.parse().unwrap();
    let (status, body) = send(
        &app,
        &update(driver_case, driver_named("Nguyễn Văn An", owner().as_str())),
        SECRET,
    )
    .await;
    assert_eq!(
        body["error"].as_str(),
        Some("named_driver_case"),
        "{status} {body}"
    );
    // Nor can the owner answer the closed case again.
    let (_, body) = send(
        &app,
        &update(owners_case, driver_named("Trần Thị Bình", DRIVER)),
        SECRET,
    )
    .await;
    assert_eq!(body["error"].as_str(), Some("answered"), "{body}");

    // The driver declares they were driving; the decision is against them, and the points
    // come off their licence, not the owner's.
    report(&w.db, driver_case, FineChange::Confirmed).await;
    let decision = decisions::decide(
        &w.db,
        &central_api::audit::AuditLog::new(w.db.clone()),
        &id,
        (("sanctioning", "Trưởng phòng CSGT"), "officer:sanctioning"),
        &Asked::default(),
        OffsetDateTime::now_utc() + Duration::days(8),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(decision.citizen_id.as_str(), DRIVER);
    assert_eq!(decision.fine_id, driver_case);
    let now = OffsetDateTime::now_utc() + Duration::days(9);
    let left = |who: &'static str| async move {
        decisions::licence_points(&t.db, who, VehicleCategory::Car, now)
            .await
            .unwrap()
            .left
    };
    assert_eq!((left(DRIVER).await, left("079203012345").await), (8, 12));

    let trail = audit.for_subject(&format!("violation:{id}")).await.unwrap();
    let entry = trail
        .iter()
        .find(|e| e.action == "fine.driver_named")
        .expect("the declaration is in the violation's trail");
    assert_eq!(entry.details["change"]["moved_to"], case.fine_id.as_str());
    assert!(
        !entry.details.to_string().contains(DRIVER),
        "the trail keeps the driver's number masked: {}",
        entry.details
    );
}

async fn an_answer_after_its_deadline_is_refused_and_recorded(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let (id, fine_id, _) = w.confirmed(&reviewer).await;
    let dir = tempfile::tempdir().unwrap();
    let app = app(t, dir.path());
    let mut late = update(fine_id, FineChange::Confirmed);
    late.at = UtcTimestamp::from_datetime(OffsetDateTime::now_utc() + Duration::days(21));
    let (status, body) = send(&app, &late, SECRET).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("answer_late")),
        "{body}"
    );
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "issued"
    );
    // A delivery report is no answer: it is taken whenever it comes.
    let mut delivered = update(
        fine_id,
        FineChange::NoticeDelivered {
            channel: "push".into(),
        },
    );
    delivered.at = late.at;
    let (status, _) = send(&app, &delivered, SECRET).await;
    assert_eq!(status, StatusCode::CREATED);
}

/// A red light of 51F-123.45 an hour ago, confirmed by a reviewer: the violation and its case.
async fn recent_case(w: &World) -> (EventId, uuid::Uuid) {
    let reviewer = w.sign_in(Role::Reviewer).await;
    let mut event = ViolationEvent::example_now(w.device.clone(), EventId::new());
    event.occurred_at = UtcTimestamp::from_datetime(OffsetDateTime::now_utc() - Duration::hours(1));
    let id = w.pending_event(event).await;
    let (id, fine_id, _) = w.approved(&reviewer, id).await;
    (id, fine_id)
}

async fn an_unanswered_notice_brings_its_warnings_lifted_when_the_case_ends(t: &TestDb) {
    let w = world(t).await;
    let audit = central_api::audit::AuditLog::new(t.db.clone());
    let (id, fine_id) = recent_case(&w).await;
    let now = OffsetDateTime::now_utc();

    // Within the 20 days nothing happens.
    let swept = deadlines::sweep(&w.db, &audit, now + Duration::days(19))
        .await
        .unwrap();
    assert!(swept.warned.is_empty(), "{swept:?}");
    // After them, a car's warnings go to the registration and the inspection authorities, once.
    let swept = deadlines::sweep(&w.db, &audit, now + Duration::days(21))
        .await
        .unwrap();
    assert_eq!(swept.warned.len(), 1);
    let swept = deadlines::sweep(&w.db, &audit, now + Duration::days(22))
        .await
        .unwrap();
    assert!(swept.warned.is_empty(), "warned once: {swept:?}");
    let case = fine_of(&w.db, None, &id).await.unwrap().unwrap();
    let to: Vec<Addressee> = case.warnings.iter().map(|w| w.addressee).collect();
    assert_eq!(to, [Addressee::Inspection, Addressee::Registration]);
    assert!(case.warnings.iter().all(|w| w.lifted_at.is_none()));

    // The owner comes in person and the case is paid: the warnings end.
    report(
        &w.db,
        fine_id,
        FineChange::Paid {
            amount_vnd: 19_000_000,
            transaction_no: "14000002".into(),
            paid_at: UtcTimestamp::now(),
        },
    )
    .await;
    let swept = deadlines::sweep(&w.db, &audit, now + Duration::days(30))
        .await
        .unwrap();
    assert_eq!(swept.lifted.len(), 1);
    let case = fine_of(&w.db, None, &id).await.unwrap().unwrap();
    assert!(
        case.warnings.iter().all(|w| w.lifted_at.is_some()),
        "{:?}",
        case.warnings
    );
    assert_eq!(
        Addressee::for_vehicle(VehicleCategory::Motorbike),
        [Addressee::Registration, Addressee::CommunePolice]
    );
}

async fn a_case_undecided_a_year_after_the_violation_is_time_barred(t: &TestDb) {
    let w = world(t).await;
    let audit = central_api::audit::AuditLog::new(t.db.clone());
    let (id, fine_id) = recent_case(&w).await;
    report(&w.db, fine_id, FineChange::Confirmed).await;
    let now = OffsetDateTime::now_utc();
    let swept = deadlines::sweep(&w.db, &audit, now + Duration::days(300))
        .await
        .unwrap();
    assert!(swept.barred.is_empty());
    // The case closes with its audit entry or not at all.
    crate::helpers::audit_writable(&w.db, false).await;
    assert!(
        deadlines::sweep(&w.db, &audit, now + Duration::days(367))
            .await
            .is_err()
    );
    crate::helpers::audit_writable(&w.db, true).await;
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "confirmed"
    );
    assert_eq!(
        closings(&w.db).await,
        [],
        "nothing sent of a case not closed"
    );
    let swept = deadlines::sweep(&w.db, &audit, now + Duration::days(367))
        .await
        .unwrap();
    assert_eq!(swept.barred.len(), 1);
    assert_eq!(
        fine_of(&w.db, None, &id).await.unwrap().unwrap().status,
        "time_barred"
    );
    // citizen-notify is told, so the owner is no longer asked to answer.
    assert_eq!(
        closings(&w.db).await,
        [(fine_id, ResolutionGround::TimeBarred)]
    );
    let refused = decisions::decide(
        &w.db,
        &central_api::audit::AuditLog::new(w.db.clone()),
        &id,
        (("sanctioning", "Trưởng phòng CSGT"), "officer:sanctioning"),
        &Asked::default(),
        now + Duration::days(368),
    )
    .await
    .unwrap();
    assert_eq!(refused, Err(NotDecided::Final("time_barred".into())));
    let trail = audit.for_subject(&format!("violation:{id}")).await.unwrap();
    assert!(trail.iter().any(|e| e.action == "case.time_barred"));
}

async fn a_vehicle_sold_before_moves_to_the_buyer_and_a_theft_goes_to_a_supervisor(t: &TestDb) {
    seed_driver(t).await;
    let w = world(t).await;
    let dir = tempfile::tempdir().unwrap();
    let app = app(t, dir.path());
    let (id, owners_case) = recent_case(&w).await;
    let buyer = protocol::Buyer {
        full_name: "Trần Thị Bình".into(),
        citizen_id: CitizenId::parse(DRIVER).unwrap(),
    };
    let sold = |sold_on: String| FineChange::VehicleSold {
        buyer: buyer.clone(),
        sold_on,
        contract: "Hợp đồng số 1234/2026, Văn phòng công chứng Quận 1".into(),
    };
    // Sold on the violation's day or after: the sale does not move the case.
    let today = OffsetDateTime::now_utc()
        .to_offset(protocol::time::VIETNAM)
        .date()
        .to_string();
    let (status, body) = send(&app, &update(owners_case, sold(today)), SECRET).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("sold_after")),
        "{body}"
    );
    // Sold before it: the case moves to the buyer, with the sale on record.
    moved(
        send(
            &app,
            &update(owners_case, sold("2026-01-15".into())),
            SECRET,
        )
        .await,
    );
    let case = fine_of(&w.db, None, &id).await.unwrap().unwrap();
    let named = case.named.as_ref().unwrap();
    assert_eq!(
        (
            named.named_as.as_str(),
            named.sold_on.as_deref(),
            named.licence_no.as_deref()
        ),
        ("buyer", Some("2026-01-15"), None)
    );
    let outbox = outbox_pending(&w.db).await.unwrap();
    let (_, _, payload) = outbox
        .iter()
        .find(|(_, key, _)| *key == case.fine_id)
        .unwrap();
    let notice: ViolationNotice = wire::decode(payload.as_bytes()).unwrap();
    assert_eq!(
        (notice.citizen_id.as_str(), notice.named_as),
        (DRIVER, Some(NamedAs::Buyer))
    );
    // The buyer answers as an owner does: they may name the driver.
    let buyers_case: uuid::Uuid = case.fine_id.parse().unwrap();
    moved(
        send(
            &app,
            &update(buyers_case, driver_named("Nguyễn Văn An", owner().as_str())),
            SECRET,
        )
        .await,
    );
    let case = fine_of(&w.db, None, &id).await.unwrap().unwrap();
    assert_eq!(case.named.unwrap().named_as, "driver");

    // Another violation: the owner reports the vehicle stolen. A supervisor verifies it, as an
    // explanation, with the police report before them.
    let (stolen_id, stolen_case) = recent_case(&w).await;
    let theft = FineChange::VehicleStolen {
        reported_on: "2026-11-30".into(),
        report: "Công an phường Bến Thành, biên bản số 45/BB".into(),
    };
    let (status, body) = send(&app, &update(stolen_case, theft), SECRET).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::CREATED, Some("disputed")),
        "{body}"
    );
    let open = central_api::db::disputes::open(&w.db, None).await.unwrap();
    let dispute = open
        .iter()
        .find(|d| d.event_id == stolen_id.to_string())
        .expect("the theft waits for a supervisor");
    assert!(
        dispute.reason.contains("mất cắp") && dispute.reason.contains("45/BB"),
        "{}",
        dispute.reason
    );
}

on_both_engines!(
    a_vehicle_sold_before_moves_to_the_buyer_and_a_theft_goes_to_a_supervisor,
    the_owner_names_the_driver_and_the_case_moves_to_them,
    an_answer_after_its_deadline_is_refused_and_recorded,
    an_unanswered_notice_brings_its_warnings_lifted_when_the_case_ends,
    a_case_undecided_a_year_after_the_violation_is_time_barred,
);
