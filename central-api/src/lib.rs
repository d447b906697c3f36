//! The central side: MQTT ingest of signed violation events, storage, evidence upload, owner
//! lookup, the police review UI and API, fines, audit, statistics.
//!
//! Today it serves its health and metrics endpoints with the configuration conventions every
//! binary shares; ingest, storage and review arrive with the central-api work.

pub mod config;
pub mod startup;

pub use config::Config;
pub use startup::build;

/// Prefix of the environment variables that override the configuration (`CENTRAL__HTTP__BIND`).
pub const ENV_PREFIX: &str = "CENTRAL";
