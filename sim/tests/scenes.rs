//! The sim's promises: determinism, valid plates, boxes that fit what is drawn, true speeds,
//! and the violations each named scenario stages.

use std::collections::BTreeMap;

use protocol::{Plate, ViolationKind};
use sim::{
    Renderer, World,
    scenario::{ActorSpec, Behaviour, FlowSpec, LIBRARY, ScenarioSpec},
    vehicle::ObjectClass,
};

fn quiet(mut spec: ScenarioSpec) -> ScenarioSpec {
    spec.flow = FlowSpec {
        per_minute: BTreeMap::new(),
        pedestrians_per_minute: 0.0,
        ..FlowSpec::default()
    };
    spec
}

fn lone(class: ObjectClass, speed_kmh: f32, plate: &str) -> ScenarioSpec {
    let mut spec = quiet(ScenarioSpec::named("speeding").expect("named scenario"));
    spec.duration_s = 8.0;
    spec.conditions.noise = 0.0;
    spec.conditions.shadows = false;
    spec.conditions.shutter_ms = 0.0;
    spec.actors = vec![ActorSpec {
        class,
        lane: 1,
        at_s: 0.0,
        speed_kmh,
        behaviour: Behaviour::Comply,
        plate: Some(plate.into()),
        layout: None,
        colour: None,
        helmets: None,
        stop_at_m: None,
        dwell_s: None,
    }];
    spec.road.lanes[1].allowed.clear();
    spec
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let spec = ScenarioSpec::named("dense-motorbikes").expect("named scenario");
    let render = |seed: u64| {
        let world = World::simulate(&spec, seed);
        let renderer = Renderer::new(&world);
        let frame = renderer.render(40);
        (
            frame.image.into_raw(),
            serde_json::to_string(&frame.truth).expect("truth serialises"),
        )
    };
    let (a, ta) = render(5);
    let (b, tb) = render(5);
    assert!(a == b, "same seed, different pixels");
    assert_eq!(ta, tb);
    let (c, _) = render(6);
    assert!(a != c, "another seed, same pixels");
}

#[test]
fn every_plate_in_the_truth_follows_the_grammar() {
    let mut plates = 0;
    for (name, _) in LIBRARY {
        let spec = ScenarioSpec::named(name).expect("named scenario");
        let world = World::simulate(&spec, 1);
        for actor in &world.actors {
            if let Some(p) = &actor.plate {
                let parsed = Plate::parse_as(&p.text, p.category)
                    .unwrap_or_else(|e| panic!("{name}: {}: {e}", p.text));
                assert_eq!(parsed.canonical(), p.canonical);
                plates += 1;
            }
        }
        for v in &world.violations {
            let text = v
                .plate
                .as_deref()
                .expect("every violating vehicle has a plate");
            Plate::parse(text).unwrap_or_else(|e| panic!("{name}: {text}: {e}"));
        }
    }
    assert!(plates > 500, "only {plates} plates");
}

#[test]
fn boxes_are_inside_the_frame_and_cover_what_is_drawn() {
    for (class, plate) in [
        (ObjectClass::Car, "51F-123.45"),
        (ObjectClass::Motorbike, "59-X1 123.45"),
        (ObjectClass::Truck, "51C-678.90"),
    ] {
        let spec = lone(class, 30.0, plate);
        let world = World::simulate(&spec, 3);
        let mut empty = spec.clone();
        empty.actors.clear();
        let empty_world = World::simulate(&empty, 3);
        let (renderer, background) = (Renderer::new(&world), Renderer::new(&empty_world));
        let (w, h) = (spec.camera.width as f32, spec.camera.height as f32);
        let mut checked = 0;
        for i in (0..world.frames.len()).step_by(20) {
            let frame = renderer.render(i);
            let bg = background.render(i);
            for o in &frame.truth.objects {
                let b = o.bbox;
                assert!(
                    b.x0 >= 0.0 && b.y0 >= 0.0 && b.x1 <= w && b.y1 <= h,
                    "{class:?} frame {i}: {b:?}"
                );
            }
            let Some(o) = frame
                .truth
                .objects
                .iter()
                .find(|o| o.class == class && !o.truncated)
            else {
                continue;
            };
            // Every changed pixel lies in the box, and the changed pixels reach its edges.
            let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
            for (x, y, p) in frame.image.enumerate_pixels() {
                let q = bg.image.get_pixel(x, y);
                let diff =
                    p.0.iter()
                        .zip(q.0)
                        .map(|(a, b)| a.abs_diff(b))
                        .max()
                        .unwrap_or(0);
                if diff > 3 {
                    let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                    assert!(
                        fx >= o.bbox.x0 - 1.0
                            && fx <= o.bbox.x1 + 1.0
                            && fy >= o.bbox.y0 - 1.0
                            && fy <= o.bbox.y1 + 1.0,
                        "{class:?} frame {i}: drawn pixel ({x},{y}) outside {:?}",
                        o.bbox
                    );
                    (x0, y0, x1, y1) = (x0.min(fx), y0.min(fy), x1.max(fx), y1.max(fy));
                }
            }
            let slack = 2.5;
            assert!(
                x0 - o.bbox.x0 < slack
                    && o.bbox.x1 - x1 < slack
                    && y0 - o.bbox.y0 < slack
                    && o.bbox.y1 - y1 < slack,
                "{class:?} frame {i}: box {:?} is loose around the drawn pixels ({x0},{y0})–({x1},{y1})",
                o.bbox
            );
            checked += 1;
        }
        assert!(checked >= 3, "{class:?}: only {checked} frames checked");
    }
}

#[test]
fn speeds_recovered_from_the_boxes_through_the_camera_match_the_scenario() {
    for (class, kmh, plate) in [
        (ObjectClass::Car, 60.0, "51F-123.45"),
        (ObjectClass::Motorbike, 45.0, "59-X1 123.45"),
        (ObjectClass::Bus, 40.0, "51B-012.34"),
    ] {
        let spec = lone(class, kmh, plate);
        let world = World::simulate(&spec, 1);
        let renderer = Renderer::new(&world);
        let camera = &world.camera;
        // Road distance of the box's bottom edge over time, while the whole vehicle is seen.
        let mut samples = Vec::new();
        for i in 0..world.frames.len() {
            let frame = renderer.render(i);
            if let Some(o) = frame
                .truth
                .objects
                .iter()
                .find(|o| o.class == class && !o.truncated && o.bbox.height() > 20.0)
                && let Some(y) = camera.ground_y_at_row(o.bbox.y1)
            {
                samples.push((frame.truth.t_s, y));
            }
        }
        assert!(samples.len() > 20, "{class:?}: {} samples", samples.len());
        let n = samples.len() as f32;
        let (mt, my) = samples
            .iter()
            .fold((0.0, 0.0), |(a, b), (t, y)| (a + t / n, b + y / n));
        let slope = samples
            .iter()
            .map(|(t, y)| (t - mt) * (y - my))
            .sum::<f32>()
            / samples.iter().map(|(t, _)| (t - mt).powi(2)).sum::<f32>();
        let measured = slope * 3.6;
        let error = (measured - kmh).abs() / kmh;
        assert!(
            error < 0.02,
            "{class:?}: declared {kmh} km/h, recovered {measured:.2} km/h ({:.2}%)",
            error * 100.0
        );
    }
}

#[test]
fn each_named_scenario_stages_exactly_its_violations() {
    use ViolationKind::*;
    let expected: &[(&str, &[(ViolationKind, &str)])] = &[
        ("normal-flow", &[]),
        (
            "red-light",
            &[
                (RedLight, "51F-123.45"),
                (RedLight, "59-X1 234.56"),
                (RedLight, "51C-678.90"),
            ],
        ),
        (
            "speeding",
            &[
                (Speeding, "30G-456.78"),
                (Speeding, "59-T2 345.67"),
                (Speeding, "51K-987.65"),
            ],
        ),
        (
            "wrong-way",
            &[(WrongWay, "51H-246.80"), (WrongWay, "59-P3 135.79")],
        ),
        (
            "wrong-lane",
            &[
                (WrongLane, "51A-111.22"),
                (WrongLane, "59-C1 222.33"),
                (WrongLane, "50H-333.44"),
            ],
        ),
        (
            "illegal-stop",
            &[
                (IllegalStopping, "51G-555.66"),
                (IllegalStopping, "59-S1 444.55"),
            ],
        ),
        (
            "no-helmet",
            &[
                (NoHelmet, "59-N1 121.21"),
                (NoHelmet, "29-AB 343.43"),
                (NoHelmet, "59-MĐ1 565.65"),
            ],
        ),
        ("dense-motorbikes", &[(RedLight, "59-B2 808.08")]),
        (
            "night",
            &[(Speeding, "51E-606.06"), (RedLight, "51F-909.09")],
        ),
        ("rain-dusk", &[(RedLight, "59-K1 717.17")]),
    ];
    assert_eq!(
        expected.len(),
        LIBRARY.len(),
        "every named scenario has its expectation"
    );
    for (name, want) in expected {
        let spec = ScenarioSpec::named(name).expect("named scenario");
        for seed in 1..=8 {
            let world = World::simulate(&spec, seed);
            let mut got: Vec<(ViolationKind, String)> = world
                .violations
                .iter()
                .map(|v| (v.kind, v.plate.clone().unwrap_or_default()))
                .collect();
            let mut want: Vec<(ViolationKind, String)> =
                want.iter().map(|(k, p)| (*k, (*p).to_owned())).collect();
            got.sort_by(|a, b| a.1.cmp(&b.1));
            want.sort_by(|a, b| a.1.cmp(&b.1));
            assert_eq!(got, want, "{name} (seed {seed}): {:#?}", world.violations);
            for v in &world.violations {
                match v.kind {
                    RedLight => assert!(v.value.is_some_and(|into| into >= 1.0), "{name}: {v:?}"),
                    Speeding => assert!(
                        v.value.zip(v.limit).is_some_and(|(s, l)| s > l + 5.0),
                        "{name}: {v:?}"
                    ),
                    IllegalStopping => assert!(
                        v.value.zip(v.limit).is_some_and(|(d, l)| d > l),
                        "{name}: {v:?}"
                    ),
                    _ => {}
                }
            }
        }
    }
}
