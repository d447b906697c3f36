//! A payment gateway in VNPay's role, speaking its protocol (version 2.1.0, see
//! [`gateways::vnpay`]): the payment page a merchant redirects the citizen to, where the
//! person at the keyboard (or the test) approves or declines; the signed redirect back to the
//! merchant's return URL; the IPN call to the merchant's configured IPN URL; and the `querydr`
//! API a merchant reconciles with.
//!
//! For tests it can also approve a payment and "lose" its IPN, as a real network sometimes
//! does, and it keeps a log of every IPN call and the merchant's reply.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use gateways::vnpay::{self, IpnReply, QueryRequest, QueryResponse};
use protocol::UtcTimestamp;
use serde::{Deserialize, Serialize};

use crate::escape;

/// The merchant this gateway serves: its terminal code, hash secret and IPN URL (set once in
/// the gateway's merchant admin, as VNPay does, not sent with each payment).
#[derive(Debug, Clone)]
pub struct Merchant {
    pub tmn_code: String,
    pub hash_secret: String,
    pub ipn_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Pending,
    Paid,
    Declined,
}

#[derive(Debug, Clone)]
struct Transaction {
    params: BTreeMap<String, String>,
    status: Status,
    transaction_no: String,
    pay_date: String,
}

/// One IPN call and what the merchant answered (`None`: no answer that reads as one).
#[derive(Debug, Clone, Serialize)]
pub struct IpnCall {
    pub txn_ref: String,
    pub response_code: String,
    pub reply: Option<IpnReply>,
}

#[derive(Debug, Default)]
struct Book {
    transactions: Vec<Transaction>,
    ipn_log: Vec<IpnCall>,
}

/// The gateway's state; clone it to share.
#[derive(Debug, Clone)]
pub struct Gateway {
    merchant: Arc<Merchant>,
    book: Arc<Mutex<Book>>,
    http: reqwest::Client,
}

impl Gateway {
    pub fn new(merchant: Merchant) -> Self {
        Self {
            merchant: Arc::new(merchant),
            book: Arc::new(Mutex::new(Book::default())),
            http: reqwest::Client::new(),
        }
    }

    /// Every IPN call made so far.
    pub fn ipn_log(&self) -> Vec<IpnCall> {
        self.book().ipn_log.clone()
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn secret(&self) -> &[u8] {
        self.merchant.hash_secret.as_bytes()
    }
}

/// `/paymentv2/vpcpay.html` (the payment page), `/paymentv2/decide` (its form),
/// `/merchant_webapi/api/transaction` (`querydr`) and `/sandbox/vnpay/ipn-log`.
pub fn router(gateway: Gateway) -> Router {
    Router::new()
        .route("/paymentv2/vpcpay.html", get(payment_page))
        .route("/paymentv2/decide", post(decide))
        .route("/merchant_webapi/api/transaction", post(query))
        .route("/sandbox/vnpay/ipn-log", get(ipn_log))
        .with_state(gateway)
}

fn error_page(code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\"><title>VNPay sandbox</title>\
             <h1>Giao dịch không hợp lệ</h1><p>Mã lỗi <code id=\"error\">{code}</code>: {}</p></html>",
            escape(message)
        )),
    )
        .into_response()
}

/// Checks a payment request as the gateway does before it shows the payment page.
fn check_request(gw: &Gateway, p: &BTreeMap<String, String>) -> Result<(), (&'static str, String)> {
    if p.get("vnp_TmnCode") != Some(&gw.merchant.tmn_code) {
        return Err(("02", "unknown merchant (vnp_TmnCode)".into()));
    }
    vnpay::verify(gw.secret(), p).map_err(|e| ("70", e.to_string()))?;
    let field = |name: &str| p.get(name).map(String::as_str).unwrap_or_default();
    if field("vnp_Version") != vnpay::VERSION || field("vnp_Command") != "pay" {
        return Err(("03", "vnp_Version must be 2.1.0 and vnp_Command pay".into()));
    }
    if field("vnp_CurrCode") != "VND" {
        return Err(("03", "vnp_CurrCode must be VND".into()));
    }
    if !field("vnp_Amount")
        .parse::<u64>()
        .is_ok_and(|a| a > 0 && a.is_multiple_of(100))
    {
        return Err(("03", "vnp_Amount must be VND times 100".into()));
    }
    for name in [
        "vnp_TxnRef",
        "vnp_OrderInfo",
        "vnp_ReturnUrl",
        "vnp_IpAddr",
        "vnp_CreateDate",
    ] {
        if field(name).is_empty() {
            return Err(("03", format!("{name} is required")));
        }
    }
    if vnpay::parse_time(field("vnp_CreateDate")).is_none() {
        return Err(("03", "vnp_CreateDate must be yyyyMMddHHmmss".into()));
    }
    if let Some(expiry) = p.get("vnp_ExpireDate") {
        let expired = vnpay::parse_time(expiry).is_none_or(|at| at < UtcTimestamp::now());
        if expired {
            return Err(("11", "the payment has expired (vnp_ExpireDate)".into()));
        }
    }
    Ok(())
}

async fn payment_page(
    State(gw): State<Gateway>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err((code, message)) = check_request(&gw, &params) {
        return error_page(code, &message);
    }
    let txn_ref = params["vnp_TxnRef"].clone();
    let amount_vnd = params["vnp_Amount"].parse::<u64>().unwrap_or(0) / 100;
    let info = params["vnp_OrderInfo"].clone();
    let ticket = {
        let mut book = gw.book();
        if book
            .transactions
            .iter()
            .any(|t| t.params["vnp_TxnRef"] == txn_ref)
        {
            return error_page("02", "this vnp_TxnRef was used before");
        }
        book.transactions.push(Transaction {
            params,
            status: Status::Pending,
            transaction_no: String::new(),
            pay_date: String::new(),
        });
        book.transactions.len() - 1
    };
    Html(format!(
        "<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Cổng thanh toán (sandbox)</title>\
         <h1>Cổng thanh toán — môi trường thử nghiệm</h1>\
         <p>Số tiền: <strong id=\"amount\">{amount_vnd}</strong> VND</p>\
         <p>Nội dung: <span id=\"info\">{}</span></p>\
         <form method=\"post\" action=\"/paymentv2/decide\">\
         <input type=\"hidden\" name=\"ticket\" value=\"{ticket}\">\
         <button name=\"outcome\" value=\"approve\" id=\"approve\">Thanh toán</button>\
         <button name=\"outcome\" value=\"decline\" id=\"decline\">Huỷ giao dịch</button>\
         <button name=\"outcome\" value=\"approve_ipn_lost\" id=\"approve-ipn-lost\">\
         Thanh toán (IPN bị mất)</button></form></html>",
        escape(&info)
    ))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct Decision {
    ticket: usize,
    outcome: String,
}

async fn decide(State(gw): State<Gateway>, Form(d): Form<Decision>) -> Response {
    let (approve, deliver_ipn) = match d.outcome.as_str() {
        "approve" => (true, true),
        "approve_ipn_lost" => (true, false),
        "decline" => (false, true),
        _ => return error_page("03", "outcome must be approve, approve_ipn_lost or decline"),
    };
    let txn = {
        let mut book = gw.book();
        let number = 14_000_000 + book.transactions.len();
        let Some(t) = book.transactions.get_mut(d.ticket) else {
            return error_page("01", "no such payment");
        };
        if t.status != Status::Pending {
            return error_page("02", "this payment was decided before");
        }
        t.status = if approve {
            Status::Paid
        } else {
            Status::Declined
        };
        t.transaction_no = if approve {
            number.to_string()
        } else {
            "0".into()
        };
        t.pay_date = vnpay::format_time(UtcTimestamp::now());
        t.clone()
    };
    let result = result_params(&gw, &txn);
    let query = vnpay::signed_query(gw.secret(), &result);
    if deliver_ipn {
        let url = format!("{}?{query}", gw.merchant.ipn_url);
        let reply = match gw.http.get(&url).send().await {
            Ok(r) => r
                .text()
                .await
                .ok()
                .and_then(|body| serde_json::from_str::<IpnReply>(&body).ok()),
            Err(e) => {
                tracing::warn!(error = %e, "ipn call failed");
                None
            }
        };
        gw.book().ipn_log.push(IpnCall {
            txn_ref: txn.params["vnp_TxnRef"].clone(),
            response_code: result["vnp_ResponseCode"].clone(),
            reply,
        });
    }
    let to = format!("{}?{query}", txn.params["vnp_ReturnUrl"]);
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

/// The parameters of a decided payment, as the return URL and the IPN carry them.
fn result_params(gw: &Gateway, t: &Transaction) -> BTreeMap<String, String> {
    let paid = t.status == Status::Paid;
    let mut p = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        p.insert(k.to_owned(), v.to_owned());
    };
    put("vnp_Amount", &t.params["vnp_Amount"]);
    put("vnp_BankCode", "NCB");
    put("vnp_CardType", "ATM");
    put("vnp_OrderInfo", &t.params["vnp_OrderInfo"]);
    put("vnp_PayDate", &t.pay_date);
    put("vnp_ResponseCode", if paid { vnpay::SUCCESS } else { "24" });
    put("vnp_TmnCode", &gw.merchant.tmn_code);
    put("vnp_TransactionNo", &t.transaction_no);
    put(
        "vnp_TransactionStatus",
        if paid { vnpay::SUCCESS } else { "02" },
    );
    put("vnp_TxnRef", &t.params["vnp_TxnRef"]);
    if paid {
        put("vnp_BankTranNo", &format!("VNP{}", t.transaction_no));
    }
    p
}

async fn query(State(gw): State<Gateway>, Json(q): Json<QueryRequest>) -> Json<QueryResponse> {
    let answer = |code: &str, message: &str| QueryResponse {
        vnp_ResponseId: q.vnp_RequestId.clone(),
        vnp_Command: "querydr".into(),
        vnp_ResponseCode: code.into(),
        vnp_Message: message.into(),
        vnp_TmnCode: gw.merchant.tmn_code.clone(),
        vnp_TxnRef: q.vnp_TxnRef.clone(),
        ..QueryResponse::default()
    };
    if q.vnp_TmnCode != gw.merchant.tmn_code || q.verify(gw.secret()).is_err() {
        return Json(answer("97", "Invalid Checksum").sign(gw.secret()));
    }
    if q.vnp_Command != "querydr" || q.vnp_Version != vnpay::VERSION {
        return Json(answer("03", "Invalid request").sign(gw.secret()));
    }
    let found = gw
        .book()
        .transactions
        .iter()
        .find(|t| t.params["vnp_TxnRef"] == q.vnp_TxnRef)
        .cloned();
    let Some(t) = found else {
        return Json(answer("91", "Transaction not found").sign(gw.secret()));
    };
    let status = match t.status {
        Status::Paid => vnpay::SUCCESS,
        Status::Pending => "01",
        Status::Declined => "02",
    };
    Json(
        QueryResponse {
            vnp_Amount: t.params["vnp_Amount"].clone(),
            vnp_BankCode: "NCB".into(),
            vnp_PayDate: t.pay_date.clone(),
            vnp_TransactionNo: t.transaction_no.clone(),
            vnp_TransactionType: "01".into(),
            vnp_TransactionStatus: status.into(),
            vnp_OrderInfo: t.params["vnp_OrderInfo"].clone(),
            ..answer(vnpay::SUCCESS, "QueryDR Success")
        }
        .sign(gw.secret()),
    )
}

async fn ipn_log(State(gw): State<Gateway>) -> Json<Vec<IpnCall>> {
    Json(gw.ipn_log())
}
