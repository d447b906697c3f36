//! Reading Vietnamese plates: find the plate in a vehicle, rectify it, read it, and keep only
//! readings the plate grammar (`protocol::plate`) accepts.
//!
//! - [`detect`]: plate visibility and four corners inside a vehicle box;
//! - [`recognize`]: fixed-slot recognition and top-N candidates constrained by the grammar;
//! - [`vote`]: one answer from several reads of the same vehicle;
//! - [`colour`]: the plate colour from the crop;
//! - [`reader`]: [`PlateReader`], what the edge agent calls with a frame and a box;
//! - [`eval`]: accuracy, character error rate and latency over a labelled folder.
//!
//! The models load through `vision` (the manifest, its sha256 checks, the ONNX Runtime engine),
//! as the edge agent's detector does.

pub mod colour;
pub mod detect;
pub mod eval;
pub mod reader;
pub mod recognize;
pub mod vote;

pub use reader::{PlateRead, PlateReader, ReaderOptions};
pub use recognize::{Candidate, Hint, Reading};
