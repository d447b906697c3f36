//! One violation: its evidence, data, owner and plate candidates, and the decisions on it. After
//! a decision the officer goes straight on to the next violation pending review.

use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use protocol::vi::local_time;
use protocol::{EvidenceItem, PlateColour, Sha256Digest, UtcTimestamp, VehicleClass};
use serde::Deserialize;

use super::{Desk, Flash, Lang, alert, layout};
use crate::error::ServiceError;
use crate::{
    db::{disputes::Dispute, evidence as db_evidence, review as db_review, violations::Status},
    fines::process::Circumstance,
    four_eyes::Done,
    review::{self, Detail, event_id},
    routes::{ApiError, evidence},
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

fn plate_box(lang: Lang, d: &Detail, decides: bool, csrf: &str) -> Markup {
    let v = &d.violation;
    let e = &v.event;
    let class = e.vehicle.class;
    let read = e.plate.as_ref();
    let unread = e.plate_unread.as_ref();
    let current = v.plate_text().map(|p| layout::plate_display(p, class));
    let colour = read
        .map(|p| p.colour)
        .or(unread.map(|u| u.colour))
        .unwrap_or(PlateColour::White);
    let action = format!("/review/violations/{}/plate", e.event_id);
    // The camera's alternatives to its reading, or its guesses at a plate it could not read
    // surely: each one click from being the plate.
    let candidates = read
        .map(|r| r.candidates.as_slice())
        .or(unread.map(|u| u.candidates.as_slice()))
        .unwrap_or_default();
    html! {
        section.box #plate-box {
            h2 { (lang.t("Biển số", "Plate")) }
            p.plate-now {
                @match &current {
                    Some(p) => span.plate #plate { (p) },
                    None => span.muted #plate { (lang.t("chưa đọc được", "not read")) },
                }
                " " span.muted { (layout::colour_name(lang, colour)) }
            }
            @if let Some(r) = read {
                p.muted {
                    (lang.t("Camera đọc", "Camera read")) " " code { (r.display) } " (" (percent(r.confidence)) ")"
                    @if v.corrected_plate.is_some() { " · " (lang.t("đã sửa", "corrected")) }
                }
            } @else if unread.is_some() {
                p.muted #plate-unread {
                    (lang.t(
                        "Camera thấy biển số nhưng không đọc chắc chắn; đối chiếu ảnh cận cảnh. Các khả năng camera đưa ra:",
                        "The camera saw the plate but could not read it surely; check the close-up. The camera's guesses:"))
                    @if v.corrected_plate.is_some() { " · " (lang.t("đã sửa", "corrected")) }
                }
            }
            @if !candidates.is_empty() {
                ol.candidates #candidates {
                    @for c in candidates {
                        li {
                            @if decides {
                                form.inline method="post" action=(action) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="plate" value=(c.text);
                                    input type="hidden" name="colour" value=(colour.as_str());
                                    button.link type="submit" { (layout::plate_display(&c.text, class)) }
                                }
                            } @else {
                                (layout::plate_display(&c.text, class))
                            }
                            " " span.muted { (percent(c.confidence)) }
                        }
                    }
                }
            }
            @if decides {
                form.correct #correct-plate method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="plate-input" { (lang.t("Sửa biển số", "Correct the plate")) }
                    input #plate-input type="text" name="plate" required
                        value=(current.clone().unwrap_or_default())
                        placeholder=(if class == VehicleClass::Motorbike { "59-X1 123.45" } else { "51F-123.45" });
                    select name="colour" aria-label=(lang.t("Màu biển", "Plate colour")) {
                        @for c in PlateColour::ALL {
                            option value=(c.as_str()) selected[c == colour] { (layout::colour_name(lang, c)) }
                        }
                    }
                    button type="submit" { (lang.t("Lưu và tra cứu chủ xe", "Save and look up the owner")) }
                }
            }
        }
    }
}

fn owner_box(lang: Lang, d: &Detail) -> Markup {
    let v = &d.violation;
    html! {
        section.box #owner {
            h2 { (lang.t("Chủ phương tiện", "Registered owner")) }
            @match &d.owner {
                Some((c, r)) => {
                    dl.facts {
                        @if let Some(o) = &d.organisation {
                            dt { (lang.t("Tổ chức", "Organisation")) } dd #owner-organisation { (o.name) }
                            dt { (lang.t("Mã số doanh nghiệp", "Enterprise code")) } dd { code { (o.enterprise_code.as_str()) } }
                            dt { (lang.t("Trụ sở", "Head office")) } dd { (o.address) }
                            dt { (lang.t("Người đại diện", "Representative")) } dd { (lang.t("trả lời thay mặt tổ chức:", "answers for the organisation:")) }
                        }
                        dt { (lang.t("Họ tên", "Name")) } dd #owner-name { (c.full_name) }
                        dt { (lang.t("Số định danh", "Citizen id")) } dd { code { (c.id.as_str()) } }
                        dt { (lang.t("Địa chỉ", "Address")) } dd { (c.address) }
                        dt { (lang.t("Xe đăng ký", "Registered vehicle")) }
                        dd { (layout::class_name(lang, r.vehicle_class)) " · " (r.make) " " (r.model) " · " (r.colour) }
                    }
                    @if r.vehicle_class.plate_category() != v.event.vehicle.class.plate_category() {
                        p.alert #class-mismatch { (lang.t(
                            "Loại xe đăng ký khác loại xe trong ảnh: kiểm tra biển số giả hoặc đọc sai.",
                            "The registered vehicle is not the kind in the images: check for a wrong read or a cloned plate.")) }
                    }
                },
                None => p.muted #owner-none { (layout::lookup_name(lang, v.owner_lookup.as_deref())) },
            }
        }
    }
}

fn decide_box(lang: Lang, d: &Detail, csrf: &str) -> Markup {
    let id = d.violation.event.event_id;
    html! {
        section.box.decide #decide {
            h2 { (lang.t("Xác nhận vi phạm", "Confirm the violation")) }
            @match &d.proposed {
                Some(Ok(a)) => p #proposed {
                    (lang.t("Khung tiền phạt", "Fine range")) " "
                    strong { (protocol::vi::vnd(a.rule.min_vnd)) "–" (protocol::vi::vnd(a.rule.max_vnd)) " ₫" }
                    @if a.rule.points > 0 { ", " (lang.t("trừ", "minus")) " " (a.rule.points) " " (lang.t("điểm GPLX", "licence points")) }
                    br; span.muted { (a.rule.reference) }
                    br; span.muted { (lang.t(
                        "Xác nhận thì gửi thông báo vi phạm cho chủ phương tiện; người có thẩm quyền ra quyết định xử phạt sau khi chủ phương tiện trả lời.",
                        "Confirming sends the notice of violation to the vehicle's owner; an officer with sanctioning authority decides after the owner answers.")) }
                },
                Some(Err(no)) => p.alert #proposed { (lang.t("Không có mức phạt:", "No fine applies:")) " " (no.to_string()) },
                None => {},
            }
            @if d.missing.is_empty() {
                form.inline #approve-form method="post" action={ "/review/violations/" (id) "/approve" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button.primary #approve type="submit" { (lang.t("Xác nhận vi phạm", "Confirm the violation")) " " kbd { "a" } }
                }
            } @else {
                p.alert #approve-waits { (lang.t(
                    "Chưa đủ chứng cứ: chỉ xác nhận khi mọi tệp đã đến.",
                    "The evidence has not all arrived: confirm once every file has.")) }
            }
            form.reject #reject-form method="post" action={ "/review/violations/" (id) "/reject" } {
                input type="hidden" name="csrf" value=(csrf);
                select #reject-reason name="reason" required aria-label=(lang.t("Lý do từ chối", "Reason")) {
                    option value="" { (lang.t("— Lý do từ chối —", "— Reason to reject —")) }
                    @for r in db_review::REJECT_REASONS {
                        option value=(r) { (layout::reason_name(lang, r)) }
                    }
                }
                input #reject-note type="text" name="note" placeholder=(lang.t("Ghi chú", "Note"));
                button.danger #reject type="submit" { (lang.t("Từ chối", "Reject")) " " kbd { "r" } }
            }
        }
    }
}

/// The case: the notice, its state, and the penalty decision once taken — or, for an officer
/// with sanctioning authority on an answered case, the form that takes it.
fn fine_box(lang: Lang, f: &db_review::FineSummary, decides: bool, csrf: &str, id: &str) -> Markup {
    let vnd = |v: i64| protocol::vi::vnd(v.max(0) as u64);
    let answered = matches!(f.status.as_str(), "confirmed" | "upheld");
    html! {
        section.box #fine {
            h2 { (lang.t("Thông báo vi phạm", "Notice of violation")) }
            dl.facts {
                dt { (lang.t("Tình trạng", "State")) } dd #fine-status { (layout::fine_status_name(lang, &f.status)) }
                dt { (lang.t("Người xác nhận", "Confirmed by")) } dd { (f.issued_by) ", " (local_time(f.issued_at)) }
                @if let Some(due) = f.answer_due {
                    dt { (lang.t("Thời hạn đến giải quyết", "Answer by")) } dd { (local_time(due)) }
                }
                dt { (lang.t("Căn cứ", "Legal reference")) } dd { (f.legal_reference) }
            }
            p { a #print-notice href={ "/api/v1/violations/" (id) "/notice.pdf" } target="_blank" {
                (lang.t("In thông báo gửi qua bưu chính (PDF)", "Print the notice for the post (PDF)")) } }
            @if let Some(d) = &f.named {
                @if d.named_as == "buyer" {
                    h2 { (lang.t("Người mua xe do chủ phương tiện cũ khai báo", "Buyer named by the former owner")) }
                } @else {
                    h2 { (lang.t("Người điều khiển do chủ phương tiện khai báo", "Driver named by the owner")) }
                }
                dl.facts #named-person {
                    dt { (lang.t("Họ và tên", "Full name")) } dd #named-name { (d.full_name) }
                    dt { (lang.t("Số định danh cá nhân", "Identity number")) } dd { (d.citizen_id) }
                    @if let Some(licence) = &d.licence_no {
                        dt { (lang.t("Số GPLX", "Licence number")) } dd { (licence) }
                    }
                    @if let Some(day) = &d.sold_on {
                        dt { (lang.t("Ngày bán", "Sold on")) } dd { (day) }
                    }
                    @if let Some(contract) = &d.contract {
                        dt { (lang.t("Hợp đồng mua bán", "Sale contract")) } dd { (contract) }
                    }
                    dt { (lang.t("Ngày khai báo", "Declared")) } dd { (local_time(d.declared_at)) }
                }
            }
            @if !f.warnings.is_empty() {
                h2 { (lang.t("Cảnh báo do không đến giải quyết", "Warnings: the notice went unanswered")) }
                p.muted { (lang.t("Thông tư 73/2024/TT-BCA, Điều 24 khoản 5", "Circular 73/2024/TT-BCA, Article 24 clause 5")) }
                ul #warnings {
                    @for w in &f.warnings {
                        li { (lang.t(w.addressee.label_vi(), w.addressee.label_en())) ", " (local_time(w.issued_at))
                            @if let Some(at) = w.lifted_at {
                                " — " (lang.t("đã kết thúc cảnh báo", "lifted")) " " (local_time(at))
                            }
                        }
                    }
                }
            }
            @if let Some(number) = &f.decision_number {
                h2 { (lang.t("Quyết định xử phạt vi phạm hành chính", "Penalty decision")) }
                dl.facts {
                    dt { (lang.t("Số", "Number")) } dd #decision-number { (number) }
                    dt { (lang.t("Số tiền", "Amount")) } dd #decision-amount { (vnd(f.amount_vnd)) " ₫" }
                    dt { (lang.t("Số điểm GPLX bị trừ", "Licence points deducted")) } dd { (f.points) }
                    @if let Some(c) = &f.circumstance { dt { (lang.t("Tình tiết", "Circumstance")) } dd { (c) } }
                    @if let (Some(by), Some(at)) = (&f.decided_by, f.decided_at) {
                        dt { (lang.t("Người ra quyết định", "Decided by")) } dd { (by) ", " (local_time(at)) }
                    }
                }
            } @else if decides && answered {
                form.resolve #decision-form method="post" action={ "/review/violations/" (id) "/decision" } {
                    input type="hidden" name="csrf" value=(csrf);
                    p.muted { (lang.t("Khung tiền phạt", "Range")) " "
                        (vnd(f.min_vnd.unwrap_or(f.amount_vnd))) "–" (vnd(f.max_vnd.unwrap_or(f.amount_vnd))) " ₫; "
                        (lang.t("mức trung bình", "the middle")) " " (vnd(f.amount_vnd)) " ₫ "
                        (lang.t("(Điều 23 khoản 4 Luật Xử lý vi phạm hành chính)", "(Law on Handling Administrative Violations, Article 23 clause 4)")) }
                    label for="decision-amount-input" { (lang.t("Số tiền phạt", "Amount")) }
                    input #decision-amount-input type="number" name="amount_vnd" value=(f.amount_vnd) step="1000";
                    select #decision-circumstance name="circumstance" aria-label=(lang.t("Tình tiết", "Circumstance")) {
                        option value="" { (lang.t("— Không có tình tiết —", "— No circumstance —")) }
                        @for c in [Circumstance::Mitigating, Circumstance::Aggravating] {
                            option value=(c.as_str()) { (lang.t(c.label_vi(), c.label_en())) }
                        }
                    }
                    input #decision-note type="text" name="circumstance_note" maxlength="500" placeholder=(lang.t("Tình tiết là gì", "What it is"));
                    button.primary #decide-submit type="submit" { (lang.t("Ra quyết định xử phạt", "Issue the penalty decision")) }
                }
            } @else {
                p.muted #proposed-amount { (lang.t("Chưa ra quyết định; mức đề xuất", "Not decided; proposed")) " "
                    (vnd(f.amount_vnd)) " ₫, " (f.points) " " (lang.t("điểm", "points")) }
            }
        }
    }
}

/// The documents the owner (or the person named) attached to their answers, each opened
/// through [`document`].
fn documents_box(lang: Lang, documents: &[crate::db::fine_updates::CaseDocument]) -> Markup {
    html! {
        section.box #documents {
            h2 { (lang.t("Tài liệu gửi kèm câu trả lời", "Documents attached to the answers")) }
            ul {
                @for c in documents {
                    li {
                        a href={ "/review/documents/" (c.document.sha256) } { (c.document.name) }
                        " · " (c.document.content_type) " · " (c.document.bytes.div_ceil(1024)) " KB · "
                        (layout::answer_name(lang, &c.answer))
                    }
                }
            }
        }
    }
}

fn dispute_box(lang: Lang, d: &Dispute, answers: bool, csrf: &str) -> Markup {
    html! {
        section.box.dispute #dispute {
            h2 { (lang.t("Giải trình của chủ phương tiện", "The owner's explanation")) }
            p.muted { (local_time(d.disputed_at)) }
            blockquote #dispute-reason { (d.reason) }
            @if let Some(answer) = &d.answer {
                p { strong { (layout::fine_status_name(lang, &d.status)) } " — "
                    (d.resolved_by.as_deref().unwrap_or_default()) }
                blockquote #dispute-answer { (answer) }
            } @else if answers {
                form.resolve #resolve-form method="post" action={ "/review/violations/" (d.event_id) "/resolve" } {
                    input type="hidden" name="csrf" value=(csrf);
                    label { input type="radio" name="outcome" value="upheld" required;
                        " " (lang.t("Không chấp nhận giải trình", "Do not accept the explanation")) }
                    label { input type="radio" name="outcome" value="cancelled";
                        " " (lang.t("Chấp nhận giải trình: không xử phạt (một chỉ huy khác xác nhận)",
                            "Accept it: no penalty (another supervisor confirms)")) }
                    label for="answer" { (lang.t("Trả lời chủ xe", "Answer to the owner")) }
                    textarea #answer name="answer" required maxlength="2000" {}
                    button.primary #resolve type="submit" { (lang.t("Gửi trả lời", "Send the answer")) }
                }
            } @else {
                p.muted { (lang.t("Chờ chỉ huy trả lời.", "Waiting for a supervisor's answer.")) }
            }
        }
    }
}

fn rejection_box(lang: Lang, d: &Detail) -> Markup {
    let v = &d.violation;
    html! {
        section.box #rejection {
            h2 { (lang.t("Đã từ chối", "Rejected")) }
            p { (layout::reason_name(lang, v.reject_reason.as_deref().unwrap_or_default()))
                @if let Some(n) = &v.review_note { " — " (n) } }
            p.muted { (v.reviewed_by.as_deref().unwrap_or_default())
                @if let Some(at) = v.reviewed_at { ", " (local_time(UtcTimestamp::from_datetime(at))) } }
        }
    }
}

/// A supervisor's reversal: an approval withdrawn (the fine cancelled, the owner told why), or a
/// rejection reopened.
fn reverse_box(lang: Lang, d: &Detail, csrf: &str) -> Markup {
    let v = &d.violation;
    let approved = v.status == Status::Approved;
    html! {
        section.box.reverse #reverse {
            h2 { (lang.t("Xem xét lại quyết định", "Reverse the decision")) }
            form.resolve #reverse-form method="post" action={ "/review/violations/" (v.event.event_id) "/reverse" } {
                input type="hidden" name="csrf" value=(csrf);
                @if approved {
                    p.muted { (lang.t(
                        "Hủy quyết định xử phạt và từ chối vi phạm; chủ xe nhận được lý do dưới đây.",
                        "Cancel the penalty decision and reject the violation; the owner reads the note below.")) }
                    select #reverse-reason name="reason" required aria-label=(lang.t("Lý do", "Reason")) {
                        option value="" { (lang.t("— Lý do —", "— Reason —")) }
                        @for r in db_review::REJECT_REASONS {
                            option value=(r) { (layout::reason_name(lang, r)) }
                        }
                    }
                } @else {
                    p.muted { (lang.t("Đưa vi phạm trở lại hàng chờ duyệt.", "Put the violation back in the review queue.")) }
                }
                label for="reverse-note" { (lang.t("Lý do xem xét lại", "Why")) }
                textarea #reverse-note name="note" required maxlength="2000" {}
                p.muted { (lang.t(
                    "Một chỉ huy khác xác nhận thì mới thực hiện.",
                    "It is done when another supervisor confirms it.")) }
                button.danger #reverse-submit type="submit" {
                    @if approved { (lang.t("Đề nghị hủy quyết định xử phạt", "Ask to cancel the penalty decision")) }
                    @else { (lang.t("Đề nghị mở lại để duyệt", "Ask to reopen for review")) }
                }
            }
        }
    }
}

/// The legal hold: shown to everyone when set; set or lifted by a supervisor.
fn hold_box(lang: Lang, d: &Detail, supervises: bool, csrf: &str) -> Markup {
    let action = format!("/review/violations/{}/hold", d.violation.event.event_id);
    html! {
        section.box.hold #legal-hold {
            h2 { (lang.t("Giữ hồ sơ", "Legal hold")) }
            @if let Some(h) = &d.hold {
                p #hold-reason { strong { (lang.t("Đang giữ:", "Held:")) } " " (h.reason) }
                p.muted { code { (h.by) } " · " (local_time(h.at)) }
                @if supervises {
                    form.inline #hold-lift-form method="post" action=(action) {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="lift" value="1";
                        button #hold-lift type="submit" { (lang.t("Bỏ giữ hồ sơ", "Lift the hold")) }
                    }
                }
            } @else {
                p.muted { (lang.t(
                    "Hồ sơ đang có khiếu nại hoặc vụ kiện thì giữ lại: không bị xóa khi hết thời hạn lưu trữ.",
                    "Keep a case under complaint or in court from being purged when its retention period ends.")) }
                form.resolve #hold-form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="hold-reason-input" { (lang.t("Lý do (số khiếu nại, vụ án)", "Why (the complaint, the court case)")) }
                    input #hold-reason-input type="text" name="reason" required maxlength="500";
                    button #hold-set type="submit" { (lang.t("Giữ hồ sơ", "Hold")) }
                }
            }
        }
    }
}

fn trail(lang: Lang, d: &Detail) -> Markup {
    html! {
        section.trail #trail {
            h2 { (lang.t("Nhật ký", "Audit trail")) }
            table {
                @for t in &d.trail {
                    tr {
                        td { (UtcTimestamp::parse(&t.at).map(local_time).unwrap_or_else(|_| t.at.clone())) }
                        td { code { (t.actor) } }
                        td { (t.action) }
                        td.muted { (t.details.to_string()) }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    csrf: String,
    outcome: String,
    answer: String,
}

/// `POST /review/violations/{id}/resolve`: a supervisor answers the owner's dispute, then back to
/// the disputes.
pub async fn resolve(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<ResolveForm>,
) -> Response {
    decide(
        &state,
        &desk,
        &id,
        &f.csrf,
        async |id| match review::resolve(&state, &desk.officer, id, &f.outcome, &f.answer).await? {
            Done::Made(done) => Ok((
                "/review/disputes".to_owned(),
                Some(Flash::resolved(id, done.outcome)),
            )),
            Done::Requested(_) => Ok((
                format!("/review/violations/{id}"),
                Some(Flash::requested(id)),
            )),
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct HoldForm {
    csrf: String,
    reason: Option<String>,
    lift: Option<String>,
}

/// `POST /review/violations/{id}/hold`: a supervisor sets (`reason`) or lifts (`lift`) the
/// legal hold, then sees the violation again.
pub async fn hold(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<HoldForm>,
) -> Response {
    decide(&state, &desk, &id, &f.csrf, async |id| {
        let reason = match f.lift {
            Some(_) => None,
            None => Some(f.reason.as_deref().unwrap_or("")),
        };
        review::legal_hold(&state, &desk.officer, id, reason).await?;
        Ok((format!("/review/violations/{id}"), None))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct ReverseForm {
    csrf: String,
    reason: Option<String>,
    note: String,
}

/// `POST /review/violations/{id}/reverse`: a supervisor withdraws an approval or reopens a
/// rejection, then sees the violation again.
pub async fn reverse(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<ReverseForm>,
) -> Response {
    decide(&state, &desk, &id, &f.csrf, async |id| {
        let reason = f.reason.as_deref().filter(|r| !r.is_empty());
        review::reverse(&state, &desk.officer, id, reason, &f.note).await?;
        Ok((
            format!("/review/violations/{id}"),
            Some(Flash::requested(id)),
        ))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct PlateForm {
    csrf: String,
    plate: String,
    colour: Option<PlateColour>,
}

/// `POST /review/violations/{id}/plate`: corrects the plate, then shows the violation again.
pub async fn plate(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<PlateForm>,
) -> Response {
    decide(&state, &desk, &id, &f.csrf, async |id| {
        review::correct_plate(&state, &desk.officer, id, &f.plate, f.colour).await?;
        Ok((format!("/review/violations/{id}"), None))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /review/violations/{id}/approve`: issues the fine, then on to the next violation.
pub async fn approve(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    decide(&state, &desk, &id, &f.csrf, async |id| {
        review::approve(&state, &desk.officer, id).await?;
        Ok((next(&state, id).await?, Some(Flash::approved(id))))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    csrf: String,
    amount_vnd: Option<String>,
    circumstance: Option<String>,
    circumstance_note: Option<String>,
}

/// `POST /review/violations/{id}/decision`: an officer with sanctioning authority decides the
/// answered case, then sees it again.
pub async fn decision(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    decide(&state, &desk, &id, &f.csrf, async |id| {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|t| !t.is_empty())
        }
        let amount_vnd = given(&f.amount_vnd)
            .map(|a| a.parse::<u64>())
            .transpose()
            .map_err(|_| ServiceError::bad_request("amount_vnd", "a whole number of đồng"))?;
        let circumstance = given(&f.circumstance)
            .map(|c| {
                Circumstance::parse(c)
                    .ok_or_else(|| ServiceError::bad_request("circumstance", "unknown"))
            })
            .transpose()?;
        let asked = review::DecisionRequest {
            amount_vnd,
            circumstance,
            circumstance_note: given(&f.circumstance_note).map(str::to_owned),
        };
        let done = review::decide(&state, &desk.officer, id, &asked).await?;
        Ok((
            format!("/review/violations/{id}"),
            Some(Flash::decided(id, &done.decision_number)),
        ))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct RejectForm {
    csrf: String,
    reason: String,
    note: Option<String>,
}

/// `POST /review/violations/{id}/reject`: rejects with a reason, then on to the next violation.
pub async fn reject(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<RejectForm>,
) -> Response {
    decide(&state, &desk, &id, &f.csrf, async |id| {
        review::reject(&state, &desk.officer, id, &f.reason, f.note.as_deref()).await?;
        Ok((next(&state, id).await?, Some(Flash::rejected(id))))
    })
    .await
}

/// Runs one decision on the violation `id` for a form with CSRF token `csrf`: on success goes
/// where the decision says, with what was done for the next page to say; otherwise shows the
/// violation again with the reason.
async fn decide(
    state: &AppState,
    desk: &Desk,
    id: &str,
    csrf: &str,
    work: impl AsyncFnOnce(&protocol::EventId) -> Result<(String, Option<Flash>), ApiError>,
) -> Response {
    if let Some(refused) = desk.forged(csrf) {
        return refused;
    }
    let id = match event_id(id) {
        Ok(id) => id,
        Err(e) => return desk.failure(e),
    };
    match work(&id).await {
        Ok((to, flash)) => match flash.map(|f| f.cookie()) {
            Some(Ok(cookie)) => (cookie, Redirect::to(&to)).into_response(),
            Some(Err(e)) => desk.failure(e),
            None => Redirect::to(&to).into_response(),
        },
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => desk.failure(e),
        Err(e) => match review::detail(state, &desk.officer, &id).await {
            Ok(d) => render(desk, &d, Some(&e)),
            Err(_) => desk.failure(e),
        },
    }
}

/// Where to go after deciding on `id`: the next violation pending review, or the queue.
async fn next(state: &AppState, id: &protocol::EventId) -> Result<String, ApiError> {
    Ok(match db_review::next_pending(&state.db, id).await? {
        Some(next) => format!("/review/violations/{next}"),
        None => "/review".to_owned(),
    })
}

/// `GET /review/violations/{id}/next`: the violation after this one in the queue.
pub async fn skip(State(state): State<AppState>, desk: Desk, Path(id): Path<String>) -> Response {
    let id = match event_id(&id) {
        Ok(id) => id,
        Err(e) => return desk.failure(e),
    };
    match db_review::next_pending(&state.db, &id).await {
        Ok(Some(next)) => Redirect::to(&format!("/review/violations/{next}")).into_response(),
        Ok(None) => Redirect::to("/review").into_response(),
        Err(e) => desk.failure(e),
    }
}

/// `GET /review/evidence/{sha256}`: one evidence file, to a signed-in officer.
pub async fn evidence(
    State(state): State<AppState>,
    desk: Desk,
    Path(sha256): Path<String>,
) -> Response {
    let found = async {
        let sha256 = Sha256Digest::parse(&sha256)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e))?;
        let content_type = db_evidence::content_type(&state.db, &sha256)
            .await?
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file"))?;
        evidence::blob(
            &state,
            &sha256,
            &content_type,
            "private, max-age=3600",
            evidence::Serve::Inline,
        )
        .await
    };
    match found.await {
        Ok(response) => response,
        Err(e) => desk.failure(e),
    }
}

/// `GET /review/documents/{sha256}`: a document attached to an answer, to the officers (each
/// read on record, as the case's page is), always as a download.
pub async fn document(
    State(state): State<AppState>,
    desk: Desk,
    Path(sha256): Path<String>,
) -> Response {
    let found = async {
        let sha256 = Sha256Digest::parse(&sha256)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e))?;
        let (content_type, event) = crate::db::fine_updates::document(&state.db, &sha256)
            .await?
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file"))?;
        crate::review::record_read(
            &state,
            &desk.officer,
            "document.viewed",
            serde_json::json!({ "violation": event, "sha256": sha256 }),
        )
        .await?;
        evidence::blob(
            &state,
            &sha256,
            &content_type,
            "private, no-store",
            evidence::Serve::Download,
        )
        .await
    };
    match found.await {
        Ok(response) => response,
        Err(e) => desk.failure(e),
    }
}
