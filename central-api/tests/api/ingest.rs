//! Ingest of valid, duplicate, conflicting, unsigned, forged, unknown-device, revoked, malformed,
//! oversized and misrouted events: each outcome, and the dead letter with its reason.

use central_api::{
    audit::AuditLog,
    db::{Db, dead_letters, devices, violations},
    ingest::{Delivery, Ingest, IngestMetrics, Outcome},
};
use protocol::{DeviceId, DeviceKey, EventId, Topic, ViolationEvent, wire};
use serde_json::Value;

use crate::helpers::{TestDb, audit_writable, on_both_engines};

struct World {
    ingest: Ingest,
    metrics: IngestMetrics,
    device: DeviceId,
    key: DeviceKey,
}

async fn world(db: &Db) -> World {
    let device = DeviceId::parse("hcm-q1-001").unwrap();
    let key = DeviceKey::from_seed([11; 32]);
    devices::register(db, &device, &key.public_key(), "Hàng Xanh")
        .await
        .unwrap();
    let metrics = IngestMetrics::default();
    World {
        ingest: Ingest::new(db.clone(), metrics.clone()),
        metrics,
        device,
        key,
    }
}

impl World {
    fn event(&self) -> ViolationEvent {
        ViolationEvent::example(self.device.clone(), EventId::new())
    }

    fn topic(&self) -> String {
        Topic::Violation(self.device.clone()).to_string()
    }

    fn signed(&self, event: &ViolationEvent) -> Vec<u8> {
        wire::encode_signed(event, &self.key).unwrap()
    }

    fn count(&self, outcome: &'static str) -> u64 {
        self.metrics
            .events
            .get_or_create(&vec![("outcome", outcome)])
            .get()
    }
}

/// The newest dead letter must be the one `outcome` names, with this code and payload.
async fn assert_dead_letter(db: &Db, outcome: &Outcome, code: &str, payload: &[u8]) {
    let id = match outcome {
        Outcome::Refused { dead_letter, .. }
        | Outcome::Conflict { dead_letter, .. }
        | Outcome::Parked { dead_letter, .. } => *dead_letter,
        other => panic!("expected a dead letter, got {other:?}"),
    };
    let letters = dead_letters::recent(db, 1).await.unwrap();
    let letter = &letters[0];
    assert_eq!(letter.id, id);
    assert_eq!(letter.reason_code, code);
    assert!(!letter.reason.is_empty());
    let kept = payload.len().min(dead_letters::MAX_KEPT_BYTES);
    assert_eq!(letter.payload, payload[..kept]);
    assert_eq!(letter.payload_bytes, payload.len() as i64);
}

async fn valid_event_is_stored_with_its_bytes_and_manifest(t: &TestDb) {
    let db = &t.db;
    let w = world(db).await;
    let event = w.event();
    let payload = w.signed(&event);
    let outcome = w.ingest.handle(&w.topic(), &payload).await.unwrap();
    assert_eq!(outcome, Outcome::Stored(event.event_id));
    assert_eq!(outcome.ack(), Some(event.event_id));

    let stored = violations::get(db, &event.event_id).await.unwrap().unwrap();
    assert_eq!(stored.event, event);
    assert_eq!(stored.payload, payload);
    assert_eq!(stored.status, violations::Status::Received);
    let manifest = violations::manifest(db, &event.event_id).await.unwrap();
    assert_eq!(manifest.len(), event.evidence.len());
    let at = event.evidence.iter().find(|e| e.name == "at.jpg").unwrap();
    assert!(manifest.contains(&("at.jpg".into(), at.sha256.to_hex(), at.bytes as i64)));
    assert_eq!(w.count("stored"), 1);
}

async fn a_replayed_event_is_acknowledged_again_not_stored_twice(t: &TestDb) {
    let db = &t.db;
    let w = world(db).await;
    let event = w.event();
    let payload = w.signed(&event);
    w.ingest.handle(&w.topic(), &payload).await.unwrap();
    let again = w.ingest.handle(&w.topic(), &payload).await.unwrap();
    assert_eq!(again, Outcome::Duplicate(event.event_id));
    assert_eq!(again.ack(), Some(event.event_id));
    assert_eq!(violations::count(db).await.unwrap(), 1);
    assert!(dead_letters::recent(db, 10).await.unwrap().is_empty());
}

async fn an_event_dated_ahead_of_centrals_clock_is_parked_with_its_reason(t: &TestDb) {
    let db = &t.db;
    let w = world(db).await;
    let now = protocol::UtcTimestamp::now().unix_ms();
    // The box's clock stepped ten minutes forward: parked, acknowledged, not a violation.
    let mut ahead = w.event();
    ahead.occurred_at = protocol::UtcTimestamp::from_unix_ms(now + 600_000).unwrap();
    let payload = w.signed(&ahead);
    let outcome = w.ingest.handle(&w.topic(), &payload).await.unwrap();
    assert!(
        matches!(outcome, Outcome::Parked { event_id, code: "occurred_in_future", .. } if event_id == ahead.event_id)
    );
    assert_eq!(
        outcome.ack(),
        Some(ahead.event_id),
        "the device need not send it again"
    );
    assert_dead_letter(db, &outcome, "occurred_in_future", &payload).await;
    let letter = &dead_letters::recent(db, 1).await.unwrap()[0];
    assert!(
        letter.reason.contains("ahead of central's clock"),
        "{}",
        letter.reason
    );
    assert!(
        violations::get(db, &ahead.event_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(w.count("occurred_in_future"), 1);
    // A few seconds ahead is within the skew: stored.
    let mut near = w.event();
    near.occurred_at = protocol::UtcTimestamp::from_unix_ms(now + 5_000).unwrap();
    let outcome = w.ingest.handle(&w.topic(), &w.signed(&near)).await.unwrap();
    assert_eq!(outcome, Outcome::Stored(near.event_id));
    // A stricter skew parks it.
    let strict = Ingest::new(db.clone(), IngestMetrics::default())
        .with_max_future(std::time::Duration::from_secs(1));
    let mut soon = w.event();
    soon.occurred_at = protocol::UtcTimestamp::from_unix_ms(now + 5_000).unwrap();
    assert!(matches!(
        strict.handle(&w.topic(), &w.signed(&soon)).await.unwrap(),
        Outcome::Parked { .. }
    ));
}

async fn the_first_of_two_different_events_with_one_id_stands(t: &TestDb) {
    let db = &t.db;
    let w = world(db).await;
    let first = w.event();
    w.ingest
        .handle(&w.topic(), &w.signed(&first))
        .await
        .unwrap();
    let mut second = first.clone();
    second.plate.as_mut().unwrap().text = "51F99999".into();
    let payload = w.signed(&second);
    let outcome = w.ingest.handle(&w.topic(), &payload).await.unwrap();
    assert!(matches!(outcome, Outcome::Conflict { event_id, .. } if event_id == first.event_id));
    assert_dead_letter(db, &outcome, "conflicting_duplicate", &payload).await;
    let stored = violations::get(db, &first.event_id).await.unwrap().unwrap();
    assert_eq!(stored.event, first);
}

async fn refused_events_become_dead_letters_with_their_reason(t: &TestDb) {
    let db = &t.db;
    let w = world(db).await;
    let event = w.event();
    let stranger_key = DeviceKey::from_seed([99; 32]);
    let stranger = DeviceId::parse("unknown-box").unwrap();

    let unsigned = {
        let mut v: Value = serde_json::from_slice(&w.signed(&event)).unwrap();
        v.as_object_mut().unwrap().remove("signature");
        serde_json_canonicalizer::to_vec(&v).unwrap()
    };
    let forged = wire::encode_signed(&event, &stranger_key).unwrap();
    let from_stranger = wire::encode_signed(
        &ViolationEvent::example(stranger.clone(), EventId::new()),
        &stranger_key,
    )
    .unwrap();
    let oversized = vec![b'{'; 200 * 1024];
    let other_device = DeviceId::parse("hcm-q3-007").unwrap();

    let cases: Vec<(&str, String, Vec<u8>, &str)> = vec![
        ("unsigned", w.topic(), unsigned, "missing_field"),
        ("forged", w.topic(), forged, "bad_signature"),
        (
            "unknown device",
            Topic::Violation(stranger).to_string(),
            from_stranger,
            "unknown_device",
        ),
        (
            "malformed",
            w.topic(),
            b"{\"schema\": \"tve.violation\"".to_vec(),
            "malformed_json",
        ),
        ("oversized", w.topic(), oversized, "oversized"),
        (
            "on another device's topic",
            Topic::Violation(other_device).to_string(),
            w.signed(&event),
            "device_mismatch",
        ),
        (
            "on a status topic",
            Topic::Status(w.device.clone()).to_string(),
            w.signed(&event),
            "wrong_topic",
        ),
    ];
    for (what, topic, payload, code) in cases {
        let outcome = w.ingest.handle(&topic, &payload).await.unwrap();
        assert!(
            matches!(outcome, Outcome::Refused { code: c, .. } if c == code),
            "{what}: {outcome:?}"
        );
        assert_eq!(outcome.ack(), None, "{what}");
        assert_dead_letter(db, &outcome, code, &payload).await;
        assert_eq!(w.count(code), 1, "{what}");
    }
    assert_eq!(violations::count(db).await.unwrap(), 0);
}

async fn a_revoked_device_is_refused_and_a_new_key_accepted(t: &TestDb) {
    let db = &t.db;
    let w = world(db).await;
    assert!(
        devices::revoke(
            db,
            &central_api::audit::AuditLog::new(db.clone()),
            "officer:admin",
            &w.device
        )
        .await
        .unwrap()
    );
    let payload = w.signed(&w.event());
    let outcome = w.ingest.handle(&w.topic(), &payload).await.unwrap();
    assert!(matches!(
        outcome,
        Outcome::Refused {
            code: "unknown_device",
            ..
        }
    ));
    // Its outbox sends the same event again and again: one dead letter, counted.
    for _ in 0..3 {
        let again = w.ingest.handle(&w.topic(), &payload).await.unwrap();
        assert_eq!(again, outcome, "the same dead letter");
    }
    let letters = dead_letters::recent(db, 10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].times, 4);

    // Re-registration with a rotated key: the old key no longer verifies, the new one does.
    let rotated = DeviceKey::from_seed([12; 32]);
    devices::register(db, &w.device, &rotated.public_key(), "Hàng Xanh")
        .await
        .unwrap();
    let outcome = w.ingest.handle(&w.topic(), &payload).await.unwrap();
    assert!(matches!(
        outcome,
        Outcome::Refused {
            code: "bad_signature",
            ..
        }
    ));
    let event = w.event();
    let outcome = w
        .ingest
        .handle(&w.topic(), &wire::encode_signed(&event, &rotated).unwrap())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Stored(event.event_id));
}

/// The violation and its audit entry commit together: while the entry cannot be written the
/// event is neither stored nor acknowledged, and its redelivery stores both.
async fn a_violation_is_stored_only_with_its_audit_entry(t: &TestDb) {
    let w = world(&t.db).await;
    audit_writable(&t.db, false).await;
    let event = w.event();
    let payload = w.signed(&event);
    let failed = w.ingest.handle(&w.topic(), &payload).await;
    assert!(failed.is_err(), "not acknowledged: {failed:?}");
    assert!(
        violations::get(&t.db, &event.event_id)
            .await
            .unwrap()
            .is_none(),
        "not stored unaudited"
    );

    audit_writable(&t.db, true).await;
    let again = w.ingest.handle(&w.topic(), &payload).await.unwrap();
    assert_eq!(again, Outcome::Stored(event.event_id));
    let trail = AuditLog::new(t.db.clone())
        .for_subject(&format!("violation:{}", event.event_id))
        .await
        .unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].action, "violation.received");
    assert_eq!(trail[0].details["plate"], "51F12345");
}

/// A batch, as the MQTT worker hands over what has arrived: each payload gets the outcome it
/// would get alone, in order — copies within the batch and of events stored before included —
/// and the events stored are audited in one step of the chain, which still verifies.
async fn a_batch_gets_each_payloads_own_outcome_in_one_step(t: &TestDb) {
    let db = &t.db;
    let w = world(db).await;
    let before = w.event();
    w.ingest
        .handle(&w.topic(), &w.signed(&before))
        .await
        .unwrap();
    let (first, second, third) = (w.event(), w.event(), w.event());
    let mut rival = first.clone();
    rival.plate.as_mut().unwrap().text = "51F99999".into();
    let mut ahead = w.event();
    ahead.occurred_at =
        protocol::UtcTimestamp::from_unix_ms(protocol::UtcTimestamp::now().unix_ms() + 600_000)
            .unwrap();
    let forged = wire::encode_signed(&w.event(), &DeviceKey::from_seed([99; 32])).unwrap();
    let payloads = [
        w.signed(&first),
        w.signed(&second),
        w.signed(&first),
        w.signed(&rival),
        w.signed(&before),
        forged,
        w.signed(&ahead),
        w.signed(&third),
    ];
    let batch: Vec<Delivery> = payloads
        .iter()
        .map(|p| Delivery {
            topic: w.topic(),
            payload: p.clone().into(),
        })
        .collect();
    let outcomes = w.ingest.handle_batch(&batch).await.unwrap();
    assert_eq!(outcomes.len(), batch.len());
    assert_eq!(outcomes[0], Outcome::Stored(first.event_id));
    assert_eq!(outcomes[1], Outcome::Stored(second.event_id));
    assert_eq!(
        outcomes[2],
        Outcome::Duplicate(first.event_id),
        "a copy in the batch"
    );
    assert!(
        matches!(outcomes[3], Outcome::Conflict { event_id, .. } if event_id == first.event_id),
        "the first of the batch stands: {:?}",
        outcomes[3]
    );
    assert_eq!(
        outcomes[4],
        Outcome::Duplicate(before.event_id),
        "stored before"
    );
    assert!(
        matches!(
            outcomes[5],
            Outcome::Refused {
                code: "bad_signature",
                ..
            }
        ),
        "{:?}",
        outcomes[5]
    );
    assert!(
        matches!(outcomes[6], Outcome::Parked { event_id, .. } if event_id == ahead.event_id),
        "{:?}",
        outcomes[6]
    );
    assert_eq!(outcomes[7], Outcome::Stored(third.event_id));

    assert_eq!(violations::count(db).await.unwrap(), 4);
    assert_eq!(
        violations::get(db, &first.event_id)
            .await
            .unwrap()
            .unwrap()
            .event,
        first
    );
    for event in [&first, &second, &third] {
        let manifest = violations::manifest(db, &event.event_id).await.unwrap();
        assert_eq!(manifest.len(), event.evidence.len());
    }
    let letters = dead_letters::recent(db, 10).await.unwrap();
    let mut codes: Vec<&str> = letters.iter().map(|l| l.reason_code.as_str()).collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        [
            "bad_signature",
            "conflicting_duplicate",
            "occurred_in_future"
        ]
    );
    assert_eq!(w.count("stored"), 3 + 1);
    assert_eq!(w.count("duplicate"), 2);

    let audit = AuditLog::new(db.clone());
    assert_eq!(audit.verify().await.unwrap(), Ok(4), "the chain holds");
    for event in [&first, &second, &third] {
        let trail = audit
            .for_subject(&format!("violation:{}", event.event_id))
            .await
            .unwrap();
        assert_eq!(trail.len(), 1);
        assert_eq!(trail[0].action, "violation.received");
    }

    // Sent again whole, as the broker does after a failure: nothing is stored twice.
    let again = w.ingest.handle_batch(&batch).await.unwrap();
    assert_eq!(again[0], Outcome::Duplicate(first.event_id));
    assert_eq!(again[7], Outcome::Duplicate(third.event_id));
    assert_eq!(violations::count(db).await.unwrap(), 4);
    assert_eq!(audit.verify().await.unwrap(), Ok(4));
}

/// A batch large enough to be checked in several lanes is answered in the order it came.
async fn a_large_batch_is_answered_in_order(t: &TestDb) {
    let w = world(&t.db).await;
    let stranger = DeviceKey::from_seed([99; 32]);
    let events: Vec<ViolationEvent> = (0..70).map(|_| w.event()).collect();
    let batch: Vec<Delivery> = events
        .iter()
        .enumerate()
        .map(|(i, e)| Delivery {
            topic: w.topic(),
            payload: if i % 9 == 4 {
                wire::encode_signed(e, &stranger).unwrap()
            } else {
                w.signed(e)
            }
            .into(),
        })
        .collect();
    let outcomes = w.ingest.handle_batch(&batch).await.unwrap();
    for (i, (event, outcome)) in events.iter().zip(&outcomes).enumerate() {
        if i % 9 == 4 {
            assert!(
                matches!(outcome, Outcome::Refused { .. }),
                "{i}: {outcome:?}"
            );
        } else {
            assert_eq!(*outcome, Outcome::Stored(event.event_id), "{i}");
        }
    }
    assert_eq!(violations::count(&t.db).await.unwrap(), 70 - 8);
    assert_eq!(
        AuditLog::new(t.db.clone()).verify().await.unwrap(),
        Ok(70 - 8)
    );
}

/// A batch from many devices is checked with each one's key, the keys read together: a
/// registered device's events stored, a revoked or unknown device's refused, an event signed
/// with another registered device's key refused; checked once, the batch may be stored again
/// (after a storage failure) with the same outcomes, duplicates by then.
async fn a_batch_from_many_devices_is_checked_with_each_ones_key(t: &TestDb) {
    let db = &t.db;
    let w = world(db).await;
    let audit = AuditLog::new(db.clone());
    let mut fleet = Vec::new();
    for n in 2..=5u8 {
        let device = DeviceId::parse(format!("hcm-q1-00{n}")).unwrap();
        let key = DeviceKey::from_seed([n; 32]);
        if n != 5 {
            devices::register(db, &device, &key.public_key(), "Hàng Xanh")
                .await
                .unwrap();
        }
        fleet.push((device, key));
    }
    assert!(
        devices::revoke(db, &audit, "officer:admin", &fleet[1].0)
            .await
            .unwrap()
    );
    let mut batch = Vec::new();
    let mut expected = Vec::new();
    for round in 0..3 {
        for (i, member) in fleet.iter().enumerate() {
            let signer = if round == 2 && i == 0 {
                &fleet[2].1
            } else {
                &member.1
            };
            let event = ViolationEvent::example(member.0.clone(), EventId::new());
            batch.push(Delivery {
                topic: Topic::Violation(member.0.clone()).to_string(),
                payload: wire::encode_signed(&event, signer).unwrap().into(),
            });
            expected.push(match (i, round) {
                (0, 2) => Err("bad_signature"),
                (0 | 2, _) => Ok(event.event_id),
                _ => Err("unknown_device"),
            });
        }
    }
    let checked = w.ingest.check(&batch).await.unwrap();
    let outcomes = w.ingest.store(&batch, &checked).await.unwrap();
    for (i, (outcome, expected)) in outcomes.iter().zip(&expected).enumerate() {
        match expected {
            Ok(id) => assert_eq!(*outcome, Outcome::Stored(*id), "{i}"),
            Err(code) => assert!(
                matches!(outcome, Outcome::Refused { code: c, .. } if c == code),
                "{i}: {outcome:?}, not {code}"
            ),
        }
    }
    assert_eq!(violations::count(db).await.unwrap(), 5);
    let again = w.ingest.store(&batch, &checked).await.unwrap();
    for (i, (outcome, expected)) in again.iter().zip(&expected).enumerate() {
        if let Ok(id) = expected {
            assert_eq!(*outcome, Outcome::Duplicate(*id), "{i}");
        }
    }
    assert_eq!(violations::count(db).await.unwrap(), 5);
    assert!(
        w.ingest.store(&batch[1..], &checked).await.is_err(),
        "checks of another batch"
    );
}

on_both_engines!(
    a_batch_from_many_devices_is_checked_with_each_ones_key,
    a_batch_gets_each_payloads_own_outcome_in_one_step,
    a_large_batch_is_answered_in_order,
    a_violation_is_stored_only_with_its_audit_entry,
    valid_event_is_stored_with_its_bytes_and_manifest,
    a_replayed_event_is_acknowledged_again_not_stored_twice,
    the_first_of_two_different_events_with_one_id_stands,
    refused_events_become_dead_letters_with_their_reason,
    a_revoked_device_is_refused_and_a_new_key_accepted,
    an_event_dated_ahead_of_centrals_clock_is_parked_with_its_reason,
);
