//! The central side: MQTT ingest of signed violation events, storage, evidence upload, owner
//! lookup, the police review UI and API, fines, audit, statistics.
//!
//! - [`ingest`]: the MQTT worker (embedded broker or an external one): verify, store once,
//!   acknowledge, dead-letter the rest; [`routes::evidence`]: the devices' evidence uploads;
//! - [`owners`]: the owner lookup that moves each violation into the review queue;
//! - [`review`]: the officers' decisions, served as the JSON API ([`routes`]) and as the review
//!   pages ([`ui`]); [`fines`]: the dated fine schedule; [`audit`]: the hash-chained log;
//! - [`stats`]: counts by day, hour, kind and camera for the operations centre, and CSV;
//! - [`relay`]: the transactional outbox of notices towards citizen-notify;
//! - [`db`]: storage on PostgreSQL or SQLite, with migrations for each;
//! - [`state`]: what every handler reaches; [`error`]: the service layer's refusals, which
//!   `routes::error` alone turns into HTTP answers — the service modules know nothing of HTTP.

pub mod admin;
pub mod audit;
pub mod audit_anchor;
pub mod auth;
pub mod config;
pub mod control;
pub mod db;
pub mod error;
pub mod evidence_store;
pub mod fines;
pub mod four_eyes;
pub mod ingest;
pub mod owners;
pub mod paper;
pub mod relay;
pub mod review;
pub mod routes;
pub mod sealed;
pub mod startup;
pub mod state;
pub mod stats;
pub mod throttle;
pub mod totp;
pub mod ui;

pub use config::Config;
pub use startup::build;

/// Prefix of the environment variables that override the configuration (`CENTRAL__HTTP__BIND`).
pub const ENV_PREFIX: &str = "CENTRAL";
