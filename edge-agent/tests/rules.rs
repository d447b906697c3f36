//! The rules on sim ground truth: tracks from the true boxes, the camera's geometry from its
//! calibration (stop line, lanes and zones projected into the image, the road homography for
//! speed), the signal from the plan. Each named scenario's true violations are found, and no
//! others (figures printed).

use std::collections::BTreeMap;

use edge_agent::rules::{
    self, DirectedLine, Geometry, History, Lane, Limits, Sample, SpeedTrap, Zone,
};
use plate_ocr::image_ops::BoxF;
use protocol::{ViolationKind, geometry::Point, messages::SignalState};
use sim::{
    Renderer, ScenarioSpec, World,
    geom::Vec3,
    scenario::{Direction, Phase},
};

fn project(world: &World, x: f32, y: f32) -> Point {
    world
        .camera
        .project(Vec3::new(x, y, 0.0))
        .expect("in front of the camera")
}

fn geometry(world: &World) -> Geometry {
    let road = &world.spec.road;
    let half = road.width_m() / 2.0;
    let near = world.camera.near_ground_y() + 1.0;
    let stop_line = road.stop_line_m.map(|y| DirectedLine {
        a: project(world, -half, y),
        b: project(world, half, y),
        before: project(world, 0.0, y - 5.0),
    });
    let lanes = road
        .lanes
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (x0, x1) = (
                road.lane_centre_x(i) - road.lane_width_m / 2.0,
                road.lane_centre_x(i) + road.lane_width_m / 2.0,
            );
            let far = road.stop_line_m.unwrap_or(road.far_m);
            let (a, b) = (
                project(world, road.lane_centre_x(i), near),
                project(world, road.lane_centre_x(i), near + 10.0),
            );
            let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
            let away = [(b[0] - a[0]) / len, (b[1] - a[1]) / len];
            Lane {
                name: i.to_string(),
                polygon: vec![
                    project(world, x0, near),
                    project(world, x1, near),
                    project(world, x1, far),
                    project(world, x0, far),
                ],
                direction: if l.direction == Direction::Away {
                    away
                } else {
                    [-away[0], -away[1]]
                },
                allowed: l.allowed.iter().filter_map(|c| c.vehicle()).collect(),
            }
        })
        .collect();
    let no_stopping = road
        .no_stopping
        .iter()
        .map(|z| {
            let (x0, x1) = (
                road.lane_centre_x(z.lane) - road.lane_width_m / 2.0,
                road.lane_centre_x(z.lane) + road.lane_width_m / 2.0,
            );
            Zone {
                polygon: vec![
                    project(world, x0, z.from_m),
                    project(world, x1, z.from_m),
                    project(world, x1, z.to_m),
                    project(world, x0, z.to_m),
                ],
                max_dwell_s: f64::from(z.max_dwell_s),
            }
        })
        .collect();
    Geometry {
        stop_line,
        speed: world.camera.ground_homography().map(SpeedTrap::Homography),
        lanes,
        no_stopping,
    }
}

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
        let g = geometry(&world);
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
        let signal = move |t: f64| {
            let (phase, since) = plan?.phase_at(t as f32);
            let state = match phase {
                Phase::Red => SignalState::Red,
                Phase::Amber => SignalState::Amber,
                Phase::Green => SignalState::Green,
            };
            Some((state, f64::from(since)))
        };
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
                            samples: Vec::new(),
                        },
                        o.helmets.clone(),
                    )
                });
                entry.0.samples.push(Sample {
                    t: f64::from(frame.truth.t_s),
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
                    rules::no_helmet(history, Some(&probs)),
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
