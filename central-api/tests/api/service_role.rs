//! Central as a production database runs it (`database.owner_url`): the owner migrates, and
//! central's own role works the whole chain — review, four eyes, the fine schedule, retention's
//! erasures — yet cannot lose the audit chain: no `TRUNCATE`, no entry deleted or rewritten, no
//! trigger dropped or disabled, no table dropped.

use central_api::{audit::AuditLog, db::MIGRATIONS};
use service_kit::db_testing::TestDb;

use crate::helpers::raw;

/// Runs `body` on a fresh PostgreSQL database that central reaches as its own role.
async fn as_service(body: impl AsyncFnOnce(&TestDb)) {
    let t = TestDb::postgres_as_service(&MIGRATIONS).await;
    body(&t).await;
    t.finish().await;
}

#[tokio::test]
async fn the_review_runs_as_the_service_role() {
    as_service(crate::review::a_reviewer_approves_and_the_fine_is_issued).await;
}

#[tokio::test]
async fn four_eyes_run_as_the_service_role() {
    as_service(
        crate::four_eyes::an_officer_is_given_a_role_only_when_a_second_administrator_confirms,
    )
    .await;
}

#[tokio::test]
async fn the_schedule_is_amended_as_the_service_role() {
    as_service(crate::admin::administrators_amend_the_fine_schedule_from_a_coming_day).await;
}

#[tokio::test]
async fn retention_purges_and_erases_as_the_service_role() {
    as_service(crate::retention::a_rejected_case_is_purged_after_its_period_and_its_replay_is_not_stored_again).await;
}

#[tokio::test]
async fn the_service_role_cannot_lose_the_audit_chain() {
    as_service(async |t: &TestDb| {
        let log = AuditLog::new(t.db.clone());
        for i in 0..3 {
            log.append(
                "officer:admin",
                "test.entry",
                "test",
                serde_json::json!({ "i": i }),
            )
            .await
            .unwrap();
        }
        for sql in [
            "TRUNCATE audit_log",
            "DELETE FROM audit_log",
            "UPDATE audit_log SET actor = 'officer:nobody'",
            "UPDATE audit_log SET hash = 'x'",
            "DELETE FROM audit_erased_subjects",
            "DROP TRIGGER audit_log_no_update ON audit_log",
            "ALTER TABLE audit_log DISABLE TRIGGER ALL",
            "DROP TABLE audit_log",
            "CREATE TABLE sneaky (id INT)",
        ] {
            let refused = raw(&t.db, sql).await.expect_err(sql);
            let code = refused
                .as_database_error()
                .and_then(|e| e.code())
                .map(|c| c.into_owned());
            assert_eq!(code.as_deref(), Some("42501"), "{sql}: {refused}");
        }
        assert_eq!(log.verify().await.unwrap(), Ok(3));
    })
    .await;
}
