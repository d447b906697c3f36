//! Owner lookup: the registered owner of the plate (text and colour) is found and the violation
//! enters the review queue; an unregistered plate or no plate is still reviewable and says so;
//! a registry that cannot answer leaves the violation to be tried again.

use central_api::{
    audit::AuditLog,
    db::{
        Db, devices,
        violations::{self, Status},
    },
    ingest::{Ingest, IngestMetrics},
    owners::{
        LookupError, LookupFuture, OwnerLookup, RegistryTable, ResidentFuture, process_pending,
    },
};
use protocol::{DeviceId, DeviceKey, EventId, PlateColour, Topic, ViolationEvent, wire};

use crate::helpers::{TestDb, audit_writable, on_both_engines, owner, seed_registry};

/// A registry that is down.
#[derive(Debug)]
struct Down;

impl OwnerLookup for Down {
    fn lookup<'a>(&'a self, _: &'a str, _: PlateColour) -> LookupFuture<'a> {
        Box::pin(async { Err(LookupError::Unavailable("connection refused".into())) })
    }

    fn resident<'a>(&'a self, _: &'a protocol::CitizenId) -> ResidentFuture<'a> {
        Box::pin(async { Err(LookupError::Unavailable("connection refused".into())) })
    }
}

/// One sweep of the owner-lookup worker with `lookup`; the number moved to the review queue.
async fn sweep(db: &Db, lookup: &dyn OwnerLookup) -> usize {
    process_pending(db, &AuditLog::new(db.clone()), lookup, 100)
        .await
        .unwrap()
}

/// Registers 51F-123.45 (white) to a citizen, stores one violation per `plates` entry and
/// returns their ids.
async fn seed(db: &Db, plates: &[Option<(&str, PlateColour)>]) -> Vec<EventId> {
    seed_registry(db).await;
    let device = DeviceId::parse("hcm-q1-001").unwrap();
    let key = DeviceKey::from_seed([31; 32]);
    devices::register(db, &device, &key.public_key(), "")
        .await
        .unwrap();
    let ingest = Ingest::new(db.clone(), IngestMetrics::default());
    let mut ids = Vec::new();
    for plate in plates {
        let mut event = ViolationEvent::example_now(device.clone(), EventId::new());
        match plate {
            Some((text, colour)) => {
                let read = event.plate.as_mut().unwrap();
                read.text = (*text).into();
                read.colour = *colour;
            }
            None => event.plate = None,
        }
        let payload = wire::encode_signed(&event, &key).unwrap();
        ingest
            .handle(&Topic::Violation(device.clone()).to_string(), &payload)
            .await
            .unwrap();
        ids.push(event.event_id);
    }
    ids
}

async fn lookup_outcomes_and_the_review_queue(t: &TestDb) {
    let db = &t.db;
    let ids = seed(
        db,
        &[
            Some(("51F12345", PlateColour::White)),
            // Same characters, other colour: another plate in law.
            Some(("51F12345", PlateColour::Yellow)),
            Some(("59X112345", PlateColour::White)),
            None,
        ],
    )
    .await;
    let moved = sweep(db, &RegistryTable::new(db.clone(), None)).await;
    assert_eq!(moved, 4);
    let expected = [
        ("found", Some(owner())),
        ("not_registered", None),
        ("not_registered", None),
        ("no_plate", None),
    ];
    for (id, (lookup, citizen)) in ids.iter().zip(expected) {
        let v = violations::get(db, id).await.unwrap().unwrap();
        assert_eq!(v.status, Status::PendingReview);
        assert_eq!(v.owner_lookup.as_deref(), Some(lookup));
        assert_eq!(v.owner_citizen_id, citizen.map(|c| c.to_string()));
    }
    // Each step is in the audit log, and the chain holds.
    let audit = AuditLog::new(db.clone());
    let trail: Vec<String> = audit
        .for_subject(&format!("violation:{}", ids[0]))
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.actor, e.action))
        .collect();
    assert_eq!(
        trail,
        [
            "device:hcm-q1-001 violation.received",
            "system owner.lookup"
        ]
    );
    assert_eq!(audit.verify().await.unwrap(), Ok(8));

    // Nothing is left waiting, and a second sweep changes nothing.
    assert_eq!(sweep(db, &RegistryTable::new(db.clone(), None)).await, 0);
}

async fn a_registry_that_cannot_answer_is_tried_again(t: &TestDb) {
    let db = &t.db;
    let ids = seed(db, &[Some(("51F12345", PlateColour::White))]).await;
    assert_eq!(sweep(db, &Down).await, 0);
    let v = violations::get(db, &ids[0]).await.unwrap().unwrap();
    assert_eq!(v.status, Status::Received);
    assert_eq!(v.owner_lookup.as_deref(), Some("failed"));

    assert_eq!(sweep(db, &RegistryTable::new(db.clone(), None)).await, 1);
    let v = violations::get(db, &ids[0]).await.unwrap().unwrap();
    assert_eq!(v.status, Status::PendingReview);
    assert_eq!(v.owner_citizen_id, Some(owner().to_string()));
}

/// The move into the review queue and its audit entry commit together: while the entry cannot
/// be written the violation stays to be looked up again, and then moves with its entry.
async fn a_violation_enters_the_queue_only_with_its_audit_entry(t: &TestDb) {
    let ids = seed(&t.db, &[Some(("51F12345", PlateColour::White))]).await;
    audit_writable(&t.db, false).await;
    let failed = process_pending(
        &t.db,
        &AuditLog::new(t.db.clone()),
        &RegistryTable::new(t.db.clone(), None),
        100,
    )
    .await;
    assert!(failed.is_err());
    let v = violations::get(&t.db, &ids[0]).await.unwrap().unwrap();
    assert_eq!(v.status, Status::Received, "not moved unaudited");

    audit_writable(&t.db, true).await;
    assert_eq!(
        sweep(&t.db, &RegistryTable::new(t.db.clone(), None)).await,
        1
    );
    let v = violations::get(&t.db, &ids[0]).await.unwrap().unwrap();
    assert_eq!(v.status, Status::PendingReview);
    let trail = AuditLog::new(t.db.clone())
        .for_subject(&format!("violation:{}", ids[0]))
        .await
        .unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["violation.received", "owner.lookup"]);
    assert_eq!(trail[1].details["result"], "found");
}

on_both_engines!(
    a_violation_enters_the_queue_only_with_its_audit_entry,
    lookup_outcomes_and_the_review_queue,
    a_registry_that_cannot_answer_is_tried_again,
);
