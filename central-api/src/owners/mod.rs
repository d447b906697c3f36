//! Owner lookup: from a violation's plate (text and colour) to the registered vehicle and its
//! owner, behind [`OwnerLookup`] so the registry can be the mirror table or a remote service.
//!
//! The [`run`] worker takes violations that are `received`, looks their owner up and moves them
//! into the review queue (`pending_review`) with what it found. A plate with no registration, or
//! no plate at all, is still reviewable and says so; a registry that cannot answer leaves the
//! violation `received`, to be tried again.

mod http;

pub use http::HttpRegistry;

use std::{fmt::Debug, future::Future, pin::Pin, sync::Arc, time::Duration};

use protocol::{CitizenId, PlateColour};
use service_kit::http::Shutdown;
use tokio::sync::Notify;

use crate::db::{
    Db, DbError,
    owners::{self, Citizen, LookupResult, Owner},
};
use crate::{audit::AuditLog, sealed::SealingKey};

/// What the registry answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Owner(Owner),
    NotRegistered,
}

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("registry: {0}")]
    Db(#[from] DbError),
    #[error("registry unavailable: {0}")]
    Unavailable(String),
}

pub type LookupFuture<'a> = Pin<Box<dyn Future<Output = Result<Lookup, LookupError>> + Send + 'a>>;

pub type ResidentFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Citizen>, LookupError>> + Send + 'a>>;

/// A source of vehicle registrations, and of the population database's records of citizens.
pub trait OwnerLookup: Send + Sync + Debug {
    fn lookup<'a>(&'a self, plate_text: &'a str, colour: PlateColour) -> LookupFuture<'a>;

    /// The citizen with this number, as the population database holds them (and recorded in
    /// central's `citizens` table, where the notice to them reads it); `None` when no citizen
    /// has it.
    fn resident<'a>(&'a self, id: &'a CitizenId) -> ResidentFuture<'a>;
}

/// The registry mirror table in central's own database; its citizens opened under `key`
/// (`review.secrets_key_file`).
#[derive(Debug, Clone)]
pub struct RegistryTable {
    db: Db,
    key: Option<SealingKey>,
}

impl RegistryTable {
    pub fn new(db: Db, key: Option<SealingKey>) -> Self {
        Self { db, key }
    }
}

impl OwnerLookup for RegistryTable {
    fn lookup<'a>(&'a self, plate_text: &'a str, colour: PlateColour) -> LookupFuture<'a> {
        Box::pin(async move {
            Ok(
                match owners::find(&self.db, self.key.as_ref(), plate_text, colour).await? {
                    Some((citizen, r)) => Lookup::Owner(Owner {
                        citizen: citizen.id,
                        organisation: r.organisation,
                    }),
                    None => Lookup::NotRegistered,
                },
            )
        })
    }

    fn resident<'a>(&'a self, id: &'a CitizenId) -> ResidentFuture<'a> {
        Box::pin(async move { Ok(owners::citizen(&self.db, self.key.as_ref(), id).await?) })
    }
}

/// Looks up the owners of up to `limit` violations waiting for it; returns how many moved into
/// the review queue.
#[tracing::instrument(name = "owner_lookup_pass", skip_all)]
pub async fn process_pending(
    db: &Db,
    audit: &AuditLog,
    lookup: &dyn OwnerLookup,
    limit: i64,
) -> Result<usize, DbError> {
    let mut results = Vec::new();
    for (event_id, plate, colour) in owners::awaiting_lookup(db, limit).await? {
        let colour = colour.as_deref().and_then(PlateColour::parse);
        let result = match (plate.as_deref(), colour) {
            (Some(plate), Some(colour)) => match lookup.lookup(plate, colour).await {
                Ok(Lookup::Owner(id)) => LookupResult::Found(id),
                Ok(Lookup::NotRegistered) => LookupResult::NotRegistered,
                Err(e) => {
                    tracing::warn!(%event_id, error = %e, "owner lookup failed; will retry");
                    LookupResult::Failed
                }
            },
            _ => LookupResult::NoPlate,
        };
        results.push((event_id, result));
    }
    let changed = owners::record_lookups(db, audit, &results).await?;
    let mut moved = 0;
    for ((event_id, result), changed) in results.iter().zip(changed) {
        if changed && *result != LookupResult::Failed {
            tracing::info!(%event_id, owner = result.as_str(), "in the review queue");
            moved += 1;
        }
    }
    Ok(moved)
}

/// How often the worker sweeps even without being woken (retries of failed lookups).
pub const SWEEP: Duration = Duration::from_secs(5);

/// Runs until `shutdown`: wakes when ingest stores a violation (`wake`) and every [`SWEEP`].
pub async fn run(
    db: Db,
    audit: AuditLog,
    lookup: Arc<dyn OwnerLookup>,
    wake: Arc<Notify>,
    mut shutdown: Shutdown,
) -> anyhow::Result<()> {
    loop {
        loop {
            match process_pending(&db, &audit, lookup.as_ref(), 100).await {
                // A full batch: there may be more.
                Ok(100..) => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, "owner lookup sweep failed");
                    break;
                }
            }
        }
        tokio::select! {
            () = shutdown.wait() => return Ok(()),
            () = wake.notified() => {}
            () = tokio::time::sleep(SWEEP) => {}
        }
    }
}
