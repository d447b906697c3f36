//! The periods and rules of a camera case between the notice and the payment, each with the
//! provision it comes from. Circular 73/2024/TT-BCA, Article 24, sets how a violation seen by a
//! camera reaches its owner (the notice on form 01, "Thông báo vi phạm hành chính về trật tự,
//! an toàn giao thông đường bộ"); the Law on Handling Administrative Violations (Law
//! 15/2012/QH13, amended by Laws 67/2020/QH14 and 88/2025/QH15) sets the explanation, the
//! amount within a range, the decision (form MQĐ02 of Decree 118/2021/NĐ-CP, "Số: …/QĐ-XPHC")
//! and payment.

use time::{Duration, OffsetDateTime};

use super::calendar::Calendar;

use protocol::time::VIETNAM;

/// Days from the detection within which the notice goes to the owner (Circular 73/2024/TT-BCA,
/// Article 24 clause 1).
pub const NOTICE_DAYS: i64 = 10;

/// Days from sending the notice after which, the owner not having come or answered, the
/// warnings go to the registration and inspection authorities (Circular 73/2024/TT-BCA,
/// Article 24 clause 5).
pub const ANSWER_DAYS: i64 = 20;

/// The end of the time within which a violation may be sanctioned: one year from the day it
/// was committed (Law 15/2012/QH13, Article 6 clause 1 point a). A case not decided by then is
/// closed without a penalty.
pub fn time_bar(occurred_at: OffsetDateTime) -> OffsetDateTime {
    let local = occurred_at.to_offset(VIETNAM);
    let date = local.date();
    // 29 February's year ends on 28 February.
    let next = date
        .replace_year(date.year() + 1)
        .or_else(|_| {
            date.replace_day(28)
                .and_then(|d| d.replace_year(date.year() + 1))
        })
        .unwrap_or(date);
    next.with_time(local.time())
        .assume_offset(VIETNAM)
        .to_offset(time::UtcOffset::UTC)
}

/// The least a range's maximum must be for an individual to have the right to explain before
/// the decision (Law 15/2012/QH13, Article 61 clause 1, as amended by Law 67/2020/QH14: "từ
/// 15.000.000 đồng trở lên đối với cá nhân, từ 30.000.000 đồng trở lên đối với tổ chức").
pub const EXPLANATION_FROM_VND: u64 = 15_000_000;

/// The same for an organisation (the same clause).
pub const ORGANISATION_EXPLANATION_FROM_VND: u64 = 30_000_000;

/// Why an organisation that owns the vehicle is sanctioned when it does not name the driver,
/// and at twice an individual's fine: Decree 168/2024/NĐ-CP, Article 47 clause 8 point b ("Trường
/// hợp chủ phương tiện là tổ chức, nếu không hợp tác với cơ quan chức năng, không giải trình để
/// xác định được người đã điều khiển phương tiện thực hiện hành vi vi phạm thì bị xử phạt vi
/// phạm hành chính đối với tổ chức thực hiện hành vi vi phạm được phát hiện, trừ trường hợp
/// phương tiện bị chiếm đoạt, sử dụng trái phép"), and Law 15/2012/QH13, Article 3 clause 1
/// point e ("Đối với cùng một hành vi vi phạm hành chính thì mức phạt tiền đối với tổ chức bằng
/// 02 lần mức phạt tiền đối với cá nhân").
pub const ORGANISATION_BASIS: &str = "Điểm b khoản 8 Điều 47 Nghị định số 168/2024/NĐ-CP; \
     Điểm e khoản 1 Điều 3 Luật Xử lý vi phạm hành chính số 15/2012/QH13";

/// Who a case is against, where the law treats them differently. The decree's amounts are an
/// individual's; an organisation is fined twice them, holds no driving licence to lose points
/// from, and may explain from a higher maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offender {
    Individual,
    Organisation,
}

impl Offender {
    /// An organisation when the case names one.
    pub fn of<T>(organisation: Option<T>) -> Self {
        if organisation.is_some() {
            Self::Organisation
        } else {
            Self::Individual
        }
    }

    /// The range and the points of this offender for an act the schedule fines `min`–`max` ₫
    /// and `points` (an individual's).
    pub fn fine(self, (min, max): (u64, u64), points: u8) -> ((u64, u64), u8) {
        match self {
            Self::Individual => ((min, max), points),
            Self::Organisation => ((min * 2, max * 2), 0),
        }
    }

    /// The least maximum of a range that gives the right to explain.
    pub fn explanation_from_vnd(self) -> u64 {
        match self {
            Self::Individual => EXPLANATION_FROM_VND,
            Self::Organisation => ORGANISATION_EXPLANATION_FROM_VND,
        }
    }
}

/// The middle of a range, rounded down to the thousand đồng: the amount a decision proposes.
pub fn middle(min_vnd: u64, max_vnd: u64) -> u64 {
    (min_vnd + max_vnd) / 2 / 1000 * 1000
}

/// Working days from the record within which an individual may explain in writing (Law
/// 15/2012/QH13, Article 61 clause 2).
pub const EXPLANATION_WORKING_DAYS: u32 = 5;

/// Days from the decision within which the fine is paid (Law 15/2012/QH13, Article 73 clause 1;
/// the law counts from when the person receives the decision).
pub const PAY_DAYS: i64 = 10;

/// The end of the `n`th working day after the day of `from` (Vietnam time), the working days
/// as `calendar` has them (Monday to Friday but the holidays and the days recorded off, and the
/// weekend days recorded worked): a period of `n` working days counted from `from` ends then.
pub fn working_days_after(from: OffsetDateTime, n: u32, calendar: &Calendar) -> OffsetDateTime {
    let mut day = from.to_offset(VIETNAM).date();
    let mut counted = 0;
    while counted < n {
        let Some(next) = day.next_day() else { break };
        day = next;
        if calendar.is_working_day(day) {
            counted += 1;
        }
    }
    day.next_day()
        .unwrap_or(day)
        .midnight()
        .assume_offset(VIETNAM)
        .to_offset(time::UtcOffset::UTC)
}

/// The end of a period of `n` days counted from `from` (Vietnam time), by the Civil Code
/// (91/2015/QH13): it begins the day after (Article 147 clause 2), ends at the end of its last
/// day (Article 148 clause 1), and a last day that is a weekend day or a holiday moves to the
/// next working day (Article 148 clause 5), the working days as `calendar` has them.
pub fn days_after(from: OffsetDateTime, n: u32, calendar: &Calendar) -> OffsetDateTime {
    let mut last = from.to_offset(VIETNAM).date() + Duration::days(i64::from(n));
    while !calendar.is_working_day(last) {
        let Some(next) = last.next_day() else { break };
        last = next;
    }
    last.next_day()
        .unwrap_or(last)
        .midnight()
        .assume_offset(VIETNAM)
        .to_offset(time::UtcOffset::UTC)
}

/// Until when the officer deciding waits for `offender`'s explanation, counted from
/// `answered_at` (the owner's answer, which stands for the record): the end of the period when
/// the range's maximum (the offender's) reaches [`Offender::explanation_from_vnd`], `None` when
/// it gives no right to explain. (A case whose explanation was given and answered has had its
/// period.)
pub fn explanation_until(
    offender: Offender,
    max_vnd: u64,
    answered_at: OffsetDateTime,
    calendar: &Calendar,
) -> Option<OffsetDateTime> {
    (max_vnd >= offender.explanation_from_vnd())
        .then(|| working_days_after(answered_at, EXPLANATION_WORKING_DAYS, calendar))
}

/// The day payment is due for a decision taken at `decided_at`.
pub fn pay_by(decided_at: OffsetDateTime) -> OffsetDateTime {
    decided_at + Duration::days(PAY_DAYS)
}

/// A circumstance that moves the amount from the middle of the range (Law 15/2012/QH13,
/// Article 9 mitigating, Article 10 aggravating; Article 23 clause 4 the amount).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Circumstance {
    Mitigating,
    Aggravating,
}

impl Circumstance {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mitigating => "mitigating",
            Self::Aggravating => "aggravating",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Mitigating, Self::Aggravating]
            .into_iter()
            .find(|c| c.as_str() == name)
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Self::Mitigating => "Tình tiết giảm nhẹ",
            Self::Aggravating => "Tình tiết tăng nặng",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Mitigating => "Mitigating",
            Self::Aggravating => "Aggravating",
        }
    }
}

/// Why the amount asked for cannot be decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountRefused {
    #[error("{amount} ₫ is outside the range {min}–{max} ₫")]
    OutsideRange { amount: u64, min: u64, max: u64 },
    #[error(
        "an amount other than the middle of the range ({middle} ₫) needs a mitigating or aggravating circumstance, stated"
    )]
    NoCircumstance { middle: u64 },
    #[error(
        "a mitigating circumstance lowers the amount below the middle ({middle} ₫), never raises it"
    )]
    MitigatingRaises { middle: u64 },
    #[error(
        "an aggravating circumstance raises the amount above the middle ({middle} ₫), never lowers it"
    )]
    AggravatingLowers { middle: u64 },
}

/// The amount of a decision: the middle of the range (`middle`) unless a stated circumstance
/// moves it, down to the range's minimum at most for a mitigating one, up to its maximum for an
/// aggravating one (Law 15/2012/QH13, Article 23 clause 4).
pub fn decided_amount(
    min: u64,
    max: u64,
    middle: u64,
    asked: Option<u64>,
    circumstance: Option<Circumstance>,
) -> Result<u64, AmountRefused> {
    let amount = asked.unwrap_or(middle);
    if amount < min || amount > max {
        return Err(AmountRefused::OutsideRange { amount, min, max });
    }
    match circumstance {
        _ if amount == middle => Ok(amount),
        None => Err(AmountRefused::NoCircumstance { middle }),
        Some(Circumstance::Mitigating) if amount > middle => {
            Err(AmountRefused::MitigatingRaises { middle })
        }
        Some(Circumstance::Aggravating) if amount < middle => {
            Err(AmountRefused::AggravatingLowers { middle })
        }
        Some(_) => Ok(amount),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_period_of_days_ends_with_its_last_day_or_the_working_day_after_it() {
        let law = Calendar::default();
        // Received on a Monday afternoon: ten days end at the end of Thursday the 17th.
        let monday = datetime!(2026-12-07 15:00 +7);
        assert_eq!(days_after(monday, 10, &law), datetime!(2026-12-18 00:00 +7));
        // Received late in the evening UTC: the day counted is Vietnam's.
        assert_eq!(
            days_after(datetime!(2026-12-07 20:00 UTC), 10, &law),
            datetime!(2026-12-19 00:00 +7)
        );
        // A last day on a Saturday moves to the end of Monday; one on 1 January (a Friday), to
        // the end of Monday the 4th.
        assert_eq!(
            days_after(datetime!(2026-12-09 10:00 +7), 10, &law),
            datetime!(2026-12-22 00:00 +7)
        );
        assert_eq!(
            days_after(datetime!(2026-12-22 10:00 +7), 10, &law),
            datetime!(2027-01-05 00:00 +7)
        );
    }

    #[test]
    fn working_days_skip_the_weekend_and_end_at_midnight_in_vietnam() {
        // Friday 4 December 2026, 15:00 in Vietnam: Mon 7 to Fri 11 → ends at the start of
        // Saturday 12 December, Vietnam time.
        let law = Calendar::default();
        let from = datetime!(2026-12-04 08:00 UTC);
        assert_eq!(
            working_days_after(from, 5, &law),
            datetime!(2026-12-12 00:00 +7)
        );
        // Late on Friday in Vietnam (Friday 20:00 UTC is Saturday 03:00 there): counted from
        // the Saturday.
        let sat = datetime!(2026-12-04 20:00 UTC);
        assert_eq!(
            working_days_after(sat, 1, &law),
            datetime!(2026-12-08 00:00 +7)
        );
    }

    #[test]
    fn working_days_skip_the_holidays_and_count_a_saturday_worked() {
        use super::super::calendar::CalendarDay;
        // Answered on Monday 27 April 2026: Thursday 30 April and Friday 1 May are holidays by
        // the Labour Code, so Tue 28, Wed 29, Mon 4, Tue 5, Wed 6 → ends at the start of Thursday
        // 7 May (without them it would end at the start of Tuesday 5 May).
        let answered = datetime!(2026-04-27 10:00 +7);
        let law = Calendar::default();
        assert_eq!(
            working_days_after(answered, 5, &law),
            datetime!(2026-05-07 00:00 +7)
        );
        // Five weekdays recorded off (Monday 8 to Friday 12 February 2027, as a lunar New Year
        // is) and a Saturday worked in exchange (6 February): answered Thursday 4 February → Fri 5, Sat 6, Mon 15, Tue 16,
        // Wed 17 → the start of Thursday 18 February.
        let day = |d: time::Date, off: bool| CalendarDay {
            day: d,
            off,
            name: "Tết Nguyên đán".into(),
            reference: "the year's announcement".into(),
        };
        let mut recorded: Vec<CalendarDay> = (8..=12)
            .map(|d| {
                day(
                    time::Date::from_calendar_date(2027, time::Month::February, d).unwrap(),
                    true,
                )
            })
            .collect();
        recorded.push(day(time::macros::date!(2027 - 02 - 06), false));
        let calendar = Calendar::new(&recorded);
        assert_eq!(
            working_days_after(datetime!(2027-02-04 09:00 +7), 5, &calendar),
            datetime!(2027-02-18 00:00 +7)
        );
    }

    #[test]
    fn a_violation_is_time_barred_a_year_after_its_day() {
        assert_eq!(
            time_bar(datetime!(2026-12-04 08:00 UTC)),
            datetime!(2027-12-04 08:00 UTC)
        );
        assert_eq!(
            time_bar(datetime!(2028-02-29 03:00 +7)),
            datetime!(2029-02-28 03:00 +7)
        );
    }

    #[test]
    fn only_ranges_reaching_fifteen_million_wait_for_an_explanation() {
        let at = datetime!(2026-12-04 08:00 UTC);
        // Car through a red light: 18–20 M.
        let law = Calendar::default();
        let one = Offender::Individual;
        assert!(explanation_until(one, 20_000_000, at, &law).is_some());
        assert!(explanation_until(one, 15_000_000, at, &law).is_some());
        // Motorbike through a red light: 4–6 M.
        assert_eq!(explanation_until(one, 6_000_000, at, &law), None);
    }

    #[test]
    fn an_organisation_is_fined_twice_loses_no_points_and_explains_from_thirty_million() {
        let org = Offender::Organisation;
        // Car through a red light, Decree 168/2024/NĐ-CP Art. 6 cl. 9 b: 18–20 M and 4 points
        // for an individual.
        assert_eq!(
            org.fine((18_000_000, 20_000_000), 4),
            ((36_000_000, 40_000_000), 0)
        );
        assert_eq!(
            Offender::Individual.fine((18_000_000, 20_000_000), 4),
            ((18_000_000, 20_000_000), 4)
        );
        assert_eq!(middle(36_000_000, 40_000_000), 38_000_000);
        let at = datetime!(2026-12-04 08:00 UTC);
        let law = Calendar::default();
        assert!(explanation_until(org, 30_000_000, at, &law).is_some());
        // 20 M gives an individual the right to explain, not an organisation.
        assert_eq!(explanation_until(org, 20_000_000, at, &law), None);
        assert_eq!(Offender::of(Some("0312345678")), org);
        assert_eq!(Offender::of(None::<&str>), Offender::Individual);
    }

    #[test]
    fn the_amount_is_the_middle_unless_a_stated_circumstance_moves_it() {
        let (min, max, mid) = (18_000_000, 20_000_000, 19_000_000);
        assert_eq!(decided_amount(min, max, mid, None, None), Ok(mid));
        assert_eq!(decided_amount(min, max, mid, Some(mid), None), Ok(mid));
        assert_eq!(
            decided_amount(min, max, mid, Some(18_000_000), None),
            Err(AmountRefused::NoCircumstance { middle: mid })
        );
        assert_eq!(
            decided_amount(
                min,
                max,
                mid,
                Some(18_000_000),
                Some(Circumstance::Mitigating)
            ),
            Ok(18_000_000)
        );
        assert_eq!(
            decided_amount(
                min,
                max,
                mid,
                Some(20_000_000),
                Some(Circumstance::Aggravating)
            ),
            Ok(20_000_000)
        );
        assert_eq!(
            decided_amount(
                min,
                max,
                mid,
                Some(19_500_000),
                Some(Circumstance::Mitigating)
            ),
            Err(AmountRefused::MitigatingRaises { middle: mid })
        );
        assert_eq!(
            decided_amount(
                min,
                max,
                mid,
                Some(18_500_000),
                Some(Circumstance::Aggravating)
            ),
            Err(AmountRefused::AggravatingLowers { middle: mid })
        );
        assert_eq!(
            decided_amount(
                min,
                max,
                mid,
                Some(17_000_000),
                Some(Circumstance::Mitigating)
            ),
            Err(AmountRefused::OutsideRange {
                amount: 17_000_000,
                min,
                max
            })
        );
    }
}
