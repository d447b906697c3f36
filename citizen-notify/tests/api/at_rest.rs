//! What citizen-notify keeps of a citizen is sealed at rest: the database's own rows (what a
//! backup or a copied disk holds) name no one, the service reads them back whole, a value kept
//! in the clear by an earlier version is sealed at the next start, and a rotated key's values
//! are sealed again under the new one.

use citizen_notify::{
    db::{self, CitizenSession, SealingKey},
    startup::reseal,
};
use protocol::FineChange;
use service_kit::on_pool;

use crate::helpers::{OWNER, TestDb, decide, decision, key, noticed, on_both_engines};

const DRIVER: &str = "Trần Thị Bình";
const LICENCE: &str = "790123456789";
const CONTRACT: &[u8] = b"%PDF-1.4\n% hop dong mua ban xe 51F-123.45\n%%EOF\n";

/// Every sealed column's values as stored, as one text (bytes read as UTF-8, lossily).
async fn stored(t: &TestDb) -> String {
    let mut all = String::new();
    for column in db::at_rest::TEXT {
        let query = format!("SELECT {} FROM {}", column.value, column.table);
        let values: Vec<String> = on_pool!(&t.db, pool => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(query)).fetch_all(pool).await.unwrap()
        });
        all.extend(values.into_iter().map(|v| v + "\n"));
    }
    let documents: Vec<Vec<u8>> = on_pool!(&t.db, pool => {
        sqlx::query_scalar("SELECT body FROM answer_documents")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    for d in documents {
        all.push_str(&String::from_utf8_lossy(&d));
    }
    all
}

/// A case noticed, decided and answered by naming the driver with a document, and a citizen
/// signed in: the notice's id.
async fn a_case_answered(t: &TestDb) -> String {
    let (n, id) = noticed(t).await;
    decide(t, &decision(&n)).await;
    let driver = crate::helpers::named_driver();
    assert_eq!(
        (driver.full_name.as_str(), driver.licence_no.as_str()),
        (DRIVER, LICENCE)
    );
    let doc = protocol::AnswerDocument::of("hop-dong.pdf", CONTRACT).unwrap();
    assert!(
        db::answer(
            &t.db,
            key(),
            &id,
            OWNER,
            FineChange::DriverNamed { driver },
            &[(doc, CONTRACT.to_vec())],
        )
        .await
        .unwrap()
    );
    let session = CitizenSession {
        citizen_id: OWNER.into(),
        name: "Nguyễn Văn An".into(),
        csrf: "csrf".into(),
    };
    // Central answers the owner's explanation, naming them.
    let resolution = protocol::FineResolution {
        resolution_id: uuid::Uuid::now_v7(),
        fine_id: n.fine_id,
        decided_at: protocol::UtcTimestamp::now(),
        outcome: protocol::DisputeOutcome::Upheld,
        answer: "Ông Nguyễn Văn An: ảnh cho thấy rõ xe vượt đèn đỏ.".into(),
        ground: protocol::ResolutionGround::Dispute,
    };
    let body = protocol::wire::encode(&resolution).unwrap();
    db::store_resolution(&t.db, key(), &resolution, &body)
        .await
        .unwrap();
    db::open_session(
        &t.db,
        key(),
        "token-digest",
        &session,
        time::Duration::hours(1),
    )
    .await
    .unwrap();
    id
}

/// What the portal shows and what goes to central, read back through the service: the owner's
/// phone, the driver named, the document, the signed-in name.
async fn read_back(t: &TestDb, key: &SealingKey, id: &str) -> Result<(), db::DbError> {
    let notice = db::notice_of(&t.db, key, id, OWNER).await?.unwrap();
    assert_eq!(notice.contact.unwrap().phone.as_deref(), Some("0901234567"));
    assert_eq!(
        db::decision_of(&t.db, key, id).await?.unwrap().points_left,
        8
    );
    let (_, said) = db::answer_of(&t.db, key, id).await?.unwrap();
    assert_eq!(said, DRIVER);
    // The report as the relay sends it (read without leasing it, as `due_reports` would).
    let (update_id, payload): (String, String) = on_pool!(&t.db, pool => {
        sqlx::query_as("SELECT update_id, payload FROM reports WHERE kind = 'driver_named'")
            .fetch_one(pool)
            .await?
    });
    let payload = db::at_rest::REPORTS.open(Some(key), &update_id, payload)?;
    assert!(payload.contains(LICENCE), "{payload}");
    let documents = db::documents_of_report(&t.db, key, &update_id).await?;
    assert_eq!(documents[0].1, CONTRACT);
    assert_eq!(documents[0].0.bytes, CONTRACT.len() as u64);
    let answered = db::resolution_of(&t.db, key, id).await?.unwrap();
    assert!(answered.answer.starts_with("Ông Nguyễn Văn An"));
    let session = db::session(&t.db, key, "token-digest").await?.unwrap();
    assert_eq!(session.name, "Nguyễn Văn An");
    Ok(())
}

fn names_no_one(stored: &str) {
    for personal in [
        "0901234567",
        DRIVER,
        LICENCE,
        "hop dong",
        "Nguyễn Văn An",
        "51F-123.45",
    ] {
        assert!(
            !stored.contains(personal),
            "{personal} is stored in the clear"
        );
    }
}

async fn what_a_citizen_gave_is_sealed_and_read_back_whole(t: &TestDb) {
    let id = a_case_answered(t).await;
    names_no_one(&stored(t).await);
    read_back(t, key(), &id).await.unwrap();
    // Another deployment's key opens nothing: the service says so instead of guessing.
    let other = SealingKey::generate().unwrap();
    let error = db::notice_of(&t.db, &other, &id, OWNER).await.unwrap_err();
    assert!(error.to_string().contains("notice"), "{error}");
}

/// Rows an earlier version kept in the clear are read as they are, and the start seals them;
/// after a rotation the start seals everything again under the new key, which alone then
/// opens it; a value no configured key opens stops the start.
async fn the_start_seals_what_was_kept_in_the_clear_and_rotates_the_key(t: &TestDb) {
    let id = a_case_answered(t).await;
    // As an earlier version kept them: every sealed column opened in place.
    for column in db::at_rest::TEXT {
        let query = format!(
            "SELECT {} AS k, {} FROM {}",
            column.key.expr(&t.db),
            column.value,
            column.table
        );
        let rows: Vec<(String, String)> = on_pool!(&t.db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(query)).fetch_all(pool).await.unwrap()
        });
        for (row, value) in rows {
            let clear = column.open(Some(key()), &row, value.clone()).unwrap();
            let update = format!(
                "UPDATE {} SET {} = $1 WHERE {} = $2",
                column.table,
                column.value,
                column.key.expr(&t.db)
            );
            on_pool!(&t.db, pool => {
                sqlx::query(sqlx::AssertSqlSafe(update))
                    .bind(clear)
                    .bind(&row)
                    .execute(pool)
                    .await
                    .unwrap();
            });
        }
    }
    on_pool!(&t.db, pool => {
        sqlx::query("UPDATE answer_documents SET body = $1")
            .bind(CONTRACT)
            .execute(pool)
            .await
            .unwrap();
    });
    assert!(stored(t).await.contains(DRIVER));
    read_back(t, key(), &id).await.unwrap();

    reseal(&t.db, key()).await.unwrap();
    names_no_one(&stored(t).await);
    read_back(t, key(), &id).await.unwrap();

    let new = SealingKey::generate().unwrap();
    let rotated = new.clone().with_former(vec![key().clone()]);
    reseal(&t.db, &rotated).await.unwrap();
    names_no_one(&stored(t).await);
    read_back(t, &new, &id).await.unwrap();
    assert!(
        read_back(t, key(), &id).await.is_err(),
        "the former key opens nothing any more"
    );

    let stranger = SealingKey::generate().unwrap();
    let error = format!("{:#}", reseal(&t.db, &stranger).await.unwrap_err());
    assert!(error.contains("open under neither"), "{error}");
}

on_both_engines!(
    what_a_citizen_gave_is_sealed_and_read_back_whole,
    the_start_seals_what_was_kept_in_the_clear_and_rotates_the_key,
);
