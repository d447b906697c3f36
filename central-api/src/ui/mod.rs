//! The police review pages: server-rendered HTML (no build step, no script from elsewhere),
//! Vietnamese first with an English switch, keyboard-driven. Sign in, the queue with its
//! filters, a violation with its evidence (images to zoom into, the clip in the browser), the
//! data, the owner and the plate candidates, plate correction, approval and rejection, then on to
//! the next one.
//!
//! The pages do the same work as the JSON API, through [`crate::review`]; they sign in to the
//! same session cookie (`HttpOnly`, `SameSite=Strict`), and every form that changes something
//! carries the session's CSRF token. Pages are sent with a strict Content-Security-Policy and
//! `Cache-Control: no-store` (they show citizens' personal data).

mod admin;
mod assets;
mod corrections;
mod devices;
mod disputes;
pub mod layout;
mod queue;
mod requests;
mod session;
mod stats;
mod violation;

use axum::{
    Router,
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, StatusCode, request::Parts},
    middleware,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use maud::{Markup, html};

use crate::{
    auth::{self, Officer},
    db::officers,
    routes::ApiError,
    state::AppState,
};
pub use layout::Lang;

/// The review pages' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/review") }))
        .route("/review", get(queue::page))
        .route("/review/login", get(session::form).post(session::submit))
        .route("/review/logout", post(session::sign_out))
        .route("/review/lang/{lang}", get(layout::switch))
        .route("/review/violations/{id}", get(violation::page))
        .route("/review/violations/{id}/next", get(violation::skip))
        .route("/review/violations/{id}/plate", post(violation::plate))
        .route("/review/violations/{id}/approve", post(violation::approve))
        .route(
            "/review/violations/{id}/decision",
            post(violation::decision),
        )
        .route("/review/violations/{id}/reject", post(violation::reject))
        .route("/review/evidence/{sha256}", get(violation::evidence))
        .route("/review/documents/{sha256}", get(violation::document))
        .route("/review/stats", get(stats::page))
        .route("/review/disputes", get(disputes::page))
        .route(
            "/review/corrections",
            get(corrections::page).post(corrections::record),
        )
        .route("/review/corrections/{id}/answer", post(corrections::answer))
        .route(
            "/review/corrections/{id}/acknowledge",
            post(corrections::acknowledge),
        )
        .route("/review/corrections/{id}/extend", post(corrections::extend))
        .route("/review/devices", get(devices::page))
        .route("/review/admin", get(admin::page))
        .route("/review/admin/officers", post(admin::save_officer))
        .route("/review/admin/devices", post(admin::register_device))
        .route(
            "/review/admin/camera",
            get(admin::camera_page).post(admin::save_camera),
        )
        .route("/review/admin/camera/snapshot", post(admin::ask_snapshot))
        .route("/review/admin/snapshots/{id}", get(admin::snapshot))
        .route("/review/admin/fine-schedule", post(admin::amend_schedule))
        .route(
            "/review/admin/devices/{id}/revoke",
            post(admin::revoke_device),
        )
        .route("/review/violations/{id}/resolve", post(violation::resolve))
        .route("/review/violations/{id}/reverse", post(violation::reverse))
        .route("/review/violations/{id}/hold", post(violation::hold))
        .route("/review/requests/{id}/confirm", post(requests::confirm))
        .route("/review/requests/{id}/refuse", post(requests::refuse))
        .route("/review/assets/review.css", get(assets::css))
        .route("/review/assets/review.js", get(assets::js))
        .route("/review/assets/camera.js", get(assets::camera_js))
        .layer(middleware::map_response(protect))
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                   media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Headers every review response carries ([`service_kit::http::protect_page`]).
async fn protect(response: Response) -> Response {
    service_kit::http::protect_page(response, HeaderValue::from_static(CSP))
}

/// The officer at the desk: signed in through the session cookie, with the session's CSRF token
/// and the page language. Without a session, pages send the browser to the sign-in page.
#[derive(Debug, Clone)]
pub struct Desk {
    pub officer: Officer,
    pub csrf: String,
    pub lang: Lang,
    /// What the officer's last decision did, said once on the next page.
    pub flash: Option<Flash>,
}

pub const FLASH_COOKIE: &str = "tve_flash";

/// What a decision did, carried to the next page in a cookie that lives a minute and is read
/// once (so the queue's address stays the queue's, and a reload does not say it again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// `approved`, `rejected`, `decided`, …
    pub done: String,
    /// The violation acted on.
    pub prev: String,
    /// The number of the penalty decision issued.
    pub decision: Option<String>,
}

impl Flash {
    pub fn approved(id: &protocol::EventId) -> Self {
        Self {
            done: "approved".into(),
            prev: id.to_string(),
            decision: None,
        }
    }

    pub fn decided(id: &protocol::EventId, decision: &str) -> Self {
        Self {
            done: "decided".into(),
            prev: id.to_string(),
            decision: Some(decision.into()),
        }
    }

    pub fn rejected(id: &protocol::EventId) -> Self {
        Self {
            done: "rejected".into(),
            prev: id.to_string(),
            decision: None,
        }
    }

    fn encode(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.append_pair("done", &self.done)
            .append_pair("prev", &self.prev);
        if let Some(d) = &self.decision {
            s.append_pair("decision", d);
        }
        s.finish()
    }

    fn decode(value: &str) -> Option<Self> {
        let (mut done, mut prev, mut decision) = (None, None, None);
        for (k, v) in form_urlencoded::parse(value.as_bytes()) {
            match &*k {
                "done"
                    if [
                        "approved",
                        "decided",
                        "rejected",
                        "upheld",
                        "cancelled",
                        "requested",
                    ]
                    .contains(&&*v) =>
                {
                    done = Some(v.into_owned())
                }
                "prev" => prev = protocol::EventId::parse(&v).ok().map(|id| id.to_string()),
                "decision" => decision = Some(v.into_owned()),
                _ => {}
            }
        }
        Some(Self {
            done: done?,
            prev: prev?,
            decision,
        })
    }

    /// The `Set-Cookie` header that carries it to the next page.
    pub fn cookie(&self) -> Result<HeaderMap, ApiError> {
        crate::routes::session::set_cookie(&format!(
            "{FLASH_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/review; Max-Age=60",
            self.encode()
        ))
    }

    pub fn resolved(id: &protocol::EventId, outcome: protocol::DisputeOutcome) -> Self {
        Self {
            done: outcome.as_str().into(),
            prev: id.to_string(),
            decision: None,
        }
    }

    /// A change asked for that waits for a second officer.
    pub fn requested(id: &protocol::EventId) -> Self {
        Self {
            done: "requested".into(),
            prev: id.to_string(),
            decision: None,
        }
    }

    fn show(&self, lang: Lang) -> Markup {
        let text = match self.done.as_str() {
            "requested" => lang.t(
                "Đã gửi đề nghị; một cán bộ khác có thẩm quyền xác nhận thì mới thực hiện.",
                "Asked: it is done when another officer allowed to do it confirms it.",
            ),
            "approved" => lang.t(
                "Đã xác nhận vi phạm vừa xem; thông báo vi phạm được gửi cho chủ phương tiện.",
                "The last violation is confirmed; the notice goes to the vehicle's owner.",
            ),
            "decided" => lang.t(
                "Đã ra quyết định xử phạt số",
                "Penalty decision issued, number",
            ),
            "upheld" => lang.t(
                "Đã trả lời giải trình: không chấp nhận; vụ việc chuyển ra quyết định.",
                "Explanation answered: not accepted; the case goes on to a decision.",
            ),
            "cancelled" => lang.t(
                "Đã trả lời giải trình: chấp nhận, không xử phạt.",
                "Explanation answered: accepted, no penalty.",
            ),
            _ => lang.t(
                "Đã từ chối vi phạm vừa xem.",
                "The last violation was rejected.",
            ),
        };
        html! {
            div.flash #flash role="status" {
                (text)
                @if let Some(n) = &self.decision { " " strong { (n) } "." }
                " " a href={ "/review/violations/" (self.prev) } { (lang.t("Xem lại", "Open it")) }
            }
        }
    }
}

impl Desk {
    /// The refusal of a form whose CSRF token is not the session's; `None` when it is.
    pub fn forged(&self, sent: &str) -> Option<Response> {
        if !sent.is_empty() && protocol::same_token(sent, &self.csrf) {
            return None;
        }
        Some(self.failure(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "missing or wrong CSRF token",
        )))
    }

    /// A page saying why something could not be done.
    pub fn failure(&self, e: impl Into<ApiError>) -> Response {
        error_page(self.lang, Some(self), e.into())
    }

    /// A page around `body`, for this officer, saying first what the last decision did.
    pub fn page(&self, here: &str, title: &str, body: Markup) -> Response {
        let body = html! {
            @if let Some(f) = &self.flash { (f.show(self.lang)) }
            (body)
        };
        let officer = Some((&self.officer, self.csrf.as_str()));
        let page = Html(layout::page(self.lang, officer, here, title, body).into_string());
        if self.flash.is_none() {
            return page.into_response();
        }
        match crate::routes::session::set_cookie(&format!(
            "{FLASH_COOKIE}=; HttpOnly; SameSite=Strict; Path=/review; Max-Age=0"
        )) {
            Ok(read) => (read, page).into_response(),
            Err(_) => page.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for Desk {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = Lang::of(&parts.headers);
        let token = service_kit::http::cookie(&parts.headers, auth::SESSION_COOKIE);
        let found = match token {
            Some(token) => officers::session(
                &state.db,
                &auth::token_digest(token),
                state.review.session_idle(),
            )
            .await
            .map_err(|e| error_page(lang, None, ApiError::internal(e)))?,
            None => None,
        };
        match found {
            Some((officer, csrf)) => Ok(Self {
                officer,
                csrf,
                lang,
                flash: service_kit::http::cookie(&parts.headers, FLASH_COOKIE)
                    .and_then(Flash::decode),
            }),
            None => {
                let here = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/review");
                let next = form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>();
                Err(Redirect::to(&format!("/review/login?next={next}")).into_response())
            }
        }
    }
}

/// What an error means to the officer, in the page's language, with the detail beneath.
pub fn explain(lang: Lang, e: &ApiError) -> (&'static str, Option<String>) {
    let headline = match e.code {
        "not_found" => lang.t("Không tìm thấy vi phạm này.", "No such violation."),
        "not_pending" => lang.t(
            "Vi phạm này đã được xử lý.",
            "This violation has already been decided.",
        ),
        "no_owner" => lang.t(
            "Chưa xác định được chủ phương tiện: hãy sửa biển số hoặc từ chối.",
            "The owner is not known: correct the plate or reject.",
        ),
        "second_officer_needed" => lang.t(
            "Bạn đã sửa biển số của vi phạm này: một cán bộ khác xác nhận vi phạm.",
            "You corrected this violation's plate: another officer confirms the violation.",
        ),
        "no_fine" => lang.t(
            "Biểu mức phạt không có mức phạt cho trường hợp này.",
            "The fine schedule has no fine for this case.",
        ),
        "bad_request" => lang.t("Dữ liệu nhập không hợp lệ.", "The input is not valid."),
        "disputed" => lang.t(
            "Chủ phương tiện đang giải trình: hãy trả lời giải trình.",
            "The owner is explaining: answer the explanation.",
        ),
        "no_case" => lang.t(
            "Vi phạm chưa được xác nhận: chưa có thông báo vi phạm.",
            "The violation is not confirmed: no notice was issued.",
        ),
        "decided" => lang.t(
            "Vụ việc đã có quyết định xử phạt.",
            "The case is decided already.",
        ),
        "not_answered" => lang.t(
            "Chủ phương tiện chưa trả lời, hoặc giải trình chưa được trả lời: chưa thể ra quyết định.",
            "The owner has not answered, or the explanation is not answered yet: no decision yet.",
        ),
        "case_final" => lang.t(
            "Vụ việc đã kết thúc.",
            "The case is closed.",
        ),
        "explanation_period" => lang.t(
            "Đang trong thời hạn giải trình (Điều 61 Luật Xử lý vi phạm hành chính): chưa thể ra quyết định.",
            "The explanation period is running (Law on Handling Administrative Violations, Article 61): no decision yet.",
        ),
        "amount" => lang.t(
            "Số tiền phạt không phù hợp với khung hoặc tình tiết.",
            "The amount does not fit the range or the circumstance.",
        ),
        "fine_final" => lang.t(
            "Quyết định xử phạt đã hoàn tất (đã nộp phạt hoặc đã hủy).",
            "The fine is settled (paid or cancelled).",
        ),
        "not_decided" => lang.t(
            "Vi phạm chưa được quyết định.",
            "The violation has not been decided.",
        ),
        "forbidden" => lang.t(
            "Vai trò của bạn không được phép làm việc này.",
            "Your role may not do this.",
        ),
        "registry" => lang.t(
            "Không tra cứu được cơ sở dữ liệu đăng ký xe; thử lại sau.",
            "The vehicle registry could not be reached; try again later.",
        ),
        "csrf" => lang.t(
            "Trang đã cũ hoặc phiên làm việc đã thay đổi; hãy tải lại trang.",
            "The page is stale or the session changed; reload the page.",
        ),
        "bad_credentials" => lang.t(
            "Sai tên đăng nhập hoặc mật khẩu, hoặc tài khoản đã bị khoá (liên hệ quản trị viên).",
            "Wrong username or password, or the account is locked (ask an administrator).",
        ),
        "too_many_attempts" => lang.t(
            "Đăng nhập sai quá nhiều lần với tên này; hãy đợi rồi thử lại.",
            "Too many failed sign-ins with this username; wait, then try again.",
        ),
        "busy" => lang.t(
            "Có quá nhiều lượt đăng nhập cùng lúc; thử lại sau giây lát.",
            "Too many sign-ins at once; try again in a moment.",
        ),
        _ => lang.t(
            "Lỗi hệ thống; vui lòng thử lại sau.",
            "Something went wrong; please try again later.",
        ),
    };
    let detail = (e.code != "internal").then(|| e.message.clone());
    (headline, detail)
}

/// A notice of an error inside a page.
pub fn alert(lang: Lang, e: &ApiError) -> Markup {
    let (headline, detail) = explain(lang, e);
    html! {
        div.alert role="alert" data-code=(e.code) {
            strong { (headline) }
            @if let Some(d) = detail { " " span.detail { (d) } }
        }
    }
}

fn error_page(lang: Lang, desk: Option<&Desk>, e: ApiError) -> Response {
    let status = e.status;
    let body = html! {
        h1 { (lang.t("Không thực hiện được", "Could not be done")) }
        (alert(lang, &e))
        p { a href="/review" { (lang.t("Về hàng đợi", "Back to the queue")) } }
    };
    let officer = desk.map(|d| (&d.officer, d.csrf.as_str()));
    let title = lang.t("Lỗi", "Error");
    (
        status,
        Html(layout::page(lang, officer, "/review", title, body).into_string()),
    )
        .into_response()
}
