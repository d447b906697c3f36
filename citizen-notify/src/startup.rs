//! Builds the service from its configuration: binds (port 0 works in tests) and wires the parts.

use std::{future::Future, net::SocketAddr};

use anyhow::Context;
use service_kit::http::{Metrics, Server, health_router, shutdown_signal};

use crate::Config;

/// The service, bound and ready to run.
#[derive(Debug)]
pub struct App {
    server: Server,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let metrics = Metrics::new("citizen-notify");
        let router = health_router(metrics);
        let server = Server::bind(config.http.bind, router)
            .await
            .with_context(|| format!("binding http.bind {}", config.http.bind))?;
        tracing::info!(addr = %server.local_addr()?, "citizen-notify listening");
        Ok(Self { server })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.server.local_addr()
    }

    /// Runs until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.server
            .run_until(shutdown)
            .await
            .context("serving http")
    }
}
