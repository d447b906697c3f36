//! `GET /review/stats`: the operations centre's page — totals, violations by day and by hour of
//! day (charts drawn as SVG on the server), by kind and by camera, and the CSV export.

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Response},
};
use maud::{Markup, html};

use super::{Desk, Lang, alert, layout};
use crate::{
    routes::ApiError,
    state::AppState,
    stats::{self, PeriodQuery, Stats},
};

pub async fn page(
    State(state): State<AppState>,
    desk: Desk,
    Query(q): Query<PeriodQuery>,
) -> Response {
    let lang = desk.lang;
    let loaded = match q.period() {
        Ok(period) => stats::load(&state.db, period).await.map(|(s, _)| s),
        Err(e) => Err(e),
    }
    .map_err(ApiError::from);
    let title = lang.t("Thống kê vi phạm", "Violation statistics");
    let (status, body) = match &loaded {
        Ok(s) => (Default::default(), view(lang, s)),
        Err(e) => (e.status, html! { h1 { (title) } (alert(lang, e)) }),
    };
    (status, desk.page("/review/stats", title, body)).into_response()
}

fn view(lang: Lang, s: &Stats) -> Markup {
    let p = s.period;
    let csv = format!("/api/v1/stats.csv?from={}&to={}", p.from, p.to);
    let status = |k: &str| s.by_status.get(k).copied().unwrap_or(0);
    let days: Vec<(String, i64)> = s
        .by_day
        .iter()
        .map(|d| (d.day.get(8..10).unwrap_or(&d.day).to_owned(), d.count))
        .collect();
    let hours: Vec<(String, i64)> = s
        .by_hour
        .iter()
        .enumerate()
        .map(|(h, n)| (format!("{h}"), *n))
        .collect();
    let most_kind = s.by_kind.first().map(|k| k.count).unwrap_or(0).max(1);
    let most_camera = s.by_camera.first().map(|c| c.total).unwrap_or(0).max(1);
    html! {
        h1 { (lang.t("Thống kê vi phạm", "Violation statistics")) }
        form.filters method="get" action="/review/stats" {
            label { (lang.t("Từ ngày", "From")) input type="date" name="from" value=(p.from.to_string()); }
            label { (lang.t("Đến ngày", "To")) input type="date" name="to" value=(p.to.to_string()); }
            button type="submit" { (lang.t("Xem", "Show")) }
            a.button #csv href=(csv) download { (lang.t("Tải CSV", "Download CSV")) }
        }
        dl.totals #totals {
            div { dt { (lang.t("Tổng số", "Total")) } dd #total { (s.total) } }
            div { dt { (layout::status_name(lang, "pending_review")) } dd { (status("pending_review") + status("received")) } }
            div { dt { (layout::status_name(lang, "approved")) } dd { (status("approved")) } }
            div { dt { (layout::status_name(lang, "rejected")) } dd { (status("rejected")) } }
        }
        div.charts {
            section.box {
                h2 { (lang.t("Theo ngày", "By day")) }
                (columns(&days, lang.t("Số vi phạm theo ngày", "Violations by day")))
            }
            section.box {
                h2 { (lang.t("Theo giờ trong ngày", "By hour of day")) }
                (columns(&hours, lang.t("Số vi phạm theo giờ", "Violations by hour")))
            }
        }
        div.charts {
            section.box {
                h2 { (lang.t("Theo hành vi", "By violation")) }
                table #by-kind {
                    @for k in &s.by_kind {
                        tr {
                            td { (k.kind.parse::<protocol::ViolationKind>().map(|v| layout::kind_name(lang, v)).unwrap_or(&k.kind)) }
                            td.num { (k.count) }
                            td { meter value=(k.count) max=(most_kind) {} }
                        }
                    }
                }
            }
            section.box {
                h2 { (lang.t("Theo camera", "By camera")) }
                table #by-camera {
                    thead { tr {
                        th { (lang.t("Địa điểm", "Place")) } th { "Camera" }
                        th.num { (lang.t("Tổng", "Total")) } th.num { (layout::status_name(lang, "approved")) }
                        th.num { (layout::status_name(lang, "rejected")) } th {}
                    } }
                    tbody {
                        @for c in &s.by_camera {
                            tr {
                                td { (if c.device_name.is_empty() { &c.device_id } else { &c.device_name }) }
                                td { code { (c.camera_id) } }
                                td.num { (c.total) } td.num { (c.approved) } td.num { (c.rejected) }
                                td { meter value=(c.total) max=(most_camera) {} }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A column chart of `values` (label, count) as SVG, with each count in its column's title.
fn columns(values: &[(String, i64)], label: &str) -> Markup {
    const HEIGHT: f64 = 160.0;
    const BASE: f64 = 18.0;
    const WIDTH: f64 = 720.0;
    let most = values.iter().map(|v| v.1).max().unwrap_or(0).max(1) as f64;
    let step = WIDTH / values.len().max(1) as f64;
    // Every label when they fit; otherwise every few.
    let every = values.len().div_ceil(24).max(1);
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (HEIGHT + BASE) } role="img" aria-label=(label)
            {
            @for (i, (name, n)) in values.iter().enumerate() {
                @let h = (*n as f64 / most) * (HEIGHT - 14.0);
                @let x = i as f64 * step;
                rect.bar x=(x + step * 0.15) y=(HEIGHT - h) width=(step * 0.7) height=(h) {
                    title { (name) ": " (n) }
                }
                @if *n > 0 {
                    text.count x=(x + step / 2.0) y=(HEIGHT - h - 3.0) text-anchor="middle" { (n) }
                }
                @if i % every == 0 {
                    text.axis x=(x + step / 2.0) y=(HEIGHT + BASE - 4.0) text-anchor="middle" { (name) }
                }
            }
        }
    }
}
