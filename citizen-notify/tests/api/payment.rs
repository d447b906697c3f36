//! Paying a fine through a gateway that speaks VNPay's protocol (the sandbox's, over HTTP):
//! the result is taken only from the gateway's signed word, recorded once, and a fine is paid
//! once.

use std::collections::BTreeMap;

use citizen_notify::{
    db::{self, PaymentState},
    payment::{self, PaymentError},
};
use gateways::vnpay::{self, IpnReply};

use crate::helpers::{
    PAYMENT_SECRET as SECRET, TestDb, World, at_gateway, fine, form_params, key, on_both_engines,
    world,
};

/// An IPN call as the gateway would make it, with these parameters.
async fn ipn(w: &World, params: &BTreeMap<String, String>, secret: &str) -> IpnReply {
    ipn_query(w, &vnpay::signed_query(secret.as_bytes(), params)).await
}

/// The body of a GET of `url`.
async fn text_of(w: &World, url: &str) -> String {
    w.http.get(url).send().await.unwrap().text().await.unwrap()
}

/// An IPN call with this query string, signed or not.
async fn ipn_query(w: &World, query: &str) -> IpnReply {
    let body = text_of(w, &format!("{}/payment/vnpay/ipn?{query}", w.notify)).await;
    serde_json::from_str(&body).unwrap()
}

/// The citizen asks to pay (from their phone's address).
async fn start(
    t: &TestDb,
    w: &World,
    fine_id: &str,
    citizen: &str,
) -> Result<String, PaymentError> {
    payment::start(&t.db, key(), &w.settings, fine_id, citizen, "203.0.113.9").await
}

fn state(p: Option<db::Payment>) -> Option<PaymentState> {
    p.map(|p| p.state)
}

async fn a_fine_is_paid_through_the_gateway_once(t: &TestDb) {
    let w = world(t).await;
    let (n, id) = fine(t).await;
    let citizen = n.citizen_id.as_str();
    let url = start(t, &w, &id, citizen).await.unwrap();
    let paid = at_gateway(&w, &url, "approve").await;
    assert_eq!(paid.page.0, 200);
    assert!(paid.page.1.contains("Đã thanh toán"), "{}", paid.page.1);
    assert!(paid.page.1.contains("19.000.000"), "{}", paid.page.1);
    let log = w.gateway.ipn_log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].reply, Some(IpnReply::confirmed()));
    let recorded = db::paid_payment_of(&t.db, &id).await.unwrap().unwrap();
    assert_eq!(recorded.amount_vnd, 19_000_000);
    assert_eq!(
        recorded.transaction_no.as_deref(),
        Some(paid.result["vnp_TransactionNo"].as_str())
    );

    // Paid is paid: no second attempt, and the IPN replayed changes nothing.
    assert!(matches!(
        start(t, &w, &id, citizen).await,
        Err(PaymentError::AlreadyPaid)
    ));
    assert_eq!(
        ipn(&w, &paid.result, SECRET).await,
        IpnReply::already_confirmed()
    );
    assert_eq!(
        state(db::paid_payment_of(&t.db, &id).await.unwrap()),
        Some(PaymentState::Paid)
    );
}

async fn only_the_gateways_signed_word_with_the_right_amount_counts(t: &TestDb) {
    let w = world(t).await;
    let (n, id) = fine(t).await;
    let citizen = n.citizen_id.as_str();
    let url = start(t, &w, &id, citizen).await.unwrap();
    let txn_ref = form_params(url.split_once('?').unwrap().1)["vnp_TxnRef"].clone();
    let result = |amount: &str, txn: &str| -> BTreeMap<String, String> {
        [
            ("vnp_Amount", amount),
            ("vnp_BankCode", "NCB"),
            ("vnp_PayDate", "20251126153456"),
            ("vnp_ResponseCode", "00"),
            ("vnp_TmnCode", "TVETEST1"),
            ("vnp_TransactionNo", "14999999"),
            ("vnp_TransactionStatus", "00"),
            ("vnp_TxnRef", txn),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    };
    // Forged (another secret), for less money, for no such payment, unsigned.
    assert_eq!(
        ipn(&w, &result("1900000000", &txn_ref), "not the secret").await,
        IpnReply::invalid_checksum()
    );
    assert_eq!(
        ipn(&w, &result("100000", &txn_ref), SECRET).await,
        IpnReply::invalid_amount()
    );
    assert_eq!(
        ipn(&w, &result("1900000000", "no-such-payment"), SECRET).await,
        IpnReply::order_not_found()
    );
    let unsigned = format!("vnp_TxnRef={txn_ref}&vnp_Amount=1900000000&vnp_ResponseCode=00");
    assert_eq!(ipn_query(&w, &unsigned).await, IpnReply::invalid_checksum());
    assert_eq!(
        state(db::payment(&t.db, &txn_ref).await.unwrap()),
        Some(PaymentState::Pending),
        "nothing was recorded"
    );
    assert!(db::paid_payment_of(&t.db, &id).await.unwrap().is_none());

    // A return URL with a bad signature shows nothing.
    let mut tampered = result("1900000000", &txn_ref);
    tampered.insert("vnp_SecureHash".into(), "00".repeat(64));
    let query: String = tampered
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let back = w
        .http
        .get(format!("{}?{query}", w.settings.return_url))
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 400);

    // Declined at the gateway: failed, unpaid, and the citizen may try again.
    let declined = at_gateway(&w, &url, "decline").await;
    assert!(
        declined.page.1.contains("không thành công"),
        "{}",
        declined.page.1
    );
    assert_eq!(
        state(db::payment(&t.db, &txn_ref).await.unwrap()),
        Some(PaymentState::Failed)
    );
    let again = start(t, &w, &id, citizen).await.unwrap();

    // The gateway's own values are text on the receipt, whatever they hold.
    let txn_ref = form_params(again.split_once('?').unwrap().1)["vnp_TxnRef"].clone();
    let mut odd = result("1900000000", &txn_ref);
    odd.insert(
        "vnp_TransactionNo".into(),
        "<img src=x onerror=alert(1)>".into(),
    );
    assert_eq!(ipn(&w, &odd, SECRET).await, IpnReply::confirmed());
    let receipt = text_of(
        &w,
        &format!(
            "{}?{}",
            w.settings.return_url,
            vnpay::signed_query(SECRET.as_bytes(), &odd)
        ),
    )
    .await;
    assert!(
        receipt.contains("&lt;img src=x onerror=alert(1)&gt;") && !receipt.contains("<img"),
        "{receipt}"
    );
    // The time of payment as a citizen reads one, not the gateway's `yyyyMMddHHmmss`.
    assert!(receipt.contains("26/11/2025 15:34:56"), "{receipt}");
    assert!(!receipt.contains("20251126153456"), "{receipt}");
}

async fn a_payment_whose_ipn_was_lost_is_reconciled(t: &TestDb) {
    let w = world(t).await;
    let (n, id) = fine(t).await;
    let url = start(t, &w, &id, n.citizen_id.as_str()).await.unwrap();
    let paid = at_gateway(&w, &url, "approve_ipn_lost").await;
    assert!(w.gateway.ipn_log().is_empty(), "no IPN came");
    assert!(paid.page.1.contains("Đang xử lý"), "{}", paid.page.1);
    assert!(db::paid_payment_of(&t.db, &id).await.unwrap().is_none());

    let http = reqwest::Client::new();
    let swept = payment::reconcile(&t.db, key(), &w.settings, &http)
        .await
        .unwrap();
    assert_eq!((swept.asked, swept.paid), (1, 1));
    let recorded = db::paid_payment_of(&t.db, &id).await.unwrap().unwrap();
    assert_eq!(
        recorded.transaction_no.as_deref(),
        Some(paid.result["vnp_TransactionNo"].as_str())
    );
    let again = payment::reconcile(&t.db, key(), &w.settings, &http)
        .await
        .unwrap();
    assert_eq!(again.asked, 0, "a settled payment is not asked about again");
    // The IPN arriving late changes nothing.
    assert_eq!(
        ipn(&w, &paid.result, SECRET).await,
        IpnReply::already_confirmed()
    );
}

async fn two_attempts_paid_at_the_gateway_make_one_payment_and_a_refund(t: &TestDb) {
    let w = world(t).await;
    let (n, id) = fine(t).await;
    let citizen = n.citizen_id.as_str();
    // Two tabs: both links made before either is paid.
    let first = start(t, &w, &id, citizen).await.unwrap();
    let second = start(t, &w, &id, citizen).await.unwrap();
    at_gateway(&w, &first, "approve").await;
    let again = at_gateway(&w, &second, "approve").await;
    assert!(again.page.1.contains("hoàn lại"), "{}", again.page.1);
    assert_eq!(
        state(
            db::payment(&t.db, &again.result["vnp_TxnRef"])
                .await
                .unwrap()
        ),
        Some(PaymentState::RefundDue)
    );
    assert_eq!(
        db::paid_payment_of(&t.db, &id)
            .await
            .unwrap()
            .unwrap()
            .txn_ref,
        form_params(first.split_once('?').unwrap().1)["vnp_TxnRef"]
    );
}

/// The fine cancelled while its owner is at the gateway: the money that comes is owed back, and
/// the fine is not paid.
async fn a_payment_landing_after_its_fine_was_cancelled_is_refunded(t: &TestDb) {
    let w = world(t).await;
    let (n, id) = fine(t).await;
    let url = start(t, &w, &id, n.citizen_id.as_str()).await.unwrap();
    let cancelled = protocol::FineResolution {
        resolution_id: uuid::Uuid::now_v7(),
        fine_id: uuid::Uuid::parse_str(&id).unwrap(),
        decided_at: protocol::UtcTimestamp::now(),
        outcome: protocol::DisputeOutcome::Cancelled,
        answer: "Quyết định xử phạt bị hủy.".into(),
        ground: protocol::ResolutionGround::Dispute,
    };
    let payload = protocol::wire::encode(&cancelled).unwrap();
    db::store_resolution(&t.db, key(), &cancelled, &payload)
        .await
        .unwrap();
    let paid = at_gateway(&w, &url, "approve").await;
    assert_eq!(
        state(
            db::payment(&t.db, &paid.result["vnp_TxnRef"])
                .await
                .unwrap()
        ),
        Some(PaymentState::RefundDue)
    );
    assert!(db::paid_payment_of(&t.db, &id).await.unwrap().is_none());
    assert!(
        !db::reports_of(&t.db, &id)
            .await
            .unwrap()
            .iter()
            .any(|(kind, _)| kind == "paid"),
        "central is not told of a payment of a cancelled fine"
    );
}

async fn a_citizen_cannot_pay_another_citizens_fine(t: &TestDb) {
    let w = world(t).await;
    let (_, id) = fine(t).await;
    for (fine_id, citizen) in [
        (id.as_str(), "001099000001"),
        ("no-such-fine", "079203012345"),
    ] {
        assert!(matches!(
            start(t, &w, fine_id, citizen).await,
            Err(PaymentError::NotFound)
        ));
    }
}

on_both_engines!(
    a_payment_landing_after_its_fine_was_cancelled_is_refunded,
    a_fine_is_paid_through_the_gateway_once,
    only_the_gateways_signed_word_with_the_right_amount_counts,
    a_payment_whose_ipn_was_lost_is_reconciled,
    two_attempts_paid_at_the_gateway_make_one_payment_and_a_refund,
    a_citizen_cannot_pay_another_citizens_fine,
);
