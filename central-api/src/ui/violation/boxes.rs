//! The boxes of the violation page, each drawn from the case's detail: the plate and its
//! candidates, the owner, the decision, the fine and its documents, the dispute, the rejection,
//! reversal and hold, and the history.

use maud::{Markup, html};
use protocol::vi::local_time;
use protocol::{PlateColour, UtcTimestamp, VehicleClass};

use super::{Lang, layout};
use crate::{
    db::{disputes::Dispute, review as db_review, violations::Status},
    fines::process::Circumstance,
    review::Detail,
};

use super::*;

pub(super) fn plate_box(lang: Lang, d: &Detail, decides: bool, csrf: &str) -> Markup {
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

pub(super) fn owner_box(lang: Lang, d: &Detail) -> Markup {
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

pub(super) fn decide_box(lang: Lang, d: &Detail, csrf: &str) -> Markup {
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
pub(super) fn fine_box(
    lang: Lang,
    f: &db_review::FineSummary,
    decides: bool,
    csrf: &str,
    id: &str,
) -> Markup {
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
pub(super) fn documents_box(
    lang: Lang,
    documents: &[crate::db::fine_updates::CaseDocument],
) -> Markup {
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

pub(super) fn dispute_box(lang: Lang, d: &Dispute, answers: bool, csrf: &str) -> Markup {
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

pub(super) fn rejection_box(lang: Lang, d: &Detail) -> Markup {
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
pub(super) fn reverse_box(lang: Lang, d: &Detail, csrf: &str) -> Markup {
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
pub(super) fn hold_box(lang: Lang, d: &Detail, supervises: bool, csrf: &str) -> Markup {
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

pub(super) fn trail(lang: Lang, d: &Detail) -> Markup {
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
