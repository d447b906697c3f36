use super::*;

fn file(name: &str, bytes: &[u8]) -> NewFile {
    NewFile {
        sha256: protocol::event::Sha256Digest::of(bytes).to_hex(),
        name: name.into(),
        content_type: "image/jpeg".into(),
        bytes: bytes.to_vec(),
    }
}

fn settings(max_bytes: u64) -> OutboxSettings {
    OutboxSettings {
        max_bytes,
        when_full: WhenFull::DropClips,
        min_free_bytes: 0,
    }
}

#[test]
fn connections_used_from_the_writer_runtime_go_back_to_the_pool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = writer_runtime().expect("runtime");
    let ob = rt
        .block_on(Outbox::open(dir.path(), settings(1 << 20)))
        .expect("open");
    for i in 0..3u8 {
        rt.block_on(ob.put(
            &format!("e{i}"),
            b"{}",
            &[file("at.jpg", &[i; 10])],
            None,
            0,
        ))
        .expect("put");
    }
    // Nothing calls into the runtime now: only its own worker can hand the connections back.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while ob.idle_connections() < 2 && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        ob.idle_connections(),
        2,
        "every connection back in the pool"
    );
}

#[tokio::test]
async fn events_leave_only_when_acknowledged_and_uploaded() {
    let dir = tempfile::tempdir().expect("tmp");
    let ob = Outbox::open(dir.path(), settings(1 << 20))
        .await
        .expect("open");
    let shared = file("at.jpg", b"same image");
    for (id, extra) in [("e1", b"one".as_slice()), ("e2", b"two".as_slice())] {
        let stored = ob
            .put(
                id,
                b"{}",
                &[shared.clone(), file("clip.mp4", extra)],
                None,
                0,
            )
            .await
            .expect("put");
        assert_eq!(stored, Stored::Kept);
    }
    assert_eq!(
        ob.put("e1", b"{}", &[], None, 0).await.expect("again"),
        Stored::Duplicate
    );
    let pending = ob.pending(10).await.expect("pending");
    assert_eq!(
        pending
            .iter()
            .map(|p| p.event_id.as_str())
            .collect::<Vec<_>>(),
        ["e1", "e2"]
    );
    assert_eq!(
        ob.uploads(10).await.expect("uploads").len(),
        3,
        "one shared file"
    );
    assert_eq!(ob.uploads_pending().await.expect("count"), 3);
    ob.ack(&["e1".into()]).await.expect("ack");
    assert_eq!(
        ob.depth().await.expect("depth"),
        1,
        "acked leaves the queue"
    );
    assert_eq!(
        ob.uploads_pending().await.expect("count"),
        3,
        "an acknowledged event's files still wait"
    );
    for u in ob.uploads(10).await.expect("uploads") {
        ob.mark_uploaded(&u.sha256).await.expect("uploaded");
    }
    assert_eq!(ob.uploads_pending().await.expect("count"), 0);
    // e1 is gone; the file e2 shares with it is still on disk.
    assert!(dir.path().join("blobs").join(&shared.sha256).exists());
    ob.ack(&["e2".into()]).await.expect("ack");
    assert_eq!(ob.pending(10).await.expect("pending").len(), 0);
    assert_eq!(
        std::fs::read_dir(dir.path().join("blobs"))
            .expect("dir")
            .count(),
        0
    );
    assert!(ob.verify().await.expect("verify").is_empty());
}

#[tokio::test]
async fn a_full_outbox_drops_the_clip_then_refuses_and_sweeps_orphans() {
    let dir = tempfile::tempdir().expect("tmp");
    let ob = Outbox::open(dir.path(), settings(100)).await.expect("open");
    let clip = file("clip.mp4", &[7u8; 80]);
    let img = file("at.jpg", &[1u8; 30]);
    // The masked copy of the clip and its list go with the clip: without them the
    // images would not fit either.
    let masked = file("clip-masked.mp4", &[8u8; 60]);
    let list = file("clip-masked.json", &[9u8; 10]);
    assert!(!of_clip("clipboard.jpg", "clip.mp4") && !of_clip("at.jpg", "clip.mp4"));
    assert_eq!(
        ob.put(
            "e1",
            b"{}",
            &[img.clone(), clip.clone(), masked, list],
            Some("clip.mp4"),
            0
        )
        .await
        .expect("put"),
        Stored::KeptWithoutClip
    );
    assert_eq!(
        ob.put("e2", b"{}", &[file("at.jpg", &[2u8; 90])], None, 0)
            .await
            .expect("put"),
        Stored::Refused
    );
    std::fs::write(dir.path().join("blobs").join("deadbeef"), b"orphan").expect("write");
    ob.close().await;
    let ob = Outbox::open(dir.path(), settings(100))
        .await
        .expect("reopen");
    assert!(!dir.path().join("blobs").join("deadbeef").exists());
    assert_eq!(ob.depth().await.expect("depth"), 1);
    assert!(ob.verify().await.expect("verify").is_empty());
}

#[tokio::test]
async fn a_journaled_violation_waits_for_its_complete_event_or_goes_out_after_a_crash() {
    let dir = tempfile::tempdir().expect("tmp");
    let ob = Outbox::open(dir.path(), settings(1 << 20))
        .await
        .expect("open");
    let ids = |p: Vec<Pending>| p.into_iter().map(|p| p.event_id).collect::<Vec<_>>();
    let early = file("at.jpg", b"at, plate unread");
    let before = file("before.jpg", b"before");
    assert_eq!(
        ob.put_provisional("e1", b"early", &[before.clone(), early.clone()], 0)
            .await
            .expect("journal"),
        Stored::Kept
    );
    ob.put("e2", b"{}", &[file("at.jpg", b"e2")], None, 0)
        .await
        .expect("put");
    // Held back: neither published nor uploaded nor waiting for central yet.
    assert_eq!(ids(ob.pending(10).await.expect("pending")), ["e2"]);
    assert_eq!(ob.uploads(10).await.expect("uploads").len(), 1);
    assert_eq!(ob.depth().await.expect("depth"), 1);
    assert_eq!(
        ob.put_provisional("e1", b"again", &[], 0)
            .await
            .expect("journal"),
        Stored::Duplicate
    );
    // The complete event takes its place (and its place in the order); the journaled
    // image nothing refers to any more is removed.
    let at = file("at.jpg", b"at, plate read");
    let files = [before.clone(), at, file("after.jpg", b"after")];
    assert_eq!(
        ob.put("e1", b"complete", &files, None, 1)
            .await
            .expect("put"),
        Stored::Kept
    );
    let pending = ob.pending(10).await.expect("pending");
    assert_eq!(ids(pending.clone()), ["e1", "e2"]);
    assert_eq!(pending[0].payload, b"complete");
    assert!(!dir.path().join("blobs").join(&early.sha256).exists());
    assert!(dir.path().join("blobs").join(&before.sha256).exists());
    assert_eq!(ob.uploads(10).await.expect("uploads").len(), 4);
    assert_eq!(
        ob.put("e1", b"complete", &files, None, 1)
            .await
            .expect("put"),
        Stored::Duplicate
    );

    // Journaled, then the agent dies: at the next start it goes out as it is.
    ob.put_provisional("e3", b"early", &[file("at.jpg", b"e3")], 2)
        .await
        .expect("journal");
    assert_eq!(ids(ob.pending(10).await.expect("pending")), ["e1", "e2"]);
    ob.close().await;
    let ob = Outbox::open(dir.path(), settings(1 << 20))
        .await
        .expect("reopen");
    assert_eq!(
        ids(ob.pending(10).await.expect("pending")),
        ["e1", "e2", "e3"]
    );
    assert_eq!(ob.uploads(10).await.expect("uploads").len(), 5);
    assert!(ob.verify().await.expect("verify").is_empty());
}

#[tokio::test]
async fn a_complete_event_without_room_leaves_the_journaled_one_to_go_out() {
    let dir = tempfile::tempdir().expect("tmp");
    let ob = Outbox::open(dir.path(), settings(100)).await.expect("open");
    ob.put_provisional("e1", b"{}", &[file("at.jpg", &[1u8; 40])], 0)
        .await
        .expect("journal");
    assert_eq!(
        ob.put("e1", b"{}", &[file("at.jpg", &[2u8; 90])], None, 0)
            .await
            .expect("put"),
        Stored::Refused
    );
    assert_eq!(ob.pending(10).await.expect("pending").len(), 1);
}
