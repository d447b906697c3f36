//! Documents attached to an answer (Law 15/2012/QH13, Article 61 clause 2: an explanation in
//! writing; the contract of a sale, the report of a theft): citizen-notify puts each into
//! central's store, signed, ahead of the answer that names it; central keeps only what hashes
//! to its digest and is the PDF, JPEG or PNG it says; an answer naming a document that has not
//! arrived is not taken yet; the officers see and open each, every read on record; the
//! documents of an answer refused are released for deletion, those of a closed case go with its
//! evidence.

use axum::{
    Router,
    http::{Request, StatusCode, header},
};
use central_api::auth::Role;
use protocol::{AnswerDocument, FineChange, UtcTimestamp};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::{
    fine_updates::{SECRET, app, send, signed_call, update},
    helpers::{TestDb, on_both_engines},
    review::world,
};

/// A small PDF, as a scanner writes its first bytes.
fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n% Hop dong mua ban xe (thu nghiem)\n%%EOF\n".to_vec()
}

/// `PUT`s `body` as document `sha256` of `content_type`, signed with `secret`.
async fn put(
    app: &Router,
    sha256: &str,
    content_type: &str,
    body: Vec<u8>,
    secret: &str,
) -> (StatusCode, Value) {
    let request = Request::put(format!("/api/v1/answer-documents/{sha256}"))
        .header(header::CONTENT_TYPE, content_type);
    signed_call(app, request, body, secret).await
}

/// Puts [`pdf`] into central's store as document `name`, as citizen-notify does: kept.
async fn kept(app: &Router, name: &str) -> AnswerDocument {
    let bytes = pdf();
    let doc = AnswerDocument::of(name, &bytes).unwrap();
    let kept = put(app, &doc.sha256.to_hex(), "application/pdf", bytes, SECRET).await;
    assert_eq!(kept.0, StatusCode::CREATED, "{}", kept.1);
    doc
}

fn error(answered: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (answered.0, answered.1["error"].as_str())
}

async fn an_explanation_with_its_document_reaches_the_officers(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let (id, fine_id, _) = w.confirmed(&reviewer).await;
    let app = app(t, w.dir.path());
    let bytes = pdf();
    let doc = AnswerDocument::of("giai-trinh.pdf", &bytes).unwrap();
    let sha = doc.sha256.to_hex();

    // Refused: unsigned, bytes of another digest, bytes not of the kind sent.
    let unsigned = put(&app, &sha, "application/pdf", bytes.clone(), "not ours").await;
    assert_eq!(
        error(&unsigned),
        (StatusCode::UNAUTHORIZED, Some("bad_signature"))
    );
    let other = put(
        &app,
        &sha,
        "application/pdf",
        b"%PDF-1.4 other".to_vec(),
        SECRET,
    )
    .await;
    assert_eq!(
        error(&other),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("digest_mismatch"))
    );
    let page = b"<html><script>alert(1)</script>".to_vec();
    let page_sha = protocol::Sha256Digest::of(&page).to_hex();
    let script = put(&app, &page_sha, "application/pdf", page, SECRET).await;
    assert_eq!(
        error(&script),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_a_document"))
    );
    let claimed_png = put(&app, &sha, "image/png", bytes.clone(), SECRET).await;
    assert_eq!(
        error(&claimed_png),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_a_document"))
    );

    // The explanation naming it before it arrived is not taken yet: nothing changes.
    let mut explained = update(
        fine_id,
        FineChange::Disputed {
            reason: "Tôi đã bán xe, xem hợp đồng đính kèm.".into(),
        },
    );
    explained.documents = vec![doc.clone()];
    let early = send(&app, &explained, SECRET).await;
    assert_eq!(
        error(&early),
        (StatusCode::TOO_EARLY, Some("documents_missing"))
    );
    assert_eq!(
        central_api::db::review::fine_of(&w.db, None, &id)
            .await
            .unwrap()
            .unwrap()
            .status,
        "issued"
    );

    // Put (twice: a retry), then the explanation: taken, the document with it.
    for _ in 0..2 {
        let kept = put(&app, &sha, "application/pdf", bytes.clone(), SECRET).await;
        assert_eq!(kept.0, StatusCode::CREATED, "{}", kept.1);
    }
    let taken = send(&app, &explained, SECRET).await;
    assert_eq!(taken.0, StatusCode::CREATED, "{}", taken.1);

    // The officers see it with the case and open it, as a download; each read on record.
    let (status, _, page) = w
        .call_bytes(reviewer.get(&format!("/review/violations/{id}")))
        .await;
    let page = String::from_utf8(page).unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"documents\""), "{page}");
    assert!(page.contains("giai-trinh.pdf"), "{page}");
    assert!(page.contains(&format!("/review/documents/{sha}")), "{page}");
    let (status, headers, opened) = w
        .call_bytes(reviewer.get(&format!("/review/documents/{sha}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(opened, bytes);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert!(
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let reads = central_api::audit::AuditLog::new(w.db.clone())
        .for_subject("officer:reviewer")
        .await
        .unwrap();
    let read = reads
        .iter()
        .find(|e| e.action == "document.viewed")
        .expect("the read is on record");
    assert_eq!(read.details["sha256"], sha.as_str());
    // A digest no answer names is no document.
    let unknown = protocol::Sha256Digest::of(b"nothing").to_hex();
    let (status, _, _) = w
        .call_bytes(reviewer.get(&format!("/review/documents/{unknown}")))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn the_documents_of_an_answer_refused_are_released(t: &TestDb) {
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let (_, fine_id, _) = w.confirmed(&reviewer).await;
    let app = app(t, w.dir.path());
    let doc = kept(&app, "bien-ban.pdf").await;
    let sha = doc.sha256.to_hex();
    let mut late = update(
        fine_id,
        FineChange::VehicleStolen {
            reported_on: "2026-01-02".into(),
            report: "Công an phường Bến Thành, biên bản số 12".into(),
        },
    );
    late.at = UtcTimestamp::from_datetime(OffsetDateTime::now_utc() + Duration::days(21));
    late.documents = vec![doc];
    let refused = send(&app, &late, SECRET).await;
    assert_eq!(
        error(&refused),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("answer_late"))
    );
    let queued: i64 = service_kit::on_pool!(&w.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM evidence_deletions WHERE sha256 = $1")
            .bind(&sha)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(queued, 1, "no case names it: queued for deletion");
}

/// The documents of a closed case go with its evidence, once the year for a lawsuit has passed.
async fn the_documents_of_a_closed_case_go_with_its_evidence(t: &TestDb) {
    use central_api::{
        db::retention::{RetentionSettings, sweep},
        evidence_store::EvidenceStore,
    };
    let w = world(t).await;
    let reviewer = w.sign_in(Role::Reviewer).await;
    let (id, fine_id, _) = w.confirmed(&reviewer).await;
    let app = app(t, w.dir.path());
    let doc = kept(&app, "hop-dong.pdf").await;
    let mut explained = update(
        fine_id,
        FineChange::Disputed {
            reason: "Hợp đồng đính kèm".into(),
        },
    );
    explained.documents = vec![doc.clone()];
    assert_eq!(send(&app, &explained, SECRET).await.0, StatusCode::CREATED);
    crate::retention::paid(&w, fine_id).await;
    let store = EvidenceStore::open(w.dir.path()).unwrap();
    assert!(store.contains(&doc.sha256).await.unwrap());
    let days = RetentionSettings::default().closed_evidence_days as i64;
    let swept = sweep(
        &w.db,
        &central_api::audit::AuditLog::new(w.db.clone()),
        &store,
        &RetentionSettings::default(),
        OffsetDateTime::now_utc() + Duration::days(days + 1),
    )
    .await
    .unwrap();
    assert!(!swept.purged.is_empty(), "{swept:?}");
    assert!(
        !store.contains(&doc.sha256).await.unwrap(),
        "the document went with the evidence"
    );
    assert_eq!(
        central_api::db::fine_updates::documents_of(&w.db, *id.as_uuid())
            .await
            .unwrap(),
        []
    );
}

on_both_engines!(
    the_documents_of_a_closed_case_go_with_its_evidence,
    an_explanation_with_its_document_reaches_the_officers,
    the_documents_of_an_answer_refused_are_released,
);
