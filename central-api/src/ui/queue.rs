//! `GET /review`: the queue, oldest first, with its filters.

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use protocol::vi::local_time;
use protocol::{VehicleClass, ViolationKind};

use super::{Desk, Lang, alert, layout};
use crate::{db::review::QueuePage, review::QueueQuery, routes::ApiError, state::AppState};

const STATUSES: [&str; 4] = ["pending_review", "approved", "rejected", "received"];

pub async fn page(
    State(state): State<AppState>,
    desk: Desk,
    Query(q): Query<QueueQuery>,
) -> Response {
    let lang = desk.lang;
    let listed = crate::review::list(&state, &desk.officer, &q)
        .await
        .map_err(ApiError::from);
    let body = match &listed {
        Ok((page, filter)) => html! {
            (filters(lang, &q))
            (table(lang, page, filter.offset))
            (pager(lang, &q, page, filter.offset, filter.limit))
        },
        Err(e) => html! { (filters(lang, &q)) (alert(lang, e)) },
    };
    let title = lang.t("Hàng đợi duyệt", "Review queue");
    let status = listed.as_ref().err().map(|e| e.status).unwrap_or_default();
    (status, desk.page("/review", title, body)).into_response()
}

fn filters(lang: Lang, q: &QueueQuery) -> Markup {
    let status = q.status.as_deref().unwrap_or("pending_review");
    let kind = q.kind.as_deref().unwrap_or("");
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    html! {
        h1 { (lang.t("Hàng đợi duyệt vi phạm", "Violation review queue")) }
        form.filters #filters method="get" action="/review" {
            label { (lang.t("Trạng thái", "Status"))
                select name="status" {
                    @for s in STATUSES {
                        option value=(s) selected[s == status] { (layout::status_name(lang, s)) }
                    }
                    option value="all" selected[status == "all"] { (lang.t("Tất cả", "All")) }
                }
            }
            label { (lang.t("Hành vi", "Violation"))
                select name="kind" {
                    option value="" selected[kind.is_empty()] { (lang.t("Tất cả", "All")) }
                    @for k in ViolationKind::ALL {
                        option value=(k.as_str()) selected[k.as_str() == kind] { (layout::kind_name(lang, k)) }
                    }
                }
            }
            label { (lang.t("Biển số", "Plate"))
                input #plate-filter type="search" name="plate" value=(text(&q.plate)) placeholder="51F-123.45";
            }
            label { "Camera" input type="text" name="camera" value=(text(&q.camera)); }
            label { (lang.t("Từ ngày", "From")) input type="date" name="from" value=(text(&q.from)); }
            label { (lang.t("Đến ngày", "To")) input type="date" name="to" value=(text(&q.to)); }
            button type="submit" { (lang.t("Lọc", "Filter")) }
        }
    }
}

fn table(lang: Lang, page: &QueuePage, offset: i64) -> Markup {
    html! {
        @if page.items.is_empty() {
            p.empty #queue-empty { (lang.t("Không có vi phạm nào phù hợp.", "No violation matches.")) }
        } @else {
            table.queue #queue {
                thead { tr {
                    th { "#" }
                    th { (lang.t("Thời điểm", "Time")) }
                    th { (lang.t("Hành vi", "Violation")) }
                    th { (lang.t("Phương tiện", "Vehicle")) }
                    th { (lang.t("Biển số", "Plate")) }
                    th { "Camera" }
                    th { (lang.t("Chủ xe", "Owner")) }
                    th { (lang.t("Trạng thái", "Status")) }
                } }
                tbody {
                    @for (i, item) in page.items.iter().enumerate() {
                        @let href = format!("/review/violations/{}", item.event_id);
                        @let class = VehicleClass::parse(&item.vehicle_class);
                        tr data-href=(href) {
                            td { (offset + i as i64 + 1) }
                            td { a href=(href) { (local_time(item.occurred_at)) } }
                            td { (item.kind.parse::<ViolationKind>().map(|k| layout::kind_name(lang, k)).unwrap_or(&item.kind)) }
                            td { (class.map(|c| layout::class_name(lang, c)).unwrap_or(&item.vehicle_class)) }
                            td.plate {
                                @match (&item.plate, class) {
                                    (Some(p), Some(c)) => (layout::plate_display(p, c)),
                                    (Some(p), None) => (p),
                                    (None, _) => span.muted { (lang.t("chưa đọc được", "not read")) },
                                }
                            }
                            td { (item.camera) }
                            td { (layout::lookup_name(lang, item.owner_lookup.as_deref())) }
                            td { span class={ "status " (item.status) } { (layout::status_name(lang, &item.status)) } }
                        }
                    }
                }
            }
        }
    }
}

fn pager(lang: Lang, q: &QueueQuery, page: &QueuePage, offset: i64, limit: i64) -> Markup {
    let link = |to: i64| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("status", &q.status),
            ("kind", &q.kind),
            ("camera", &q.camera),
            ("plate", &q.plate),
            ("from", &q.from),
            ("to", &q.to),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                s.append_pair(k, v);
            }
        }
        s.append_pair("offset", &to.to_string());
        format!("/review?{}", s.finish())
    };
    let shown = page.items.len() as i64;
    html! {
        nav.pager {
            @if shown > 0 {
                span #queue-count { (offset + 1) "–" (offset + shown) " / " (page.total) @if !page.total_exact { "+" } }
            }
            @if offset > 0 {
                a rel="prev" href=(link((offset - limit).max(0))) { "← " (lang.t("Trước", "Previous")) }
            }
            @if offset + shown < page.total || (!page.total_exact && shown == limit) {
                a rel="next" href=(link(offset + limit)) { (lang.t("Sau", "Next")) " →" }
            }
        }
    }
}
