//! The tracker on the ground truth of a busy sim scene, with the faults of a real detector
//! added (jittered boxes, missed detections, weak scores for partly hidden objects): each road
//! user keeps one id through its passage, through short occlusions included.

use std::collections::{BTreeMap, HashMap};

use edge_agent::{
    detect::Detection,
    track::{Tracker, TrackerOptions},
};
use sim::{Renderer, ScenarioSpec, World, rng::Rng};
use vision::BoxF;

#[test]
fn every_road_user_keeps_one_id_in_dense_traffic() {
    let spec = ScenarioSpec::named("dense-motorbikes").expect("scenario");
    let world = World::simulate(&spec, 5);
    let renderer = Renderer::new(&world);
    let mut tracker = Tracker::new(TrackerOptions::default());
    let mut rng = Rng::new(9);
    // For each true track: how often each tracker id was given to it.
    let mut given: BTreeMap<u32, HashMap<u64, u32>> = BTreeMap::new();
    let frames = 400.min(renderer.frame_count());
    for i in 0..frames {
        let truth = renderer.render(i).truth;
        let mut detections = Vec::new();
        let mut owners = Vec::new();
        for o in &truth.objects {
            if o.visible < 0.2 || o.bbox.height() < 12.0 || rng.chance(0.1) {
                continue;
            }
            let j = |r: &mut Rng| r.range(-2.0, 2.0);
            detections.push(Detection {
                class: o.class.id(),
                score: if o.visible >= 0.5 {
                    rng.range(0.6, 0.95)
                } else {
                    rng.range(0.15, 0.45)
                },
                bbox: BoxF {
                    x0: o.bbox.x0 + j(&mut rng),
                    y0: o.bbox.y0 + j(&mut rng),
                    x1: o.bbox.x1 + j(&mut rng),
                    y1: o.bbox.y1 + j(&mut rng),
                },
            });
            owners.push(o.track_id);
        }
        for t in tracker.update(&detections) {
            // The true owner: the detection this track was matched to this frame.
            if let Some(k) = detections.iter().position(|d| d.bbox == t.bbox) {
                *given.entry(owners[k]).or_default().entry(t.id).or_default() += 1;
            }
        }
    }
    let long: Vec<_> = given
        .iter()
        .filter(|(_, ids)| ids.values().sum::<u32>() >= 20)
        .collect();
    let (mut frames_seen, mut frames_main, mut switches) = (0u32, 0u32, 0usize);
    for (_, ids) in &long {
        frames_seen += ids.values().sum::<u32>();
        frames_main += ids.values().max().copied().unwrap_or(0);
        switches += ids.len() - 1;
    }
    // An id given to two road users is a merge.
    let mut owners_of: HashMap<u64, usize> = HashMap::new();
    for ids in given.values() {
        for id in ids.keys() {
            *owners_of.entry(*id).or_default() += 1;
        }
    }
    let merges = owners_of.values().filter(|n| **n > 1).count();
    let purity = frames_main as f32 / frames_seen.max(1) as f32;
    println!(
        "{} road users tracked ≥ 20 frames: id purity {purity:.4}, {switches} id switches, {merges} ids shared",
        long.len()
    );
    assert!(long.len() >= 40, "only {} long tracks", long.len());
    assert!(purity >= 0.97, "purity {purity:.4}");
    assert!(
        switches * 5 <= long.len(),
        "{switches} switches for {} road users",
        long.len()
    );
    assert!(
        merges * 8 <= owners_of.len(),
        "{merges} ids shared of {}",
        owners_of.len()
    );
}
