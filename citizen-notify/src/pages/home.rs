//! `GET /`: the way to sign in, or the signed-in citizen's notices, each with where its case
//! stands.

use maud::{Markup, html};

use crate::db::Answer;

/// Where one notice's case stands, as its line in the list says it.
#[derive(Debug, Clone)]
pub enum Standing {
    /// Decided: the decision's number and the amount.
    Decided { number: String, amount_vnd: u64 },
    /// Answered, not yet decided.
    Answered(Answer),
    /// Waiting for an answer, due then (local time, in words).
    AnswerBy(String),
}

/// One notice in the list.
#[derive(Debug, Clone)]
pub struct Item {
    pub fine_id: String,
    pub kind: &'static str,
    pub plate: String,
    pub occurred: String,
    pub standing: Standing,
    pub paid: bool,
    pub cancelled: bool,
}

/// The page before signing in.
pub fn signed_out() -> Markup {
    html! {
        h1 { "Tra cứu và nộp phạt vi phạm giao thông" }
        p {
            "Đăng nhập bằng tài khoản định danh điện tử để xem thông báo vi phạm của phương tiện "
            "của bạn, hình ảnh vi phạm, trả lời hoặc giải trình, và nộp phạt trực tuyến khi đã có "
            "quyết định xử phạt."
        }
        p.en { "Sign in with your electronic identity to see your notices." }
        p { a.button #sign-in href="/login" { "Đăng nhập / Sign in" } }
    }
}

/// The signed-in citizen's notices.
pub fn page(name: &str, csrf: &str, items: &[Item]) -> Markup {
    html! {
        p { "Xin chào, " (name) }
        h1 { "Thông báo vi phạm của tôi" }
        p.en { "My notices of violation" }
        ul #fines {
            @for i in items {
                li {
                    a href={ "/fines/" (i.fine_id) } { (i.kind) }
                    br;
                    (i.plate) " — " (i.occurred)
                    @match &i.standing {
                        Standing::Decided { number, amount_vnd } => {
                            " — QĐ " (number) " — " strong { (super::vnd(*amount_vnd)) " ₫" }
                        }
                        Standing::Answered(answer) => { " — " (answered_vi(*answer)) }
                        Standing::AnswerBy(due) => { " — trả lời trước " (due) }
                    }
                    @if i.paid {
                        " " span.paid { "Đã nộp" }
                    } @else if i.cancelled {
                        " " span.paid { "Đã hủy / Cancelled" }
                    }
                }
            }
            @if items.is_empty() {
                li { "Không có thông báo vi phạm nào. " span.en { "No notices." } }
            }
        }
        p {
            "Tải dữ liệu của tôi: "
            a #my-data-pdf href="/my-data.pdf" download { "PDF" } ", "
            a #my-data href="/my-data.json" download { "JSON" } " "
            span.en { "Download what this portal holds about me" }
        }
        form method="post" action="/logout" {
            input type="hidden" name="csrf" value=(csrf);
            button.secondary #sign-out { "Đăng xuất / Sign out" }
        }
    }
}

/// An answer given, in the list of one's notices.
fn answered_vi(answer: Answer) -> &'static str {
    match answer {
        Answer::Confirmed => "đã xác nhận là người điều khiển",
        Answer::Disputed => "đã gửi giải trình",
        Answer::DriverNamed => "đã khai báo người điều khiển",
        Answer::VehicleSold => "đã khai báo bán xe",
        Answer::VehicleStolen => "đã khai báo xe bị mất cắp",
    }
}
