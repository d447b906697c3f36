//! Builds the service from its configuration: binds (port 0 works in tests) and wires the parts.

use anyhow::Context;
use service_kit::http::{App, Metrics};

use crate::{
    Config, db, delivery, payment, reports, retention,
    routes::{self, AppState},
    signin,
};

/// Connects the database (bringing its schema up to date) and binds HTTP.
pub async fn build(config: Config) -> anyhow::Result<App> {
    let metrics = Metrics::new("citizen-notify");
    let db = db::connect(&config.database)
        .await
        .with_context(|| format!("opening database.url {}", config.database.redacted_url()))?;
    let sealing = db::SealingKey::made(&config.sealing.key_files())?;
    reseal(&db, &sealing).await?;
    if config.intake.shared_secret.is_empty() {
        tracing::warn!("intake.shared_secret is empty: every notice is refused until it is set");
    }
    if !config.portal.enabled() {
        tracing::warn!("portal.issuer_url is empty: citizens cannot sign in");
    }
    if !config.payment.enabled() {
        tracing::warn!("payment.hash_secret is empty: online payment is off");
    }
    let router = routes::router(AppState {
        db: db.clone(),
        sealing: sealing.clone(),
        intake: config.intake.clone(),
        payment: config.payment.clone(),
        oidc: std::sync::Arc::new(signin::Oidc::new(config.portal_settings())),
        delivery: config.delivery.clone(),
    });
    let mut app = App::build("citizen-notify", &config.http, metrics, router).await?;
    if config.delivery.push_url.is_empty()
        && config.delivery.sms_url.is_empty()
        && config.delivery.smtp_url.is_empty()
    {
        tracing::warn!(
            "delivery.push_url, delivery.sms_url and delivery.smtp_url are empty: notices reach citizens only through the portal"
        );
    } else {
        let deliverer =
            delivery::Deliverer::new(config.delivery.clone()).context("starting delivery")?;
        let (db, key) = (db.clone(), sealing.clone());
        app.spawn("notice delivery", move |shutdown| {
            delivery::run(db, key, deliverer, shutdown)
        });
    }
    if config.central.url.is_empty() {
        tracing::warn!("central.url is empty: reports on fines wait in the outbox");
    } else {
        let reporter =
            reports::Reporter::new(config.central.clone(), config.intake.shared_secret.expose())
                .context("starting reports")?;
        let (db, key) = (db.clone(), sealing.clone());
        app.spawn("reports to central", move |shutdown| {
            reports::run(db, key, reporter, shutdown)
        });
    }
    {
        let db = db.clone();
        let rules = config.retention.clone();
        app.spawn("retention sweep", move |shutdown| {
            retention::run(db, rules, shutdown)
        });
    }
    if config.payment.enabled() {
        let settings = config.payment.clone();
        app.spawn("payment reconciliation", move |shutdown| async move {
            let http = reqwest::Client::new();
            let every = std::time::Duration::from_secs(settings.reconcile_every_s);
            shutdown
                .every(every, "payment reconciliation", || {
                    payment::reconcile(&db, &sealing, &settings, &http)
                })
                .await
        });
    }
    Ok(app)
}

/// Seals what an earlier version kept in the clear, and what was sealed under a key since
/// rotated, under `key`; stops the start when a value opens under no configured key (its key
/// is missing: the service would fail on it at every read).
pub async fn reseal(db: &db::Db, key: &db::SealingKey) -> anyhow::Result<()> {
    let count = db::at_rest::reseal_all(db, key)
        .await
        .context("sealing the citizens' data")?;
    if count.unsealable > 0 {
        anyhow::bail!(
            "{} sealed values open under neither sealing.key_file nor sealing.old_key_files: name the key they were sealed under",
            count.unsealable
        );
    }
    if count.from_clear + count.from_former > 0 {
        tracing::info!(
            from_clear = count.from_clear,
            from_former = count.from_former,
            "citizens' data sealed under sealing.key_file"
        );
    }
    if key.has_former() {
        tracing::info!(
            "nothing is left under sealing.old_key_files: drop them from the setting and destroy the files"
        );
    }
    Ok(())
}
