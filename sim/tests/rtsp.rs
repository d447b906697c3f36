//! A scenario served over RTSP is decoded by an ordinary GStreamer client, frame for frame,
//! over TCP and over UDP; an MP4 written by `render --video` is served without re-encoding.
#![cfg(feature = "video")]

use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use sim::{
    Renderer, ScenarioSpec, World,
    video::{EncodeOptions, RtspServer, encode, read_mp4, write_mp4},
};

/// A client of `url` over `protocols`, its depayloaded H.264 going through `then` (more
/// elements, or none) to an appsink; playing.
fn client(url: &str, protocols: &str, then: &str) -> (gst::Pipeline, gst_app::AppSink) {
    let pipeline = gst::parse::launch(&format!(
        "rtspsrc location={url} protocols={protocols} latency=100 ! rtph264depay ! {then} \
         appsink name=sink sync=false"
    ))
    .expect("client pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let sink = pipeline
        .by_name("sink")
        .expect("sink")
        .dynamic_cast::<gst_app::AppSink>()
        .expect("appsink");
    pipeline
        .set_state(gst::State::Playing)
        .expect("client plays");
    (pipeline, sink)
}

/// Decodes `want` frames from `url`; returns their sizes. Bounded in time.
fn decode(url: &str, tcp: bool, want: usize) -> Vec<(i32, i32)> {
    let protocols = if tcp { "tcp" } else { "udp" };
    let (pipeline, sink) = client(
        url,
        protocols,
        "h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=RGB !",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sizes = Vec::new();
    while sizes.len() < want && Instant::now() < deadline {
        if let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(500)) {
            let s = sample
                .caps()
                .and_then(|c| c.structure(0).map(|s| s.to_owned()))
                .expect("caps");
            sizes.push((
                s.get::<i32>("width").expect("width"),
                s.get::<i32>("height").expect("height"),
            ));
        }
    }
    pipeline.set_state(gst::State::Null).expect("client stops");
    sizes
}

#[test]
fn a_served_scenario_decodes_frame_for_frame_over_tcp_and_udp() {
    let mut spec = ScenarioSpec::named("red-light").expect("named scenario");
    spec.camera.width = 640;
    spec.camera.height = 360;
    spec.camera.focal_px /= 2.0;
    let world = World::simulate(&spec, 1);
    let renderer = Renderer::new(&world);
    let encoded = encode(
        &renderer,
        &EncodeOptions {
            limit: Some(40),
            keyframe_every: 25,
            ..Default::default()
        },
    )
    .expect("encodes");
    assert_eq!(encoded.units.len(), 40, "one access unit per frame");
    let server = RtspServer::start(
        "127.0.0.1:0".parse().expect("addr"),
        vec![("red-light".into(), encoded)],
        1.0,
    )
    .expect("server starts");
    assert_ne!(server.addr().port(), 0);
    assert_eq!(server.started_at("red-light"), None, "nobody has played it");
    let url = server.url("red-light");
    // 60 frames: more than one pass of the 40-frame loop.
    for tcp in [true, false] {
        let asked = std::time::SystemTime::now();
        let sizes = decode(&url, tcp, 60);
        let started = server.started_at("red-light").expect("played");
        assert!(
            started >= asked && started <= std::time::SystemTime::now(),
            "tcp={tcp}: the stream began when this client asked for it"
        );
        assert_eq!(
            sizes.len(),
            60,
            "tcp={tcp}: decoded {} of 60 frames",
            sizes.len()
        );
        assert!(
            sizes.iter().all(|s| *s == (640, 360)),
            "tcp={tcp}: {sizes:?}"
        );
    }
}

#[test]
fn a_linked_stream_asked_for_late_sends_its_present_at_once() {
    let mut spec = ScenarioSpec::named("red-light").expect("named scenario");
    spec.camera.width = 320;
    spec.camera.height = 180;
    spec.camera.focal_px /= 4.0;
    let world = World::simulate(&spec, 1);
    let encoded = encode(
        &Renderer::new(&world),
        &EncodeOptions {
            limit: Some(50),
            keyframe_every: 25,
            ..Default::default()
        },
    )
    .expect("encodes");
    let server = RtspServer::start_linked(
        "127.0.0.1:0".parse().expect("addr"),
        vec![
            ("overview".into(), encoded.clone()),
            ("plates".into(), encoded),
        ],
        1.0,
        &[vec!["overview".into(), "plates".into()]],
    )
    .expect("server starts");
    let (overview, first) = client(&server.url("overview"), "tcp", "");
    assert!(
        first
            .try_pull_sample(gst::ClockTime::from_seconds(10))
            .is_some(),
        "the overview streams"
    );
    // The plate camera joins 3 s into the group's time: it begins 3 s in, and sends that
    // frame now (sent 3 s late, the two cameras would disagree by 3 s on when each vehicle
    // passed, and no vehicle of one would be found in the other).
    std::thread::sleep(Duration::from_secs(3));
    let asked = Instant::now();
    let (plates, late) = client(&server.url("plates"), "tcp", "");
    let got = late.try_pull_sample(gst::ClockTime::from_seconds(10));
    let waited = asked.elapsed();
    plates.set_state(gst::State::Null).expect("client stops");
    overview.set_state(gst::State::Null).expect("client stops");
    assert!(got.is_some(), "the plate camera streams");
    assert_eq!(server.started_at("plates"), server.started_at("overview"));
    assert!(
        waited < Duration::from_millis(1500),
        "the first frame came {waited:?} after asking"
    );
}

#[test]
fn an_mp4_is_written_identically_and_served_as_it_is() {
    let mut spec = ScenarioSpec::named("no-helmet").expect("named scenario");
    spec.camera.width = 320;
    spec.camera.height = 180;
    spec.camera.focal_px /= 4.0;
    let world = World::simulate(&spec, 2);
    let renderer = Renderer::new(&world);
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = EncodeOptions {
        limit: Some(30),
        ..Default::default()
    };
    let (a, b) = (dir.path().join("a.mp4"), dir.path().join("b.mp4"));
    write_mp4(&renderer, &a, &opts).expect("writes mp4");
    write_mp4(&renderer, &b, &opts).expect("writes mp4 again");
    assert!(
        std::fs::read(&a).expect("a") == std::fs::read(&b).expect("b"),
        "same seed, different mp4 bytes"
    );
    let encoded = read_mp4(&a).expect("reads mp4");
    assert_eq!(
        (encoded.width, encoded.height, encoded.units.len()),
        (320, 180, 30)
    );
    // Four times real time: the 60 frames that take 2.4 s live come in well under that.
    let server = RtspServer::start(
        "127.0.0.1:0".parse().expect("addr"),
        vec![("clip".into(), encoded)],
        4.0,
    )
    .expect("server starts");
    let started = std::time::Instant::now();
    let sizes = decode(&server.url("clip"), true, 60);
    assert_eq!(sizes.len(), 60);
    println!(
        "60 frames at speed 4 in {:.2} s",
        started.elapsed().as_secs_f32()
    );
}

/// `sim serve` started as a script starts its background jobs (SIGINT ignored) still stops on
/// Ctrl-C, and on SIGTERM: `make demo` leaves no server holding its port.
#[test]
fn sim_serve_stops_on_ctrl_c_even_started_in_the_background() {
    use std::io::BufRead;
    let mut spec = ScenarioSpec::named("no-helmet").expect("named scenario");
    spec.camera.width = 320;
    spec.camera.height = 180;
    spec.camera.focal_px /= 4.0;
    let world = World::simulate(&spec, 2);
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = dir.path().join("clip.mp4");
    let opts = EncodeOptions {
        limit: Some(12),
        ..Default::default()
    };
    write_mp4(&Renderer::new(&world), &clip, &opts).expect("writes mp4");
    for signal in ["INT", "TERM"] {
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "trap '' INT; exec {} serve --mp4 {} --bind 127.0.0.1:0",
                env!("CARGO_BIN_EXE_sim"),
                clip.display()
            ))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sim serve starts");
        // Serving once it prints its stream's address.
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("a line");
        assert!(line.starts_with("rtsp://127.0.0.1:"), "{line}");
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let exited = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let Some(status) = exited else {
            let _ = child.kill();
            panic!("sim serve still running 10 s after SIG{signal}");
        };
        assert!(status.success(), "SIG{signal}: {status}");
    }
}
