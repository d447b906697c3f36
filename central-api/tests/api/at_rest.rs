//! What central keeps of a notice and of the answers citizen-notify reports is sealed at rest
//! like the citizens' own fields: the outbox's notice (the owner's phone and e-mail) and the
//! reported update (a named driver's name and licence) name no one without the key, still go
//! out and print opened, and rows an earlier version kept in the clear are sealed at the next
//! start.

use std::sync::{Arc, Mutex};

use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use central_api::{
    audit::AuditLog,
    config::NotifySettings,
    db::{
        at_rest::{FINE_UPDATES, NOTICES, reseal_all},
        corrections::{self, Acted, NewCorrection},
        fine_updates::{Applied, transfer},
        review::{fine_of, outbox_pending, sent_notice},
    },
    relay::{Relay, refused, retry_refused},
    sealed::{ResealCount, SealingKey},
};
use protocol::{CitizenId, FineChange, FineUpdate, NamedDriver, ViolationNotice, wire};
use time::OffsetDateTime;

use crate::helpers::{TestDb, issue_one_sealed, on_both_engines, report_sealed};

/// The owner's mobile number as the registry gives it (`helpers::seed_registry`).
const PHONE: &str = "0901234567";

/// citizen-notify's intake for notices, keeping what it is sent (signatures are the relay
/// tests' concern).
async fn intake(State(got): State<Arc<Mutex<Vec<ViolationNotice>>>>, body: Bytes) -> StatusCode {
    got.lock().unwrap().push(wire::decode(&body).unwrap());
    StatusCode::CREATED
}

async fn serve(got: Arc<Mutex<Vec<ViolationNotice>>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/api/v1/notices", post(intake))
        .with_state(got);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn relay(url: &str, key: Option<SealingKey>) -> Relay {
    Relay::new(
        NotifySettings {
            url: url.to_owned(),
            shared_secret: "s".into(),
            ..NotifySettings::default()
        },
        key,
    )
    .unwrap()
}

/// The one message waiting in the outbox, as stored.
async fn waiting(t: &TestDb) -> (String, String) {
    let mut pending = outbox_pending(&t.db).await.unwrap();
    assert_eq!(pending.len(), 1);
    let (_, key, payload) = pending.remove(0);
    (key, payload)
}

fn phone_of(notice: &ViolationNotice) -> Option<&str> {
    notice.contact.as_ref().and_then(|c| c.phone.as_deref())
}

/// A notice waits sealed, is sent opened, and prints opened; a relay without the key does not
/// send it sealed but leaves it for an administrator, who sends it again once the key is back.
async fn a_notice_waits_sealed_and_goes_out_opened(t: &TestDb) {
    let key = SealingKey::generate().unwrap();
    let id = issue_one_sealed(t, Some(&key)).await;
    let (fine_id, stored) = waiting(t).await;
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(!stored.contains(PHONE) && !stored.contains(&id.to_string()));
    assert_eq!(
        phone_of(
            &wire::decode(
                NOTICES
                    .open(Some(&key), &fine_id, stored.clone())
                    .unwrap()
                    .as_bytes()
            )
            .unwrap()
        ),
        Some(PHONE)
    );
    // Bound to its row: not opened as another case's notice, nor under another key.
    assert!(
        NOTICES
            .open(Some(&key), &id.to_string(), stored.clone())
            .is_err()
    );
    let other = SealingKey::generate().unwrap();
    assert!(
        NOTICES
            .open(Some(&other), &fine_id, stored.clone())
            .is_err()
    );

    // The paper notice prints it opened; without the key it does not print.
    let (notice, person) = sent_notice(&t.db, Some(&key), &id).await.unwrap().unwrap();
    assert_eq!(
        (phone_of(&notice), person.phone.as_deref()),
        (Some(PHONE), Some(PHONE))
    );
    assert!(sent_notice(&t.db, None, &id).await.is_err());

    // A relay started without the key: nothing sealed goes out; it waits, refused, in the
    // case's trail.
    let got = Arc::new(Mutex::new(Vec::new()));
    let url = serve(got.clone()).await;
    let audit = AuditLog::new(t.db.clone());
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        relay(&url, None)
            .deliver_due(&t.db, &audit, now)
            .await
            .unwrap(),
        0
    );
    assert!(got.lock().unwrap().is_empty());
    let waiting_for_admin = refused(&t.db).await.unwrap();
    assert_eq!(waiting_for_admin.len(), 1);
    assert!(
        waiting_for_admin[0]
            .error
            .contains("review.secrets_key_file"),
        "{:?}",
        waiting_for_admin[0]
    );
    let trail = audit.for_subject(&format!("violation:{id}")).await.unwrap();
    assert!(trail.iter().any(|e| e.action == "outbox.refused"));

    // The key configured and the notice sent again: it goes out opened, once.
    assert!(
        retry_refused(&t.db, &audit, "admin:cli", waiting_for_admin[0].id)
            .await
            .unwrap()
    );
    let later = now + time::Duration::minutes(1);
    let sealed = relay(&url, Some(key.clone()));
    assert_eq!(sealed.deliver_due(&t.db, &audit, later).await.unwrap(), 1);
    let sent = got.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].event_id, phone_of(&sent[0])), (id, Some(PHONE)));
    // Delivered, it stays sealed (the paper notice reads it).
    let kept: String = service_kit::on_pool!(&t.db, pool => {
        sqlx::query_scalar("SELECT payload FROM outbox WHERE idempotency_key = $1")
            .bind(&fine_id)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(kept, stored);
}

/// What an earlier version kept in the clear — a notice waiting, a reported answer — opens as
/// it is, and the next start seals it (once); after it, a notice still goes out opened.
async fn messages_kept_in_the_clear_are_sealed_at_the_next_start(t: &TestDb) {
    let key = SealingKey::generate().unwrap();
    let id = issue_one_sealed(t, None).await;
    let (fine_id, clear) = waiting(t).await;
    assert!(clear.contains(PHONE));
    let fine = uuid::Uuid::parse_str(&fine_id).unwrap();
    let update = report_sealed(
        &t.db,
        fine,
        FineChange::Disputed {
            reason: "Xe tôi hôm đó ở nhà".into(),
        },
        None,
    )
    .await;
    let fine_update = || async {
        service_kit::on_pool!(&t.db, pool => {
            sqlx::query_scalar::<_, String>("SELECT payload FROM fine_updates WHERE update_id = $1")
                .bind(update.hyphenated().to_string())
                .fetch_one(pool)
                .await
                .unwrap()
        })
    };
    assert!(!fine_update().await.starts_with("v1:"));
    let two = ResealCount {
        from_clear: 2,
        ..ResealCount::default()
    };
    assert_eq!(reseal_all(&t.db, &key).await.unwrap(), two);
    assert_eq!(
        reseal_all(&t.db, &key).await.unwrap(),
        ResealCount::default(),
        "once"
    );
    let (_, sealed) = waiting(t).await;
    assert!(
        sealed.starts_with("v1:") && !sealed.contains(PHONE),
        "{sealed}"
    );
    assert_eq!(NOTICES.open(Some(&key), &fine_id, sealed).unwrap(), clear);
    let stored_update = fine_update().await;
    assert!(stored_update.starts_with("v1:"));
    let opened = FINE_UPDATES
        .open(Some(&key), &update.hyphenated().to_string(), stored_update)
        .unwrap();
    assert!(opened.contains("Xe tôi hôm đó ở nhà"), "{opened}");
    // The supervisor reads the owner's reason from the sealed update; without the key, not.
    let disputes = central_api::db::disputes::open(&t.db, Some(&key))
        .await
        .unwrap();
    assert_eq!(disputes.len(), 1);
    assert_eq!(disputes[0].reason, "Xe tôi hôm đó ở nhà");
    let of_case = central_api::db::disputes::of_violation(&t.db, Some(&key), &id)
        .await
        .unwrap();
    assert_eq!(
        of_case.map(|d| d.reason).as_deref(),
        Some("Xe tôi hôm đó ở nhà")
    );
    assert!(central_api::db::disputes::open(&t.db, None).await.is_err());

    let got = Arc::new(Mutex::new(Vec::new()));
    let url = serve(got.clone()).await;
    let audit = AuditLog::new(t.db.clone());
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        relay(&url, Some(key))
            .deliver_due(&t.db, &audit, now)
            .await
            .unwrap(),
        1
    );
    assert_eq!(phone_of(&got.lock().unwrap()[0]), Some(PHONE));
    assert_eq!(got.lock().unwrap()[0].event_id, id);
}

/// A rotated key: what the former key sealed is sealed again under the new one; a value that
/// opens under no configured key is counted (the start stops on it) and left as it is.
async fn a_rotated_key_seals_the_messages_again(t: &TestDb) {
    let old = SealingKey::generate().unwrap();
    issue_one_sealed(t, Some(&old)).await;
    let (fine_id, before) = waiting(t).await;
    let new = SealingKey::generate().unwrap();
    let rotated = new.clone().with_former(vec![old]);
    assert_eq!(
        reseal_all(&t.db, &rotated).await.unwrap(),
        ResealCount {
            from_former: 1,
            ..ResealCount::default()
        }
    );
    let (_, after) = waiting(t).await;
    assert_ne!(before, after);
    assert!(NOTICES.open(Some(&new), &fine_id, after.clone()).is_ok());
    let stranger = SealingKey::generate().unwrap();
    assert_eq!(
        reseal_all(&t.db, &stranger).await.unwrap(),
        ResealCount {
            unsealable: 1,
            ..ResealCount::default()
        }
    );
    assert_eq!(waiting(t).await.1, after, "left as it is");
}

/// An owner's answer naming the driver: the answer kept (with the driver's name and licence)
/// and the notice queued to the driver (with the driver's phone) are both sealed.
async fn an_answer_naming_the_driver_is_kept_sealed(t: &TestDb) {
    const DRIVER: &str = "079095001234";
    const DRIVER_PHONE: &str = "0912345678";
    let key = SealingKey::generate().unwrap();
    let event = issue_one_sealed(t, Some(&key)).await;
    let (owners_case, _) = waiting(t).await;
    crate::helpers::seed_citizen(&t.db, DRIVER, "Trần Thị Bình", "45 Lê Lợi", DRIVER_PHONE).await;
    let driver = CitizenId::parse(DRIVER).unwrap();
    let resident = central_api::db::owners::citizen(&t.db, None, &driver)
        .await
        .unwrap()
        .unwrap();
    let update = FineUpdate {
        update_id: uuid::Uuid::now_v7(),
        fine_id: uuid::Uuid::parse_str(&owners_case).unwrap(),
        at: protocol::UtcTimestamp::now(),
        change: FineChange::DriverNamed {
            driver: NamedDriver {
                full_name: "Trần Thị Bình".into(),
                citizen_id: driver,
                licence_no: "790123456789".into(),
            },
        },
        documents: Vec::new(),
    };
    let payload = String::from_utf8(wire::encode(&update).unwrap()).unwrap();
    let audit = AuditLog::new(t.db.clone());
    let applied = transfer(
        &t.db,
        &audit,
        &update,
        (&payload, Some(&key)),
        &resident,
        "Phòng CSGT",
    )
    .await
    .unwrap();
    let Applied::New {
        moved_to: Some(drivers_case),
        ..
    } = applied
    else {
        panic!("the case moves to the driver: {applied:?}");
    };
    let row = update.update_id.hyphenated().to_string();
    let stored: String = service_kit::on_pool!(&t.db, pool => {
        sqlx::query_scalar("SELECT payload FROM fine_updates WHERE update_id = $1")
            .bind(&row)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(
        !stored.contains("790123456789") && !stored.contains(DRIVER),
        "{stored}"
    );
    assert_eq!(
        FINE_UPDATES.open(Some(&key), &row, stored.clone()).unwrap(),
        payload
    );
    assert!(FINE_UPDATES.open(None, &row, stored).is_err());
    // The driver's notice waits sealed beside the owner's closing.
    let drivers_case = drivers_case.hyphenated().to_string();
    let (_, _, notice) = outbox_pending(&t.db)
        .await
        .unwrap()
        .into_iter()
        .find(|(_, k, _)| *k == drivers_case)
        .expect("the driver's notice waits");
    assert!(
        notice.starts_with("v1:") && !notice.contains(DRIVER_PHONE),
        "{notice}"
    );
    let opened: ViolationNotice = wire::decode(
        NOTICES
            .open(Some(&key), &drivers_case, notice)
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(phone_of(&opened), Some(DRIVER_PHONE));
    // The case moved to the driver names them sealed; the officers of the case see them.
    let (name, licence): (String, String) = service_kit::on_pool!(&t.db, pool => {
        sqlx::query_as("SELECT full_name, licence_no FROM case_transfers WHERE fine_id = $1")
            .bind(&owners_case)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert!(
        name.starts_with("v1:") && !name.contains("Bình") && !licence.contains("790123456789"),
        "{name} {licence}"
    );
    let named = fine_of(&t.db, Some(&key), &event)
        .await
        .unwrap()
        .unwrap()
        .named
        .unwrap();
    assert_eq!(
        (named.full_name.as_str(), named.licence_no.as_deref()),
        ("Trần Thị Bình", Some("790123456789"))
    );
    assert_eq!(named.citizen_id, DRIVER);
    let error = fine_of(&t.db, None, &event).await.unwrap_err().to_string();
    assert!(error.contains("person named"), "{error}");
}

/// A citizen's correction request and its answer are kept sealed and read back opened; a
/// request an earlier version kept in the clear is sealed at the next start, found by its id on
/// either engine.
async fn a_correction_request_is_kept_sealed(t: &TestDb) {
    const WORDS: &str = "Địa chỉ của tôi là 99 Hai Bà Trưng, không phải 12 Võ Văn Tần.";
    const ANSWER: &str = "Đã sửa địa chỉ theo Căn cước của ông.";
    let key = SealingKey::generate().unwrap();
    let audit = AuditLog::new(t.db.clone());
    let citizen = CitizenId::parse("079203012345").unwrap();
    let now = OffsetDateTime::now_utc();
    let new = NewCorrection {
        citizen: &citizen,
        event_id: None,
        channel: "email",
        request: WORDS,
        received_at: now,
    };
    let by = "officer:supervisor";
    let earlier = corrections::record(&t.db, None, &audit, &new, by, now)
        .await
        .unwrap();
    let sealed = corrections::record(&t.db, Some(&key), &audit, &new, by, now)
        .await
        .unwrap();
    assert_eq!(sealed.request, WORDS);
    const LONGER: &str = "Chờ Công an phường xác nhận địa chỉ 99 Hai Bà Trưng.";
    let Acted::Done(extended) =
        corrections::extend(&t.db, Some(&key), &audit, sealed.id, (5, LONGER), by, now)
            .await
            .unwrap()
    else {
        panic!("extended")
    };
    assert_eq!(extended.extension_reason.as_deref(), Some(LONGER));
    let Acted::Done(answered) = corrections::answer(
        &t.db,
        Some(&key),
        &audit,
        sealed.id,
        ("corrected", ANSWER),
        by,
        now,
    )
    .await
    .unwrap() else {
        panic!("answered")
    };
    assert_eq!(answered.answer.as_deref(), Some(ANSWER));
    assert_eq!(answered.extension_reason.as_deref(), Some(LONGER));
    let reasons: Vec<Option<String>> = service_kit::on_pool!(&t.db, pool => {
        sqlx::query_scalar("SELECT extension_reason FROM corrections")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    assert_eq!(reasons.iter().flatten().count(), 1);
    assert!(
        reasons
            .iter()
            .flatten()
            .all(|r| r.starts_with("v1:") && !r.contains("Hai Bà Trưng")),
        "{reasons:?}"
    );
    let stored = || async {
        service_kit::on_pool!(&t.db, pool => {
            sqlx::query_as::<_, (String, Option<String>)>("SELECT request, answer FROM corrections")
                .fetch_all(pool)
                .await
                .unwrap()
        })
    };
    let clear = stored()
        .await
        .into_iter()
        .filter(|(request, _)| request.contains("Hai Bà Trưng"))
        .count();
    assert_eq!(clear, 1, "the one recorded without a key only");
    assert!(
        stored()
            .await
            .iter()
            .all(|(_, answer)| answer.as_deref().is_none_or(|a| a.starts_with("v1:")))
    );
    assert_eq!(
        reseal_all(&t.db, &key).await.unwrap(),
        ResealCount {
            from_clear: 1,
            ..ResealCount::default()
        }
    );
    for (request, answer) in stored().await {
        assert!(
            request.starts_with("v1:") && !request.contains("Trưng"),
            "{request}"
        );
        assert!(answer.is_none_or(|a| !a.contains("Căn cước")));
    }
    let listed = corrections::list(&t.db, Some(&key), Some(&citizen))
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|c| c.request == WORDS));
    let again = corrections::get(&t.db, Some(&key), earlier.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.request, WORDS);
    let error = corrections::list(&t.db, None, Some(&citizen))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("correction request"), "{error}");
}

on_both_engines!(
    a_correction_request_is_kept_sealed,
    a_notice_waits_sealed_and_goes_out_opened,
    messages_kept_in_the_clear_are_sealed_at_the_next_start,
    a_rotated_key_seals_the_messages_again,
    an_answer_naming_the_driver_is_kept_sealed,
);
