//! Statistics for the provincial operations centre: how many violations, of which kind, where and
//! at what hour, over a period of Vietnamese calendar days; and the same counts as CSV.

use std::collections::BTreeMap;

use protocol::UtcTimestamp;
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};

use crate::{
    db::{Db, stats::Bucket},
    error::ServiceError,
};

/// The longest period one request may ask for.
pub const MAX_DAYS: i64 = 366;

/// A period as a request gives it: days in Vietnam, `to` included.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// The first day, `2025-11-01`; by default 29 days before `to`.
    pub from: Option<String>,
    /// The last day, included; by default today in Vietnam.
    pub to: Option<String>,
}

/// Whole days in Vietnam, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Period {
    #[serde(serialize_with = "crate::fines::schedule::date::serialize")]
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    #[serde(serialize_with = "crate::fines::schedule::date::serialize")]
    #[schema(value_type = String, format = Date)]
    pub to: Date,
}

fn day(field: &str, text: &str) -> Result<Date, ServiceError> {
    protocol::time::parse_day(text)
        .map_err(|_| ServiceError::bad_request(field, "expected a day, 2025-11-26"))
}

fn today() -> Date {
    OffsetDateTime::now_utc()
        .to_offset(protocol::time::VIETNAM)
        .date()
}

impl PeriodQuery {
    /// The period asked for; by default the 30 days up to today.
    pub fn period(&self) -> Result<Period, ServiceError> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .filter(|t| !t.trim().is_empty())
                .map(str::to_owned)
        };
        let to = given(&self.to)
            .map(|t| day("to", &t))
            .transpose()?
            .unwrap_or_else(today);
        let from = given(&self.from)
            .map(|t| day("from", &t))
            .transpose()?
            .unwrap_or(to - Duration::days(29));
        if from > to {
            return Err(ServiceError::bad_request("from", "is after `to`"));
        }
        if (to - from).whole_days() >= MAX_DAYS {
            return Err(ServiceError::invalid(
                "bad_request",
                format!("`from`: a period is at most {MAX_DAYS} days"),
            ));
        }
        Ok(Period { from, to })
    }
}

impl Period {
    /// The instants the period spans, `[start, end)`.
    pub fn bounds(&self) -> (OffsetDateTime, OffsetDateTime) {
        let start = UtcTimestamp::start_of_vietnam_day(self.from).as_datetime();
        (
            start,
            start + Duration::days((self.to - self.from).whole_days() + 1),
        )
    }

    pub fn days(&self) -> impl Iterator<Item = Date> {
        let from = self.from;
        (0..=(self.to - self.from).whole_days()).map(move |n| from + Duration::days(n))
    }
}

/// How many of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct KindCount {
    pub kind: String,
    pub count: i64,
}

/// How many on one day in Vietnam.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DayCount {
    /// `2025-11-26`.
    pub day: String,
    pub count: i64,
}

/// One camera's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CameraCount {
    pub device_id: String,
    pub device_name: String,
    pub camera_id: String,
    pub total: i64,
    pub approved: i64,
    pub rejected: i64,
}

/// The counts of a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub period: Period,
    pub total: i64,
    /// By status: `received`, `pending_review`, `approved`, `rejected`.
    pub by_status: BTreeMap<String, i64>,
    /// Most frequent first.
    pub by_kind: Vec<KindCount>,
    /// Busiest first.
    pub by_camera: Vec<CameraCount>,
    /// Hours of the day in Vietnam, 0–23.
    pub by_hour: Vec<i64>,
    /// Every day of the period, in order, with its count (0 included).
    pub by_day: Vec<DayCount>,
}

impl Stats {
    pub fn of(period: Period, buckets: &[Bucket]) -> Self {
        let mut by_status = BTreeMap::new();
        let mut by_kind: BTreeMap<&str, i64> = BTreeMap::new();
        let mut by_camera: BTreeMap<(&str, &str), CameraCount> = BTreeMap::new();
        let mut by_hour = vec![0; 24];
        let mut by_day: BTreeMap<String, i64> = period.days().map(|d| (d.to_string(), 0)).collect();
        for b in buckets {
            *by_status.entry(b.status.clone()).or_insert(0) += b.count;
            *by_kind.entry(&b.kind).or_insert(0) += b.count;
            let camera = by_camera
                .entry((&b.device_id, &b.camera_id))
                .or_insert_with(|| CameraCount {
                    device_id: b.device_id.clone(),
                    device_name: b.device_name.clone(),
                    camera_id: b.camera_id.clone(),
                    total: 0,
                    approved: 0,
                    rejected: 0,
                });
            camera.total += b.count;
            match b.status.as_str() {
                "approved" => camera.approved += b.count,
                "rejected" => camera.rejected += b.count,
                _ => {}
            }
            if let Some((day, hour)) = b.hour.split_once(' ') {
                if let Some(n) = by_day.get_mut(day) {
                    *n += b.count;
                }
                if let Some(n) = hour.parse::<usize>().ok().and_then(|h| by_hour.get_mut(h)) {
                    *n += b.count;
                }
            }
        }
        let mut by_kind: Vec<KindCount> = by_kind
            .into_iter()
            .map(|(kind, count)| KindCount {
                kind: kind.to_owned(),
                count,
            })
            .collect();
        by_kind.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)));
        let mut by_camera: Vec<CameraCount> = by_camera.into_values().collect();
        by_camera.sort_by_key(|c| std::cmp::Reverse(c.total));
        Self {
            period,
            total: buckets.iter().map(|b| b.count).sum(),
            by_status,
            by_kind,
            by_camera,
            by_hour,
            by_day: by_day
                .into_iter()
                .map(|(day, count)| DayCount { day, count })
                .collect(),
        }
    }
}

/// The counts of `period`.
pub async fn load(db: &Db, period: Period) -> Result<(Stats, Vec<Bucket>), ServiceError> {
    let (start, end) = period.bounds();
    let buckets = crate::db::stats::buckets(db, start, end).await?;
    Ok((Stats::of(period, &buckets), buckets))
}

/// One CSV field (RFC 4180): quoted when it holds a separator, a quote or a line break; text a
/// spreadsheet would take for a formula is prefixed with `'`.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The buckets as CSV, one row per hour, camera, kind and status, with a header.
pub fn csv(buckets: &[Bucket]) -> String {
    let mut out = String::from("hour_local,device_id,device_name,camera_id,kind,status,count\r\n");
    for b in buckets {
        let row = [
            field(&b.hour),
            field(&b.device_id),
            field(&b.device_name),
            field(&b.camera_id),
            field(&b.kind),
            field(&b.status),
            b.count.to_string(),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(hour: &str, camera: &str, kind: &str, status: &str, count: i64) -> Bucket {
        Bucket {
            hour: hour.into(),
            device_id: "hcm-q1-001".into(),
            device_name: "Ngã tư Hàng Xanh, Bình Thạnh".into(),
            camera_id: camera.into(),
            kind: kind.into(),
            status: status.into(),
            count,
        }
    }

    #[test]
    fn counts_add_up_by_kind_camera_hour_and_day() {
        let period = PeriodQuery {
            from: Some("2025-11-25".into()),
            to: Some("2025-11-27".into()),
        }
        .period()
        .unwrap();
        let buckets = [
            bucket("2025-11-25 07", "north", "red_light", "approved", 3),
            bucket("2025-11-25 07", "north", "speeding", "pending_review", 1),
            bucket("2025-11-27 17", "south", "red_light", "rejected", 2),
        ];
        let s = Stats::of(period, &buckets);
        assert_eq!(s.total, 6);
        let kinds: Vec<(&str, i64)> = s
            .by_kind
            .iter()
            .map(|k| (k.kind.as_str(), k.count))
            .collect();
        assert_eq!(kinds, [("red_light", 5), ("speeding", 1)]);
        assert_eq!(s.by_hour[7], 4);
        assert_eq!(s.by_hour[17], 2);
        let days: Vec<(&str, i64)> = s.by_day.iter().map(|d| (d.day.as_str(), d.count)).collect();
        assert_eq!(
            days,
            [("2025-11-25", 4), ("2025-11-26", 0), ("2025-11-27", 2)]
        );
        assert_eq!(s.by_camera[0].camera_id, "north");
        assert_eq!((s.by_camera[0].total, s.by_camera[0].approved), (4, 3));
        assert_eq!(s.by_camera[1].rejected, 2);
        assert_eq!(s.by_status["pending_review"], 1);
    }

    #[test]
    fn periods_are_checked_and_span_vietnamese_days() {
        let p = |from: &str, to: &str| {
            PeriodQuery {
                from: Some(from.into()),
                to: Some(to.into()),
            }
            .period()
        };
        assert!(p("2025-11-27", "2025-11-26").is_err());
        assert!(p("2024-01-01", "2025-11-26").is_err());
        assert!(p("26/11/2025", "2025-11-26").is_err());
        let (start, end) = p("2025-11-26", "2025-11-26").unwrap().bounds();
        assert_eq!(start.to_offset(time::UtcOffset::UTC).hour(), 17);
        assert_eq!((end - start).whole_hours(), 24);
        let default = PeriodQuery::default().period().unwrap();
        assert_eq!(default.days().count(), 30);
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
        let mut b = bucket("2025-11-25 07", "north", "red_light", "approved", 3);
        b.device_name = "=HYPERLINK(\"x\")".into();
        let text = csv(&[b]);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("hour_local,device_id,device_name,camera_id,kind,status,count")
        );
        assert_eq!(
            lines.next(),
            Some("2025-11-25 07,hcm-q1-001,\"'=HYPERLINK(\"\"x\"\")\",north,red_light,approved,3")
        );
        assert_eq!(field("Ngã tư, Bình Thạnh"), "\"Ngã tư, Bình Thạnh\"");
        assert_eq!(field("plain"), "plain");
    }
}
