//! Four eyes on the pages ([`crate::four_eyes`]): the box of requests waiting for a second
//! officer, shown on the administration page (officers, devices) and on a violation's page
//! (reversals, cancellations), with the buttons to confirm or refuse each — or to withdraw it,
//! for its requester — and the forms' handlers (`POST /review/requests/{id}/confirm`,
//! `…/refuse`), which go back to the page the request was shown on.

use axum::{
    Form,
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Desk, Lang};
use crate::error::ServiceError;
use crate::{
    auth::Officer,
    db::requests::{Kind, Request},
    four_eyes,
    state::AppState,
};

fn kind_name(lang: Lang, kind: &str) -> &'static str {
    match Kind::parse(kind) {
        Some(Kind::OfficerSave) => lang.t("Lưu cán bộ", "Save an officer"),
        Some(Kind::DeviceRegister) => lang.t(
            "Đăng ký / đổi khóa thiết bị",
            "Register a device or change its key",
        ),
        Some(Kind::ViolationReverse) => lang.t("Hủy / mở lại quyết định", "Reverse a decision"),
        Some(Kind::FineCancel) => lang.t(
            "Chấp nhận giải trình, không xử phạt",
            "Accept the explanation, cancel the fine",
        ),
        None => lang.t("Yêu cầu", "Request"),
    }
}

/// The requests waiting in `requests`, with what `officer` may do with each.
pub fn waiting_box(lang: Lang, requests: &[Request], officer: &Officer, csrf: &str) -> Markup {
    html! {
        @if !requests.is_empty() {
            section.box #requests {
                h2 { (lang.t("Chờ cán bộ thứ hai xác nhận", "Waiting for a second officer")) }
                p.muted { (lang.t(
                    "Thay đổi chỉ được thực hiện khi một cán bộ khác có thẩm quyền xác nhận; người yêu cầu không tự xác nhận.",
                    "The change is made only when another officer allowed to make it confirms it; nobody confirms their own request.")) }
                @for r in requests {
                    (one(lang, r, officer, csrf))
                }
            }
        }
    }
}

fn one(lang: Lang, r: &Request, officer: &Officer, csrf: &str) -> Markup {
    let own = r.requested_by == officer.username;
    let may = r
        .kind()
        .is_some_and(|k| four_eyes::may_confirm(officer.role, k));
    let base = format!("/review/requests/{}", r.request_id);
    html! {
        div.request data-request=(r.request_id) {
            p {
                strong { (kind_name(lang, &r.kind)) } " · " code { (r.subject) } br;
                span.muted { (lang.t("Người yêu cầu", "Asked by")) " " (r.requested_by) " · " (r.requested_at) }
            }
            @if let Some(change) = r.change.as_object() {
                dl.facts { @for (k, v) in change {
                    dt { (k) } dd { (v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())) }
                } }
            }
            @if may && !own {
                form.inline.confirm-request method="post" action={ (base) "/confirm" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button.primary type="submit" { (lang.t("Xác nhận", "Confirm")) }
                }
            }
            @if may || own {
                form.inline.refuse-request method="post" action={ (base) "/refuse" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="text" name="note" required maxlength="2000" placeholder=(lang.t("Lý do", "Why"));
                    button.danger type="submit" { @if own { (lang.t("Rút yêu cầu", "Withdraw")) } @else { (lang.t("Từ chối", "Refuse")) } }
                }
            }
            @if own {
                p.muted.own-request { (lang.t("Yêu cầu của bạn: một cán bộ khác xác nhận.", "Your request: another officer confirms it.")) }
            }
        }
    }
}

/// Where a request on `subject` is shown.
fn page_of(subject: &str) -> String {
    match subject.strip_prefix("violation:") {
        Some(id) => format!("/review/violations/{id}"),
        None => "/review/admin".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    csrf: String,
}

fn request_id(text: &str) -> Result<uuid::Uuid, crate::error::ServiceError> {
    uuid::Uuid::parse_str(text).map_err(|_| ServiceError::bad_request("id", "not a request id"))
}

/// `POST /review/requests/{id}/confirm`: the change is made; back to where it was asked.
pub async fn confirm(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<ConfirmForm>,
) -> Response {
    if let Some(refused) = desk.forged(&f.csrf) {
        return refused;
    }
    let done = async { four_eyes::confirm(&state, &desk.officer, request_id(&id)?).await };
    match done.await {
        Ok(c) => Redirect::to(&page_of(&c.request.subject)).into_response(),
        Err(e) => desk.failure(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct RefuseForm {
    csrf: String,
    note: String,
}

/// `POST /review/requests/{id}/refuse`: nothing is changed; back to where it was asked.
pub async fn refuse(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<RefuseForm>,
) -> Response {
    if let Some(refused) = desk.forged(&f.csrf) {
        return refused;
    }
    let done = async { four_eyes::refuse(&state, &desk.officer, request_id(&id)?, &f.note).await };
    match done.await {
        Ok(r) => Redirect::to(&page_of(&r.subject)).into_response(),
        Err(e) => desk.failure(e),
    }
}
