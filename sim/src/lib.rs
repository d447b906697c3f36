//! Synthetic traffic scenes with exact ground truth, for tests, benches, the demo and training.
//!
//! The renderer and scenarios arrive with the sim work; this crate today only fixes its place in
//! the workspace (it depends on `protocol` alone).
