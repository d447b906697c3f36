//! Organisations as vehicle owners. The owner of a vehicle ("chủ phương tiện") is the person or
//! the organisation named on its registration certificate (Decree 168/2024/NĐ-CP, Article 47
//! clause 6 point a); an organisation is identified by its enterprise code ("mã số doanh
//! nghiệp"), which is also its tax code (Decree 01/2021/NĐ-CP, Article 8 clause 1).
//!
//! Shape (Law 38/2019/QH14 on Tax Administration, Article 3 clause 5; Circular 105/2020/TT-BTC,
//! Article 5): ten digits for an enterprise or another legal entity, and for a dependent unit (a
//! branch, a representative office) the same ten digits, a hyphen and three more, 001–999
//! (`0312345678-001`).

use std::{borrow::Cow, fmt};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// An enterprise code: `0312345678`, or `0312345678-001` for a dependent unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnterpriseCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an enterprise code is 10 digits, or 10 digits, a hyphen and 3 digits (001–999) for a branch"
)]
pub struct EnterpriseCodeError;

impl EnterpriseCode {
    pub fn parse(text: &str) -> Result<Self, EnterpriseCodeError> {
        let text = text.trim();
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        let ok = match text.split_once('-') {
            None => digits(text, 10),
            Some((head, unit)) => digits(head, 10) && digits(unit, 3) && unit != "000",
        };
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(EnterpriseCodeError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EnterpriseCode {
    type Error = EnterpriseCodeError;
    fn try_from(text: String) -> Result<Self, EnterpriseCodeError> {
        Self::parse(&text)
    }
}

impl From<EnterpriseCode> for String {
    fn from(code: EnterpriseCode) -> String {
        code.0
    }
}

impl fmt::Display for EnterpriseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsonSchema for EnterpriseCode {
    fn schema_name() -> Cow<'static, str> {
        "EnterpriseCode".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^[0-9]{10}(-(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2}))?$" })
    }
}

/// An organisation as the business registration holds it: its code, its name and the address
/// of its head office ("trụ sở"). An organisation's data is no person's: it travels and is kept
/// in the clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub enterprise_code: EnterpriseCode,
    /// The registered name (`Công ty TNHH Vận tải Sao Mai`).
    pub name: String,
    /// The head office's address.
    pub address: String,
}

impl Organisation {
    /// Checks the name and the address are there and of a sensible length; `field` names the
    /// organisation in the error.
    pub fn validate(&self, field: &str) -> Result<(), crate::wire::Invalid> {
        for (name, text, max) in [("name", &self.name, 200), ("address", &self.address, 300)] {
            if text.trim().is_empty() || text.chars().count() > max {
                return Err(crate::wire::Invalid::new(
                    format!("{field}.{name}"),
                    format!("must be 1-{max} characters"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_digits_or_a_branch_after_a_hyphen() {
        assert_eq!(
            EnterpriseCode::parse(" 0312345678 ").unwrap().as_str(),
            "0312345678"
        );
        assert_eq!(
            EnterpriseCode::parse("0312345678-001").unwrap().to_string(),
            "0312345678-001"
        );
        for wrong in [
            "031234567",
            "03123456789",
            "031234567x",
            "0312345678-000",
            "0312345678-01",
            "0312345678001",
            "0312345678-0a1",
            "",
        ] {
            assert_eq!(
                EnterpriseCode::parse(wrong),
                Err(EnterpriseCodeError),
                "{wrong}"
            );
        }
        let read: Result<EnterpriseCode, _> = serde_json::from_str("\"12345\"");
        assert!(read.is_err(), "a wrong code does not deserialise");
    }
}
