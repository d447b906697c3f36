//! HTTPS, through the system's OpenSSL: serving with a certificate chain and key (PEM files,
//! Mozilla's "intermediate" settings: TLS 1.2 and 1.3, forward-secret ciphers only), and HTTP
//! clients that trust the system's roots and, where a deployment runs its own CA, that CA too.

use std::{net::SocketAddr, path::Path, pin::Pin, sync::Arc, time::Duration};

use anyhow::Context;
use openssl::ssl::{Ssl, SslAcceptor, SslFiletype, SslMethod};
use tokio::{net::TcpListener, net::TcpStream, sync::mpsc};
use tokio_openssl::SslStream;

/// How long a client has to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS side of a server: the certificate chain in `cert` (the server's first, then its
/// intermediates) and its private key in `key`, both PEM; a key others may read is refused, as
/// `ssh` refuses one. Errors name the file at fault.
pub fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<SslAcceptor> {
    let mut builder =
        SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).context("setting up TLS")?;
    builder
        .set_certificate_chain_file(cert)
        .with_context(|| format!("reading the certificate chain {}", cert.display()))?;
    let metadata = std::fs::metadata(key)
        .with_context(|| format!("reading the private key {}", key.display()))?;
    crate::secret_file::check_private(key, &metadata)?;
    builder
        .set_private_key_file(key, SslFiletype::PEM)
        .with_context(|| format!("reading the private key {}", key.display()))?;
    builder.check_private_key().with_context(|| {
        format!(
            "{} is not the private key of the certificate {}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(builder.build())
}

/// A listener whose connections have completed their TLS handshake. Handshakes run beside the
/// accepting, each with a time limit, so a slow or broken client holds up no one; a failed one
/// is logged and dropped.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(SslStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, acceptor: SslAcceptor) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let acceptor = Arc::new(acceptor);
        let (tx, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(async move {
            loop {
                let (tcp, peer) = tokio::select! {
                    () = tx.closed() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(e) => {
                            tracing::warn!(error = %e, "accepting a connection");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake = async {
                        let mut stream = SslStream::new(Ssl::new(acceptor.context())?, tcp)?;
                        Pin::new(&mut stream).accept().await?;
                        Ok::<_, anyhow::Error>(stream)
                    };
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            ready,
            addr,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = SslStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

/// How long an HTTP client keeps an idle connection for reuse: under the servers'
/// `http.header_read_timeout_s` (30 s), so a client does not reuse one the server is closing.
pub const CLIENT_IDLE: Duration = Duration::from_secs(20);

/// The settings every HTTP client of the project starts from: a `timeout` per request, idle
/// connections kept [`CLIENT_IDLE`], and no redirect followed.
pub fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_idle_timeout(CLIENT_IDLE)
        // A service talks to the address it was configured with: a redirect from it (to
        // another host, or to `http://`) is an answer to report, not a place to send a bearer
        // key, a device's signed upload or a citizen's data.
        .redirect(reqwest::redirect::Policy::none())
}

/// Why an answer's body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is larger than the {0} bytes this client reads")]
    TooLarge(usize),
    #[error("reading the answer: {0}")]
    Read(#[from] reqwest::Error),
}

/// Reads the body of `response`, at most `max` bytes: a server that answers more (by its
/// `Content-Length` or by what it sends) is refused before the rest is read, so no peer can
/// make a service hold an answer of any size in memory.
pub async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The start of an error answer's body, as text for a log line or an error message: at most
/// [`ERROR_TEXT_BYTES`] read, nothing when it cannot be read.
pub async fn error_text(response: reqwest::Response) -> String {
    match read_capped(response, ERROR_TEXT_BYTES).await {
        Ok(body) => String::from_utf8_lossy(&body).into_owned(),
        Err(e) => e.to_string(),
    }
}

/// Most bytes of an error answer [`error_text`] reads.
pub const ERROR_TEXT_BYTES: usize = 4096;

/// Most bytes of a document a service asks another system for (a registry record, an identity
/// provider's keys or token, a payment gateway's answer): 1 MiB, far above any real one.
pub const ANSWER_BYTES: usize = 1 << 20;

/// An HTTP client with a `timeout` per request that reaches `https://` servers whose
/// certificate chains to the system's trusted roots or, when given, to the CA certificates (PEM)
/// in `ca_file`.
pub fn client(timeout: Duration, ca_file: Option<&Path>) -> anyhow::Result<reqwest::Client> {
    let mut builder = client_builder(timeout);
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading the CA certificate {}", path.display()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("{} holds no PEM certificate", path.display()))?;
        if certificates.is_empty() {
            anyhow::bail!("{} holds no PEM certificate", path.display());
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().context("building the HTTP client")
}

/// A CA of a test's own and a server certificate it signed for `127.0.0.1` (feature
/// `testing`), made with the `openssl` command.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug)]
pub struct TestCa {
    /// The CA's certificate, for clients to trust.
    pub ca: std::path::PathBuf,
    /// The server's certificate and key.
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

#[cfg(any(test, feature = "testing"))]
impl TestCa {
    /// Makes the CA and the server's certificate in `dir`.
    pub fn create(dir: &Path) -> anyhow::Result<Self> {
        let run = |args: &[&str]| -> anyhow::Result<()> {
            let out = std::process::Command::new("openssl")
                .current_dir(dir)
                .args(args)
                .output()
                .context("running openssl")?;
            if !out.status.success() {
                anyhow::bail!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            }
            Ok(())
        };
        let key = ["-newkey", "rsa:2048", "-nodes", "-keyout"];
        run(&[
            &["req", "-x509"][..],
            &key,
            &[
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=tve test CA",
            ],
        ]
        .concat())?;
        run(&[
            &["req"][..],
            &key,
            &["server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        ]
        .concat())?;
        std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n")?;
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ])?;
        #[cfg(unix)]
        for key in ["ca.key", "server.key"] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.join(key), std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        })
    }
}

#[cfg(test)]
mod client_tests {
    #![allow(clippy::unwrap_used)]

    use axum::{Router, response::Redirect, routing::get};

    use super::*;

    #[tokio::test]
    async fn a_redirect_is_an_answer_not_a_place_to_go() {
        let app = Router::new()
            .route(
                "/registry",
                get(|| async { Redirect::temporary("/elsewhere") }),
            )
            .route("/elsewhere", get(|| async { "followed" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = client(Duration::from_secs(5), None).unwrap();
        let answer = client
            .get(format!("http://{addr}/registry"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(answer.headers()["location"], "/elsewhere");
    }

    #[tokio::test]
    async fn an_answer_is_read_up_to_its_cap_and_no_further() {
        use axum::body::Body;
        use futures_util::stream;

        // Sent with its length, and streamed without one: both stop at the cap.
        let app = Router::new()
            .route("/small", get(|| async { "a record" }))
            .route("/long", get(|| async { "x".repeat(10_000) }))
            .route(
                "/stream",
                get(|| async {
                    let chunks =
                        stream::iter((0..100).map(|_| {
                            Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'y'; 1000]))
                        }));
                    Body::from_stream(chunks)
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = client(Duration::from_secs(5), None).unwrap();
        let get = async |path: &str| {
            let response = client
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap();
            read_capped(response, 4096).await
        };
        assert_eq!(get("/small").await.unwrap(), b"a record");
        assert!(matches!(get("/long").await, Err(BodyError::TooLarge(4096))));
        assert!(matches!(
            get("/stream").await,
            Err(BodyError::TooLarge(4096))
        ));
    }
}
