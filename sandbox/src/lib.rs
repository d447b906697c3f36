//! Stand-ins for the national systems this project cannot reach from here, each speaking the
//! real protocol over HTTP, for tests and the demo only — never used by a production path.
//!
//! Today: [`vnpay`], a payment gateway in VNPay's role, and [`oidc`], an OpenID Connect
//! identity provider in VNeID's role, [`push`], a citizen-app backend's push endpoint, and
//! [`sms`], an SMS gateway's HTTP API, [`smtp`], a mail relay's SMTP side, and [`registry`],
//! the vehicle registry service.

pub mod oidc;
pub mod push;
pub mod registry;
pub mod sms;
pub mod smtp;
pub mod vnpay;

use std::net::SocketAddr;

use axum::Router;

/// Text safe inside HTML text and attribute values, for the stand-ins' pages.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A stand-in serving on a local port until dropped.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// `http://{addr}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on `bind` (port 0 picks a free one) in the current runtime.
pub async fn serve(bind: SocketAddr, router: Router) -> std::io::Result<Running> {
    serve_on(tokio::net::TcpListener::bind(bind).await?, router)
}

/// Serves `router` on a bound listener (its address may be needed before the router is made).
pub fn serve_on(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "sandbox server stopped");
        }
    });
    Ok(Running { addr, task })
}
