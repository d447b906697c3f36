//! Start-up errors name what failed, and never a secret: a database that cannot be reached is
//! reported by its URL with the password hidden.

use central_api::config::Config;

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
