//! `GET /fines/{id}`: one notice of violation as its citizen sees it — what was seen, where and
//! when, the evidence (masked copies, through signed links), the ways to answer while the
//! deadline runs, the answer given, central's answer to it, the penalty decision and its
//! payment.

use maud::{Markup, html};
use protocol::{
    DisputeOutcome, NamedAs, PenaltyDecision, ResolutionGround, ViolationNotice as FineNotice,
};

use super::{colour_vi, local_time, vnd};
use crate::{
    config::PortalSettings,
    db::{Answer, CaseResolution, Payment},
};

/// Everything the page shows of one fine.
#[derive(Debug)]
pub struct FineView<'a> {
    pub fine_id: &'a str,
    pub notice: &'a FineNotice,
    /// The signed-in citizen's CSRF token, for every form.
    pub csrf: &'a str,
    /// The answer given, with its text (the explanation, the person named).
    pub answer: Option<&'a (Answer, String)>,
    /// The documents attached to the answer.
    pub documents: &'a [protocol::AnswerDocument],
    /// The code of central's refusal of the last answer, when it refused one.
    pub refused: Option<&'a str>,
    pub resolution: Option<&'a CaseResolution>,
    pub decision: Option<&'a PenaltyDecision>,
    pub paid: Option<&'a Payment>,
    /// The case ended without a penalty (cancelled, time-barred, passed on).
    pub cancelled: bool,
    pub settings: &'a PortalSettings,
}

/// The whole page.
pub fn page(v: &FineView<'_>) -> Markup {
    let n = v.notice;
    html! {
        p { a href="/" { "← Thông báo của tôi" } }
        h1 #kind { (n.kind.label_vi()) }
        p { "Thông báo vi phạm hành chính về trật tự, an toàn giao thông đường bộ" }
        p.en { "Notice of a traffic violation" }
        dl {
            @if let Some(o) = &n.organisation {
                dt { "Chủ phương tiện" }
                dd #organisation { (o.name) " — mã số doanh nghiệp " (o.enterprise_code.as_str()) ", " (o.address) }
            }
            dt { "Biển số" } dd #plate { (n.plate) " (" (colour_vi(n.plate_colour)) ")" }
            dt { "Loại phương tiện" } dd { (n.vehicle_class.label_vi()) }
            dt { "Thời gian" } dd { (local_time(n.occurred_at)) }
            dt { "Địa điểm" } dd { (n.place) ", " (n.address) }
            @for (id, label, value) in protocol::vi::measurement(&n.measurement) {
                dt { (label) } dd id=(id) { (value) }
            }
            dt { "Căn cứ" } dd { (n.legal_reference) }
            dt { "Đơn vị phát hiện, xử lý" } dd { (n.issuing_unit) }
            dt { "Thời hạn đến giải quyết" } dd #answer-due { (local_time(n.answer_due)) }
        }
        (evidence(v.settings, n))
        (named(n.named_as))
        @if n.organisation.is_some() {
            p #for-organisation {
                "Bạn trả lời thay mặt tổ chức chủ phương tiện. Tổ chức có nghĩa vụ xác định người đã điều khiển phương tiện; "
                "nếu không xác định, tổ chức bị xử phạt như tổ chức thực hiện hành vi vi phạm, mức phạt tiền bằng 02 lần mức phạt đối với cá nhân "
                "(Điểm b khoản 8 Điều 47 Nghị định số 168/2024/NĐ-CP; Điểm e khoản 1 Điều 3 Luật Xử lý vi phạm hành chính). "
                span.en { "You answer for the organisation that owns the vehicle. It must name who was driving; if it does not, it is fined as the organisation that committed the violation, at twice an individual's fine." }
            }
        }
        (answered(v))
        @if let Some(r) = v.resolution { (resolution(r)) }
        @if let Some(d) = v.decision { (decision(v, d)) }
    }
}

/// Who the citizen is in this case, when an owner named them.
fn named(as_: Option<NamedAs>) -> Markup {
    html! {
        @match as_ {
            Some(NamedAs::Driver) => p #named {
                "Chủ phương tiện đã khai báo bạn là người điều khiển phương tiện khi vi phạm. "
                span.en { "The vehicle's owner named you as its driver." }
            },
            Some(NamedAs::Buyer) => p #named {
                "Chủ phương tiện đăng ký đã khai báo đã bán xe cho bạn trước khi vi phạm. "
                span.en { "The registered owner says they sold you the vehicle before the violation." }
            },
            None => {}
        }
    }
}

/// The answer given, or the forms to give one while the case is open.
fn answered(v: &FineView<'_>) -> Markup {
    html! {
        @match v.answer {
            Some((Answer::Confirmed, _)) if v.notice.organisation.is_some() => p #answer {
                "Tổ chức đã thừa nhận vi phạm và không xác định người điều khiển: tổ chức bị xử phạt. "
                span.en { "The organisation acknowledged the violation without naming the driver: it is fined." }
            },
            Some((Answer::Confirmed, _)) => p #answer {
                "Bạn đã xác nhận là người điều khiển phương tiện. "
                span.en { "You declared you were driving." }
            },
            Some((Answer::Disputed, reason)) => p #answer {
                "Bạn đã giải trình: “" (reason) "”. Cơ quan xử lý sẽ trả lời. "
                span.en { "You sent an explanation; the police unit will answer." }
            },
            Some((Answer::VehicleSold, said)) => p #answer {
                "Bạn đã khai báo đã bán xe cho: " strong { (said) } ". "
                "Thông báo vi phạm được gửi đến người mua. "
                span.en { "You declared the vehicle sold; the notice goes to the buyer." }
            },
            Some((Answer::VehicleStolen, said)) => p #answer {
                "Bạn đã khai báo xe bị mất cắp (" (said) "). Cơ quan xử lý sẽ xác minh và trả lời. "
                span.en { "You declared the vehicle stolen; the police unit will verify and answer." }
            },
            Some((Answer::DriverNamed, name)) => p #answer {
                "Bạn đã khai báo người điều khiển phương tiện: " strong { (name) } ". "
                "Thông báo vi phạm được gửi đến người này. "
                span.en { "You named the driver; the notice goes to them." }
            },
            // A case closed (time-barred, or cancelled) takes no answer.
            None if v.decision.is_none() && !v.cancelled => {
                @if let Some(code) = v.refused {
                    p.error #refused {
                        "Câu trả lời trước của bạn không được chấp nhận: " (refusal_vi(code))
                    }
                }
                (answer_forms(v.fine_id, v.csrf, v.notice))
            },
            None => {}
        }
        @if v.answer.is_some() && !v.documents.is_empty() {
            ul #documents {
                @for d in v.documents {
                    li { "Tài liệu đính kèm: " (d.name) " (" (kilobytes(d.bytes)) ") " span.en { "attached" } }
                }
            }
        }
    }
}

/// A size for people, in kilobytes.
fn kilobytes(bytes: u64) -> String {
    format!("{} KB", bytes.div_ceil(1024))
}

/// The file input of a form that takes documents, and what it takes.
fn documents_input() -> Markup {
    html! {
        label {
            "Tài liệu đính kèm (PDF, JPEG, PNG; tối đa 3 tệp, mỗi tệp 5 MB) / Documents (optional)"
            input type="file" name=(crate::routes::answer_form::FILE_FIELD) multiple
                accept="application/pdf,image/jpeg,image/png,.pdf,.jpg,.jpeg,.png";
        }
    }
}

/// The ways to answer notice `n` online while its deadline has not passed: "I was driving",
/// another person was driving (the owner only: a person named as the driver answers for
/// themselves), an explanation. After the deadline, where to come instead.
fn answer_forms(fine_id: &str, csrf: &str, n: &FineNotice) -> Markup {
    if protocol::UtcTimestamp::now().as_datetime() > n.answer_due.as_datetime() {
        return html! {
            p #late {
                "Đã quá thời hạn trả lời trực tuyến (" (local_time(n.answer_due)) "). Đề nghị đến "
                (n.issuing_unit) " để giải quyết. "
                span.en { "The time to answer online has passed: come to the handling unit." }
            }
        };
    }
    let action = |what: &str| format!("/fines/{fine_id}/{what}");
    let token = html! { input type="hidden" name="csrf" value=(csrf); };
    html! {
        h2 { "Trả lời thông báo" }
        p.en { "Answer the notice by " (local_time(n.answer_due)) }
        form method="post" action=(action("confirm")) {
            (token)
            @if n.organisation.is_some() {
                button #confirm { "Tổ chức thừa nhận vi phạm, không xác định người điều khiển / The organisation does not name the driver" }
            } @else {
                button #confirm { "Tôi là người điều khiển phương tiện / I was driving" }
            }
        }
        @if n.named_as != Some(NamedAs::Driver) {
            form #driver-form method="post" action=(action("driver")) enctype="multipart/form-data" {
                @if n.organisation.is_some() {
                    h3 { "Người điều khiển phương tiện của tổ chức" }
                    p.en { "Who was driving the organisation's vehicle (you, or another person): as their identity card and licence say" }
                } @else {
                    h3 { "Người khác điều khiển phương tiện" }
                    p.en { "Another person was driving: as their identity card and licence say" }
                }
                (token)
                label { "Họ và tên / Full name" input name="driver_name" required maxlength="100"; }
                label {
                    "Số định danh cá nhân (CCCD) / Identity number"
                    input name="driver_id" required inputmode="numeric" pattern="[0-9]{12}" maxlength="12";
                }
                label {
                    "Số giấy phép lái xe / Driving licence number"
                    input name="licence_no" required inputmode="numeric" pattern="[0-9]{12}" maxlength="12";
                }
                (documents_input())
                button.secondary #name-driver { "Khai báo người điều khiển / Name the driver" }
            }
        }
        @if n.named_as.is_none() {
            form #sold-form method="post" action=(action("sold")) enctype="multipart/form-data" {
                h3 { "Xe đã bán trước khi vi phạm" }
                p.en { "The vehicle was sold before the violation (registration not yet moved)" }
                (token)
                label { "Họ và tên người mua / Buyer's full name" input name="driver_name" required maxlength="100"; }
                label {
                    "Số định danh cá nhân người mua / Buyer's identity number"
                    input name="driver_id" required inputmode="numeric" pattern="[0-9]{12}" maxlength="12";
                }
                label { "Ngày bán / Sold on" input type="date" name="day" required; }
                label {
                    "Hợp đồng mua bán (số, nơi công chứng) / Sale contract"
                    input name="document" required maxlength="200";
                }
                (documents_input())
                button.secondary #declare-sold { "Khai báo đã bán xe / Declare the sale" }
            }
            form #stolen-form method="post" action=(action("stolen")) enctype="multipart/form-data" {
                h3 { "Xe bị mất cắp" }
                p.en { "The vehicle had been stolen" }
                (token)
                label { "Ngày trình báo công an / Reported to the police on" input type="date" name="day" required; }
                label {
                    "Đơn vị tiếp nhận, số biên bản / Police unit and report number"
                    input name="document" required maxlength="200";
                }
                (documents_input())
                button.secondary #declare-stolen { "Khai báo xe bị mất cắp / Declare the theft" }
            }
        }
        form method="post" action=(action("dispute")) enctype="multipart/form-data" {
            (token)
            label { "Nội dung giải trình / Your explanation" textarea name="reason" required maxlength="2000" {} }
            (documents_input())
            button.secondary #dispute { "Gửi giải trình / Explain" }
        }
    }
}

/// Why central refused an answer, in the citizen's words.
fn refusal_vi(code: &str) -> &'static str {
    match code {
        "unknown_citizen" => {
            "không có công dân nào mang số định danh đã khai trong Cơ sở dữ liệu quốc gia về dân cư. \
             Hãy kiểm tra lại và khai báo lại."
        }
        "name_mismatch" => {
            "họ tên đã khai không khớp với số định danh trong Cơ sở dữ liệu quốc gia về dân cư. \
             Hãy kiểm tra lại và khai báo lại."
        }
        "self_named" => {
            "bạn đã khai báo chính mình: hãy chọn \"Tôi là người điều khiển phương tiện\"."
        }
        "answer_late" => "câu trả lời đến sau thời hạn trả lời.",
        "sold_after" => "ngày bán xe không trước ngày vi phạm: việc bán xe không chuyển vụ việc.",
        _ => "hãy trả lời lại hoặc liên hệ đơn vị xử lý.",
    }
}

/// How the case ended or went on, as central answered.
fn resolution(r: &CaseResolution) -> Markup {
    let (heading, vi, en) = match (r.ground, r.outcome) {
        (ResolutionGround::Dispute, DisputeOutcome::Upheld) => (
            "Kết quả xem xét giải trình",
            "Cơ quan xử lý không chấp nhận giải trình; người có thẩm quyền sẽ ra quyết định.",
            "The police unit did not accept the explanation; a decision follows.",
        ),
        (ResolutionGround::Dispute, DisputeOutcome::Cancelled) => (
            "Kết quả xem xét giải trình",
            "Cơ quan xử lý chấp nhận giải trình: vụ việc kết thúc, bạn không phải nộp phạt.",
            "The police unit closed the case: nothing is owed.",
        ),
        (ResolutionGround::TimeBarred, _) => (
            "Vụ việc đã kết thúc",
            "Đã hết thời hiệu xử phạt: không ra quyết định xử phạt, bạn không phải nộp phạt.",
            "The time limit for a penalty has passed: no decision is made, nothing is owed.",
        ),
        (ResolutionGround::Transferred, _) => (
            "Vụ việc đã kết thúc đối với bạn",
            "Vụ việc được chuyển cho người bạn đã khai báo; bạn không phải nộp phạt cho vi phạm này.",
            "The case goes on against the person you named; you owe nothing on it.",
        ),
    };
    html! {
        section #resolution class={ (r.outcome.as_str()) " " (r.ground.as_str()) } {
            h2 { (heading) }
            p { strong { (vi) } " " span.en { (en) } }
            p #resolution-answer { "“" (r.answer) "”" }
            p.en { (local_time(protocol::UtcTimestamp::from_datetime(r.decided_at))) }
        }
    }
}

/// The penalty decision, and its payment or the way to pay it.
fn decision(v: &FineView<'_>, d: &PenaltyDecision) -> Markup {
    let due_now = d.amount_due(protocol::UtcTimestamp::now());
    html! {
        section #penalty {
            h2 { "Quyết định xử phạt vi phạm hành chính" }
            p.en { "Penalty decision" }
            dl {
                dt { "Số" } dd #decision { (d.decision_number) }
                dt { "Số tiền phạt" } dd #amount { (vnd(d.amount_vnd)) " ₫" }
                @if due_now > d.amount_vnd {
                    dt { "Tiền chậm nộp (0,05%/ngày)" } dd #late { (vnd(due_now - d.amount_vnd)) " ₫" }
                }
                @if let Some(o) = &d.organisation {
                    dt { "Tổ chức bị xử phạt" } dd #sanctioned { (o.name) " — " (o.enterprise_code.as_str()) }
                    dt { "Số điểm GPLX bị trừ" } dd #points { "Không áp dụng (tổ chức không có giấy phép lái xe)" }
                } @else {
                    dt { "Số điểm GPLX bị trừ" } dd #points { (d.points) " (còn " (d.points_left) "/12)" }
                }
                @if let Some(c) = &d.circumstance {
                    dt { "Tình tiết" } dd { (c) }
                }
                dt { "Căn cứ" } dd { (d.legal_reference) }
                dt { "Người ra quyết định" } dd { (d.decided_by) ", " (local_time(d.decided_at)) }
                dt { "Hạn nộp phạt" } dd #pay-by { (local_time(d.pay_by)) }
            }
        }
        @match v.paid {
            Some(p) => p.paid #paid {
                "Đã nộp phạt " (vnd(p.amount_vnd)) " ₫ — mã giao dịch "
                (p.transaction_no.as_deref().unwrap_or_default()) " " span.en { "Paid" }
            },
            None if !v.cancelled => form method="post" action={ "/fines/" (v.fine_id) "/pay" } {
                input type="hidden" name="csrf" value=(v.csrf);
                button #pay { "Nộp phạt trực tuyến " (vnd(due_now)) " ₫ / Pay online" }
            },
            None => {}
        }
    }
}

/// The notice's images and clip, each through a signed link to central's store that is good
/// for a few minutes and opens only that file.
fn evidence(settings: &PortalSettings, n: &FineNotice) -> Markup {
    if settings.evidence_url.is_empty() || n.evidence.is_empty() {
        return html! {};
    }
    let expires_s = protocol::UtcTimestamp::now().unix_ms() / 1000
        + i64::from(settings.evidence_link_minutes) * 60;
    let base = settings.evidence_url.trim_end_matches('/');
    html! {
        h2 { "Hình ảnh, video vi phạm" }
        p.en { "Evidence" }
        div #evidence {
            @for item in &n.evidence {
                @let url = format!(
                    "{base}{}",
                    protocol::evidence_link::link(
                        settings.evidence_link_secret.expose().as_bytes(),
                        &item.sha256,
                        &item.content_type,
                        expires_s,
                    )
                );
                // A masked copy is labelled as what it is a copy of.
                @let label = evidence_label(
                    item.masking.as_ref().map_or(item.name.as_str(), |m| m.of.as_str()),
                );
                @if item.content_type.starts_with("image/") {
                    figure { img src=(url) alt=(label); figcaption { (label) } }
                } @else if item.content_type.starts_with("video/") {
                    figure { video controls preload="metadata" src=(url) {} figcaption { (label) } }
                }
            }
        }
    }
}

/// What an evidence file is, in Vietnamese.
fn evidence_label(name: &str) -> &str {
    match name {
        "before.jpg" => "Trước khi vi phạm",
        "at.jpg" => "Thời điểm vi phạm",
        "after.jpg" => "Sau khi vi phạm",
        "plate.jpg" => "Biển số",
        "clip.mp4" => "Đoạn video",
        other => other,
    }
}
