//! The central side: MQTT ingest of signed violation events, storage, evidence upload, owner
//! lookup, the police review UI and API, fines, audit, statistics.
//!
//! Today: storage on PostgreSQL or SQLite with migrations ([`db`]) and the ingest step
//! ([`ingest`]: verify, store once, dead-letter the rest); the MQTT worker, evidence upload,
//! owner lookup, review and fines arrive in the next slices.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod config;
pub mod db;
pub mod evidence_store;
pub mod fines;
pub mod ingest;
pub mod owners;
pub mod relay;
pub mod routes;
pub mod startup;

pub use config::Config;
pub use startup::build;

/// Prefix of the environment variables that override the configuration (`CENTRAL__HTTP__BIND`).
pub const ENV_PREFIX: &str = "CENTRAL";
