//! Series rules: which letters a series may use, the special series and military plates.
//!
//! Data in `protocol/data/series.toml`, compiled in.

use std::sync::LazyLock;

use serde::Deserialize;

use super::{PlateCategory, PlateColour};

/// A two-letter special series such as `NG` (diplomatic) or `LD` (joint venture).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialSeries {
    pub code: String,
    pub meaning: String,
    /// The category a plate of this series belongs to when its text alone does not say.
    pub vehicle: PlateCategory,
    pub colour: Option<PlateColour>,
    /// A foreign series: its plates read province, country code, series, order
    /// (`29-636-NG-11`).
    #[serde(default)]
    pub foreign: bool,
    #[serde(default)]
    pub verify: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MilitaryRule {
    pub first_letters: String,
    pub colour: PlateColour,
    #[serde(default)]
    pub verify: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesRules {
    pub reference: String,
    pub letters: String,
    pub trailer_letter: char,
    pub special: Vec<SpecialSeries>,
    pub military: MilitaryRule,
}

impl SeriesRules {
    /// Whether `c` may stand in a series.
    pub fn is_series_letter(&self, c: char) -> bool {
        self.letters.contains(c)
    }

    pub fn special(&self, code: &str) -> Option<&SpecialSeries> {
        self.special.iter().find(|s| s.code == code)
    }
}

static RULES: LazyLock<SeriesRules> = LazyLock::new(|| {
    toml::from_str(include_str!("../../data/series.toml"))
        .expect("the embedded series table is valid TOML (checked by its tests)")
});

/// The series rules in force.
pub fn rules() -> &'static SeriesRules {
    &RULES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_letters_are_allowed_and_the_confusable_five_are_not() {
        let rules = rules();
        assert_eq!(rules.letters.chars().count(), 20);
        for c in ['I', 'J', 'O', 'Q', 'W', 'R'] {
            assert!(!rules.is_series_letter(c), "{c}");
        }
        assert_eq!(rules.trailer_letter, 'R');
        assert_eq!(
            rules.special("NG").unwrap().colour,
            Some(PlateColour::WhiteRedText)
        );
        assert_eq!(
            rules.special("MĐ").unwrap().vehicle,
            PlateCategory::Motorbike
        );
    }
}
