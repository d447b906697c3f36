//! The fine schedule and the assessment of one violation against it.

use protocol::{VehicleClass, ViolationEvent, ViolationKind, camera::ZoneCase};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

/// Vehicle categories of the decree: buses and trucks are cars ("ô tô").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleCategory {
    Car,
    Motorbike,
}

impl VehicleCategory {
    pub fn of(class: VehicleClass) -> Self {
        match class {
            VehicleClass::Motorbike => Self::Motorbike,
            VehicleClass::Car | VehicleClass::Bus | VehicleClass::Truck => Self::Car,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Car => "car",
            Self::Motorbike => "motorbike",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Car, Self::Motorbike]
            .into_iter()
            .find(|v| v.as_str() == name)
    }
}

/// One row of the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FineRule {
    pub kind: ViolationKind,
    pub vehicle: VehicleCategory,
    /// Speeding only: the band of km/h over the limit, from its lower bound to its upper one
    /// (none: no upper bound), each bound included or not as the decree writes it — "từ 10
    /// km/h đến 20 km/h" includes both, "trên 20 km/h đến 35 km/h" only the upper one.
    #[serde(default)]
    pub over_kmh_from: Option<u32>,
    #[serde(default)]
    pub over_kmh_to: Option<u32>,
    /// Whether the lower bound belongs to the band ("từ": yes, "trên": no).
    #[serde(default = "yes")]
    pub over_kmh_from_included: bool,
    /// Whether the upper bound belongs to the band ("đến": yes, "dưới": no).
    #[serde(default)]
    pub over_kmh_to_included: bool,
    /// Illegal stopping only: what the zone forbids (the sign or the place), which decides the
    /// decree's point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_case: Option<ZoneCase>,
    pub min_vnd: u64,
    pub max_vnd: u64,
    pub points: u8,
    /// Article, clause and point of the decree.
    pub reference: String,
    /// First day in force (Vietnam time), inclusive.
    #[serde(with = "date")]
    pub effective_from: Date,
    /// First day no longer in force, exclusive; absent while in force.
    #[serde(default, with = "date_opt")]
    pub effective_to: Option<Date>,
    /// From secondary sources; to be checked against the legal text.
    #[serde(default)]
    pub verify: bool,
}

fn yes() -> bool {
    true
}

impl FineRule {
    /// Whether the two rules fine the same violations (kind, vehicle, the zone's case and, for
    /// speeding, overlapping bands), whatever their periods.
    pub fn same_case(&self, other: &FineRule) -> bool {
        let bands_overlap = match (self.over_kmh_from, other.over_kmh_from) {
            (Some(a), Some(b)) => {
                // Each band's lower end lies below the other's upper end (or on it, where both
                // include it).
                let below = |from: u32, from_in: bool, r: &FineRule| {
                    r.over_kmh_to.is_none_or(|to| {
                        from < to || (from == to && from_in && r.over_kmh_to_included)
                    })
                };
                below(b, other.over_kmh_from_included, self)
                    && below(a, self.over_kmh_from_included, other)
            }
            _ => true,
        };
        self.kind == other.kind
            && self.vehicle == other.vehicle
            && self.zone_case == other.zone_case
            && bands_overlap
    }

    /// The violation code police systems show: decree, article, clause and point, as
    /// `16824.6.9.b` for point b of clause 9 of Article 6 of Decree 168/2024/NĐ-CP; `None` when
    /// the reference does not name them in the usual form ("Điểm b khoản 9 Điều 6 Nghị định số
    /// 168/2024/NĐ-CP").
    pub fn code(&self) -> Option<String> {
        let words: Vec<&str> = self.reference.split_whitespace().collect();
        let after = |key: &str| {
            words
                .iter()
                .position(|w| w.to_lowercase() == key)
                .and_then(|i| words.get(i + 1).copied())
        };
        let point = after("điểm")?;
        let clause = after("khoản")?;
        let article = after("điều")?;
        let decree = words.iter().find(|w| w.contains("/NĐ-CP"))?;
        let (number, rest) = decree.split_once('/')?;
        let year = rest.split('/').next()?;
        let short_year = year.get(year.len().checked_sub(2)?..)?;
        Some(format!("{number}{short_year}.{article}.{clause}.{point}"))
    }

    fn in_force(&self, day: Date) -> bool {
        self.effective_from <= day && self.effective_to.is_none_or(|to| day < to)
    }

    fn covers(&self, over_kmh: Option<f64>) -> bool {
        match (self.over_kmh_from, over_kmh) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(from), Some(over)) => {
                let from = f64::from(from);
                let above = if self.over_kmh_from_included {
                    over >= from
                } else {
                    over > from
                };
                let below = self.over_kmh_to.is_none_or(|to| {
                    let to = f64::from(to);
                    if self.over_kmh_to_included {
                        over <= to
                    } else {
                        over < to
                    }
                });
                above && below
            }
        }
    }
}

/// The fine proposed for one violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub rule: FineRule,
    /// The middle of the range, rounded down to the thousand đồng.
    pub amount_vnd: u64,
}

/// Why no fine can be proposed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoFine {
    #[error("no rule of the schedule covers {kind} by a {vehicle} on {day}")]
    NoRule {
        kind: ViolationKind,
        vehicle: &'static str,
        day: Date,
    },
    #[error("speeding needs the measured speed and the limit")]
    NoSpeed,
    #[error("{over:.1} km/h over the limit is below the first band")]
    BelowThreshold { over: f64 },
    #[error("the schedule has {0} rules in force for the same case")]
    Ambiguous(usize),
    #[error(
        "the no-stopping zone's set-up does not say what it forbids (the sign or the place), \
         which decides the decree's point"
    )]
    NoZoneCase,
}

/// The whole schedule, every period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FineSchedule {
    pub rules: Vec<FineRule>,
}

/// Vietnam keeps one time zone, UTC+7; decrees take effect on Vietnamese calendar days.
pub use protocol::time::VIETNAM;

impl FineSchedule {
    /// The schedule the project ships (Decree 168/2024/NĐ-CP), used to seed the database.
    pub fn shipped() -> Result<Self, toml::de::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            rule: Vec<FineRule>,
        }
        let file: File = toml::from_str(include_str!("../../data/fine_schedule.toml"))?;
        Ok(Self { rules: file.rule })
    }

    /// The fine for `kind` by a vehicle of `class` at `at`, with the speed over the limit for
    /// speeding.
    pub fn assess(
        &self,
        kind: ViolationKind,
        class: VehicleClass,
        speed_kmh: Option<f64>,
        limit_kmh: Option<f64>,
        at: OffsetDateTime,
    ) -> Result<Assessment, NoFine> {
        self.assess_in(kind, class, None, (speed_kmh, limit_kmh), at)
    }

    /// The fine for the violation `e` reports, by what it measured (the speed and the limit,
    /// the no-stopping zone's case) on the day it happened.
    pub fn assess_event(&self, e: &ViolationEvent) -> Result<Assessment, NoFine> {
        let m = &e.measurement;
        self.assess_in(
            e.kind,
            e.vehicle.class,
            m.zone_case,
            (m.speed_kmh, m.limit_kmh),
            e.occurred_at.as_datetime(),
        )
    }

    /// The fine for `kind` by a vehicle of `class` at `at`, in the no-stopping zone's `case`
    /// for illegal stopping, with the speed and the limit for speeding.
    pub fn assess_in(
        &self,
        kind: ViolationKind,
        class: VehicleClass,
        case: Option<ZoneCase>,
        (speed_kmh, limit_kmh): (Option<f64>, Option<f64>),
        at: OffsetDateTime,
    ) -> Result<Assessment, NoFine> {
        if kind == ViolationKind::IllegalStopping && case.is_none() {
            return Err(NoFine::NoZoneCase);
        }
        let vehicle = VehicleCategory::of(class);
        let day = at.to_offset(VIETNAM).date();
        let over = match (kind, speed_kmh, limit_kmh) {
            (ViolationKind::Speeding, Some(speed), Some(limit)) => Some(speed - limit),
            (ViolationKind::Speeding, _, _) => return Err(NoFine::NoSpeed),
            _ => None,
        };
        let in_force: Vec<&FineRule> = self
            .rules
            .iter()
            .filter(|r| {
                r.kind == kind && r.vehicle == vehicle && r.zone_case == case && r.in_force(day)
            })
            .collect();
        let matching: Vec<&FineRule> = in_force
            .iter()
            .copied()
            .filter(|r| r.covers(over))
            .collect();
        match matching.as_slice() {
            [rule] => Ok(Assessment {
                amount_vnd: super::process::middle(rule.min_vnd, rule.max_vnd),
                rule: (*rule).clone(),
            }),
            [] => match over {
                Some(over) if !in_force.is_empty() => Err(NoFine::BelowThreshold { over }),
                _ => Err(NoFine::NoRule {
                    kind,
                    vehicle: vehicle.as_str(),
                    day,
                }),
            },
            many => Err(NoFine::Ambiguous(many.len())),
        }
    }

    /// Checks the schedule: ranges ordered, bands only on speeding, and no two rules covering
    /// the same case on the same day.
    pub fn validate(&self) -> Result<(), String> {
        for (i, r) in self.rules.iter().enumerate() {
            if r.min_vnd > r.max_vnd {
                return Err(format!("rule {i} ({}): min above max", r.reference));
            }
            if (r.kind == ViolationKind::Speeding) != r.over_kmh_from.is_some() {
                return Err(format!(
                    "rule {i} ({}): a band belongs to speeding rules only",
                    r.reference
                ));
            }
            if (r.kind == ViolationKind::IllegalStopping) != r.zone_case.is_some() {
                return Err(format!(
                    "rule {i} ({}): a zone's case belongs to illegal stopping rules, and every \
                     one of them has one",
                    r.reference
                ));
            }
            if let (Some(from), Some(to)) = (r.over_kmh_from, r.over_kmh_to)
                && (from > to
                    || (from == to && !(r.over_kmh_from_included && r.over_kmh_to_included)))
            {
                return Err(format!("rule {i} ({}): empty band", r.reference));
            }
            if r.effective_to.is_some_and(|to| to <= r.effective_from) {
                return Err(format!("rule {i} ({}): ends before it starts", r.reference));
            }
            for other in &self.rules[i + 1..] {
                let periods_overlap = r.effective_to.is_none_or(|to| other.effective_from < to)
                    && other.effective_to.is_none_or(|to| r.effective_from < to);
                if r.same_case(other) && periods_overlap {
                    return Err(format!(
                        "rules {} and {} cover the same case in the same period",
                        r.reference, other.reference
                    ));
                }
            }
        }
        Ok(())
    }
}

impl FineSchedule {
    /// An amendment: `rules` in force from `from` (their own periods are set to start then and
    /// run on), each ending — on `from` — the rules of the same case in force then. Returns, by
    /// position in this schedule, the rules that end, and the schedule as amended (validated).
    /// Refused when a rule of the same case already starts on or after `from`.
    pub fn amended(
        &self,
        from: Date,
        rules: &[FineRule],
    ) -> Result<(Vec<usize>, FineSchedule), String> {
        if rules.is_empty() {
            return Err("an amendment needs at least one rule".into());
        }
        let mut amended = self.clone();
        let mut ended = Vec::new();
        for new in rules {
            for (i, old) in self.rules.iter().enumerate() {
                if !old.same_case(new) || old.effective_to.is_some_and(|to| to <= from) {
                    continue;
                }
                if old.effective_from >= from {
                    return Err(format!(
                        "{} already starts on {}, not before {from}",
                        old.reference, old.effective_from
                    ));
                }
                if !ended.contains(&i) {
                    ended.push(i);
                    amended.rules[i].effective_to = Some(from);
                }
            }
        }
        amended.rules.extend(rules.iter().map(|r| FineRule {
            effective_from: from,
            effective_to: None,
            ..r.clone()
        }));
        amended.validate()?;
        Ok((ended, amended))
    }
}

pub(crate) mod date {
    use serde::{Deserialize, Deserializer, Serializer, de};
    use time::{Date, macros::format_description};

    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        format_description!("[year]-[month]-[day]");

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.format(FORMAT).map_err(serde::ser::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        Date::parse(&text, FORMAT).map_err(|e| de::Error::custom(format!("date `{text}`: {e}")))
    }

    pub mod opt {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|text| {
                    Date::parse(&text, FORMAT)
                        .map_err(|e| de::Error::custom(format!("date `{text}`: {e}")))
                })
                .transpose()
        }
    }
}
use date::opt as date_opt;

#[cfg(test)]
mod tests;
