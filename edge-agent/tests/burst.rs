//! Nothing seen is lost in a burst: a crowd running the red on four cameras at once — 200
//! violations within 2 s, each journaled the moment it is seen and completed a moment later,
//! as the evidence stage does — while the publisher delivers to central, uploads the files and
//! releases what central acknowledges, all on the one outbox. Every violation is stored at the
//! first attempt and reaches central once, complete, with every file.
//!
//! The outbox's writes used to begin as deferred transactions that read before they wrote: in
//! such a burst the publisher's commits between the read and the write made SQLite refuse the
//! write at once (`database is locked`), whatever the busy timeout, and the violation was
//! dropped.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use edge_agent::outbox::{
    Stored,
    writer::{Entry, Outcome, RetryPolicy, Writer, WriterCounters},
};
use protocol::{EventId, Sha256Digest, ViolationEvent, ids::CameraId};

const CAMERAS: usize = 4;
const VIOLATIONS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_200_violations_on_four_cameras_is_stored_and_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let device = common::device_id("edge-burst");
    let key = Arc::new(edge_agent::startup::device_key(&dir.path().join("device.key")).unwrap());
    let central = common::Central::start(&device, key.public_key()).await;
    let outbox = common::outbox(dir.path()).await;
    // The publisher, as the agent runs it.
    let publisher =
        common::Publisher::start(&device, key.clone(), outbox.clone(), &central.url, 20).await;
    let wake = publisher.wake.clone();

    // Four cameras see 50 violations each within 2 s; each is journaled when seen, and its
    // complete event follows eight of its camera's violations later. The evidence stage takes
    // them from a bounded channel on its own thread and runtime, as in the agent.
    let events: Vec<ViolationEvent> = (0..VIOLATIONS)
        .map(|i| {
            let mut e = ViolationEvent::example(device.clone(), EventId::new());
            e.camera = CameraId::parse(format!("cam{}", i % CAMERAS)).unwrap();
            e
        })
        .collect();
    let (jobs, rx) = std::sync::mpsc::sync_channel::<Entry>(16);
    let started = Instant::now();
    let cameras: Vec<_> = (0..CAMERAS)
        .map(|c| {
            let (jobs, key, events) = (jobs.clone(), key.clone(), events.clone());
            std::thread::spawn(move || {
                let mine: Vec<usize> = (c..VIOLATIONS).step_by(CAMERAS).collect();
                for k in 0..mine.len() + 8 {
                    if let Some(&i) = mine.get(k) {
                        jobs.send(common::outbox_entry(&key, &events[i], i, false))
                            .unwrap();
                    }
                    if k >= 8 {
                        let i = mine[k - 8];
                        jobs.send(common::outbox_entry(&key, &events[i], i, true))
                            .unwrap();
                    }
                    let due = Duration::from_millis(40 * (k as u64 + 1));
                    std::thread::sleep(due.saturating_sub(started.elapsed()));
                }
            })
        })
        .collect();
    drop(jobs);
    let counters = Arc::new(WriterCounters::default());
    let stage = {
        let (outbox, counters, wake) = (outbox.clone(), counters.clone(), wake.clone());
        std::thread::spawn(move || {
            let rt = edge_agent::outbox::writer_runtime().unwrap();
            let mut writer = Writer::new(outbox, RetryPolicy::default(), counters);
            let mut outcomes = Vec::new();
            while let Ok(e) = rx.recv() {
                let provisional = e.provisional;
                outcomes.push((provisional, rt.block_on(writer.store(e))));
                wake.notify_one();
            }
            (outcomes, started.elapsed())
        })
    };
    let (outcomes, took) = tokio::task::spawn_blocking(move || {
        for c in cameras {
            c.join().unwrap();
        }
        stage.join().unwrap()
    })
    .await
    .unwrap();
    println!("{} entries stored in {took:?}", outcomes.len());
    let failed: Vec<_> = outcomes
        .iter()
        .filter(|(_, o)| *o != Outcome::Stored(Stored::Kept))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} entries not stored at once: {:?}",
        failed.len(),
        outcomes.len(),
        failed.first()
    );
    assert_eq!(counters.retries.load(Ordering::Relaxed), 0);

    // Central gets every violation, complete, with every file; the outbox empties.
    let expected: HashMap<String, usize> =
        events.iter().map(|e| (e.event_id.to_string(), 0)).collect();
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let received: HashSet<String> = central
            .events()
            .iter()
            .map(|e| e.event_id.to_string())
            .collect();
        let depth = outbox.depth().await.unwrap();
        // Empty: every event acknowledged and every file uploaded.
        let held = outbox.bytes().await.unwrap();
        if (received.len() == VIOLATIONS && held == 0) || Instant::now() > until {
            println!(
                "central has {} of {VIOLATIONS}; outbox depth {depth}, {held} bytes held",
                received.len()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut seen = expected.clone();
    for e in central.events() {
        let id = e.event_id.to_string();
        *seen.get_mut(&id).expect("only the burst's violations") += 1;
        assert_eq!(
            e.evidence.len(),
            4,
            "{id}: the complete event, not its journal entry"
        );
    }
    let missing: Vec<_> = seen.iter().filter(|(_, n)| **n == 0).collect();
    assert!(
        missing.is_empty(),
        "{} violations never reached central",
        missing.len()
    );
    let repeated = seen.values().filter(|n| **n > 1).count();
    assert_eq!(repeated, 0, "every violation delivered once");
    let blobs = central.blobs.lock().unwrap().clone();
    for e in central.events() {
        for item in &e.evidence {
            let bytes = blobs
                .get(&item.sha256.to_hex())
                .expect("every file uploaded");
            assert_eq!(Sha256Digest::of(bytes), item.sha256);
        }
    }
    assert_eq!(outbox.depth().await.unwrap(), 0);
    assert!(outbox.verify().await.unwrap().is_empty());
    let left = std::fs::read_dir(dir.path().join("outbox/blobs"))
        .unwrap()
        .count();
    assert_eq!(left, 0, "every file released once delivered");
    publisher.stop().await;
}
