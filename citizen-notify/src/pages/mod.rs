//! Server-rendered pages of the citizen portal: one layout, mobile first, Vietnamese first with
//! English beneath. Built with maud, which escapes every value placed in a page by
//! construction; the stylesheet is an asset of its own ([`STYLESHEET`], `/assets/portal.css`),
//! so the pages carry no inline style and the content security policy allows none.
//!
//! - [`fine`]: a notice of violation with its evidence, the ways to answer it, the decision and
//!   payment;
//! - [`home`]: the citizen's notices;
//! - this module: the layout and the short pages (not found, a failure, a refusal, a receipt).

pub mod fine;
pub mod home;

use maud::{DOCTYPE, Markup, html};
pub use protocol::vi::{local_time, plate_colour as colour_vi, vnd};

/// The portal's stylesheet, served at [`STYLESHEET_PATH`].
pub static STYLESHEET: &str = include_str!("../assets/portal.css");

/// Where the stylesheet is served.
pub const STYLESHEET_PATH: &str = "/assets/portal.css";

/// A whole page around `body`.
pub fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="vi" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Cổng tra cứu vi phạm giao thông" }
                link rel="stylesheet" href=(STYLESHEET_PATH);
            }
            body { (body) }
        }
    }
}

/// A short page: a headline, what it means in English, and a way on (`back`: address and its
/// words).
pub fn message(headline: &str, en: &str, back: Option<(&str, &str)>) -> Markup {
    html! {
        h1 { (headline) }
        p.en { (en) }
        @if let Some((href, words)) = back {
            p { a href=(href) { (words) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_the_stylesheet_is_linked() {
        let page = layout(
            "<script>alert('x')</script>",
            message("a & b", "\"q\"", Some(("/", "<home>"))),
        )
        .into_string();
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("a &amp; b"), "{page}");
        assert!(page.contains("&quot;q&quot;"), "{page}");
        assert!(page.contains("&lt;home&gt;"), "{page}");
        assert!(
            page.contains(r#"<link rel="stylesheet" href="/assets/portal.css">"#),
            "{page}"
        );
        assert!(!page.contains("<style"), "no inline style: {page}");
    }
}
