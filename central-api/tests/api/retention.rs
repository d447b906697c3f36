//! Retention with the clock moved forward: a case rejected at review is purged after its
//! period (rows, evidence blobs no other case uses, the personal details of its audit
//! entries), leaves a tombstone that keeps a replay of its event out, and a legal hold keeps a
//! case until it is lifted; old dead letters and expired sessions go; a purge cut short before
//! its blobs are deleted is finished by the next sweep; the evidence files of a closed case go
//! once the year for a lawsuit has passed, the case itself staying. On PostgreSQL and SQLite
//! alike.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::http::StatusCode;
use bytes::Bytes;
use central_api::{
    audit::AuditLog,
    auth::Role,
    db::{
        evidence,
        retention::{CLOSED, REJECTED, RetentionSettings, Swept, sweep},
        violations,
    },
    evidence_store::{Backend, EvidenceStore, StoreError, StoreFuture},
    ingest::{Ingest, IngestMetrics, Outcome},
};
use protocol::{EventId, FineChange, Sha256Digest, Topic, UtcTimestamp, ViolationEvent, wire};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::{
    helpers::{TestDb, audit_actions, count, on_both_engines, report},
    review::{Session, World, world},
};

/// Stores `bytes` as an evidence blob sent by the world's device.
async fn keep_blob(w: &World, store: &EvidenceStore, bytes: &[u8]) -> Sha256Digest {
    let sha = Sha256Digest::of(bytes);
    let body = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::copy_from_slice(bytes))]);
    store.put(&sha, body, 1 << 20, "image/jpeg").await.unwrap();
    evidence::insert(
        &w.db,
        evidence::NewBlob {
            sha256: &sha,
            bytes: bytes.len() as u64,
            content_type: "image/jpeg",
            storage_key: &EvidenceStore::key(&sha),
            device_id: w.device.as_str(),
        },
    )
    .await
    .unwrap();
    sha
}

/// A red light of 51F-123.45 whose evidence is `files`, stored (blobs too) and pending review;
/// its signed bytes as sent.
async fn pending_with(w: &World, store: &EvidenceStore, files: &[&[u8]]) -> (EventId, Vec<u8>) {
    let mut event = ViolationEvent::example_now(w.device.clone(), EventId::new());
    event.evidence.truncate(files.len());
    for (item, bytes) in event.evidence.iter_mut().zip(files) {
        item.sha256 = keep_blob(w, store, bytes).await;
        item.bytes = bytes.len() as u64;
    }
    let payload = wire::encode_signed(&event, &w.key).unwrap();
    let id = w.pending_event(event).await;
    (id, payload)
}

async fn reject(w: &World, reviewer: &Session, id: EventId) {
    let (status, body) = w
        .call(reviewer.post(
            &format!("/api/v1/violations/{id}/reject"),
            json!({ "reason": "not_a_violation" }),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn swept_at(w: &World, store: &EvidenceStore, days: i64) -> Swept {
    sweep(
        &w.db,
        &AuditLog::new(w.db.clone()),
        store,
        &RetentionSettings::default(),
        OffsetDateTime::now_utc() + Duration::days(days),
    )
    .await
    .unwrap()
}

pub(crate) async fn a_rejected_case_is_purged_after_its_period_and_its_replay_is_not_stored_again(
    t: &TestDb,
) {
    let w = world(t).await;
    let store = EvidenceStore::open(w.dir.path()).unwrap();
    let reviewer = w.sign_in(Role::Reviewer).await;
    let shared: &[u8] = b"\xff\xd8 the same frame in two cases";
    let (rejected, payload) =
        pending_with(&w, &store, &[b"\xff\xd8 only the rejected case", shared]).await;
    let (pending, _) = pending_with(&w, &store, &[shared]).await;
    reject(&w, &reviewer, rejected).await;
    let own = Sha256Digest::of(b"\xff\xd8 only the rejected case");
    let shared = Sha256Digest::of(shared);

    // Within the period nothing goes.
    let early = swept_at(
        &w,
        &store,
        RetentionSettings::default().rejected_days as i64 - 1,
    )
    .await;
    assert!(early.purged.is_empty(), "{early:?}");
    assert!(violations::get(&w.db, &rejected).await.unwrap().is_some());

    let swept = swept_at(&w, &store, 91).await;
    // The sweep's clock is 91 days on: the sessions of today have expired and gone.
    let reviewer = w.sign_in(Role::Reviewer).await;
    assert_eq!(swept.purged[REJECTED], [*rejected.as_uuid()]);
    assert_eq!(swept.blobs_deleted, 1, "the blob no other case names");
    assert!(violations::get(&w.db, &rejected).await.unwrap().is_none());
    assert!(!store.contains(&own).await.unwrap());
    assert!(!evidence::exists(&w.db, &own).await.unwrap());
    assert!(
        store.contains(&shared).await.unwrap(),
        "the pending case's blob stays"
    );
    assert!(violations::get(&w.db, &pending).await.unwrap().is_some());
    let (status, body) = w
        .call(reviewer.get(&format!("/api/v1/violations/{rejected}")))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::GONE, Some("purged"))
    );

    // The audit trail keeps what happened, not the plate; the chain still verifies.
    let log = AuditLog::new(w.db.clone());
    assert!(matches!(log.verify().await.unwrap(), Ok(n) if n > 0));
    let trail = log
        .for_subject(&format!("violation:{rejected}"))
        .await
        .unwrap();
    let (last, earlier) = trail.split_last().unwrap();
    assert_eq!(last.action, "retention.purged");
    assert!(earlier.len() >= 2, "{trail:?}");
    for e in earlier {
        assert_eq!(e.details, serde_json::Value::Null, "{e:?}");
        assert!(e.erased_at.is_some());
    }
    let subject = format!("violation:{rejected}");
    let plate_left = count(
        &w.db,
        &format!(
            "SELECT COUNT(*) FROM audit_log WHERE subject = '{subject}' AND details LIKE '%51F12345%'"
        ),
    )
    .await;
    assert_eq!(plate_left, 0);
    let pending_trail = log
        .for_subject(&format!("violation:{pending}"))
        .await
        .unwrap();
    assert!(
        pending_trail
            .iter()
            .any(|e| e.details.to_string().contains("51F12345")),
        "another case's details stay"
    );
    // Blanked details cannot be written back, nor a live case's erased.
    assert!(
        crate::helpers::raw(
            &w.db,
            &format!("UPDATE audit_log SET details = '{{}}' WHERE subject = '{subject}'")
        )
        .await
        .is_err()
    );
    assert!(
        crate::helpers::raw(
            &w.db,
            &format!(
                "UPDATE audit_log SET details = 'null', erased_at = 'now'
                 WHERE subject = 'violation:{pending}'"
            )
        )
        .await
        .is_err()
    );

    // The device sends the event again: acknowledged, not stored, no dead letter.
    let dead_before = count(&w.db, "SELECT COUNT(*) FROM dead_letters").await;
    let outcome = Ingest::new(w.db.clone(), IngestMetrics::default())
        .handle(&Topic::Violation(w.device.clone()).to_string(), &payload)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Purged(rejected));
    assert_eq!(outcome.ack(), Some(rejected));
    assert!(violations::get(&w.db, &rejected).await.unwrap().is_none());
    assert_eq!(
        count(&w.db, "SELECT COUNT(*) FROM dead_letters").await,
        dead_before
    );

    // A second sweep has nothing left to do.
    let again = swept_at(&w, &store, 92).await;
    assert!(
        again.purged.is_empty() && again.blobs_deleted == 0,
        "{again:?}"
    );
    assert!(log.verify().await.unwrap().is_ok());
}

async fn a_legal_hold_keeps_a_case_until_it_is_lifted(t: &TestDb) {
    let w = world(t).await;
    let store = EvidenceStore::open(w.dir.path()).unwrap();
    let reviewer = w.sign_in(Role::Reviewer).await;
    let supervisor = w.sign_in(Role::Supervisor).await;
    let (id, _) = pending_with(&w, &store, &[b"\xff\xd8 held"]).await;
    reject(&w, &reviewer, id).await;
    let hold = format!("/api/v1/violations/{id}/legal-hold");
    let reason = json!({ "reason": "Khiếu nại số 12/KN đang giải quyết" });

    let (status, _) = w.call(reviewer.send("PUT", &hold, reason.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a reviewer sets no hold");
    let (status, _) = w
        .call(supervisor.send("PUT", &hold, json!({ "reason": " " })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = w.call(supervisor.send("PUT", &hold, reason.clone())).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let held = swept_at(&w, &store, 400).await;
    assert!(held.purged.is_empty(), "{held:?}");
    let supervisor = w.sign_in(Role::Supervisor).await;
    let (_, one) = w
        .call(supervisor.get(&format!("/api/v1/violations/{id}")))
        .await;
    assert_eq!(one["legal_hold"]["reason"], reason["reason"]);
    assert_eq!(one["legal_hold"]["by"], "officer:supervisor");
    let actions = audit_actions(&one);
    assert!(actions.contains(&"legal_hold.set"), "{actions:?}");

    let (status, _) = w.call(supervisor.send("DELETE", &hold, json!({}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, one) = w
        .call(supervisor.get(&format!("/api/v1/violations/{id}")))
        .await;
    assert!(one["legal_hold"].is_null());
    assert!(audit_actions(&one).contains(&"legal_hold.lifted"));

    let lifted = swept_at(&w, &store, 400).await;
    assert_eq!(lifted.purged[REJECTED], [*id.as_uuid()]);
    let supervisor = w.sign_in(Role::Supervisor).await;
    let (status, _) = w.call(supervisor.send("PUT", &hold, reason)).await;
    assert_eq!(status, StatusCode::GONE);
}

/// Reports case `fine_id` paid, as citizen-notify would.
pub(crate) async fn paid(w: &World, fine_id: uuid::Uuid) {
    let change = FineChange::Paid {
        amount_vnd: 19_000_000,
        transaction_no: "14123456".into(),
        paid_at: UtcTimestamp::now(),
    };
    report(&w.db, fine_id, change).await;
}

async fn the_evidence_of_a_closed_case_goes_after_the_lawsuit_year_and_the_case_stays(t: &TestDb) {
    let w = world(t).await;
    let store = EvidenceStore::open(w.dir.path()).unwrap();
    let reviewer = w.sign_in(Role::Reviewer).await;
    let (closed, payload) = pending_with(&w, &store, &[b"\xff\xd8 the paid case"]).await;
    let (_, closed_fine, _) = w.approved(&reviewer, closed).await;
    paid(&w, closed_fine).await;
    let (open, _) = pending_with(&w, &store, &[b"\xff\xd8 the case still open"]).await;
    w.approved(&reviewer, open).await;
    let (held, _) = pending_with(&w, &store, &[b"\xff\xd8 the case in court"]).await;
    let (_, held_fine, _) = w.approved(&reviewer, held).await;
    paid(&w, held_fine).await;
    let supervisor = w.sign_in(Role::Supervisor).await;
    let (status, _) = w
        .call(supervisor.send(
            "PUT",
            &format!("/api/v1/violations/{held}/legal-hold"),
            json!({ "reason": "Vụ án hành chính đang thụ lý" }),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let file = |bytes: &[u8]| Sha256Digest::of(bytes);

    let days = RetentionSettings::default().closed_evidence_days as i64;
    assert!(days > 365, "the lawsuit year passes first");
    let early = swept_at(&w, &store, days - 1).await;
    assert!(early.purged.is_empty(), "{early:?}");
    assert!(
        store
            .contains(&file(b"\xff\xd8 the paid case"))
            .await
            .unwrap()
    );

    let swept = swept_at(&w, &store, days + 1).await;
    assert_eq!(swept.purged[CLOSED], [*closed.as_uuid()], "{swept:?}");
    assert_eq!(swept.blobs_deleted, 1);
    assert!(
        !store
            .contains(&file(b"\xff\xd8 the paid case"))
            .await
            .unwrap()
    );
    for kept in [
        &b"\xff\xd8 the case still open"[..],
        b"\xff\xd8 the case in court",
    ] {
        assert!(store.contains(&file(kept)).await.unwrap());
    }

    // The case stays, with its decision, its plate and its trail; it says its files went.
    let stored = violations::get(&w.db, &closed).await.unwrap().unwrap();
    assert_eq!(
        stored
            .evidence_deleted
            .as_ref()
            .map(|(rule, _)| rule.as_str()),
        Some(CLOSED)
    );
    assert_eq!(
        stored.event.evidence.len(),
        1,
        "the signed event names the file"
    );
    let supervisor = w.sign_in(Role::Supervisor).await;
    let (status, one) = w
        .call(supervisor.get(&format!("/api/v1/violations/{closed}")))
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["evidence_deleted"]["rule"], CLOSED);
    assert_eq!(one["fine"]["status"], "paid");
    assert_eq!(one["evidence_missing"], json!([]));
    let actions = audit_actions(&one);
    assert_eq!(
        actions.last(),
        Some(&"retention.evidence_deleted"),
        "{actions:?}"
    );
    assert!(
        one["audit"].to_string().contains("51F12345"),
        "details kept"
    );
    let html =
        crate::disputes::page(&w, &supervisor, &format!("/review/violations/{closed}")).await;
    assert!(html.contains("id=\"evidence-deleted\""), "{html}");
    assert!(!html.contains("id=\"main-image\""));
    let (_, open_one) = w
        .call(supervisor.get(&format!("/api/v1/violations/{open}")))
        .await;
    assert!(open_one["evidence_deleted"].is_null());
    assert!(AuditLog::new(w.db.clone()).verify().await.unwrap().is_ok());

    // A replay of the event is the same event: acknowledged, its files not asked for again.
    let outcome = Ingest::new(w.db.clone(), IngestMetrics::default())
        .handle(&Topic::Violation(w.device.clone()).to_string(), &payload)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Duplicate(closed));
    assert!(evidence::missing(&w.db, &closed).await.unwrap().is_empty());

    let again = swept_at(&w, &store, days + 2).await;
    assert!(
        again.purged.is_empty() && again.blobs_deleted == 0,
        "{again:?}"
    );

    // The open case is time-barred undecided a year after its day: closed from then on.
    let bar = OffsetDateTime::now_utc() + Duration::days(366);
    let barred = central_api::db::deadlines::sweep(&w.db, &AuditLog::new(w.db.clone()), bar)
        .await
        .unwrap();
    assert_eq!(barred.barred.len(), 1, "{barred:?}");
    let within = swept_at(&w, &store, 366 + days - 1).await;
    assert!(within.purged.is_empty(), "{within:?}");
    let after = swept_at(&w, &store, 366 + days + 1).await;
    assert_eq!(after.purged[CLOSED], [*open.as_uuid()]);
}

/// A store whose deletions fail while `down` is set: the object store unreachable, or the
/// process stopped, between a purge and its blobs' deletion.
#[derive(Debug)]
struct Flaky {
    inner: Arc<dyn Backend>,
    down: Arc<AtomicBool>,
}

impl Backend for Flaky {
    fn keep<'a>(
        &'a self,
        key: &'a str,
        sha256: &'a Sha256Digest,
        spooled: &'a std::path::Path,
        size: u64,
        content_type: &'a str,
    ) -> StoreFuture<'a, ()> {
        self.inner.keep(key, sha256, spooled, size, content_type)
    }
    fn size<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<u64>> {
        self.inner.size(key)
    }
    fn read<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Bytes>> {
        self.inner.read(key)
    }
    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        if self.down.load(Ordering::SeqCst) {
            return Box::pin(async { Err(StoreError::Unavailable("connection refused".into())) });
        }
        self.inner.remove(key)
    }
    fn describe(&self) -> String {
        "flaky".into()
    }
}

async fn a_purge_cut_short_before_its_blobs_go_is_finished_by_the_next_sweep(t: &TestDb) {
    let w = world(t).await;
    let down = Arc::new(AtomicBool::new(true));
    let files = central_api::evidence_store::Files::open(w.dir.path()).unwrap();
    let store = EvidenceStore::with_backend(
        w.dir.path(),
        Arc::new(Flaky {
            inner: Arc::new(files),
            down: down.clone(),
        }),
    )
    .unwrap();
    let reviewer = w.sign_in(Role::Reviewer).await;
    let (id, _) = pending_with(&w, &store, &[b"\xff\xd8 cut short"]).await;
    reject(&w, &reviewer, id).await;
    let sha = Sha256Digest::of(b"\xff\xd8 cut short");

    let failed = sweep(
        &w.db,
        &AuditLog::new(w.db.clone()),
        &store,
        &RetentionSettings::default(),
        OffsetDateTime::now_utc() + Duration::days(91),
    )
    .await;
    assert!(failed.is_err(), "the store refused the deletion");
    assert!(
        violations::get(&w.db, &id).await.unwrap().is_none(),
        "the case is purged"
    );
    assert!(store.contains(&sha).await.unwrap(), "its blob not yet");

    down.store(false, Ordering::SeqCst);
    let finished = swept_at(&w, &store, 91).await;
    assert_eq!(finished.blobs_deleted, 1);
    assert!(!store.contains(&sha).await.unwrap());
    assert_eq!(
        count(&w.db, "SELECT COUNT(*) FROM evidence_deletions").await,
        0
    );
    assert!(AuditLog::new(w.db.clone()).verify().await.unwrap().is_ok());
}

async fn old_dead_letters_and_expired_sessions_go(t: &TestDb) {
    let w = world(t).await;
    let store = EvidenceStore::open(w.dir.path()).unwrap();
    let reviewer = w.sign_in(Role::Reviewer).await;
    let ingest = Ingest::new(w.db.clone(), IngestMetrics::default());
    let refused = ingest
        .handle(
            &Topic::Violation(w.device.clone()).to_string(),
            b"{ not an event, but it names 51F-123.45",
        )
        .await
        .unwrap();
    assert!(matches!(refused, Outcome::Refused { .. }));
    let today = swept_at(&w, &store, 0).await;
    assert_eq!((today.dead_letters_deleted, today.sessions_deleted), (0, 0));
    let (status, _) = w.call(reviewer.get("/api/v1/violations")).await;
    assert_eq!(status, StatusCode::OK);

    let next_day = swept_at(&w, &store, 1).await;
    assert!(next_day.sessions_deleted >= 1, "{next_day:?}");
    let (status, _) = w.call(reviewer.get("/api/v1/violations")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let kept = swept_at(&w, &store, 29).await;
    assert_eq!(kept.dead_letters_deleted, 0);
    assert_eq!(count(&w.db, "SELECT COUNT(*) FROM dead_letters").await, 1);
    let gone = swept_at(&w, &store, 31).await;
    assert_eq!(gone.dead_letters_deleted, 1);
    assert_eq!(count(&w.db, "SELECT COUNT(*) FROM dead_letters").await, 0);
}

on_both_engines!(
    a_rejected_case_is_purged_after_its_period_and_its_replay_is_not_stored_again,
    a_legal_hold_keeps_a_case_until_it_is_lifted,
    a_purge_cut_short_before_its_blobs_go_is_finished_by_the_next_sweep,
    old_dead_letters_and_expired_sessions_go,
    the_evidence_of_a_closed_case_goes_after_the_lawsuit_year_and_the_case_stays,
);
