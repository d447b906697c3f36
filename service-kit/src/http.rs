//! The endpoints every service has, `/healthz` and `/metrics`, and serving a router until
//! shutdown.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus_client::{
    encoding::text::encode,
    metrics::{family::Family, gauge::Gauge},
    registry::Registry,
};
use tokio::net::TcpListener;

/// The metrics registry a service registers its counters in; `/metrics` encodes it.
#[derive(Debug, Clone)]
pub struct Metrics(Arc<Mutex<Registry>>);

impl Metrics {
    /// A registry with the `tve_build_info` gauge (service and version labels, value 1).
    pub fn new(service: &'static str) -> Self {
        let mut registry = Registry::with_prefix("tve");
        let info = Family::<Vec<(&'static str, &'static str)>, Gauge>::default();
        info.get_or_create(&vec![
            ("service", service),
            ("version", env!("CARGO_PKG_VERSION")),
        ])
        .set(1);
        registry.register("build_info", "Service name and version", info);
        Self(Arc::new(Mutex::new(registry)))
    }

    /// Registers a metric under the `tve_` prefix.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        if let Ok(mut registry) = self.0.lock() {
            registry.register(name, help, metric);
        }
    }

    /// The registry in the Prometheus text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let registry = self.0.lock().map_err(|_| std::fmt::Error)?;
        let mut out = String::new();
        encode(&mut out, &registry)?;
        Ok(out)
    }
}

/// `/healthz` (200 `ok` while the process serves) and `/metrics`.
pub fn health_router(metrics: Metrics) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(serve_metrics))
        .with_state(metrics)
}

async fn serve_metrics(State(metrics): State<Metrics>) -> Response {
    match metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The `[http]` section every service's configuration has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Listen address; port 0 picks a free port.
    pub bind: SocketAddr,
}

impl HttpSettings {
    /// Loopback on `port`: the embedded default of every binary.
    pub fn loopback(port: u16) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }
}

/// A bound listener and the router it will serve: binding happens at build time so a test can
/// bind port 0 and read the address before serving.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    router: Router,
}

impl Server {
    pub async fn bind(addr: SocketAddr, router: Router) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self { listener, router })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        serve(self.listener, self.router, shutdown).await
    }
}

/// A service bound and ready to run: its HTTP server (health, metrics and its own routes).
/// `build` binds, so a test can bind port 0 and read the address before running it.
#[derive(Debug)]
pub struct App {
    name: &'static str,
    server: Server,
}

impl App {
    /// Binds `settings.bind` for `router` merged with the health and metrics routes.
    pub async fn build(
        name: &'static str,
        settings: &HttpSettings,
        metrics: Metrics,
        router: Router,
    ) -> anyhow::Result<Self> {
        use anyhow::Context;
        let router = router.merge(health_router(metrics));
        let server = Server::bind(settings.bind, router)
            .await
            .with_context(|| format!("binding http.bind {}", settings.bind))?;
        tracing::info!(service = name, addr = %server.local_addr()?, "listening");
        Ok(Self { name, server })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.server.local_addr()
    }

    /// Runs until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Runs until `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        use anyhow::Context;
        let name = self.name;
        self.server
            .run_until(shutdown)
            .await
            .with_context(|| format!("{name}: serving http"))
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use tower::ServiceExt;

    use super::*;

    async fn get_text(router: Router, path: &str) -> (StatusCode, String) {
        let response = router
            .oneshot(axum::http::Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn health_and_metrics_answer() {
        let metrics = Metrics::new("kit-test");
        let counter = prometheus_client::metrics::counter::Counter::<u64>::default();
        metrics.register("events_received", "Events received", counter.clone());
        counter.inc_by(3);
        let router = health_router(metrics);
        assert_eq!(
            get_text(router.clone(), "/healthz").await,
            (StatusCode::OK, "ok".into())
        );
        let (status, text) = get_text(router, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(text.contains("tve_events_received_total 3"), "{text}");
        assert!(text.contains("service=\"kit-test\""), "{text}");
    }
}
