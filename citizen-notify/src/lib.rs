//! Delivery of fine notices to citizens, the citizen portal (confirm, dispute, pay) and the
//! merchant side of the payment gateway.
//!
//! Today: the notice intake from central-api ([`routes::notices`]: HMAC-authenticated,
//! strictly decoded, stored once per fine id, on PostgreSQL or SQLite) and online payment of a
//! fine through a VNPay-protocol gateway ([`payment`]: signed payment URL, IPN, return page,
//! reconciliation through the query API); the citizen portal ([`routes::portal`]: sign-in
//! through an OpenID Connect provider with PKCE, the citizen's own fines, confirm, dispute,
//! pay; download what the portal holds about oneself, [`export`], as JSON or PDF, each export
//! recorded); delivery of each notice to the citizen app ([`delivery`]: signed push, retried with
//! growing waits to a final state, every attempt logged); and reports to central-api of what
//! became of each fine ([`reports`]: an outbox written with each change); the notices of closed
//! cases emptied after their period ([`retention`]). SMS and e-mail, and
//! the evidence on the fine page, arrive in the next slices.

pub mod config;
pub mod db;
pub mod delivery;
pub mod export;
pub mod pages;
pub mod payment;
pub mod reports;
pub mod retention;
pub mod routes;
pub mod signin;
pub mod startup;

pub use config::Config;
pub use startup::build;

/// Prefix of the environment variables that override the configuration (`NOTIFY__HTTP__BIND`).
pub const ENV_PREFIX: &str = "NOTIFY";
