//! The audit log chains every entry to the previous one; the database refuses changes, and a
//! change made around it (dropping the guard) is detected and located.

use central_api::{
    audit::{AuditLog, GENESIS},
    audit_anchor,
    db::Db,
};
use serde_json::json;

use crate::{
    helpers::{TestDb, on_both_engines, raw},
    review::{anchor_file, control_key, world},
};

async fn drop_guard(db: &Db) {
    match db {
        Db::Postgres(_) => raw(db, "DROP TRIGGER audit_log_no_update ON audit_log").await,
        Db::Sqlite(_) => {
            raw(
                db,
                "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete",
            )
            .await
        }
    }
    .unwrap();
}

async fn three_entries(log: &AuditLog) {
    for (actor, action) in [
        ("device:hcm-q1-001", "violation.received"),
        ("system", "owner.found"),
        ("officer:nguyen.van.b", "violation.approved"),
    ] {
        log.append(
            actor,
            action,
            "violation:0190",
            json!({ "note": "Đèn đỏ", "n": 1 }),
        )
        .await
        .unwrap();
    }
}

async fn the_chain_verifies_and_the_database_refuses_changes(t: &TestDb) {
    let log = AuditLog::new(t.db.clone());
    three_entries(&log).await;
    assert_eq!(log.verify().await.unwrap(), Ok(3));
    let entries = log.for_subject("violation:0190").await.unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].prev_hash, GENESIS);
    assert_eq!(entries[1].prev_hash, entries[0].hash);
    assert_eq!(entries[2].actor, "officer:nguyen.van.b");

    let update = raw(
        &t.db,
        "UPDATE audit_log SET actor = 'someone' WHERE seq = 2",
    )
    .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = raw(&t.db, "DELETE FROM audit_log WHERE seq = 2").await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert_eq!(log.verify().await.unwrap(), Ok(3));
}

async fn a_changed_entry_is_located(t: &TestDb) {
    let log = AuditLog::new(t.db.clone());
    three_entries(&log).await;
    drop_guard(&t.db).await;
    raw(
        &t.db,
        "UPDATE audit_log SET details = '{\"n\":2,\"note\":\"Đèn đỏ\"}' WHERE seq = 2",
    )
    .await
    .unwrap();
    let broken = log.verify().await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 2);
    assert!(broken.reason.contains("digest"), "{broken}");
}

/// The chain binds the details through the subject's salt: a salt removed outside a purge, or
/// details blanked around the guard, are found.
async fn a_lost_salt_or_details_erased_without_a_purge_are_located(t: &TestDb) {
    let log = AuditLog::new(t.db.clone());
    three_entries(&log).await;
    log.append(
        "system",
        "test",
        "violation:0191",
        json!({ "plate": "51F12345" }),
    )
    .await
    .unwrap();
    drop_guard(&t.db).await;
    raw(
        &t.db,
        "UPDATE audit_log SET details = 'null', erased_at = 'x' WHERE seq = 4",
    )
    .await
    .unwrap();
    let broken = log.verify().await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 4);
    assert!(broken.reason.contains("never purged"), "{broken}");

    let log = AuditLog::new(t.db.clone());
    raw(
        &t.db,
        "DELETE FROM audit_salts WHERE subject = 'violation:0190'",
    )
    .await
    .unwrap();
    let broken = log.verify().await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 1);
    assert!(broken.reason.contains("salt"), "{broken}");
}

async fn a_removed_entry_is_located(t: &TestDb) {
    let log = AuditLog::new(t.db.clone());
    three_entries(&log).await;
    drop_guard(&t.db).await;
    raw(&t.db, "DELETE FROM audit_log WHERE seq = 2")
        .await
        .unwrap();
    let broken = log.verify().await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 3);
}

/// The chain alone cannot show entries cut from its end, or the table emptied (PostgreSQL's
/// triggers do not fire on TRUNCATE): its anchors, signed outside the database, do.
async fn a_chain_cut_from_its_end_or_emptied_is_found_by_its_anchors(t: &TestDb) {
    let w = world(t).await;
    let log = AuditLog::new(w.db.clone());
    let file = anchor_file(&w.dir);
    let auditor = w.sign_in(central_api::auth::Role::Auditor).await;
    let verify = || auditor.get("/api/v1/audit/verify");
    three_entries(&log).await;
    let first = audit_anchor::anchor(&log, &control_key(), &file, None)
        .await
        .unwrap()
        .unwrap();
    // Nothing new: no second anchor.
    assert!(
        audit_anchor::anchor(&log, &control_key(), &file, Some(&first))
            .await
            .unwrap()
            .is_none()
    );
    log.append("system", "test", "violation:0190", json!({}))
        .await
        .unwrap();
    let (_, check) = w.call(verify()).await;
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["anchors"], 1);
    let head = check["entries"].as_i64().unwrap();
    assert_eq!(first.seq, head - 1);

    // The anchored entry and the one after it cut: the chain alone still holds.
    drop_guard(&w.db).await;
    raw(
        &w.db,
        &format!("DELETE FROM audit_log WHERE seq >= {}", first.seq),
    )
    .await
    .unwrap();
    assert_eq!(log.verify().await.unwrap(), Ok(first.seq - 1));
    let (_, check) = w.call(verify()).await;
    assert_eq!(check["ok"], false, "{check}");
    assert_eq!(check["broken_at"], first.seq);
    assert!(
        check["reason"].as_str().unwrap().contains("gone"),
        "{check}"
    );

    // Emptied at once.
    let empty = match &w.db {
        Db::Postgres(_) => "TRUNCATE audit_log",
        Db::Sqlite(_) => "DELETE FROM audit_log",
    };
    raw(&w.db, empty).await.unwrap();
    assert_eq!(log.verify().await.unwrap(), Ok(0));
    let (_, check) = w.call(verify()).await;
    assert_eq!(check["ok"], false, "{check}");

    // An anchor line edited to match a shorter chain is refused as such.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(&format!("\"seq\":{}", first.seq), "\"seq\":0"),
    )
    .unwrap();
    let (_, check) = w.call(verify()).await;
    assert_eq!(check["ok"], false, "{check}");
    assert!(
        check["reason"].as_str().unwrap().contains("signature"),
        "{check}"
    );
}

async fn concurrent_appends_keep_one_chain(t: &TestDb) {
    // Two logs on one database stand for two processes: they race for sequence numbers.
    let logs = [AuditLog::new(t.db.clone()), AuditLog::new(t.db.clone())];
    let log = logs[0].clone();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let log = logs[i % 2].clone();
            tokio::spawn(async move {
                log.append("system", "test", &format!("n:{i}"), json!({}))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(log.verify().await.unwrap(), Ok(20));
}

on_both_engines!(
    the_chain_verifies_and_the_database_refuses_changes,
    a_changed_entry_is_located,
    a_removed_entry_is_located,
    a_lost_salt_or_details_erased_without_a_purge_are_located,
    concurrent_appends_keep_one_chain,
    a_chain_cut_from_its_end_or_emptied_is_found_by_its_anchors,
);
