//! The HTTP routes, one file per resource; [`router`] is separate from serving so tests drive it
//! without a socket.

mod error;
pub mod evidence;

use axum::{Router, extract::DefaultBodyLimit, routing::put};

pub use error::ApiError;

use crate::{config::EvidenceSettings, db::Db, evidence_store::EvidenceStore};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub store: EvidenceStore,
    pub settings: EvidenceSettings,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/v1/evidence/{sha256}",
            // The handler streams and counts the body itself, against evidence.max_bytes.
            put(evidence::put).layer(DefaultBodyLimit::disable()),
        )
        .with_state(state)
}
