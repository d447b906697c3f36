//! An SMS gateway's HTTP API: `POST /api/v1/sms` with a bearer API key and
//! `{"from", "to", "text", "reference"}`; keeps what it is asked to send and answers 202 with a
//! message id. For tests it can fail the next requests (503).

use std::sync::{Arc, Mutex};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    routing::{get, post},
};
use serde_json::{Value, json};

#[derive(Debug, Default)]
struct Outbox {
    sent: Vec<Value>,
    fail_next: usize,
}

/// The gateway; clone to share.
#[derive(Debug, Clone)]
pub struct SmsGateway {
    api_key: Arc<String>,
    outbox: Arc<Mutex<Outbox>>,
}

impl SmsGateway {
    pub fn new(api_key: &str) -> Self {
        Self {
            api_key: Arc::new(api_key.to_owned()),
            outbox: Arc::new(Mutex::new(Outbox::default())),
        }
    }

    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The messages taken so far, oldest first.
    pub fn sent(&self) -> Vec<Value> {
        self.outbox().sent.clone()
    }

    /// The next `n` requests get 503.
    pub fn fail_next(&self, n: usize) {
        self.outbox().fail_next = n;
    }
}

/// `POST /api/v1/sms`, `GET /sandbox/sms/sent`.
pub fn router(gateway: SmsGateway) -> Router {
    Router::new()
        .route("/api/v1/sms", post(send))
        .route("/sandbox/sms/sent", get(sent))
        .with_state(gateway)
}

async fn send(
    State(g): State<SmsGateway>,
    headers: HeaderMap,
    Json(message): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if key != Some(g.api_key.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "bad_api_key" })),
        );
    }
    let filled = |k: &str| message[k].as_str().is_some_and(|v| !v.is_empty());
    if !(filled("from") && filled("to") && filled("text")) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "from, to and text are required" })),
        );
    }
    let mut outbox = g.outbox();
    if outbox.fail_next > 0 {
        outbox.fail_next -= 1;
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "unavailable" })),
        );
    }
    outbox.sent.push(message);
    let id = outbox.sent.len();
    (StatusCode::ACCEPTED, Json(json!({ "message_id": id })))
}

async fn sent(State(g): State<SmsGateway>) -> Json<Vec<Value>> {
    Json(g.sent())
}
