//! What every part of the project that looks at pixels shares: the renderer (`sim`), the plate
//! reader (`plate-ocr`) and the edge agent's detector, tracker, rules and masks.
//!
//! - [`boxes`]: [`BoxF`], an axis-aligned box in pixels;
//! - [`pixels`]: bilinear sampling, rectification of a quad, crops and NCHW tensors — the same
//!   sampling where training plates are drawn and where real ones are read;
//! - [`picture`]: decoded frames as the decoder's 4:2:0 planes, sampled and cropped without
//!   converting the whole frame to RGB;
//! - [`manifest`] (feature `onnx`): `models/manifest.toml`, each model's sha256 checked at load;
//! - [`engine`] (feature `onnx`): the one ONNX Runtime session type, and [`ModelError`].
//!
//! The plane arithmetic the wire contract itself needs (homographies, points, polygons: a
//! camera's calibration) stays in `protocol::geometry`, which this crate builds on.

pub mod boxes;
#[cfg(feature = "onnx")]
pub mod engine;
#[cfg(feature = "onnx")]
pub mod manifest;
pub mod picture;
pub mod pixels;

pub use boxes::BoxF;
#[cfg(feature = "onnx")]
pub use engine::{Engine, ModelError};
#[cfg(feature = "onnx")]
pub use manifest::{Manifest, ModelEntry};
pub use picture::{Picture, Pixels, Yuv420};
