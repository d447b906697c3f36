//! The typed configuration of `citizen-notify`: defaults that run on a laptop, a TOML file, and
//! `NOTIFY__…` environment overrides.

use serde::{Deserialize, Serialize};
pub use service_kit::db::DatabaseSettings;
use service_kit::{ConfigError, Settings, http::HttpSettings};

/// Default HTTP port on loopback.
pub const DEFAULT_PORT: u16 = 8090;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The citizen portal, the intake API, health (`/healthz`) and metrics (`/metrics`).
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub intake: IntakeSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpSettings::loopback(DEFAULT_PORT),
            database: DatabaseSettings::sqlite("data/notify/notify.db"),
            intake: IntakeSettings::default(),
        }
    }
}

impl Settings for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        self.database.validate()?;
        if !self.intake.shared_secret.is_empty() && self.intake.shared_secret.len() < 16 {
            return Err(ConfigError::invalid(
                "intake.shared_secret",
                "must be at least 16 bytes (or empty to refuse all notices)",
            ));
        }
        Ok(())
    }
}

/// Notices from central-api.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeSettings {
    /// The secret shared with central-api (its `notify.shared_secret`); empty refuses every
    /// notice, so no service runs with a secret anyone knows.
    pub shared_secret: String,
    /// How far a request's time may be from this server's clock.
    pub max_clock_skew_s: u64,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            shared_secret: String::new(),
            max_clock_skew_s: 300,
        }
    }
}
