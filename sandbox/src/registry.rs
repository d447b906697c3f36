//! The vehicle registry service (the national registration database's role), speaking
//! [`protocol::registry`]: `GET /api/v1/registrations?plate=&colour=` with a bearer API key,
//! and beside it the population database's `GET /api/v1/citizens/{citizen_id}` (every owner it
//! registers, and the residents it is given). For tests it counts the requests it answers and
//! can fail or delay the next ones.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use protocol::{
    PlateColour,
    registry::{RegisteredOwner, Registration},
};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default)]
struct Book {
    records: HashMap<(String, PlateColour), Registration>,
    residents: HashMap<String, RegisteredOwner>,
    requests: usize,
    fail_next: usize,
    delay_next: usize,
    delay: Duration,
}

/// The registry; clone to share.
#[derive(Debug, Clone)]
pub struct VehicleRegistry {
    api_key: Arc<String>,
    book: Arc<Mutex<Book>>,
}

impl VehicleRegistry {
    pub fn new(api_key: &str, records: impl IntoIterator<Item = Registration>) -> Self {
        let records: HashMap<_, _> = records
            .into_iter()
            .map(|r| ((r.plate.clone(), r.colour), r))
            .collect();
        let residents = records
            .values()
            .map(|r| (r.owner.citizen_id.as_str().to_owned(), r.owner.clone()))
            .collect();
        Self {
            api_key: Arc::new(api_key.to_owned()),
            book: Arc::new(Mutex::new(Book {
                records,
                residents,
                ..Book::default()
            })),
        }
    }

    /// The population database also knows `person` (who need own no vehicle).
    pub fn add_resident(&self, person: RegisteredOwner) {
        self.book()
            .residents
            .insert(person.citizen_id.as_str().to_owned(), person);
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many requests reached the registry, refused ones included.
    pub fn requests(&self) -> usize {
        self.book().requests
    }

    /// The next `n` lookups get 503.
    pub fn fail_next(&self, n: usize) {
        self.book().fail_next = n;
    }

    /// The next `n` lookups are answered only after `delay`.
    pub fn delay_next(&self, n: usize, delay: Duration) {
        let mut book = self.book();
        book.delay_next = n;
        book.delay = delay;
    }
}

/// `GET /api/v1/registrations` and `GET /api/v1/citizens/{citizen_id}`.
pub fn router(registry: VehicleRegistry) -> Router {
    Router::new()
        .route(protocol::registry::PATH, get(lookup))
        .route(
            &format!("{}/{{citizen_id}}", protocol::registry::CITIZENS_PATH),
            get(resident),
        )
        .with_state(registry)
}

#[derive(Debug, Deserialize)]
struct Asked {
    plate: String,
    colour: String,
}

async fn lookup(
    State(r): State<VehicleRegistry>,
    headers: HeaderMap,
    Query(q): Query<Asked>,
) -> Response {
    answer(&r, &headers, "not_registered", |book| {
        PlateColour::parse(&q.colour).and_then(|c| book.records.get(&(q.plate.clone(), c)).cloned())
    })
    .await
}

async fn resident(
    State(r): State<VehicleRegistry>,
    headers: HeaderMap,
    Path(citizen_id): Path<String>,
) -> Response {
    answer(&r, &headers, "unknown_citizen", |book| {
        book.residents.get(&citizen_id).cloned()
    })
    .await
}

/// Counts the request, checks its key, applies the failures and delays asked for, and answers
/// what `find` finds in the book (404 `missing` when nothing).
async fn answer<T: serde::Serialize>(
    r: &VehicleRegistry,
    headers: &HeaderMap,
    missing: &str,
    find: impl FnOnce(&Book) -> Option<T>,
) -> Response {
    r.book().requests += 1;
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if key != Some(r.api_key.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "bad_api_key" })),
        )
            .into_response();
    }
    let (delay, fail, found) = {
        let mut book = r.book();
        let delay = (book.delay_next > 0).then(|| {
            book.delay_next -= 1;
            book.delay
        });
        let fail = book.fail_next > 0;
        if fail {
            book.fail_next -= 1;
        }
        (delay, fail, find(&book))
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if fail {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "unavailable" })),
        )
            .into_response();
    }
    match found {
        Some(found) => Json(found).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({ "error": missing }))).into_response(),
    }
}
