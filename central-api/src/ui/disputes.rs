//! `GET /review/disputes`: fines their owners disputed, waiting for a supervisor's answer.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use maud::html;

use super::{Desk, alert};
use crate::{db::disputes, state::AppState};

pub async fn page(State(state): State<AppState>, desk: Desk) -> Response {
    let lang = desk.lang;
    let title = lang.t("Giải trình chờ trả lời", "Explanations awaiting an answer");
    let body = match disputes::open(&state.db, state.review.sealing.as_ref()).await {
        Ok(items) => html! {
            h1 { (title) }
            @if !desk.officer.role.supervises() {
                p.muted { (lang.t("Chỉ chỉ huy được trả lời giải trình.", "Only supervisors answer explanations.")) }
            }
            @if items.is_empty() {
                p.empty #disputes-empty { (lang.t("Không có giải trình nào đang chờ.", "No explanation is waiting.")) }
            } @else {
                table.queue #disputes {
                    thead { tr {
                        th { (lang.t("Vụ việc", "Case")) }
                        th { (lang.t("Biển số", "Plate")) }
                        th.num { (lang.t("Mức đề xuất", "Proposed")) }
                        th { (lang.t("Giải trình lúc", "Explained at")) }
                        th { (lang.t("Giải trình của chủ phương tiện", "The owner's explanation")) }
                    } }
                    tbody {
                        @for d in &items {
                            @let href = format!("/review/violations/{}", d.event_id);
                            tr data-href=(href) {
                                td { a href=(href) { (d.decision_number.as_deref().unwrap_or(&d.fine_id[..8])) } }
                                td.plate { (d.plate) }
                                td.num { (protocol::vi::vnd(d.amount_vnd.max(0) as u64)) " ₫" }
                                td { (protocol::vi::local_time(d.disputed_at)) }
                                td { (d.reason) }
                            }
                        }
                    }
                }
            }
        },
        Err(e) => html! { h1 { (title) } (alert(lang, &e.into())) },
    };
    desk.page("/review/disputes", title, body).into_response()
}
