//! The fine schedule in the database: seeded once from the shipped file, loaded back whole, and
//! an amendment with a later effective date applies only to later violations; a schedule kept
//! from before gets the shipped rules of the cases it had none for, and no others.

use central_api::{
    db::fines::{insert_rules, load_schedule, seed_missing},
    fines::{FineRule, FineSchedule, VehicleCategory},
};
use protocol::{VehicleClass, ViolationKind};
use time::macros::{date, datetime};

use crate::helpers::{TestDb, on_both_engines};

/// Two replicas starting together: the schedule is seeded once between them, not twice.
async fn replicas_starting_together_seed_the_schedule_once(t: &TestDb) {
    let shipped = FineSchedule::shipped().unwrap();
    let (a, b) = tokio::join!(seed_missing(&t.db, &shipped), seed_missing(&t.db, &shipped));
    assert_eq!(a.unwrap() + b.unwrap(), shipped.rules.len());
    assert_eq!(load_schedule(&t.db).await.unwrap(), shipped);
}

async fn the_schedule_is_seeded_once_and_amended_by_new_rows(t: &TestDb) {
    let shipped = FineSchedule::shipped().unwrap();
    assert_eq!(
        seed_missing(&t.db, &shipped).await.unwrap(),
        shipped.rules.len()
    );
    assert_eq!(seed_missing(&t.db, &shipped).await.unwrap(), 0);
    let stored = load_schedule(&t.db).await.unwrap();
    assert_eq!(stored, shipped);

    // An amendment from 15 August 2026: the new red-light row for cars, and the old one closed.
    // (Closing a row is the one update the schedule allows; here it is done on the loaded copy
    // and the new row is added, as the admin API will.)
    let amendment = FineRule {
        kind: ViolationKind::RedLight,
        vehicle: VehicleCategory::Car,
        over_kmh_from: None,
        over_kmh_to: None,
        over_kmh_from_included: true,
        over_kmh_to_included: false,
        zone_case: None,
        min_vnd: 20_000_000,
        max_vnd: 22_000_000,
        points: 6,
        reference: "Nghị định 238/2026/NĐ-CP (test row)".into(),
        effective_from: date!(2026 - 08 - 15),
        effective_to: None,
        verify: true,
    };
    insert_rules(&t.db, std::slice::from_ref(&amendment))
        .await
        .unwrap();
    let mut schedule = load_schedule(&t.db).await.unwrap();
    assert_eq!(schedule.rules.last(), Some(&amendment));
    for rule in schedule.rules.iter_mut() {
        if rule.kind == ViolationKind::RedLight
            && rule.vehicle == VehicleCategory::Car
            && rule.effective_from < amendment.effective_from
        {
            rule.effective_to = Some(amendment.effective_from);
        }
    }
    schedule.validate().unwrap();
    let fine = |at| {
        schedule
            .assess(ViolationKind::RedLight, VehicleClass::Car, None, None, at)
            .unwrap()
    };
    assert_eq!(fine(datetime!(2026-08-14 12:00 UTC)).amount_vnd, 19_000_000);
    assert_eq!(fine(datetime!(2026-08-15 12:00 UTC)).amount_vnd, 21_000_000);
}

async fn a_schedule_kept_from_before_gets_the_cases_it_had_no_rule_for(t: &TestDb) {
    // A schedule seeded before illegal stopping had its rows, one of its rules ended since by
    // an amendment.
    let shipped = FineSchedule::shipped().unwrap();
    let (stopping, before): (Vec<FineRule>, Vec<FineRule>) = shipped
        .rules
        .iter()
        .cloned()
        .partition(|r| r.kind == ViolationKind::IllegalStopping);
    assert_eq!(stopping.len(), 17);
    insert_rules(&t.db, &before).await.unwrap();
    crate::helpers::raw(
        &t.db,
        "UPDATE fine_schedule SET effective_to = '2026-08-15'
         WHERE kind = 'red_light' AND vehicle = 'car'",
    )
    .await
    .unwrap();
    // At start: the stopping rules are added, nothing else — the ended rule is not put back.
    assert_eq!(seed_missing(&t.db, &shipped).await.unwrap(), stopping.len());
    assert_eq!(seed_missing(&t.db, &shipped).await.unwrap(), 0);
    let kept = load_schedule(&t.db).await.unwrap();
    assert_eq!(kept.rules.len(), shipped.rules.len());
    let red = kept
        .rules
        .iter()
        .find(|r| r.kind == ViolationKind::RedLight && r.vehicle == VehicleCategory::Car)
        .unwrap();
    assert_eq!(red.effective_to, Some(date!(2026 - 08 - 15)));
    // A car standing on a bridge is fined by its own point.
    let bridge = kept
        .assess_in(
            ViolationKind::IllegalStopping,
            VehicleClass::Car,
            Some(protocol::camera::ZoneCase::Bridge),
            (None, None),
            datetime!(2026-09-01 12:00 UTC),
        )
        .unwrap();
    assert_eq!(bridge.rule.code().as_deref(), Some("16824.6.4.b"));
    assert_eq!((bridge.amount_vnd, bridge.rule.points), (2_500_000, 2));
}

on_both_engines!(
    replicas_starting_together_seed_the_schedule_once,
    the_schedule_is_seeded_once_and_amended_by_new_rows,
    a_schedule_kept_from_before_gets_the_cases_it_had_no_rule_for,
);
