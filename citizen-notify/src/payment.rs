//! Paying a penalty decision online (never a notice: [`PaymentError::NotDecided`]), with the late
//! charge the law adds after its due day ([`protocol::PenaltyDecision::amount_due`]): the merchant side of the VNPay gateway protocol (2.1.0, see
//! [`gateways::vnpay`]).
//!
//! A citizen's attempt gets its own reference (`vnp_TxnRef`) and a signed payment URL. Its result
//! is taken only from the gateway's signed word — the IPN call, or, when that never came, the
//! answer of the gateway's query API (reconciliation) — and set once; the return URL the
//! citizen's browser comes back with only shows what is recorded. A fine is paid once: a second
//! paid attempt is kept as a refund due, never as a second payment.

use std::{collections::BTreeMap, time::Duration};

use gateways::vnpay::{self, IpnReply, QueryRequest, QueryResponse};
use protocol::UtcTimestamp;
use time::OffsetDateTime;

use crate::{
    config::PaymentSettings,
    db::{self, Db, DbError, Payment, PaymentState, SealingKey, Settlement},
};

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("payment is not configured (payment.hash_secret)")]
    Disabled,
    /// No such fine for this citizen (whether it exists for another is not said).
    #[error("no such fine")]
    NotFound,
    /// A notice of violation is answered, never paid: only a penalty decision is.
    #[error("no penalty decision has been issued on this notice: there is nothing to pay yet")]
    NotDecided,
    #[error("the fine is paid")]
    AlreadyPaid,
    /// The case was closed after the owner's explanation: nothing is owed.
    #[error("the case is closed: nothing is owed")]
    Cancelled,
    #[error("payment gateway: {0}")]
    Gateway(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Begins a payment of `fine_id` by its owner: records the attempt and returns the gateway URL
/// to send the citizen to.
pub async fn start(
    db: &Db,
    key: &SealingKey,
    settings: &PaymentSettings,
    fine_id: &str,
    citizen_id: &str,
    client_ip: &str,
) -> Result<String, PaymentError> {
    if !settings.enabled() {
        return Err(PaymentError::Disabled);
    }
    db::notice_of(db, key, fine_id, citizen_id)
        .await?
        .ok_or(PaymentError::NotFound)?;
    if db::paid_payment_of(db, fine_id).await?.is_some() {
        return Err(PaymentError::AlreadyPaid);
    }
    if db::resolution_of(db, key, fine_id)
        .await?
        .is_some_and(|r| r.cancelled())
    {
        return Err(PaymentError::Cancelled);
    }
    let decision = db::decision_of(db, key, fine_id)
        .await?
        .ok_or(PaymentError::NotDecided)?;
    let now = UtcTimestamp::now();
    let amount_vnd = decision.amount_due(now);
    let txn_ref = uuid::Uuid::now_v7().simple().to_string();
    let payment = Payment {
        txn_ref: txn_ref.clone(),
        fine_id: fine_id.to_owned(),
        citizen_id: citizen_id.to_owned(),
        amount_vnd,
        create_date: vnpay::format_time(now),
        created_at: now.as_datetime(),
        state: PaymentState::Pending,
        transaction_no: None,
        pay_date: None,
    };
    db::insert_payment(db, &payment).await?;
    let expires =
        UtcTimestamp::from_unix_ms(now.unix_ms() + i64::from(settings.expire_minutes) * 60_000)
            .unwrap_or(now);
    let mut p = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        p.insert(k.to_owned(), v);
    };
    put("vnp_Version", vnpay::VERSION.into());
    put("vnp_Command", "pay".into());
    put("vnp_TmnCode", settings.tmn_code.clone());
    put("vnp_Amount", vnpay::amount(amount_vnd));
    put("vnp_CurrCode", "VND".into());
    put("vnp_TxnRef", txn_ref);
    // The gateway takes order information without diacritics.
    put(
        "vnp_OrderInfo",
        format!("Nop phat vi pham giao thong {fine_id}"),
    );
    put("vnp_OrderType", "other".into());
    put("vnp_Locale", "vn".into());
    put("vnp_ReturnUrl", settings.return_url.clone());
    put("vnp_IpAddr", client_ip.to_owned());
    put("vnp_CreateDate", payment.create_date.clone());
    put("vnp_ExpireDate", vnpay::format_time(expires));
    Ok(format!(
        "{}?{}",
        settings.gateway_url,
        vnpay::signed_query(settings.hash_secret.expose().as_bytes(), &p)
    ))
}

/// The gateway's IPN call: checks the checksum, the merchant, the reference, the amount and the
/// state, records the result once, and answers in the protocol's codes. A repeat of a recorded
/// result changes nothing (`02`).
pub async fn ipn(
    db: &Db,
    key: &SealingKey,
    settings: &PaymentSettings,
    params: &BTreeMap<String, String>,
) -> IpnReply {
    match ipn_inner(db, key, settings, params).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(error = %e, "ipn: recording the result failed");
            IpnReply::unknown_error()
        }
    }
}

async fn ipn_inner(
    db: &Db,
    key: &SealingKey,
    settings: &PaymentSettings,
    params: &BTreeMap<String, String>,
) -> Result<IpnReply, DbError> {
    let field = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    if !settings.enabled()
        || vnpay::verify(settings.hash_secret.expose().as_bytes(), params).is_err()
        || field("vnp_TmnCode") != settings.tmn_code
    {
        tracing::warn!(
            txn_ref = field("vnp_TxnRef"),
            "ipn: checksum does not verify"
        );
        return Ok(IpnReply::invalid_checksum());
    }
    let txn_ref = field("vnp_TxnRef");
    let Some(payment) = db::payment(db, txn_ref).await? else {
        return Ok(IpnReply::order_not_found());
    };
    if field("vnp_Amount") != vnpay::amount(payment.amount_vnd) {
        tracing::warn!(txn_ref, amount = field("vnp_Amount"), "ipn: amount differs");
        return Ok(IpnReply::invalid_amount());
    }
    if payment.state != PaymentState::Pending {
        return Ok(IpnReply::already_confirmed());
    }
    let paid = field("vnp_ResponseCode") == vnpay::SUCCESS
        && field("vnp_TransactionStatus") == vnpay::SUCCESS;
    let settled = db::settle(
        db,
        key,
        txn_ref,
        &Settlement {
            state: if paid {
                PaymentState::Paid
            } else {
                PaymentState::Failed
            },
            response_code: field("vnp_ResponseCode"),
            transaction_no: field("vnp_TransactionNo"),
            bank_code: field("vnp_BankCode"),
            pay_date: field("vnp_PayDate"),
            by: "ipn",
        },
    )
    .await?;
    if !settled {
        return Ok(IpnReply::already_confirmed());
    }
    tracing::info!(
        txn_ref,
        fine_id = payment.fine_id,
        paid,
        "payment result recorded"
    );
    Ok(IpnReply::confirmed())
}

/// What a reconciliation sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    pub asked: usize,
    pub paid: usize,
    pub failed: usize,
    pub expired: usize,
}

/// Asks the gateway about every attempt still pending `reconcile_after_s` after it began, and
/// records what its signed answers say; an attempt the gateway never finished is expired once
/// its link has run out.
pub async fn reconcile(
    db: &Db,
    key: &SealingKey,
    settings: &PaymentSettings,
    http: &reqwest::Client,
) -> Result<Reconciled, PaymentError> {
    if !settings.enabled() {
        return Ok(Reconciled::default());
    }
    let now = OffsetDateTime::now_utc();
    // Rounded up to a whole second: SQLite keeps times as RFC 3339 text, whose fraction has no
    // fixed width, so text order is time order only between different seconds. (Attempts up
    // to a second younger than `reconcile_after_s` are asked too; no harm.)
    let before = ceil_second(now - Duration::from_secs(settings.reconcile_after_s));
    let mut done = Reconciled::default();
    for p in db::pending_payments(db, before).await? {
        done.asked += 1;
        let answer = match query(settings, http, &p).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(txn_ref = p.txn_ref, error = %e, "reconcile: query failed");
                continue;
            }
        };
        let expired =
            now - p.created_at > Duration::from_secs(u64::from(settings.expire_minutes) * 60 + 60);
        let state = match (
            answer.vnp_ResponseCode.as_str(),
            answer.vnp_TransactionStatus.as_str(),
        ) {
            (vnpay::SUCCESS, vnpay::SUCCESS)
                if answer.vnp_Amount == vnpay::amount(p.amount_vnd) =>
            {
                PaymentState::Paid
            }
            (vnpay::SUCCESS, vnpay::SUCCESS) => {
                tracing::error!(
                    txn_ref = p.txn_ref,
                    amount = answer.vnp_Amount,
                    "reconcile: amount differs"
                );
                continue;
            }
            (vnpay::SUCCESS, "01") | ("91", _) if expired => PaymentState::Expired,
            (vnpay::SUCCESS, "01") | ("91", _) => continue,
            (vnpay::SUCCESS, _) => PaymentState::Failed,
            (code, _) => {
                tracing::warn!(
                    txn_ref = p.txn_ref,
                    code,
                    "reconcile: the gateway did not answer"
                );
                continue;
            }
        };
        let settled = db::settle(
            db,
            key,
            &p.txn_ref,
            &Settlement {
                state,
                response_code: &answer.vnp_ResponseCode,
                transaction_no: &answer.vnp_TransactionNo,
                bank_code: &answer.vnp_BankCode,
                pay_date: &answer.vnp_PayDate,
                by: "query",
            },
        )
        .await?;
        if settled {
            tracing::info!(
                txn_ref = p.txn_ref,
                state = state.as_str(),
                "payment reconciled"
            );
            match state {
                PaymentState::Paid | PaymentState::RefundDue => done.paid += 1,
                PaymentState::Failed => done.failed += 1,
                PaymentState::Expired => done.expired += 1,
                PaymentState::Pending => {}
            }
        }
    }
    Ok(done)
}

/// The next whole second at or after `t`.
fn ceil_second(t: OffsetDateTime) -> OffsetDateTime {
    let whole = t.replace_nanosecond(0).unwrap_or(t);
    if whole == t {
        t
    } else {
        whole + Duration::from_secs(1)
    }
}

/// One `querydr` call, its answer's checksum verified.
async fn query(
    settings: &PaymentSettings,
    http: &reqwest::Client,
    p: &Payment,
) -> Result<QueryResponse, PaymentError> {
    let secret = settings.hash_secret.expose().as_bytes();
    let request = QueryRequest {
        vnp_RequestId: uuid::Uuid::now_v7().simple().to_string(),
        vnp_Version: vnpay::VERSION.into(),
        vnp_Command: "querydr".into(),
        vnp_TmnCode: settings.tmn_code.clone(),
        vnp_TxnRef: p.txn_ref.clone(),
        vnp_OrderInfo: format!("Truy van giao dich {}", p.txn_ref),
        vnp_TransactionDate: p.create_date.clone(),
        vnp_CreateDate: vnpay::format_time(UtcTimestamp::now()),
        vnp_IpAddr: "127.0.0.1".into(),
        vnp_SecureHash: String::new(),
    }
    .sign(secret);
    let gateway = |e: &dyn std::fmt::Display| PaymentError::Gateway(e.to_string());
    let body = serde_json::to_vec(&request).map_err(|e| gateway(&e))?;
    let response = http
        .post(&settings.query_url)
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| gateway(&e))?;
    let bytes = service_kit::tls::read_capped(response, service_kit::tls::ANSWER_BYTES)
        .await
        .map_err(|e| gateway(&e))?;
    let answer: QueryResponse = serde_json::from_slice(&bytes).map_err(|e| gateway(&e))?;
    answer.verify(secret).map_err(|e| gateway(&e))?;
    if answer.vnp_TxnRef != p.txn_ref {
        return Err(PaymentError::Gateway(format!(
            "answer about {} to a query about {}",
            answer.vnp_TxnRef, p.txn_ref
        )));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_compare_against_whole_seconds() {
        let t = time::macros::datetime!(2026-11-27 08:47:20.120 UTC);
        assert_eq!(
            ceil_second(t),
            time::macros::datetime!(2026-11-27 08:47:21 UTC)
        );
        let whole = time::macros::datetime!(2026-11-27 08:47:20 UTC);
        assert_eq!(ceil_second(whole), whole);
    }
}
