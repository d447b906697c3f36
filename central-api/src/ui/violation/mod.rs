//! One violation: its evidence, data, owner and plate candidates, and the decisions on it. After
//! a decision the officer goes straight on to the next violation pending review.
//! The page is drawn here, its boxes (plate, owner, decision, fine, dispute, history) in
//! `boxes`; the forms they post are handled in `actions`.

mod actions;
mod boxes;

pub use actions::*;
use boxes::*;

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use protocol::vi::local_time;
use protocol::{EvidenceItem, UtcTimestamp};
use serde::Deserialize;

use super::{Desk, Flash, Lang, alert, layout};
use crate::{
    db::violations::Status,
    review::{self, Detail, event_id},
    routes::ApiError,
    state::AppState,
};

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// `citizen`: the evidence as the owner is shown it, masked.
    #[serde(rename = "as")]
    view: Option<String>,
}

/// `GET /review/violations/{id}`; `?as=citizen` shows the evidence as the owner sees it (the
/// masked copies), which goes into the audit trail.
pub async fn page(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let id = match event_id(&id) {
        Ok(id) => id,
        Err(e) => return desk.failure(e),
    };
    let masked = q.view.as_deref() == Some("citizen");
    match review::detail(&state, &desk.officer, &id).await {
        Ok(mut d) => {
            if masked
                && let Err(e) = state
                    .audit
                    .append(
                        &desk.officer.actor(),
                        "evidence.viewed_masked",
                        &format!("violation:{id}"),
                        serde_json::json!({}),
                    )
                    .await
            {
                return desk.failure(e);
            }
            let items = &mut d.violation.event.evidence;
            *items = if masked {
                protocol::for_citizens(items)
            } else {
                items
                    .iter()
                    .filter(|i| i.masking.is_none())
                    .cloned()
                    .collect()
            };
            render_as(&desk, &d, None, masked)
        }
        Err(e) => desk.failure(e),
    }
}

/// The page of `d`, with the error of a decision that could not be taken, if any.
fn render(desk: &Desk, d: &Detail, error: Option<&ApiError>) -> Response {
    let mut d = d.clone();
    d.violation.event.evidence.retain(|i| i.masking.is_none());
    render_as(desk, &d, error, false)
}

/// [`render`], the evidence shown `masked` as the owner sees it or as the officers do.
fn render_as(desk: &Desk, d: &Detail, error: Option<&ApiError>, masked: bool) -> Response {
    let lang = desk.lang;
    let v = &d.violation;
    let e = &v.event;
    let here = format!("/review/violations/{}", e.event_id);
    let decides = desk.officer.role.reviews() && v.status == Status::PendingReview;
    let body = html! {
        @if let Some(err) = error { (alert(lang, err)) }
        header.violation-head {
            h1 { (layout::kind_name(lang, e.kind)) }
            p.legal { (e.kind.label_vi()) }
            span #status class={ "status " (v.status.as_str()) } { (layout::status_name(lang, v.status.as_str())) }
        }
        div.columns {
            section.evidence {
                @if let Some((rule, at)) = &v.evidence_deleted {
                    p.alert #evidence-deleted {
                        (lang.t("Tệp chứng cứ đã được xóa theo thời hạn lưu trữ của vụ việc đã kết thúc",
                            "The evidence files were deleted under the retention period of a closed case"))
                        " (" code { (rule) } ", " (local_time(protocol::UtcTimestamp::from_datetime(*at))) "). "
                        (lang.t("Sự kiện đã ký vẫn ghi tên và mã băm của từng tệp.",
                            "The signed event still names each file with its hash."))
                    }
                } @else {
                (evidence_view(lang, &e.evidence, &d.missing))
                p.muted #masking {
                    @if masked {
                        (lang.t("Chứng cứ như chủ phương tiện thấy: các phương tiện khác và người đi đường được che.", "As the owner sees it: the other vehicles and the people about are masked."))
                        " " a #show-originals href=(here) { (lang.t("Xem ảnh gốc", "Show the originals")) }
                    } @else {
                        a #show-masked href={ (here) "?as=citizen" } { (lang.t("Xem như chủ phương tiện thấy", "Show as the owner sees it")) }
                    }
                }
                }
            }
            section.facts {
                (facts(lang, d))
                (plate_box(lang, d, decides, &desk.csrf))
                (owner_box(lang, d))
                @if decides { (decide_box(lang, d, &desk.csrf)) }
                @if let Some(f) = &d.fine {
                    (fine_box(lang, f, desk.officer.role.decides(), &desk.csrf, &e.event_id.to_string()))
                }
                (super::requests::waiting_box(lang, &d.requests, &desk.officer, &desk.csrf))
                @if let Some(dispute) = &d.dispute {
                    (dispute_box(lang, dispute, desk.officer.role.supervises() && d.requests.is_empty(), &desk.csrf))
                }
                @if !d.documents.is_empty() { (documents_box(lang, &d.documents)) }
                @if v.status == Status::Rejected { (rejection_box(lang, d)) }
                @if desk.officer.role.supervises() && d.requests.is_empty()
                    && matches!(v.status, Status::Approved | Status::Rejected) {
                    (reverse_box(lang, d, &desk.csrf))
                }
                @if d.hold.is_some() || desk.officer.role.supervises() {
                    (hold_box(lang, d, desk.officer.role.supervises(), &desk.csrf))
                }
                a #next href={ (here) "/next" } hidden {}
            }
        }
        (trail(lang, d))
    };
    let title = format!(
        "{} — {}",
        layout::kind_name(lang, e.kind),
        local_time(e.occurred_at)
    );
    let status = error.map(|e| e.status).unwrap_or_default();
    (status, desk.page(&here, &title, body)).into_response()
}

fn evidence_view(lang: Lang, items: &[EvidenceItem], missing: &[String]) -> Markup {
    let images: Vec<&EvidenceItem> = items
        .iter()
        .filter(|i| i.content_type.starts_with("image/") && !missing.contains(&i.name))
        .collect();
    let clips: Vec<&EvidenceItem> = items
        .iter()
        .filter(|i| i.content_type.starts_with("video/") && !missing.contains(&i.name))
        .collect();
    let src = |i: &EvidenceItem| format!("/review/evidence/{}", i.sha256.to_hex());
    html! {
        @if let Some(first) = images.first() {
            figure.viewer #viewer {
                img #main-image src=(src(first)) alt=(first.name) data-name=(first.name);
                figcaption #main-caption { (first.name) " · " (local_time(first.captured_at)) }
            }
            ol.thumbs {
                @for (n, i) in images.iter().enumerate() {
                    li {
                        button.thumb type="button" data-src=(src(i)) data-name=(i.name)
                            data-caption={ (i.name) " · " (local_time(i.captured_at)) }
                            aria-pressed=(if n == 0 { "true" } else { "false" }) {
                            img src=(src(i)) alt=(i.name) loading="lazy";
                            span { (n + 1) ". " (i.name) }
                        }
                    }
                }
            }
        } @else {
            p.muted { (lang.t("Chưa có ảnh.", "No image yet.")) }
        }
        @for c in &clips {
            figure.clip {
                video #clip controls preload="metadata" src=(src(c)) {}
                figcaption { (c.name) " · " (local_time(c.captured_at)) }
            }
        }
        @if !missing.is_empty() {
            p.alert #missing {
                (lang.t("Chưa nhận đủ tệp chứng cứ:", "Evidence files not yet received:"))
                @for m in missing { " " code { (m) } }
            }
        }
    }
}

fn facts(lang: Lang, d: &Detail) -> Markup {
    let v = &d.violation;
    let e = &v.event;
    let m = &e.measurement;
    html! {
        dl.facts #facts {
            dt { (lang.t("Thời điểm", "Time")) }
            dd { (local_time(e.occurred_at)) " "
                span.muted { "(" (clock(lang, e.clock.state)) ")" } }
            dt { (lang.t("Địa điểm", "Place")) }
            dd { (e.site.name) br; (e.site.address)
                @if !e.site.direction.is_empty() { br; span.muted { (e.site.direction) } }
                br; span.muted { (format!("{:.6}, {:.6}", e.site.latitude, e.site.longitude)) } }
            dt { (lang.t("Thiết bị / camera", "Device / camera")) }
            dd { code { (e.device) } " / " code { (e.camera) } }
            dt { (lang.t("Phương tiện", "Vehicle")) }
            dd { (layout::class_name(lang, e.vehicle.class))
                span.muted { " (" (percent(e.vehicle.confidence)) ")" } }
            @if let Some(speed) = m.speed_kmh {
                dt { (lang.t("Tốc độ", "Speed")) }
                dd #speed { strong { (format!("{speed:.1} km/h")) }
                    @if let Some(limit) = m.limit_kmh {
                        " / " (lang.t("giới hạn", "limit")) " " (format!("{limit:.0} km/h"))
                        " (+" (format!("{:.1}", speed - limit)) ")"
                    } }
            }
            @if let Some(s) = &m.signal {
                dt { (lang.t("Đèn tín hiệu", "Signal")) }
                dd { (layout::signal_name(lang, s.phase))
                    @if let Some(ms) = s.time_into_red_ms {
                        ", " @if s.red_start_unseen { (lang.t("ít nhất ", "at least ")) }
                        (format!("{:.1}", ms as f64 / 1000.0)) " s " (lang.t("sau khi đèn đỏ", "into red"))
                        @if s.red_start_unseen {
                            " (" (lang.t("không thấy lúc đèn chuyển đỏ; tính từ lúc thiết bị thấy đèn đỏ",
                                "the change to red was not seen; counted from when the device first saw red")) ")"
                        }
                    } }
            }
            @if let Some(lane) = &m.lane {
                dt { (lang.t("Làn", "Lane")) } dd { (lane) }
            }
            @if let Some(ms) = m.dwell_ms {
                dt { (lang.t("Thời gian dừng", "Dwell")) } dd { (format!("{:.0} s", ms as f64 / 1000.0)) }
            }
            @if let Some(case) = m.zone_case {
                dt { (lang.t("Nơi dừng, đỗ", "Where it stood")) } dd #zone-case { (lang.t(case.name_vi(), case.name_en())) }
            }
            dt { (lang.t("Nhận lúc", "Received")) }
            dd { (local_time(UtcTimestamp::from_datetime(v.received_at))) }
            dt { (lang.t("Chữ ký thiết bị", "Device signature")) }
            dd { (lang.t("hợp lệ", "valid")) " · SHA-256 " code.hash { (v.payload_sha256) } }
            @if !e.models.is_empty() {
                dt { (lang.t("Mô hình", "Models")) }
                dd.muted { @for (n, md) in e.models.iter().enumerate() {
                    @if n > 0 { ", " } (md.task) " " (md.name) } }
            }
        }
    }
}

fn clock(lang: Lang, state: protocol::ClockState) -> &'static str {
    match state {
        protocol::ClockState::Synced => lang.t("đồng hồ đã đồng bộ", "clock synchronised"),
        protocol::ClockState::Holdover => lang.t("đồng hồ đang giữ nhịp", "clock in holdover"),
        protocol::ClockState::Unsynced => lang.t("đồng hồ chưa đồng bộ", "clock not synchronised"),
    }
}

fn percent(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}
