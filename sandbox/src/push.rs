//! A citizen-app backend's push endpoint (the shape a VNeID or provincial-app integration
//! takes): takes `POST /api/v1/push` signed with the shared-secret HMAC of
//! [`protocol::service_auth`], keeps what it was given, answers 202. For tests it can be told to
//! fail the next requests (503) or to refuse citizens it does not know (404).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use protocol::{UtcTimestamp, service_auth};
use serde_json::{Value, json};

#[derive(Debug, Default)]
struct Inbox {
    received: Vec<Value>,
    fail_next: usize,
    known: Option<HashSet<String>>,
}

/// The receiver; clone to share.
#[derive(Debug, Clone)]
pub struct PushReceiver {
    secret: Arc<String>,
    inbox: Arc<Mutex<Inbox>>,
}

impl PushReceiver {
    pub fn new(secret: &str) -> Self {
        Self {
            secret: Arc::new(secret.to_owned()),
            inbox: Arc::new(Mutex::new(Inbox::default())),
        }
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The messages taken so far, oldest first.
    pub fn received(&self) -> Vec<Value> {
        self.inbox().received.clone()
    }

    /// The next `n` requests get 503.
    pub fn fail_next(&self, n: usize) {
        self.inbox().fail_next = n;
    }

    /// Only these citizens have the app; others get 404.
    pub fn only_citizens(&self, ids: &[&str]) {
        self.inbox().known = Some(ids.iter().map(|s| (*s).to_owned()).collect());
    }
}

/// `POST /api/v1/push`, `GET /sandbox/push/received`.
pub fn router(receiver: PushReceiver) -> Router {
    Router::new()
        .route("/api/v1/push", post(push))
        .route("/sandbox/push/received", get(received))
        .with_state(receiver)
}

async fn push(
    State(r): State<PushReceiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let header = headers
        .get(service_auth::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    if let Err(e) = service_auth::verify(
        r.secret.as_bytes(),
        header,
        &body,
        UtcTimestamp::now(),
        Duration::from_secs(300),
    ) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "bad_signature", "message": e.to_string() })),
        );
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "bad_json" })),
        );
    };
    let mut inbox = r.inbox();
    if inbox.fail_next > 0 {
        inbox.fail_next -= 1;
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "unavailable" })),
        );
    }
    let citizen = message["citizen_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if inbox.known.as_ref().is_some_and(|k| !k.contains(&citizen)) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown_citizen" })),
        );
    }
    inbox.received.push(message);
    (StatusCode::ACCEPTED, Json(json!({ "accepted": true })))
}

async fn received(State(r): State<PushReceiver>) -> Json<Vec<Value>> {
    Json(r.received())
}
