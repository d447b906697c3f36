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
async fn limited_server(settings: HttpSettings) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
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
    let router =
        Router::new().route(
            "/who",
            axum::routing::get(
                |axum::Extension(ClientAddr(a)): axum::Extension<ClientAddr>| async move {
                    a.to_string()
                },
            ),
        );
    let ask = |addr: SocketAddr, forwarded: &'static str| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!("GET /who HTTP/1.1\r\nHost: x\r\n{forwarded}Connection: close\r\n\r\n");
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
        let client = crate::tls::client(std::time::Duration::from_secs(10), Some(&ca.ca)).unwrap();
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
