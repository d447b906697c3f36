//! The pages' stylesheet and scripts, compiled into the binary (no CDN, no build step): the
//! review pages' script, and the drawing tools of a camera's set-up page.

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = include_str!("assets/review.css");
const JS: &str = include_str!("assets/review.js");
const CAMERA_JS: &str = include_str!("assets/camera.js");

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

pub async fn camera_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        CAMERA_JS,
    )
}
