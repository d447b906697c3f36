//! Plate reading: detection in a frame or vehicle box, rectification, recognition constrained by
//! the Vietnamese plate grammar of [`protocol::plate`], and voting across a track's frames.
//!
//! The models and the reader arrive with the plate-ocr work; this crate today only fixes its
//! place in the workspace (protocol ← plate-ocr ← edge-agent).
