//! `POST /api/v1/fine-updates`: citizen-notify reports what became of an issued fine — the
//! notice delivered or not, the owner's answer, the payment — authenticated by the shared-secret
//! HMAC. Each update is stored once by its id; the fine's status only moves forward; each goes
//! into the audit log under its violation.

use std::time::Duration;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use protocol::FineUpdate;
use serde_json::{Value, json};
use service_kit::http::signed_message;

use super::{ApiError, AppState};
use crate::db::fine_updates::{self, Applied};

pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let update: FineUpdate = signed_message(
        state.notify.shared_secret.as_bytes(),
        "notify.shared_secret",
        &headers,
        &body,
        Duration::from_secs(300),
    )?;
    let payload = String::from_utf8_lossy(&body);
    let fine_id = update.fine_id.hyphenated().to_string();
    match fine_updates::apply(&state.db, &update, &payload).await? {
        Applied::New { status, event_id } => {
            let kind = update.change.kind();
            state
                .audit
                .append(
                    "service:citizen-notify",
                    &format!("fine.{kind}"),
                    &format!("violation:{}", event_id.hyphenated()),
                    json!({
                        "fine_id": fine_id,
                        "update_id": update.update_id,
                        "at": update.at,
                        "change": update.change,
                    }),
                )
                .await?;
            tracing::info!(fine_id, kind, status, "fine updated");
            Ok((
                StatusCode::CREATED,
                Json(json!({ "fine_id": fine_id, "status": status })),
            ))
        }
        Applied::Duplicate => Ok((
            StatusCode::OK,
            Json(json!({ "fine_id": fine_id, "duplicate": true })),
        )),
        Applied::UnknownFine => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_fine",
            format!("no fine {fine_id}"),
        )),
    }
}
