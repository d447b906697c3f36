//! [`AppState`]: what every handler, JSON or page, can reach — storage, the evidence store, the
//! audit log, the owner lookup and the review side's settings and keys. Built at start
//! (`startup::build`) and by tests; the service modules take it, never an HTTP type.

use std::sync::Arc;

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
            sealing: crate::sealed::configured(&settings, false)?,
            dummy_hash: crate::auth::hash_password("not a password of anyone")?,
            settings,
        })
    }
}
