//! `GET /review/corrections`: citizens' requests to correct their personal data, for
//! supervisors — those waiting for an answer, each with its answer form, and the form that
//! records one as it arrived (`POST /review/corrections`, `POST
//! /review/corrections/{id}/answer`; the work is [`crate::routes::corrections`]'s). Each shows
//! its periods (Decree 356/2025/NĐ-CP, Article 5 clause 3), those run out marked, with the
//! forms that record the citizen answered with the procedure and extend the period once.

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
    routes::corrections::{
        Answer, Extension, Record, acknowledge_as, answer_as, extend_as, record_as,
    },
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
    let now = time::OffsetDateTime::now_utc();
    let body = match corrections::list(&state.db, state.review.sealing.as_ref(), None).await {
        Ok(items) => html! {
            h1 { (title) }
            p.muted { (lang.t(
                "Chủ thể dữ liệu có quyền yêu cầu chỉnh sửa dữ liệu cá nhân (điểm c khoản 1 Điều 4 Luật Bảo vệ dữ liệu cá nhân số 91/2025/QH15).",
                "A data subject may ask for their personal data to be corrected (Law 91/2025/QH15 on Personal Data Protection, Article 4 clause 1 point c).")) }
            p.muted { (lang.t(
                "Trả lời công dân về thủ tục trong 02 ngày làm việc; chỉnh sửa trong 10 ngày (15 ngày nếu do nơi quản lý dữ liệu gốc chỉnh sửa); gia hạn một lần, không quá 10 ngày, nêu lý do (khoản 3 Điều 5 Nghị định 356/2025/NĐ-CP).",
                "Answer the citizen with the procedure within 2 working days; correct within 10 days (15 where the data's source corrects it); extend once, by at most 10 days, saying why (Decree 356/2025/NĐ-CP, Article 5 clause 3).")) }
            @if items.is_empty() {
                p.empty #corrections-empty { (lang.t("Không có yêu cầu nào đang chờ.", "No request is waiting.")) }
            } @else {
                ol.requests #corrections {
                    @for c in &items { li { (waiting(lang, c, &desk.csrf, now)) } }
                }
            }
            (record_form(lang, &desk.csrf))
        },
        Err(e) => html! { h1 { (title) } (alert(lang, &e.into())) },
    };
    desk.page(HERE, title, body).into_response()
}

fn waiting(lang: Lang, c: &Correction, csrf: &str, now: time::OffsetDateTime) -> Markup {
    let action = |step: &str| format!("{HERE}/{}/{step}", c.id);
    html! {
        article.box.correction data-id=(c.id) {
            ul.periods {
                li.reply.overdue[c.reply_overdue(now)] {
                    (lang.t("Trả lời về thủ tục trước", "Answer with the procedure by")) " " (local_time(c.reply_by))
                    @if let (Some(at), Some(by)) = (c.acknowledged_at, &c.acknowledged_by) {
                        " · " (lang.t("đã trả lời", "answered")) " " (local_time(at)) " " code { (by) }
                    }
                }
                li.answer.overdue[c.overdue(now)] {
                    (lang.t("Chỉnh sửa trước", "Correct by")) " " (local_time(c.answer_by))
                    " (" (lang.t("nơi quản lý dữ liệu gốc", "at the data's source")) " " (local_time(c.referred_by)) ")"
                    @if let Some(days) = c.extended_days {
                        " · " (lang.t("đã gia hạn", "extended by")) " " (days) " " (lang.t("ngày", "days"))
                    }
                }
            }
            p { strong { (lang.t("Công dân", "Citizen")) " " code { (c.citizen_id) } }
                " · " (channel_name(lang, &c.channel)) " · " (local_time(c.received_at)) }
            @if let Some(e) = c.event_id {
                p { a href={ "/review/violations/" (e) } { (lang.t("Vụ việc", "Case")) " " code { (e) } } }
            }
            blockquote { (c.request) }
            p.muted { (lang.t("Ghi nhận bởi", "Recorded by")) " " code { (c.recorded_by) } }
            @if let Some(reason) = &c.extension_reason {
                p { (lang.t("Lý do gia hạn", "Why extended")) ": " (reason) }
            }
            @if c.acknowledged_at.is_none() {
                form.acknowledge method="post" action=(action("acknowledge")) {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { (lang.t("Đã trả lời công dân về thủ tục", "The citizen was answered with the procedure")) }
                }
            }
            @if c.extended_days.is_none() && !c.overdue(now) {
                form.extend method="post" action=(action("extend")) {
                    input type="hidden" name="csrf" value=(csrf);
                    label { (lang.t("Gia hạn (ngày)", "Extend by (days)"))
                        input type="number" name="days" required min="1" max=(corrections::EXTEND_MAX_DAYS) value=(corrections::EXTEND_MAX_DAYS); }
                    label { (lang.t("Lý do, như đã báo công dân", "Why, as the citizen was told"))
                        textarea name="reason" required maxlength="4000" rows="2" {} }
                    button type="submit" { (lang.t("Gia hạn", "Extend")) }
                }
            }
            form.resolve method="post" action=(action("answer")) {
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

/// After a step taken: the list again.
fn back() -> Response {
    Redirect::to(HERE).into_response()
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
        Ok(_) => back(),
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
        Ok(_) => back(),
        Err(e) => desk.failure(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /review/corrections/{id}/acknowledge`: records that the citizen was answered with the
/// procedure; back to the list.
pub async fn acknowledge(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = desk.forged(&f.csrf) {
        return refused;
    }
    match acknowledge_as(&state, &desk.officer, &id).await {
        Ok(_) => back(),
        Err(e) => desk.failure(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct ExtendForm {
    csrf: String,
    days: u32,
    reason: String,
}

/// `POST /review/corrections/{id}/extend`: extends the request's period once; back to the list.
pub async fn extend(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<ExtendForm>,
) -> Response {
    if let Some(refused) = desk.forged(&f.csrf) {
        return refused;
    }
    let body = Extension {
        days: f.days,
        reason: f.reason,
    };
    match extend_as(&state, &desk.officer, &id, &body).await {
        Ok(_) => back(),
        Err(e) => desk.failure(e),
    }
}
