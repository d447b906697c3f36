//! The typed configuration of `central-api`: defaults that run on a laptop, a TOML file, and
//! `CENTRAL__…` environment overrides.

use serde::{Deserialize, Serialize};
use service_kit::{ConfigError, Settings, http::HttpSettings};

/// Default HTTP port on loopback.
pub const DEFAULT_PORT: u16 = 8080;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The review UI, the APIs, health (`/healthz`) and metrics (`/metrics`).
    pub http: HttpSettings,
    pub database: DatabaseSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpSettings::loopback(DEFAULT_PORT),
            database: DatabaseSettings::default(),
        }
    }
}

impl Settings for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.database.url;
        if !(url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite:"))
        {
            return Err(ConfigError::invalid(
                "database.url",
                "must start with postgres://, postgresql:// or sqlite:",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::invalid(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Where violations are stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host/db` in production; `sqlite://PATH` (created when missing)
    /// is the embedded default.
    pub url: String,
    pub max_connections: u32,
    /// How long to wait for a connection (and, on SQLite, for a lock).
    pub acquire_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://data/central/central.db".into(),
            max_connections: 8,
            acquire_timeout_ms: 5_000,
        }
    }
}
