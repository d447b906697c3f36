//! `POST /api/v1/notices`: central-api delivers a fine notice, authenticated by the shared-secret
//! HMAC; stored once per fine id, so a redelivery is acknowledged and changes nothing.

use std::time::Duration;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use protocol::FineNotice;
use serde_json::{Value, json};
use service_kit::http::signed_message;

use super::{ApiError, AppState};
use crate::db::{self, Stored};

pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let notice: FineNotice = signed_message(
        state.intake.shared_secret.as_bytes(),
        "intake.shared_secret",
        &headers,
        &body,
        Duration::from_secs(state.intake.max_clock_skew_s),
    )?;
    let fine_id = notice.fine_id.to_string();
    let channels = crate::delivery::channels(&state.delivery, &notice);
    match db::store_notice(&state.db, &notice, &body, &channels).await? {
        Stored::New => {
            tracing::info!(fine_id, decision = %notice.decision_number, "notice received");
            Ok((
                StatusCode::CREATED,
                Json(json!({ "fine_id": fine_id, "created": true })),
            ))
        }
        Stored::Duplicate => Ok((
            StatusCode::OK,
            Json(json!({ "fine_id": fine_id, "created": false })),
        )),
        Stored::Conflict => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("another notice for fine {fine_id} was received before"),
        )),
    }
}
