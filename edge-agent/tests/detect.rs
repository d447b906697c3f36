//! The detector of every supported format: the shipped default finds the cars and motorbikes of
//! real Vietnamese junctions, the sim's detector the road users of sim scenes it never saw
//! (figures printed), and the COCO detectors of the shared data (DEIMv2, a DETR-family export,
//! and YOLOX-nano) find the cars in real photographs.

use std::path::{Path, PathBuf};

use edge_agent::{
    config::ModelSettings,
    detect::{DetectOptions, Detector, Format, PeopleDetector},
    eval_detect::{EvalOptions, evaluate},
    evidence::mask_regions,
};
use sha2::{Digest, Sha256};
use sim::{Renderer, ScenarioSpec, World};
use vision::{BoxF, Engine, Manifest, ModelEntry, ModelError};

/// The detector for the simulated world, as its scenes are watched in the demo and the tests.
fn sim_detector() -> Detector {
    let manifest = Manifest::shipped().expect("manifest");
    let entry = manifest
        .get(sim::setup::DETECTOR)
        .expect("the sim's detector");
    Detector::new(
        Engine::load(&manifest, entry, 2).expect("loads"),
        DetectOptions::default(),
    )
    .expect("a detector")
}

#[test]
fn the_sims_detector_finds_the_road_users_of_unseen_scenes() {
    let detector = sim_detector();
    assert_eq!(detector.format(), Format::Yolov8);
    let (mut truths, mut found, mut detections, mut right) = (0usize, 0usize, 0usize, 0usize);
    for (name, seed) in [
        ("normal-flow", 31),
        ("dense-motorbikes", 32),
        ("night", 33),
        ("rain-dusk", 34),
    ] {
        let spec = ScenarioSpec::named(name).expect("scenario");
        let world = World::simulate(&spec, seed);
        let renderer = Renderer::new(&world);
        for i in (0..renderer.frame_count()).step_by(150) {
            let frame = renderer.render(i);
            let found_here = detector.detect(&frame.image).expect("detects");
            // Road users big enough to matter: at least 24 px tall and mostly in view.
            let gt: Vec<_> = frame
                .truth
                .objects
                .iter()
                .filter(|o| o.visible >= 0.6 && o.bbox.height() >= 24.0)
                .collect();
            for o in &gt {
                let b = BoxF {
                    x0: o.bbox.x0,
                    y0: o.bbox.y0,
                    x1: o.bbox.x1,
                    y1: o.bbox.y1,
                };
                truths += 1;
                if found_here
                    .iter()
                    .any(|d| d.class == o.class.id() && d.bbox.iou(&b) >= 0.5)
                {
                    found += 1;
                }
            }
            for d in found_here
                .iter()
                .filter(|d| d.score >= 0.5 && d.bbox.height() >= 24.0)
            {
                detections += 1;
                let matched = frame.truth.objects.iter().any(|o| {
                    let b = BoxF {
                        x0: o.bbox.x0,
                        y0: o.bbox.y0,
                        x1: o.bbox.x1,
                        y1: o.bbox.y1,
                    };
                    o.class.id() == d.class && b.iou(&d.bbox) >= 0.5
                });
                right += usize::from(matched);
            }
        }
    }
    let recall = found as f32 / truths.max(1) as f32;
    let precision = right as f32 / detections.max(1) as f32;
    println!(
        "the sim's detector on unseen scenes: recall {recall:.3} ({found}/{truths}), precision {precision:.3} ({right}/{detections})"
    );
    assert!(truths >= 50, "only {truths} objects");
    assert!(recall >= 0.78, "recall {recall:.3}");
    assert!(precision >= 0.9, "precision {precision:.3}");
}

#[test]
fn a_model_of_the_wrong_format_or_checksum_is_refused() {
    let manifest = Manifest::shipped().expect("manifest");
    let rec = manifest.get("plate_rec").expect("recognizer");
    let mut as_detector = rec.clone();
    as_detector.format = "ssd".into();
    let e = Detector::new(
        Engine::load(&manifest, &as_detector, 1).expect("loads"),
        DetectOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ModelError::Format { .. }), "{e}");
    let mut wrong_sum = manifest.get("vehicle_det").expect("detector").clone();
    wrong_sum.sha256 = "00".repeat(32);
    let e = Detector::load_file(
        &manifest.path_of(&wrong_sum),
        &wrong_sum,
        1,
        DetectOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ModelError::Checksum { .. }), "{e}");
}

/// The shipped detector on real junction photographs it was not trained on (the valid split
/// of vn-street, CC BY 4.0; see models/README.md), measured as `edge-agent eval-detect`
/// measures it: the agent's own pre- and post-processing, at its operating threshold. The
/// detector trained on the simulator alone found almost nothing there (car AP50 0.01,
/// motorbike 0.00 on the whole split).
#[test]
fn the_shipped_detector_finds_the_cars_and_motorbikes_of_real_junctions() {
    let Some(report) = on_real_junctions(150, None, Some(String::new())) else {
        return;
    };
    print!("{}", edge_agent::eval_detect::render(&report));
    let class = |name: &str| report.classes.get(name).expect(name).clone();
    let (car, motorbike) = (class("car"), class("motorbike"));
    assert!(car.count >= 100 && motorbike.count >= 100, "{report:?}");
    assert!(car.ap50 >= CAR_AP50_FLOOR, "car AP50 {:.3}", car.ap50);
    assert!(
        motorbike.ap50 >= MOTORBIKE_AP50_FLOOR,
        "motorbike AP50 {:.3}",
        motorbike.ap50
    );
    assert!(
        car.precision >= 0.7 && motorbike.precision >= 0.7,
        "{report:?}"
    );
    // The images packed with motorbikes are measured apart (22 of these 150).
    let dense = report.dense.as_ref().expect("dense images apart");
    assert_eq!(dense.min_motorbikes, 5);
    assert!(
        dense.images >= 10 && dense.images < report.images,
        "{dense:?}"
    );
    let packed = dense.classes.get("motorbike").expect("motorbike");
    assert!(packed.count >= 5 * dense.images, "{dense:?}");
    assert!(packed.count < motorbike.count, "{dense:?}");
}

/// The masked copy a citizen is shown, on real junction photographs (vn-street valid, CC BY
/// 4.0): vn-street labels no people, so the people a COCO detector (DEIMv2-femto, Apache-2.0)
/// is sure of stand in for labels, as `edge-agent eval-detect --people-reference` counts them.
/// The vehicle detector learned no person from real streets; the people detector beside it
/// hides most of them, and every vehicle wide enough for a readable plate stays hidden.
#[test]
fn the_masked_copy_hides_the_people_of_real_junctions() {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/coco/manifest.toml");
    let Some(report) = on_real_junctions(
        PEOPLE_IMAGES,
        Some((reference, "deimv2_femto".into())),
        None,
    ) else {
        return;
    };
    print!("{}", edge_agent::eval_detect::render(&report));
    let m = &report.masking;
    assert_eq!(m.people_detector.as_deref(), Some("people_det"));
    let people = m.people.as_ref().expect("people counted");
    assert!(people.people >= 40, "{people:?}");
    assert!(
        people.recall >= PEOPLE_MASKED_FLOOR,
        "people hidden {:.3}: {people:?}",
        people.recall
    );
    assert!(
        people.hidden >= people.by_vehicle_detector + PEOPLE_ONLY_IT_HIDES,
        "the people detector hides what the vehicle detector does not: {people:?}"
    );
    assert!(m.recall >= 0.95, "vehicles hidden {:.3}", m.recall);
}

/// The people detector of the masked copies on rendered junctions it never saw (other seeds):
/// the people on foot the sim draws are hidden in the copy, each box as the agent grows it.
#[test]
fn the_people_detector_hides_the_pedestrians_of_rendered_scenes() {
    let manifest = Manifest::shipped().expect("manifest");
    let models = ModelSettings::default();
    let people = PeopleDetector::load(&models, &manifest)
        .expect("loads")
        .expect("configured by default");
    let (mut walkers, mut hidden) = (0usize, 0usize);
    for (name, seed) in [("normal-flow", 41), ("night", 42), ("rain-dusk", 43)] {
        let spec = ScenarioSpec::named(name).expect("scenario");
        let world = World::simulate(&spec, seed);
        let renderer = Renderer::new(&world);
        for i in (0..renderer.frame_count()).step_by(20) {
            let frame = renderer.render(i);
            let on_foot: Vec<_> = frame
                .truth
                .objects
                .iter()
                .filter(|o| {
                    o.class == sim::vehicle::ObjectClass::Person
                        && o.visible >= 0.6
                        && o.bbox.height() >= 24.0
                })
                .collect();
            if on_foot.is_empty() {
                continue;
            }
            let found = people.detect(&frame.image).expect("detects");
            let regions = mask_regions(frame.image.dimensions(), &found);
            for o in on_foot {
                walkers += 1;
                let (x0, y0, x1, y1) = (o.bbox.x0, o.bbox.y0, o.bbox.x1, o.bbox.y1);
                // Hidden: its box's middle and its head (the top fifth) inside a region.
                let inside = |x: f32, y: f32| {
                    regions.iter().any(|r| {
                        (r.x as f32..=(r.x + r.width) as f32).contains(&x)
                            && (r.y as f32..=(r.y + r.height) as f32).contains(&y)
                    })
                };
                let cx = (x0 + x1) / 2.0;
                if inside(cx, (y0 + y1) / 2.0) && inside(cx, y0 + (y1 - y0) / 10.0) {
                    hidden += 1;
                }
            }
        }
    }
    let share = hidden as f64 / walkers.max(1) as f64;
    eprintln!("{hidden} of {walkers} people on foot hidden ({share:.3})");
    assert!(
        walkers >= 20,
        "{walkers} people on foot in the frames looked at"
    );
    assert!(share >= SIM_PEOPLE_FLOOR, "{hidden} of {walkers} hidden");
}

/// A floor under what the shipped people detector measured on these frames (707 of 767; its
/// first round, 682).
const SIM_PEOPLE_FLOOR: f64 = 0.88;

/// The photographs of vn-street valid the masking test looks at: all 744 (its people stand in
/// few of them).
const PEOPLE_IMAGES: usize = 0;
/// Floors under what the shipped people detector measured there (39 of the 45 hidden, 11 of
/// them by the vehicle detector's findings alone: models/README.md; its first round, 36).
const PEOPLE_MASKED_FLOOR: f64 = 0.82;
const PEOPLE_ONLY_IT_HIDES: usize = 20;

/// Floors under what the shipped detector measured on these 150 photographs (car 0.770,
/// motorbike 0.669; models/README.md has the whole split's figures).
const CAR_AP50_FLOOR: f64 = 0.7;
const MOTORBIKE_AP50_FLOOR: f64 = 0.6;

/// `edge-agent eval-detect` on the first `limit` photographs of vn-street valid (0: all) with
/// the shipped models, a people reference and people detector as given; `None` (the test
/// skips) where the shared data, or the COCO model a people reference needs, is absent.
fn on_real_junctions(
    limit: usize,
    people_reference: Option<(PathBuf, String)>,
    people_detector: Option<String>,
) -> Option<edge_agent::eval_detect::Report> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = root.join("../shared/data/vn-street/data.yaml");
    let coco = root.join("../shared/data/models/deimv2_hgnetv2_femto_coco.onnx");
    if !data.is_file() || (people_reference.is_some() && !coco.is_file()) {
        eprintln!("skipping: the shared data set (or its COCO models) is absent");
        return None;
    }
    let models = ModelSettings {
        manifest: root.join("models/manifest.toml"),
        intra_threads: 2,
        ..ModelSettings::default()
    };
    let options = EvalOptions {
        data,
        split: "valid".into(),
        detector: None,
        limit,
        min_score: None,
        people_reference,
        people_detector,
    };
    Some(evaluate(&models, &options).expect("evaluates"))
}

fn shared() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if root.join("models").is_dir() && root.join("openalpr-benchmarks").is_dir() {
        Some(root)
    } else {
        eprintln!(
            "skipping: the shared data folder ({}) is absent",
            root.display()
        );
        None
    }
}

fn coco(path: &Path, format: &str, outputs: &[&str]) -> Detector {
    let bytes = std::fs::read(path).expect("model");
    let entry = ModelEntry {
        name: path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("coco")
            .into(),
        task: "vehicle_detector".into(),
        format: format.into(),
        file: path.display().to_string(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        input: vec![1, 3, 416, 416],
        input_name: "images".into(),
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
        preprocess: String::new(),
        labels: Vec::new(),
        crop_margin: 0.0,
        min_score: None,
        licence: "Apache-2.0".into(),
        provenance: "shared data".into(),
        metrics: Default::default(),
    };
    Detector::load_file(
        path,
        &entry,
        2,
        DetectOptions {
            score_threshold: 0.4,
            nms_iou: 0.5,
        },
    )
    .expect("loads")
}

/// Share of photos with a car (COCO class 2) whose box holds the labelled plate.
fn cars_found(detector: &Detector, root: &Path) -> (usize, usize) {
    let dir = root.join("openalpr-benchmarks/endtoend/eu");
    let mut labels: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    labels.sort();
    let (mut photos, mut with_car) = (0, 0);
    for label in labels.iter().take(30) {
        let text = std::fs::read_to_string(label).expect("label");
        let f: Vec<&str> = text.trim().split('\t').collect();
        let n: Vec<f32> = f[1..5]
            .iter()
            .map(|v| v.trim().parse().expect("number"))
            .collect();
        let (px, py) = (n[0] + n[2] / 2.0, n[1] + n[3] / 2.0);
        let img = image::open(dir.join(f[0])).expect("photo").to_rgb8();
        let found = detector.detect(&img).expect("detects");
        photos += 1;
        if found.iter().any(|d| {
            d.class == 2 && d.bbox.x0 <= px && px <= d.bbox.x1 && d.bbox.y0 <= py && py <= d.bbox.y1
        }) {
            with_car += 1;
        }
    }
    (with_car, photos)
}

#[test]
fn deimv2_finds_the_cars_in_real_photographs() {
    let Some(root) = shared() else { return };
    let detector = coco(
        &root.join("models/deimv2_hgnetv2_femto_coco.onnx"),
        "detr",
        &["labels", "boxes", "scores"],
    );
    assert_eq!(detector.format(), Format::Detr);
    let (with_car, photos) = cars_found(&detector, &root);
    println!("DEIMv2 femto: a car around the plate in {with_car} of {photos} photos");
    assert!(with_car * 10 >= photos * 8, "{with_car} of {photos}");
}

#[test]
fn yolox_finds_the_cars_in_real_photographs() {
    let Some(root) = shared() else { return };
    let detector = coco(
        &root.join("models/yolox_nano_416.onnx"),
        "yolox",
        &["output"],
    );
    let (with_car, photos) = cars_found(&detector, &root);
    println!("YOLOX-nano: a car around the plate in {with_car} of {photos} photos");
    assert!(with_car * 10 >= photos * 7, "{with_car} of {photos}");
}
