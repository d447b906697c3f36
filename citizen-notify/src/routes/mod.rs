//! The HTTP routes; [`router`] is separate from serving so tests drive it without a socket.

pub mod answer_form;
pub mod answers;
pub mod notices;
pub mod payment;
pub mod portal;

use axum::{
    Router,
    http::HeaderValue,
    routing::{get, post},
};
pub use service_kit::http::ApiError;

use std::sync::Arc;

use crate::{
    config::{DeliverySettings, IntakeSettings, PaymentSettings},
    db::{Answer, Db, SealingKey},
    signin::Oidc,
};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    /// What seals the citizens' data in `db` (`sealing.key_file`).
    pub sealing: SealingKey,
    pub intake: IntakeSettings,
    pub payment: PaymentSettings,
    pub oidc: Arc<Oidc>,
    pub delivery: DeliverySettings,
}

pub fn router(state: AppState) -> Router {
    let csp = content_security_policy(
        &state.oidc.settings().evidence_url,
        &state.payment.gateway_url,
    );
    let csp = HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static(
        "default-src 'none'; style-src 'self'; frame-ancestors 'none'",
    ));
    Router::new()
        .route("/api/v1/notices", post(notices::receive))
        .route("/api/v1/resolutions", post(notices::resolution))
        .route("/api/v1/decisions", post(notices::decision))
        .route("/payment/vnpay/ipn", get(payment::ipn))
        .route("/payment/vnpay/return", get(payment::returned))
        .route(crate::pages::STYLESHEET_PATH, get(stylesheet))
        .route("/", get(portal::home))
        .route("/login", get(portal::sign_in))
        .route("/auth/callback", get(portal::callback))
        .route("/logout", post(portal::sign_out))
        .route("/my-data.json", get(portal::my_data_json))
        .route("/my-data.pdf", get(portal::my_data_pdf))
        .route("/fines/{id}", get(portal::fine))
        .route("/fines/{id}/confirm", answers::answering(Answer::Confirmed))
        .route("/fines/{id}/dispute", answers::answering(Answer::Disputed))
        .route(
            "/fines/{id}/driver",
            answers::answering(Answer::DriverNamed),
        )
        .route("/fines/{id}/sold", answers::answering(Answer::VehicleSold))
        .route(
            "/fines/{id}/stolen",
            answers::answering(Answer::VehicleStolen),
        )
        .route("/fines/{id}/pay", post(portal::pay))
        .fallback(portal::unknown)
        .layer(axum::middleware::map_response(move |r| {
            protect(r, csp.clone())
        }))
        .with_state(state)
}

/// The portal's content security policy: no script at all; styles from the portal's own
/// stylesheet only (no inline style);
/// images and clips from the portal and central's evidence links; forms posted to the portal,
/// which sends a payment on to the gateway; never framed.
pub fn content_security_policy(evidence_url: &str, gateway_url: &str) -> String {
    let origin = |url: &str| {
        reqwest::Url::parse(url)
            .ok()
            .map(|u| u.origin())
            .filter(|o| o.is_tuple())
            .map(|o| format!(" {}", o.ascii_serialization()))
            .unwrap_or_default()
    };
    let evidence = origin(evidence_url);
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self'{evidence}; \
         media-src 'self'{evidence}; form-action 'self'{}; frame-ancestors 'none'; \
         base-uri 'none'",
        origin(gateway_url)
    )
}

/// Headers every portal response carries ([`service_kit::http::protect_page`]).
async fn protect(response: axum::response::Response, csp: HeaderValue) -> axum::response::Response {
    service_kit::http::protect_page(response, csp)
}

/// `GET /assets/portal.css`: the pages' stylesheet, compiled in; cached for a day.
async fn stylesheet() -> impl axum::response::IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        crate::pages::STYLESHEET,
    )
}
