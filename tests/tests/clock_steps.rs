//! The edge box's wall clock stepped while violations are in flight, as an NTP correction or a
//! bad time source steps it. The edge agent runs under libfaketime: its wall clock moves by
//! the offset in a file the test writes, its monotonic clock (which no NTP step moves) is left
//! alone. The simulated junction streams over RTSP and central-api on PostgreSQL judges the
//! dates against its own clock; meanwhile:
//!
//! 1. the first pass's runners cross with the box's clock right;
//! 2. the clock is stepped 10 minutes ahead before the second pass's runners: their events
//!    are dated beyond the 5 minutes ahead of central's clock that central accepts, so central
//!    parks each with its reason (`occurred_in_future`) and acknowledges it, and none reaches
//!    the review queue;
//! 3. the clock is stepped back 20 minutes (10 behind) before the third pass's runners: their
//!    events are dated by the clock as it then is, and stored.
//!
//! Every crossing the camera showed is either in the queue or parked, exactly once, with no
//! event id twice; the evidence goes up whatever the clock says (uploads are signed at
//! central's time); and the signal timeline is the camera's, not the wall clock's: each
//! runner's time into red is the same in every pass.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use protocol::UtcTimestamp;
use sim::{ScenarioSpec, World, video::RtspServer};
use tests::{
    Database, Mosquitto, Service, edge_box_with, eventually, free_port, sleep_until, stored_events,
    unix_ms,
};

const SCENARIO: &str = "red-light";

/// libfaketime as Debian installs it (`make deps`).
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// How far the box's clock is stepped, seconds.
const STEP_S: i64 = 600;

/// Sets the edge box's wall clock to `offset_s` from the true time.
fn set_clock(file: &Path, offset_s: i64) {
    std::fs::write(file, format!("{offset_s:+}\n")).unwrap();
}

#[test]
fn a_box_whose_clock_is_stepped_dates_by_it_and_central_parks_what_lies_in_its_future() {
    assert!(
        Path::new(LIBFAKETIME).is_file(),
        "{LIBFAKETIME} is missing: `make deps` installs libfaketime"
    );
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = Database::create("tve_clock");
    let broker = Mosquitto::start().unwrap();
    let mqtt = broker.url();

    // The overview camera of the red-light junction, looping in real time; its runners.
    let spec = ScenarioSpec::named(SCENARIO).unwrap();
    let period = f64::from(spec.duration_s);
    let world = World::simulate(&spec, 1);
    let runners = tests::Runners::of(&world);
    let encoded = tests::overview_stream(&world, &spec);
    let rtsp = format!("127.0.0.1:{}", free_port().unwrap())
        .parse()
        .unwrap();
    let camera = RtspServer::start(rtsp, vec![(SCENARIO.to_owned(), encoded)], 1.0).unwrap();

    let central_port = free_port().unwrap();
    let central_url = format!("http://127.0.0.1:{central_port}");
    let central_env = tests::central_env(&db, &mqtt, central_port, dir);
    let central_env = tests::env_refs(&central_env);
    let cameras = tests::overview_camera(SCENARIO, "hang-xanh-1", &camera.url(SCENARIO));
    let (_device, edge_config) = edge_box_with(&central_env, dir, &cameras, &mqtt, &central_url);
    let central = Service::start("central-api", &[], &central_env, dir).unwrap();
    let clock = dir.join("faketime");
    set_clock(&clock, 0);
    let edge = Service::start(
        "edge-agent",
        &["--config", edge_config.to_str().unwrap()],
        &[
            ("LD_PRELOAD", LIBFAKETIME),
            ("FAKETIME_TIMESTAMP_FILE", clock.to_str().unwrap()),
            ("FAKETIME_CACHE_DURATION", "1"),
            ("DONT_FAKE_MONOTONIC", "1"),
        ],
        dir,
    )
    .unwrap();
    let first = eventually(60, "the edge agent plays the stream", || {
        camera.started_at(SCENARIO)
    })
    .unwrap();

    // Pass 1 on time; pass 2 ten minutes ahead; pass 3 ten minutes behind.
    let mut passes: Vec<BTreeSet<String>> = Vec::new();
    for (pass, offset_s) in [(0, 0), (1, STEP_S), (2, -STEP_S)] {
        let from = pass as f64 * period;
        sleep_until(first, from + runners.first - 5.0);
        set_clock(&clock, offset_s);
        let before = stored_events(&edge);
        // A pass's violations are stored before the clock is stepped for the next one: the
        // evidence (the masked clip encoded again) may take the box longer than the clip.
        let next_step = from + period + runners.first - 6.0;
        let until = if pass < 2 {
            next_step.max(from + runners.stored_by())
        } else {
            from + runners.stored_by()
        };
        sleep_until(first, until);
        passes.push(stored_events(&edge).difference(&before).cloned().collect());
        println!(
            "pass {pass}, clock {offset_s:+} s: {} stored",
            passes[pass].len()
        );
    }
    set_clock(&clock, 0);

    tests::wait_drained(&edge, 120);
    let stored = stored_events(&edge);
    let parked: BTreeSet<String> = central
        .logged("event dated in the future parked", "event_id")
        .into_iter()
        .collect();
    let token = central.reviewer_token().unwrap();
    let queue = central
        .get_json("/api/v1/violations?status=all&limit=200", &token)
        .unwrap();
    let queued: Vec<&serde_json::Value> = queue["items"].as_array().unwrap().iter().collect();
    let ids: BTreeSet<String> = queued
        .iter()
        .map(|i| i["event_id"].as_str().unwrap().to_owned())
        .collect();
    println!(
        "{} stored at the edge, {} in the queue, {} parked",
        stored.len(),
        queued.len(),
        parked.len()
    );
    for (pass, events) in passes.iter().enumerate() {
        assert!(!events.is_empty(), "pass {pass} showed no violation");
    }
    assert_eq!(ids.len(), queued.len(), "an event is in the queue twice");
    assert!(ids.is_disjoint(&parked), "an event both queued and parked");
    // The pass dated in central's future is parked, whole; the others are in the queue.
    assert_eq!(parked, passes[1], "parked: the events of the clock ahead");
    let expected: BTreeSet<String> = stored.difference(&parked).cloned().collect();
    assert_eq!(ids, expected, "in the queue: every other stored event");

    // Each queued event is one crossing, dated by the box's clock as it was; each runner's time
    // into red is the same in the two passes that reached the queue.
    let mut into_red: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    for q in &queued {
        let id = q["event_id"].as_str().unwrap();
        let pass = if passes[0].contains(id) { 0 } else { 2 };
        let offset_ms = if pass == 0 { 0 } else { -STEP_S * 1000 };
        let at = UtcTimestamp::parse(q["occurred_at"].as_str().unwrap())
            .unwrap()
            .unix_ms();
        let into = (at - offset_ms - unix_ms(first)) as f64 / 1000.0 - pass as f64 * period;
        let class = q["vehicle_class"].as_str().unwrap_or_default();
        let runner = runners
            .crossings
            .iter()
            .position(|(c, t)| c == class && (into - t).abs() < 3.0)
            .unwrap_or_else(|| {
                panic!("{id} ({class} at {into:.1} s into pass {pass}) is no runner's crossing")
            });
        // Every file of its evidence is up: the outbox drained waits for the uploads too.
        let one = central
            .get_json(&format!("/api/v1/violations/{id}"), &token)
            .unwrap();
        assert_eq!(one["evidence_missing"], serde_json::json!([]), "{id}");
        let red = &one["event"]["measurement"]["signal"];
        assert_eq!(red["phase"], "red", "{id}: {red}");
        let ms = red["time_into_red_ms"].as_u64().unwrap();
        assert!(
            into_red.insert((pass, runner), ms).is_none(),
            "{id} reports a crossing already reported"
        );
    }
    for r in 0..runners.crossings.len() {
        let (Some(a), Some(b)) = (into_red.get(&(0, r)), into_red.get(&(2, r))) else {
            panic!("runner {r} is not in both passes: {into_red:?}");
        };
        assert!(
            a.abs_diff(*b) <= 500,
            "runner {r}: {a} ms into red on time, {b} ms with the clock stepped back"
        );
    }
    assert_eq!(edge.stop_within(tests::EDGE_STOP).unwrap().code(), Some(0));
    assert_eq!(central.stop().unwrap().code(), Some(0));
}
