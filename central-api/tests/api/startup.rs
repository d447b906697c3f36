//! Start-up errors name what failed, and never a secret: a database that cannot be reached is
//! reported by its URL with the password hidden; a rotated sealing key is taken up at start.

use central_api::{
    audit::AuditLog,
    config::Config,
    db::owners::{citizen, upsert_citizen},
    sealed::SealingKey,
};

use crate::helpers::{TestDb, on_both_engines, owner};

#[tokio::test]
async fn an_unreachable_database_is_named_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.http.bind = "127.0.0.1:0".parse().unwrap();
    config.database.url = "postgres://tve:hunter2-secret@127.0.0.1:1/tve".into();
    config.review.secrets_key_file = dir.path().join("secrets.key");
    config.mqtt.control_key_file = dir.path().join("control.key");
    config.audit.anchor_file = dir.path().join("audit-anchors.jsonl");
    let error = match central_api::build(config).await {
        Ok(_) => panic!("started on a database that cannot be reached"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains("opening database.url postgres://tve:***@127.0.0.1:1/tve"),
        "{error}"
    );
    assert!(!error.contains("hunter2"), "{error}");
}

/// A configuration on `t`'s database with its keys in `dir`.
fn config_in(t: &TestDb, dir: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.http.bind = "127.0.0.1:0".parse().unwrap();
    config.mqtt.embedded_bind = "127.0.0.1:0".parse().unwrap();
    config.database = t.settings.clone();
    config.evidence.dir = dir.join("evidence");
    config.evidence.key_file = dir.join("evidence.key");
    config.review.secrets_key_file = dir.join("secrets.key");
    config.mqtt.control_key_file = dir.join("control.key");
    config.audit.anchor_file = dir.join("audit-anchors.jsonl");
    config
}

/// The key that seals the citizens is rotated: the former key file named in
/// `review.old_secrets_key_files`, the start seals every citizen again under the new one (and
/// audits it), after which the new key alone opens them. A start whose keys open none of what
/// the database holds (the key file lost, a new one made) stops, naming the setting.
async fn a_rotated_secrets_key_is_taken_up_at_start(t: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(t, dir.path());
    drop(central_api::build(config.clone()).await.unwrap());
    let first = SealingKey::load(&config.review.secrets_key_file, false)
        .unwrap()
        .unwrap();
    let an = crate::helpers::owner_citizen();
    upsert_citizen(&t.db, Some(&first), &an).await.unwrap();

    // The key file moved aside and not named: the start makes a new key, which opens nothing.
    let former = dir.path().join("secrets.key.2026-12");
    std::fs::rename(&config.review.secrets_key_file, &former).unwrap();
    let error = match central_api::build(config.clone()).await {
        Ok(_) => panic!("started with citizens no configured key opens"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains("3 citizens' fields") && error.contains("review.old_secrets_key_files"),
        "{error}"
    );

    // Named as a former key: the start seals them again under the new one.
    let mut rotated = config.clone();
    rotated.review.old_secrets_key_files = vec![former.clone()];
    drop(central_api::build(rotated.clone()).await.unwrap());
    let new = SealingKey::load(&config.review.secrets_key_file, false)
        .unwrap()
        .unwrap();
    assert_eq!(citizen(&t.db, Some(&new), &an.id).await.unwrap(), Some(an));
    assert!(citizen(&t.db, Some(&first), &owner()).await.is_err());
    let audit = AuditLog::new(t.db.clone());
    let entries = audit.for_subject("review.secrets_key_file").await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].action, "secrets.resealed");
    assert_eq!(entries[0].details["from_former_key"], 3);
    // The former key is no longer needed: the next start goes without it, and audits nothing.
    drop(central_api::build(config).await.unwrap());
    assert_eq!(
        audit
            .for_subject("review.secrets_key_file")
            .await
            .unwrap()
            .len(),
        1
    );
    // A former key that is not there stops the start.
    std::fs::remove_file(&former).unwrap();
    let error = match central_api::build(rotated).await {
        Ok(_) => panic!("started without a former key named"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("is missing"), "{error}");
}

on_both_engines!(a_rotated_secrets_key_is_taken_up_at_start);
