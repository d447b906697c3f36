//! The chain through its faults, as processes over loopback: the simulated junction streams over
//! RTSP, the edge agent sends its red-light runners through a Mosquitto of the test's own to
//! central-api on PostgreSQL, and meanwhile, one after the other:
//!
//! 1. the broker is killed while the first pass's runners cross, and started again;
//! 2. central-api is killed (SIGKILL) while the second pass's runners cross, so their events
//!    wait at the edge and in the broker, and started again;
//! 3. the camera's stream is cut and restored, the stream starting again from its first frame.
//!
//! Every red-light crossing the camera showed ends up in the review queue exactly once — each
//! event matched to the scenario's ground truth, none lost, none stored twice, no crossing
//! reported twice — with all of its evidence, and each fault had violations in flight.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{
    collections::BTreeSet,
    time::{Duration, SystemTime},
};

use protocol::UtcTimestamp;
use sim::{
    ScenarioSpec, World,
    video::{EncodeOptions, RtspServer, encode_site},
};
use tests::{
    Database, Mosquitto, Runners, Service, edge_box, eventually, free_port, sleep_until as at,
    stored_events as stored, unix_ms,
};

const SCENARIO: &str = "red-light";

/// A queued violation, as the test reads it back.
#[derive(Debug)]
struct Queued {
    id: String,
    class: String,
    at_ms: i64,
}

#[test]
fn every_violation_reaches_the_queue_once_through_broker_central_and_camera_outages() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = Database::create("tve_faults");
    let mut broker = Mosquitto::start().unwrap();
    let mqtt = broker.url();

    // The camera: the scenario encoded once, served looping in real time; its truth.
    let spec = ScenarioSpec::named(SCENARIO).unwrap();
    let period = spec.duration_s as f64;
    let world = World::simulate(&spec, 1);
    let Runners {
        crossings: runners,
        first: first_runner,
        ..
    } = Runners::of(&world);
    // The junction's overview camera and its plate camera, playing in step.
    let site = encode_site(
        &world,
        SCENARIO,
        &EncodeOptions {
            bitrate_kbps: 4000,
            keyframe_every: spec.fps,
            limit: None,
        },
    )
    .unwrap();
    let rtsp = format!("127.0.0.1:{}", free_port().unwrap())
        .parse()
        .unwrap();
    let mut camera =
        RtspServer::start_linked(rtsp, site.streams.clone(), 1.0, &site.linked).unwrap();

    // Central on PostgreSQL and the test's broker; the device registered with its key.
    let central_port = free_port().unwrap();
    let central_url = format!("http://127.0.0.1:{central_port}");
    let central_env = tests::central_env(&db, &mqtt, central_port, dir);
    let central_env = tests::env_refs(&central_env);
    let (_device, edge_config) = edge_box(
        &central_env,
        dir,
        SCENARIO,
        &camera.url(SCENARIO),
        &mqtt,
        &central_url,
    );
    let start_central = || Service::start("central-api", &[], &central_env, dir).unwrap();
    let mut central = start_central();
    let edge = Service::start(
        "edge-agent",
        &["--config", edge_config.to_str().unwrap()],
        &[],
        dir,
    )
    .unwrap();
    let first = eventually(60, "the edge agent plays the stream", || {
        camera.started_at(SCENARIO)
    })
    .unwrap();
    let stored_by = Runners::of(&world).stored_by();

    // 1. The broker dies just before the first pass's runners cross, and comes back after.
    at(first, first_runner - 3.0);
    let before = stored(&edge);
    broker.kill();
    at(first, stored_by);
    let in_broker_outage: BTreeSet<String> = stored(&edge).difference(&before).cloned().collect();
    broker.restart().unwrap();
    println!("broker down: {} stored meanwhile", in_broker_outage.len());

    // 2. Central dies (SIGKILL) before the second pass's runners, and comes back after.
    at(first, period + first_runner - 3.0);
    let before = stored(&edge);
    drop(central);
    at(first, period + stored_by);
    let in_central_outage: BTreeSet<String> = stored(&edge).difference(&before).cloned().collect();
    central = start_central();
    println!("central down: {} stored meanwhile", in_central_outage.len());

    // 3. The camera's stream is cut in the third pass and restored; it starts again from its
    //    first frame, and its runners cross once more.
    at(first, 2.0 * period + 5.0);
    drop(camera);
    let cut = SystemTime::now();
    std::thread::sleep(Duration::from_secs(5));
    let before = stored(&edge);
    camera = RtspServer::start_linked(rtsp, site.streams, 1.0, &site.linked).unwrap();
    let restored = eventually(60, "the edge agent plays the restored stream", || {
        camera.started_at(SCENARIO)
    })
    .unwrap();
    at(restored, stored_by);
    let after_restore: BTreeSet<String> = stored(&edge).difference(&before).cloned().collect();
    println!(
        "camera restored {:.1} s after the cut: {} stored since",
        restored.duration_since(cut).unwrap().as_secs_f64(),
        after_restore.len()
    );

    // The edge agent delivers everything it holds.
    tests::wait_drained(&edge, 120);
    let stored = stored(&edge);

    // The queue: every stored event, once, each with all of its evidence.
    let token = central.reviewer_token().unwrap();
    let queue = central
        .get_json("/api/v1/violations?status=all&limit=200", &token)
        .unwrap();
    let queued: Vec<Queued> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| Queued {
            id: i["event_id"].as_str().unwrap().to_owned(),
            class: i["vehicle_class"].as_str().unwrap_or_default().to_owned(),
            at_ms: UtcTimestamp::parse(i["occurred_at"].as_str().unwrap())
                .unwrap()
                .unix_ms(),
        })
        .collect();
    let ids: BTreeSet<String> = queued.iter().map(|q| q.id.clone()).collect();
    println!(
        "{} stored at the edge, {} in the queue ({} distinct)",
        stored.len(),
        queued.len(),
        ids.len()
    );
    assert_eq!(ids.len(), queued.len(), "an event is in the queue twice");
    let lost: Vec<&String> = stored.difference(&ids).collect();
    assert!(lost.is_empty(), "lost on the way: {lost:?}");
    let unknown: Vec<&String> = ids.difference(&stored).collect();
    assert!(unknown.is_empty(), "queued but never stored: {unknown:?}");
    for (fault, during) in [
        ("the broker outage", &in_broker_outage),
        ("central's outage", &in_central_outage),
        ("the restored stream", &after_restore),
    ] {
        assert!(!during.is_empty(), "no violation was seen during {fault}");
    }
    for q in &queued {
        eventually(60, "the violation's evidence is complete", || {
            let one = central
                .get_json(&format!("/api/v1/violations/{}", q.id), &token)
                .ok()?;
            (one["evidence_missing"] == serde_json::json!([])).then_some(())
        })
        .unwrap_or_else(|e| panic!("{}: {e}", q.id));
    }

    // Each event is one true crossing, none reported twice, and every crossing the camera
    // showed is there: both passes of the first stream (the cut came early in the third, before
    // its runners) and the first pass of the restored one.
    let mut crossings = BTreeSet::new();
    let cut_ms = unix_ms(cut);
    for q in &queued {
        let (stream, started) = if q.at_ms < cut_ms {
            (0, first)
        } else {
            (1, restored)
        };
        let into = (q.at_ms - unix_ms(started)) as f64 / 1000.0;
        let crossing = runners.iter().enumerate().find_map(|(r, (class, t))| {
            let pass = ((into - t) / period).round();
            let off = into - t - pass * period;
            (*class == q.class && off.abs() < 3.0).then_some((stream, pass as i64, r))
        });
        println!("{q:?}: {crossing:?}");
        let crossing = crossing.unwrap_or_else(|| panic!("{q:?} is no runner's crossing"));
        assert!(
            crossings.insert(crossing),
            "{q:?} reports a crossing already reported"
        );
    }
    let shown: BTreeSet<(i32, i64, usize)> = (0..runners.len())
        .flat_map(|r| [(0, 0, r), (0, 1, r), (1, 0, r)])
        .collect();
    assert_eq!(crossings, shown, "the crossings the camera showed");
    assert_eq!(edge.stop_within(tests::EDGE_STOP).unwrap().code(), Some(0));
    assert_eq!(central.stop().unwrap().code(), Some(0));
}
