//! The notice of violation on paper, for the post: one A4 page in Vietnamese (PDF), laid out as
//! the notice the handling unit sends (Circular 73/2024/TT-BCA, Article 24 clause 1, form 01),
//! with a QR code to the notice in the citizen portal. It says what was seen, where and when,
//! the provision, the handling unit and by when to come or answer; like every notice it names
//! no amount and no decision number, and it says so, with the warning the traffic police give
//! about scams (they never ask for a fine by phone or message).
//!
//! The page is set with [`service_kit::paper`], the code drawn as squares: nothing is fetched
//! to make it.

use protocol::{ViolationNotice, vi::local_time};
use service_kit::paper::{self, MARGIN, PAGE, Sheet};

/// Why a paper notice could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PaperError {
    #[error("the notice's font: {0}")]
    Font(String),
    #[error("the QR code: {0}")]
    Qr(String),
}

/// Who the notice is addressed to, as the population database holds them.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub full_name: &'a str,
    pub address: &'a str,
}

/// The paper notice of `n` to `to`, its QR code leading to `portal_url`'s page of the notice.
pub fn render(
    n: &ViolationNotice,
    to: Recipient<'_>,
    portal_url: &str,
) -> Result<Vec<u8>, PaperError> {
    let font = paper::font().map_err(PaperError::Font)?;
    let mut page = Sheet::new(&font);
    let width = PAGE.0 - 2.0 * MARGIN;
    let (left, right) = (MARGIN + width * 0.22, MARGIN + width * 0.72);

    // The heading: the unit (its superior above it) on the left, the national motto on the right.
    let top = page.y;
    let mut unit: Vec<&str> = n.issuing_unit.split(", ").collect();
    unit.reverse();
    for (i, part) in unit.iter().enumerate() {
        let last = i + 1 == unit.len();
        page.centred(last, 10.0, left, &part.to_uppercase());
    }
    let below_unit = page.y;
    page.lines
        .push((left - 40.0, below_unit + 7.0, left + 40.0));
    page.y = top;
    page.centred(true, 10.0, right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM");
    page.centred(true, 10.5, right, "Độc lập - Tự do - Hạnh phúc");
    page.lines.push((right - 70.0, page.y + 7.0, right + 70.0));
    let issued = n.issued_at.as_datetime().to_offset(protocol::time::VIETNAM);
    page.y -= 4.0;
    page.centred(
        false,
        10.0,
        right,
        &format!(
            "Ngày {:02} tháng {:02} năm {}",
            issued.day(),
            u8::from(issued.month()),
            issued.year()
        ),
    );
    page.y = page.y.min(below_unit) - 24.0;

    let centre = PAGE.0 / 2.0;
    page.centred(true, 15.0, centre, "THÔNG BÁO");
    page.centred(
        true,
        11.5,
        centre,
        "Vi phạm hành chính về trật tự, an toàn giao thông đường bộ",
    );
    page.centred(
        false,
        10.0,
        centre,
        "được phát hiện qua phương tiện, thiết bị kỹ thuật nghiệp vụ",
    );
    page.centred(false, 9.0, centre, &format!("Mã vụ việc: {}", n.fine_id));
    page.y -= 10.0;

    let size = 11.0;
    page.paragraph(size, MARGIN, width, Some("Kính gửi:"), to.full_name);
    page.paragraph(size, MARGIN, width, Some("Địa chỉ:"), to.address);
    page.y -= 4.0;
    page.paragraph(
        size,
        MARGIN,
        width,
        None,
        &format!(
            "{} thông báo: phương tiện dưới đây đã bị phát hiện vi phạm hành chính về trật tự, an \
             toàn giao thông đường bộ.",
            n.issuing_unit
        ),
    );
    let mut facts = vec![
        ("Loại phương tiện", n.vehicle_class.label_vi().to_owned()),
        (
            "Biển số",
            format!(
                "{} (biển {})",
                n.plate,
                protocol::vi::plate_colour(n.plate_colour)
            ),
        ),
        ("Thời gian vi phạm", local_time(n.occurred_at)),
        ("Địa điểm", format!("{}, {}", n.place, n.address)),
        ("Hành vi vi phạm", n.kind.label_vi().to_owned()),
    ];
    facts.extend(
        protocol::vi::measurement(&n.measurement)
            .into_iter()
            .map(|(_, label, value)| (label, value)),
    );
    facts.push(("Căn cứ", n.legal_reference.clone()));
    facts.push(("Đơn vị phát hiện, xử lý", n.issuing_unit.clone()));
    for (label, value) in &facts {
        let label = format!("{label}:");
        page.paragraph(size, MARGIN + 12.0, width - 12.0, Some(&label), value);
    }
    page.y -= 6.0;
    page.paragraph(
        12.0,
        MARGIN,
        width,
        Some("Thời hạn đến giải quyết:"),
        &format!("trước {}", local_time(n.answer_due)),
    );
    let page_url = format!("{}/fines/{}", portal_url.trim_end_matches('/'), n.fine_id);
    page.paragraph(
        size,
        MARGIN,
        width,
        None,
        &format!(
            "Đề nghị chủ phương tiện, tổ chức, cá nhân có liên quan đến {} trong thời hạn trên để \
             giải quyết vụ việc, hoặc trả lời trực tuyến (xác nhận là người điều khiển, khai báo \
             người điều khiển, giải trình) và xem hình ảnh, video vi phạm tại cổng thông tin: {} \
             — đăng nhập bằng tài khoản định danh điện tử, hoặc quét mã QR dưới đây.",
            n.issuing_unit, portal_url
        ),
    );
    page.y -= 8.0;

    // The code, and beside it what the notice is not.
    let code = qrcode::QrCode::with_error_correction_level(page_url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| PaperError::Qr(e.to_string()))?;
    let modules = code.width();
    let module = 2.4_f32;
    let quiet = 4.0 * module;
    let side = modules as f32 * module;
    let (qx, qy) = (MARGIN + quiet, page.y - quiet - side);
    for (i, colour) in code.to_colors().iter().enumerate() {
        if *colour == qrcode::Color::Dark {
            let (col, row) = (i % modules, i / modules);
            page.squares.push((
                qx + col as f32 * module,
                qy + side - (row + 1) as f32 * module,
                module,
            ));
        }
    }
    let text_x = qx + side + quiet + 8.0;
    let text_width = MARGIN + width - text_x;
    page.y -= quiet;
    page.paragraph(
        10.0,
        text_x,
        text_width,
        Some("Lưu ý:"),
        "Thông báo này không phải là quyết định xử phạt và không kèm số tiền phải nộp. Chỉ nộp \
         phạt khi đã có quyết định xử phạt của người có thẩm quyền. Cảnh sát giao thông không \
         gọi điện, nhắn tin yêu cầu chuyển tiền nộp phạt; không làm theo đường link lạ.",
    );
    page.paragraph(9.0, text_x, text_width, None, &page_url);
    Ok(paper::write(&font, std::slice::from_ref(&page)))
}
