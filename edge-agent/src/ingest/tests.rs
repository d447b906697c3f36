use super::*;

/// A hardware decoder's NV12 gives the same picture as I420 from a software one, and an
/// odd width (rows padded to a stride) loses nothing.
#[test]
fn nv12_and_i420_samples_give_the_same_planes() {
    init().unwrap();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format=I420,width=66,height=50,colorimetry=bt709 ! tee name=t \
             t. ! queue ! appsink name=i420 sync=false \
             t. ! queue ! videoconvert ! video/x-raw,format=NV12 ! appsink name=nv12 sync=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let pull = |name: &str| {
        let sink = pipeline
            .by_name(name)
            .unwrap()
            .downcast::<gst_app::AppSink>()
            .unwrap();
        sink.pull_sample().unwrap()
    };
    pipeline.set_state(gst::State::Playing).unwrap();
    let (i420, nv12) = (pull("i420"), pull("nv12"));
    pipeline.set_state(gst::State::Null).unwrap();
    let (a, _) = picture_of(&i420).expect("I420");
    let (b, _) = picture_of(&nv12).expect("NV12");
    let (vision::Pixels::Yuv(a), vision::Pixels::Yuv(b)) = (a.pixels(), b.pixels()) else {
        panic!("planes expected");
    };
    assert_eq!(a.dimensions(), (66, 50));
    assert_eq!(a.luma(), b.luma());
    assert_eq!(a.chroma(), b.chroma());
    assert_eq!(a.colour(), Colour::BT709);
    // SMPTE bars: the top-left bar is 75 % white, not black: the planes were read.
    assert!(a.luma()[0] > 150, "{}", a.luma()[0]);
    assert_ne!(
        a.chroma().0,
        a.chroma().1,
        "two chroma planes, not one twice"
    );
}

#[test]
fn camera_time_is_dated_by_the_wall_clock_as_it_reads_now() {
    // Camera time began 10 s ago on the monotonic clock; the wall clock reads T.
    let first = origin_ms(1_764_146_096_250, Duration::from_secs(10));
    assert_eq!(first, 1_764_146_086_250);
    // 30 s on, the same instant, whatever the wall clock does in between.
    assert_eq!(origin_ms(1_764_146_126_250, Duration::from_secs(40)), first);
    // NTP sets a box that booted unsynced 3 h forward: camera time moves with it.
    let stepped = origin_ms(1_764_146_126_250 + 3 * 3_600_000, Duration::from_secs(40));
    assert_eq!(stepped - first, 3 * 3_600_000);
    assert!(stepped - first > CLOCK_STEP_MS, "logged as a step");
}

#[test]
fn a_camera_that_cannot_be_reached_is_said_once_then_once_a_minute() {
    let mut outage = Outage::default();
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    // A server still encoding its stream: a retry every two seconds for 40 s.
    let warned: Vec<u64> = (1..=20).filter(|&n| outage.warn(n, at(2 * n))).collect();
    assert_eq!(warned, [1]);
    // Down for longer: said again each minute.
    let warned: Vec<u64> = (21..=95).filter(|&n| outage.warn(n, at(2 * n))).collect();
    assert_eq!(warned, [31, 61, 91]);
    // Up again, then down: the new outage is said at once.
    assert!(outage.warn(1, at(200)));
}
