//! The evidence stage's side of the outbox: every event it makes is stored, or kept in memory
//! and tried again until it is. A storage error (the database busy past its timeout, a disk
//! error, the disk full under SQLite) never drops a violation: the event waits here, oldest
//! first, and is tried again after 0.1, 0.2, 0.4 … s (at most [`RetryPolicy::max_backoff`]),
//! while the agent runs. A complete event that still cannot be stored after
//! [`RetryPolicy::complete_for`] gives way to its journal entry, which is delivered as it is —
//! now, not at the next start. An event with no journal entry waits for as long as it takes;
//! when [`RetryPolicy::max_waiting`] events wait, the stage takes no new ones, which holds the
//! cameras back (their frames are dropped and counted, their violations are not).

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tracing::{error, info, warn};

use super::{NewFile, Outbox, OutboxError, Stored};

/// An event for the outbox, as the evidence stage made it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub event_id: String,
    pub payload: Vec<u8>,
    pub files: Vec<NewFile>,
    /// The clip's file name, for the policy when the outbox is full.
    pub clip: Option<String>,
    /// A journal entry, held back until its complete event replaces it.
    pub provisional: bool,
    pub created_ms: i64,
}

/// What became of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Stored(Stored),
    /// Not stored yet: kept in memory and tried again.
    Waiting {
        attempts: u32,
        error: String,
    },
    /// The complete event could not be stored; its journal entry goes out instead.
    DeliveredAsJournaled,
}

/// How the writer tries again.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a complete event is tried before its journal entry is delivered instead.
    pub complete_for: Duration,
    /// Events kept in memory at most; beyond it no new one is taken.
    pub max_waiting: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            complete_for: Duration::from_secs(30),
            max_waiting: 64,
        }
    }
}

/// Figures for `/status` and `/metrics`.
#[derive(Debug, Default)]
pub struct WriterCounters {
    /// Attempts to store that failed and were scheduled again.
    pub retries: AtomicU64,
    /// Events stored on a later attempt.
    pub recovered: AtomicU64,
    /// Complete events given up for their journal entry.
    pub delivered_as_journaled: AtomicU64,
    /// Events in memory now, waiting to be stored.
    pub waiting: AtomicU64,
}

#[derive(Debug)]
struct Waiting {
    entry: Entry,
    attempts: u32,
    first_failed: Instant,
    next_at: Instant,
}

/// Stores entries into the outbox, keeping those it cannot store yet.
#[derive(Debug)]
pub struct Writer {
    outbox: Outbox,
    policy: RetryPolicy,
    waiting: VecDeque<Waiting>,
    counters: Arc<WriterCounters>,
}

impl Writer {
    pub fn new(outbox: Outbox, policy: RetryPolicy, counters: Arc<WriterCounters>) -> Self {
        Self {
            outbox,
            policy,
            waiting: VecDeque::new(),
            counters,
        }
    }

    /// Stores `entry`, or keeps it to try again.
    pub async fn store(&mut self, entry: Entry) -> Outcome {
        match self.put(&entry).await {
            Ok(stored) => Outcome::Stored(stored),
            Err(e) => {
                let now = Instant::now();
                let error = format!("{e:#}");
                warn!(event = %entry.event_id, provisional = entry.provisional, error = %error, "violation not stored yet: kept to try again");
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                self.waiting.push_back(Waiting {
                    entry,
                    attempts: 1,
                    first_failed: now,
                    next_at: now + self.policy.first_backoff,
                });
                self.publish_depth();
                Outcome::Waiting { attempts: 1, error }
            }
        }
    }

    /// Tries again, oldest first, the entries whose time has come; returns what became of each
    /// (event id, whether it was a journal entry, outcome).
    pub async fn retry(&mut self) -> Vec<(String, bool, Outcome)> {
        let now = Instant::now();
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.waiting.len() {
            if self.waiting[i].next_at > now {
                i += 1;
                continue;
            }
            let result = self.put(&self.waiting[i].entry).await;
            let w = &mut self.waiting[i];
            let id = w.entry.event_id.clone();
            let provisional = w.entry.provisional;
            match result {
                Ok(stored) => {
                    info!(event = %id, attempts = w.attempts + 1, "violation stored on a later attempt");
                    self.counters.recovered.fetch_add(1, Ordering::Relaxed);
                    self.waiting.remove(i);
                    done.push((id, provisional, Outcome::Stored(stored)));
                }
                Err(e) => {
                    w.attempts += 1;
                    let error = format!("{e:#}");
                    if !provisional && w.first_failed.elapsed() >= self.policy.complete_for {
                        match self.outbox.deliver_provisional(&id).await {
                            Ok(true) => {
                                error!(event = %id, error = %error, "complete violation could not be stored: its journal entry is delivered as it is");
                                self.counters
                                    .delivered_as_journaled
                                    .fetch_add(1, Ordering::Relaxed);
                                self.waiting.remove(i);
                                done.push((id, provisional, Outcome::DeliveredAsJournaled));
                                continue;
                            }
                            Ok(false) => {}
                            Err(e) => {
                                warn!(event = %id, error = %format!("{e:#}"), "journal entry not released");
                            }
                        }
                    }
                    let w = &mut self.waiting[i];
                    let backoff = self
                        .policy
                        .first_backoff
                        .saturating_mul(1 << w.attempts.min(16).saturating_sub(1))
                        .min(self.policy.max_backoff);
                    w.next_at = Instant::now() + backoff;
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    warn!(event = %id, attempts = w.attempts, error = %error, "violation still not stored");
                    done.push((
                        id,
                        provisional,
                        Outcome::Waiting {
                            attempts: w.attempts,
                            error,
                        },
                    ));
                    i += 1;
                }
            }
        }
        self.publish_depth();
        done
    }

    /// Entries waiting in memory.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Whether as many entries wait as the policy allows: take no new one.
    pub fn is_full(&self) -> bool {
        self.waiting.len() >= self.policy.max_waiting
    }

    /// How long until the next entry is due to be tried again.
    pub fn next_retry_in(&self) -> Option<Duration> {
        let now = Instant::now();
        self.waiting
            .iter()
            .map(|w| w.next_at.saturating_duration_since(now))
            .min()
    }

    async fn put(&self, e: &Entry) -> Result<Stored, OutboxError> {
        if e.provisional {
            self.outbox
                .put_provisional(&e.event_id, &e.payload, &e.files, e.created_ms)
                .await
        } else {
            self.outbox
                .put(
                    &e.event_id,
                    &e.payload,
                    &e.files,
                    e.clip.as_deref(),
                    e.created_ms,
                )
                .await
        }
    }

    fn publish_depth(&self) {
        self.counters
            .waiting
            .store(self.waiting.len() as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{OutboxSettings, WhenFull};

    fn entry(id: &str, provisional: bool, bytes: &[u8]) -> Entry {
        Entry {
            event_id: id.into(),
            payload: format!("{id} {provisional}").into_bytes(),
            files: vec![NewFile {
                sha256: protocol::event::Sha256Digest::of(bytes).to_hex(),
                name: "at.jpg".into(),
                content_type: "image/jpeg".into(),
                bytes: bytes.to_vec(),
            }],
            clip: None,
            provisional,
            created_ms: 0,
        }
    }

    async fn open(dir: &std::path::Path) -> Outbox {
        let settings = OutboxSettings {
            max_bytes: 1 << 20,
            when_full: WhenFull::DropClips,
            min_free_bytes: 0,
        };
        Outbox::open(dir, settings).await.expect("open")
    }

    /// Makes every new file write fail (the outbox's file folder replaced by a file) until
    /// the returned closure puts the folder back.
    fn break_files(dir: &std::path::Path) -> impl FnOnce() + use<> {
        let blobs = dir.join("blobs");
        let kept = dir.join("blobs.kept");
        std::fs::rename(&blobs, &kept).expect("move");
        std::fs::write(&blobs, b"not a folder").expect("file");
        move || {
            std::fs::remove_file(&blobs).expect("remove");
            std::fs::rename(&kept, &blobs).expect("restore");
        }
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            first_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            complete_for: Duration::from_secs(3600),
            max_waiting: 2,
        }
    }

    #[tokio::test]
    async fn an_event_that_cannot_be_stored_waits_and_is_stored_when_it_can() {
        let dir = tempfile::tempdir().expect("tmp");
        let ob = open(dir.path()).await;
        let counters = Arc::new(WriterCounters::default());
        let mut w = Writer::new(ob.clone(), quick(), counters.clone());
        let restore = break_files(dir.path());
        assert!(matches!(
            w.store(entry("e1", false, b"one")).await,
            Outcome::Waiting { attempts: 1, .. }
        ));
        assert!(!w.is_full());
        assert!(matches!(
            w.store(entry("e2", false, b"two")).await,
            Outcome::Waiting { .. }
        ));
        assert!(w.is_full(), "two wait: the stage takes no more");
        let again = w.retry().await;
        assert!(
            again
                .iter()
                .all(|(_, _, o)| matches!(o, Outcome::Waiting { attempts: 2, .. }))
        );
        assert_eq!(ob.depth().await.expect("depth"), 0);
        restore();
        let stored = w.retry().await;
        assert_eq!(
            stored,
            vec![
                ("e1".into(), false, Outcome::Stored(Stored::Kept)),
                ("e2".into(), false, Outcome::Stored(Stored::Kept)),
            ],
            "in the order they were seen"
        );
        assert_eq!(w.waiting(), 0);
        assert_eq!(counters.recovered.load(Ordering::Relaxed), 2);
        assert_eq!(counters.retries.load(Ordering::Relaxed), 4);
        assert_eq!(counters.waiting.load(Ordering::Relaxed), 0);
        let ids: Vec<_> = ob
            .pending(10)
            .await
            .expect("pending")
            .into_iter()
            .map(|p| p.event_id)
            .collect();
        assert_eq!(ids, ["e1", "e2"]);
        assert!(ob.verify().await.expect("verify").is_empty());
    }

    #[tokio::test]
    async fn a_complete_event_that_cannot_be_stored_lets_its_journal_entry_go_out_while_running() {
        let dir = tempfile::tempdir().expect("tmp");
        let ob = open(dir.path()).await;
        let counters = Arc::new(WriterCounters::default());
        let policy = RetryPolicy {
            complete_for: Duration::ZERO,
            ..quick()
        };
        let mut w = Writer::new(ob.clone(), policy, counters.clone());
        assert_eq!(
            w.store(entry("e1", true, b"journal")).await,
            Outcome::Stored(Stored::Kept)
        );
        assert_eq!(ob.depth().await.expect("depth"), 0, "held back");
        let _broken = break_files(dir.path());
        assert!(matches!(
            w.store(entry("e1", false, b"complete")).await,
            Outcome::Waiting { .. }
        ));
        assert_eq!(
            w.retry().await,
            vec![("e1".into(), false, Outcome::DeliveredAsJournaled)]
        );
        assert_eq!(w.waiting(), 0);
        assert_eq!(counters.delivered_as_journaled.load(Ordering::Relaxed), 1);
        let pending = ob.pending(10).await.expect("pending");
        assert_eq!(pending.len(), 1, "the journal entry is delivered now");
        assert_eq!(pending[0].payload, b"e1 true");
    }

    #[tokio::test]
    async fn an_event_without_a_journal_entry_is_never_given_up() {
        let dir = tempfile::tempdir().expect("tmp");
        let ob = open(dir.path()).await;
        let policy = RetryPolicy {
            complete_for: Duration::ZERO,
            ..quick()
        };
        let mut w = Writer::new(ob.clone(), policy, Arc::default());
        let restore = break_files(dir.path());
        w.store(entry("e1", false, b"complete")).await;
        for _ in 0..3 {
            assert!(matches!(
                w.retry().await.as_slice(),
                [(_, false, Outcome::Waiting { .. })]
            ));
        }
        restore();
        assert_eq!(
            w.retry().await,
            vec![("e1".into(), false, Outcome::Stored(Stored::Kept))]
        );
    }
}
