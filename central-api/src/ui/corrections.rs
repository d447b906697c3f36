//! `GET /review/corrections`: citizens' requests to correct their personal data, for
//! supervisors — those waiting for an answer, each with its answer form, and the form that
//! records one as it arrived (`POST /review/corrections`, `POST
//! /review/corrections/{id}/answer`; the work is [`crate::routes::corrections`]'s).

use axum::{
    extract::{Form, Path, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use protocol::vi::local_time;
use serde::Deserialize;

use super::{Desk, alert, layout::Lang};
use crate::{
    db::corrections::{self, Correction},
    routes::corrections::{Answer, Record, answer_as, record_as},
    state::AppState,
};

const HERE: &str = "/review/corrections";

fn channel_name(lang: Lang, channel: &str) -> &'static str {
    match channel {
        "in_person" => lang.t("Trực tiếp", "In person"),
        "post" => lang.t("Bưu chính", "By post"),
        "email" => lang.t("Thư điện tử", "E-mail"),
        "portal" => lang.t("Cổng thông tin", "The portal"),
        _ => "?",
    }
}

pub async fn page(State(state): State<AppState>, desk: Desk) -> Response {
    let lang = desk.lang;
    let title = lang.t(
        "Yêu cầu chỉnh sửa dữ liệu cá nhân",
        "Requests to correct personal data",
    );
    if !desk.officer.role.supervises() {
        let body = html! {
            h1 { (title) }
            p.muted { (lang.t("Chỉ chỉ huy ghi nhận và trả lời yêu cầu chỉnh sửa.",
                "Only supervisors record and answer correction requests.")) }
        };
        return desk.page(HERE, title, body).into_response();
    }
    let body = match corrections::list(&state.db, None).await {
        Ok(items) => html! {
            h1 { (title) }
            p.muted { (lang.t(
                "Chủ thể dữ liệu có quyền yêu cầu chỉnh sửa dữ liệu cá nhân (điểm c khoản 1 Điều 4 Luật Bảo vệ dữ liệu cá nhân số 91/2025/QH15).",
                "A data subject may ask for their personal data to be corrected (Law 91/2025/QH15 on Personal Data Protection, Article 4 clause 1 point c).")) }
            @if items.is_empty() {
                p.empty #corrections-empty { (lang.t("Không có yêu cầu nào đang chờ.", "No request is waiting.")) }
            } @else {
                ol.requests #corrections {
                    @for c in &items { li { (waiting(lang, c, &desk.csrf)) } }
                }
            }
            (record_form(lang, &desk.csrf))
        },
        Err(e) => html! { h1 { (title) } (alert(lang, &e.into())) },
    };
    desk.page(HERE, title, body).into_response()
}

fn waiting(lang: Lang, c: &Correction, csrf: &str) -> Markup {
    html! {
        article.box.correction data-id=(c.id) {
            p { strong { (lang.t("Công dân", "Citizen")) " " code { (c.citizen_id) } }
                " · " (channel_name(lang, &c.channel)) " · " (local_time(c.received_at)) }
            @if let Some(e) = c.event_id {
                p { a href={ "/review/violations/" (e) } { (lang.t("Vụ việc", "Case")) " " code { (e) } } }
            }
            blockquote { (c.request) }
            p.muted { (lang.t("Ghi nhận bởi", "Recorded by")) " " code { (c.recorded_by) } }
            form.resolve method="post" action={ (HERE) "/" (c.id) "/answer" } {
                input type="hidden" name="csrf" value=(csrf);
                label { (lang.t("Kết quả", "Outcome")) " "
                    select name="outcome" required {
                        option value="corrected" { (lang.t("Đã chỉnh sửa", "Corrected")) }
                        option value="referred" { (lang.t("Đã chuyển nơi quản lý dữ liệu gốc", "Referred to the data's source")) }
                        option value="refused" { (lang.t("Không chỉnh sửa (nêu lý do)", "Not corrected (say why)")) }
                    }
                }
                label { (lang.t("Trả lời công dân", "The answer to the citizen"))
                    textarea name="answer" required maxlength="4000" rows="3" {} }
                button type="submit" { (lang.t("Trả lời", "Answer")) }
            }
        }
    }
}

fn record_form(lang: Lang, csrf: &str) -> Markup {
    html! {
        section.box #correction-new {
            h2 { (lang.t("Ghi nhận yêu cầu mới", "Record a new request")) }
            form.resolve #correction-form method="post" action=(HERE) {
                input type="hidden" name="csrf" value=(csrf);
                label { (lang.t("Số định danh cá nhân", "Citizen id"))
                    input type="text" name="citizen_id" required inputmode="numeric" pattern="[0-9]{12}" maxlength="12"; }
                label { (lang.t("Mã vụ việc (nếu có)", "Case id (if any)"))
                    input type="text" name="event_id" maxlength="36"; }
                label { (lang.t("Hình thức nhận", "Arrived")) " "
                    select name="channel" required {
                        @for ch in corrections::CHANNELS { option value=(ch) { (channel_name(lang, ch)) } }
                    }
                }
                label { (lang.t("Nội dung yêu cầu", "What is asked"))
                    textarea name="request" required maxlength="4000" rows="3" {} }
                button type="submit" { (lang.t("Ghi nhận", "Record")) }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RecordForm {
    csrf: String,
    citizen_id: String,
    event_id: Option<String>,
    channel: String,
    request: String,
}

/// `POST /review/corrections`: records a request as it arrived now; back to the list.
pub async fn record(
    State(state): State<AppState>,
    desk: Desk,
    Form(f): Form<RecordForm>,
) -> Response {
    if let Some(refused) = desk.forged(&f.csrf) {
        return refused;
    }
    let body = Record {
        citizen_id: f.citizen_id,
        event_id: f.event_id,
        channel: f.channel,
        request: f.request,
        received_at: None,
    };
    match record_as(&state, &desk.officer, &body).await {
        Ok(_) => Redirect::to(HERE).into_response(),
        Err(e) => desk.failure(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    csrf: String,
    outcome: String,
    answer: String,
}

/// `POST /review/corrections/{id}/answer`: answers a request; back to the list.
pub async fn answer(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Response {
    if let Some(refused) = desk.forged(&f.csrf) {
        return refused;
    }
    let body = Answer {
        outcome: f.outcome,
        answer: f.answer,
    };
    match answer_as(&state, &desk.officer, &id, &body).await {
        Ok(_) => Redirect::to(HERE).into_response(),
        Err(e) => desk.failure(e),
    }
}
