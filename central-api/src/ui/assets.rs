//! The pages' one stylesheet and one script, compiled into the binary (no CDN, no build step).

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = include_str!("assets/review.css");
const JS: &str = include_str!("assets/review.js");

/// Assets change only with the binary; an hour's caching saves the officers' bandwidth.
const CACHE: &str = "public, max-age=3600";

pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        CSS,
    )
}

pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        JS,
    )
}
