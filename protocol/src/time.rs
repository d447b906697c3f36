//! UTC timestamps with millisecond precision, the only time form on the wire.

use std::{borrow::Cow, fmt};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use time::{
    OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339, macros::format_description,
};

/// The message a non-UTC time is refused with; [`crate::wire`] recognises it by this prefix.
pub(crate) const NON_UTC_MESSAGE: &str = "non-UTC time";

/// Vietnam's offset from UTC (no daylight saving): the time on documents and data bars.
pub const VIETNAM: UtcOffset = time::macros::offset!(+7);

/// An instant in UTC, kept to the millisecond, written `2025-01-01T07:30:00.250Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtcTimestamp(OffsetDateTime);

/// Why a time string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("{NON_UTC_MESSAGE} `{0}`: write times in UTC, ending in `Z`")]
    NotUtc(String),
    #[error("`{0}` is not an RFC 3339 time")]
    Malformed(String),
    #[error("`{0}` is more precise than a millisecond")]
    TooPrecise(String),
}

impl UtcTimestamp {
    /// The current time, truncated to the millisecond.
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    /// Converts to UTC and truncates to the millisecond.
    pub fn from_datetime(at: OffsetDateTime) -> Self {
        let at = at.to_offset(UtcOffset::UTC);
        let ms = at.millisecond();
        Self(at.replace_millisecond(ms).unwrap_or(at))
    }

    /// When the calendar day `day` begins in Vietnam (00:00 at UTC+7). Day filters bound stored
    /// times with it: as a UTC instant, it compares right even where times are kept as text.
    pub fn start_of_vietnam_day(day: time::Date) -> Self {
        Self::from_datetime(day.midnight().assume_offset(VIETNAM))
    }

    pub fn from_unix_ms(ms: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .ok()
            .map(Self)
    }

    pub fn unix_ms(&self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    pub fn as_datetime(&self) -> OffsetDateTime {
        self.0
    }

    /// Parses the wire form strictly: RFC 3339, UTC written as `Z`, at most three fraction digits.
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        let at = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|_| TimeError::Malformed(text.to_owned()))?;
        if !text.ends_with('Z') {
            return Err(TimeError::NotUtc(text.to_owned()));
        }
        let fraction = text
            .split_once('.')
            .map(|(_, rest)| rest.trim_end_matches('Z').len())
            .unwrap_or(0);
        if fraction > 3 {
            return Err(TimeError::TooPrecise(text.to_owned()));
        }
        Ok(Self(at))
    }
}

impl fmt::Display for UtcTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        match self.0.format(&format) {
            Ok(text) => f.write_str(&text),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl Serialize for UtcTimestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        Self::parse(&text).map_err(de::Error::custom)
    }
}

impl JsonSchema for UtcTimestamp {
    fn schema_name() -> Cow<'static, str> {
        "UtcTimestamp".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "date-time",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,3})?Z$",
            "description": "An RFC 3339 time in UTC (ending in `Z`), at most millisecond precision."
        })
    }
}

/// A calendar day written `2025-11-26`.
pub fn parse_day(text: &str) -> Result<time::Date, TimeError> {
    time::Date::parse(text.trim(), format_description!("[year]-[month]-[day]"))
        .map_err(|_| TimeError::Malformed(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_is_utc_with_milliseconds() {
        let at = UtcTimestamp::from_unix_ms(1_735_716_600_250).unwrap();
        assert_eq!(at.to_string(), "2025-01-01T07:30:00.250Z");
        assert_eq!(UtcTimestamp::parse(&at.to_string()), Ok(at));
        assert_eq!(at.unix_ms(), 1_735_716_600_250);
    }

    #[test]
    fn offsets_and_excess_precision_are_refused() {
        assert!(matches!(
            UtcTimestamp::parse("2025-01-01T14:30:00.250+07:00"),
            Err(TimeError::NotUtc(_))
        ));
        assert!(matches!(
            UtcTimestamp::parse("2025-01-01T07:30:00+00:00"),
            Err(TimeError::NotUtc(_))
        ));
        assert!(matches!(
            UtcTimestamp::parse("2025-01-01T07:30:00.2500Z"),
            Err(TimeError::TooPrecise(_))
        ));
        assert!(matches!(
            UtcTimestamp::parse("yesterday"),
            Err(TimeError::Malformed(_))
        ));
        assert!(UtcTimestamp::parse("2025-01-01T07:30:00Z").is_ok());
    }

    #[test]
    fn now_is_truncated_to_the_millisecond() {
        let now = UtcTimestamp::now();
        assert_eq!(now.as_datetime().nanosecond() % 1_000_000, 0);
    }
}
