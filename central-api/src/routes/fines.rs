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
use serde_json::json;
use service_kit::http::signed_message;

use super::ApiError;
use crate::state::AppState;
use crate::{
    db::fine_updates::{self, Applied},
    owners::LookupError,
};

/// What central answers a fine update.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UpdateAnswer {
    pub fine_id: String,
    /// The fine's status after the update (a new update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// True when the update was taken before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/fine-updates", tag = "citizen-notify",
    request_body(content = super::openapi::WireFineUpdate, description = "What became of the fine"),
    security(("service" = [])),
    responses(
        (status = 201, description = "Taken; the fine's status after it", body = UpdateAnswer),
        (status = 200, description = "Taken before", body = UpdateAnswer),
        (status = 401, description = "Missing or bad signature", body = super::openapi::ErrorBody),
        (status = 404, description = "No such fine", body = super::openapi::ErrorBody),
        (status = 422, description = "An answer refused: `answer_late`, `answered`, `named_driver_case`, `self_named`, `unknown_citizen`, `name_mismatch`, `sold_after`", body = super::openapi::ErrorBody),
        (status = 503, description = "The population database cannot answer now: try again", body = super::openapi::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<UpdateAnswer>), ApiError> {
    let update: FineUpdate = signed_message(
        state.notify.shared_secret.as_bytes(),
        "notify.shared_secret",
        &headers,
        &body,
        Duration::from_secs(300),
    )?;
    let payload = String::from_utf8_lossy(&body);
    let fine_id = update.fine_id.hyphenated().to_string();
    let applied = match fine_updates::named_in(&update.change) {
        Some((full_name, id, _)) => {
            let resident = state.lookup.resident(id).await.map_err(|e| match e {
                LookupError::Db(e) => ApiError::from(e),
                LookupError::Unavailable(e) => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "registry_unavailable",
                    format!("the population database cannot answer now: {e}"),
                ),
            })?;
            match fine_updates::check_named(full_name, id, resident.as_ref()) {
                Ok(resident) => {
                    fine_updates::transfer(
                        &state.db,
                        &state.audit,
                        &update,
                        &payload,
                        resident,
                        &state.review.settings.issuing_unit,
                    )
                    .await?
                }
                Err(refused) => Applied::Refused(refused),
            }
        }
        None => fine_updates::apply(&state.db, &state.audit, &update, &payload).await?,
    };
    match applied {
        Applied::New { status, .. } => {
            let kind = update.change.kind();
            tracing::info!(fine_id, kind, status, "fine updated");
            Ok((
                StatusCode::CREATED,
                Json(UpdateAnswer {
                    fine_id,
                    status: Some(status.to_owned()),
                    duplicate: None,
                }),
            ))
        }
        Applied::Duplicate => Ok((
            StatusCode::OK,
            Json(UpdateAnswer {
                fine_id,
                status: None,
                duplicate: Some(true),
            }),
        )),
        Applied::UnknownFine => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_fine",
            format!("no fine {fine_id}"),
        )),
        Applied::Refused(refused) => {
            // In the trail of the case's violation (of the case itself when there is none).
            let subject = match fine_updates::event_of(&state.db, &fine_id).await? {
                Some(event) => format!("violation:{}", event.hyphenated()),
                None => format!("fine:{fine_id}"),
            };
            state
                .audit
                .append(
                    fine_updates::REPORTER,
                    "fine.answer_refused",
                    &subject,
                    json!({
                        "update_id": update.update_id,
                        "kind": update.change.kind(),
                        "at": update.at,
                        "reason": refused.code(),
                    }),
                )
                .await?;
            tracing::warn!(fine_id, reason = %refused, "answer refused");
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                refused.code(),
                refused.to_string(),
            ))
        }
    }
}
