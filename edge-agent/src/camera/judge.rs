//! What the worker does with each frame: detect and track, follow each confirmed vehicle, read
//! the signal, judge every track by the rules, and keep the judged frame for an installer
//! watching live.

use std::{
    collections::HashSet,
    sync::{Arc, atomic::Ordering},
    time::Instant,
};

use protocol::{
    EventId, SignalPhase, VehicleClass, ViolationKind,
    event::{SignalObservation, VehicleBox},
    messages::{SignalSource, SignalState},
};
use tracing::{info, warn};
use vision::BoxF;

use crate::{
    config::SignalConfig,
    evidence::clip::FrameBoxes,
    ingest::Frame,
    pairing::{View, offer_view},
    rules::{self, History, Sample},
    signal::FixedPlan,
    track::TrackState,
};

use super::{capture::shape_of, *};

/// A confirmed track seen in this frame.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) id: u64,
    pub(crate) bbox: BoxF,
    pub(crate) class: VehicleClass,
    /// Each class its detections gave, with its share of their votes.
    pub(crate) class_votes: Vec<(VehicleClass, f32)>,
    pub(crate) score: f32,
    /// Frames the tracker went without it before this sighting.
    pub(crate) unseen: u32,
}

/// The signal fault of a camera reading the lamps before they are placed on its picture.
pub const LAMPS_NOT_SET_UP: &str =
    "the signal head's lamps are not set up: place them on the camera's page in central";

/// A box as the messages give it: whole pixels, within the frame's top and left edges.
pub(crate) fn vehicle_box(b: &BoxF) -> VehicleBox {
    VehicleBox {
        x: b.x0.max(0.0) as u32,
        y: b.y0.max(0.0) as u32,
        width: b.width().max(1.0) as u32,
        height: b.height().max(1.0) as u32,
    }
}

/// What a track has shown so far.
#[derive(Debug)]
pub(crate) struct Followed {
    pub(crate) history: History,
    /// The largest views of the vehicle.
    pub(crate) views: Vec<View>,
    pub(crate) no_helmet: Vec<f32>,
    pub(crate) fired: HashSet<ViolationKind>,
    pub(crate) score: f32,
    pub(crate) last_seen: f64,
}

pub(crate) const MAX_SAMPLES: usize = 900;

impl Worker {
    pub(super) fn process(&mut self, frame: &Frame) -> anyhow::Result<()> {
        let t = frame.t;
        self.update_signal(frame);
        let started = Instant::now();
        let (detections, people) = self
            .models
            .vehicles
            .detect_with_people(frame.image.pixels())?;
        let us = started.elapsed().as_micros() as u64;
        self.stats.detect_us.fetch_add(us, Ordering::Relaxed);
        self.stats.last_detect_us.store(us, Ordering::Relaxed);
        self.stats.processed.fetch_add(1, Ordering::Relaxed);
        let tracks: Vec<Seen> = self
            .tracker
            .update_at(t, &detections)
            .into_iter()
            .filter(|t| t.state == TrackState::Confirmed && t.missed == 0)
            .filter_map(|t| {
                Some(Seen {
                    id: t.id,
                    bbox: t.bbox,
                    class: self.models.vehicles.class(t.class)?,
                    class_votes: self.models.vehicles.class_votes(t.class_shares()),
                    score: t.score,
                    unseen: t.unseen,
                })
            })
            .collect();
        if let Role::Plates(sightings) = &self.role {
            self.record_sightings(frame, &tracks, sightings);
            *self
                .stats
                .snapshot
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(frame.image.clone());
            self.keep_judged(frame, &tracks);
            return Ok(());
        }
        for seen in &tracks {
            let &Seen {
                id,
                bbox,
                class,
                score,
                unseen,
                ..
            } = seen;
            let f = self.followed.entry(id).or_insert_with(|| Followed {
                history: History {
                    track: id,
                    class,
                    class_votes: Vec::new(),
                    samples: Vec::new(),
                },
                views: Vec::new(),
                no_helmet: Vec::new(),
                fired: HashSet::new(),
                score,
                last_seen: t,
            });
            f.history.class = class;
            f.history.class_votes.clone_from(&seen.class_votes);
            f.history.samples.push(Sample {
                t,
                bbox,
                sure: self.models.vehicles.sure(score),
                unseen,
            });
            if f.history.samples.len() > MAX_SAMPLES {
                f.history.samples.remove(0);
            }
            f.score = f.score.max(score);
            f.last_seen = t;
            offer_view(&mut f.views, &frame.image, bbox);
            if class == VehicleClass::Motorbike
                && let Some(helmet) = &self.models.helmet
                && bbox.height() >= 24.0
                && let Some(p) = helmet.no_helmet(&frame.image, &bbox)?
            {
                f.no_helmet.push(p);
                if f.no_helmet.len() > 12 {
                    f.no_helmet.remove(0);
                }
            }
        }
        let boxes = Arc::new(FrameBoxes {
            t,
            tracks: tracks
                .iter()
                .map(|t| (t.id, t.bbox, shape_of(t.class)))
                .collect(),
            found: self
                .models
                .vehicles
                .to_hide(detections.iter().chain(&people)),
            offender: None,
        });
        self.recent.push_back((frame.image.clone(), boxes.clone()));
        let keep = self.settings.image_offset_s + 1.5;
        while self.recent.front().is_some_and(|r| t - r.1.t > keep) {
            self.recent.pop_front();
        }
        self.seen.push_back(boxes);
        let keep = self.settings.clip_before_s + self.settings.clip_after_s + CLIP_SLACK_S;
        while self.seen.front().is_some_and(|b| t - b.t > keep) {
            self.seen.pop_front();
        }
        *self
            .stats
            .snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(frame.image.clone());

        // Rules on every track seen this frame.
        for &Seen {
            id,
            bbox,
            class,
            score,
            ..
        } in &tracks
        {
            let Some(f) = self.followed.get(&id) else {
                continue;
            };
            let helmet_probs = self.models.helmet.as_ref().map(|_| f.no_helmet.as_slice());
            let new = rules::judge(
                &f.history,
                &self.geometry,
                &self.timeline,
                &self.limits,
                helmet_probs,
                &f.fired,
            );
            for finding in new {
                let event_id = EventId::new();
                info!(kind = %finding.kind, track = id, event = %event_id, "violation seen");
                self.stats.findings.fetch_add(1, Ordering::Relaxed);
                if let Some(f) = self.followed.get_mut(&id) {
                    f.fired.insert(finding.kind);
                }
                let signal = (finding.kind == ViolationKind::RedLight)
                    .then(|| self.timeline.phase_at(finding.t))
                    .flatten()
                    .map(|at| SignalObservation {
                        phase: at.state,
                        time_into_red_ms: (at.state == SignalState::Red)
                            .then_some((at.since * 1000.0).round().max(0.0) as u64),
                        // Red's start unseen: its age counts from its first sight.
                        red_start_unseen: at.state == SignalState::Red && !at.start_seen,
                        source: match self.camera.signal {
                            SignalConfig::Mqtt { .. } => SignalSource::Controller,
                            SignalConfig::Fixed { .. } => SignalSource::Plan,
                            _ => SignalSource::Classifier,
                        },
                    });
                let mut due = Due {
                    event_id,
                    class,
                    score,
                    bbox,
                    captures: [None, None, None],
                    signal,
                    finding,
                };
                self.capture(&mut due);
                // Journaled now, so that the violation outlives a crash while it waits.
                self.send(due.clone(), true);
                self.due.push(due);
            }
        }
        // Violations whose after image and clip tail have now been seen.
        let mut due = std::mem::take(&mut self.due);
        for d in &mut due {
            self.capture(d);
        }
        let tail_s = self.settings.clip_after_s.max(self.settings.image_offset_s);
        let (ready, waiting): (Vec<Due>, Vec<Due>) = due.into_iter().partition(|d| {
            t >= d.finding.t + tail_s
                && d.captures[2].is_some()
                && self.plates_caught_up(d.finding.t + tail_s, t)
        });
        self.due = waiting;
        for d in ready {
            self.send(d, false);
        }
        self.followed.retain(|_, f| t - f.last_seen < 30.0);
        self.keep_judged(frame, &tracks);
        Ok(())
    }

    /// While an installer watches the camera live: the frame with the tracks confirmed in it,
    /// each with the speed measured for it and the lane it is in, the signal read.
    pub(super) fn keep_judged(&self, frame: &Frame, tracks: &[Seen]) {
        if !self.stats.watched() {
            return;
        }
        let vehicles = tracks
            .iter()
            .take(protocol::snapshot::MAX_VEHICLES)
            .map(|seen| {
                let speed = self
                    .followed
                    .get(&seen.id)
                    .and_then(|f| rules::measured_speed(&f.history, &self.geometry, &self.limits));
                protocol::snapshot::JudgedVehicle {
                    track: seen.id,
                    class: seen.class,
                    bbox: vehicle_box(&seen.bbox),
                    speed_kmh: speed.map(|(kmh, _)| kmh as f32),
                    lane: self
                        .geometry
                        .lane_at(rules::foot(&seen.bbox))
                        .map(|l| l.name.clone()),
                }
            })
            .collect();
        let view = JudgedView {
            frame: self.stats.processed.load(Ordering::Relaxed),
            taken_at: self.utc(frame.t),
            image: frame.image.clone(),
            camera: self.camera.clone(),
            signal: *self.stats.signal.lock().unwrap_or_else(|e| e.into_inner()),
            signal_fault: self
                .stats
                .signal_fault
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            vehicles,
        };
        *self.stats.judged.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(view));
    }

    pub(super) fn update_signal(&mut self, frame: &Frame) {
        let t = frame.t;
        match &self.camera.signal {
            SignalConfig::None => {}
            SignalConfig::Lamps => {
                if let Some(head) = &self.camera.geometry.signal_head {
                    let state = self.lamps.read_picture(&frame.image, head);
                    self.timeline.observe(t, state);
                }
            }
            SignalConfig::Fixed {
                green_s,
                amber_s,
                red_s,
                offset_s,
            } => {
                let plan = FixedPlan {
                    green_s: *green_s,
                    amber_s: *amber_s,
                    red_s: *red_s,
                    offset_s: *offset_s,
                };
                let unix = self.utc(t).unix_ms() as f64 / 1000.0;
                self.timeline.observe_plan(t, unix, &plan);
            }
            SignalConfig::Mqtt { .. } => {
                let phases: Vec<SignalPhase> = std::mem::take(
                    &mut *self
                        .controls
                        .signals
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()),
                );
                let now_ms = self.utc(t).unix_ms();
                for p in phases {
                    let ago = (now_ms - p.changed_at.unix_ms()) as f64 / 1000.0;
                    self.timeline.change(t - ago.max(0.0), p.phase);
                }
                self.timeline.seen(t);
            }
        }
        *self.stats.signal.lock().unwrap_or_else(|e| e.into_inner()) = self.timeline.current();
        let fault = match self.camera.signal {
            SignalConfig::None => None,
            SignalConfig::Lamps if self.camera.geometry.signal_head.is_none() => {
                Some(LAMPS_NOT_SET_UP.to_owned())
            }
            _ => self.watch.fault(t, &self.timeline),
        };
        let mut kept = self
            .stats
            .signal_fault
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if fault.is_some() && kept.is_none() {
            warn!(
                fault = fault.as_deref().unwrap_or(""),
                "signal fault: the red-light rule cannot be trusted here"
            );
        } else if fault.is_none() && kept.is_some() {
            info!("signal changing again");
        }
        *kept = fault;
    }
}
