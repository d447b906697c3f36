//! Plate reading on one core: the recognizer per rectified plate (the ≤ 1 ms goal), the plate
//! detector per vehicle box, and the grammar-constrained search alone.

use criterion::{Criterion, criterion_group, criterion_main};
use plate_ocr::{Hint, PlateReader, ReaderOptions, recognize::candidates};
use sim::{Renderer, ScenarioSpec, World};
use std::{hint::black_box, path::Path};
use vision::BoxF;

fn plate_benches(c: &mut Criterion) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/manifest.toml");
    let reader = PlateReader::load(&manifest, ReaderOptions::default()).expect("shipped models");
    // Zoomed on the near lanes, as a plate-reading camera is; the first car with a plate
    // 60 px wide or more.
    let mut spec = ScenarioSpec::named("red-light").expect("scenario");
    spec.camera.focal_px = 2400.0;
    spec.camera.tilt_deg = 20.0;
    let world = World::simulate(&spec, 1);
    let renderer = Renderer::new(&world);
    let (frame, car) = (0..renderer.frame_count())
        .step_by(5)
        .map(|i| renderer.render(i))
        .find_map(|frame| {
            let car = frame
                .truth
                .objects
                .iter()
                .find(|o| {
                    o.plate
                        .as_ref()
                        .is_some_and(|p| p.visible && p.width_px >= 60.0)
                })?
                .clone();
            Some((frame, car))
        })
        .expect("a readable plate");
    let vehicle = BoxF {
        x0: car.bbox.x0,
        y0: car.bbox.y0,
        x1: car.bbox.x1,
        y1: car.bbox.y1,
    };
    let read = reader
        .read(&frame.image, &[(vehicle, None)])
        .expect("reads")
        .pop()
        .flatten()
        .expect("a plate");
    let crop = read.crop.clone();

    c.bench_function("plate_ocr/recognize_1_plate_1_thread", |b| {
        b.iter(|| {
            reader
                .recognizer()
                .recognize(&[black_box(&crop)], Hint::default())
                .expect("recognizes")
        })
    });
    c.bench_function("plate_ocr/detect_1_vehicle_1_thread", |b| {
        b.iter(|| {
            reader
                .detector()
                .detect(black_box(&frame.image), &[vehicle])
                .expect("detects")
        })
    });
    c.bench_function("plate_ocr/read_1_vehicle_1_thread", |b| {
        b.iter(|| {
            reader
                .read(black_box(&frame.image), &[(vehicle, None)])
                .expect("reads")
        })
    });
    let alphabet = reader.recognizer().alphabet().to_vec();
    c.bench_function("plate_ocr/grammar_candidates", |b| {
        b.iter(|| {
            candidates(
                black_box(&read.reading.slots),
                &alphabet,
                Hint::default(),
                5,
            )
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = plate_benches
}
criterion_main!(benches);
