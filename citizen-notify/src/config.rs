//! The typed configuration of `citizen-notify`: defaults that run on a laptop, a TOML file, and
//! `NOTIFY__…` environment overrides.

use serde::{Deserialize, Serialize};
use service_kit::{Settings, http::HttpSettings};

/// Default HTTP port on loopback.
pub const DEFAULT_PORT: u16 = 8090;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Health (`/healthz`) and metrics (`/metrics`).
    pub http: HttpSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpSettings::loopback(DEFAULT_PORT),
        }
    }
}

impl Settings for Config {}
