//! Builds the service from its configuration: binds (port 0 works in tests) and wires the parts.

use axum::Router;
use service_kit::http::{App, Metrics};

use crate::Config;

/// Binds the service's HTTP listener and wires its parts.
pub async fn build(config: Config) -> anyhow::Result<App> {
    let metrics = Metrics::new("citizen-notify");
    App::build("citizen-notify", &config.http, metrics, Router::new()).await
}
