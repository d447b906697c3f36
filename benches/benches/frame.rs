//! A 1080p frame on its way to the detector, the old way and the new, side by side on one
//! core: `videoconvert` making RGB of the decoder's I420 planes and the letterbox sampled from
//! that RGB (what the edge agent did for every frame), against the letterbox sampled from the
//! planes themselves (what it does now); and the whole-frame conversion the edge agent still
//! makes for the few frames an evidence image or a snapshot needs.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gstreamer as gst;
use gstreamer::prelude::*;
use sim::Renderer;
use vision::{
    Engine, Manifest, Picture, Pixels,
    picture::{Colour, Yuv420},
};

/// `videoconvert` from I420 to RGB, one frame in and out at a time.
struct VideoConvert {
    pipeline: gst::Pipeline,
    src: gstreamer_app::AppSrc,
    sink: gstreamer_app::AppSink,
    pts: u64,
}

impl VideoConvert {
    fn new(w: u32, h: u32) -> Self {
        edge_agent::ingest::init().expect("GStreamer");
        let pipeline = gst::parse::launch(&format!(
            "appsrc name=src format=time caps=video/x-raw,format=I420,width={w},height={h},framerate=25/1,colorimetry=bt709 \
             ! videoconvert ! video/x-raw,format=RGB ! appsink name=out sync=false max-buffers=1"
        ))
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
        let by = |name: &str| pipeline.by_name(name).expect(name);
        let src = by("src").downcast().expect("appsrc");
        let sink = by("out").downcast().expect("appsink");
        pipeline.set_state(gst::State::Playing).expect("playing");
        Self {
            pipeline,
            src,
            sink,
            pts: 0,
        }
    }

    fn convert(&mut self, i420: &[u8]) -> gst::Sample {
        let mut buffer = gst::Buffer::from_slice(i420.to_vec());
        buffer
            .get_mut()
            .expect("owned")
            .set_pts(gst::ClockTime::from_mseconds(self.pts * 40));
        self.pts += 1;
        self.src.push_buffer(buffer).expect("pushed");
        self.sink.pull_sample().expect("converted")
    }
}

impl Drop for VideoConvert {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn frame_benches(c: &mut Criterion) {
    let world = benches::scenario("normal-flow", 1920, 1080, 1).expect("scenario");
    let rgb = Renderer::new(&world).render(100).image;
    let planes = Yuv420::from_rgb(&rgb, Colour::BT709);
    let (w, h) = planes.dimensions();
    // GStreamer's I420 layout at 1920 × 1080: the three planes back to back, no padding.
    let (u, v) = planes.chroma();
    let i420 = [planes.luma(), u, v].concat();
    let whole = Picture::from_yuv(planes.clone());

    let models = Manifest::load(&benches::manifest()).expect("manifest");
    let entry = models.get(sim::setup::DETECTOR).expect("detector");
    let detector = edge_agent::detect::Detector::new(
        Engine::load(&models, entry, 1).expect("engine"),
        Default::default(),
    )
    .expect("detector");

    let mut videoconvert = VideoConvert::new(w, h);
    c.bench_function("edge/frame_1080p/videoconvert_i420_to_rgb", |b| {
        b.iter(|| black_box(videoconvert.convert(black_box(&i420))))
    });
    c.bench_function("edge/frame_1080p/letterbox_from_rgb", |b| {
        b.iter(|| black_box(detector.preprocess(Pixels::Rgb(black_box(&rgb)))))
    });
    c.bench_function("edge/frame_1080p/letterbox_from_planes", |b| {
        b.iter(|| black_box(detector.preprocess(black_box(whole.pixels()))))
    });
    c.bench_function("edge/frame_1080p/planes_to_rgb_whole", |b| {
        b.iter(|| black_box(black_box(&planes).to_rgb()))
    });
    // A vehicle's view, as the camera thread keeps one: a 240 × 180 part of the frame.
    c.bench_function("edge/frame_1080p/planes_to_rgb_vehicle_view", |b| {
        b.iter(|| black_box(black_box(&planes).crop_rgb(900, 500, 240, 180)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = frame_benches
}
criterion_main!(benches);
