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
use service_kit::http::{signed_body, signed_message};

use super::ApiError;
use crate::state::AppState;
use crate::{
    db::fine_updates::{self, Applied},
    owners::LookupError,
};

/// The setting of the secret citizen-notify signs with.
const NOTIFY_SECRET: &str = "notify.shared_secret";

/// How far the time of citizen-notify's signature may be from central's clock.
const MAX_SKEW: Duration = Duration::from_secs(300);

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
        (status = 425, description = "A document the update names has not arrived (`documents_missing`): put it, then send the update again", body = super::openapi::ErrorBody),
        (status = 422, description = "An answer refused: `answer_late`, `answered`, `named_driver_case`, `self_named`, `unknown_citizen`, `name_mismatch`, `sold_after`", body = super::openapi::ErrorBody),
        (status = 503, description = "The population database cannot answer now: try again", body = super::openapi::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<UpdateAnswer>), ApiError> {
    let update: FineUpdate = signed_message(
        state.notify.shared_secret.expose().as_bytes(),
        NOTIFY_SECRET,
        &headers,
        &body,
        MAX_SKEW,
    )?;
    let payload = String::from_utf8_lossy(&body);
    let fine_id = update.fine_id.hyphenated().to_string();
    // The documents it names were put into the store before it; one missing was lost on the
    // way (or removed meanwhile): citizen-notify puts them again and sends the update again.
    for d in &update.documents {
        if !state
            .store
            .contains(&d.sha256)
            .await
            .map_err(super::evidence::store_error)?
        {
            return Err(ApiError::new(
                StatusCode::TOO_EARLY,
                "documents_missing",
                format!("document {} has not arrived: put it first", d.sha256),
            ));
        }
    }
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
                        (&payload, state.review.sealing.as_ref()),
                        resident,
                        &state.review.settings.issuing_unit,
                    )
                    .await?
                }
                Err(refused) => Applied::Refused(refused),
            }
        }
        None => {
            let sealing = state.review.sealing.as_ref();
            fine_updates::apply(&state.db, &state.audit, &update, (&payload, sealing)).await?
        }
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
        Applied::UnknownFine => {
            fine_updates::release_documents(&state.db, &update).await?;
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_fine",
                format!("no fine {fine_id}"),
            ))
        }
        Applied::Refused(refused) => {
            fine_updates::release_documents(&state.db, &update).await?;
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

/// `PUT /api/v1/answer-documents/{sha256}`: a document citizen-notify sends ahead of the answer
/// that names it ([`protocol::answer_document`]), signed with the shared secret: kept in the
/// evidence store (sealed at rest like the evidence) when its bytes hash to `sha256`, are at
/// most 5 MB and are the PDF, JPEG or PNG its `content-type` says.
#[utoipa::path(put, path = "/api/v1/answer-documents/{sha256}", tag = "citizen-notify",
    params(("sha256" = String, Path, description = "The document's SHA-256, lowercase hex")),
    request_body(content = Vec<u8>, description = "The document's bytes", content_type = "application/pdf"),
    security(("service" = [])),
    responses(
        (status = 201, description = "Kept (or held already)"),
        (status = 401, description = "Missing or bad signature", body = super::openapi::ErrorBody),
        (status = 413, description = "Larger than 5 MB", body = super::openapi::ErrorBody),
        (status = 422, description = "Not what it says: another digest, or not the PDF, JPEG or PNG of its content-type", body = super::openapi::ErrorBody)))]
pub async fn put_document(
    State(state): State<AppState>,
    axum::extract::Path(sha256): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    signed_body(
        state.notify.shared_secret.expose().as_bytes(),
        NOTIFY_SECRET,
        &headers,
        &body,
        MAX_SKEW,
    )?;
    let refused = |code: &'static str, message: String| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    };
    let sha256 = protocol::Sha256Digest::parse(&sha256).map_err(|e| refused("bad_digest", e))?;
    if body.len() as u64 > protocol::answer_document::MAX_DOCUMENT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "a document is at most 5 MB",
        ));
    }
    if protocol::Sha256Digest::of(&body) != sha256 {
        return Err(refused(
            "digest_mismatch",
            format!("the bytes do not hash to {sha256}"),
        ));
    }
    let claimed = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let sniffed = protocol::AnswerDocument::sniff(&body);
    if sniffed != Some(claimed) {
        return Err(refused(
            "not_a_document",
            format!(
                "the bytes are {}, sent as `{claimed}`",
                sniffed.unwrap_or("no PDF, JPEG or PNG")
            ),
        ));
    }
    let size = body.len() as u64;
    let chunks = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(body)]);
    state
        .store
        .put(&sha256, chunks, size, claimed)
        .await
        .map_err(super::evidence::store_error)?;
    tracing::info!(%sha256, bytes = size, "answer document kept");
    Ok(StatusCode::CREATED)
}
