//! Builds the service from its configuration: binds (port 0 works in tests) and wires the parts.

use anyhow::Context;
use service_kit::http::{App, Metrics};

use crate::{
    Config, db,
    routes::{self, AppState},
};

/// Connects the database (bringing its schema up to date) and binds HTTP.
pub async fn build(config: Config) -> anyhow::Result<App> {
    let metrics = Metrics::new("citizen-notify");
    let db = db::connect(&config.database)
        .await
        .with_context(|| format!("opening database.url {}", config.database.url))?;
    if config.intake.shared_secret.is_empty() {
        tracing::warn!("intake.shared_secret is empty: every notice is refused until it is set");
    }
    let router = routes::router(AppState {
        db,
        intake: config.intake.clone(),
    });
    App::build("citizen-notify", &config.http, metrics, router).await
}
