//! The roadside agent: ingest → detect → track → rules → plate → evidence → outbox → publish.
//!
//! [`pipeline`] wires the stages, and only wires them. [`ingest`] reads each camera through
//! GStreamer (latest decoded frame for detection, the camera's own H.264 in a ring for the
//! clip); each camera's worker ([`camera`]) runs [`detect`] and [`track`] and judges the tracks
//! by [`rules`] against the signal ([`signal`]); [`evidence`] builds each violation's package,
//! with the plate read by `plate-ocr` (on a paired plate camera's view of the vehicle where the
//! camera has one: [`pairing`]); [`outbox`] keeps every event durably until central
//! acknowledges it, and [`publish`] delivers it over MQTT and HTTPS, with central's commands
//! taken up by [`control`]. [`startup`] builds the agent from its [`Config`] and serves
//! `/healthz`, `/metrics`, `/status` and the snapshots ([`overlay`]).

pub mod camera;
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
pub mod publish;
pub mod rules;
pub mod signal;
pub mod snapshot;
pub mod startup;
pub mod track;

pub use config::Config;
pub use startup::build;

/// Prefix of the environment variables that override the configuration (`EDGE__HTTP__BIND`).
pub const ENV_PREFIX: &str = "EDGE";
