//! The HTTP routes, one file per resource; [`router`] is separate from serving so tests drive it
//! without a socket.

pub mod evidence;
pub mod fines;
pub mod session;
pub mod stats;
pub mod violations;

use std::sync::Arc;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post, put},
};

pub use service_kit::http::ApiError;

use crate::{
    audit::AuditLog,
    config::{EvidenceSettings, NotifySettings, ReviewSettings},
    db::Db,
    evidence_store::EvidenceStore,
    owners::OwnerLookup,
};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub store: EvidenceStore,
    pub settings: EvidenceSettings,
    pub audit: AuditLog,
    pub lookup: Arc<dyn OwnerLookup>,
    pub review: Review,
    /// citizen-notify: the shared secret its fine updates are signed with.
    pub notify: NotifySettings,
}

impl AppState {
    /// The state of a service on `db`, with the registry table as the owner lookup.
    pub fn new(
        db: Db,
        store: EvidenceStore,
        evidence: EvidenceSettings,
        review: ReviewSettings,
    ) -> Result<Self, crate::auth::HashError> {
        Ok(Self {
            audit: AuditLog::new(db.clone()),
            lookup: Arc::new(crate::owners::RegistryTable::new(db.clone())),
            review: Review::new(review)?,
            notify: NotifySettings::default(),
            db,
            store,
            settings: evidence,
        })
    }
}

/// The review side's settings, and a password hash to spend time on for unknown usernames.
#[derive(Debug, Clone)]
pub struct Review {
    pub settings: ReviewSettings,
    pub dummy_hash: String,
}

impl Review {
    pub fn new(settings: ReviewSettings) -> Result<Self, crate::auth::HashError> {
        Ok(Self {
            settings,
            dummy_hash: crate::auth::hash_password("not a password of anyone")?,
        })
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/v1/evidence/{sha256}",
            // The handler streams and counts the body itself, against evidence.max_bytes.
            put(evidence::put).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/session",
            post(session::sign_in).delete(session::sign_out),
        )
        .route("/api/v1/violations", get(violations::list))
        .route("/api/v1/violations/{id}", get(violations::get))
        .route(
            "/api/v1/violations/{id}/plate",
            post(violations::correct_plate),
        )
        .route("/api/v1/violations/{id}/approve", post(violations::approve))
        .route("/api/v1/violations/{id}/reject", post(violations::reject))
        .route("/api/v1/audit/verify", get(violations::verify_audit))
        .route("/api/v1/stats", get(stats::json))
        .route("/api/v1/stats.csv", get(stats::csv))
        .route("/api/v1/fine-updates", post(fines::update))
        .route("/evidence/{sha256}", get(evidence::get_linked))
        .merge(crate::ui::router())
        .with_state(state)
}
