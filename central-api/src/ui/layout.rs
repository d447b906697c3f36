//! The page frame every review page shares, the language switch, and the names of things in
//! both languages.

use axum::{
    extract::{FromRequestParts, Path, Query},
    http::{HeaderMap, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use maud::{DOCTYPE, Markup, html};
use protocol::{PlateColour, SignalState, VehicleClass, ViolationKind};
use serde::Deserialize;

use crate::auth::Officer;

pub const LANG_COOKIE: &str = "tve_lang";

/// The language of the pages: Vietnamese unless the officer switched to English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::Vi => "vi",
            Self::En => "en",
        }
    }

    /// `vi` or `en` of the two.
    pub fn t(self, vi: &'static str, en: &'static str) -> &'static str {
        match self {
            Self::Vi => vi,
            Self::En => en,
        }
    }

    pub fn of(headers: &HeaderMap) -> Self {
        match service_kit::http::cookie(headers, LANG_COOKIE) {
            Some("en") => Self::En,
            _ => Self::Vi,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.headers))
    }
}

#[derive(Debug, Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// `GET /review/lang/{vi|en}?back=/review/...`: remembers the language and goes back.
pub async fn switch(Path(lang): Path<String>, Query(q): Query<Back>) -> Response {
    let code = if lang == "en" { "en" } else { "vi" };
    let back = local_path(q.back.as_deref());
    let cookie = format!("{LANG_COOKIE}={code}; SameSite=Lax; Path=/; Max-Age=31536000");
    match crate::routes::session::set_cookie(&cookie) {
        Ok(cookie) => (cookie, Redirect::to(back)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A path under `/review` to go back to, or the queue: never somewhere else.
pub fn local_path(to: Option<&str>) -> &str {
    match to {
        Some(p)
            if (p == "/review" || p.starts_with("/review/") || p.starts_with("/review?"))
                && !p.contains("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control) =>
        {
            p
        }
        _ => "/review",
    }
}

/// A whole page: the bar with the officer and the language switch, then `body`.
pub fn page(
    lang: Lang,
    officer: Option<(&Officer, &str)>,
    here: &str,
    title: &str,
    body: Markup,
) -> Markup {
    let other = match lang {
        Lang::Vi => ("en", "English"),
        Lang::En => ("vi", "Tiếng Việt"),
    };
    let switch = format!(
        "/review/lang/{}?back={}",
        other.0,
        form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>()
    );
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (lang.t("Duyệt vi phạm", "Violation review")) }
                link rel="stylesheet" href="/review/assets/review.css";
                script src="/review/assets/review.js" defer {}
            }
            body {
                header.bar {
                    a.brand href="/review" { (lang.t("Duyệt vi phạm giao thông", "Traffic violation review")) }
                    nav {
                        @if officer.is_some() {
                            a.here[here == "/review" || here.starts_with("/review/violations")] href="/review" { (lang.t("Hàng đợi", "Queue")) }
                            a.here[here.starts_with("/review/disputes")] href="/review/disputes" { (lang.t("Giải trình", "Explanations")) }
                            a.here[here.starts_with("/review/stats")] href="/review/stats" { (lang.t("Thống kê", "Statistics")) }
                            a.here[here.starts_with("/review/devices")] href="/review/devices" { (lang.t("Thiết bị", "Devices")) }
                        }
                        @if let Some((o, _)) = officer && o.role.supervises() {
                            a.here[here.starts_with("/review/corrections")] href="/review/corrections" { (lang.t("Chỉnh sửa dữ liệu", "Corrections")) }
                        }
                        @if let Some((o, _)) = officer && o.role.administers() {
                            a.here[here.starts_with("/review/admin")] href="/review/admin" { (lang.t("Quản trị", "Administration")) }
                        }
                        @if let Some((o, csrf)) = officer {
                            span.who { (o.full_name) " · " (role_name(lang, o.role)) }
                            form.inline method="post" action="/review/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                button.link type="submit" { (lang.t("Đăng xuất", "Sign out")) }
                            }
                        }
                        a #lang href=(switch) lang=(other.0) { (other.1) }
                        button.link #help-open type="button" title=(lang.t("Phím tắt", "Keyboard shortcuts")) { "?" }
                    }
                }
                main { (body) }
                (shortcuts(lang))
            }
        }
    }
}

fn shortcuts(lang: Lang) -> Markup {
    let keys: [(&str, &str, &str); 10] = [
        (
            "j / k",
            "Mục sau / trước trong hàng đợi",
            "Next / previous in the queue",
        ),
        ("Enter", "Mở mục đang chọn", "Open the selected item"),
        ("/", "Tìm theo biển số", "Search by plate"),
        (
            "a",
            "Chọn nút xác nhận vi phạm (Enter để xác nhận)",
            "Focus confirm (Enter confirms)",
        ),
        ("r", "Chọn lý do từ chối", "Choose a rejection reason"),
        ("p", "Sửa biển số", "Correct the plate"),
        ("1 – 9", "Xem ảnh thứ n", "Show the n-th image"),
        ("z", "Phóng to / thu nhỏ ảnh", "Zoom the image in / out"),
        ("n", "Vi phạm kế tiếp", "Next violation"),
        ("Esc", "Đóng / bỏ chọn", "Close / leave the field"),
    ];
    html! {
        dialog #help {
            h2 { (lang.t("Phím tắt", "Keyboard shortcuts")) }
            table {
                @for (key, vi, en) in keys {
                    tr { td { kbd { (key) } } td { (lang.t(vi, en)) } }
                }
            }
            form method="dialog" { button type="submit" { (lang.t("Đóng", "Close")) } }
        }
    }
}

pub fn role_name(lang: Lang, role: crate::auth::Role) -> &'static str {
    use crate::auth::Role;
    match role {
        Role::Reviewer => lang.t("Cán bộ duyệt", "Reviewer"),
        Role::Supervisor => lang.t("Chỉ huy", "Supervisor"),
        Role::Admin => lang.t("Quản trị", "Administrator"),
        Role::Auditor => lang.t("Kiểm tra", "Auditor"),
        Role::Sanctioning => lang.t("Người có thẩm quyền xử phạt", "Sanctioning officer"),
    }
}

/// A violation's short name, for the queue.
pub fn kind_name(lang: Lang, kind: ViolationKind) -> &'static str {
    match kind {
        ViolationKind::RedLight => lang.t("Vượt đèn đỏ", "Red light"),
        ViolationKind::Speeding => lang.t("Quá tốc độ", "Speeding"),
        ViolationKind::WrongWay => lang.t("Đi ngược chiều", "Wrong way"),
        ViolationKind::WrongLane => lang.t("Sai làn đường", "Wrong lane"),
        ViolationKind::IllegalStopping => lang.t("Dừng, đỗ sai quy định", "Illegal stopping"),
        ViolationKind::NoHelmet => lang.t("Không đội mũ bảo hiểm", "No helmet"),
    }
}

pub fn class_name(lang: Lang, class: VehicleClass) -> &'static str {
    match lang {
        Lang::Vi => protocol::vi::vehicle_class(class),
        Lang::En => match class {
            VehicleClass::Car => "Car",
            VehicleClass::Motorbike => "Motorbike",
            VehicleClass::Bus => "Bus",
            VehicleClass::Truck => "Truck",
        },
    }
}

pub fn colour_name(lang: Lang, colour: PlateColour) -> &'static str {
    match lang {
        Lang::Vi => protocol::vi::plate_colour(colour),
        Lang::En => match colour {
            PlateColour::White => "white, black text",
            PlateColour::Yellow => "yellow, black text",
            PlateColour::Blue => "blue, white text",
            PlateColour::Red => "red, white text",
            PlateColour::WhiteRedText => "white, red text",
        },
    }
}

pub fn signal_name(lang: Lang, state: SignalState) -> &'static str {
    match state {
        SignalState::Red => lang.t("Đỏ", "Red"),
        SignalState::Amber => lang.t("Vàng", "Amber"),
        SignalState::Green => lang.t("Xanh", "Green"),
        SignalState::FlashingAmber => lang.t("Vàng nhấp nháy", "Flashing amber"),
        SignalState::Off => lang.t("Tắt", "Off"),
        SignalState::Unknown => lang.t("Không rõ", "Unknown"),
    }
}

pub fn status_name(lang: Lang, status: &str) -> &'static str {
    match status {
        "received" => lang.t("Mới nhận", "Received"),
        "pending_review" => lang.t("Chờ duyệt", "Pending review"),
        "approved" => lang.t("Đã duyệt", "Approved"),
        "rejected" => lang.t("Đã từ chối", "Rejected"),
        _ => lang.t("Không rõ", "Unknown"),
    }
}

pub fn lookup_name(lang: Lang, lookup: Option<&str>) -> &'static str {
    match lookup {
        Some("found") => lang.t("Đã xác định chủ xe", "Owner found"),
        Some("not_registered") => lang.t("Biển số chưa đăng ký", "Plate not registered"),
        Some("no_plate") => lang.t("Chưa đọc được biển số", "Plate not read"),
        Some("failed") => lang.t("Tra cứu lỗi", "Lookup failed"),
        _ => lang.t("Đang tra cứu", "Looking up"),
    }
}

/// What an answer that carries documents is.
pub fn answer_name(lang: Lang, kind: &str) -> &'static str {
    match kind {
        "disputed" => lang.t("Giải trình", "Explanation"),
        "driver_named" => lang.t("Khai báo người điều khiển", "Driver named"),
        "vehicle_sold" => lang.t("Khai báo đã bán xe", "Vehicle sold"),
        "vehicle_stolen" => lang.t("Khai báo xe bị mất cắp", "Vehicle stolen"),
        _ => lang.t("Câu trả lời", "Answer"),
    }
}

pub fn fine_status_name(lang: Lang, status: &str) -> &'static str {
    match status {
        "issued" => lang.t("Đã lập thông báo vi phạm", "Notice issued"),
        "notice_sent" => lang.t("Đã gửi thông báo", "Notice sent"),
        "notice_delivered" => lang.t("Đã nhận thông báo", "Notice delivered"),
        "notice_failed" => lang.t("Gửi thông báo thất bại", "Notice failed"),
        "confirmed" => lang.t("Đã xác nhận là người điều khiển", "Declared driving"),
        "disputed" => lang.t("Chủ phương tiện giải trình", "The owner explains"),
        "upheld" => lang.t("Không chấp nhận giải trình", "Explanation not accepted"),
        "decided" => lang.t("Đã ra quyết định xử phạt", "Penalty decision issued"),
        "paid" => lang.t("Đã nộp phạt", "Paid"),
        "cancelled" => lang.t("Đã kết thúc, không xử phạt", "Closed, nothing owed"),
        "transferred" => lang.t(
            "Chuyển cho người điều khiển được khai báo",
            "Moved to the driver named",
        ),
        "time_barred" => lang.t(
            "Hết thời hiệu xử phạt, không xử phạt",
            "Time-barred, nothing owed",
        ),
        _ => lang.t("Không rõ", "Unknown"),
    }
}

pub fn reason_name(lang: Lang, reason: &str) -> &'static str {
    match reason {
        "plate_unreadable" => lang.t("Không đọc được biển số", "Plate unreadable"),
        "not_a_violation" => lang.t("Không phải vi phạm", "Not a violation"),
        "emergency_vehicle" => lang.t("Xe ưu tiên", "Emergency vehicle"),
        "duplicate" => lang.t("Trùng lặp", "Duplicate"),
        "equipment_fault" => lang.t("Lỗi thiết bị", "Equipment fault"),
        "owner_unknown" => lang.t("Không xác định được chủ xe", "Owner unknown"),
        "other" => lang.t("Lý do khác (ghi rõ)", "Other (say why)"),
        _ => lang.t("Không rõ", "Unknown"),
    }
}

/// A plate's display form (`51F-123.45`), read as the vehicle's plate category.
pub fn plate_display(text: &str, class: VehicleClass) -> String {
    protocol::Plate::parse_as(text, class.plate_category())
        .map(|p| p.display())
        .unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_review_paths_are_gone_back_to() {
        assert_eq!(
            local_path(Some("/review/violations/x")),
            "/review/violations/x"
        );
        assert_eq!(local_path(Some("/review?status=all")), "/review?status=all");
        for away in [
            None,
            Some("https://evil.example/review"),
            Some("//evil.example/review"),
            Some("/review//evil.example"),
            Some("/api/v1/violations"),
            Some("/reviewers.example"),
            Some("/review\\..\\x"),
            Some("/review\r\nSet-Cookie: x=y"),
        ] {
            assert_eq!(local_path(away), "/review", "{away:?}");
        }
    }

    #[test]
    fn every_name_has_both_languages() {
        for kind in ViolationKind::ALL {
            assert_ne!(kind_name(Lang::Vi, kind), kind_name(Lang::En, kind));
        }
        for status in ["received", "pending_review", "approved", "rejected"] {
            assert_ne!(status_name(Lang::Vi, status), status_name(Lang::En, status));
        }
        for reason in crate::db::review::REJECT_REASONS {
            assert_ne!(reason_name(Lang::Vi, reason), "Không rõ", "{reason}");
        }
        assert_eq!(plate_display("51F12345", VehicleClass::Car), "51F-123.45");
        assert_eq!(
            plate_display("59X112345", VehicleClass::Motorbike),
            "59-X1 123.45"
        );
    }
}
