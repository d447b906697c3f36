//! The soak run (`make soak`, not part of `make test`): four simulated cameras through the whole
//! chain for an hour (`TVE_SOAK_MINUTES`), as processes over loopback on PostgreSQL and a
//! Mosquitto of the run's own, with the broker killed and restarted a third of the way in and
//! central-api killed (SIGKILL) and restarted at two thirds. Every half minute it samples each
//! process's resident memory and open file descriptors; at the end it checks that
//!
//! - every violation the edge agent stored is in the review queue exactly once, with all of its
//!   evidence;
//! - after the warm-up (the first tenth) no process's memory grew by more than a fifth from the
//!   first to the last quarter of the run, and none holds more than a handful of extra file
//!   descriptors: a leak over an hour shows as a slope here.
//!
//! It prints every sample and a summary line for docs/benchmarks.md.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use sim::{ScenarioSpec, World, video::RtspServer};
use tests::{Database, Mosquitto, Service, edge_box_with, eventually, free_port};

const SCENARIO: &str = "red-light";
const CAMERAS: usize = 4;

/// Resident memory (KiB) and open file descriptors of a process.
fn sample(pid: u32) -> Option<(u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss, fds))
}

/// Memory growth (last quarter's mean over the first quarter's after warm-up) and the rise in
/// file descriptors, of one process's samples.
fn drift(samples: &[(u64, usize)]) -> (f64, i64) {
    let warm = samples.len() / 10;
    let kept = &samples[warm..];
    let q = (kept.len() / 4).max(1);
    let mean = |s: &[(u64, usize)]| s.iter().map(|x| x.0 as f64).sum::<f64>() / s.len() as f64;
    let (first, last) = (&kept[..q], &kept[kept.len() - q..]);
    let fds = |s: &[(u64, usize)]| s.iter().map(|x| x.1).max().unwrap_or(0) as i64;
    (mean(last) / mean(first), fds(last) - fds(first))
}

#[test]
#[ignore = "an hour long: run by `make soak`"]
fn four_cameras_for_an_hour_through_broker_and_central_restarts() {
    let minutes: f64 = std::env::var("TVE_SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(60.0);
    let run = Duration::from_secs_f64(minutes * 60.0);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = Database::create("tve_soak");
    let mut broker = Mosquitto::start().unwrap();
    let mqtt = broker.url();

    // Four cameras showing the red-light junction, looping in real time.
    let spec = ScenarioSpec::named(SCENARIO).unwrap();
    let world = World::simulate(&spec, 1);
    let encoded = tests::overview_stream(&world, &spec);
    let names: Vec<String> = (1..=CAMERAS).map(|i| format!("cam-{i}")).collect();
    let rtsp = format!("127.0.0.1:{}", free_port().unwrap())
        .parse()
        .unwrap();
    let camera = RtspServer::start(
        rtsp,
        names.iter().map(|n| (n.clone(), encoded.clone())).collect(),
        1.0,
    )
    .unwrap();

    let central_port = free_port().unwrap();
    let central_url = format!("http://127.0.0.1:{central_port}");
    let central_env = tests::central_env(&db, &mqtt, central_port, dir);
    let central_env = tests::env_refs(&central_env);
    let cameras: String = names
        .iter()
        .map(|n| tests::overview_camera(SCENARIO, n, &camera.url(n)))
        .collect();
    let (_device, edge_config) = edge_box_with(&central_env, dir, &cameras, &mqtt, &central_url);
    let start_central = || Service::start("central-api", &[], &central_env, dir).unwrap();
    let mut central = start_central();
    let edge = Service::start(
        "edge-agent",
        &["--config", edge_config.to_str().unwrap()],
        &[],
        dir,
    )
    .unwrap();

    // The run, sampled every 30 s, with the two restarts on the way.
    let started = Instant::now();
    let mut samples: [Vec<(u64, usize)>; 3] = Default::default();
    let (mut broker_restarted, mut central_restarted) = (false, false);
    while started.elapsed() < run {
        std::thread::sleep(Duration::from_secs(30).min(run.saturating_sub(started.elapsed())));
        let pids = [edge.child.id(), central.child.id(), broker.pid()];
        let now: Vec<Option<(u64, usize)>> = pids.iter().map(|p| sample(*p)).collect();
        println!(
            "t={:>5.0}s edge {:?} central {:?} broker {:?} stored {}",
            started.elapsed().as_secs_f64(),
            now[0],
            now[1],
            now[2],
            edge.logged("violation stored", "event").len()
        );
        // Restarted processes start their series again: a restart is not a leak.
        for (series, s) in samples.iter_mut().zip(now) {
            if let Some(s) = s {
                series.push(s);
            }
        }
        if !broker_restarted && started.elapsed() >= run / 3 {
            broker.restart().unwrap();
            broker_restarted = true;
            samples[2].clear();
            println!("broker restarted");
        }
        if !central_restarted && started.elapsed() >= run * 2 / 3 {
            drop(central);
            central = start_central();
            central_restarted = true;
            samples[1].clear();
            println!("central restarted");
        }
    }

    // Everything stored reaches the queue once, with its evidence.
    tests::wait_drained(&edge, 300);
    let stored: BTreeSet<String> = edge
        .logged("violation stored", "event")
        .into_iter()
        .collect();
    let token = central.reviewer_token().unwrap();
    let mut queued = Vec::new();
    loop {
        let page = central
            .get_json(
                &format!(
                    "/api/v1/violations?status=all&limit=200&offset={}",
                    queued.len()
                ),
                &token,
            )
            .unwrap();
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        queued.extend(items);
    }
    let ids: BTreeSet<String> = queued
        .iter()
        .map(|i| i["event_id"].as_str().unwrap().to_owned())
        .collect();
    let incomplete = queued
        .iter()
        .filter(|i| {
            i["evidence_missing"]
                .as_array()
                .is_some_and(|m| !m.is_empty())
        })
        .count();
    let (edge_mem, edge_fds) = drift(&samples[0]);
    let (central_mem, central_fds) = drift(&samples[1]);
    let (broker_mem, broker_fds) = drift(&samples[2]);
    println!(
        "soak {minutes:.0} min, {CAMERAS} cameras: {} stored at the edge, {} in the queue ({} distinct), {incomplete} without all their evidence; \
         memory last/first quarter: edge {edge_mem:.3}, central {central_mem:.3}, broker {broker_mem:.3}; \
         file descriptors rise: edge {edge_fds:+}, central {central_fds:+}, broker {broker_fds:+}; \
         last samples (KiB, fds): edge {:?}, central {:?}, broker {:?}",
        stored.len(),
        queued.len(),
        ids.len(),
        samples[0].last(),
        samples[1].last(),
        samples[2].last(),
    );
    assert!(!stored.is_empty(), "the cameras showed violations");
    assert_eq!(ids.len(), queued.len(), "an event is in the queue twice");
    let lost: Vec<&String> = stored.difference(&ids).collect();
    assert!(lost.is_empty(), "lost on the way: {lost:?}");
    for (name, mem, fds) in [
        ("edge-agent", edge_mem, edge_fds),
        ("central-api", central_mem, central_fds),
        ("mosquitto", broker_mem, broker_fds),
    ] {
        assert!(
            mem < 1.2,
            "{name}'s memory grew by {:.0} %",
            (mem - 1.0) * 100.0
        );
        assert!(fds <= 8, "{name} holds {fds} more file descriptors");
    }
    eventually(120, "every violation's evidence is complete", || {
        let incomplete = queued.iter().any(|i| {
            let id = i["event_id"].as_str().unwrap_or_default();
            central
                .get_json(&format!("/api/v1/violations/{id}"), &token)
                .map_or(true, |one| one["evidence_missing"] != serde_json::json!([]))
        });
        (!incomplete).then_some(())
    })
    .unwrap();
    assert_eq!(edge.stop_within(tests::EDGE_STOP).unwrap().code(), Some(0));
    assert_eq!(central.stop().unwrap().code(), Some(0));
    drop(camera);
}
