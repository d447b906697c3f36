//! The wire contract of the traffic-violation enforcement system, shared by every side.
//!
//! Edge agents, the central API and citizen-notify meet only through this crate and the
//! network. It owns:
//! - [`topic`]: the versioned MQTT topic tree and its parser;
//! - [`event`]: the [`ViolationEvent`] an edge agent publishes and everything it holds;
//! - [`messages`]: [`Ack`], [`DeviceStatus`] and [`SignalPhase`];
//! - [`notice`]: the [`ViolationNotice`] and [`PenaltyDecision`] central sends citizen-notify;
//! - [`answer_document`]: the documents a citizen attaches to an answer;
//! - [`wire`]: strict encoding and decoding of every message, with canonical JSON (RFC 8785)
//!   and Ed25519 signatures by the device key;
//! - [`evidence`]: the signed, content-addressed evidence upload;
//! - [`service_auth`]: HMAC authentication of requests between the central services;
//! - [`signing`]: device keys, public keys and signatures;
//! - [`plate`]: the Vietnamese plate grammar and the province code table with its history;
//! - [`citizen`]: the 12-digit citizen identity number;
//! - [`organisation`]: organisations as vehicle owners, by their enterprise code;
//! - [`registry`]: the vehicle registry service's HTTP contract;
//! - [`geometry`]: planar homographies (a camera's calibrated road plane, plate rectification);
//! - [`schema`]: JSON Schema documents generated from the types;
//! - [`vi`]: amounts, times and names as they are written for people in Vietnam.
//!
//! It performs no I/O: every function is a pure transformation of its inputs.

pub mod answer_document;
pub mod camera;
pub mod citizen;
pub mod device_config;
pub mod event;
pub mod evidence;
pub mod evidence_link;
pub mod geometry;
pub mod ids;
pub mod messages;
pub mod notice;
pub mod organisation;
pub mod plate;
pub mod registry;
pub mod schema;
pub mod service_auth;
pub mod signing;
pub mod snapshot;
pub mod time;
pub mod topic;
pub mod vi;
pub mod wire;

pub use answer_document::AnswerDocument;
pub use citizen::CitizenId;
pub use device_config::{CameraSettings, DeviceConfig};
pub use event::{
    ClockState, ClockSync, EvidenceItem, Masking, Measurement, ModelVersion, PlateCandidate,
    PlateRead, Sha256Digest, SignalObservation, Site, UnreadPlate, Vehicle, VehicleBox,
    VehicleClass, ViolationEvent, ViolationKind, for_citizens,
};
pub use ids::{CameraId, DeviceId, EventId, IdError, random_token, same_token};
pub use messages::{
    Ack, CameraState, CameraStatus, DeviceState, DeviceStatus, SignalPhase, SignalSource,
    SignalState,
};
pub use notice::{
    Buyer, Contact, DisputeOutcome, FineChange, FineResolution, FineUpdate, NamedAs, NamedDriver,
    PenaltyDecision, ResolutionGround, ViolationNotice,
};
pub use organisation::{EnterpriseCode, Organisation};
pub use plate::{Plate, PlateCategory, PlateColour, PlateError, PlateLayout};
pub use signing::{DeviceKey, DevicePublicKey, KeyError, Signature};
pub use time::UtcTimestamp;
pub use topic::{Topic, TopicError};
pub use wire::{Message, Signed, WireError};
