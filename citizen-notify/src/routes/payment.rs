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

use super::AppState;
use crate::{
    db::{self, PaymentState},
    pages::{escape, layout, vnd},
    payment,
};

pub async fn ipn(
    State(state): State<AppState>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Json<IpnReply> {
    Json(payment::ipn(&state.db, &state.payment, &params).await)
}

/// Shows what is recorded for the attempt the browser came back from; the parameters it
/// brings are checked but change nothing (the IPN or reconciliation does).
pub async fn returned(
    State(state): State<AppState>,
    Query(params): Query<BTreeMap<String, String>>,
) -> (StatusCode, Html<String>) {
    let page = |status, title: &str, body: String| {
        let body = format!(
            "<h1 id=\"result\">{title}</h1>{body}<p><a href=\"/\">Về trang chính / Home</a></p>"
        );
        (status, Html(layout(title, &body)))
    };
    if !state.payment.enabled()
        || vnpay::verify(state.payment.hash_secret.as_bytes(), &params).is_err()
    {
        return page(
            StatusCode::BAD_REQUEST,
            "Liên kết không hợp lệ",
            "<p>Invalid link: its signature does not verify.</p>".into(),
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
                "<p>Payment not found.</p>".into(),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "return page");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Lỗi hệ thống",
                "<p>Please try again.</p>".into(),
            );
        }
    };
    let amount = vnd(recorded.amount_vnd);
    match recorded.state {
        PaymentState::Paid => page(
            StatusCode::OK,
            "Đã thanh toán",
            format!(
                "<p>Biên lai / Receipt</p><dl><dt>Số tiền</dt><dd id=\"amount\">{amount} ₫</dd>\
                 <dt>Mã giao dịch</dt><dd id=\"transaction\">{}</dd>\
                 <dt>Thời gian</dt><dd>{}</dd><dt>Mã thanh toán</dt><dd>{}</dd></dl>",
                // The gateway's values, as text: signed by the gateway is not safe as HTML.
                escape(&recorded.transaction_no.unwrap_or_default()),
                escape(&receipt_time(recorded.pay_date.as_deref())),
                escape(&recorded.txn_ref)
            ),
        ),
        PaymentState::Pending => page(
            StatusCode::OK,
            "Đang xử lý",
            "<p>Cổng thanh toán chưa báo kết quả; trang này sẽ cập nhật khi có kết quả. \
             The gateway has not reported the result yet.</p>"
                .into(),
        ),
        PaymentState::RefundDue => page(
            StatusCode::OK,
            "Khoản phạt đã được nộp trước đó",
            format!(
                "<p>Số tiền {amount} ₫ sẽ được hoàn lại. This fine was paid before; the amount will be refunded.</p>"
            ),
        ),
        PaymentState::Failed | PaymentState::Expired => page(
            StatusCode::OK,
            "Thanh toán không thành công",
            "<p>Chưa trừ tiền; bạn có thể thanh toán lại. The payment did not go through.</p>"
                .into(),
        ),
    }
}

/// The gateway's time of payment (`yyyyMMddHHmmss`, Vietnam's time) as a citizen reads a time;
/// a value that is not one is shown as it came.
fn receipt_time(pay_date: Option<&str>) -> String {
    let raw = pay_date.unwrap_or_default();
    gateways::vnpay::parse_time(raw).map_or_else(|| raw.to_owned(), protocol::vi::local_time)
}
