//! The HTTP routes; [`router`] is separate from serving so tests drive it without a socket.

pub mod notices;

use axum::{Json, Router, http::StatusCode, response::IntoResponse, routing::post};
use serde_json::json;

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

/// An error as JSON `{ "error": code, "message": … }`; internals are logged, never sent.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<service_kit::db::DbError> for ApiError {
    fn from(e: service_kit::db::DbError) -> Self {
        tracing::error!(error = %e, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        (
            self.status,
            Json(json!({ "error": self.code, "message": self.message })),
        )
            .into_response()
    }
}
