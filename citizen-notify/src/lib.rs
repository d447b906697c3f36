//! Delivery of fine notices to citizens, the citizen portal (confirm, dispute, pay) and the
//! merchant side of the payment gateway.
//!
//! Today it serves its health and metrics endpoints with the configuration conventions every
//! binary shares; notices, the portal and payments arrive with the citizen-notify work.

pub mod config;
pub mod startup;

pub use config::Config;
pub use startup::build;

/// Prefix of the environment variables that override the configuration (`NOTIFY__HTTP__BIND`).
pub const ENV_PREFIX: &str = "NOTIFY";
