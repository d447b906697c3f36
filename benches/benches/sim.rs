//! The synthetic camera must never be the bottleneck of a pipeline test: one 1280×720 frame
//! of a busy scene, rendered with its ground truth on one core, without encoding.

use criterion::{Criterion, criterion_group, criterion_main};
use sim::{Renderer, ScenarioSpec, World};
use std::hint::black_box;

fn render_benches(c: &mut Criterion) {
    for name in ["normal-flow", "dense-motorbikes", "night"] {
        let spec = ScenarioSpec::named(name).expect("named scenario");
        let world = World::simulate(&spec, 1);
        let renderer = Renderer::new(&world);
        let frames = renderer.frame_count();
        let mut i = 0;
        c.bench_function(&format!("sim/render_720p/{name}"), |b| {
            b.iter(|| {
                i = (i + 7) % frames;
                black_box(renderer.render(black_box(i)))
            })
        });
    }
    let spec = ScenarioSpec::named("dense-motorbikes").expect("named scenario");
    c.bench_function("sim/simulate/dense-motorbikes_40s", |b| {
        b.iter(|| black_box(World::simulate(black_box(&spec), 1)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = render_benches
}
criterion_main!(benches);
