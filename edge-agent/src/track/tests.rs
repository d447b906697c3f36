use super::*;

fn det(x: f32, score: f32) -> Detection {
    Detection {
        class: 0,
        score,
        bbox: BoxF {
            x0: x,
            y0: 100.0,
            x1: x + 40.0,
            y1: 140.0,
        },
    }
}

#[test]
fn a_track_is_confirmed_on_its_second_sighting_and_keeps_its_id() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    assert!(
        tracker.update(&[det(100.0, 0.9)]).is_empty(),
        "tentative on the first frame"
    );
    let seen = tracker.update(&[det(104.0, 0.9)]);
    assert_eq!(seen.len(), 1);
    let id = seen[0].id;
    for k in 2..20 {
        let seen = tracker.update(&[det(100.0 + 4.0 * k as f32, 0.9)]);
        assert_eq!(seen[0].id, id);
    }
    assert!(tracker.tracks()[0].velocity()[0] > 3.0, "learnt the motion");
}

#[test]
fn a_short_occlusion_keeps_the_id_and_a_long_one_ends_the_track() {
    let mut tracker = Tracker::new(TrackerOptions {
        max_lost_frames: 10,
        ..TrackerOptions::default()
    });
    let mut x = 100.0;
    let mut id = 0;
    for _ in 0..10 {
        x += 5.0;
        if let Some(t) = tracker.update(&[det(x, 0.9)]).first() {
            id = t.id;
        }
    }
    for _ in 0..6 {
        x += 5.0;
        assert!(tracker.update(&[]).is_empty());
    }
    x += 5.0;
    assert_eq!(
        tracker.update(&[det(x, 0.9)])[0].id,
        id,
        "the prediction carried it through"
    );
    for _ in 0..12 {
        tracker.update(&[]);
    }
    assert!(tracker.tracks().is_empty());
}

#[test]
fn a_lost_track_is_found_again_only_in_a_box_of_its_shape() {
    let boxed = |x: f32, w: f32, h: f32| Detection {
        class: 1,
        score: 0.9,
        bbox: BoxF {
            x0: x,
            y0: 140.0 - h,
            x1: x + w,
            y1: 140.0,
        },
    };
    // A motorbike (30 × 60) waiting, lost for a few frames.
    let run = |returning: Detection| {
        let mut tracker = Tracker::new(TrackerOptions::default());
        for _ in 0..10 {
            tracker.update(&[boxed(100.0, 30.0, 60.0)]);
        }
        let id = tracker.tracks()[0].id;
        for _ in 0..5 {
            tracker.update(&[]);
        }
        tracker.update(&[returning]);
        (id, tracker.update(&[returning]).first().map(|t| t.id))
    };
    // It reappears a little larger: the same track.
    let (id, again) = run(boxed(98.0, 33.0, 66.0));
    assert_eq!(again, Some(id));
    // A car (80 × 55) comes in over the spot where it was lost: another track.
    let (id, other) = run(boxed(90.0, 80.0, 55.0));
    assert!(other.is_some_and(|o| o != id), "{other:?} took up {id}");
    // Seen in every frame, a box may change shape faster (a vehicle coming out from behind
    // another): the gate is for lost tracks only.
    let mut tracker = Tracker::new(TrackerOptions::default());
    for _ in 0..10 {
        tracker.update(&[boxed(100.0, 30.0, 60.0)]);
    }
    let id = tracker.tracks()[0].id;
    assert_eq!(tracker.update(&[boxed(100.0, 50.0, 60.0)])[0].id, id);
    assert!(same_shape(
        &boxed(0.0, 30.0, 60.0).bbox,
        &boxed(0.0, 45.0, 40.0).bbox,
        1.5
    ));
    assert!(!same_shape(
        &boxed(0.0, 30.0, 60.0).bbox,
        &boxed(0.0, 46.0, 60.0).bbox,
        1.5
    ));
}

#[test]
fn a_track_knows_how_far_its_detections_agree_on_its_class() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    for k in 0..6 {
        let mut d = det(100.0 + 2.0 * k as f32, 0.9);
        // Called a car (0) four times, a motorbike (1) twice.
        d.class = usize::from(k % 3 == 2);
        tracker.update(&[d]);
    }
    let shares = |t: &Track| t.class_shares().collect::<Vec<_>>();
    let t = &tracker.tracks()[0];
    assert_eq!(t.class, 0);
    let close = |a: &[(usize, f32)], b: &[(usize, f32)]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.0 == y.0 && (x.1 - y.1).abs() < 1e-6)
    };
    assert!(
        close(&shares(t), &[(0, 4.0 / 6.0), (1, 2.0 / 6.0)]),
        "{:?}",
        shares(t)
    );
    for k in 6..20 {
        tracker.update(&[det(100.0 + 2.0 * k as f32, 0.9)]);
    }
    let t = &tracker.tracks()[0];
    assert!(close(&shares(t), &[(0, 0.9), (1, 0.1)]), "{:?}", shares(t));
}

#[test]
fn the_assignment_maximises_the_total_overlap() {
    // Greedy would give row 0 its best column (0) and leave row 1 with nothing good.
    let cost = vec![vec![0.1, 0.2], vec![0.15, 0.9]];
    assert_eq!(hungarian(&cost), vec![Some(1), Some(0)]);
    let wide = vec![vec![5.0, 1.0, 3.0]];
    assert_eq!(hungarian(&wide), vec![Some(1)]);
    assert!(hungarian(&[]).is_empty());
}

#[test]
fn weak_detections_keep_a_track_but_never_start_one() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    tracker.update(&[det(100.0, 0.9)]);
    let id = tracker.update(&[det(102.0, 0.9)])[0].id;
    let seen = tracker.update(&[det(104.0, 0.3)]);
    assert_eq!(
        seen[0].id, id,
        "a partly hidden object stays the same track"
    );
    let mut fresh = Tracker::new(TrackerOptions::default());
    for k in 0..5 {
        assert!(fresh.update(&[det(100.0 + k as f32, 0.3)]).is_empty());
    }
    assert!(fresh.tracks().is_empty());
}

/// Two motorbikes one behind the other, 50 px apart, 8 px a frame; the camera thread stalls
/// for six frames. Predicted over the time that passed, the leader's track finds the leader;
/// stepped one frame on, it sits where the follower now rides and takes it up.
#[test]
fn a_stall_of_the_camera_is_predicted_over() {
    let frame_s = 0.125;
    let run = |stepwise: bool| -> bool {
        let mut tracker = Tracker::new(TrackerOptions {
            frame_s,
            ..TrackerOptions::default()
        });
        let at = |k: u32| {
            [
                det(200.0 + 8.0 * k as f32, 0.9),
                det(150.0 + 8.0 * k as f32, 0.9),
            ]
        };
        let mut leader = None;
        for k in 0..10 {
            let seen = tracker.update_at(f64::from(k) * frame_s, &at(k));
            leader = seen
                .iter()
                .max_by(|a, b| a.bbox.x0.total_cmp(&b.bbox.x0))
                .map(|t| t.id);
        }
        let k = 15;
        let seen = if stepwise {
            tracker.update(&at(k))
        } else {
            tracker.update_at(f64::from(k) * frame_s, &at(k))
        };
        let track = seen
            .iter()
            .find(|t| Some(t.id) == leader)
            .expect("leader seen");
        (track.bbox.x0 - (200.0 + 8.0 * k as f32)).abs() < 1.0
    };
    assert!(run(false), "the leader's track on the leader");
    assert!(!run(true), "one frame's step lands on the follower");
}
