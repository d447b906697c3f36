//! The fine schedule against the decree's text: long because it is a table in code, one case
//! for each row of the decree the schedule carries, each quoting its article, clause and point.

use time::macros::{date, datetime};

use super::*;
use ViolationKind::*;

fn shipped() -> FineSchedule {
    let s = FineSchedule::shipped().unwrap();
    s.validate().unwrap();
    s
}

#[test]
fn the_shipped_schedule_is_consistent() {
    assert!(shipped().rules.len() >= 12);
}

/// Every row of the shipped schedule, with the decree's own wording of the behaviour and
/// its amounts (Decree 168/2024/NĐ-CP; points from Điều 6 khoản 16 and Điều 7 khoản 13).
#[test]
fn every_row_is_the_decrees_wording() {
    use VehicleCategory::{Car as C, Motorbike as M};
    // kind, vehicle, band (from, included, to, included), the decree's words, min, max,
    // points, reference.
    type Row = (
        ViolationKind,
        VehicleCategory,
        Option<(u32, bool, Option<(u32, bool)>)>,
        &'static str,
        u64,
        u64,
        u8,
        &'static str,
    );
    let rows: [Row; 14] = [
        (
            RedLight,
            C,
            None,
            "Không chấp hành hiệu lệnh của đèn tín hiệu giao thông",
            18_000_000,
            20_000_000,
            4,
            "Điểm b khoản 9 Điều 6 Nghị định số 168/2024/NĐ-CP",
        ),
        (
            RedLight,
            M,
            None,
            "Không chấp hành hiệu lệnh của đèn tín hiệu giao thông",
            4_000_000,
            6_000_000,
            4,
            "Điểm c khoản 7 Điều 7 Nghị định số 168/2024/NĐ-CP",
        ),
        (
            WrongWay,
            C,
            None,
            "Đi ngược chiều của đường một chiều, đi ngược chiều trên đường có biển \"Cấm đi ngược chiều\"",
            18_000_000,
            20_000_000,
            4,
            "Điểm d khoản 9 Điều 6 Nghị định số 168/2024/NĐ-CP",
        ),
        (
            WrongWay,
            M,
            None,
            "Đi ngược chiều của đường một chiều, đi ngược chiều trên đường có biển \"Cấm đi ngược chiều\"",
            4_000_000,
            6_000_000,
            2,
            "Điểm a khoản 7 Điều 7 Nghị định số 168/2024/NĐ-CP",
        ),
        (
            Speeding,
            C,
            Some((5, true, Some((10, false)))),
            "chạy quá tốc độ quy định từ 05 km/h đến dưới 10 km/h",
            800_000,
            1_000_000,
            0,
            "Điểm a khoản 3 Điều 6 Nghị định số 168/2024/NĐ-CP",
        ),
        (
            Speeding,
            C,
            Some((10, true, Some((20, true)))),
            "chạy quá tốc độ quy định từ 10 km/h đến 20 km/h",
            4_000_000,
            6_000_000,
            2,
            "Điểm đ khoản 5 Điều 6 Nghị định số 168/2024/NĐ-CP",
        ),
        (
            Speeding,
            C,
            Some((20, false, Some((35, true)))),
            "chạy quá tốc độ quy định trên 20 km/h đến 35 km/h",
            6_000_000,
            8_000_000,
            4,
            "Điểm a khoản 6 Điều 6 Nghị định số 168/2024/NĐ-CP",
        ),
        (
            Speeding,
            C,
            Some((35, false, None)),
            "chạy quá tốc độ quy định trên 35 km/h",
            12_000_000,
            14_000_000,
            6,
            "Điểm a khoản 7 Điều 6 Nghị định số 168/2024/NĐ-CP",
        ),
        (
            Speeding,
            M,
            Some((5, true, Some((10, false)))),
            "chạy quá tốc độ quy định từ 05 km/h đến dưới 10 km/h",
            400_000,
            600_000,
            0,
            "Điểm b khoản 2 Điều 7 Nghị định số 168/2024/NĐ-CP",
        ),
        (
            Speeding,
            M,
            Some((10, true, Some((20, true)))),
            "chạy quá tốc độ quy định từ 10 km/h đến 20 km/h",
            800_000,
            1_000_000,
            0,
            "Điểm a khoản 4 Điều 7 Nghị định số 168/2024/NĐ-CP",
        ),
        (
            Speeding,
            M,
            Some((20, false, None)),
            "chạy quá tốc độ quy định trên 20 km/h",
            6_000_000,
            8_000_000,
            4,
            "Điểm a khoản 8 Điều 7 Nghị định số 168/2024/NĐ-CP",
        ),
        (
            NoHelmet,
            M,
            None,
            "Không đội “mũ bảo hiểm cho người đi mô tô, xe máy” … khi điều khiển xe",
            400_000,
            600_000,
            0,
            "Điểm h khoản 2 Điều 7 Nghị định số 168/2024/NĐ-CP",
        ),
        (
            WrongLane,
            C,
            None,
            "đi không đúng phần đường hoặc làn đường quy định (làn cùng chiều hoặc làn ngược chiều)",
            4_000_000,
            6_000_000,
            2,
            "Điểm b khoản 5 Điều 6 Nghị định số 168/2024/NĐ-CP",
        ),
        (
            WrongLane,
            M,
            None,
            "đi không đúng phần đường, làn đường quy định (làn cùng chiều hoặc làn ngược chiều)",
            600_000,
            800_000,
            0,
            "Điểm d khoản 3 Điều 7 Nghị định số 168/2024/NĐ-CP",
        ),
    ];
    // Illegal stopping, by the zone's case: the words of the point that case falls under.
    use protocol::camera::ZoneCase::*;
    let stop_sign = "dừng xe nơi có biển “Cấm dừng xe và đỗ xe”";
    let moto_places = "Dừng xe, đỗ xe trên điểm đón, trả khách, nơi đường bộ giao nhau, trên \
                           phần đường dành cho người đi bộ qua đường; dừng xe nơi có biển “Cấm \
                           dừng xe và đỗ xe”; đỗ xe tại nơi có biển “Cấm đỗ xe”";
    let car_places = "Dừng xe, đỗ xe tại vị trí: nơi đường bộ giao nhau hoặc trong phạm vi 05 \
                          mét tính từ mép đường giao nhau; điểm đón, trả khách";
    let car_parking = "đỗ, để xe ở vỉa hè trái quy định của pháp luật; đỗ xe nơi có biển “Cấm \
                           đỗ xe” hoặc biển “Cấm dừng xe và đỗ xe”";
    let stopping: [(
        protocol::camera::ZoneCase,
        VehicleCategory,
        &str,
        u64,
        u64,
        u8,
        &str,
    ); 17] = [
        (
            NoStoppingSign,
            C,
            stop_sign,
            600_000,
            800_000,
            0,
            "Điểm đ khoản 2 Điều 6",
        ),
        (
            NoStoppingSign,
            M,
            moto_places,
            400_000,
            600_000,
            0,
            "Điểm e khoản 2 Điều 7",
        ),
        (
            NoParkingSign,
            C,
            car_parking,
            800_000,
            1_000_000,
            0,
            "Điểm e khoản 3 Điều 6",
        ),
        (
            NoParkingSign,
            M,
            moto_places,
            400_000,
            600_000,
            0,
            "Điểm e khoản 2 Điều 7",
        ),
        (
            Junction,
            C,
            car_places,
            800_000,
            1_000_000,
            0,
            "Điểm đ khoản 3 Điều 6",
        ),
        (
            Junction,
            M,
            moto_places,
            400_000,
            600_000,
            0,
            "Điểm e khoản 2 Điều 7",
        ),
        (
            PedestrianCrossing,
            C,
            "dừng xe, đỗ xe trên phần đường dành cho người đi bộ qua đường",
            600_000,
            800_000,
            0,
            "Điểm đ khoản 2 Điều 6",
        ),
        (
            PedestrianCrossing,
            M,
            moto_places,
            400_000,
            600_000,
            0,
            "Điểm e khoản 2 Điều 7",
        ),
        (
            PickUpPoint,
            C,
            car_places,
            800_000,
            1_000_000,
            0,
            "Điểm đ khoản 3 Điều 6",
        ),
        (
            PickUpPoint,
            M,
            moto_places,
            400_000,
            600_000,
            0,
            "Điểm e khoản 2 Điều 7",
        ),
        (
            Bridge,
            C,
            "Dừng xe, đỗ xe tại vị trí: … trên cầu (trừ trường hợp tổ chức giao thông cho phép)",
            2_000_000,
            3_000_000,
            2,
            "Điểm b khoản 4 Điều 6",
        ),
        (
            Bridge,
            M,
            "Dừng xe, đỗ xe trên cầu",
            600_000,
            800_000,
            0,
            "Điểm c khoản 3 Điều 7",
        ),
        (
            Tunnel,
            C,
            "dừng xe, đỗ xe trong hầm đường bộ không đúng nơi quy định",
            2_000_000,
            3_000_000,
            2,
            "Điểm đ khoản 4 Điều 6",
        ),
        (
            Tunnel,
            M,
            "Dừng xe, đỗ xe trong hầm đường bộ không đúng nơi quy định",
            800_000,
            1_000_000,
            0,
            "Điểm b khoản 4 Điều 7",
        ),
        (
            Pavement,
            C,
            car_parking,
            800_000,
            1_000_000,
            0,
            "Điểm e khoản 3 Điều 6",
        ),
        (
            Pavement,
            M,
            "đỗ, để xe ở lòng đường, vỉa hè trái phép",
            400_000,
            600_000,
            0,
            "Điểm d khoản 2 Điều 7",
        ),
        (
            Expressway,
            C,
            "Dừng xe, đỗ xe trên đường cao tốc không đúng nơi quy định",
            12_000_000,
            14_000_000,
            6,
            "Điểm c khoản 7 Điều 6",
        ),
    ];
    let s = shipped();
    assert_eq!(
        s.rules.len(),
        rows.len() + stopping.len(),
        "a row of the schedule without its test"
    );
    for (case, vehicle, words, min, max, points, point) in stopping {
        let rule = s
            .rules
            .iter()
            .find(|r| r.zone_case == Some(case) && r.vehicle == vehicle)
            .unwrap_or_else(|| panic!("no row for `{words}` ({case:?}, {vehicle:?})"));
        assert_eq!(rule.kind, IllegalStopping);
        assert_eq!(
            rule.reference,
            format!("{point} Nghị định số 168/2024/NĐ-CP"),
            "{words}"
        );
        assert_eq!(
            (rule.min_vnd, rule.max_vnd, rule.points),
            (min, max, points),
            "{words}"
        );
    }
    for (kind, vehicle, band, words, min, max, points, reference) in rows {
        let rule = s
            .rules
            .iter()
            .find(|r| r.reference == reference && r.kind == kind)
            .unwrap_or_else(|| panic!("no row for `{words}` ({reference})"));
        assert_eq!(rule.vehicle, vehicle, "{words}");
        let got = rule.over_kmh_from.map(|from| {
            (
                from,
                rule.over_kmh_from_included,
                rule.over_kmh_to.map(|to| (to, rule.over_kmh_to_included)),
            )
        });
        assert_eq!(got, band, "{words}");
        assert_eq!(
            (rule.min_vnd, rule.max_vnd, rule.points),
            (min, max, points),
            "{words}"
        );
        assert_eq!(rule.effective_from, date!(2025 - 01 - 01));
    }
}

#[test]
fn amounts_points_and_references_for_a_table_of_cases() {
    let s = shipped();
    let at = datetime!(2025-06-01 10:00 UTC);
    // kind, class, (speed, limit), amount, points, code
    type Case = (
        ViolationKind,
        VehicleClass,
        Option<(f64, f64)>,
        u64,
        u8,
        &'static str,
    );
    let cases: [Case; 20] = [
        (
            RedLight,
            VehicleClass::Car,
            None,
            19_000_000,
            4,
            "16824.6.9.b",
        ),
        (
            RedLight,
            VehicleClass::Bus,
            None,
            19_000_000,
            4,
            "16824.6.9.b",
        ),
        (
            RedLight,
            VehicleClass::Motorbike,
            None,
            5_000_000,
            4,
            "16824.7.7.c",
        ),
        (
            WrongWay,
            VehicleClass::Truck,
            None,
            19_000_000,
            4,
            "16824.6.9.d",
        ),
        (
            WrongWay,
            VehicleClass::Motorbike,
            None,
            5_000_000,
            2,
            "16824.7.7.a",
        ),
        (
            WrongLane,
            VehicleClass::Car,
            None,
            5_000_000,
            2,
            "16824.6.5.b",
        ),
        (
            WrongLane,
            VehicleClass::Motorbike,
            None,
            700_000,
            0,
            "16824.7.3.d",
        ),
        (
            NoHelmet,
            VehicleClass::Motorbike,
            None,
            500_000,
            0,
            "16824.7.2.h",
        ),
        (
            Speeding,
            VehicleClass::Car,
            Some((57.0, 50.0)),
            900_000,
            0,
            "16824.6.3.a",
        ),
        // "từ 10 km/h đến 20 km/h": both ends in the band.
        (
            Speeding,
            VehicleClass::Car,
            Some((60.0, 50.0)),
            5_000_000,
            2,
            "16824.6.5.đ",
        ),
        (
            Speeding,
            VehicleClass::Car,
            Some((70.0, 50.0)),
            5_000_000,
            2,
            "16824.6.5.đ",
        ),
        // "trên 20 km/h đến 35 km/h": above 20, up to and with 35.
        (
            Speeding,
            VehicleClass::Car,
            Some((70.5, 50.0)),
            7_000_000,
            4,
            "16824.6.6.a",
        ),
        (
            Speeding,
            VehicleClass::Car,
            Some((85.0, 50.0)),
            7_000_000,
            4,
            "16824.6.6.a",
        ),
        (
            Speeding,
            VehicleClass::Car,
            Some((85.5, 50.0)),
            13_000_000,
            6,
            "16824.6.7.a",
        ),
        (
            Speeding,
            VehicleClass::Motorbike,
            Some((48.0, 40.0)),
            500_000,
            0,
            "16824.7.2.b",
        ),
        (
            Speeding,
            VehicleClass::Motorbike,
            Some((49.9, 40.0)),
            500_000,
            0,
            "16824.7.2.b",
        ),
        (
            Speeding,
            VehicleClass::Motorbike,
            Some((50.0, 40.0)),
            900_000,
            0,
            "16824.7.4.a",
        ),
        (
            Speeding,
            VehicleClass::Motorbike,
            Some((60.0, 40.0)),
            900_000,
            0,
            "16824.7.4.a",
        ),
        (
            Speeding,
            VehicleClass::Motorbike,
            Some((60.5, 40.0)),
            7_000_000,
            4,
            "16824.7.8.a",
        ),
        (
            Speeding,
            VehicleClass::Motorbike,
            Some((75.0, 40.0)),
            7_000_000,
            4,
            "16824.7.8.a",
        ),
    ];
    for (kind, class, speed, amount, points, code) in cases {
        let (speed, limit) = speed.map_or((None, None), |(s, l)| (Some(s), Some(l)));
        let a = s.assess(kind, class, speed, limit, at).unwrap();
        assert_eq!(
            (a.amount_vnd, a.rule.points),
            (amount, points),
            "{kind} {class:?} {speed:?}"
        );
        assert!(a.amount_vnd >= a.rule.min_vnd && a.amount_vnd <= a.rule.max_vnd);
        assert!(a.rule.reference.ends_with("Nghị định số 168/2024/NĐ-CP"));
        assert_eq!(
            a.rule.code().as_deref(),
            Some(code),
            "{kind} {class:?} {speed:?}"
        );
    }
}

#[test]
fn bands_meet_without_a_gap_or_an_overlap() {
    let band = |from, from_in, to: Option<u32>, to_in| FineRule {
        over_kmh_from: Some(from),
        over_kmh_from_included: from_in,
        over_kmh_to: to,
        over_kmh_to_included: to_in,
        ..shipped().rules[4].clone()
    };
    // [10, 20] and (20, 35] meet at 20 without sharing it; [10, 20] and [20, 35] share it.
    assert!(!band(10, true, Some(20), true).same_case(&band(20, false, Some(35), true)));
    assert!(band(10, true, Some(20), true).same_case(&band(20, true, Some(35), true)));
    assert!(!band(5, true, Some(10), false).same_case(&band(10, true, Some(20), true)));
    assert!(band(20, false, None, false).same_case(&band(30, true, Some(40), false)));
    // An empty band is refused.
    let mut s = shipped();
    s.rules.push(FineRule {
        effective_from: date!(2030 - 01 - 01),
        ..band(20, false, Some(20), true)
    });
    assert!(s.validate().unwrap_err().contains("empty band"));
}

#[test]
fn cases_without_a_fine_say_why() {
    let s = shipped();
    let at = datetime!(2025-06-01 10:00 UTC);
    assert_eq!(
        s.assess(Speeding, VehicleClass::Car, Some(54.0), Some(50.0), at),
        Err(NoFine::BelowThreshold { over: 4.0 })
    );
    assert_eq!(
        s.assess(Speeding, VehicleClass::Car, None, Some(50.0), at),
        Err(NoFine::NoSpeed)
    );
    assert!(matches!(
        s.assess(IllegalStopping, VehicleClass::Car, None, None, at),
        Err(NoFine::NoZoneCase)
    ));
    assert!(matches!(
        s.assess(NoHelmet, VehicleClass::Car, None, None, at),
        Err(NoFine::NoRule { .. })
    ));
    // Before the decree took effect (Vietnam time): nothing in this schedule applies.
    assert!(matches!(
        s.assess(
            RedLight,
            VehicleClass::Car,
            None,
            None,
            datetime!(2024-12-31 16:59 UTC)
        ),
        Err(NoFine::NoRule { .. })
    ));
    assert!(
        s.assess(
            RedLight,
            VehicleClass::Car,
            None,
            None,
            datetime!(2024-12-31 17:00 UTC)
        )
        .is_ok()
    );
}

#[test]
fn an_amendment_applies_only_from_its_effective_date() {
    let mut s = shipped();
    let amended_from = date!(2026 - 08 - 15);
    for rule in s
        .rules
        .iter_mut()
        .filter(|r| r.kind == RedLight && r.vehicle == VehicleCategory::Motorbike)
    {
        rule.effective_to = Some(amended_from);
    }
    s.rules.push(FineRule {
        kind: RedLight,
        vehicle: VehicleCategory::Motorbike,
        over_kmh_from: None,
        over_kmh_to: None,
        over_kmh_from_included: true,
        over_kmh_to_included: false,
        zone_case: None,
        min_vnd: 6_000_000,
        max_vnd: 8_000_000,
        points: 6,
        reference: "Nghị định 238/2026/NĐ-CP (test row)".into(),
        effective_from: amended_from,
        effective_to: None,
        verify: true,
    });
    s.validate().unwrap();
    let before = s
        .assess(
            RedLight,
            VehicleClass::Motorbike,
            None,
            None,
            datetime!(2026-08-14 16:59 UTC),
        )
        .unwrap();
    assert_eq!((before.amount_vnd, before.rule.points), (5_000_000, 4));
    let after = s
        .assess(
            RedLight,
            VehicleClass::Motorbike,
            None,
            None,
            datetime!(2026-08-14 17:00 UTC),
        )
        .unwrap();
    assert_eq!((after.amount_vnd, after.rule.points), (7_000_000, 6));

    // An amendment that forgets to close the old rows is refused.
    let mut overlapping = shipped();
    overlapping.rules.push(s.rules.last().unwrap().clone());
    assert!(overlapping.validate().is_err());
}
