//! Paper: A4 pages of Vietnamese text as PDF, for what the services print or hand out (a
//! notice for the post, a citizen's data). Set in DejaVu Sans Condensed, embedded and cut down
//! to the glyphs used, so a page prints the same anywhere and nothing is fetched to make it;
//! bold by fill and stroke.

use std::collections::{BTreeMap, BTreeSet};

pub use ab_glyph::FontRef;
use ab_glyph::{Font, GlyphId};
use pdf_writer::{
    Content, Filter, Finish, Name, Pdf, Rect, Ref, Str,
    types::{CidFontType, FontFlags, SystemInfo, TextRenderingMode, UnicodeCmap},
};

/// DejaVu Sans Condensed: covers Vietnamese with its diacritics (licence beside the file).
pub static FONT_BYTES: &[u8] = include_bytes!("../../sim/assets/fonts/DejaVuSansCondensed.ttf");

/// A4 in points, and the page's margins.
pub const PAGE: (f32, f32) = (595.0, 842.0);
pub const MARGIN: f32 = 56.0;

/// The embedded font.
pub fn font() -> Result<FontRef<'static>, String> {
    FontRef::try_from_slice(FONT_BYTES).map_err(|e| e.to_string())
}

/// A run of text placed on the page: its face (bold or not), size, where its baseline starts.
#[derive(Debug)]
struct Run {
    bold: bool,
    size: f32,
    x: f32,
    y: f32,
    text: String,
}

/// A page being laid out, top to bottom, in points from its bottom left corner.
#[derive(Debug)]
pub struct Sheet<'f> {
    font: &'f FontRef<'static>,
    runs: Vec<Run>,
    /// Filled squares: left, bottom, side.
    pub squares: Vec<(f32, f32, f32)>,
    /// Horizontal rules: from x, at y, to x.
    pub lines: Vec<(f32, f32, f32)>,
    /// The baseline of the next line.
    pub y: f32,
}

impl<'f> Sheet<'f> {
    /// An empty A4 page whose first line is at the top margin.
    pub fn new(font: &'f FontRef<'static>) -> Self {
        Self {
            font,
            runs: Vec::new(),
            squares: Vec::new(),
            lines: Vec::new(),
            y: PAGE.1 - MARGIN,
        }
    }

    /// How wide `text` is set at `size`.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let em = self.font.units_per_em().unwrap_or(2048.0);
        text.chars()
            .map(|c| self.font.h_advance_unscaled(self.font.glyph_id(c)))
            .sum::<f32>()
            * size
            / em
    }

    /// `text` with its baseline starting at (`x`, `y`).
    pub fn put(&mut self, bold: bool, size: f32, x: f32, y: f32, text: &str) {
        self.runs.push(Run {
            bold,
            size,
            x,
            y,
            text: text.to_owned(),
        });
    }

    /// `text` centred on `centre` at the current line, then down a line.
    pub fn centred(&mut self, bold: bool, size: f32, centre: f32, text: &str) {
        let x = centre - self.width(text, size) / 2.0;
        let y = self.y;
        self.put(bold, size, x, y, text);
        self.y -= size * 1.35;
    }

    /// `text` from `x`, wrapped within `width`, an optional bold label first.
    pub fn paragraph(&mut self, size: f32, x: f32, width: f32, label: Option<&str>, text: &str) {
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

/// The laid out pages as one PDF: one Type 0 font (Identity-H) over the embedded TrueType
/// font, with a ToUnicode map so the text can be searched and copied.
pub fn write(font: &FontRef<'static>, pages: &[Sheet<'_>]) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let type0 = Ref::new(3);
    let cid = Ref::new(4);
    let descriptor = Ref::new(5);
    let file = Ref::new(6);
    let cmap = Ref::new(7);
    // Each page and its contents after the shared objects.
    let ids: Vec<(Ref, Ref)> = (0..pages.len())
        .map(|i| {
            let n = 8 + 2 * i32::try_from(i).unwrap_or(i32::MAX / 2 - 8);
            (Ref::new(n), Ref::new(n + 1))
        })
        .collect();
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
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(ids.iter().map(|(page, _)| *page))
        .count(i32::try_from(pages.len()).unwrap_or(i32::MAX));
    for (sheet, (page_id, contents)) in pages.iter().zip(&ids) {
        let mut content = Content::new();
        for run in &sheet.runs {
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
        for (x0, y, x1) in &sheet.lines {
            content.move_to(*x0, *y);
            content.line_to(*x1, *y);
            content.stroke();
        }
        for (x, y, side) in &sheet.squares {
            content.rect(*x, *y, *side, *side);
        }
        content.fill_nonzero();
        let mut p = pdf.page(*page_id);
        p.media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1));
        p.parent(tree);
        p.contents(*contents);
        p.resources().fonts().pair(Name(b"F1"), type0);
        p.finish();
        pdf.stream(*contents, &content.finish());
    }

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
    fn pages_laid_out_become_one_document_with_each_page() {
        let font = font().unwrap();
        let mut first = Sheet::new(&font);
        first.paragraph(10.0, MARGIN, 400.0, Some("Vụ việc:"), "một");
        let start = first.y;
        first.paragraph(
            10.0,
            MARGIN,
            60.0,
            None,
            "chữ dài được xuống dòng khi hết chỗ",
        );
        assert!(start - first.y > 20.0, "a long line wraps");
        let mut second = Sheet::new(&font);
        second.centred(true, 12.0, PAGE.0 / 2.0, "Trang hai");
        let pdf = write(&font, &[first, second]);
        let text = String::from_utf8_lossy(&pdf);
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(text.contains("/Count 2"), "two pages");
        assert_eq!(
            text.matches("/MediaBox").count(),
            2,
            "each page its own box"
        );
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
