//! The fine schedule in the database: seeded once from the shipped file, loaded back whole, and
//! an amendment with a later effective date applies only to later violations.

use central_api::{
    db::fines::{insert_rules, load_schedule, seed_if_empty},
    fines::{FineRule, FineSchedule, VehicleCategory},
};
use protocol::{VehicleClass, ViolationKind};
use time::macros::{date, datetime};

use crate::helpers::{TestDb, on_both_engines};

async fn the_schedule_is_seeded_once_and_amended_by_new_rows(t: &TestDb) {
    let shipped = FineSchedule::shipped().unwrap();
    assert_eq!(
        seed_if_empty(&t.db, &shipped).await.unwrap(),
        shipped.rules.len()
    );
    assert_eq!(seed_if_empty(&t.db, &shipped).await.unwrap(), 0);
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

on_both_engines!(the_schedule_is_seeded_once_and_amended_by_new_rows);
