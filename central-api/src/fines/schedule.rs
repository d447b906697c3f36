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
mod tests {
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
}
