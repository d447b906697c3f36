use super::*;

fn decision(amount_vnd: u64, pay_by_ms: i64) -> PenaltyDecision {
    PenaltyDecision {
        decision_id: Uuid::nil(),
        fine_id: Uuid::nil(),
        decision_number: "000001/QĐ-XPHC".into(),
        citizen_id: CitizenId::parse("079203012345").unwrap_or_else(|e| panic!("{e}")),
        amount_vnd,
        points: 4,
        points_left: 8,
        legal_reference: "Điểm b khoản 9 Điều 6 Nghị định số 168/2024/NĐ-CP".into(),
        circumstance: None,
        organisation: None,
        decided_by: "Trưởng phòng CSGT".into(),
        decided_at: at(0),
        pay_by: at(pay_by_ms),
    }
}

fn at(ms: i64) -> UtcTimestamp {
    UtcTimestamp::from_unix_ms(1_764_000_000_000 + ms).unwrap_or_else(|| panic!("{ms}"))
}

#[test]
fn a_case_central_closed_says_why_and_an_answer_to_a_dispute_reads_as_before() {
    let mut r = FineResolution {
        resolution_id: Uuid::nil(),
        fine_id: Uuid::nil(),
        decided_at: at(0),
        outcome: DisputeOutcome::Cancelled,
        answer: "Giải trình được chấp nhận.".into(),
        ground: ResolutionGround::Dispute,
    };
    // The answer to a dispute is written as a citizen-notify of the first version reads it.
    let bytes = crate::wire::encode(&r).unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(!text.contains("ground"), "{text}");
    r.ground = ResolutionGround::TimeBarred;
    let bytes = crate::wire::encode(&r).unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&bytes).contains("\"ground\":\"time_barred\""));
    let back: FineResolution = crate::wire::decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, r);
    // A case closed by central owes nothing: it is never "upheld".
    r.outcome = DisputeOutcome::Upheld;
    let refused = crate::wire::encode(&r).map(|_| ()).unwrap_err();
    assert!(refused.to_string().contains("outcome"), "{refused}");
    for g in [
        ResolutionGround::Dispute,
        ResolutionGround::TimeBarred,
        ResolutionGround::Transferred,
    ] {
        assert_eq!(ResolutionGround::parse(g.as_str()), Some(g));
    }
}

#[test]
fn a_late_payment_adds_five_ten_thousandths_a_day_begun() {
    const DAY: i64 = 86_400_000;
    let d = decision(19_000_000, 10 * DAY);
    assert_eq!(d.amount_due(at(10 * DAY)), 19_000_000, "on the due time");
    assert_eq!(d.amount_due(at(10 * DAY + 1)), 19_009_500, "a day begun");
    assert_eq!(d.amount_due(at(13 * DAY)), 19_028_500, "three days");
    assert_eq!(decision(999, 0).amount_due(at(DAY)), 999, "rounded down");
}
