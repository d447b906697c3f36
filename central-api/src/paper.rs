//! The notice of violation on paper, for the post: one A4 page in Vietnamese (PDF), laid out as
//! the notice the handling unit sends (Circular 73/2024/TT-BCA, Article 24 clause 1, form 01),
//! with a QR code to the notice in the citizen portal. It says what was seen, where and when,
//! the provision, the handling unit and by when to come or answer; like every notice it names
//! no amount and no decision number, and it says so, with the warning the traffic police give
//! about scams (they never ask for a fine by phone or message).
//!
//! The text is set in DejaVu Sans Condensed (embedded, cut down to the glyphs the page uses,
//! so the page prints the same anywhere; bold by fill and stroke), the code drawn as squares:
//! nothing is fetched to make it.

use std::collections::{BTreeMap, BTreeSet};

use ab_glyph::{Font, FontRef, GlyphId};
use pdf_writer::{
    Content, Filter, Finish, Name, Pdf, Rect, Ref, Str,
    types::{CidFontType, FontFlags, SystemInfo, TextRenderingMode, UnicodeCmap},
};
use protocol::{ViolationNotice, vi::local_time};

/// DejaVu Sans Condensed: covers Vietnamese with its diacritics (licence beside the file).
static FONT_BYTES: &[u8] = include_bytes!("../../sim/assets/fonts/DejaVuSansCondensed.ttf");

/// A4 in points, and the page's margins.
const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 56.0;

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

/// A run of text placed on the page: its face (bold or not), size, where its baseline starts.
struct Run {
    bold: bool,
    size: f32,
    x: f32,
    y: f32,
    text: String,
}

/// The page being laid out, top to bottom.
struct Layout<'f> {
    font: &'f FontRef<'static>,
    runs: Vec<Run>,
    squares: Vec<(f32, f32, f32)>,
    lines: Vec<(f32, f32, f32)>,
    y: f32,
}

impl<'f> Layout<'f> {
    fn width(&self, text: &str, size: f32) -> f32 {
        let em = self.font.units_per_em().unwrap_or(2048.0);
        text.chars()
            .map(|c| self.font.h_advance_unscaled(self.font.glyph_id(c)))
            .sum::<f32>()
            * size
            / em
    }

    fn put(&mut self, bold: bool, size: f32, x: f32, y: f32, text: &str) {
        self.runs.push(Run {
            bold,
            size,
            x,
            y,
            text: text.to_owned(),
        });
    }

    /// `text` centred on `centre` at the current line, then down a line.
    fn centred(&mut self, bold: bool, size: f32, centre: f32, text: &str) {
        let x = centre - self.width(text, size) / 2.0;
        let y = self.y;
        self.put(bold, size, x, y, text);
        self.y -= size * 1.35;
    }

    /// `text` from `x`, wrapped within `width`, an optional bold label first.
    fn paragraph(&mut self, size: f32, x: f32, width: f32, label: Option<&str>, text: &str) {
        let mut cursor = x;
        if let Some(label) = label {
            let y = self.y;
            self.put(true, size, x, y, label);
            cursor += self.width(label, size) + self.width(" ", size);
        }
        let mut line = String::new();
        for word in text.split_whitespace() {
            let tried = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if cursor + self.width(&tried, size) > x + width && !line.is_empty() {
                let y = self.y;
                self.put(false, size, cursor, y, &line);
                self.y -= size * 1.4;
                cursor = x;
                line = word.to_owned();
            } else {
                line = tried;
            }
        }
        let y = self.y;
        self.put(false, size, cursor, y, &line);
        self.y -= size * 1.4;
    }
}

/// The paper notice of `n` to `to`, its QR code leading to `portal_url`'s page of the notice.
pub fn render(
    n: &ViolationNotice,
    to: Recipient<'_>,
    portal_url: &str,
) -> Result<Vec<u8>, PaperError> {
    let font = FontRef::try_from_slice(FONT_BYTES).map_err(|e| PaperError::Font(e.to_string()))?;
    let mut page = Layout {
        font: &font,
        runs: Vec::new(),
        squares: Vec::new(),
        lines: Vec::new(),
        y: PAGE.1 - MARGIN,
    };
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
    Ok(write(&font, &page))
}

/// The laid out page as a PDF: one Type 0 font (Identity-H) over the embedded TrueType font,
/// with a ToUnicode map so the text can be searched and copied.
fn write(font: &FontRef<'static>, page: &Layout<'_>) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let page_id = Ref::new(3);
    let contents = Ref::new(4);
    let type0 = Ref::new(5);
    let cid = Ref::new(6);
    let descriptor = Ref::new(7);
    let file = Ref::new(8);
    let cmap = Ref::new(9);
    // A subset's name begins with a tag of six capitals (ISO 32000-1, 9.6.4).
    let font_name = Name(b"TVEPNT+DejaVuSansCondensed");

    // Each character as its glyph, two bytes big-endian (Identity-H), and the glyphs used.
    let mut used: BTreeMap<u16, char> = BTreeMap::new();
    let mut encode = |text: &str| -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let GlyphId(gid) = font.glyph_id(c);
            used.entry(gid).or_insert(c);
            out.extend_from_slice(&gid.to_be_bytes());
        }
        out
    };
    let mut content = Content::new();
    for run in &page.runs {
        content.begin_text();
        content.set_font(Name(b"F1"), run.size);
        if run.bold {
            content.set_text_rendering_mode(TextRenderingMode::FillStroke);
            content.set_line_width(run.size * 0.035);
        } else {
            content.set_text_rendering_mode(TextRenderingMode::Fill);
        }
        content.next_line(run.x, run.y);
        content.show(Str(&encode(&run.text)));
        content.end_text();
    }
    content.set_line_width(0.6);
    for (x0, y, x1) in &page.lines {
        content.move_to(*x0, *y);
        content.line_to(*x1, *y);
        content.stroke();
    }
    for (x, y, side) in &page.squares {
        content.rect(*x, *y, *side, *side);
    }
    content.fill_nonzero();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut p = pdf.page(page_id);
    p.media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1));
    p.parent(tree);
    p.contents(contents);
    p.resources().fonts().pair(Name(b"F1"), type0);
    p.finish();
    pdf.stream(contents, &content.finish());

    let em = font.units_per_em().unwrap_or(2048.0);
    let to_pdf = |v: f32| v * 1000.0 / em;
    pdf.type0_font(type0)
        .base_font(font_name)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);
    let info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    let mut c = pdf.cid_font(cid);
    c.subtype(CidFontType::Type2);
    c.base_font(font_name);
    c.system_info(info);
    c.font_descriptor(descriptor);
    c.default_width(0.0);
    c.cid_to_gid_map_predefined(Name(b"Identity"));
    {
        let mut widths = c.widths();
        for gid in used.keys() {
            widths.consecutive(*gid, [to_pdf(font.h_advance_unscaled(GlyphId(*gid)))]);
        }
    }
    c.finish();
    pdf.font_descriptor(descriptor)
        .name(font_name)
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(-770.0, -347.0, 1679.0, 1242.0))
        .italic_angle(0.0)
        .ascent(to_pdf(font.ascent_unscaled()))
        .descent(to_pdf(font.descent_unscaled()))
        .cap_height(729.0)
        .stem_v(80.0)
        .font_file2(file);
    let used_glyphs: BTreeSet<u16> = used.keys().copied().collect();
    // A font this cannot cut down goes in whole.
    let embedded = subset(FONT_BYTES, &used_glyphs).unwrap_or_else(|| FONT_BYTES.to_vec());
    let deflated = miniz_oxide::deflate::compress_to_vec_zlib(&embedded, 9);
    pdf.stream(file, &deflated)
        .filter(Filter::FlateDecode)
        .pair(
            Name(b"Length1"),
            i32::try_from(embedded.len()).unwrap_or(i32::MAX),
        );
    let mut unicode = UnicodeCmap::new(Name(b"Custom"), info);
    for (gid, c) in &used {
        unicode.pair(*gid, *c);
    }
    pdf.cmap(cmap, &unicode.finish());
    pdf.finish()
}

/// The tables of a TrueType font a PDF's CIDFontType2 needs (the PDF maps characters to glyphs
/// itself; shaping tables are not read).
const KEPT_TABLES: [&[u8; 4]; 10] = [
    b"head", b"hhea", b"hmtx", b"maxp", b"loca", b"glyf", b"cvt ", b"fpgm", b"prep", b"OS/2",
];

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// The TrueType `font` cut down for a PDF that shows only the glyphs `used`: the outlines of
/// every other glyph emptied (glyph ids stay as they are, so the page's codes need no
/// remapping; the components of composite glyphs are kept), and the tables a PDF does not
/// read left out. `None` when the font is not one this understands.
fn subset(font: &[u8], used: &BTreeSet<u16>) -> Option<Vec<u8>> {
    let tables: BTreeMap<[u8; 4], &[u8]> = (0..usize::from(be16(font, 4)?))
        .map(|i| {
            let record = 12 + 16 * i;
            let tag: [u8; 4] = font.get(record..record + 4)?.try_into().ok()?;
            let offset = be32(font, record + 8)? as usize;
            let length = be32(font, record + 12)? as usize;
            Some((tag, font.get(offset..offset + length)?))
        })
        .collect::<Option<_>>()?;
    let (head, glyf, loca, maxp) = (
        *tables.get(b"head")?,
        *tables.get(b"glyf")?,
        *tables.get(b"loca")?,
        *tables.get(b"maxp")?,
    );
    let glyphs = usize::from(be16(maxp, 4)?);
    let long = be16(head, 50)? == 1;
    let offset = |g: usize| -> Option<usize> {
        if long {
            be32(loca, 4 * g).map(|v| v as usize)
        } else {
            be16(loca, 2 * g).map(|v| 2 * usize::from(v))
        }
    };
    let outline = |g: usize| -> Option<&[u8]> { glyf.get(offset(g)?..offset(g + 1)?) };
    // The glyphs to keep: .notdef, those used, and every component they are built of.
    let mut keep: BTreeSet<u16> = used.iter().copied().chain([0]).collect();
    let mut todo: Vec<u16> = keep.iter().copied().collect();
    while let Some(g) = todo.pop() {
        let data = outline(usize::from(g))?;
        if data.len() < 10 || (be16(data, 0)? as i16) >= 0 {
            continue;
        }
        let mut at = 10;
        loop {
            let flags = be16(data, at)?;
            let component = be16(data, at + 2)?;
            if keep.insert(component) {
                todo.push(component);
            }
            at += 4 + if flags & 0x0001 != 0 { 4 } else { 2 };
            at += match flags {
                f if f & 0x0008 != 0 => 2,
                f if f & 0x0040 != 0 => 4,
                f if f & 0x0080 != 0 => 8,
                _ => 0,
            };
            if flags & 0x0020 == 0 {
                break;
            }
        }
    }
    let mut new_glyf = Vec::new();
    let mut new_loca = Vec::with_capacity(4 * (glyphs + 1));
    for g in 0..glyphs {
        new_loca.extend_from_slice(&u32::try_from(new_glyf.len()).ok()?.to_be_bytes());
        if keep.contains(&u16::try_from(g).ok()?) {
            new_glyf.extend_from_slice(outline(g)?);
            while new_glyf.len() % 4 != 0 {
                new_glyf.push(0);
            }
        }
    }
    new_loca.extend_from_slice(&u32::try_from(new_glyf.len()).ok()?.to_be_bytes());
    let mut new_head = head.to_vec();
    // Long offsets; the whole-font checksum adjustment left at zero (PDF readers ignore it).
    new_head
        .get_mut(50..52)?
        .copy_from_slice(&1u16.to_be_bytes());
    new_head.get_mut(8..12)?.copy_from_slice(&[0; 4]);
    let mut out_tables: Vec<([u8; 4], Vec<u8>)> = Vec::new();
    for tag in KEPT_TABLES {
        let data = match tag {
            b"glyf" => new_glyf.clone(),
            b"loca" => new_loca.clone(),
            b"head" => new_head.clone(),
            other => match tables.get(other) {
                Some(d) => d.to_vec(),
                None => continue,
            },
        };
        out_tables.push((*tag, data));
    }
    out_tables.sort_by_key(|t| t.0);
    let count = u16::try_from(out_tables.len()).ok()?;
    let mut out = Vec::new();
    out.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    let power = 1u16 << (15 - count.leading_zeros());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&(power * 16).to_be_bytes());
    out.extend_from_slice(&(power.trailing_zeros() as u16).to_be_bytes());
    out.extend_from_slice(&((count - power) * 16).to_be_bytes());
    let mut at = 12 + 16 * out_tables.len();
    let mut body = Vec::new();
    for (tag, data) in &out_tables {
        let checksum = data
            .chunks(4)
            .map(|c| {
                let mut word = [0u8; 4];
                word[..c.len()].copy_from_slice(c);
                u32::from_be_bytes(word)
            })
            .fold(0u32, u32::wrapping_add);
        out.extend_from_slice(tag);
        out.extend_from_slice(&checksum.to_be_bytes());
        out.extend_from_slice(&u32::try_from(at).ok()?.to_be_bytes());
        out.extend_from_slice(&u32::try_from(data.len()).ok()?.to_be_bytes());
        body.extend_from_slice(data);
        while body.len() % 4 != 0 {
            body.push(0);
        }
        at = 12 + 16 * out_tables.len() + body.len();
    }
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether glyph `id` of `font` has an outline there.
    fn drawn(font: &FontRef<'_>, id: GlyphId) -> bool {
        font.outline_glyph(id.with_scale(20.0)).is_some()
    }

    #[test]
    fn a_subset_keeps_the_glyphs_used_and_what_they_are_built_of_at_their_ids() {
        let full = FontRef::try_from_slice(FONT_BYTES).unwrap();
        let text = "Thông báo vi phạm ế";
        let used: BTreeSet<u16> = text.chars().map(|c| full.glyph_id(c).0).collect();
        let cut = subset(FONT_BYTES, &used).unwrap();
        assert!(
            cut.len() * 5 < FONT_BYTES.len(),
            "{} of {} bytes",
            cut.len(),
            FONT_BYTES.len()
        );
        // The subset has no character map (the PDF maps characters to glyphs): glyphs are
        // looked up by the full font's ids, which the subset keeps.
        let font = FontRef::try_from_slice(&cut).unwrap();
        for c in text.chars().filter(|c| !c.is_whitespace()) {
            let id = full.glyph_id(c);
            assert!(drawn(&full, id) && drawn(&font, id), "{c} lost its outline");
            assert_eq!(
                font.h_advance_unscaled(id),
                full.h_advance_unscaled(id),
                "{c}"
            );
        }
        let q = full.glyph_id('Q');
        assert!(
            drawn(&full, q) && !drawn(&font, q),
            "an unused glyph is left out"
        );
    }
}
