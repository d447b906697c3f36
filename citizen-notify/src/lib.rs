//! Delivery of fine notices to citizens, the citizen portal (confirm, dispute, pay) and the
//! merchant side of the payment gateway.
//!
//! Today: the notice intake from central-api ([`routes::notices`]: HMAC-authenticated,
//! strictly decoded, stored once per fine id, on PostgreSQL or SQLite); delivery to citizen
//! apps, the portal and payments arrive in the next slices.

pub mod config;
pub mod db;
pub mod routes;
pub mod startup;

pub use config::Config;
pub use startup::build;

/// Prefix of the environment variables that override the configuration (`NOTIFY__HTTP__BIND`).
pub const ENV_PREFIX: &str = "NOTIFY";
