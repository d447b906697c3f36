//! The roadside agent: ingest → detect → track → rules → plate → evidence → outbox → publish.
//!
//! Today it serves its health and metrics endpoints with the configuration conventions every
//! binary shares; the pipeline arrives with the edge-agent work.

pub mod config;
pub mod startup;

pub use config::Config;
pub use startup::build;

/// Prefix of the environment variables that override the configuration (`EDGE__HTTP__BIND`).
pub const ENV_PREFIX: &str = "EDGE";
