//! Server-rendered pages of the citizen portal: one layout, mobile first, Vietnamese first with
//! English beneath; every value placed in a page is escaped.

pub use protocol::vi::{local_time, plate_colour as colour_vi, vnd};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
