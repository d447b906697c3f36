//! The evidence stage: one thread that takes each violation the cameras hand over (a `Job`),
//! builds its package ([`super::package`]), signs it and stores it in the outbox. Journal
//! entries go before complete events; a full outbox writer holds the cameras back rather than
//! drop anything; what cannot be stored yet is retried, and what is left at a stop goes out as
//! its journal entry at the next start.

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
        mpsc::Receiver,
    },
    thread,
    time::{Duration, Instant},
};

use plate_ocr::PlateReader;
use protocol::{UtcTimestamp, wire};
use tracing::{error, info, warn};

use crate::{
    camera::{Due, Paired},
    config::CameraConfig,
    evidence::{clip::FrameBoxes, package::build_event},
    outbox::{
        NewFile, Stored,
        writer::{Entry, Outcome, RetryPolicy, Writer},
    },
    pairing::View,
    pipeline::Shared,
};

/// Counters of the evidence stage.
#[derive(Debug, Default)]
pub struct EvidenceCounters {
    pub stored: AtomicU64,
    pub without_clip: AtomicU64,
    pub refused: AtomicU64,
    pub unread_plates: AtomicU64,
    pub errors: AtomicU64,
}

/// A violation ready for its evidence; `provisional`: journaled as soon as it is seen, with
/// what there is, until the complete event replaces it.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) provisional: bool,
    pub(crate) camera: Arc<CameraConfig>,
    pub(crate) due: Due,
    pub(crate) views: Vec<View>,
    /// The plate camera's view of the vehicle, when it has one that saw it.
    pub(crate) paired: Option<Paired>,
    pub(crate) clip: Vec<crate::ingest::AccessUnit>,
    /// What the detector saw over the clip, the offender left out: what its masked copy hides.
    pub(crate) clip_boxes: Vec<FrameBoxes>,
    /// Unix ms of camera time 0.
    pub(crate) utc_of: i64,
}

/// The models the evidence stage runs: the plate reader, and the people detector of the masked
/// copies (`None` where `models.people_detector` is empty).
#[derive(Debug)]
pub(crate) struct EvidenceModels {
    pub(crate) reader: PlateReader,
    pub(crate) people: Option<crate::detect::PeopleDetector>,
}

#[tracing::instrument(name = "evidence", skip_all)]
pub(crate) fn evidence_thread(
    jobs: &Receiver<Job>,
    models: &EvidenceModels,
    shared: &Shared,
    settings: &crate::config::EvidenceSettings,
    rt: &tokio::runtime::Runtime,
) {
    let scratch = std::env::temp_dir();
    let mut queue = VecDeque::new();
    let mut writer = Writer::new(
        shared.outbox.clone(),
        RetryPolicy::default(),
        shared.writer.clone(),
    );
    loop {
        for (id, provisional, outcome) in rt.block_on(writer.retry()) {
            account(shared, false, &id, provisional, &outcome);
        }
        // As many wait in memory as the stage keeps: no new job until one is stored.
        let wait = writer.next_retry_in();
        let job = if writer.is_full() {
            thread::sleep(wait.unwrap_or(Duration::from_millis(100)));
            continue;
        } else {
            match next_job(jobs, &mut queue, |j: &Job| j.provisional, wait) {
                Next::Job(job) => job,
                Next::Idle => continue,
                Next::Closed => break,
            }
        };
        // Every line logged while this violation is packaged and stored names its camera and
        // kind.
        let _violation = tracing::info_span!(
            "violation",
            camera = %job.camera.id,
            kind = %job.due.finding.kind
        )
        .entered();
        let entry = build_event(&job, models, shared, settings, &scratch).and_then(
            |(event, files, clip)| {
                let payload = wire::encode_signed(&event, &shared.key)?;
                // The manifest lists the files in order, each hashed once when it was made;
                // the outbox takes the bytes as they are.
                let files = files
                    .into_iter()
                    .zip(&event.evidence)
                    .map(|(f, item)| NewFile {
                        sha256: item.sha256.to_hex(),
                        name: f.name,
                        content_type: f.content_type.into(),
                        bytes: f.bytes,
                    })
                    .collect();
                let plate_read = event.plate.is_some();
                let entry = Entry {
                    event_id: event.event_id.to_string(),
                    payload,
                    files,
                    clip,
                    provisional: job.provisional,
                    created_ms: UtcTimestamp::now().unix_ms(),
                };
                anyhow::Ok((entry, plate_read))
            },
        );
        match entry {
            Ok((entry, plate_read)) => {
                let id = entry.event_id.clone();
                let outcome = rt.block_on(writer.store(entry));
                account(shared, plate_read, &id, job.provisional, &outcome);
            }
            Err(e) => {
                shared.evidence.errors.fetch_add(1, Ordering::Relaxed);
                error!(error = %format!("{e:#}"), "evidence not built");
            }
        }
    }
    // Stopping: what still waits is tried for a while longer; a journal entry of what is left
    // goes out at the next start.
    let until = Instant::now() + STOP_RETRY;
    while writer.waiting() > 0 && Instant::now() < until {
        thread::sleep(writer.next_retry_in().unwrap_or_default());
        for (id, provisional, outcome) in rt.block_on(writer.retry()) {
            account(shared, false, &id, provisional, &outcome);
        }
    }
    if writer.waiting() > 0 {
        error!(
            violations = writer.waiting(),
            "violations not stored when the agent stopped (those journaled go out at the next start)"
        );
    }
}

/// How long a stopping agent keeps trying to store what waits in memory.
pub(crate) const STOP_RETRY: Duration = Duration::from_secs(10);

/// Counts and logs what became of an event handed to the outbox. The log says whether a plate
/// was read, never which: a plate is personal data, and logs are kept and shipped apart from
/// the evidence, under other rules. Its camera and kind are the enclosing `violation` span's (a
/// retry of an earlier store has none).
pub(crate) fn account(
    shared: &Shared,
    plate_read: bool,
    id: &str,
    provisional: bool,
    outcome: &Outcome,
) {
    let stored = match outcome {
        Outcome::Waiting { .. } => return,
        Outcome::DeliveredAsJournaled => {
            shared.evidence.stored.fetch_add(1, Ordering::Relaxed);
            shared.wake.notify_one();
            return;
        }
        Outcome::Stored(stored) => *stored,
    };
    if provisional {
        match stored {
            Stored::Kept => {
                info!(event = %id, "violation journaled")
            }
            other => {
                warn!(event = %id, outcome = ?other, "violation not journaled")
            }
        }
        return;
    }
    match stored {
        Stored::Kept | Stored::Duplicate => {
            shared.evidence.stored.fetch_add(1, Ordering::Relaxed);
            info!(event = %id, plate_read, "violation stored");
        }
        Stored::KeptWithoutClip => {
            shared.evidence.stored.fetch_add(1, Ordering::Relaxed);
            shared.evidence.without_clip.fetch_add(1, Ordering::Relaxed);
            warn!(
                event = %id,
                disk_full = shared.outbox.disk_full(),
                "outbox full: violation stored without its clip"
            );
        }
        Stored::Refused => {
            shared.evidence.refused.fetch_add(1, Ordering::Relaxed);
            error!(
                event = %id,
                disk_full = shared.outbox.disk_full(),
                "outbox full: violation refused"
            );
        }
    }
    shared.wake.notify_one();
}

/// What [`next_job`] found.
pub(crate) enum Next<T> {
    Job(T),
    /// Nothing came within the wait.
    Idle,
    /// The cameras have stopped and nothing is left.
    Closed,
}

/// The next job: the jobs waiting are taken from the channel (as many as it holds, so a slow
/// stage still holds the cameras back), `urgent` ones (journal entries) first — each is what a
/// crash would otherwise lose, and none is moved after its own complete event, which its camera
/// sent later. Waits for one at most `wait` when given.
pub(crate) fn next_job<T>(
    jobs: &Receiver<T>,
    queue: &mut VecDeque<T>,
    urgent: impl Fn(&T) -> bool,
    wait: Option<Duration>,
) -> Next<T> {
    if queue.is_empty() {
        let got = match wait {
            None => jobs.recv().map_err(|_| true),
            Some(wait) => jobs
                .recv_timeout(wait)
                .map_err(|e| matches!(e, std::sync::mpsc::RecvTimeoutError::Disconnected)),
        };
        match got {
            Ok(job) => queue.push_back(job),
            Err(true) => return Next::Closed,
            Err(false) => return Next::Idle,
        }
    }
    while queue.len() < JOBS_WAITING {
        match jobs.try_recv() {
            Ok(job) => queue.push_back(job),
            Err(_) => break,
        }
    }
    let first = queue.iter().position(urgent).unwrap_or(0);
    queue.remove(first).map_or(Next::Closed, Next::Job)
}

/// Jobs the evidence stage's channel holds (and as many again taken from it, waiting).
pub(crate) const JOBS_WAITING: usize = 16;

#[cfg(test)]
mod tests {
    use std::sync::mpsc::sync_channel;

    use super::*;

    #[test]
    fn journal_entries_go_first_and_nothing_is_lost_or_reordered_otherwise() {
        let (tx, rx) = sync_channel::<(char, u32)>(JOBS_WAITING);
        // Complete events 1 and 2 waiting, then the journal entries of 3 and 4.
        for job in [('c', 1), ('c', 2), ('j', 3), ('j', 4)] {
            tx.send(job).expect("send");
        }
        drop(tx);
        let mut queue = VecDeque::new();
        let mut order = Vec::new();
        while let Next::Job(job) = next_job(&rx, &mut queue, |j| j.0 == 'j', None) {
            order.push(job);
        }
        assert_eq!(order, [('j', 3), ('j', 4), ('c', 1), ('c', 2)]);
    }

    #[test]
    fn waiting_for_a_job_ends_when_a_retry_is_due() {
        let (tx, rx) = sync_channel::<u32>(JOBS_WAITING);
        let mut queue = VecDeque::new();
        let wait = Some(Duration::from_millis(10));
        assert!(matches!(
            next_job(&rx, &mut queue, |_| false, wait),
            Next::Idle
        ));
        tx.send(7).expect("send");
        assert!(matches!(
            next_job(&rx, &mut queue, |_| false, wait),
            Next::Job(7)
        ));
        drop(tx);
        assert!(matches!(
            next_job(&rx, &mut queue, |_| false, wait),
            Next::Closed
        ));
    }
}
