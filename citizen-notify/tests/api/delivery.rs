//! Delivery of notices to the citizen app: pushed once, signed; retried after growing waits
//! while the app's backend is down; a final state either way, every attempt logged.

use std::time::Duration;

use base64::Engine as _;
use citizen_notify::{
    config::DeliverySettings,
    db,
    delivery::{Deliverer, EMAIL, PUSH, SMS, channels},
};
use sandbox::push::PushReceiver;
use time::OffsetDateTime;

use crate::helpers::{OWNER, TestDb, key, notice, on_both_engines};

const PUSH_SECRET: &str = "the secret shared with the app backend";

struct App {
    receiver: PushReceiver,
    deliverer: Deliverer,
    _server: sandbox::Running,
}

async fn app_backend(max_attempts: u32) -> App {
    let receiver = PushReceiver::new(PUSH_SECRET);
    let server = sandbox::serve(
        "127.0.0.1:0".parse().unwrap(),
        sandbox::push::router(receiver.clone()),
    )
    .await
    .unwrap();
    let deliverer = Deliverer::new(DeliverySettings {
        push_url: format!("{}/api/v1/push", server.url()),
        push_secret: PUSH_SECRET.into(),
        portal_url: "https://phatnguoi.example.vn".into(),
        max_attempts,
        max_backoff_s: 60,
        timeout_ms: 5_000,
        ..DeliverySettings::default()
    })
    .unwrap();
    App {
        receiver,
        deliverer,
        _server: server,
    }
}

/// A notice stored as the intake stores it, with a push delivery; its fine id.
async fn stored(t: &TestDb) -> String {
    let n = notice();
    let body = protocol::wire::encode(&n).unwrap();
    db::store_notice(&t.db, key(), &n, &body, &[PUSH])
        .await
        .unwrap();
    // The same notice again (central redelivering) adds no second delivery.
    db::store_notice(&t.db, key(), &n, &body, &[PUSH])
        .await
        .unwrap();
    n.fine_id.hyphenated().to_string()
}

async fn view(t: &TestDb, fine_id: &str) -> db::DeliveryView {
    db::delivery_of(&t.db, fine_id, PUSH)
        .await
        .unwrap()
        .unwrap()
}

async fn a_notice_is_pushed_once_signed_with_its_link(t: &TestDb) {
    let app = app_backend(8).await;
    let id = stored(t).await;
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        app.deliverer.deliver_due(&t.db, key(), now).await.unwrap(),
        1
    );
    assert_eq!(
        app.deliverer.deliver_due(&t.db, key(), now).await.unwrap(),
        0
    );
    let got = app.receiver.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["citizen_id"], OWNER);
    assert_eq!(got[0]["fine_id"], id.as_str());
    assert_eq!(
        got[0]["url"],
        format!("https://phatnguoi.example.vn/fines/{id}").as_str()
    );
    let body = got[0]["body"].as_str().unwrap();
    let n = db::notice_of(&t.db, key(), &id, "079203012345")
        .await
        .unwrap()
        .unwrap();
    let due = format!("trước {}", protocol::vi::local_time(n.answer_due));
    for shown in [
        "51F-123.45",
        "Ngã tư Hàng Xanh",
        "26/11/2025 15:34:56",
        due.as_str(),
    ] {
        assert!(body.contains(shown), "{shown} in {body}");
    }
    assert!(
        !body.contains("19.000.000"),
        "a notice names no amount: {body}"
    );
    let v = view(t, &id).await;
    assert_eq!((v.state.as_str(), v.attempts), ("delivered", 1));
    assert_eq!(v.log, ["delivered"]);
    // Central hears of it.
    assert_eq!(
        db::reports_of(&t.db, &id).await.unwrap(),
        [("notice_delivered".to_owned(), "pending".to_owned())]
    );
}

async fn a_failing_push_is_retried_after_growing_waits_until_delivered(t: &TestDb) {
    let app = app_backend(8).await;
    app.receiver.fail_next(2);
    let id = stored(t).await;
    let t0 = OffsetDateTime::now_utc();
    assert_eq!(
        app.deliverer.deliver_due(&t.db, key(), t0).await.unwrap(),
        0
    );
    let v = view(t, &id).await;
    assert_eq!((v.state.as_str(), v.attempts), ("pending", 1));
    assert!(v.last_error.unwrap().contains("503"));
    // Not again before its wait (2 s) is over ...
    assert_eq!(
        app.deliverer
            .deliver_due(&t.db, key(), t0 + Duration::from_secs(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(view(t, &id).await.attempts, 1);
    // ... then again (503, a longer wait: 4 s), then delivered.
    let t1 = t0 + Duration::from_secs(3);
    app.deliverer.deliver_due(&t.db, key(), t1).await.unwrap();
    assert_eq!(view(t, &id).await.attempts, 2);
    assert_eq!(
        app.deliverer
            .deliver_due(&t.db, key(), t1 + Duration::from_secs(3))
            .await
            .unwrap(),
        0
    );
    assert_eq!(view(t, &id).await.attempts, 2, "the second wait is longer");
    assert_eq!(
        app.deliverer
            .deliver_due(&t.db, key(), t1 + Duration::from_secs(5))
            .await
            .unwrap(),
        1
    );
    let v = view(t, &id).await;
    assert_eq!(v.state, "delivered");
    assert_eq!(v.log, ["retry", "retry", "delivered"]);
    assert_eq!(app.receiver.received().len(), 1);
}

async fn a_push_that_cannot_succeed_ends_failed(t: &TestDb) {
    // Down for good: three attempts, then failed.
    let app = app_backend(3).await;
    app.receiver.fail_next(usize::MAX);
    let id = stored(t).await;
    let mut at = OffsetDateTime::now_utc();
    for _ in 0..5 {
        app.deliverer.deliver_due(&t.db, key(), at).await.unwrap();
        at += Duration::from_secs(120);
    }
    let v = view(t, &id).await;
    assert_eq!((v.state.as_str(), v.attempts), ("failed", 3));
    assert_eq!(v.log, ["retry", "retry", "failed"]);
    assert_eq!(
        db::reports_of(&t.db, &id).await.unwrap(),
        [("notice_failed".to_owned(), "pending".to_owned())],
        "central hears of the failure once, not of each retry"
    );

    // Refused (the citizen has no app account): final at once.
    let t2 = TestDb::sqlite(&db::MIGRATIONS).await;
    let app = app_backend(8).await;
    app.receiver.only_citizens(&["001099000001"]);
    let id = stored(&t2).await;
    app.deliverer
        .deliver_due(&t2.db, key(), OffsetDateTime::now_utc())
        .await
        .unwrap();
    let v = view(&t2, &id).await;
    assert_eq!((v.state.as_str(), v.attempts), ("failed", 1));
    assert!(v.last_error.unwrap().contains("404"));
    t2.finish().await;
}

async fn the_app_backend_can_check_who_sent_the_push(t: &TestDb) {
    // A deliverer with the wrong secret is refused by the backend: 401, final.
    let app = app_backend(8).await;
    let wrong = Deliverer::new(DeliverySettings {
        push_secret: "not the shared secret".into(),
        push_url: app.receiver_url(),
        ..DeliverySettings::default()
    })
    .unwrap();
    let id = stored(t).await;
    wrong
        .deliver_due(&t.db, key(), OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(app.receiver.received().is_empty());
    let v = view(t, &id).await;
    assert_eq!(v.state, "failed");
    assert!(v.last_error.unwrap().contains("401"));
}

impl App {
    fn receiver_url(&self) -> String {
        format!("{}/api/v1/push", self._server.url())
    }
}

async fn a_notice_goes_by_sms_too_when_a_mobile_is_on_record(t: &TestDb) {
    let push = app_backend(8).await;
    let sms = sandbox::sms::SmsGateway::new("the gateway's api key");
    let sms_server = sandbox::serve(
        "127.0.0.1:0".parse().unwrap(),
        sandbox::sms::router(sms.clone()),
    )
    .await
    .unwrap();
    let settings = DeliverySettings {
        push_url: push.receiver_url(),
        push_secret: PUSH_SECRET.into(),
        sms_url: format!("{}/api/v1/sms", sms_server.url()),
        sms_api_key: "the gateway's api key".into(),
        sms_sender: "CSGT-HCM".into(),
        portal_url: "https://phatnguoi.example.vn".into(),
        ..DeliverySettings::default()
    };
    let n = notice();
    assert_eq!(channels(&settings, &n), [PUSH, SMS]);
    let without_phone = protocol::ViolationNotice {
        contact: None,
        ..notice()
    };
    assert_eq!(channels(&settings, &without_phone), [PUSH]);

    let body = protocol::wire::encode(&n).unwrap();
    db::store_notice(&t.db, key(), &n, &body, &channels(&settings, &n))
        .await
        .unwrap();
    let deliverer = Deliverer::new(settings.clone()).unwrap();
    assert_eq!(
        deliverer
            .deliver_due(&t.db, key(), OffsetDateTime::now_utc())
            .await
            .unwrap(),
        2
    );
    let sent = sms.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0]["to"].as_str(), sent[0]["from"].as_str()),
        (Some("0901234567"), Some("CSGT-HCM"))
    );
    let text = sent[0]["text"].as_str().unwrap();
    let id = n.fine_id.hyphenated().to_string();
    for shown in ["51F-123.45", "26/11/2025"] {
        assert!(text.contains(shown), "{shown} in {text}");
    }
    // No link and no amount: what the police say they never send, and scams do.
    for never in ["http", "phatnguoi", "19.000.000", "19000000", "dong"] {
        assert!(!text.contains(never), "{never} in {text}");
    }
    assert!(
        text.is_ascii() && text.len() <= 160,
        "one plain SMS: {text}"
    );
    assert_eq!(view(t, &id).await.state, "delivered");
    assert_eq!(
        db::delivery_of(&t.db, &id, SMS)
            .await
            .unwrap()
            .unwrap()
            .state,
        "delivered"
    );

    // A wrong key is refused by the gateway: final.
    let other = notice();
    let body = protocol::wire::encode(&other).unwrap();
    db::store_notice(&t.db, key(), &other, &body, &[SMS])
        .await
        .unwrap();
    let wrong = Deliverer::new(DeliverySettings {
        sms_api_key: "not the key".into(),
        ..settings
    })
    .unwrap();
    wrong
        .deliver_due(&t.db, key(), OffsetDateTime::now_utc())
        .await
        .unwrap();
    let v = db::delivery_of(&t.db, &other.fine_id.hyphenated().to_string(), SMS)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.state, "failed");
    assert!(v.last_error.unwrap().contains("401"));
}

/// The text of a message as the relay took it: its headers, and its body decoded.
fn headers_and_text(data: &str) -> (String, String) {
    let (headers, body) = data.split_once("\r\n\r\n").unwrap();
    assert!(
        headers.contains("Content-Transfer-Encoding: base64"),
        "{headers}"
    );
    let body: String = body.split_whitespace().collect();
    let text = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    (headers.to_owned(), String::from_utf8(text).unwrap())
}

async fn a_notice_goes_by_email_when_an_address_is_on_record(t: &TestDb) {
    let relay = sandbox::smtp::Relay::with_credentials("csgt-notices", "the relay's password");
    let smtp = sandbox::smtp::serve(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        relay.clone(),
    )
    .unwrap();
    let settings = DeliverySettings {
        smtp_url: format!("smtp://{}", smtp.addr),
        smtp_username: "csgt-notices".into(),
        smtp_password: "the relay's password".into(),
        email_from: "Cảnh sát giao thông TP.HCM <thongbao@csgt.example.vn>".into(),
        portal_url: "https://phatnguoi.example.vn".into(),
        max_backoff_s: 60,
        timeout_ms: 5_000,
        ..DeliverySettings::default()
    };
    let n = protocol::ViolationNotice {
        contact: Some(protocol::Contact {
            phone: None,
            email: Some("nguyen.van.an@example.vn".into()),
        }),
        ..notice()
    };
    assert_eq!(channels(&settings, &n), [EMAIL]);
    assert!(
        channels(&settings, &notice()).is_empty(),
        "no address, no e-mail"
    );
    let body = protocol::wire::encode(&n).unwrap();
    db::store_notice(&t.db, key(), &n, &body, &[EMAIL])
        .await
        .unwrap();
    let id = n.fine_id.hyphenated().to_string();
    let deliverer = Deliverer::new(settings.clone()).unwrap();

    // The relay is busy (451): tried again later, then taken once.
    relay.fail_next(1);
    let now = OffsetDateTime::now_utc();
    assert_eq!(deliverer.deliver_due(&t.db, key(), now).await.unwrap(), 0);
    let v = db::delivery_of(&t.db, &id, EMAIL).await.unwrap().unwrap();
    assert_eq!((v.state.as_str(), v.attempts), ("pending", 1), "{v:?}");
    assert!(v.last_error.unwrap().contains("451"));
    assert!(relay.received().is_empty());
    let later = now + Duration::from_secs(120);
    assert_eq!(deliverer.deliver_due(&t.db, key(), later).await.unwrap(), 1);
    assert_eq!(
        db::delivery_of(&t.db, &id, EMAIL)
            .await
            .unwrap()
            .unwrap()
            .state,
        "delivered"
    );
    let received = relay.received();
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.from, "thongbao@csgt.example.vn");
    assert_eq!(mail.to, ["nguyen.van.an@example.vn"]);
    assert_eq!(mail.user.as_deref(), Some("csgt-notices"));
    let (headers, text) = headers_and_text(&mail.data);
    assert!(
        headers.contains(&format!("Message-ID: <fine-{id}@csgt.example.vn>")),
        "{headers}"
    );
    assert!(
        headers.contains("To: nguyen.van.an@example.vn"),
        "{headers}"
    );
    assert!(headers.contains("charset=utf-8"), "{headers}");
    let due = format!(
        "Thời hạn đến giải quyết: {}",
        protocol::vi::local_time(n.answer_due)
    );
    for shown in [
        "51F-123.45",
        "26/11/2025",
        due.as_str(),
        "Không chấp hành hiệu lệnh của đèn tín hiệu giao thông",
        "Phòng CSGT",
        "https://phatnguoi.example.vn ",
        "failing to obey a traffic signal",
    ] {
        assert!(text.contains(shown), "{shown} in {text}");
    }
    // The portal's own address, no link to the fine or to pay, and no amount: a notice
    // decides nothing.
    assert!(
        !text.contains("/fines/")
            && !text.contains("nộp phạt trực tuyến")
            && !text.contains("19.000.000"),
        "{text}"
    );
    assert!(
        text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'),
        "every line ends in CRLF"
    );

    // A relay that refuses the message (5xx) ends the delivery; so do wrong credentials.
    for (other, settings, expected) in [
        (notice(), settings.clone(), "554"),
        (
            notice(),
            DeliverySettings {
                smtp_password: "not the password".into(),
                ..settings.clone()
            },
            "535",
        ),
    ] {
        let other = protocol::ViolationNotice {
            contact: n.contact.clone(),
            ..other
        };
        if expected == "554" {
            relay.refuse_next(1);
        }
        let body = protocol::wire::encode(&other).unwrap();
        db::store_notice(&t.db, key(), &other, &body, &[EMAIL])
            .await
            .unwrap();
        Deliverer::new(settings)
            .unwrap()
            .deliver_due(&t.db, key(), OffsetDateTime::now_utc())
            .await
            .unwrap();
        let v = db::delivery_of(&t.db, &other.fine_id.hyphenated().to_string(), EMAIL)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v.state, "failed", "{expected}: {v:?}");
        assert!(v.last_error.unwrap().contains(expected), "{expected}");
    }
    assert_eq!(relay.received().len(), 1);
}

/// Two workers (two replicas of the service) passing at once claim each due delivery once
/// between them: none is sent twice. A claimed delivery is left to its worker until the lease
/// ends; a worker that died holding it leaves it to be tried again then.
async fn two_workers_never_claim_the_same_delivery(t: &TestDb) {
    let mut ids = Vec::new();
    for _ in 0..12 {
        let mut n = notice();
        n.fine_id = uuid::Uuid::now_v7();
        let body = protocol::wire::encode(&n).unwrap();
        db::store_notice(&t.db, key(), &n, &body, &[PUSH])
            .await
            .unwrap();
        ids.push(n.fine_id);
    }
    let now = OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let (a, b) = tokio::join!(
        db::due_deliveries(&t.db, key(), now),
        db::due_deliveries(&t.db, key(), now)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut claimed: Vec<i64> = a.iter().chain(&b).map(|d| d.id).collect();
    claimed.sort_unstable();
    let all = claimed.len();
    claimed.dedup();
    assert_eq!(claimed.len(), all, "a delivery claimed by both workers");
    assert_eq!(all, ids.len(), "every due delivery claimed");
    assert!(
        db::due_deliveries(&t.db, key(), now)
            .await
            .unwrap()
            .is_empty(),
        "claimed deliveries are not due to another worker"
    );
    let after_lease = now + service_kit::outbox::LEASE + time::Duration::seconds(1);
    assert_eq!(
        db::due_deliveries(&t.db, key(), after_lease)
            .await
            .unwrap()
            .len(),
        ids.len(),
        "deliveries of a worker that died are due again after the lease"
    );
}

on_both_engines!(
    two_workers_never_claim_the_same_delivery,
    a_notice_goes_by_email_when_an_address_is_on_record,
    a_notice_goes_by_sms_too_when_a_mobile_is_on_record,
    a_notice_is_pushed_once_signed_with_its_link,
    a_failing_push_is_retried_after_growing_waits_until_delivered,
    a_push_that_cannot_succeed_ends_failed,
    the_app_backend_can_check_who_sent_the_push,
);
