//! A lawful junction through the agent's own perception: a shipped detector on every frame
//! of the sim's `normal-flow` scene, the tracker and the rules on what a camera thread would
//! see of it (about 8 frames a second, some dropped, a different run each time). Nobody breaks
//! the law there, so any finding is a false accusation; the rules must hold against what real
//! detectors do — a box misplaced for one frame, a track that jumps to another road user, a
//! road marking boxed as a motorbike, a class that wavers. Both detectors judge the scene: the
//! one the sim's junctions are watched with and the default one, trained on real streets, to
//! which the sim's frames are a foreign place.

use std::collections::{BTreeMap, HashSet};

use edge_agent::{
    config::ModelSettings,
    detect::VehicleDetector,
    rules::{self, Geometry, History, Limits, Sample},
    track::{TrackState, Tracker, TrackerOptions},
};
use sim::{Renderer, ScenarioSpec, World, rng::Rng};
use vision::Manifest;

#[test]
fn a_lawful_junction_gives_no_finding_whatever_frames_the_camera_drops() {
    let defaults = ModelSettings::default();
    assert_ne!(defaults.vehicle_detector, sim::setup::DETECTOR);
    for name in [sim::setup::DETECTOR, defaults.vehicle_detector.as_str()] {
        no_finding_with(name);
    }
}

fn no_finding_with(name: &str) {
    let manifest = Manifest::shipped().expect("manifest");
    let low = TrackerOptions::default().low_score;
    let detector = VehicleDetector::load(&ModelSettings::default(), &manifest, name, low)
        .expect("a shipped detector");
    let mut spec = ScenarioSpec::named("normal-flow").expect("scenario");
    spec.fps = 15;
    let world = World::simulate(&spec, 1);
    assert!(world.violations.is_empty(), "the scene is lawful");
    let renderer = Renderer::new(&world);
    let g = Geometry::from(&sim::setup::camera_geometry(&renderer));
    let limits = Limits {
        speed_kmh: f64::from(spec.road.speed_limit_kmh),
        ..Limits::default()
    };
    let plan = spec.signal;
    let signal = move |t: f64| plan.map(|p| p.state_at(t));
    // The detector once per frame; each run below picks its own frames from them.
    let frames: Vec<(f64, Vec<_>)> = (0..renderer.frame_count())
        .map(|i| {
            let frame = renderer.render(i);
            let found = detector.detect(&frame.image).expect("detects");
            (f64::from(frame.truth.t_s), found)
        })
        .collect();
    let mut rng = Rng::new(3);
    let (mut findings, mut tracks) = (Vec::new(), 0usize);
    for run in 0..40 {
        let mut tracker = Tracker::new(TrackerOptions {
            high_score: detector.min_score,
            new_track_score: (detector.min_score + 0.1).min(0.95),
            ..TrackerOptions::default()
        });
        let mut followed: BTreeMap<u64, History> = BTreeMap::new();
        let mut fired = HashSet::new();
        let mut i = run % 2;
        while let Some((t, found)) = frames.get(i) {
            for tr in tracker.update(found) {
                if tr.state != TrackState::Confirmed || tr.missed != 0 {
                    continue;
                }
                let Some(class) = detector.class(tr.class) else {
                    continue;
                };
                let h = followed.entry(tr.id).or_insert_with(|| History {
                    track: tr.id,
                    class,
                    class_votes: Vec::new(),
                    samples: Vec::new(),
                });
                // As the agent does: the class the track's detections vote for, and how sure.
                h.class = class;
                h.class_votes = detector.class_votes(tr.class_shares());
                h.samples.push(Sample {
                    t: *t,
                    bbox: tr.bbox,
                });
                for f in [
                    rules::red_light(h, &g, &signal, &limits),
                    rules::speeding(h, &g, &limits),
                    rules::wrong_way(h, &g, &limits),
                    rules::wrong_lane(h, &g, &limits),
                ]
                .into_iter()
                .flatten()
                {
                    if fired.insert((tr.id, f.kind)) {
                        findings.push((run, f));
                    }
                }
            }
            // Every other frame of 15 a second, one in ten a frame later (a drop).
            i += if rng.chance(0.1) { 3 } else { 2 };
        }
        tracks += followed.len();
    }
    println!(
        "{name}: 40 runs, {tracks} tracks, {} findings",
        findings.len()
    );
    assert!(
        tracks >= 40 * 20,
        "{name}: the scene's traffic is followed ({tracks})"
    );
    assert!(findings.is_empty(), "{name}: false findings: {findings:#?}");
}
