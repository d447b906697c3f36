//! The vehicle registry as a remote service ([`protocol::registry`]): each lookup over HTTP with
//! a bearer key and a timeout, tried again after a short growing wait on a timeout or a 5xx,
//! answers cached for a while (a plate is looked up again when an officer corrects it, and the
//! same cars pass the same cameras), and a circuit breaker: after a run of failed lookups the
//! registry is left alone for a while and lookups fail at once, so a registry that is down is not
//! hammered and violations simply wait (`received`) to be tried again.
//!
//! What the registry answers is recorded in central's registry tables (owner and vehicle as they
//! stood at the lookup), which the review pages, the notice and its contact read.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use protocol::{
    CitizenId, PlateColour,
    registry::{RegisteredOwner, Registration},
};

use super::{Lookup, LookupError, LookupFuture, OwnerLookup, ResidentFuture};
use crate::{
    config::RegistrySettings,
    db::{
        Db,
        owners::{
            Citizen, Owner, Registration as Stored, upsert_citizen, upsert_organisation,
            upsert_registration,
        },
    },
    sealed::SealingKey,
};

/// A circuit breaker's state: consecutive failures, and until when the circuit stays open.
#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

/// Lookups against the registry service at `registry.url`.
#[derive(Debug)]
pub struct HttpRegistry {
    db: Db,
    /// What the citizens it records are sealed under (`review.secrets_key_file`).
    key: Option<SealingKey>,
    client: reqwest::Client,
    settings: RegistrySettings,
    cache: Mutex<HashMap<(String, PlateColour), (Instant, Lookup)>>,
    breaker: Mutex<Breaker>,
}

/// One attempt's failure: worth another try soon, or not.
enum Failed {
    Transient(String),
    Permanent(String),
}

impl HttpRegistry {
    pub fn new(
        db: Db,
        key: Option<SealingKey>,
        settings: RegistrySettings,
    ) -> Result<Self, reqwest::Error> {
        let client =
            service_kit::tls::client_builder(Duration::from_millis(settings.timeout_ms)).build()?;
        Ok(Self {
            db,
            key,
            client,
            settings,
            cache: Mutex::default(),
            breaker: Mutex::default(),
        })
    }

    fn cached(&self, key: &(String, PlateColour)) -> Option<Lookup> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let ttl = Duration::from_secs(self.settings.cache_ttl_s);
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, found)| found.clone())
    }

    fn remember(&self, key: (String, PlateColour), found: &Lookup) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: when full, what has expired goes; if nothing has, the cache starts over.
        if cache.len() >= self.settings.cache_entries {
            let ttl = Duration::from_secs(self.settings.cache_ttl_s);
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
            if cache.len() >= self.settings.cache_entries {
                cache.clear();
            }
        }
        cache.insert(key, (Instant::now(), found.clone()));
    }

    /// `Err` while the circuit is open.
    fn circuit(&self) -> Result<(), LookupError> {
        let breaker = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        match breaker.open_until {
            Some(until) if Instant::now() < until => Err(LookupError::Unavailable(format!(
                "registry circuit open for {} s after {} failed lookups",
                until.saturating_duration_since(Instant::now()).as_secs(),
                breaker.failures
            ))),
            _ => Ok(()),
        }
    }

    fn outcome(&self, ok: bool) {
        let mut breaker = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        if ok {
            *breaker = Breaker::default();
            return;
        }
        breaker.failures += 1;
        if breaker.failures >= self.settings.breaker_failures {
            breaker.open_until =
                Some(Instant::now() + Duration::from_secs(self.settings.breaker_open_s));
            tracing::warn!(
                failures = breaker.failures,
                open_s = self.settings.breaker_open_s,
                "registry circuit opened"
            );
        }
    }

    /// One GET of `path` (with its query) from the registry: `None` on 404.
    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Option<T>, Failed> {
        let url = format!("{}{path}", self.settings.url.trim_end_matches('/'));
        let response = self
            .client
            .get(url)
            .bearer_auth(self.settings.api_key.expose())
            .send()
            .await
            .map_err(|e| Failed::Transient(e.to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(Failed::Transient(format!("registry answered {status}")));
        }
        if !status.is_success() {
            return Err(Failed::Permanent(format!("registry answered {status}")));
        }
        let body = service_kit::tls::read_capped(response, service_kit::tls::ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                e @ service_kit::tls::BodyError::TooLarge(_) => Failed::Permanent(e.to_string()),
                e => Failed::Transient(e.to_string()),
            })?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| Failed::Permanent(format!("registry answer: {e}")))
    }

    async fn attempt(&self, plate: &str, colour: PlateColour) -> Result<Lookup, Failed> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("plate", plate)
            .append_pair("colour", colour.as_str())
            .finish();
        let path = format!("{}?{query}", protocol::registry::PATH);
        let Some(found) = self.get::<Registration>(&path).await? else {
            return Ok(Lookup::NotRegistered);
        };
        if found.plate != plate || found.colour != colour {
            return Err(Failed::Permanent(format!(
                "registry answered for {} {} when asked for {plate} {}",
                found.plate,
                found.colour.as_str(),
                colour.as_str()
            )));
        }
        if let Some(o) = &found.organisation {
            o.validate("organisation").map_err(|e| {
                Failed::Permanent(format!("registry answer: {}: {}", e.field, e.reason))
            })?;
        }
        self.record(&found)
            .await
            .map_err(|e| Failed::Permanent(e.to_string()))?;
        Ok(Lookup::Owner(Owner {
            citizen: found.owner.citizen_id,
            organisation: found.organisation.map(|o| o.enterprise_code),
        }))
    }

    async fn attempt_resident(&self, id: &CitizenId) -> Result<Option<Citizen>, Failed> {
        let path = format!("{}/{}", protocol::registry::CITIZENS_PATH, id.as_str());
        let Some(found) = self.get::<RegisteredOwner>(&path).await? else {
            return Ok(None);
        };
        if found.citizen_id != *id {
            return Err(Failed::Permanent(format!(
                "population database answered for another citizen when asked for {}",
                id.masked()
            )));
        }
        let citizen = citizen_of(&found);
        upsert_citizen(&self.db, self.key.as_ref(), &citizen)
            .await
            .map_err(|e| Failed::Permanent(e.to_string()))?;
        Ok(Some(citizen))
    }

    /// Keeps the owner and vehicle as the registry gave them.
    async fn record(&self, r: &Registration) -> Result<(), crate::db::DbError> {
        upsert_citizen(&self.db, self.key.as_ref(), &citizen_of(&r.owner)).await?;
        if let Some(o) = &r.organisation {
            upsert_organisation(&self.db, o).await?;
        }
        upsert_registration(
            &self.db,
            &Stored {
                plate_text: r.plate.clone(),
                plate_colour: r.colour,
                vehicle_class: r.vehicle.class,
                make: r.vehicle.make.clone(),
                model: r.vehicle.model.clone(),
                colour: r.vehicle.colour.clone(),
                owner: r.owner.citizen_id.clone(),
                organisation: r.organisation.as_ref().map(|o| o.enterprise_code.clone()),
            },
        )
        .await
    }

    /// `attempt` through the circuit breaker, tried again after a growing wait while it fails
    /// for a reason that may pass.
    async fn retried<T, F, Fut>(&self, mut attempt: F) -> Result<T, LookupError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failed>>,
    {
        self.circuit()?;
        let mut last = String::new();
        for n in 0..=self.settings.retries {
            if n > 0 {
                let wait = self
                    .settings
                    .retry_backoff_ms
                    .saturating_mul(1 << (n - 1).min(8));
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            match attempt().await {
                Ok(found) => {
                    self.outcome(true);
                    return Ok(found);
                }
                Err(Failed::Transient(e)) => last = e,
                Err(Failed::Permanent(e)) => {
                    last = e;
                    break;
                }
            }
        }
        self.outcome(false);
        Err(LookupError::Unavailable(last))
    }

    async fn find(&self, plate: &str, colour: PlateColour) -> Result<Lookup, LookupError> {
        let key = (plate.to_owned(), colour);
        if let Some(found) = self.cached(&key) {
            return Ok(found);
        }
        let found = self.retried(|| self.attempt(plate, colour)).await?;
        self.remember(key, &found);
        Ok(found)
    }
}

/// The person the registry or the population database answered, as central records them.
fn citizen_of(o: &RegisteredOwner) -> Citizen {
    Citizen {
        id: o.citizen_id.clone(),
        full_name: o.full_name.clone(),
        address: o.address.clone(),
        phone: o.phone.clone(),
        email: o.email.clone(),
    }
}

impl OwnerLookup for HttpRegistry {
    fn lookup<'a>(&'a self, plate_text: &'a str, colour: PlateColour) -> LookupFuture<'a> {
        Box::pin(self.find(plate_text, colour))
    }

    fn resident<'a>(&'a self, id: &'a CitizenId) -> ResidentFuture<'a> {
        Box::pin(self.retried(|| self.attempt_resident(id)))
    }
}
