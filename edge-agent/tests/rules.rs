//! The rules on sim ground truth: tracks from the true boxes, the camera's geometry from its
//! calibration (stop line, lanes and zones projected into the image, the road homography for
//! speed), the signal from the plan. Each named scenario's true violations are found, and no
//! others (figures printed).

use std::collections::BTreeMap;

use edge_agent::rules::{self, Geometry, History, Limits, Sample};
use protocol::ViolationKind;
use sim::{Renderer, ScenarioSpec, World};
use vision::BoxF;

#[test]
fn the_rules_find_each_scenarios_violations_and_no_others() {
    let (mut truths, mut found, mut reported, mut right) = (0, 0, 0, 0);
    for name in [
        "red-light",
        "speeding",
        "wrong-way",
        "wrong-lane",
        "illegal-stop",
        "no-helmet",
    ] {
        let spec = ScenarioSpec::named(name).expect("scenario");
        let world = World::simulate(&spec, 1);
        let renderer = Renderer::new(&world);
        let g = Geometry::from(&sim::setup::camera_geometry(&renderer));
        let limits = Limits {
            speed_kmh: f64::from(spec.road.speed_limit_kmh),
            speed_kmh_by_class: spec
                .road
                .speed_limits
                .iter()
                .filter_map(|(c, l)| Some((c.vehicle()?, f64::from(*l))))
                .collect(),
            ..Limits::default()
        };
        let plan = spec.signal;
        let signal = move |t: f64| plan.map(|p| p.state_at(t));
        // Tracks from the true boxes of every other frame (12.5 a second), while wholly in view.
        let mut tracks: BTreeMap<u32, (History, Vec<bool>)> = BTreeMap::new();
        for i in (0..renderer.frame_count()).step_by(2) {
            let frame = renderer.render(i);
            for o in frame
                .truth
                .objects
                .iter()
                .filter(|o| !o.truncated && o.bbox.height() >= 12.0)
            {
                let Some(class) = o.class.vehicle() else {
                    continue;
                };
                let entry = tracks.entry(o.track_id).or_insert_with(|| {
                    (
                        History {
                            track: u64::from(o.track_id),
                            class,
                            class_votes: Vec::new(),
                            samples: Vec::new(),
                        },
                        o.helmets.clone(),
                    )
                });
                entry.0.samples.push(Sample {
                    t: f64::from(frame.truth.t_s),
                    sure: true,
                    unseen: 0,
                    bbox: BoxF {
                        x0: o.bbox.x0,
                        y0: o.bbox.y0,
                        x1: o.bbox.x1,
                        y1: o.bbox.y1,
                    },
                });
            }
        }
        let mut findings = Vec::new();
        for (history, helmets) in tracks.values() {
            // The helmet classifier's part is played by the truth.
            let probs: Vec<f32> = history
                .samples
                .iter()
                .map(|_| {
                    if helmets.iter().any(|h| !h) {
                        0.95
                    } else {
                        0.05
                    }
                })
                .collect();
            findings.extend(
                [
                    rules::red_light(history, &g, &signal, &limits),
                    rules::speeding(history, &g, &limits),
                    rules::wrong_way(history, &g, &limits),
                    rules::wrong_lane(history, &g, &limits),
                    rules::illegal_stopping(history, &g, &limits),
                    rules::no_helmet(history, Some(&probs), &limits),
                ]
                .into_iter()
                .flatten(),
            );
        }
        let truth: Vec<(ViolationKind, u64)> = world
            .violations
            .iter()
            .map(|v| (v.kind, u64::from(v.track_id)))
            .collect();
        for f in &findings {
            reported += 1;
            if truth.contains(&(f.kind, f.track)) {
                right += 1;
            } else {
                println!(
                    "{name}: false {:?} on track {} at {:.1} s ({:?})",
                    f.kind, f.track, f.t, f.value
                );
            }
        }
        for t in &truth {
            truths += 1;
            if findings.iter().any(|f| (f.kind, f.track) == *t) {
                found += 1;
            } else {
                println!("{name}: missed {:?} on track {}", t.0, t.1);
            }
        }
    }
    println!(
        "rules on sim truth: {found}/{truths} violations found, {right}/{reported} findings right"
    );
    assert!(truths >= 15);
    assert_eq!(found, truths, "every true violation is found");
    assert_eq!(right, reported, "no false finding");
}
