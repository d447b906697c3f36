//! The HTTP routes; [`router`] is separate from serving so tests drive it without a socket.

pub mod notices;
pub mod payment;

use axum::{
    Router,
    routing::{get, post},
};
pub use service_kit::http::ApiError;

use crate::{
    config::{IntakeSettings, PaymentSettings},
    db::Db,
};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub intake: IntakeSettings,
    pub payment: PaymentSettings,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/notices", post(notices::receive))
        .route("/payment/vnpay/ipn", get(payment::ipn))
        .route("/payment/vnpay/return", get(payment::returned))
        .with_state(state)
}
