//! Ground truth: what is in each frame, and which violations truly happened.

use protocol::{PlateColour, PlateLayout};
use serde::{Deserialize, Serialize};

use crate::{
    camera::CameraSpec,
    geom::{BoxPx, Px},
    scenario::{Phase, RoadSpec, SignalPlan},
    vehicle::ObjectClass,
    world::TrueViolation,
};

/// A plate as it appears in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateTruth {
    pub text: String,
    pub canonical: String,
    pub layout: PlateLayout,
    pub colour: PlateColour,
    /// Corners in reading order: top-left, top-right, bottom-right, bottom-left (pixels).
    pub corners: [Px; 4],
    /// Facing the camera, wholly inside the frame and not hidden by anything nearer.
    pub visible: bool,
    /// Width of the plate's top edge, pixels.
    pub width_px: f32,
    /// How far the plate moved across the image during the exposure (its motion blur), pixels.
    #[serde(default)]
    pub blur_px: f32,
}

/// One road user in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectTruth {
    pub track_id: u32,
    pub class: ObjectClass,
    /// The box around every drawn pixel of the object, clipped to the frame.
    #[serde(rename = "box")]
    pub bbox: BoxPx,
    /// Part of the object lies outside the frame.
    pub truncated: bool,
    /// Share of the object's outline not hidden by nearer objects (approximate, 0–1).
    pub visible: f32,
    pub lane: Option<usize>,
    /// Position of the centre of the footprint on the road, metres.
    pub world_m: [f32; 2],
    pub speed_kmh: f32,
    pub plate: Option<PlateTruth>,
    /// Per rider, whether a helmet is worn (motorbikes only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub helmets: Vec<bool>,
    /// Boxes of the riders' heads (motorbikes only), in the order of `helmets`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heads: Vec<BoxPx>,
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameTruth {
    pub frame: usize,
    pub t_s: f32,
    pub phase: Option<Phase>,
    pub phase_elapsed_s: Option<f32>,
    pub objects: Vec<ObjectTruth>,
}

/// Everything known about a rendered scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioTruth {
    pub scenario: String,
    pub seed: u64,
    pub fps: u32,
    pub width: u32,
    pub height: u32,
    pub camera: CameraSpec,
    /// The road→image homography (row-major 3×3, metres → pixels) an installer would
    /// calibrate.
    pub ground_homography: Option<[[f64; 3]; 3]>,
    pub road: RoadSpec,
    pub signal: Option<SignalPlan>,
    pub violations: Vec<TrueViolation>,
    pub frames: Vec<FrameTruth>,
}
