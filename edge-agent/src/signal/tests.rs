use super::*;

#[test]
fn time_into_red_counts_from_its_start_or_else_from_its_first_sight() {
    let mut tl = Timeline::new(60.0);
    let mut look = |from: f64, to: f64, s: SignalState| {
        let mut t = from;
        while t < to {
            tl.observe(t, Some(s));
            t += 0.5;
        }
    };
    // Started in the middle of red: it is dated from its first sight, and says so.
    look(0.0, 2.0, SignalState::Red);
    look(2.0, 5.0, SignalState::Green);
    look(5.0, 8.0, SignalState::Amber);
    look(8.0, 10.0, SignalState::Red);
    let first = tl.phase_at(1.5).expect("red");
    assert_eq!(
        (first.state, first.since, first.start_seen),
        (SignalState::Red, 1.5, false)
    );
    // Changes are placed half way between the last look at one phase and the first at
    // the next.
    assert_eq!(tl.at(3.0), Some((SignalState::Green, 1.25)));
    assert_eq!(tl.at(8.75), Some((SignalState::Red, 1.0)));
    assert!(tl.phase_at(8.75).expect("red").start_seen);
    // The head hidden for a moment: the phase goes on.
    tl.observe(10.0, None);
    tl.observe(10.5, Some(SignalState::Red));
    assert_eq!(tl.at(10.5), Some((SignalState::Red, 2.75)));
    // A long gap in what was seen: the red after it is dated from its first sight.
    tl.observe(20.0, Some(SignalState::Red));
    tl.observe(20.5, Some(SignalState::Red));
    let after = tl.phase_at(20.2).expect("red");
    assert!(!after.start_seen);
    assert!((after.since - 0.2).abs() < 1e-9);
    // Nothing seen for long: nothing is known.
    assert_eq!(tl.at(40.0), None);
}

#[test]
fn a_signal_that_never_changes_is_a_fault() {
    let mut watch = SignalWatch::new(120.0);
    let mut tl = Timeline::new(300.0);
    assert_eq!(watch.fault(0.0, &tl), None);
    assert!(
        watch
            .fault(121.0, &tl)
            .expect("nothing read")
            .contains("no signal")
    );
    let mut watch = SignalWatch::new(120.0);
    for i in 0..400 {
        let t = f64::from(i);
        // A real cycle: 60 s green, 3 s amber, 57 s red, for 200 s; then red for good.
        let phase = match (i, i % 120) {
            (200.., _) => SignalState::Red,
            (_, 0..60) => SignalState::Green,
            (_, 60..63) => SignalState::Amber,
            _ => SignalState::Red,
        };
        tl.observe(t, Some(phase));
        let fault = watch.fault(t, &tl);
        if i < 300 {
            assert_eq!(fault, None, "at {i} s");
        } else if i > 325 {
            let fault = fault.expect("stuck");
            assert!(fault.contains("red for"), "{fault}");
        }
    }
}

#[test]
fn the_plan_gives_phases_and_their_age() {
    let plan = FixedPlan {
        green_s: 20.0,
        amber_s: 3.0,
        red_s: 17.0,
        offset_s: 5.0,
    };
    assert_eq!(plan.at(5.0), (SignalState::Green, 0.0));
    assert_eq!(plan.at(30.0), (SignalState::Red, 2.0));
    let mut tl = Timeline::new(60.0);
    tl.observe_plan(100.0, 30.0, &plan);
    assert_eq!(tl.at(100.5), Some((SignalState::Red, 2.5)));
}

fn head() -> SignalHeadSpec {
    SignalHeadSpec {
        red: [10.0, 10.0],
        amber: [10.0, 30.0],
        green: [10.0, 50.0],
        radius_px: 5.0,
    }
}

/// A head with its lamps at the given brightness, each lamp lit in its own colour (a dark
/// lamp grey), and `halo` its colour around the lit one.
fn frame(levels: [u8; 3], halo: Option<[u8; 3]>) -> RgbImage {
    let mut img = RgbImage::from_pixel(20, 60, image::Rgb([40, 40, 40]));
    let colours = [[255, 40, 60], [255, 190, 20], [40, 255, 190]];
    for (k, cy) in [10u32, 30, 50].into_iter().enumerate() {
        let v = levels[k];
        let c = colours[k];
        for y in cy - 6..cy + 6 {
            for x in 4..16 {
                let (dx, dy) = (x as f32 + 0.5 - 10.0, y as f32 + 0.5 - cy as f32);
                let d = (dx * dx + dy * dy).sqrt();
                if d <= 3.5 {
                    // The core: as bright as the lamp, coloured when dim, white-ish when
                    // saturated.
                    let px = c.map(|ch| {
                        (u16::from(ch) * u16::from(v) / 255).max(u16::from(v) * 3 / 4) as u8
                    });
                    img.put_pixel(x, y, image::Rgb(px));
                } else if d <= 6.0 && v > 60 {
                    let h = halo.unwrap_or(c);
                    img.put_pixel(
                        x,
                        y,
                        image::Rgb(h.map(|ch| (u16::from(ch) * u16::from(v) / 300) as u8)),
                    );
                }
            }
        }
    }
    img
}

#[test]
fn a_decoded_frame_is_read_from_the_heads_part_alone() {
    use vision::picture::{Colour, Yuv420};
    // The head of the tests above, 131 px right and 37 down in a larger decoded frame.
    let (dx, dy) = (131.0, 37.0);
    let h = head();
    let moved = SignalHeadSpec {
        red: [h.red[0] + dx, h.red[1] + dy],
        amber: [h.amber[0] + dx, h.amber[1] + dy],
        green: [h.green[0] + dx, h.green[1] + dy],
        radius_px: h.radius_px,
    };
    let (mut whole, mut part) = (LampReader::new(), LampReader::new());
    let mut read = Vec::new();
    for levels in [
        [45, 45, 45],
        [45, 45, 200],
        [230, 45, 45],
        [45, 200, 45],
        [50, 50, 200],
    ] {
        let mut big = RgbImage::from_pixel(200, 120, image::Rgb([40, 40, 40]));
        image::imageops::replace(&mut big, &frame(levels, None), dx as i64, dy as i64);
        let planes = Yuv420::from_rgb(&big, Colour::BT709);
        let converted = Picture::from_yuv(planes.clone());
        let expected = whole.read(converted.rgb(), &moved);
        let decoded = Picture::from_yuv(planes);
        assert_eq!(part.read_picture(&decoded, &moved), expected, "{levels:?}");
        assert!(!decoded.has_rgb(), "only the head's part is converted");
        read.push(expected);
    }
    assert_eq!(
        read,
        [
            None,
            Some(SignalState::Green),
            Some(SignalState::Red),
            Some(SignalState::Amber),
            Some(SignalState::Green)
        ]
    );
}

#[test]
fn a_dim_real_lamp_is_read_and_a_dark_head_gives_nothing() {
    let mut reader = LampReader::new();
    assert_eq!(reader.read(&frame([45, 45, 45], None), &head()), None);
    // A real green lamp at 105-109 beside dark ones at 45: green (the old constant
    // threshold of 110 read nothing).
    assert_eq!(
        reader.read(&frame([45, 45, 107], None), &head()),
        Some(SignalState::Green)
    );
    assert_eq!(
        reader.read(&frame([45, 200, 45], None), &head()),
        Some(SignalState::Amber)
    );
}

#[test]
fn a_lamp_whose_light_has_another_colour_is_unknown_never_that_lamp() {
    let mut reader = LampReader::new();
    // The red lamp's place is the bright one, but its light is green: a reflection, or
    // lamp positions set wrong.
    let img = frame([230, 45, 45], Some([40, 255, 190]));
    assert_eq!(reader.read(&img, &head()), None);
    assert_eq!(reader.colour_disagreements, 1);
    assert_eq!(
        reader.read(&frame([230, 45, 45], None), &head()),
        Some(SignalState::Red)
    );
}

#[test]
fn thresholds_are_learned_from_the_cameras_own_frames() {
    let mut reader = LampReader::new();
    // Cycles seen: each lamp dark at 50 and lit at 200.
    for _ in 0..6 {
        for levels in [[200, 50, 50], [50, 50, 200], [50, 200, 50]] {
            assert!(reader.read(&frame(levels, None), &head()).is_some());
        }
    }
    // Red at 140: above half-way between its own dark and lit levels, though not 1.3
    // times as bright as green at 115 (sunlight on the head).
    assert_eq!(
        reader.read(&frame([140, 50, 115], None), &head()),
        Some(SignalState::Red)
    );
    // Two lamps above their thresholds: unknown.
    assert_eq!(reader.read(&frame([180, 50, 180], None), &head()), None);
}

#[test]
fn the_lit_colour_of_a_box_is_read_from_its_light() {
    let img = frame([45, 45, 220], None);
    assert_eq!(
        lit_colour(&img, [0.0, 40.0, 20.0, 60.0]),
        Some(SignalState::Green)
    );
    assert_eq!(
        lit_colour(&img, [0.0, 0.0, 20.0, 20.0]),
        None,
        "a dark lamp"
    );
    let red = frame([230, 45, 45], None);
    assert_eq!(
        lit_colour(&red, [0.0, 0.0, 20.0, 60.0]),
        Some(SignalState::Red)
    );
}
