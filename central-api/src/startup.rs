//! Builds the service from its configuration: binds (port 0 works in tests) and wires the parts.

use anyhow::Context;
use axum::Router;
use service_kit::http::{App, Metrics};

use crate::{
    Config,
    db::Db,
    ingest::{Ingest, IngestMetrics},
};

/// Connects the database (bringing its schema up to date), wires ingest and binds HTTP.
pub async fn build(config: Config) -> anyhow::Result<App> {
    let metrics = Metrics::new("central-api");
    let db = Db::connect(&config.database)
        .await
        .with_context(|| format!("opening database.url {}", config.database.url))?;
    tracing::info!(engine = db.engine(), "database ready");
    let ingest_metrics = IngestMetrics::default();
    ingest_metrics.register(&metrics);
    let _ingest = Ingest::new(db, ingest_metrics); // fed by the MQTT worker (next slice)
    App::build("central-api", &config.http, metrics, Router::new()).await
}
