//! Citizens are identified by the 12-digit number of their citizen identity card (CCCD), which
//! is also their personal identification number in the national population database.
//!
//! Layout (Decree 137/2015/NĐ-CP, verify): three digits for the province where the birth was
//! registered (001–096), one digit for gender and century of birth, two digits for the year of
//! birth, six digits at random.

use std::{borrow::Cow, fmt, str::FromStr};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// A 12-digit citizen identity number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CitizenId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CitizenIdError {
    #[error("citizen id must be 12 digits")]
    Shape,
    #[error("citizen id starts with province code {0:03}, which is outside 001–096")]
    Province(u16),
}

impl CitizenId {
    pub fn parse(text: &str) -> Result<Self, CitizenIdError> {
        let text = text.trim();
        if text.len() != 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CitizenIdError::Shape);
        }
        let province: u16 = text[..3].parse().map_err(|_| CitizenIdError::Shape)?;
        if !(1..=96).contains(&province) {
            return Err(CitizenIdError::Province(province));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with all but the last four digits hidden, for logs and notices.
    pub fn masked(&self) -> String {
        format!("********{}", &self.0[8..])
    }
}

impl TryFrom<String> for CitizenId {
    type Error = CitizenIdError;
    fn try_from(text: String) -> Result<Self, CitizenIdError> {
        Self::parse(&text)
    }
}

impl From<CitizenId> for String {
    fn from(id: CitizenId) -> String {
        id.0
    }
}

impl FromStr for CitizenId {
    type Err = CitizenIdError;
    fn from_str(text: &str) -> Result<Self, CitizenIdError> {
        Self::parse(text)
    }
}

impl fmt::Display for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsonSchema for CitizenId {
    fn schema_name() -> Cow<'static, str> {
        "CitizenId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^0[0-9]{11}$" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_digits_with_a_province_code() {
        let id = CitizenId::parse("079203012345").unwrap();
        assert_eq!(id.as_str(), "079203012345");
        assert_eq!(id.masked(), "********2345");
        assert_eq!(CitizenId::parse("07920301234"), Err(CitizenIdError::Shape));
        assert_eq!(CitizenId::parse("07920301234x"), Err(CitizenIdError::Shape));
        assert_eq!(
            CitizenId::parse("097203012345"),
            Err(CitizenIdError::Province(97))
        );
        assert_eq!(
            CitizenId::parse("000203012345"),
            Err(CitizenIdError::Province(0))
        );
    }
}
