//! The roadside agent: ingest → detect → track → rules → plate → evidence → outbox → publish.
//!
//! Today it serves its health and metrics endpoints with the configuration conventions every
//! binary shares, and holds the detection ([`detect`]) and tracking ([`track`]) stages and the
//! violation rules ([`rules`]); the rest of the pipeline arrives stage by stage.

pub mod config;
pub mod detect;
pub mod rules;
pub mod startup;
pub mod track;

pub use config::Config;
pub use startup::build;

/// Prefix of the environment variables that override the configuration (`EDGE__HTTP__BIND`).
pub const ENV_PREFIX: &str = "EDGE";
