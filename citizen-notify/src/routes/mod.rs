//! The HTTP routes; [`router`] is separate from serving so tests drive it without a socket.

pub mod notices;

use axum::{Router, routing::post};
pub use service_kit::http::ApiError;

use crate::{config::IntakeSettings, db::Db};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub intake: IntakeSettings,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/notices", post(notices::receive))
        .with_state(state)
}
