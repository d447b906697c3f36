//! The endpoints every service has, `/healthz` and `/metrics`, and serving a router until
//! shutdown. Every request an [`App`] serves runs in a `request` span ([`request_span`]): what
//! a handler logs carries its method, route and request id.
//! The serving itself — TLS, connection limits, timeouts, graceful shutdown, the client's
//! address behind a proxy — is in `server`.

mod server;

pub use server::{
    App, BodyIdle, ClientAddr, HSTS, Server, Shutdown, client_addr, serve, shutdown_signal,
};

use std::{
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

#[cfg(test)]
mod tests;
