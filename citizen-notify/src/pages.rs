//! Server-rendered pages of the citizen portal: one layout, mobile first, Vietnamese first with
//! English beneath; every value placed in a page is escaped.

use protocol::{PlateColour, UtcTimestamp};

/// Text safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page around `body` (already HTML).
pub fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} — Cổng tra cứu vi phạm giao thông</title><style>\
         body{{font-family:system-ui,sans-serif;margin:0 auto;max-width:40rem;padding:1rem;\
         line-height:1.5;color:#1a1a1a}}\
         h1{{font-size:1.4rem}} .en{{color:#555;font-size:.9em}}\
         dl{{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem}} dt{{font-weight:600}}\
         button,.button{{font-size:1rem;padding:.7rem 1.2rem;border-radius:.4rem;border:0;\
         background:#b00020;color:#fff;text-decoration:none;display:inline-block;margin:.3rem 0}}\
         button.secondary{{background:#555}} textarea{{width:100%;min-height:5rem}}\
         li{{margin:.6rem 0}} .paid{{color:#0a7a0a;font-weight:600}}\
         </style></head><body>{body}</body></html>",
        escape(title)
    )
}

/// `19000000` → `19.000.000`, as amounts are written in Vietnam.
pub fn vnd(amount: u64) -> String {
    let digits = amount.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// `dd/mm/yyyy HH:MM:SS` in Vietnam's time (GMT+7).
pub fn local_time(at: UtcTimestamp) -> String {
    at.as_datetime()
        .to_offset(protocol::time::VIETNAM)
        .format(time::macros::format_description!(
            "[day]/[month]/[year] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default()
}

pub fn colour_vi(colour: PlateColour) -> &'static str {
    match colour {
        PlateColour::White => "nền trắng, chữ đen",
        PlateColour::Yellow => "nền vàng, chữ đen",
        PlateColour::Blue => "nền xanh, chữ trắng",
        PlateColour::Red => "nền đỏ, chữ trắng",
        PlateColour::WhiteRedText => "nền trắng, chữ đỏ",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_written_the_vietnamese_way() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(vnd(19_000_000), "19.000.000");
        assert_eq!(vnd(800_000), "800.000");
        assert_eq!(vnd(5), "5");
        let at = UtcTimestamp::from_unix_ms(1_764_146_096_250).unwrap_or_else(UtcTimestamp::now);
        assert_eq!(local_time(at), "26/11/2025 15:34:56");
    }
}
