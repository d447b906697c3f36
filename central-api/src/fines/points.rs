//! Driving-licence points (Law 36/2024/QH15 on Road Traffic Order and Safety, Article 58): a
//! licence holds 12 points; a penalty decision deducts the points its decree provision sets
//! (Decree 168/2024/NĐ-CP, Article 6 clause 16 for cars, Article 7 clause 13 for motorbikes); a
//! licence not yet down to zero that goes 12 months from its latest deduction without another
//! gets its 12 points back (Article 58 clause 3). A licence at zero stays there until its holder
//! passes the traffic police's knowledge test, which this system does not record.

use time::{Date, Month, OffsetDateTime};

/// Points a licence holds (Article 58 clause 1).
pub const FULL: u8 = 12;

/// One deduction: when the decision took effect and how many points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deduction {
    pub at: OffsetDateTime,
    pub points: u8,
}

/// The same day twelve months on (29 February to 1 March).
fn a_year_after(at: OffsetDateTime) -> OffsetDateTime {
    let day = at.date();
    let next = Date::from_calendar_date(day.year() + 1, day.month(), day.day())
        .or_else(|_| Date::from_calendar_date(day.year() + 1, Month::March, 1));
    match next {
        Ok(d) => at.replace_date(d),
        Err(_) => at,
    }
}

/// The points left at `at` after `deductions` (any order; those after `at` are not counted).
pub fn left(deductions: &[Deduction], at: OffsetDateTime) -> u8 {
    let mut taken: Vec<Deduction> = deductions.iter().copied().filter(|d| d.at <= at).collect();
    taken.sort_by_key(|d| d.at);
    let mut left = FULL;
    let mut last: Option<OffsetDateTime> = None;
    for d in taken {
        if let Some(prev) = last
            && left > 0
            && d.at >= a_year_after(prev)
        {
            left = FULL;
        }
        left = left.saturating_sub(d.points);
        last = Some(d.at);
    }
    match last {
        Some(prev) if left > 0 && at >= a_year_after(prev) => FULL,
        _ => left,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn d(at: OffsetDateTime, points: u8) -> Deduction {
        Deduction { at, points }
    }

    #[test]
    fn a_licence_starts_full_and_loses_what_decisions_deduct() {
        let now = datetime!(2026-06-01 00:00 UTC);
        assert_eq!(left(&[], now), 12);
        let taken = [
            d(datetime!(2026-01-10 09:00 UTC), 4),
            d(datetime!(2026-03-05 09:00 UTC), 2),
        ];
        assert_eq!(left(&taken, now), 6);
        // A deduction after the moment asked about does not count yet.
        assert_eq!(left(&taken, datetime!(2026-02-01 00:00 UTC)), 8);
    }

    #[test]
    fn twelve_months_without_a_deduction_restore_the_twelve_points() {
        let taken = [
            d(datetime!(2025-03-01 08:00 UTC), 4),
            d(datetime!(2025-05-20 08:00 UTC), 6),
        ];
        // Counted from the latest deduction, not the first.
        assert_eq!(left(&taken, datetime!(2026-03-02 00:00 UTC)), 2);
        assert_eq!(left(&taken, datetime!(2026-05-20 07:59 UTC)), 2);
        assert_eq!(left(&taken, datetime!(2026-05-20 08:00 UTC)), 12);
        // A deduction after the restoration comes off the full twelve.
        let mut later = taken.to_vec();
        later.push(d(datetime!(2026-07-01 08:00 UTC), 4));
        assert_eq!(left(&later, datetime!(2026-07-02 00:00 UTC)), 8);
    }

    #[test]
    fn a_licence_at_zero_is_not_restored_by_time() {
        let taken = [
            d(datetime!(2024-02-29 08:00 UTC), 6),
            d(datetime!(2024-03-01 08:00 UTC), 6),
            d(datetime!(2024-04-01 08:00 UTC), 4),
        ];
        assert_eq!(left(&taken, datetime!(2024-05-01 00:00 UTC)), 0);
        assert_eq!(left(&taken, datetime!(2027-01-01 00:00 UTC)), 0);
    }

    #[test]
    fn the_twelve_months_from_29_february_end_on_1_march() {
        let taken = [d(datetime!(2024-02-29 08:00 UTC), 2)];
        assert_eq!(left(&taken, datetime!(2025-02-28 23:00 UTC)), 10);
        assert_eq!(left(&taken, datetime!(2025-03-01 08:00 UTC)), 12);
    }
}
