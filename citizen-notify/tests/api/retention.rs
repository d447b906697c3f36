//! Retention with the clock moved forward: the notice of a case paid, or cancelled by central,
//! is emptied after its period — once its report of payment has reached central — and the
//! portal no longer shows it; its payment stays, and central sending the notice again is a
//! duplicate, not a new delivery. A case still open is kept.

use citizen_notify::{
    db::{self, Stored},
    payment,
    retention::{RetentionSettings, sweep},
};
use protocol::{DisputeOutcome, FineResolution, UtcTimestamp};
use time::{Duration, OffsetDateTime};

use crate::helpers::{TestDb, at_gateway, fine, key, noticed, on_both_engines, world};

async fn swept_at(t: &TestDb, days: i64) -> Vec<String> {
    sweep(
        &t.db,
        &RetentionSettings::default(),
        OffsetDateTime::now_utc() + Duration::days(days),
    )
    .await
    .unwrap()
}

async fn the_notice_of_a_closed_case_is_emptied_after_its_period(t: &TestDb) {
    let w = world(t).await;
    let (paid, paid_id) = fine(t).await;
    let citizen = paid.citizen_id.as_str();
    let url = payment::start(&t.db, key(), &w.settings, &paid_id, citizen, "203.0.113.9")
        .await
        .unwrap();
    assert_eq!(at_gateway(&w, &url, "approve").await.page.0, 200);
    let payment = db::paid_payment_of(&t.db, &paid_id).await.unwrap().unwrap();

    let (cancelled, cancelled_id) = noticed(t).await;
    let resolution = FineResolution {
        resolution_id: uuid::Uuid::now_v7(),
        fine_id: cancelled.fine_id,
        decided_at: UtcTimestamp::now(),
        outcome: DisputeOutcome::Cancelled,
        answer: "Phương tiện đã bị mất cắp trước thời điểm vi phạm.".into(),
        ground: protocol::ResolutionGround::Dispute,
    };
    let body = protocol::wire::encode(&resolution).unwrap();
    db::store_resolution(&t.db, key(), &resolution, &body)
        .await
        .unwrap();
    let (_, open_id) = fine(t).await;
    assert_eq!(
        db::notices_of(&t.db, key(), citizen).await.unwrap().len(),
        3
    );

    let days = RetentionSettings::default().closed_days as i64;
    assert!(swept_at(t, days - 1).await.is_empty());
    // The payment's report has not reached central: the paid notice waits for it.
    assert_eq!(
        swept_at(t, days + 1).await,
        std::slice::from_ref(&cancelled_id)
    );
    for report in db::due_reports(&t.db, key(), OffsetDateTime::now_utc())
        .await
        .unwrap()
    {
        let far = OffsetDateTime::now_utc() + Duration::days(3650);
        db::report_attempted(&t.db, report.id, "delivered", far, None)
            .await
            .unwrap();
    }
    assert_eq!(swept_at(t, days + 1).await, std::slice::from_ref(&paid_id));
    assert!(swept_at(t, days + 2).await.is_empty());

    // What the portal shows and the owner's export lists: the open case only.
    let left = db::notices_of(&t.db, key(), citizen).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].fine_id.hyphenated().to_string(), open_id);
    for gone in [&paid_id, &cancelled_id] {
        assert!(
            db::notice_of(&t.db, key(), gone, citizen)
                .await
                .unwrap()
                .is_none()
        );
        assert!(db::decision_of(&t.db, key(), gone).await.unwrap().is_none());
        assert!(
            db::resolution_of(&t.db, key(), gone)
                .await
                .unwrap()
                .is_none()
        );
        assert!(db::reports_of(&t.db, gone).await.unwrap().is_empty());
    }
    assert!(
        db::decision_of(&t.db, key(), &open_id)
            .await
            .unwrap()
            .is_some()
    );
    // The payment stays, an accounting record.
    let kept = db::payment(&t.db, &payment.txn_ref).await.unwrap().unwrap();
    assert_eq!(kept.amount_vnd, 19_000_000);
    // No personal text is left in the emptied rows.
    let leftover: i64 = match &t.db {
        db::Db::Postgres(pool) => sqlx::query_scalar(
            "SELECT COUNT(*) FROM notices WHERE purged_at IS NOT NULL AND payload <> ''",
        )
        .fetch_one(pool)
        .await
        .unwrap(),
        db::Db::Sqlite(pool) => sqlx::query_scalar(
            "SELECT COUNT(*) FROM notices WHERE purged_at IS NOT NULL AND payload <> ''",
        )
        .fetch_one(pool)
        .await
        .unwrap(),
    };
    assert_eq!(leftover, 0);

    // Central sends the paid case's notice again: known, not delivered again.
    let again = protocol::wire::encode(&paid).unwrap();
    assert_eq!(
        db::store_notice(&t.db, key(), &paid, &again, &["push"])
            .await
            .unwrap(),
        Stored::Duplicate
    );
    assert!(
        db::notice_of(&t.db, key(), &paid_id, citizen)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db::delivery_channels_of(&t.db, &paid_id)
            .await
            .unwrap()
            .is_empty()
    );
}

on_both_engines!(the_notice_of_a_closed_case_is_emptied_after_its_period);
