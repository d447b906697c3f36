//! An upgrade keeps what a database held: SQLite's migration 0014 rebuilds `fines` (to make the
//! decision number optional), and a database with fines decided before it, and the updates
//! citizen-notify reported about them, comes through with every row, every reference, and its
//! foreign keys enforced.

use std::borrow::Cow;

use central_api::db::MIGRATIONS;
use sqlx::{
    Row,
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
};

#[tokio::test]
async fn the_rebuild_of_fines_keeps_the_decided_fines_and_what_refers_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("central.db"))
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let all = &MIGRATIONS.sqlite;
    let before = all
        .migrations
        .iter()
        .position(|m| m.version == 14)
        .expect("migration 0014");
    let up_to_13 = Migrator {
        migrations: Cow::Owned(all.migrations[..before].to_vec()),
        ..Migrator::DEFAULT
    };
    up_to_13.run(&pool).await.unwrap();
    for statement in [
        "INSERT INTO devices (device_id, public_key, registered_at) VALUES ('d1', 'k', '2025-01-01')",
        "INSERT INTO violations (event_id, device_id, camera_id, kind, vehicle_class, occurred_at,
                                 received_at, status, event, payload, payload_sha256)
         VALUES (x'01', 'd1', 'c', 'red_light', 'car', '2025-03-04', '2025-03-04', 'approved',
                 '{}', x'00', 's')",
        "INSERT INTO fines (fine_id, event_id, decision_number, citizen_id, plate_text, amount_vnd,
                            points, legal_reference, notice_due, status, issued_by, issued_at)
         VALUES ('f1', x'01', '000001/QĐ-XPVPHC/2025', '079203012345', '51F12345', 19000000, 4,
                 'Điểm b khoản 9 Điều 6', '2025-03-14', 'paid', 'reviewer',
                 '2025-03-04 10:00:00.0+00:00')",
        "INSERT INTO fine_updates (update_id, fine_id, kind, payload, received_at)
         VALUES ('u1', 'f1', 'paid', '{}', '2025-03-05')",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }

    all.run(&pool).await.unwrap();

    let fine = sqlx::query(
        "SELECT decision_number, decision_year, decided_by, min_vnd, max_vnd, status FROM fines",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        fine.get::<Option<String>, _>("decision_number").as_deref(),
        Some("000001/QĐ-XPVPHC/2025")
    );
    assert_eq!(fine.get::<Option<i64>, _>("decision_year"), Some(2025));
    assert_eq!(
        fine.get::<Option<String>, _>("decided_by").as_deref(),
        Some("reviewer")
    );
    assert_eq!(
        (
            fine.get::<Option<i64>, _>("min_vnd"),
            fine.get::<Option<i64>, _>("max_vnd")
        ),
        (Some(19_000_000), Some(19_000_000))
    );
    assert_eq!(fine.get::<String, _>("status"), "paid");
    let updates: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fine_updates")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(updates, 1);
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(broken.is_empty(), "{} references broken", broken.len());
    // The references still point at `fines`, and foreign keys are enforced again.
    let orphan = sqlx::query(
        "INSERT INTO fine_updates (update_id, fine_id, kind, payload, received_at)
         VALUES ('u2', 'no-such-fine', 'paid', '{}', '2025-03-05')",
    )
    .execute(&pool)
    .await;
    assert!(orphan.is_err(), "an update of no fine is refused");
    sqlx::query(
        "INSERT INTO fine_updates (update_id, fine_id, kind, payload, received_at)
         VALUES ('u3', 'f1', 'delivered', '{}', '2025-03-06')",
    )
    .execute(&pool)
    .await
    .unwrap();
}
