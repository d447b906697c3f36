//! The outbox on a disk that fills: the disk's free space is a cap of its own, checked before
//! anything is written, under the same policy as `outbox.max_bytes` — a new violation is kept
//! without its clip, then refused, and the outbox says the disk is what is full. Nothing kept
//! is lost or damaged, and once delivered events free their space the next violation is kept
//! whole again, without a restart.
//!
//! The disk is a 6 MiB tmpfs mounted for the test (root only, as CI runs).
#![allow(clippy::unwrap_used)]

use edge_agent::{
    config::{OutboxSettings, WhenFull},
    outbox::{NewFile, Outbox, Stored},
};
use protocol::Sha256Digest;
use service_kit::db_testing::SmallDisk;

fn file(name: &str, seed: usize, len: usize) -> NewFile {
    let mut bytes = format!("{name} {seed} ").into_bytes();
    bytes.resize(len, (seed % 251) as u8);
    NewFile {
        sha256: Sha256Digest::of(&bytes).to_hex(),
        name: name.into(),
        content_type: "application/octet-stream".into(),
        bytes,
    }
}

fn violation(i: usize) -> Vec<NewFile> {
    vec![file("at.jpg", i, 300 << 10), file("clip.mp4", i, 900 << 10)]
}

#[tokio::test]
async fn a_full_disk_shortens_then_refuses_new_violations_and_recovers_when_space_returns() {
    let disk = SmallDisk::mount("6m");
    let settings = OutboxSettings {
        // The cap alone would take everything: only the disk limits.
        max_bytes: 1 << 40,
        when_full: WhenFull::DropClips,
        min_free_bytes: 512 << 10,
    };
    let outbox = Outbox::open(&disk.mount.join("outbox"), settings)
        .await
        .unwrap();
    let room = outbox.disk_room().unwrap();
    assert!(room < 6 << 20, "the disk's own room is seen: {room}");

    let mut outcomes = Vec::new();
    for i in 0..8 {
        let stored = outbox
            .put(&format!("e{i}"), b"{}", &violation(i), Some("clip.mp4"), 0)
            .await
            .unwrap();
        outcomes.push((stored, outbox.disk_full()));
    }
    println!("{outcomes:?}");
    let kept = outcomes.iter().filter(|o| o.0 == Stored::Kept).count();
    let short = outcomes
        .iter()
        .filter(|o| o.0 == Stored::KeptWithoutClip)
        .count();
    assert!(kept >= 2, "{outcomes:?}");
    assert!(short >= 1, "the clip goes first: {outcomes:?}");
    assert_eq!(
        outcomes.last().unwrap(),
        &(Stored::Refused, true),
        "then new violations are refused, the disk named as the cause"
    );
    assert!(
        outcomes.iter().all(|(s, full)| *s == Stored::Kept || *full),
        "{outcomes:?}"
    );
    // Whatever was kept is whole.
    assert_eq!(outbox.depth().await.unwrap() as usize, kept + short);
    assert!(outbox.verify().await.unwrap().is_empty());
    assert!(outbox.disk_room().unwrap() < (300 << 10) + 2);

    // Central takes the first events: their space returns, and the next violation is kept
    // whole, with no restart.
    for u in outbox.uploads(100).await.unwrap() {
        outbox.mark_uploaded(&u.sha256).await.unwrap();
    }
    outbox
        .ack(&(0..kept).map(|i| format!("e{i}")).collect::<Vec<_>>())
        .await
        .unwrap();
    let stored = outbox
        .put("e100", b"{}", &violation(100), Some("clip.mp4"), 0)
        .await
        .unwrap();
    assert_eq!(stored, Stored::Kept);
    assert!(!outbox.disk_full(), "no longer full");
    assert!(outbox.verify().await.unwrap().is_empty());
    outbox.close().await;
}
