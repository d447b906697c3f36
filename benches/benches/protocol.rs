//! The wire contract on the hot paths: an edge agent encodes and signs every event, central
//! decodes and verifies every event, and every plate read goes through the grammar.

use criterion::{Criterion, criterion_group, criterion_main};
use protocol::{DeviceId, DeviceKey, EventId, Plate, ViolationEvent, wire};
use std::hint::black_box;

fn wire_benches(c: &mut Criterion) {
    let key = DeviceKey::from_seed([7; 32]);
    let public = key.public_key();
    let device = DeviceId::parse("hcm-bench-001").expect("valid id");
    let event = ViolationEvent::example(device, EventId::from_parts(1_764_146_096_250, [1; 10]));
    let bytes = wire::encode_signed(&event, &key).expect("encodes");

    c.bench_function("violation/encode_signed", |b| {
        b.iter(|| wire::encode_signed(black_box(&event), &key).expect("encodes"))
    });
    c.bench_function("violation/decode_verify", |b| {
        b.iter(|| {
            let signed = wire::decode_signed::<ViolationEvent>(black_box(&bytes)).expect("decodes");
            signed.verify(&public).expect("verifies");
            signed.message
        })
    });
}

fn plate_benches(c: &mut Criterion) {
    let texts = [
        "51F-123.45",
        "59-X1 123.45",
        "29MĐ112345",
        "51LD12345",
        "KA-12-34",
    ];
    c.bench_function("plate/parse_display_canonical", |b| {
        b.iter(|| {
            for text in texts {
                let plate = Plate::parse(black_box(text)).expect("parses");
                black_box((plate.canonical(), plate.display()));
            }
        })
    });
}

criterion_group!(benches, wire_benches, plate_benches);
criterion_main!(benches);
