//! Reports to central-api of what becomes of each fine: queued with the change itself, sent
//! signed, kept until central takes them, tried again after a wait when it cannot.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use citizen_notify::{config::CentralSettings, db, payment, reports::Reporter};
use protocol::{FineChange, FineUpdate, UtcTimestamp, service_auth, wire};
use time::OffsetDateTime;

use crate::helpers::{OWNER, TestDb, at_gateway, fine, key, on_both_engines, world};

const SECRET: &str = "the secret shared with central-api";

/// A document central holds: its digest, its kind, its bytes.
type Held = (String, String, Vec<u8>);

/// A stand-in for central's `POST /api/v1/fine-updates`: checks the signature and the message,
/// answers each of `answers` in turn (then 201), keeps what it took.
#[derive(Clone, Default)]
struct Central {
    answers: Arc<Mutex<Vec<StatusCode>>>,
    taken: Arc<Mutex<Vec<FineUpdate>>>,
    /// The documents put, by digest: kind and bytes.
    documents: Arc<Mutex<Vec<Held>>>,
    /// Answers to the next document puts (then 201).
    document_answers: Arc<Mutex<Vec<StatusCode>>>,
}

/// Whether `body` came signed with the shared secret, as central checks.
fn signed(headers: &HeaderMap, body: &[u8]) -> bool {
    let header = headers
        .get(service_auth::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let skew = Duration::from_secs(60);
    service_auth::verify(SECRET.as_bytes(), header, body, UtcTimestamp::now(), skew).is_ok()
}

/// Central's `PUT /api/v1/answer-documents/{sha256}`: signed, hashing to its digest.
async fn put_document(
    State(c): State<Central>,
    axum::extract::Path(sha): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if !signed(&headers, &body) {
        return StatusCode::UNAUTHORIZED;
    }
    if protocol::Sha256Digest::of(&body).to_hex() != sha {
        return StatusCode::UNPROCESSABLE_ENTITY;
    }
    let mut answers = c.document_answers.lock().unwrap();
    if !answers.is_empty() {
        return answers.remove(0);
    }
    let kind = headers[axum::http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    c.documents.lock().unwrap().push((sha, kind, body.to_vec()));
    StatusCode::CREATED
}

async fn take(State(c): State<Central>, headers: HeaderMap, body: Bytes) -> Response {
    taken(c, headers, body).await
}

/// What central answers; a 422 says why, as central does.
async fn taken(c: Central, headers: HeaderMap, body: Bytes) -> Response {
    let status = take_status(c, headers, body).await;
    if status == StatusCode::UNPROCESSABLE_ENTITY {
        let why = r#"{"error":"unknown_citizen","message":"no citizen has the identity number"}"#;
        return (status, why).into_response();
    }
    status.into_response()
}

async fn take_status(c: Central, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !signed(&headers, &body) {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(update) = wire::decode::<FineUpdate>(&body) else {
        return StatusCode::UNPROCESSABLE_ENTITY;
    };
    // As central does: a document the update names must be there first.
    let held = c.documents.lock().unwrap().clone();
    if update
        .documents
        .iter()
        .any(|d| !held.iter().any(|(sha, _, _)| *sha == d.sha256.to_hex()))
    {
        return StatusCode::TOO_EARLY;
    }
    let mut answers = c.answers.lock().unwrap();
    if !answers.is_empty() {
        return answers.remove(0);
    }
    c.taken.lock().unwrap().push(update);
    StatusCode::CREATED
}

async fn start_central(answers: &[StatusCode]) -> (Central, Reporter, sandbox::Running) {
    let c = Central {
        answers: Arc::new(Mutex::new(answers.to_vec())),
        ..Central::default()
    };
    let router = Router::new()
        .route("/api/v1/fine-updates", post(take))
        .route(
            "/api/v1/answer-documents/{sha}",
            axum::routing::put(put_document),
        )
        .with_state(c.clone());
    let running = sandbox::serve("127.0.0.1:0".parse().unwrap(), router)
        .await
        .unwrap();
    let reporter = Reporter::new(
        CentralSettings {
            url: running.url(),
            ..CentralSettings::default()
        },
        SECRET,
    )
    .unwrap();
    (c, reporter, running)
}

async fn the_answer_and_the_payment_reach_central_once(t: &TestDb) {
    let w = world(t).await;
    let (_, id) = fine(t).await;
    assert!(db::reports_of(&t.db, &id).await.unwrap().is_empty());
    assert!(
        db::answer(&t.db, key(), &id, OWNER, FineChange::Confirmed, &[])
            .await
            .unwrap()
    );
    let url = payment::start(&t.db, key(), &w.settings, &id, OWNER, "203.0.113.9")
        .await
        .unwrap();
    let paid = at_gateway(&w, &url, "approve").await;
    assert_eq!(
        db::reports_of(&t.db, &id).await.unwrap(),
        [
            ("confirmed".to_owned(), "pending".to_owned()),
            ("paid".to_owned(), "pending".to_owned())
        ]
    );

    let (central, reporter, _server) = start_central(&[]).await;
    let now = OffsetDateTime::now_utc();
    assert_eq!(reporter.send_due(&t.db, key(), now).await.unwrap(), 2);
    assert_eq!(reporter.send_due(&t.db, key(), now).await.unwrap(), 0);
    let taken = central.taken.lock().unwrap().clone();
    assert_eq!(taken.len(), 2);
    assert_eq!(taken[0].change, FineChange::Confirmed);
    match &taken[1].change {
        FineChange::Paid {
            amount_vnd,
            transaction_no,
            ..
        } => {
            assert_eq!(*amount_vnd, 19_000_000);
            assert_eq!(transaction_no, &paid.result["vnp_TransactionNo"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        taken
            .iter()
            .all(|u| u.fine_id.hyphenated().to_string() == id)
    );
    assert!(
        db::reports_of(&t.db, &id)
            .await
            .unwrap()
            .iter()
            .all(|(_, state)| state == "delivered")
    );
}

/// An explanation with a document: the document goes first, then the explanation naming it; a
/// document central cannot take now holds the explanation back, to go again with it.
async fn the_documents_of_an_answer_reach_central_before_it(t: &TestDb) {
    let (_, id) = fine(t).await;
    let bytes = b"%PDF-1.4\n% hop dong\n%%EOF\n".to_vec();
    let doc = protocol::AnswerDocument::of("hop-dong.pdf", &bytes).unwrap();
    db::answer(
        &t.db,
        key(),
        &id,
        OWNER,
        FineChange::Disputed {
            reason: "Xe đã bán, hợp đồng đính kèm".into(),
        },
        &[(doc.clone(), bytes.clone())],
    )
    .await
    .unwrap();
    let (central, reporter, _server) = start_central(&[]).await;
    central
        .document_answers
        .lock()
        .unwrap()
        .push(StatusCode::SERVICE_UNAVAILABLE);
    let t0 = OffsetDateTime::now_utc();
    assert_eq!(reporter.send_due(&t.db, key(), t0).await.unwrap(), 0);
    assert!(central.taken.lock().unwrap().is_empty(), "held back");
    assert_eq!(
        db::reports_of(&t.db, &id).await.unwrap(),
        [("disputed".to_owned(), "pending".to_owned())]
    );
    let later = t0 + Duration::from_secs(3600);
    assert_eq!(reporter.send_due(&t.db, key(), later).await.unwrap(), 1);
    assert_eq!(
        *central.documents.lock().unwrap(),
        [(doc.sha256.to_hex(), "application/pdf".to_owned(), bytes)]
    );
    let taken = central.taken.lock().unwrap().clone();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].documents, std::slice::from_ref(&doc));
    // The portal shows what went with the answer.
    assert_eq!(db::documents_of_answer(&t.db, &id).await.unwrap(), [doc]);
}

async fn a_report_central_cannot_take_now_waits_and_goes_again(t: &TestDb) {
    let (_, id) = fine(t).await;
    db::answer(
        &t.db,
        key(),
        &id,
        OWNER,
        FineChange::Disputed {
            reason: "Xe đã bán từ tháng 3".into(),
        },
        &[],
    )
    .await
    .unwrap();
    let (central, reporter, _server) = start_central(&[StatusCode::SERVICE_UNAVAILABLE]).await;
    let t0 = OffsetDateTime::now_utc();
    assert_eq!(reporter.send_due(&t.db, key(), t0).await.unwrap(), 0);
    assert_eq!(
        reporter
            .send_due(&t.db, key(), t0 + Duration::from_secs(1))
            .await
            .unwrap(),
        0,
        "not before its wait"
    );
    assert_eq!(
        reporter
            .send_due(&t.db, key(), t0 + Duration::from_secs(3))
            .await
            .unwrap(),
        1
    );
    let taken = central.taken.lock().unwrap().clone();
    assert_eq!(
        taken[0].change,
        FineChange::Disputed {
            reason: "Xe đã bán từ tháng 3".into()
        }
    );

    // Refused outright (central does not know the fine): final, not retried.
    let (_, other) = fine(t).await;
    db::answer(&t.db, key(), &other, OWNER, FineChange::Confirmed, &[])
        .await
        .unwrap();
    let (central, reporter, _server) = start_central(&[StatusCode::NOT_FOUND]).await;
    reporter.send_due(&t.db, key(), t0).await.unwrap();
    reporter
        .send_due(&t.db, key(), t0 + Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(central.taken.lock().unwrap().is_empty());
    assert_eq!(
        db::reports_of(&t.db, &other).await.unwrap(),
        [("confirmed".to_owned(), "refused".to_owned())]
    );
}

/// Central refuses a driver named (a person the population database does not know): the
/// answer is taken back with its reason, so the owner may answer again; it is not sent again.
async fn a_refused_answer_is_taken_back_with_its_reason(t: &TestDb) {
    let (_, id) = crate::helpers::noticed(t).await;
    let driver = crate::helpers::named_driver();
    assert!(
        db::answer(
            &t.db,
            key(),
            &id,
            OWNER,
            FineChange::DriverNamed { driver },
            &[]
        )
        .await
        .unwrap()
    );
    let (central, reporter, _server) = start_central(&[StatusCode::UNPROCESSABLE_ENTITY]).await;
    let now = OffsetDateTime::now_utc();
    assert_eq!(reporter.send_due(&t.db, key(), now).await.unwrap(), 0);
    assert_eq!(db::answer_of(&t.db, key(), &id).await.unwrap(), None);
    assert_eq!(
        db::refused_answer_of(&t.db, &id).await.unwrap(),
        Some(("driver_named".to_owned(), "unknown_citizen".to_owned()))
    );
    assert_eq!(
        db::reports_of(&t.db, &id).await.unwrap(),
        [("driver_named".to_owned(), "refused".to_owned())]
    );
    assert_eq!(
        reporter
            .send_due(&t.db, key(), now + time::Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    assert!(central.taken.lock().unwrap().is_empty());
}

on_both_engines!(
    the_documents_of_an_answer_reach_central_before_it,
    a_refused_answer_is_taken_back_with_its_reason,
    the_answer_and_the_payment_reach_central_once,
    a_report_central_cannot_take_now_waits_and_goes_again,
);
