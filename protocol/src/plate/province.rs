//! The province code table: which province holds a plate's two-digit code, on a given day.
//!
//! The table is data (`protocol/data/provinces.toml`), compiled in. Mergers add rows; they never
//! edit the rows of the provinces that merged, so the holder of a code on any past day is known.

use std::sync::LazyLock;

use serde::Deserialize;
use time::Date;

/// One period during which a province held a set of codes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Province {
    pub name: String,
    pub codes: Vec<u8>,
    /// First day held (inclusive); `None` when held since before the table starts.
    #[serde(default, with = "date_opt")]
    pub from: Option<Date>,
    /// First day no longer held (exclusive); `None` while still held.
    #[serde(default, with = "date_opt")]
    pub until: Option<Date>,
    /// The province that took the codes over.
    pub successor: Option<String>,
    pub reference: Option<String>,
    pub note: Option<String>,
    /// Taken from secondary sources; to be checked against the legal text.
    #[serde(default)]
    pub verify: bool,
}

impl Province {
    /// Whether this row holds `code` on `day`.
    pub fn holds(&self, code: u8, day: Date) -> bool {
        self.codes.contains(&code)
            && self.from.is_none_or(|from| from <= day)
            && self.until.is_none_or(|until| day < until)
    }

    /// Whether this row is in force today (has no end date).
    pub fn is_current(&self) -> bool {
        self.until.is_none()
    }
}

mod date_opt {
    use serde::{Deserialize, Deserializer, de};
    use time::{Date, macros::format_description};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        Date::parse(&text, format_description!("[year]-[month]-[day]"))
            .map(Some)
            .map_err(|e| de::Error::custom(format!("date `{text}`: {e}")))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    province: Vec<Province>,
}

static TABLE: LazyLock<Vec<Province>> = LazyLock::new(|| {
    let table: Table = toml::from_str(include_str!("../../data/provinces.toml"))
        .expect("the embedded province table is valid TOML (checked by its tests)");
    table.province
});

/// Every row of the table.
pub fn all() -> &'static [Province] {
    &TABLE
}

/// Whether `code` was ever held by a province.
pub fn is_known(code: u8) -> bool {
    TABLE.iter().any(|p| p.codes.contains(&code))
}

/// The province that holds `code` on `day`.
pub fn holder(code: u8, day: Date) -> Option<&'static Province> {
    TABLE.iter().find(|p| p.holds(code, day))
}

/// The province that holds `code` today.
pub fn current(code: u8) -> Option<&'static Province> {
    TABLE
        .iter()
        .find(|p| p.is_current() && p.codes.contains(&code))
}

/// Every province that has held `code`, oldest first.
pub fn history(code: u8) -> Vec<&'static Province> {
    let mut rows: Vec<_> = TABLE.iter().filter(|p| p.codes.contains(&code)).collect();
    rows.sort_by_key(|p| p.from);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn table_is_consistent() {
        assert!(!all().is_empty());
        for code in 10..=99u8 {
            let rows = history(code);
            // Periods of one code never overlap and leave no gap once a code is in use.
            for pair in rows.windows(2) {
                assert_eq!(
                    pair[0].until, pair[1].from,
                    "code {code}: {} and {} do not meet",
                    pair[0].name, pair[1].name
                );
            }
            if !rows.is_empty() {
                assert!(current(code).is_some(), "code {code} has no current holder");
            }
        }
        for row in all() {
            if let Some(successor) = &row.successor {
                assert!(
                    all().iter().any(|p| &p.name == successor && p.is_current()),
                    "{}: successor {successor} is not a current province",
                    row.name
                );
            }
        }
    }

    #[test]
    fn ba_ria_vung_tau_plates_belong_to_ho_chi_minh_city_since_july_2025() {
        assert_eq!(
            holder(72, date!(2025 - 06 - 30)).unwrap().name,
            "Bà Rịa - Vũng Tàu"
        );
        assert_eq!(
            holder(72, date!(2025 - 07 - 01)).unwrap().name,
            "Thành phố Hồ Chí Minh"
        );
        assert_eq!(current(61).unwrap().name, "Thành phố Hồ Chí Minh");
        assert_eq!(current(51).unwrap().name, "Thành phố Hồ Chí Minh");
        let names: Vec<_> = history(72).iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Bà Rịa - Vũng Tàu", "Thành phố Hồ Chí Minh"]);
    }

    #[test]
    fn the_country_has_34_provincial_units_today() {
        let mut names: Vec<_> = all()
            .iter()
            .filter(|p| p.is_current() && p.codes != [80])
            .map(|p| p.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 34, "{names:?}");
    }

    #[test]
    fn unassigned_codes_are_unknown() {
        for code in [10, 13, 42, 44, 45, 46, 87, 91, 96] {
            assert!(!is_known(code), "{code}");
        }
        assert!(is_known(33));
        assert_eq!(holder(33, date!(2000 - 01 - 01)).unwrap().name, "Hà Tây");
    }
}
