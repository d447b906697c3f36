//! The red-light junction with its plate camera: the overview camera (1280×720) judges, the
//! plate camera on the same pole (1920×1080, zoomed on the approach to the stop line) sees the
//! same traffic, both served over RTSP in step as a junction's cameras are. Each staged runner
//! must be reported with the right plate, read on the plate camera's view of the vehicle, and
//! no event may name a plate that is not its vehicle's.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use edge_agent::config::{CameraRole, Config};
use protocol::ViolationKind;
use sim::{
    Renderer, ScenarioSpec, World,
    setup::paired_toml,
    video::{EncodeOptions, RtspServer, encode_site},
};

const OVERVIEW: &str = "red-light";
/// As `sim serve` names the plate camera's stream.
const PLATES: &str = "red-light-plates";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plate_camera_reads_the_plates_the_overview_camera_cannot() {
    let mut spec = ScenarioSpec::named(OVERVIEW).unwrap();
    spec.fps = 15;
    let world = World::simulate(&spec, 1);
    let plate_world = world
        .plate_view()
        .expect("the red-light scenario has a plate camera");
    let (overview, plates) = (Renderer::new(&world), Renderer::new(&plate_world));
    let options = EncodeOptions {
        keyframe_every: 15,
        ..EncodeOptions::default()
    };
    let site = encode_site(&world, OVERVIEW, &options).unwrap();
    assert_eq!(site.linked, [[OVERVIEW, PLATES]]);
    let server = RtspServer::start_linked(
        "127.0.0.1:0".parse().unwrap(),
        site.streams,
        1.0,
        &site.linked,
    )
    .unwrap();
    // The cameras as an installer would configure them: `sim setup`'s tables.
    let tables = paired_toml(
        &overview,
        &plates,
        "junction",
        &server.url(OVERVIEW),
        &server.url(PLATES),
    )
    .unwrap();
    let cameras: Config = toml::from_str(&tables).unwrap();
    assert_eq!(cameras.cameras.len(), 2);
    assert_eq!(cameras.cameras[1].role, CameraRole::Plates);

    let dir = tempfile::tempdir().unwrap();
    let device = common::device_id("edge-paired");
    let key = edge_agent::startup::device_key(&dir.path().join("device.key")).unwrap();
    let central = common::Central::start(&device, key.public_key()).await;
    let mut config =
        common::agent_config(dir.path(), &device, &common::mosquitto_url(), &central.url);
    config.cameras = cameras.cameras;
    let agent = common::RunningAgent::start(config).await;

    let asked = Instant::now() + Duration::from_secs(60);
    let started = loop {
        if let Some(at) = server.started_at(OVERVIEW) {
            break at;
        }
        assert!(Instant::now() < asked, "the overview camera streams");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        server.started_at(PLATES).is_some_and(|p| p == started),
        "the two streams play in step"
    );
    let started_ms = i64::try_from(
        started
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    // The scenario once through, then its evidence delivered.
    tokio::time::sleep(Duration::from_secs_f32(spec.duration_s + 10.0)).await;
    // Delivered: every violation the cameras saw stored complete (a slow machine may still be
    // building the last one's evidence, its journal entry not yet in the outbox) and the
    // outbox empty.
    let settle = Instant::now() + Duration::from_secs(60);
    let mut status = serde_json::Value::Null;
    while Instant::now() < settle {
        status = common::status(&agent.addr).await.unwrap_or_default();
        let seen: u64 = status["cameras"]
            .as_array()
            .map(|cameras| {
                cameras
                    .iter()
                    .filter_map(|c| c["violations"].as_u64())
                    .sum()
            })
            .unwrap_or(0);
        if status["outbox_depth"] == 0 && status["violations_stored"].as_u64() >= Some(seen) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    agent.stop().await;
    let cameras = &status["cameras"];
    assert_eq!(cameras[0]["plate_camera"], "junction-plates", "{status}");
    assert_eq!(cameras[1]["role"], "plates", "{status}");
    assert!(
        cameras[1]["processed"].as_u64().unwrap() > 100,
        "the plate camera ran: {status}"
    );
    assert_eq!(cameras[1]["violations"], 0, "a plate camera judges nothing");

    let events: Vec<_> = central
        .events()
        .into_iter()
        .filter(|e| {
            ((e.occurred_at.unix_ms() - started_ms) as f64) < 1000.0 * f64::from(spec.duration_s)
        })
        .collect();
    let mut right = 0;
    for t in &world.violations {
        let hit = events.iter().find(|e| {
            let at = (e.occurred_at.unix_ms() - started_ms) as f64 / 1000.0;
            e.kind == t.kind
                && Some(e.vehicle.class) == t.class.vehicle()
                && (at - f64::from(t.t_s)).abs() < 5.0
        });
        let Some(e) = hit else {
            panic!(
                "missed {:?} {:?} at {:.1} s; central refused {:?}; the agent's status {status}",
                t.kind,
                t.plate,
                t.t_s,
                central.rejected.lock().unwrap()
            );
        };
        let read = e.plate.as_ref().map(|p| p.text.clone());
        println!(
            "{:?} {:?} at {:.1} s: plate {read:?}, truth {:?}",
            t.kind, t.class, t.t_s, t.plate_canonical
        );
        if read.is_some() && read == t.plate_canonical {
            right += 1;
        }
        let names: Vec<&str> = e.evidence.iter().map(|i| i.name.as_str()).collect();
        assert!(
            names.contains(&"plate-camera.jpg") && names.contains(&"plate.jpg"),
            "the plate camera's view and the close-up: {names:?}; the agent: {status}"
        );
        let blobs = central.blobs.lock().unwrap();
        for item in e.evidence.iter().filter(|i| i.name.ends_with(".jpg")) {
            let blob = blobs.get(&item.sha256.to_hex()).unwrap();
            assert!(
                image::load_from_memory(blob).is_ok(),
                "{} decodes",
                item.name
            );
        }
    }
    // A plate named is the vehicle's: every read is some staged runner's true plate.
    let truths: Vec<_> = world
        .violations
        .iter()
        .filter_map(|t| t.plate_canonical.clone())
        .collect();
    for e in events.iter().filter(|e| e.kind == ViolationKind::RedLight) {
        if let Some(p) = &e.plate {
            assert!(truths.contains(&p.text), "a wrong plate named: {}", p.text);
        }
    }
    println!(
        "red-light runners: {} staged, {} events, {right} with the right plate",
        world.violations.len(),
        events.len()
    );
    assert_eq!(right, world.violations.len(), "every runner's plate read");
}
