//! Serving a router: the listener bound at build time, HTTPS, limits on connections, header
//! reads and idle bodies, HSTS, the client's address behind trusted proxies, and the graceful
//! shutdown that lets the service's tasks finish.

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::{Router, response::Response};
use tokio::net::TcpListener;

use super::*;

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
