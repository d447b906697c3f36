//! Reading Vietnamese plates: find the plate in a vehicle, rectify it, read it, and keep only
//! readings the plate grammar (`protocol::plate`) accepts.
//!
//! - [`manifest`]: the models of `models/manifest.toml`, their sha256 checked at load;
//! - [`engine`]: one ONNX Runtime session per model (preprocess → engine → postprocess);
//! - [`detect`]: plate visibility and four corners inside a vehicle box;
//! - [`image_ops`]: crops, rectification from four corners, tensors;
//! - [`recognize`]: fixed-slot recognition and top-N candidates constrained by the grammar;
//! - [`vote`]: one answer from several reads of the same vehicle;
//! - [`colour`]: the plate colour from the crop;
//! - [`reader`]: [`PlateReader`], what the edge agent calls with a frame and a box;
//! - [`eval`]: accuracy, character error rate and latency over a labelled folder.

pub mod colour;
pub mod detect;
pub mod engine;
pub mod eval;
pub mod image_ops;
pub mod manifest;
pub mod reader;
pub mod recognize;
pub mod vote;

pub use engine::ModelError;
pub use reader::{PlateRead, PlateReader, ReaderOptions};
pub use recognize::{Candidate, Hint, Reading};
