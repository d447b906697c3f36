//! Synthetic traffic scenes with exact ground truth, for tests, benches, the demo and training.
//!
//! A [`scenario::ScenarioSpec`] (TOML; a library of named ones is compiled in) describes the
//! road, a pole-mounted camera, the signal plan, random traffic and scripted road users.
//! [`world::World::simulate`] runs the traffic (Intelligent Driver Model, signal compliance,
//! scripted violations) and records every violation that truly happened;
//! [`render::Renderer`] draws each frame through a real pinhole projection of the road plane,
//! with plates in perspective, and returns the frame's ground truth from the same projection.
//! [`dataset`] exports training data for the project's models; [`plate_crops`] draws plate
//! crops as real street cameras give them, for the plate recognizer. Everything is deterministic
//! in the seed.

pub mod camera;
pub mod dataset;
pub mod geom;
pub mod output;
pub mod plate;
pub mod plate_crops;
pub mod plate_font;
pub mod render;
pub mod rng;
pub mod scenario;
pub mod setup;
pub mod truth;
pub mod vehicle;
#[cfg(feature = "video")]
pub mod video;
pub mod world;

pub use render::{Frame, Renderer};
pub use scenario::ScenarioSpec;
pub use world::World;
