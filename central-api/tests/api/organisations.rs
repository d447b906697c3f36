//! A vehicle an organisation owns (Decree 168/2024/NĐ-CP, Article 47 clause 6 point a): the
//! notice is to the organisation, answered by the person who answers for it; the organisation
//! names who was driving — the case then moves to that person, at an individual's fine and
//! points —, or it does not and is itself sanctioned (Article 47 clause 8 point b) at twice an
//! individual's fine (Law 15/2012/QH13, Article 3 clause 1 point e), with no licence points and
//! the explanation period from a 30 M maximum (Law 15/2012/QH13, Article 61 clause 1).

use axum::http::StatusCode;
use central_api::{
    auth::Role,
    db::{
        decisions::{self, Asked, NotDecided},
        owners::{Registration, upsert_organisation, upsert_registration},
        review::fine_of,
    },
    fines::VehicleCategory,
};
use protocol::{
    CitizenId, EnterpriseCode, EventId, FineChange, NamedDriver, Organisation, PenaltyDecision,
    ViolationNotice, wire,
};
use time::{Duration, OffsetDateTime};

use crate::{
    fine_updates::{SECRET, app, send, update},
    helpers::{TestDb, on_both_engines, queued, report, seed_citizen},
    review::{World, world},
};

/// The person who answers for the organisation (its legal representative).
const REPRESENTATIVE: &str = "079080005678";
const CODE: &str = "0312345678";
const PLATE: &str = "51G67890";

fn organisation() -> Organisation {
    Organisation {
        enterprise_code: EnterpriseCode::parse(CODE).unwrap(),
        name: "Công ty TNHH Vận tải Thử Nghiệm".into(),
        address: "100 Điện Biên Phủ, Phường Gia Định, TP.HCM".into(),
    }
}

/// Registers [`PLATE`], a car, to [`organisation`], [`REPRESENTATIVE`] answering for it.
async fn seed(w: &World) {
    upsert_organisation(&w.db, &organisation()).await.unwrap();
    seed_citizen(
        &w.db,
        REPRESENTATIVE,
        "Phạm Minh Châu",
        "8 Nguyễn Huệ, Phường Sài Gòn, TP.HCM",
        "0987654321",
    )
    .await;
    upsert_registration(
        &w.db,
        &Registration {
            plate_text: PLATE.into(),
            plate_colour: protocol::PlateColour::White,
            vehicle_class: protocol::VehicleClass::Car,
            make: "Hyundai".into(),
            model: "Solati".into(),
            colour: "bạc".into(),
            owner: CitizenId::parse(REPRESENTATIVE).unwrap(),
            organisation: Some(EnterpriseCode::parse(CODE).unwrap()),
        },
    )
    .await
    .unwrap();
}

/// A red light by the organisation's car, confirmed: the violation, the case and its notice.
async fn organisations_case(w: &World) -> (EventId, uuid::Uuid, ViolationNotice) {
    seed(w).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let id = w.pending(PLATE).await;
    let (id, fine_id, notice) = w.approved(&reviewer, id).await;
    (id, fine_id, serde_json::from_value(notice).unwrap())
}

async fn decide(
    w: &World,
    id: &EventId,
    at: OffsetDateTime,
) -> Result<PenaltyDecision, NotDecided> {
    decisions::decide(
        &w.db,
        &central_api::audit::AuditLog::new(w.db.clone()),
        id,
        (("sanctioning", "Trưởng phòng CSGT"), "officer:sanctioning"),
        &Asked::default(),
        at,
    )
    .await
    .unwrap()
}

async fn an_organisation_that_names_no_driver_is_fined_twice_without_points(t: &TestDb) {
    let w = world(t).await;
    let (id, fine_id, notice) = organisations_case(&w).await;

    // The notice is to the organisation, through the person who answers for it.
    assert_eq!(notice.organisation, Some(organisation()));
    assert_eq!(notice.citizen_id.as_str(), REPRESENTATIVE);
    assert_eq!(
        notice.legal_reference,
        "Điểm b khoản 9 Điều 6 Nghị định số 168/2024/NĐ-CP"
    );
    // The officers see the organisation as the owner, its representative beside it.
    let reviewer = w.sign_in(Role::Reviewer).await;
    let (status, _, page) = w
        .call_bytes(reviewer.get(&format!("/review/violations/{id}")))
        .await;
    let page = String::from_utf8(page).unwrap();
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "id=\"owner-organisation\"",
        "Công ty TNHH Vận tải Thử Nghiệm",
        "0312345678",
        "Phạm Minh Châu",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    // The case stands on the organisation's range: twice a person's 18–20 M, no points.
    let case = fine_of(&w.db, None, &id).await.unwrap().unwrap();
    assert_eq!(
        (case.min_vnd, case.max_vnd, case.amount_vnd, case.points),
        (Some(36_000_000), Some(40_000_000), 38_000_000, 0)
    );

    // It acknowledges the violation without naming the driver. A maximum of 30 M or more
    // gives an organisation the right to explain: the decision waits for the period.
    report(&w.db, fine_id, FineChange::Confirmed).await;
    let now = OffsetDateTime::now_utc();
    assert!(
        matches!(
            decide(&w, &id, now).await,
            Err(NotDecided::ExplanationPeriod(_))
        ),
        "the explanation period runs"
    );
    let later = now + Duration::days(8);
    let decision = decide(&w, &id, later).await.unwrap();
    assert_eq!(decision.organisation, Some(organisation()));
    assert_eq!(decision.amount_vnd, 38_000_000, "the middle of 36–40 M");
    assert_eq!((decision.points, decision.points_left), (0, 12));
    assert_eq!(
        decision.legal_reference,
        "Điểm b khoản 9 Điều 6 Nghị định số 168/2024/NĐ-CP; Điểm b khoản 8 Điều 47 Nghị định \
         số 168/2024/NĐ-CP; Điểm e khoản 1 Điều 3 Luật Xử lý vi phạm hành chính số 15/2012/QH13"
    );
    wire::encode(&decision).expect("a valid decision");
    // The representative's own licence keeps its points.
    let points =
        decisions::licence_points(&w.db, REPRESENTATIVE, VehicleCategory::Car, later).await;
    let points = points.unwrap();
    assert_eq!((points.left, points.deductions.len()), (12, 0));
    let sent: PenaltyDecision = queued(&w.db, &decision.decision_id.to_string()).await;
    assert_eq!(sent, decision);
}

async fn an_organisation_names_its_driver_even_its_representative(t: &TestDb) {
    let w = world(t).await;
    let (id, fine_id, _) = organisations_case(&w).await;
    let dir = tempfile::tempdir().unwrap();
    let app = app(t, dir.path());
    // The representative was driving the organisation's car: naming themselves is the
    // organisation naming its driver, not a person naming themselves.
    let named = FineChange::DriverNamed {
        driver: NamedDriver {
            full_name: "Phạm Minh Châu".into(),
            citizen_id: CitizenId::parse(REPRESENTATIVE).unwrap(),
            licence_no: "790123450000".into(),
        },
    };
    let (status, body) = send(&app, &update(fine_id, named), SECRET).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::CREATED, Some("transferred")),
        "{body}"
    );
    // The driver's case: a person's, at a person's range and points, notice without the
    // organisation.
    let case = fine_of(&w.db, None, &id).await.unwrap().unwrap();
    assert_ne!(case.fine_id, fine_id.to_string());
    assert_eq!(
        (case.min_vnd, case.max_vnd, case.amount_vnd, case.points),
        (Some(18_000_000), Some(20_000_000), 19_000_000, 4)
    );
    let notice: ViolationNotice = queued(&w.db, &case.fine_id).await;
    assert_eq!(notice.organisation, None);
    assert_eq!(notice.citizen_id.as_str(), REPRESENTATIVE);

    // The driver acknowledges: decided against them as a person, the points off their licence.
    let driver_case: uuid::Uuid = case.fine_id.parse().unwrap();
    report(&w.db, driver_case, FineChange::Confirmed).await;
    let later = OffsetDateTime::now_utc() + Duration::days(8);
    let decision = decide(&w, &id, later).await.unwrap();
    assert_eq!(decision.organisation, None);
    assert_eq!(
        (decision.amount_vnd, decision.points, decision.points_left),
        (19_000_000, 4, 8)
    );
    assert_eq!(
        decision.legal_reference,
        "Điểm b khoản 9 Điều 6 Nghị định số 168/2024/NĐ-CP"
    );
}

on_both_engines!(
    an_organisation_that_names_no_driver_is_fined_twice_without_points,
    an_organisation_names_its_driver_even_its_representative,
);
