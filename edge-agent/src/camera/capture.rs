//! A violation from the moment it is seen to its hand-over: the before / at / after images
//! picked from the frames kept, what the detector saw over the clip's span (for its masked copy),
//! the plate camera's sighting of the vehicle, and the [`Job`] sent to the evidence stage —
//! journaled first, complete once its after image and clip tail have been seen.

use std::sync::{Arc, Mutex};

use protocol::{EventId, VehicleClass, event::SignalObservation};
use tracing::{error, info};
use vision::{BoxF, Picture};

use crate::{
    evidence::{
        self, Capture, Shape,
        clip::{FrameBoxes, MAX_GAP_S},
        stage::Job,
    },
    ingest::Frame,
    pairing::{RoadPath, Sighting, Sightings},
    rules::Finding,
};

use super::{judge::Seen, *};

/// How long (seconds of the judging camera's time) a violation's evidence waits for a lagging
/// plate camera to reach the moment the vehicle had passed it.
pub const PLATE_WAIT_S: f64 = 5.0;

/// How much longer than a clip's span the camera's H.264 ring, and what was seen over it, are
/// kept: the clip starts at the keyframe before its span.
pub(crate) const CLIP_SLACK_S: f64 = 6.0;

/// The offender's box in a processed frame (when it was seen there) and everything else found
/// in it, its riders left out: what a masked copy of that frame hides.
pub(crate) fn apart(boxes: &FrameBoxes, due: &Due) -> (Option<BoxF>, Vec<(BoxF, Shape)>) {
    let vehicle = boxes
        .tracks
        .iter()
        .find(|b| b.0 == due.finding.track)
        .map(|b| b.1);
    let two_wheeler = due.class == VehicleClass::Motorbike;
    (
        vehicle,
        evidence::others(&boxes.found, vehicle, two_wheeler),
    )
}

/// How a masked copy hides a followed vehicle of `class`.
pub(crate) fn shape_of(class: VehicleClass) -> Shape {
    if class == VehicleClass::Motorbike {
        Shape::TwoWheeler
    } else {
        Shape::Vehicle
    }
}

/// A violation waiting for its "after" image and the end of its clip.
#[derive(Debug, Clone)]
pub(crate) struct Due {
    /// Its event's id, from the moment it is seen: the journaled event and the complete one
    /// are one event.
    pub(crate) event_id: EventId,
    pub(crate) finding: Finding,
    pub(crate) class: VehicleClass,
    pub(crate) score: f32,
    pub(crate) bbox: BoxF,
    pub(crate) captures: [Option<Capture>; 3],
    pub(crate) signal: Option<SignalObservation>,
}

/// The plate camera's sighting of a violating vehicle.
#[derive(Debug)]
pub(crate) struct Paired {
    pub(crate) camera: protocol::ids::CameraId,
    pub(crate) sighting: Sighting,
}

/// A frame kept for evidence: the picture, and what was seen in it.
pub(crate) type Recent = (Arc<Picture>, Arc<FrameBoxes>);

impl Worker {
    /// A plate camera's frame: each vehicle's place on the road and its largest views, for the
    /// camera it reads plates for.
    pub(super) fn record_sightings(
        &self,
        frame: &Frame,
        tracks: &[Seen],
        sightings: &Mutex<Sightings>,
    ) {
        let at_ms = self.utc(frame.t).unix_ms();
        let mut sightings = sightings.lock().unwrap_or_else(|e| e.into_inner());
        for &Seen {
            id, bbox, class, ..
        } in tracks
        {
            sightings.seen(
                id,
                class,
                at_ms,
                self.geometry.to_road(&bbox),
                &frame.image,
                bbox,
            );
        }
        sightings.frame_done(at_ms);
        sightings.forget_before(at_ms - crate::pairing::KEEP_MS);
    }

    /// Whether the plate camera, if this camera has one, has processed its frames up to camera
    /// time `until`: a plate camera that lags behind (its frames larger, its detector slower)
    /// would otherwise be asked for a vehicle it has not yet seen pass. It is waited for at most
    /// [`PLATE_WAIT_S`] of this camera's time, so that a stalled plate camera holds no evidence.
    pub(super) fn plates_caught_up(&self, until: f64, now: f64) -> bool {
        let Role::Judge {
            plates: Some((_, sightings)),
        } = &self.role
        else {
            return true;
        };
        now >= until + PLATE_WAIT_S
            || sightings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .seen_upto(self.utc(until).unix_ms())
    }

    /// The plate camera's sighting of `track`, when this camera has a plate camera and it saw
    /// the vehicle unmistakably.
    pub(super) fn paired(&self, track: u64) -> Option<Paired> {
        let Role::Judge {
            plates: Some((camera, sightings)),
        } = &self.role
        else {
            return None;
        };
        let f = self.followed.get(&track)?;
        let path: RoadPath = f
            .history
            .samples
            .iter()
            .filter_map(|s| Some((self.utc(s.t).unix_ms(), self.geometry.to_road(&s.bbox)?)))
            .collect();
        let sightings = sightings.lock().unwrap_or_else(|e| e.into_inner());
        match sightings.find(f.history.class, &path) {
            Some((sighting, distance_m)) => {
                info!(plate_camera = %camera, track, distance_m, "vehicle found by the plate camera");
                Some(Paired {
                    camera: camera.clone(),
                    sighting,
                })
            }
            None => {
                info!(plate_camera = %camera, track, seen = sightings.len(), "vehicle not found unmistakably by the plate camera");
                None
            }
        }
    }

    /// Fills the before / at / after images from the frames seen.
    pub(super) fn capture(&self, due: &mut Due) {
        let targets = [
            due.finding.t - self.settings.image_offset_s,
            due.finding.t,
            due.finding.t + self.settings.image_offset_s,
        ];
        for (k, target) in targets.into_iter().enumerate() {
            if due.captures[k].is_some() {
                continue;
            }
            let pick = if k == 2 {
                self.recent.iter().find(|r| r.1.t >= target)
            } else {
                self.recent
                    .iter()
                    .min_by(|a, b| (a.1.t - target).abs().total_cmp(&(b.1.t - target).abs()))
            };
            if let Some((image, boxes)) = pick {
                let (vehicle, others) = apart(boxes, due);
                due.captures[k] = Some(Capture {
                    t: boxes.t,
                    at: self.utc(boxes.t),
                    image: image.clone(),
                    vehicle,
                    others,
                });
            }
        }
    }

    /// Hands `due` to the evidence stage: complete, or `provisional` to be journaled.
    pub(super) fn send(&self, due: Due, provisional: bool) {
        let views = self
            .followed
            .get(&due.finding.track)
            .map(|f| f.views.clone())
            .unwrap_or_default();
        let paired = self.paired(due.finding.track);
        let clip = if provisional {
            Vec::new()
        } else {
            self.ingest.clip(
                due.finding.t - self.settings.clip_before_s,
                due.finding.t + self.settings.clip_after_s,
            )
        };
        // What was seen from a little before the clip's first frame to a little after its
        // last, each frame without the offender.
        let clip_boxes = match (clip.first(), clip.last()) {
            (Some(first), Some(last)) => self
                .seen
                .iter()
                .filter(|b| b.t >= first.t - MAX_GAP_S && b.t <= last.t + MAX_GAP_S)
                .map(|b| {
                    let (vehicle, found) = apart(b, &due);
                    let tracks = b.tracks.iter().filter(|(id, ..)| *id != due.finding.track);
                    FrameBoxes {
                        t: b.t,
                        // A vehicle the offender's box covers is the offender.
                        tracks: tracks
                            .filter(|(_, bbox, _)| vehicle.is_none_or(|v| v.iou(bbox) < 0.5))
                            .copied()
                            .collect(),
                        found,
                        offender: vehicle,
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        let job = Job {
            provisional,
            camera: self.camera.clone(),
            due,
            views,
            paired,
            clip,
            clip_boxes,
            utc_of: self.ingest.unix_ms_at(0.0),
        };
        // Blocking: a violation is never dropped; a slow evidence stage holds this camera.
        if self.jobs.send(job).is_err() {
            error!("the evidence stage has stopped: violation lost");
        }
    }
}
