//! The HTTP routes; [`router`] is separate from serving so tests drive it without a socket.

pub mod notices;
pub mod payment;
pub mod portal;

use axum::{
    Router,
    routing::{get, post},
};
pub use service_kit::http::ApiError;

use std::sync::Arc;

use crate::{
    config::{DeliverySettings, IntakeSettings, PaymentSettings},
    db::Db,
    signin::Oidc,
};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub intake: IntakeSettings,
    pub payment: PaymentSettings,
    pub oidc: Arc<Oidc>,
    pub delivery: DeliverySettings,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/notices", post(notices::receive))
        .route("/api/v1/resolutions", post(notices::resolution))
        .route("/payment/vnpay/ipn", get(payment::ipn))
        .route("/payment/vnpay/return", get(payment::returned))
        .route("/", get(portal::home))
        .route("/login", get(portal::sign_in))
        .route("/auth/callback", get(portal::callback))
        .route("/logout", post(portal::sign_out))
        .route("/fines/{id}", get(portal::fine))
        .route("/fines/{id}/confirm", post(portal::confirm))
        .route("/fines/{id}/dispute", post(portal::dispute))
        .route("/fines/{id}/pay", post(portal::pay))
        .with_state(state)
}
