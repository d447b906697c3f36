//! Which days are working days (ngày làm việc), for the periods the law counts in them (the
//! explanation, [`super::process::working_days_after`]).
//!
//! A working day is a day from Monday to Friday that is not a day off. The Labour Code (Law
//! 45/2019/QH14, Article 112 clause 1) fixes four holidays by the solar calendar — 1 January
//! (point a), 30 April (point c), 1 May (point d), 2 September (point đ) — which this module
//! knows; the others move every year: the five days of the lunar New Year (point b), the day
//! next to 2 September (point đ), the Hùng Kings' day on the 10th of the third lunar month
//! (point e), the Prime Minister's choice of days (clause 3), the days off given in place of a
//! holiday that fell on a weekend, and the Saturdays worked in exchange for a day off. The
//! deployment records those from each year's official announcement (`central-api
//! calendar-day`), each with its reference; a recorded day overrides the week's rule and the
//! fixed holidays.

use std::collections::BTreeMap;

use time::{Date, Month, Weekday};

/// A day the deployment recorded against the week's rule: a day off on a weekday, or a
/// weekend day worked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDay {
    pub day: Date,
    /// A day off (true), or a working day (false: a Saturday worked in exchange).
    pub off: bool,
    /// What the day is, as the announcement names it (e.g. "Tết Nguyên đán").
    pub name: String,
    /// The announcement that sets it (e.g. "Thông báo số …/TB-BNV").
    pub reference: String,
}

/// The working days as the law and the recorded days make them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    recorded: BTreeMap<Date, bool>,
}

impl Calendar {
    /// The calendar with `days` recorded.
    pub fn new<'a>(days: impl IntoIterator<Item = &'a CalendarDay>) -> Self {
        Self {
            recorded: days.into_iter().map(|d| (d.day, d.off)).collect(),
        }
    }

    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: Date) -> bool {
        match self.recorded.get(&day) {
            Some(off) => !off,
            None => {
                !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
                    && fixed_holiday(day).is_none()
            }
        }
    }

    /// Whether any day of `year` is recorded: a year with none counts only the fixed holidays,
    /// and a period through its lunar New Year ends, by this count, before the law's.
    pub fn has_year(&self, year: i32) -> bool {
        let first = Date::from_calendar_date(year, Month::January, 1);
        let next = Date::from_calendar_date(year + 1, Month::January, 1);
        match (first, next) {
            (Ok(first), Ok(next)) => self.recorded.range(first..next).next().is_some(),
            _ => false,
        }
    }
}

/// The holiday the Labour Code fixes on `day` by the solar calendar, if any, with the point that
/// fixes it (Law 45/2019/QH14, Article 112 clause 1).
pub fn fixed_holiday(day: Date) -> Option<&'static str> {
    match (day.month(), day.day()) {
        (Month::January, 1) => Some("Tết Dương lịch (điểm a khoản 1 Điều 112 Bộ luật Lao động)"),
        (Month::April, 30) => Some("Ngày Chiến thắng (điểm c khoản 1 Điều 112 Bộ luật Lao động)"),
        (Month::May, 1) => Some("Ngày Quốc tế lao động (điểm d khoản 1 Điều 112 Bộ luật Lao động)"),
        (Month::September, 2) => Some("Quốc khánh (điểm đ khoản 1 Điều 112 Bộ luật Lao động)"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn day(day: Date, off: bool) -> CalendarDay {
        CalendarDay {
            day,
            off,
            name: "test".into(),
            reference: "test".into(),
        }
    }

    #[test]
    fn weekends_and_the_fixed_holidays_are_off_unless_recorded_otherwise() {
        let law = Calendar::default();
        // Wednesday 2 September 2026, Thursday 30 April 2026, Friday 1 May 2026.
        for holiday in [
            date!(2026 - 09 - 02),
            date!(2026 - 04 - 30),
            date!(2026 - 05 - 01),
        ] {
            assert!(!law.is_working_day(holiday), "{holiday}");
            assert!(fixed_holiday(holiday).is_some());
        }
        assert!(law.is_working_day(date!(2026 - 09 - 03)));
        assert!(!law.is_working_day(date!(2026 - 12 - 05)), "a Saturday");
        assert!(!law.has_year(2026));
        // The day next to National Day off, a Saturday worked in exchange.
        let recorded = [
            day(date!(2026 - 09 - 01), true),
            day(date!(2026 - 12 - 05), false),
        ];
        let calendar = Calendar::new(&recorded);
        assert!(!calendar.is_working_day(date!(2026 - 09 - 01)));
        assert!(calendar.is_working_day(date!(2026 - 12 - 05)));
        assert!(calendar.has_year(2026) && !calendar.has_year(2027));
    }
}
