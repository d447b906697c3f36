use super::*;

#[test]
fn assess_answers_for_one_case_as_the_decree_writes_it() {
    let s = crate::fines::FineSchedule::shipped().expect("shipped");
    let car = |over| {
        assess(
            &s,
            ("speeding", "car"),
            (Some(over), None),
            Some("2025-06-01"),
        )
    };
    // Exactly 35 over is "trên 20 km/h đến 35 km/h"; a little more is "trên 35 km/h".
    let at_35 = car(35.0).expect("a rule");
    assert_eq!(
        (at_35.min_vnd, at_35.max_vnd, at_35.amount_vnd, at_35.points),
        (6_000_000, 8_000_000, 7_000_000, 4)
    );
    assert_eq!(
        at_35.reference,
        "Điểm a khoản 6 Điều 6 Nghị định số 168/2024/NĐ-CP"
    );
    assert_eq!(at_35.code.as_deref(), Some("16824.6.6.a"));
    assert_eq!(car(35.5).expect("a rule").points, 6);
    let helmet = assess(
        &s,
        ("no_helmet", "motorbike"),
        (None, None),
        Some("2025-06-01"),
    )
    .expect("a rule");
    assert_eq!(helmet.code.as_deref(), Some("16824.7.2.h"));
    // An organisation that named no driver: twice the range, no points, the act's code
    // kept and the provisions that make it so cited after the act's.
    let red = assess(&s, ("red_light", "car"), (None, None), Some("2025-06-01")).expect("a rule");
    let org = red.clone().for_organisation();
    assert_eq!(
        (org.min_vnd, org.max_vnd, org.amount_vnd, org.points),
        (36_000_000, 40_000_000, 38_000_000, 0)
    );
    assert_eq!(org.code, red.code);
    assert_eq!(
        org.reference,
        "Điểm b khoản 9 Điều 6 Nghị định số 168/2024/NĐ-CP; Điểm b khoản 8 Điều 47 \
         Nghị định số 168/2024/NĐ-CP; Điểm e khoản 1 Điều 3 Luật Xử lý vi phạm hành chính \
         số 15/2012/QH13"
    );
    // Illegal stopping, by what the zone forbids: a car on a bridge, a motorbike at a
    // junction; a zone whose case is not set up has no fine to propose.
    let stopping = |vehicle, case| {
        assess(
            &s,
            ("illegal_stopping", vehicle),
            (None, case),
            Some("2025-06-01"),
        )
    };
    let bridge = stopping("car", Some("bridge")).expect("a rule");
    assert_eq!(
        (bridge.min_vnd, bridge.max_vnd, bridge.points),
        (2_000_000, 3_000_000, 2)
    );
    assert_eq!(bridge.code.as_deref(), Some("16824.6.4.b"));
    let junction = stopping("motorbike", Some("junction")).expect("a rule");
    assert_eq!(
        (junction.min_vnd, junction.max_vnd, junction.points),
        (400_000, 600_000, 0)
    );
    assert_eq!(junction.code.as_deref(), Some("16824.7.2.e"));
    let unset = stopping("car", None).unwrap_err().to_string();
    assert!(unset.contains("does not say what it forbids"), "{unset}");
    let unknown = stopping("car", Some("roof")).unwrap_err().to_string();
    assert!(unknown.contains("--zone-case"), "{unknown}");
    assert!(
        stopping("motorbike", Some("expressway")).is_err(),
        "no motorbike row for an expressway"
    );
    // Clear refusals.
    let before = assess(&s, ("red_light", "car"), (None, None), Some("2024-12-31")).unwrap_err();
    assert!(before.to_string().contains("no rule"), "{before}");
    let below = car(4.0).unwrap_err();
    assert!(
        below.to_string().contains("below the first band"),
        "{below}"
    );
    assert!(
        assess(&s, ("speeding", "car"), (None, None), None).is_err(),
        "speeding needs --over-kmh"
    );
    assert!(
        assess(&s, ("parking", "car"), (None, None), None)
            .unwrap_err()
            .to_string()
            .contains("--kind")
    );
    assert!(
        assess(&s, ("red_light", "bus"), (None, None), None)
            .unwrap_err()
            .to_string()
            .contains("--vehicle")
    );
    assert!(
        assess(&s, ("red_light", "car"), (None, None), Some("1/6/2025"))
            .unwrap_err()
            .to_string()
            .contains("--on")
    );
}
