//! The endpoints every service has, `/healthz` and `/metrics`, and serving a router until
//! shutdown. Every request an [`App`] serves runs in a `request` span ([`request_span`]): what
//! a handler logs carries its method, route and request id.

use std::{
    future::Future,
    net::SocketAddr,
    path::PathBuf,
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

/// A message one service sent another: its shared-secret HMAC checked (401 `bad_signature`;
/// 503 `disabled` when no secret is configured, named by `setting`), then decoded strictly
/// (422 with the decoder's code).
pub fn signed_message<M: protocol::Message>(
    secret: &[u8],
    setting: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    max_skew: std::time::Duration,
) -> Result<M, ApiError> {
    signed_body(secret, setting, headers, body, max_skew)?;
    protocol::wire::decode::<M>(body)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()))
}

/// Checks that `body` came signed with `secret` (the service-to-service HMAC of
/// [`protocol::service_auth`]): `503` when no secret is configured (`setting` names it), `401`
/// for a missing or bad signature.
pub fn signed_body(
    secret: &[u8],
    setting: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    max_skew: std::time::Duration,
) -> Result<(), ApiError> {
    use protocol::service_auth;
    if secret.is_empty() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "disabled",
            format!("no shared secret is configured ({setting})"),
        ));
    }
    let header = headers
        .get(service_auth::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    service_auth::verify(
        secret,
        header,
        body,
        protocol::UtcTimestamp::now(),
        max_skew,
    )
    .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string()))
}

/// The value of cookie `name` among a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

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

    /// Registers a collector: metrics made at each scrape (under the `tve_` prefix).
    pub fn register_collector(&self, collector: impl prometheus_client::collector::Collector) {
        if let Ok(mut registry) = self.0.lock() {
            registry.register_collector(Box::new(collector));
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

/// The header a request's id travels in: the one a load balancer or client sent when it is a
/// plain token, one made here otherwise; either way returned on the response, so an operator
/// can find a user's request in the logs.
pub const REQUEST_ID: &str = "x-request-id";

/// A request id from a client: 1 to 64 letters, digits, `-`, `_` or `.`; anything else is not
/// written to the logs.
fn plain_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Runs a request inside a `request` span — its method, its route as the router declares it
/// (`/api/v1/violations/{id}`: never the path itself, which can hold a plate or a token) and its
/// id ([`REQUEST_ID`]) — and says at debug level how it ended and how long it took.
pub async fn request_span(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use tracing::Instrument;
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| plain_request_id(v))
        .map_or_else(new_request_id, str::to_owned);
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("(no route)", axum::extract::MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!("request", method = %request.method(), route, id = %id);
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "served"
        );
    });
    if let Ok(value) = header::HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// 96 random bits in hex.
fn new_request_id() -> String {
    let mut bytes = [0u8; 12];
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        // The id is for finding log lines, not a secret: the clock will do.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&nanos.to_be_bytes()[4..]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// One error type for every JSON route of every service: a status, a stable code and a message
/// (`{ "error": code, "message": … }`); internals are logged, never sent.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Sent as `Retry-After` (seconds): when a refused request may be tried again.
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// The same refusal, saying when to try again.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds);
        self
    }

    /// `response` (this error's JSON, or a page telling it) with the error's headers:
    /// `Retry-After` when it says when to try again.
    pub fn with_headers(&self, mut response: Response) -> Response {
        if let Some(s) = self.retry_after_s {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, s.into());
        }
        response
    }

    /// A failure of ours: logged in full, reported as `internal`.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request",
        )
    }
}

/// The headers every page of a service's browser side carries: its content security policy
/// (unless the response has one of its own, as a sandboxed evidence file does), never framed,
/// never sniffed, no referrer beyond the site, and kept by no cache unless the response says
/// otherwise (pages about a case or a citizen's fines).
pub fn protect_page(
    mut response: axum::response::Response,
    csp: axum::http::HeaderValue,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(csp);
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "message": self.message });
        self.with_headers((self.status, axum::Json(body)).into_response())
    }
}

#[cfg(feature = "db")]
impl From<crate::db::DbError> for ApiError {
    /// A database whose disk is full answers 507, which callers take as "send it again later"
    /// (nothing was stored); any other failure is a 500.
    fn from(e: crate::db::DbError) -> Self {
        if e.is_storage_full() {
            tracing::error!(error = %e, "database disk full: writes refused until room returns");
            return Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_full",
                "the database's disk is full; try again later",
            );
        }
        Self::internal(e)
    }
}

/// A JSON request body. One that cannot be read is answered like every other error — a JSON
/// `ApiError` (`bad_request`, or 415 without a JSON content type) saying why — not in plain text.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(
                if rejection.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    ApiError::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "unsupported_media_type",
                        rejection.body_text(),
                    )
                } else {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        rejection.body_text(),
                    )
                },
            ),
        }
    }
}

/// The `[http]` section every service's configuration has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Listen address; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM: the server's certificate, then its
    /// intermediates), with `tls_key`. Without both, plain HTTP: on loopback, or behind a proxy
    /// that terminates TLS. Served over HTTPS, every answer carries HSTS
    /// ([`HSTS`]: browsers come back only over HTTPS) and session cookies are `Secure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of `tls_cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// A connection that has not sent a whole request head within this long (a new one, or a
    /// kept-alive one between requests) is closed: slow or idle clients cannot hold the
    /// server's connections.
    #[serde(default = "default_header_read_timeout_s")]
    pub header_read_timeout_s: u64,
    /// A request whose body has sent nothing for this long fails (the handler sees a read
    /// error and answers, the connection closes): a client that sends its body a byte a
    /// minute cannot hold a connection and a handler. Counted from the handler's first read,
    /// so a large upload on a slow but moving uplink is never cut.
    #[serde(default = "default_body_idle_timeout_s")]
    pub body_idle_timeout_s: u64,
    /// Connections served at once; beyond it the server stops accepting until one closes (the
    /// others wait in the kernel's queue), so a flood of connections cannot exhaust the
    /// process's memory or file descriptors.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Reverse proxies (addresses or networks, `10.0.0.0/8`) whose `X-Forwarded-For` is
    /// believed: a request from one of them is taken to come from the nearest address in that
    /// header that is not one of them ([`ClientAddr`]). Empty: every request comes from its
    /// connection's peer, and the header is ignored — anyone can write it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

fn default_header_read_timeout_s() -> u64 {
    30
}

fn default_body_idle_timeout_s() -> u64 {
    30
}

fn default_max_connections() -> usize {
    1024
}

impl HttpSettings {
    /// Loopback on `port`: the embedded default of every binary.
    pub fn loopback(port: u16) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], port)),
            tls_cert: None,
            tls_key: None,
            header_read_timeout_s: default_header_read_timeout_s(),
            body_idle_timeout_s: default_body_idle_timeout_s(),
            max_connections: default_max_connections(),
            trusted_proxies: Vec::new(),
        }
    }

    /// Whether the server speaks HTTPS.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some()
    }

    /// The certificate and its key come together.
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => Err(crate::ConfigError::invalid(
                "http.tls_key",
                "required with http.tls_cert",
            )),
            (None, Some(_)) => Err(crate::ConfigError::invalid(
                "http.tls_cert",
                "required with http.tls_key",
            )),
            _ => Ok(()),
        }
    }
}

/// A bound listener and the router it will serve: binding happens at build time so a test can
/// bind port 0 and read the address before serving.
pub struct Server {
    listener: TcpListener,
    router: Router,
    tls: Option<openssl::ssl::SslAcceptor>,
    limits: Limits,
}

/// How each connection is served: its time limits, how many at once, whom to believe about
/// the client's address.
#[derive(Debug, Clone)]
struct Limits {
    header_read_timeout: std::time::Duration,
    body_idle_timeout: std::time::Duration,
    max_connections: usize,
    trusted_proxies: Arc<[ipnet::IpNet]>,
}

impl Limits {
    fn of(settings: &HttpSettings) -> Self {
        Self {
            header_read_timeout: std::time::Duration::from_secs(
                settings.header_read_timeout_s.max(1),
            ),
            body_idle_timeout: std::time::Duration::from_secs(settings.body_idle_timeout_s.max(1)),
            max_connections: settings.max_connections.max(1),
            trusted_proxies: settings.trusted_proxies.clone().into(),
        }
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `settings.bind`, with the certificate and key read now when HTTPS is configured.
    pub async fn bind(settings: &HttpSettings, router: Router) -> anyhow::Result<Self> {
        use anyhow::Context;
        settings.validate()?;
        let tls = match (&settings.tls_cert, &settings.tls_key) {
            (Some(cert), Some(key)) => {
                Some(crate::tls::acceptor(cert, key).context("http.tls_cert")?)
            }
            _ => None,
        };
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("binding http.bind {}", settings.bind))?;
        let router = if tls.is_some() {
            router.layer(axum::middleware::map_response(strict_transport))
        } else {
            router
        };
        Ok(Self {
            listener,
            router,
            tls,
            limits: Limits::of(settings),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        match self.tls {
            None => serve_connections(self.listener, self.router, self.limits, shutdown).await,
            Some(acceptor) => {
                let listener = crate::tls::TlsListener::new(self.listener, acceptor)?;
                serve_connections(listener, self.router, self.limits, shutdown).await
            }
        }
    }
}

/// Tells a background task that the service is stopping; the task finishes its current unit
/// of work and returns.
#[derive(Debug, Clone)]
pub struct Shutdown(tokio::sync::watch::Receiver<bool>);

impl Shutdown {
    /// A shutdown signal for a task run outside an [`App`] (a test driving one worker): it is
    /// stopping once the channel holds `true` or its sender is gone.
    pub fn from_watch(rx: tokio::sync::watch::Receiver<bool>) -> Self {
        Self(rx)
    }

    /// Resolves once the service is stopping.
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }

    pub fn is_stopping(&self) -> bool {
        *self.0.borrow()
    }
}

impl Shutdown {
    /// Runs `pass` now and then every `period` until the service stops; a failed pass is logged
    /// (as `what`) and the next one runs on time.
    pub async fn every<T, E, F, Fut>(
        mut self,
        period: std::time::Duration,
        what: &'static str,
        mut pass: F,
    ) -> anyhow::Result<()>
    where
        E: std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        loop {
            if let Err(e) = pass().await {
                tracing::error!(error = %e, "{what} failed");
            }
            tokio::select! {
                () = self.wait() => return Ok(()),
                () = tokio::time::sleep(period) => {}
            }
        }
    }
}

type Task = std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A service bound and ready to run: its HTTP server (health, metrics and its own routes) and
/// its background tasks. `build` binds, so a test can bind port 0 and read the address before
/// running it. When any task fails, the service stops with that error.
pub struct App {
    name: &'static str,
    server: Server,
    stop_tx: tokio::sync::watch::Sender<bool>,
    tasks: Vec<(&'static str, Task)>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("name", &self.name)
            .field("server", &self.server)
            .field(
                "tasks",
                &self.tasks.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// How long background tasks get to finish once the service is stopping.
const TASK_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

impl App {
    /// Binds `settings.bind` for `router` merged with the health and metrics routes.
    pub async fn build(
        name: &'static str,
        settings: &HttpSettings,
        metrics: Metrics,
        router: Router,
    ) -> anyhow::Result<Self> {
        let router = router
            .merge(health_router(metrics))
            .layer(axum::middleware::from_fn(request_span));
        let server = Server::bind(settings, router).await?;
        tracing::info!(service = name, addr = %server.local_addr()?, tls = settings.tls(), "listening");
        let (stop_tx, _) = tokio::sync::watch::channel(false);
        Ok(Self {
            name,
            server,
            stop_tx,
            tasks: Vec::new(),
        })
    }

    /// Adds a background task, started by `run_until`; it is given the [`Shutdown`] to watch.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, task: F)
    where
        F: FnOnce(Shutdown) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let shutdown = Shutdown(self.stop_tx.subscribe());
        self.tasks.push((name, Box::pin(task(shutdown))));
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.server.local_addr()
    }

    /// Runs the server and the tasks until `shutdown` resolves or a task fails; then tells every
    /// task to stop and waits for them (at most ten seconds).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        use anyhow::Context;
        let Self {
            name,
            server,
            stop_tx,
            tasks,
        } = self;
        let mut set = tokio::task::JoinSet::new();
        for (task_name, task) in tasks {
            set.spawn(async move { (task_name, task.await) });
        }
        let mut server_stop = Shutdown(stop_tx.subscribe());
        let mut server = tokio::spawn(server.run_until(async move { server_stop.wait().await }));
        let mut outcome = Ok(());
        tokio::pin!(shutdown);
        tokio::select! {
            () = &mut shutdown => {}
            Some(joined) = set.join_next() => {
                outcome = task_outcome(name, joined);
                if outcome.is_ok() {
                    tracing::info!(service = name, "a task finished; stopping");
                }
            }
            served = &mut server => {
                outcome = served
                    .context("http server panicked")
                    .and_then(|r| r.with_context(|| format!("{name}: serving http")));
            }
        }
        let _ = stop_tx.send(true);
        let drain = async {
            while let Some(joined) = set.join_next().await {
                if let Err(e) = task_outcome(name, joined) {
                    tracing::error!(
                        service = name,
                        error = format!("{e:#}"),
                        "task failed while stopping"
                    );
                }
            }
            if !server.is_finished() {
                let _ = (&mut server).await;
            }
        };
        if tokio::time::timeout(TASK_GRACE, drain).await.is_err() {
            tracing::warn!(
                service = name,
                "tasks did not stop in time; abandoning them"
            );
        }
        outcome
    }
}

fn task_outcome(
    service: &'static str,
    joined: Result<(&'static str, anyhow::Result<()>), tokio::task::JoinError>,
) -> anyhow::Result<()> {
    match joined {
        Ok((_, Ok(()))) => Ok(()),
        Ok((task, Err(e))) => Err(e.context(format!("{service}: task {task} failed"))),
        Err(e) => Err(anyhow::anyhow!("{service}: a task panicked: {e}")),
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Limits::of(&HttpSettings::loopback(0));
    serve_connections(listener, router, limits, shutdown).await
}

/// Where a request came from, as far as this server can tell: its connection's peer, or, when
/// that peer is a trusted reverse proxy (`http.trusted_proxies`), the nearest address in
/// `X-Forwarded-For` that is not one. Every request a [`Server`] serves carries one in its
/// extensions (`Extension<ClientAddr>`); a request handed to a router directly (a test) has
/// none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub std::net::IpAddr);

/// The client address of a request from `peer` with `headers` (see [`ClientAddr`]). The
/// header is read from its right end, where the proxy nearest this server wrote: each proxy
/// appends the address it was reached from, so the first address from the right that is not a
/// trusted proxy is the client, whatever the client itself wrote further left. A hop that does
/// not parse ends the walk at the last trusted address before it.
pub fn client_addr(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[ipnet::IpNet],
) -> std::net::IpAddr {
    let is_trusted = |a: &std::net::IpAddr| trusted.iter().any(|n| n.contains(a));
    let peer = peer.to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    // From the right: the last header line first, each line's last hop first (a line that is
    // not text reads as one hop that does not parse).
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .flat_map(|value| value.to_str().unwrap_or("").rsplit(',').map(str::trim));
    let mut nearest = peer;
    for hop in hops {
        let parsed = hop
            .parse::<std::net::IpAddr>()
            .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()));
        match parsed.map(|a| a.to_canonical()) {
            Ok(a) if !is_trusted(&a) => return a,
            Ok(a) => nearest = a,
            Err(_) => break,
        }
    }
    nearest
}

/// The `Strict-Transport-Security` a service served over HTTPS sends: a year, this host only
/// (a deployment's other hosts under the same domain may still be reached otherwise).
pub const HSTS: &str = "max-age=31536000";

async fn strict_transport(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry(axum::http::header::STRICT_TRANSPORT_SECURITY)
        .or_insert(axum::http::HeaderValue::from_static(HSTS));
    response
}

/// Serves each connection `listener` accepts with HTTP/1.1 (keep-alive), at most
/// `limits.max_connections` at once, closing one that has not sent a whole request head within
/// the header timeout and failing a request whose body stalls past the body timeout; when
/// `shutdown` resolves, stops accepting, lets each connection finish its request in flight, and
/// returns once all are closed.
async fn serve_connections<L>(
    mut listener: L,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        // A free slot first: at the limit, new connections wait in the kernel's queue.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let trusted = limits.trusted_proxies.clone();
        let idle = limits.body_idle_timeout;
        let service =
            hyper_util::service::TowerToHyperService::new(tower::ServiceExt::map_request(
                router.clone(),
                move |request: axum::http::Request<hyper::body::Incoming>| {
                    let client = client_addr(peer.ip(), request.headers(), &trusted);
                    let mut request =
                        request.map(|body| axum::body::Body::new(IdleBody::new(body, idle)));
                    request.extensions_mut().insert(ClientAddr(client));
                    request
                },
            ));
        let mut stop = stop_rx.clone();
        let header_read_timeout = limits.header_read_timeout;
        connections.spawn(async move {
            let _slot = slot;
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(io), service);
            tokio::pin!(connection);
            let stopping = async move {
                let _ = stop.wait_for(|stopping| *stopping).await;
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stopping => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// A request body that fails once it has given nothing for `idle`, counted from the handler's
/// first read (a handler that reads late is not the client's fault).
struct IdleBody<B> {
    inner: B,
    idle: std::time::Duration,
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<B> IdleBody<B> {
    fn new(inner: B, idle: std::time::Duration) -> Self {
        Self {
            inner,
            idle,
            timer: None,
        }
    }
}

/// The error a stalled request body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body sent nothing for {0:?}")]
pub struct BodyIdle(std::time::Duration);

impl<B> hyper::body::Body for IdleBody<B>
where
    B: hyper::body::Body + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = B::Data;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        let idle = this.idle;
        let deadline = move || tokio::time::Instant::now() + idle;
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                match &mut this.timer {
                    Some(timer) => timer.as_mut().reset(deadline()),
                    None => this.timer = Some(Box::pin(tokio::time::sleep_until(deadline()))),
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline())));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(BodyIdle(this.idle).into()))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A future that resolves on Ctrl-C or SIGTERM. The handlers are registered when this is
/// called (inside the runtime), not when the future is first polled, so a signal that arrives
/// while the service is still starting is not lost and does not kill the process outright.
pub fn shutdown_signal() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        Box::pin(async move {
            match (term, interrupt) {
                (Ok(mut term), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            tracing::info!("shutting down");
        })
    }
    #[cfg(not(unix))]
    {
        Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
    }
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

    /// A handler runs in the `request` span; the response carries the request's id: the
    /// client's when it is a plain token, a new one otherwise.
    #[tokio::test]
    async fn a_request_runs_in_its_span_and_its_id_comes_back() {
        let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry());
        let router = Router::new()
            .route(
                "/plates/{plate}",
                get(|| async {
                    tracing::Span::current()
                        .metadata()
                        .map_or("none", |m| m.name())
                        .to_owned()
                }),
            )
            .layer(axum::middleware::from_fn(request_span));
        let call = |id: Option<&str>| {
            let mut request = axum::http::Request::get("/plates/51F12345");
            if let Some(id) = id {
                request = request.header(REQUEST_ID, id);
            }
            router.clone().oneshot(request.body(Body::empty()).unwrap())
        };
        let response = call(Some("lb-7f3a.2")).await.unwrap();
        assert_eq!(response.headers()[REQUEST_ID], "lb-7f3a.2");
        let body = to_bytes(response.into_body(), 1 << 10).await.unwrap();
        assert_eq!(
            &body[..],
            b"request",
            "the handler ran inside the request span"
        );
        for sent in [
            None,
            Some("a b"),
            Some("plate:51F12345"),
            Some(&*"x".repeat(65)),
        ] {
            let response = call(sent).await.unwrap();
            let made = response.headers()[REQUEST_ID].to_str().unwrap().to_owned();
            assert_eq!(made.len(), 24, "{sent:?} → {made}");
            assert!(made.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        let (a, b) = (call(None).await.unwrap(), call(None).await.unwrap());
        assert_ne!(a.headers()[REQUEST_ID], b.headers()[REQUEST_ID]);
    }

    #[test]
    fn a_certificate_needs_its_key_and_a_key_its_certificate() {
        let mut settings = HttpSettings::loopback(0);
        assert!(settings.validate().is_ok() && !settings.tls());
        settings.tls_cert = Some("server.pem".into());
        let e = settings.validate().unwrap_err().to_string();
        assert!(e.contains("http.tls_key"), "{e}");
        settings.tls_cert = None;
        settings.tls_key = Some("server.key".into());
        let e = settings.validate().unwrap_err().to_string();
        assert!(e.contains("http.tls_cert"), "{e}");
    }

    #[tokio::test]
    async fn a_missing_certificate_file_is_named_at_start() {
        let mut settings = HttpSettings::loopback(0);
        settings.tls_cert = Some("/nonexistent/server.pem".into());
        settings.tls_key = Some("/nonexistent/server.key".into());
        let e = Server::bind(&settings, Router::new()).await.unwrap_err();
        assert!(
            format!("{e:#}").contains("/nonexistent/server.pem"),
            "{e:#}"
        );
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

    async fn test_app() -> App {
        let settings = HttpSettings::loopback(0);
        App::build(
            "kit-test",
            &settings,
            Metrics::new("kit-test"),
            Router::new(),
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_failing_task_stops_the_service_with_its_error() {
        let mut app = test_app().await;
        app.spawn("doomed", |_| async { Err(anyhow::anyhow!("broker gone")) });
        let err = app.run_until(std::future::pending()).await.unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("task doomed failed") && text.contains("broker gone"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_request_head_is_cut_off() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let settings = HttpSettings {
            header_read_timeout_s: 1,
            ..HttpSettings::loopback(0)
        };
        let router = Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
        let server = Server::bind(&settings, router).await.unwrap();
        let addr = server.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run_until(async move {
            let _ = stop_rx.await;
        }));
        let within = std::time::Duration::from_secs(5);
        let read_all = |mut stream: tokio::net::TcpStream| async move {
            let mut got = Vec::new();
            tokio::time::timeout(within, stream.read_to_end(&mut got))
                .await
                .map(|_| String::from_utf8_lossy(&got).into_owned())
        };
        // A slow client: half a request head, then nothing. The server hangs up on it.
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let answer = read_all(slow)
            .await
            .expect("the connection is closed in time");
        assert!(!answer.contains("200 OK"), "{answer}");
        // A whole request is answered as ever.
        let mut quick = tokio::net::TcpStream::connect(addr).await.unwrap();
        quick
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = read_all(quick).await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("ok"),
            "{answer}"
        );
        // A connection left open does not keep the server from stopping.
        let _idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        stop_tx.send(()).unwrap();
        tokio::time::timeout(within, running)
            .await
            .expect("stopped in time")
            .unwrap()
            .unwrap();
    }

    /// A server of `settings` serving `/healthz` and an upload that reads its whole body; its
    /// address and the sender that stops it.
    async fn limited_server(
        settings: HttpSettings,
    ) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let router = Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .route(
                "/upload",
                axum::routing::post(|body: axum::body::Bytes| async move {
                    format!("{} bytes", body.len())
                }),
            );
        let server = Server::bind(&settings, router).await.unwrap();
        let addr = server.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run_until(async move {
            let _ = stop_rx.await;
        }));
        (addr, stop_tx)
    }

    async fn answer_of(
        mut stream: tokio::net::TcpStream,
        within: std::time::Duration,
    ) -> Option<String> {
        use tokio::io::AsyncReadExt;
        let mut got = Vec::new();
        tokio::time::timeout(within, stream.read_to_end(&mut got))
            .await
            .ok()
            .map(|_| String::from_utf8_lossy(&got).into_owned())
    }

    #[tokio::test]
    async fn a_request_body_that_stalls_is_cut_off_and_a_slow_one_that_moves_is_not() {
        use tokio::io::AsyncWriteExt;
        let settings = HttpSettings {
            body_idle_timeout_s: 1,
            ..HttpSettings::loopback(0)
        };
        let (addr, _stop) = limited_server(settings).await;
        let head =
            "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\nConnection: close\r\n\r\n";
        // Ten bytes of twenty, then nothing: the handler's read fails, the client is answered
        // and the connection closed, long before the header timeout (30 s).
        let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
        stalled.write_all(head.as_bytes()).await.unwrap();
        stalled.write_all(&[b'x'; 10]).await.unwrap();
        let answer = answer_of(stalled, std::time::Duration::from_secs(5))
            .await
            .expect("cut off in time");
        assert!(!answer.contains("200 OK"), "{answer}");
        // Twenty bytes, one every 0.3 s: six seconds in all, never a second idle.
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        slow.write_all(head.as_bytes()).await.unwrap();
        for _ in 0..20 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            slow.write_all(b"x").await.unwrap();
        }
        let answer = answer_of(slow, std::time::Duration::from_secs(5))
            .await
            .unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("20 bytes"),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn connections_beyond_the_limit_wait_until_one_closes() {
        use tokio::io::AsyncWriteExt;
        let settings = HttpSettings {
            max_connections: 1,
            ..HttpSettings::loopback(0)
        };
        let (addr, _stop) = limited_server(settings).await;
        let holder = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut waiting = tokio::net::TcpStream::connect(addr).await.unwrap();
        waiting
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut first = [0u8; 1];
        let early = tokio::time::timeout(
            std::time::Duration::from_millis(500),
            tokio::io::AsyncReadExt::read(&mut waiting, &mut first),
        )
        .await;
        assert!(early.is_err(), "answered while the only slot was taken");
        drop(holder);
        let answer = answer_of(waiting, std::time::Duration::from_secs(5))
            .await
            .expect("answered once the slot was free");
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    }

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        use std::net::IpAddr;
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted: Vec<ipnet::IpNet> =
            vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let headers = |values: &[&str]| {
            let mut h = axum::http::HeaderMap::new();
            for v in values {
                h.append("x-forwarded-for", v.parse().unwrap());
            }
            h
        };
        // An untrusted peer's header is anyone's writing: ignored.
        let forged = headers(&["198.51.100.1"]);
        assert_eq!(
            client_addr(ip("203.0.113.9"), &forged, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(client_addr(ip("10.1.2.3"), &forged, &[]), ip("10.1.2.3"));
        // Behind two trusted proxies, the client is the first untrusted hop from the right,
        // whatever it wrote itself further left; over several header lines alike.
        let chain = headers(&["198.51.100.1, 203.0.113.7", "10.0.0.5"]);
        assert_eq!(
            client_addr(ip("10.9.9.9"), &chain, &trusted),
            ip("203.0.113.7")
        );
        // Ports and brackets are taken off; IPv4 mapped into IPv6 reads as IPv4.
        let ported = headers(&["[2001:db8::7]:4431, 203.0.113.8:5000"]);
        assert_eq!(client_addr(ip("::1"), &ported, &trusted), ip("203.0.113.8"));
        assert_eq!(
            client_addr(
                ip("::ffff:10.0.0.1"),
                &headers(&["::ffff:192.0.2.4"]),
                &trusted
            ),
            ip("192.0.2.4")
        );
        // Garbage stops the walk at the nearest trusted hop; no header leaves the peer.
        let garbage = headers(&["not an address, 10.0.0.7"]);
        assert_eq!(
            client_addr(ip("10.0.0.1"), &garbage, &trusted),
            ip("10.0.0.7")
        );
        assert_eq!(
            client_addr(ip("10.0.0.1"), &headers(&[]), &trusted),
            ip("10.0.0.1")
        );
    }

    #[tokio::test]
    async fn every_request_served_carries_its_client_address() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let router = Router::new().route(
            "/who",
            axum::routing::get(
                |axum::Extension(ClientAddr(a)): axum::Extension<ClientAddr>| async move {
                    a.to_string()
                },
            ),
        );
        let ask = |addr: SocketAddr, forwarded: &'static str| async move {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let head =
                format!("GET /who HTTP/1.1\r\nHost: x\r\n{forwarded}Connection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut got = String::new();
            stream.read_to_string(&mut got).await.unwrap();
            // Every answer is dated: edge boxes learn central's clock from it.
            let (head, body) = got.split_once("\r\n\r\n").unwrap_or_default();
            assert!(head.to_ascii_lowercase().contains("\r\ndate: "), "{head}");
            body.to_owned()
        };
        for (trusted, want) in [
            (vec![], "127.0.0.1"),
            (vec!["127.0.0.0/8".parse().unwrap()], "192.0.2.44"),
        ] {
            let settings = HttpSettings {
                trusted_proxies: trusted,
                ..HttpSettings::loopback(0)
            };
            let server = Server::bind(&settings, router.clone()).await.unwrap();
            let addr = server.local_addr().unwrap();
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let running = tokio::spawn(server.run_until(async move {
                let _ = stop_rx.await;
            }));
            assert_eq!(ask(addr, "X-Forwarded-For: 192.0.2.44\r\n").await, want);
            assert_eq!(ask(addr, "").await, "127.0.0.1");
            stop_tx.send(()).unwrap();
            running.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn answers_over_https_tell_browsers_to_come_back_only_over_https() {
        let dir = tempfile::tempdir().unwrap();
        let ca = crate::tls::TestCa::create(dir.path()).unwrap();
        let router = Router::new().route("/x", axum::routing::get(|| async { "x" }));
        for tls in [false, true] {
            let settings = HttpSettings {
                tls_cert: tls.then(|| ca.cert.clone()),
                tls_key: tls.then(|| ca.key.clone()),
                ..HttpSettings::loopback(0)
            };
            let server = Server::bind(&settings, router.clone()).await.unwrap();
            let url = format!(
                "{}://{}/x",
                if tls { "https" } else { "http" },
                server.local_addr().unwrap()
            );
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let running = tokio::spawn(server.run_until(async move {
                let _ = stop_rx.await;
            }));
            let client =
                crate::tls::client(std::time::Duration::from_secs(10), Some(&ca.ca)).unwrap();
            let response = client.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let hsts = response
                .headers()
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap().to_owned());
            // Over plain HTTP the header means nothing to a browser (and a proxy in front that
            // terminates TLS sends its own).
            assert_eq!(hsts.as_deref(), tls.then_some(HSTS), "{url}");
            drop(response);
            stop_tx.send(()).unwrap();
            running.await.unwrap().unwrap();
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_tls_key_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ca = crate::tls::TestCa::create(dir.path()).unwrap();
        std::fs::set_permissions(&ca.key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let settings = HttpSettings {
            tls_cert: Some(ca.cert.clone()),
            tls_key: Some(ca.key.clone()),
            ..HttpSettings::loopback(0)
        };
        let refused = Server::bind(&settings, Router::new()).await.unwrap_err();
        assert!(format!("{refused:#}").contains("chmod 600"), "{refused:#}");
    }

    #[tokio::test]
    async fn shutdown_reaches_every_task() {
        let mut app = test_app().await;
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        app.spawn("worker", |mut shutdown| async move {
            shutdown.wait().await;
            let _ = done_tx.send(());
            Ok(())
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(app.run_until(async move {
            let _ = stop_rx.await;
        }));
        stop_tx.send(()).unwrap();
        running.await.unwrap().unwrap();
        done_rx
            .await
            .expect("the worker saw the shutdown and finished");
    }
}
