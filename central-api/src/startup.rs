//! Builds the service from its configuration: binds (port 0 works in tests) and wires the parts.

use anyhow::Context;
use service_kit::http::{App, Metrics};

use crate::{
    Config, db,
    evidence_store::EvidenceStore,
    fines::FineSchedule,
    ingest::{Ingest, IngestMetrics, broker, mqtt},
    owners,
    relay::{self, Relay},
    routes,
    state::AppState,
};

/// Connects the database (bringing its schema up to date), starts the embedded broker when no
/// external one is configured, wires MQTT ingest and binds HTTP.
pub async fn build(config: Config) -> anyhow::Result<App> {
    let metrics = Metrics::new("central-api");
    let db = db::connect(&config.database)
        .await
        .with_context(|| format!("opening database.url {}", config.database.redacted_url()))?;
    tracing::info!(engine = db.engine(), "database ready");
    let shipped = FineSchedule::shipped().context("the shipped fine schedule")?;
    let seeded = db::fines::seed_missing(&db, &shipped).await?;
    if seeded > 0 {
        tracing::info!(
            rules = seeded,
            "fine schedule: shipped rules added for the cases it had none for (Decree 168/2024/NĐ-CP)"
        );
    }
    let ingest_metrics = IngestMetrics::default();
    ingest_metrics.register(&metrics);
    let ingest = Ingest::new(db.clone(), ingest_metrics).with_max_future(
        std::time::Duration::from_secs(config.evidence.max_clock_skew_s),
    );
    let dir = &config.evidence.dir;
    let store = if config.evidence.s3.enabled() {
        EvidenceStore::s3(dir, &config.evidence.s3).await?
    } else {
        EvidenceStore::open(dir)
            .with_context(|| format!("opening evidence.dir {}", dir.display()))?
    }
    .with_min_free(config.evidence.min_free_bytes);
    let store = sealed_store(store, &config.evidence)?;
    store.metrics.register(&metrics);
    tracing::info!(store = %store.describe(), "evidence store ready");
    // The officers' second factors and the citizens' names, addresses and contacts are sealed
    // under a key kept outside the database: those kept in the clear by an earlier version, or
    // sealed under a key since rotated, are sealed under the current one now, before anyone
    // reads them.
    let sealing = crate::sealed::made(&config.review)?;
    let resealed = reseal_secrets(&db, &sealing).await?;
    warn_unrecorded_year(&db).await?;
    let retention_store = store.clone();
    let mut state = AppState::new(
        db.clone(),
        store,
        config.evidence.clone(),
        config.review_settings(),
    )?;
    state.review.throttle.metrics.register(&metrics);
    if resealed.from_former > 0 {
        state
            .audit
            .append(
                "system",
                "secrets.resealed",
                "review.secrets_key_file",
                serde_json::json!({
                    "from_former_key": resealed.from_former,
                    "from_clear": resealed.from_clear,
                }),
            )
            .await?;
    }
    state.notify = config.notify.clone();
    if !config.registry.url.is_empty() {
        let registry =
            owners::HttpRegistry::new(db.clone(), Some(sealing.clone()), config.registry.clone())
                .context("building the registry client")?;
        tracing::info!(url = %config.registry.url, "owners looked up at the registry service");
        state.lookup = std::sync::Arc::new(registry);
    }
    // Central's control key signs acknowledgements, device configurations and the audit chain's
    // anchors.
    let control = crate::control::ControlKey::load(&config.mqtt.control_key_file, true)?
        .context("mqtt.control_key_file")?;
    tracing::info!(public_key = %control.public_key(), "control key loaded");
    let mut anchor_keys = config.audit.former_keys().map_err(anyhow::Error::msg)?;
    anchor_keys.push(control.public_key());
    state.anchors = Some(crate::state::Anchors {
        file: config.audit.anchor_file.clone(),
        keys: anchor_keys,
    });
    let (audit, lookup) = (state.audit.clone(), state.lookup.clone());
    let ingest = ingest.with_audit(audit.clone());
    let audit_for_deadlines = audit.clone();
    let audit_for_retention = audit.clone();
    let audit_for_anchors = audit.clone();
    let audit_for_relay = audit.clone();
    let router = routes::router(state);

    let connection = if config.mqtt.url.is_empty() {
        let addr = broker::start(config.mqtt.embedded_bind, config.mqtt.max_payload_bytes)?;
        mqtt::Connection::embedded(addr)
    } else {
        mqtt::Connection::external(&config.mqtt).context("mqtt.url")?
    };
    let mut app = App::build("central-api", &config.http, metrics, router).await?;
    let stored = ingest.stored_signal();
    let lookup_db = db.clone();
    app.spawn("owner-lookup", move |shutdown| {
        owners::run(lookup_db, audit, lookup, stored, shutdown)
    });
    let (deadlines_db, deadlines_audit) = (db.clone(), audit_for_deadlines);
    app.spawn("case-deadlines", move |shutdown| {
        crate::db::deadlines::run(deadlines_db, deadlines_audit, shutdown)
    });
    let (retention_db, retention) = (db.clone(), config.retention.clone());
    app.spawn("retention", move |shutdown| {
        crate::db::retention::run(
            retention_db,
            audit_for_retention,
            retention_store,
            retention,
            shutdown,
        )
    });
    if config.notify.url.is_empty() {
        tracing::warn!("notify.url is empty: notices of issued fines wait in the outbox");
    } else {
        let relay = Relay::new(config.notify.clone(), Some(sealing.clone()))
            .context("building the notify client")?;
        let relay_db = db.clone();
        app.spawn("outbox-relay", move |shutdown| {
            relay::run(relay_db, audit_for_relay, relay, shutdown)
        });
    }
    let (anchor_key, anchoring) = (control.clone(), config.audit.clone());
    app.spawn("audit-anchor", move |shutdown| {
        crate::audit_anchor::run(audit_for_anchors, anchor_key, anchoring, shutdown)
    });
    let settings = config.mqtt.clone();
    app.spawn("mqtt-ingest", move |shutdown| {
        mqtt::run(ingest, settings, connection, control, shutdown)
    });
    Ok(app)
}

/// `store` with its blobs sealed at rest under `evidence.key_file` (made at the first start),
/// those sealed under `evidence.old_key_files` still opened; as it is when the key file is set
/// empty.
fn sealed_store(
    store: EvidenceStore,
    evidence: &crate::config::EvidenceSettings,
) -> anyhow::Result<EvidenceStore> {
    use crate::evidence_store::sealed::EvidenceKey;
    if evidence.key_file.as_os_str().is_empty() {
        tracing::warn!(
            "evidence.key_file is empty: evidence is kept unsealed, as the store holds it"
        );
        return Ok(store);
    }
    let Some(current) = crate::sealed::key_file("evidence.key_file", &evidence.key_file, true)?
    else {
        anyhow::bail!("evidence.key_file {}: no key", evidence.key_file.display());
    };
    let mut old = Vec::new();
    for path in &evidence.old_key_files {
        let Some(key) = crate::sealed::key_file("evidence.old_key_files", path, false)? else {
            anyhow::bail!("evidence.old_key_files: {} does not exist", path.display());
        };
        old.push(EvidenceKey::new(key));
    }
    Ok(store.sealed(EvidenceKey::new(current), old))
}

/// Seals every secret the database keeps under the current key ([`crate::sealed`]); stops the
/// start when one opens under no configured key.
async fn reseal_secrets(
    db: &db::Db,
    key: &crate::sealed::SealingKey,
) -> anyhow::Result<crate::sealed::ResealCount> {
    let officers = db::officers::reseal_totp(db, key).await?;
    let citizens = db::owners::reseal_citizens(db, key).await?;
    let messages = db::at_rest::reseal_all(db, key).await?;
    let all = officers.plus(citizens).plus(messages);
    if all.unsealable > 0 {
        anyhow::bail!(
            "{} officers' second factors, {} citizens' fields and {} notices, case updates, \
             persons named or correction requests are \
             sealed under a key that is neither review.secrets_key_file nor one of \
             review.old_secrets_key_files: put back the key they were sealed under (or name it \
             in review.old_secrets_key_files); a value altered or moved to another row opens \
             under none (`central-api officer-totp --remove` drops an officer's second factor, \
             `citizen-add` records a citizen again)",
            officers.unsealable,
            citizens.unsealable,
            messages.unsealable
        );
    }
    if all.from_clear > 0 {
        tracing::info!(
            officers = officers.from_clear,
            citizen_fields = citizens.from_clear,
            messages = messages.from_clear,
            "secrets kept in the clear now sealed"
        );
    }
    if all.from_former > 0 {
        tracing::info!(
            officers = officers.from_former,
            citizen_fields = citizens.from_former,
            messages = messages.from_former,
            "secrets sealed under a former key sealed again under review.secrets_key_file"
        );
    }
    if key.has_former() {
        tracing::warn!(
            "no secret is sealed under a former key any more: review.old_secrets_key_files may be emptied and those key files destroyed"
        );
    }
    Ok(all)
}

/// Warns when no day of this year is recorded in the calendar ([`crate::fines::calendar`]):
/// periods counted in working days then count the lunar New Year as working days.
async fn warn_unrecorded_year(db: &db::Db) -> anyhow::Result<()> {
    let year = time::OffsetDateTime::now_utc()
        .to_offset(protocol::time::VIETNAM)
        .year();
    let first = time::Date::from_calendar_date(year, time::Month::January, 1)?;
    if !db::calendar::from(db, first).await?.has_year(year) {
        tracing::warn!(
            year,
            "no day of this year is recorded in the calendar: its lunar New Year and the other holidays of no fixed date count as working days until recorded (central-api calendar-day)"
        );
    }
    Ok(())
}
