//! The HTTP routes, one file per resource; [`router`] is separate from serving so tests drive it
//! without a socket.

pub mod admin;
pub mod corrections;
pub mod devices;
pub mod disputes;
pub mod evidence;
pub mod fines;
pub mod openapi;
pub mod requests;
pub mod schedule;
pub mod session;
pub mod stats;
pub mod violations;

use std::sync::Arc;

use axum::{Router, extract::DefaultBodyLimit, routing::get};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

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
    /// Where the audit chain's anchors are and the keys they verify under; `None`: the chain is
    /// checked on its own.
    pub anchors: Option<Anchors>,
}

/// The audit chain's anchors as the verification reads them.
#[derive(Debug, Clone)]
pub struct Anchors {
    pub file: std::path::PathBuf,
    pub keys: Vec<protocol::DevicePublicKey>,
}

impl AppState {
    /// The state of a service on `db`, with the registry table as the owner lookup.
    pub fn new(
        db: Db,
        store: EvidenceStore,
        evidence: EvidenceSettings,
        review: ReviewSettings,
    ) -> anyhow::Result<Self> {
        let review = Review::new(review)?;
        Ok(Self {
            audit: AuditLog::new(db.clone()),
            lookup: Arc::new(crate::owners::RegistryTable::new(
                db.clone(),
                review.sealing.clone(),
            )),
            review,
            notify: NotifySettings::default(),
            anchors: None,
            db,
            store,
            settings: evidence,
        })
    }
}

/// The review side's settings, a password hash to spend time on for unknown usernames, the
/// sign-in throttle and the key the officers' second factors are sealed with.
#[derive(Debug, Clone)]
pub struct Review {
    pub settings: ReviewSettings,
    pub dummy_hash: String,
    pub throttle: crate::throttle::Throttle,
    /// `None` when `settings.secrets_key_file` is missing: no second factor then opens.
    pub sealing: Option<crate::sealed::SealingKey>,
}

impl Review {
    /// How long a session may go unused.
    pub fn session_idle(&self) -> time::Duration {
        time::Duration::seconds(i64::try_from(self.settings.session_idle_s).unwrap_or(i64::MAX))
    }

    /// The review side on `settings`, with the sealing key read from its file when there is one
    /// (the service makes it at start: `startup::build`).
    pub fn new(settings: ReviewSettings) -> anyhow::Result<Self> {
        Ok(Self {
            throttle: crate::throttle::Throttle::new(&settings),
            sealing: crate::sealed::SealingKey::configured(&settings, false)?,
            dummy_hash: crate::auth::hash_password("not a password of anyone")?,
            settings,
        })
    }
}

/// The JSON API: each route registered together with its description in the OpenAPI document.
pub fn api() -> OpenApiRouter<AppState> {
    // The handler streams and counts the body itself, against evidence.max_bytes.
    let (schemas, paths, put_evidence) = routes!(evidence::put);
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes((
            schemas,
            paths,
            put_evidence.layer(DefaultBodyLimit::disable()),
        ))
        .routes(routes!(session::sign_in, session::sign_out))
        .routes(routes!(violations::list))
        .routes(routes!(violations::get))
        .routes(routes!(violations::correct_plate))
        .routes(routes!(violations::approve))
        .routes(routes!(violations::decide))
        .routes(routes!(violations::paper_notice))
        .routes(routes!(violations::licence_points))
        .routes(routes!(violations::reject))
        .routes(routes!(violations::reverse))
        .routes(routes!(
            violations::set_legal_hold,
            violations::lift_legal_hold
        ))
        .routes(routes!(violations::verify_audit))
        .routes(routes!(disputes::list))
        .routes(routes!(corrections::list, corrections::record))
        .routes(routes!(corrections::answer))
        .routes(routes!(devices::list, admin::register_device))
        .routes(routes!(admin::revoke_device))
        .routes(routes!(admin::cameras))
        .routes(routes!(admin::save_camera))
        .routes(routes!(admin::officers, admin::save_officer))
        .routes(routes!(admin::disable_officer))
        .routes(routes!(admin::unlock_officer))
        .routes(routes!(schedule::get, schedule::amend))
        .routes(routes!(disputes::resolve))
        .routes(routes!(requests::list))
        .routes(routes!(requests::confirm))
        .routes(routes!(requests::refuse))
        .routes(routes!(stats::json))
        .routes(routes!(stats::csv))
        .routes(routes!(fines::update))
        .routes(routes!(evidence::get_linked))
}

/// The whole service: the JSON API, its OpenAPI document at `/api/openapi.json`, and the review
/// pages.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api().split_for_parts();
    // Written once; each request gets the same bytes.
    let doc = bytes::Bytes::from(openapi::document(doc).to_string());
    api.route(
        "/api/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    doc,
                )
            }
        }),
    )
    .merge(crate::ui::router())
    .with_state(state)
}
