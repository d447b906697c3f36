//! The roadside agent: ingest → detect → track → rules → plate → evidence → outbox → publish.
//!
//! [`ingest`] reads each camera through GStreamer (latest decoded frame for detection, the
//! camera's own H.264 in a ring for the clip); [`detect`], [`track`] and [`rules`] find the
//! violations; [`pipeline`] wires the stages and builds each violation's evidence ([`evidence`])
//! with the plate read by `plate-ocr` ([`plate`]; on a paired plate camera's view of the vehicle
//! where the camera has one: [`pairing`]); [`outbox`] keeps every event durably until central
//! acknowledges it, and [`publish`] delivers it over MQTT and HTTPS. [`startup`] builds the
//! agent from its [`Config`] and serves `/healthz`, `/metrics`, `/status` and the snapshots.

pub mod clip;
pub mod config;
pub mod control;
pub mod detect;
pub mod eval_detect;
pub mod evidence;
pub mod ingest;
pub mod outbox;
pub mod overlay;
pub mod pairing;
pub mod pipeline;
pub mod plate;
pub mod publish;
pub mod rules;
pub mod signal;
pub mod startup;
pub mod track;

pub use config::Config;
pub use startup::build;

/// Prefix of the environment variables that override the configuration (`EDGE__HTTP__BIND`).
pub const ENV_PREFIX: &str = "EDGE";
