//! The gateway's side of payment: `GET /payment/vnpay/ipn` (its server-to-server result call)
//! and `GET /payment/vnpay/return` (where it sends the citizen's browser back).

use std::collections::BTreeMap;

use axum::{
    Json,
    extract::{Query, State},
    http::StatusCode,
    response::Html,
};
use gateways::vnpay::{self, IpnReply};
use maud::{Markup, html};

use super::AppState;
use crate::{
    db::{self, PaymentState},
    pages::{layout, vnd},
    payment,
};

pub async fn ipn(
    State(state): State<AppState>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Json<IpnReply> {
    Json(payment::ipn(&state.db, &state.sealing, &state.payment, &params).await)
}

/// Shows what is recorded for the attempt the browser came back from; the parameters it
/// brings are checked but change nothing (the IPN or reconciliation does).
pub async fn returned(
    State(state): State<AppState>,
    Query(params): Query<BTreeMap<String, String>>,
) -> (StatusCode, Html<String>) {
    let page = |status, title: &str, body: Markup| {
        let body = html! {
            h1 #result { (title) }
            (body)
            p { a href="/" { "Về trang chính / Home" } }
        };
        (status, Html(layout(title, body).into_string()))
    };
    if !state.payment.enabled()
        || vnpay::verify(state.payment.hash_secret.expose().as_bytes(), &params).is_err()
    {
        return page(
            StatusCode::BAD_REQUEST,
            "Liên kết không hợp lệ",
            html! { p { "Invalid link: its signature does not verify." } },
        );
    }
    let txn_ref = params
        .get("vnp_TxnRef")
        .map(String::as_str)
        .unwrap_or_default();
    let recorded = match db::payment(&state.db, txn_ref).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return page(
                StatusCode::NOT_FOUND,
                "Không tìm thấy giao dịch",
                html! { p { "Payment not found." } },
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "return page");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Lỗi hệ thống",
                html! { p { "Please try again." } },
            );
        }
    };
    let amount = vnd(recorded.amount_vnd);
    match recorded.state {
        PaymentState::Paid => page(
            StatusCode::OK,
            "Đã thanh toán",
            // The gateway's values, as text (maud escapes them): signed by the gateway is not
            // safe as HTML.
            html! {
                p { "Biên lai / Receipt" }
                dl {
                    dt { "Số tiền" } dd #amount { (amount) " ₫" }
                    dt { "Mã giao dịch" } dd #transaction { (recorded.transaction_no.unwrap_or_default()) }
                    dt { "Thời gian" } dd { (receipt_time(recorded.pay_date.as_deref())) }
                    dt { "Mã thanh toán" } dd { (recorded.txn_ref) }
                }
            },
        ),
        PaymentState::Pending => page(
            StatusCode::OK,
            "Đang xử lý",
            html! {
                p {
                    "Cổng thanh toán chưa báo kết quả; trang này sẽ cập nhật khi có kết quả. "
                    "The gateway has not reported the result yet."
                }
            },
        ),
        PaymentState::RefundDue => page(
            StatusCode::OK,
            "Khoản phạt đã được nộp trước đó",
            html! {
                p {
                    "Số tiền " (amount) " ₫ sẽ được hoàn lại. "
                    "This fine was paid before; the amount will be refunded."
                }
            },
        ),
        PaymentState::Failed | PaymentState::Expired => page(
            StatusCode::OK,
            "Thanh toán không thành công",
            html! { p { "Chưa trừ tiền; bạn có thể thanh toán lại. The payment did not go through." } },
        ),
    }
}

/// The gateway's time of payment (`yyyyMMddHHmmss`, Vietnam's time) as a citizen reads a time;
/// a value that is not one is shown as it came.
fn receipt_time(pay_date: Option<&str>) -> String {
    let raw = pay_date.unwrap_or_default();
    gateways::vnpay::parse_time(raw).map_or_else(|| raw.to_owned(), protocol::vi::local_time)
}
