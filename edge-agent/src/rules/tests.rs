use super::*;

/// A vehicle driving up the image (away from the camera) at `vy` px/s from `y0`.
fn drive(class: VehicleClass, x: f32, y0: f32, vy: f32, seconds: f64) -> History {
    let samples = (0..=(seconds * 10.0) as usize)
        .map(|i| {
            let t = i as f64 / 10.0;
            let y = y0 + vy * t as f32;
            Sample {
                t,
                sure: true,
                unseen: 0,
                bbox: BoxF {
                    x0: x - 20.0,
                    y0: y - 40.0,
                    x1: x + 20.0,
                    y1: y,
                },
            }
        })
        .collect();
    History {
        track: 7,
        class,
        class_votes: Vec::new(),
        samples,
    }
}

fn stop_line() -> DirectedLine {
    DirectedLine {
        a: [0.0, 400.0],
        b: [1280.0, 400.0],
        before: [640.0, 700.0],
    }
}

fn plan(red_from: f64) -> impl Fn(f64) -> Option<(SignalState, f64)> {
    move |t| {
        Some(if t >= red_from {
            (SignalState::Red, t - red_from)
        } else {
            (SignalState::Green, t)
        })
    }
}

#[test]
fn red_light_flags_a_crossing_on_red_only() {
    let g = Geometry {
        stop_line: Some(stop_line()),
        ..Geometry::default()
    };
    let limits = Limits::default();
    // Reaches the line (y 400) at t = 3 s.
    let h = drive(VehicleClass::Car, 640.0, 700.0, -100.0, 6.0);
    let f = red_light(&h, &g, &plan(1.0), &limits).expect("crossed 2 s into red");
    assert!(
        (f.t - 3.0).abs() < 0.01 && (f.value.unwrap() - 2.0).abs() < 0.01,
        "{f:?}"
    );
    assert!(
        red_light(&h, &g, &plan(4.0), &limits).is_none(),
        "crossed on green"
    );
    assert!(
        red_light(&h, &g, &plan(2.8), &limits).is_none(),
        "within the all-red grace"
    );
    // Already past the line when red began, and driving on.
    let past = drive(VehicleClass::Car, 640.0, 390.0, -100.0, 3.0);
    assert!(red_light(&past, &g, &plan(0.0), &limits).is_none());
    // Stopping short of the line.
    let stops = drive(VehicleClass::Car, 640.0, 700.0, -50.0, 5.0);
    assert!(red_light(&stops, &g, &plan(0.0), &limits).is_none());
}

/// A motorbike waiting short of the line (y 400, foot at 440) for `seconds`, 10 frames a
/// second.
fn waiting(seconds: f64) -> History {
    let mut h = drive(VehicleClass::Motorbike, 640.0, 440.0, 0.0, seconds);
    for s in &mut h.samples {
        s.bbox.x0 = 628.0;
        s.bbox.x1 = 652.0;
        s.bbox.y0 = 380.0;
    }
    h
}

#[test]
fn a_crossing_is_two_sightings_past_the_line_of_the_same_road_user() {
    let line = stop_line();
    // Red-light evidence from the CI run that failed: a queued motorbike, half hidden,
    // boxed once a few metres up the road, then back where it waits.
    let mut glitch = waiting(3.0);
    glitch.samples[20].bbox = BoxF {
        x0: 630.0,
        y0: 300.0,
        x1: 652.0,
        y1: 360.0,
    };
    assert_eq!(line.crossing(&glitch), None, "one misplaced box");
    // A track that jumps to a car of the cross traffic and follows it.
    let mut jumped = waiting(3.0);
    for s in &mut jumped.samples[20..] {
        s.bbox = BoxF {
            x0: 560.0,
            y0: 320.0,
            x1: 680.0,
            y1: 370.0,
        };
    }
    assert_eq!(line.crossing(&jumped), None, "another road user's box");
    // A track lost for three seconds while it waited, then taken up by a road user of the
    // same shape already past the line (its feet on the far side at 5.0 and 5.1 s).
    let mut taken_up = waiting(2.0);
    for (k, y) in [(0, 340.0), (1, 320.0), (2, 300.0)] {
        taken_up.samples.push(Sample {
            t: 5.0 + f64::from(k) / 10.0,
            sure: true,
            unseen: 0,
            bbox: BoxF {
                x0: 630.0,
                y0: y - 60.0,
                x1: 654.0,
                y1: y,
            },
        });
    }
    assert_eq!(line.crossing(&taken_up), None, "not seen crossing");
    // A motorbike that stopped on the line itself, waited there three seconds and rode on
    // is seen crossing, however long it stood.
    let mut on_the_line = waiting(1.0);
    for k in 0..40 {
        let t = 1.1 + f64::from(k) / 10.0;
        let y = if k < 30 {
            402.0
        } else {
            402.0 - 20.0 * (k - 29) as f32
        };
        on_the_line.samples.push(Sample {
            t,
            sure: true,
            unseen: 0,
            bbox: BoxF {
                x0: 628.0,
                y0: y - 60.0,
                x1: 652.0,
                y1: y,
            },
        });
    }
    assert!(
        line.crossing(&on_the_line).is_some(),
        "stood on the line, then crossed"
    );
    // The motorbike that does ride on: one sighting past the line is not yet enough,
    // the second one is.
    let mut rides = waiting(2.0);
    for (k, y) in [(0, 395.0), (1, 360.0), (2, 330.0)] {
        let t = 2.1 + f64::from(k) / 10.0;
        rides.samples.push(Sample {
            t,
            sure: true,
            unseen: 0,
            bbox: BoxF {
                x0: 630.0,
                y0: y - 56.0,
                x1: 650.0,
                y1: y,
            },
        });
        if k == 1 {
            assert_eq!(line.crossing(&rides), None, "seen once past the line");
        }
    }
    let t = line.crossing(&rides).expect("seen twice past the line");
    assert!((t - 2.089).abs() < 0.005, "{t}");
    // The same sightings, the two past the line weak ones: a motorbike waiting before the
    // line, its lower half hidden by the car queued behind it, boxed by what is in view.
    let mut hidden = rides.clone();
    for s in &mut hidden.samples[21..] {
        s.sure = false;
    }
    assert_eq!(
        line.crossing(&hidden),
        None,
        "a half-hidden box's bottom edge"
    );
    // Or the track lost for three frames just before: taken up by whoever was there.
    let mut refound = rides.clone();
    for s in &mut refound.samples[21..] {
        s.unseen = MAX_UNSEEN_FRAMES + 1;
    }
    assert_eq!(line.crossing(&refound), None, "found again past the line");
    // Or seen past the line after a stall of the camera thread of most of a second.
    let mut stalled = rides;
    for s in &mut stalled.samples[21..] {
        s.t += 0.8;
    }
    assert_eq!(line.crossing(&stalled), None, "unseen for 0.9 s");
}

#[test]
fn same_shape_tells_a_motorbike_from_a_car() {
    let motorbike = BoxF {
        x0: 0.0,
        y0: 0.0,
        x1: 30.0,
        y1: 80.0,
    };
    let farther = BoxF {
        x0: 0.0,
        y0: 0.0,
        x1: 20.0,
        y1: 56.0,
    };
    let car = BoxF {
        x0: 0.0,
        y0: 0.0,
        x1: 100.0,
        y1: 50.0,
    };
    assert!(same_shape(&motorbike, &farther));
    assert!(!same_shape(&motorbike, &car));
    assert!(!same_shape(&car, &motorbike));
}

#[test]
fn speeding_by_lines_and_by_homography() {
    let entry = DirectedLine {
        a: [0.0, 600.0],
        b: [1280.0, 600.0],
        before: [640.0, 700.0],
    };
    let exit = DirectedLine {
        a: [0.0, 300.0],
        b: [1280.0, 300.0],
        before: [640.0, 700.0],
    };
    let g = Geometry {
        speed: Some(SpeedTrap::Lines {
            entry,
            exit,
            distance_m: 20.0,
        }),
        ..Geometry::default()
    };
    let limits = Limits {
        speed_kmh: 60.0,
        speed_kmh_by_class: vec![(VehicleClass::Motorbike, 50.0)],
        ..Limits::default()
    };
    // 300 px in 1 s over 20 m: 72 km/h.
    let fast = drive(VehicleClass::Car, 640.0, 700.0, -300.0, 2.0);
    let f = speeding(&fast, &g, &limits).expect("72 in a 60");
    assert!(
        (f.value.unwrap() - 72.0).abs() < 0.5 && f.limit == Some(60.0),
        "{f:?}"
    );
    assert!(
        speeding(
            &drive(VehicleClass::Car, 640.0, 700.0, -250.0, 2.5),
            &g,
            &limits
        )
        .is_none(),
        "60 in a 60"
    );
    assert!(
        speeding(
            &drive(VehicleClass::Motorbike, 640.0, 700.0, -250.0, 2.5),
            &g,
            &limits
        )
        .is_some(),
        "60 in a 50"
    );
    // A homography of 10 px per metre along y: 300 px/s is 30 m/s, 108 km/h.
    let to_image = Homography::from_quads(
        &[[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]],
        &[[0.0, 1000.0], [100.0, 1000.0], [100.0, 900.0], [0.0, 900.0]],
    )
    .unwrap();
    let g = Geometry {
        speed: SpeedTrap::ground(&to_image),
        ..Geometry::default()
    };
    let f = speeding(&fast, &g, &limits).expect("108 in a 60");
    assert!((f.value.unwrap() - 108.0).abs() < 1.0, "{f:?}");
}

#[test]
fn ground_speed_holds_through_jitter_and_refuses_a_track_that_is_not_one_vehicle() {
    // A pole camera 6.5 m up, tilted 11° down, focal 1150 px, over a road 10 m wide from
    // 12 m (the bottom of the 720-row image) to 60 m: a pixel spans 2 cm of road near and
    // half a metre far.
    let to_image = Homography::from_quads(
        &[[-5.0, 12.0], [5.0, 12.0], [5.0, 60.0], [-5.0, 60.0]],
        &[
            [198.4, 721.3],
            [1081.6, 721.3],
            [735.6, 263.1],
            [544.4, 263.1],
        ],
    )
    .unwrap();
    let to_road = to_image.inverse().unwrap();
    let g = Geometry {
        speed: SpeedTrap::ground(&to_image),
        ..Geometry::default()
    };
    let limits = Limits {
        speed_kmh: 50.0,
        ..Limits::default()
    };
    // A car driving away at `kmh` from `from_m`, seen at 8 fps, its box's bottom off by up to
    // two pixels either way (a fixed pseudo-random pattern).
    let drive_at = |kmh: f64, from_m: f64, seconds: f64, swap_at: Option<f64>| {
        let jitter = [0.0, 1.5, -2.0, 0.5, 2.0, -1.0, -1.5, 1.0];
        let samples = (0..=(seconds * 8.0) as usize)
            .filter_map(|i| {
                let t = i as f64 / 8.0;
                // After `swap_at` the track follows another car 6 m behind.
                let behind = if swap_at.is_some_and(|s| t >= s) {
                    6.0
                } else {
                    0.0
                };
                let y_m = from_m + kmh / 3.6 * t - behind;
                let foot = to_image.apply([0.0, y_m as f32])?;
                let y = foot[1] + jitter[i % jitter.len()];
                let half = 2.0 + (foot[1] - 263.0) / 10.0;
                Some(Sample {
                    t,
                    sure: true,
                    unseen: 0,
                    bbox: BoxF {
                        x0: foot[0] - half,
                        y0: y - 2.0 * half,
                        x1: foot[0] + half,
                        y1: y,
                    },
                })
            })
            .collect();
        History {
            track: 3,
            class: VehicleClass::Car,
            class_votes: Vec::new(),
            samples,
        }
    };
    let fast = drive_at(72.0, 13.0, 2.0, None);
    let f = speeding(&fast, &g, &limits).expect("72 in a 50");
    assert!((f.value.unwrap() - 72.0).abs() < 2.0, "{f:?}");
    assert!(
        speeding(&drive_at(48.0, 13.0, 2.5, None), &g, &limits).is_none(),
        "48 in a 50"
    );
    // The same car, but the track jumps to the car behind halfway: no measurement at all,
    // although its slope alone would read fast.
    assert!(
        speeding(&drive_at(72.0, 13.0, 2.0, Some(0.75)), &g, &limits).is_none(),
        "an identity swap is not a speed"
    );
    // Far down the road a pixel is tens of centimetres and two pixels of jitter are metres:
    // those feet are not used, so nothing is measured there.
    let far = drive_at(40.0, 52.0, 2.0, None);
    let resolution = |s: &Sample| {
        let (p, q) = (
            to_road.apply(s.foot()).unwrap(),
            to_road.apply([s.foot()[0], s.foot()[1] + 1.0]).unwrap(),
        );
        f64::from(((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt())
    };
    assert!(
        far.samples
            .iter()
            .all(|s| resolution(s) > limits.speed_max_m_per_px)
    );
    assert!(speeding(&far, &g, &limits).is_none(), "too far to measure");
}

fn lane(allowed: Vec<VehicleClass>) -> Lane {
    Lane {
        name: "2".into(),
        polygon: vec![[500.0, 0.0], [800.0, 0.0], [800.0, 720.0], [500.0, 720.0]],
        direction: [0.0, -1.0],
        allowed,
    }
}

#[test]
fn judging_runs_every_rule_but_those_that_fired_for_the_track() {
    let g = Geometry {
        lanes: vec![lane(vec![])],
        ..Geometry::default()
    };
    let limits = Limits::default();
    let no_signal = |_t: f64| None;
    let against = drive(VehicleClass::Car, 640.0, 200.0, 80.0, 3.0);
    let kinds = |fired: &HashSet<ViolationKind>| -> Vec<ViolationKind> {
        judge(&against, &g, &no_signal, &limits, None, fired)
            .iter()
            .map(|f| f.kind)
            .collect()
    };
    assert_eq!(kinds(&HashSet::new()), [ViolationKind::WrongWay]);
    assert!(kinds(&HashSet::from([ViolationKind::WrongWay])).is_empty());
    // Another kind having fired leaves this one to be found.
    assert_eq!(
        kinds(&HashSet::from([ViolationKind::RedLight])),
        [ViolationKind::WrongWay]
    );
}

#[test]
fn wrong_way_needs_sustained_motion_against_the_lane() {
    let g = Geometry {
        lanes: vec![lane(vec![])],
        ..Geometry::default()
    };
    let limits = Limits::default();
    let against = drive(VehicleClass::Car, 640.0, 200.0, 80.0, 3.0);
    assert_eq!(
        wrong_way(&against, &g, &limits).map(|f| f.kind),
        Some(ViolationKind::WrongWay)
    );
    assert!(
        wrong_way(
            &drive(VehicleClass::Car, 640.0, 600.0, -80.0, 3.0),
            &g,
            &limits
        )
        .is_none()
    );
    assert!(
        wrong_way(
            &drive(VehicleClass::Car, 640.0, 200.0, 10.0, 3.0),
            &g,
            &limits
        )
        .is_none(),
        "jitter is not driving"
    );
    // Three sightings, each of the next motorbike of a stream riding the right way, taken up
    // over stalls of the camera thread half a second long: not one road user's passage.
    let mut taken_up = against.clone();
    taken_up.samples = [0.0, 0.5, 1.0]
        .into_iter()
        .map(|t| Sample::seen(t, against.samples[(t * 10.0) as usize].bbox))
        .collect();
    assert!(
        wrong_way(&taken_up, &g, &limits).is_none(),
        "three sightings"
    );
    // A passage broken where the track was lost and found again: neither half is 60 px.
    let mut broken = drive(VehicleClass::Car, 640.0, 200.0, 80.0, 1.4);
    assert!(
        wrong_way(&broken, &g, &limits).is_some(),
        "112 px in one passage"
    );
    broken.samples[7].unseen = MAX_UNSEEN_FRAMES + 1;
    assert!(wrong_way(&broken, &g, &limits).is_none(), "56 px and 48 px");
    // Weak sightings are no part of a passage.
    let mut weak = drive(VehicleClass::Car, 640.0, 200.0, 80.0, 1.4);
    for s in &mut weak.samples[7..] {
        s.sure = false;
    }
    assert!(wrong_way(&weak, &g, &limits).is_none(), "56 px seen surely");
}

#[test]
fn wrong_lane_is_a_class_the_lane_does_not_allow() {
    let g = Geometry {
        lanes: vec![lane(vec![VehicleClass::Motorbike])],
        ..Geometry::default()
    };
    let limits = Limits::default();
    let car = drive(VehicleClass::Car, 640.0, 700.0, -80.0, 3.0);
    assert_eq!(
        wrong_lane(&car, &g, &limits).and_then(|f| f.lane),
        Some("2".into())
    );
    assert!(
        wrong_lane(
            &drive(VehicleClass::Motorbike, 640.0, 700.0, -80.0, 3.0),
            &g,
            &limits
        )
        .is_none()
    );
    assert!(
        wrong_lane(
            &drive(VehicleClass::Car, 640.0, 700.0, -80.0, 0.5),
            &g,
            &limits
        )
        .is_none(),
        "passing through"
    );
    // Standing in the lane, or something box-shaped painted on it, is not driving in it.
    assert!(
        wrong_lane(
            &drive(VehicleClass::Car, 640.0, 700.0, 0.0, 3.0),
            &g,
            &limits
        )
        .is_none(),
        "standing"
    );
    assert!(
        wrong_lane(
            &drive(VehicleClass::Car, 640.0, 700.0, -10.0, 3.0),
            &g,
            &limits
        )
        .is_none(),
        "30 px in 3 s: less than its own 40 px height"
    );
}

#[test]
fn illegal_stopping_counts_only_a_long_stop_inside_the_zone() {
    let zone = Zone {
        polygon: vec![
            [500.0, 300.0],
            [800.0, 300.0],
            [800.0, 500.0],
            [500.0, 500.0],
        ],
        max_dwell_s: 5.0,
        case: Some(protocol::camera::ZoneCase::NoParkingSign),
    };
    let g = Geometry {
        no_stopping: vec![zone],
        ..Geometry::default()
    };
    let limits = Limits::default();
    // Drives in for 2.5 s, then stands `stay` seconds.
    let arrive_and_stay = |stay: f64| {
        let mut h = drive(VehicleClass::Car, 640.0, 650.0, -100.0, 2.5);
        let stop = drive(VehicleClass::Car, 640.0, 400.0, 0.0, stay);
        h.samples
            .extend(stop.samples.into_iter().skip(1).map(|mut s| {
                s.t += 2.5;
                s
            }));
        h
    };
    let f = illegal_stopping(&arrive_and_stay(8.0), &g, &limits).expect("8 s in a 5 s zone");
    assert!(f.value.unwrap() > 5.0);
    assert_eq!(
        f.zone_case,
        Some(protocol::camera::ZoneCase::NoParkingSign),
        "what the zone forbids goes with the finding"
    );
    assert!(illegal_stopping(&arrive_and_stay(4.0), &g, &limits).is_none());
    assert!(
        illegal_stopping(
            &drive(VehicleClass::Car, 640.0, 400.0, 0.0, 12.0),
            &g,
            &limits
        )
        .is_none(),
        "standing there since first seen: no known dwell"
    );
    assert!(
        illegal_stopping(
            &drive(VehicleClass::Car, 640.0, 650.0, 0.0, 8.0),
            &g,
            &limits
        )
        .is_none(),
        "outside the zone"
    );
}

#[test]
fn no_helmet_is_off_without_a_classifier() {
    let limits = Limits::default();
    let bike = drive(VehicleClass::Motorbike, 640.0, 700.0, -80.0, 2.0);
    assert!(no_helmet(&bike, None, &limits).is_none());
    assert!(no_helmet(&bike, Some(&[0.9, 0.8, 0.95]), &limits).is_some());
    assert!(no_helmet(&bike, Some(&[0.1, 0.2, 0.9]), &limits).is_none());
    assert!(
        no_helmet(
            &drive(VehicleClass::Car, 640.0, 700.0, -80.0, 2.0),
            Some(&[0.9, 0.9, 0.9]),
            &limits
        )
        .is_none()
    );
}

#[test]
fn an_unsure_class_accuses_nobody_by_class() {
    let limits = Limits {
        speed_kmh_by_class: vec![(VehicleClass::Car, 80.0), (VehicleClass::Motorbike, 60.0)],
        ..Limits::default()
    };
    let g = Geometry {
        lanes: vec![lane(vec![VehicleClass::Motorbike])],
        ..Geometry::default()
    };
    // A car the detector called a motorbike now and then: three votes in ten.
    let mut car = drive(VehicleClass::Car, 640.0, 700.0, -80.0, 3.0);
    car.class_votes = vec![(VehicleClass::Car, 0.7), (VehicleClass::Motorbike, 0.3)];
    assert!(
        wrong_lane(&car, &g, &limits).is_none(),
        "it may be a motorbike"
    );
    car.class_votes = vec![(VehicleClass::Car, 0.9), (VehicleClass::Motorbike, 0.1)];
    assert!(
        wrong_lane(&car, &g, &limits).is_some(),
        "surely not a motorbike"
    );
    // Car or truck, it has no business in a motorbike lane.
    car.class_votes = vec![(VehicleClass::Car, 0.55), (VehicleClass::Truck, 0.45)];
    assert!(wrong_lane(&car, &g, &limits).is_some(), "a car or a truck");

    let mut bike = drive(VehicleClass::Motorbike, 640.0, 700.0, -80.0, 2.0);
    bike.class_votes = vec![(VehicleClass::Motorbike, 0.6), (VehicleClass::Car, 0.4)];
    assert!(
        no_helmet(&bike, Some(&[0.9, 0.8, 0.95]), &limits).is_none(),
        "not surely a motorbike"
    );
    // Speed is judged against the limit of the class it may be that allows the most.
    assert_eq!(limits.limit_for_track(&bike), 80.0);
    bike.class_votes = vec![(VehicleClass::Motorbike, 0.85), (VehicleClass::Car, 0.15)];
    assert_eq!(limits.limit_for_track(&bike), 60.0);
    assert!(no_helmet(&bike, Some(&[0.9, 0.8, 0.95]), &limits).is_some());
}
