//! `PUT /api/v1/evidence/{sha256}`: a device uploads one evidence file, authenticated by its
//! signature over the request; the body must hash to the path. The same blob sent twice is one
//! blob. `GET /evidence/{sha256}` serves one to a citizen's browser on a signed link.

use std::time::Duration;

use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
};
use protocol::{
    Sha256Digest, UtcTimestamp,
    evidence::{UploadAuth, UploadAuthError},
};
use serde::Serialize;

use super::ApiError;
use crate::state::AppState;
use crate::{
    db::{devices, evidence},
    evidence_store::StoreError,
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Stored {
    pub sha256: String,
    pub bytes: u64,
    /// False when the blob was stored before.
    pub created: bool,
}

#[utoipa::path(put, path = "/api/v1/evidence/{sha256}", tag = "evidence",
    params(("sha256" = String, Path, description = "The file's SHA-256, hex")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file; its content type in Content-Type"),
    security(("device" = [])),
    responses(
        (status = 201, description = "Stored", body = Stored),
        (status = 200, description = "Stored before: the same bytes", body = Stored),
        (status = 401, description = "Unknown device, bad signature or clock skew", body = super::openapi::ErrorBody),
        (status = 413, description = "Larger than evidence.max_bytes", body = super::openapi::ErrorBody),
        (status = 415, description = "Not an evidence content type (image/jpeg, image/png, video/mp4)", body = super::openapi::ErrorBody),
        (status = 422, description = "The body does not hash to the path", body = super::openapi::ErrorBody),
        (status = 429, description = "The device holds evidence.unclaimed_max_bytes of files no event names: upload again once its events have arrived", body = super::openapi::ErrorBody),
        (status = 503, description = "The evidence store cannot be reached now: upload again later", body = super::openapi::ErrorBody),
        (status = 507, description = "The evidence disk is full: upload again later", body = super::openapi::ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Stored>), ApiError> {
    let sha256 = Sha256Digest::parse(&sha256)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_digest", e))?;
    let unauthorized =
        |code, message: String| ApiError::new(StatusCode::UNAUTHORIZED, code, message);
    let auth = UploadAuth::from_headers(|name| headers.get(name).and_then(|v| v.to_str().ok()))
        .map_err(|e| unauthorized("bad_auth_headers", e.to_string()))?;
    let key = devices::active_key(&state.db, &auth.device)
        .await?
        .ok_or_else(|| {
            unauthorized(
                "unknown_device",
                format!("device `{}` is not registered", auth.device),
            )
        })?;
    let skew = Duration::from_secs(state.settings.max_clock_skew_s);
    auth.verify(&key, &sha256, UtcTimestamp::now(), skew)
        .map_err(|e| match e {
            UploadAuthError::Skew { .. } => unauthorized("clock_skew", e.to_string()),
            e => unauthorized("bad_signature", e.to_string()),
        })?;

    let limit = state.settings.max_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !protocol::evidence::CONTENT_TYPES.contains(&content_type.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "evidence is one of {}, not `{content_type}`",
                protocol::evidence::CONTENT_TYPES.join(", ")
            ),
        ));
    }

    let recorded = evidence::uploaded_bytes(&state.db, &sha256).await?;
    let stored = match recorded {
        Some(bytes) if state.store.contains(&sha256).await.map_err(store_error)? => Some(bytes),
        _ => None,
    };
    let (bytes, created) = match stored {
        Some(bytes) => (bytes, false),
        _ => {
            // A declared length is checked before the body is read; `put` checks the rest.
            if let Some(n) = declared {
                state.store.check_room(n).map_err(store_error)?;
            }
            // What the device may still hold of files no event names: a declared length is
            // checked now, a streamed body as it comes. A file an event already names (its
            // event came first, as the edge sends them) needs no sum over the device's files.
            let quota = state.settings.unclaimed_max_bytes;
            let (unclaimed, room) = if evidence::named(&state.db, &sha256).await? {
                (0, u64::MAX)
            } else {
                let unclaimed = evidence::unclaimed_bytes(&state.db, auth.device.as_str()).await?;
                (unclaimed, quota.saturating_sub(unclaimed))
            };
            let over_quota = || {
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "unclaimed_quota",
                    format!(
                        "device `{}` holds {unclaimed} bytes of evidence no event names \
                         (at most {quota}): upload again once its events have arrived",
                        auth.device
                    ),
                )
            };
            if declared.is_some_and(|n| n > room) {
                return Err(over_quota());
            }
            let bytes = match state
                .store
                .put(
                    &sha256,
                    body.into_data_stream(),
                    limit.min(room),
                    &content_type,
                )
                .await
            {
                Ok(bytes) => bytes,
                Err(StoreError::TooLarge { .. }) if room < limit => return Err(over_quota()),
                Err(StoreError::TooLarge { limit }) => return Err(too_large(limit)),
                Err(e @ StoreError::HashMismatch { .. }) => {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "hash_mismatch",
                        e.to_string(),
                    ));
                }
                Err(e @ StoreError::Body(_)) => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "body",
                        e.to_string(),
                    ));
                }
                Err(e) => return Err(store_error(e)),
            };
            let key = crate::evidence_store::EvidenceStore::key(&sha256);
            let created = evidence::insert(
                &state.db,
                evidence::NewBlob {
                    sha256: &sha256,
                    bytes,
                    content_type: &content_type,
                    storage_key: &key,
                    device_id: auth.device.as_str(),
                },
            )
            .await?;
            (bytes, created)
        }
    };
    tracing::info!(sha256 = %sha256, device = %auth.device, bytes, created, "evidence stored");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Stored {
            sha256: sha256.to_hex(),
            bytes,
            created,
        }),
    ))
}

/// A store that cannot take or give a blob now: 503 (507 when its disk is full), so the
/// device uploads again later.
pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Full { .. } => ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "storage_full",
            "the evidence disk is full; try again later",
        ),
        StoreError::Refused(_) | StoreError::Unavailable(_) => {
            tracing::error!(error = %e, "evidence store");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the evidence store cannot be reached now; try again later",
            )
        }
        e => ApiError::internal(e),
    }
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("evidence files are limited to {limit} bytes"),
    )
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Link {
    /// The content type the link was signed for.
    ct: String,
    /// Expiry, Unix seconds.
    exp: i64,
    /// HMAC-SHA256 of the link with evidence.link_secret, hex.
    sig: String,
}

/// `GET /evidence/{sha256}?ct&exp&sig`: one evidence file, to a citizen's browser, on a signed
/// link from citizen-notify (see [`protocol::evidence_link`]); 403 on a bad or expired link.
#[utoipa::path(get, path = "/evidence/{sha256}", tag = "evidence",
    params(("sha256" = String, Path, description = "The file's SHA-256, hex"), Link),
    responses(
        (status = 200, description = "The file, of the signed content type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, description = "A bad or expired link", body = super::openapi::ErrorBody),
        (status = 404, description = "No such file", body = super::openapi::ErrorBody)))]
pub async fn get_linked(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    axum::extract::Query(link): axum::extract::Query<Link>,
) -> Result<axum::response::Response, ApiError> {
    let secret = state.settings.link_secret.expose().as_bytes();
    if secret.is_empty() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "links_disabled",
            "no link secret is configured (evidence.link_secret)",
        ));
    }
    let sha256 = Sha256Digest::parse(&sha256)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_digest", e))?;
    protocol::evidence_link::verify(
        secret,
        &sha256,
        &link.ct,
        link.exp,
        &link.sig,
        UtcTimestamp::now(),
    )
    .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "bad_link", e.to_string()))?;
    blob(
        &state,
        &sha256,
        &link.ct,
        "private, max-age=600",
        Serve::Inline,
    )
    .await
}

/// How a blob is handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serve {
    /// Shown in the page: an evidence content type as itself, anything else as bytes to save.
    Inline,
    /// Saved, never shown: a document attached to an answer (a PDF too) as itself.
    Download,
}

/// One stored blob as a response of `content_type`: to a citizen on a signed link, or to an
/// officer on the review pages. Only an evidence content type (or, downloaded, a document's)
/// is served as itself; anything else is an attachment of bytes. Either way the response is
/// sandboxed (no script, no plugin, no same-origin access even when opened on its own) and
/// never sniffed.
pub async fn blob(
    state: &AppState,
    sha256: &Sha256Digest,
    content_type: &str,
    cache_control: &'static str,
    serve: Serve,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let Some(bytes) = state.store.read(sha256).await.map_err(store_error)? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such file",
        ));
    };
    let hex = sha256.to_hex();
    let (known, how) = match serve {
        Serve::Inline => (protocol::evidence::extension(content_type), "inline"),
        Serve::Download => (
            protocol::evidence::extension(content_type)
                .or_else(|| protocol::answer_document::extension(content_type)),
            "attachment",
        ),
    };
    let (content_type, disposition) = match known {
        Some(ext) => (content_type, format!("{how}; filename=\"{hex}.{ext}\"")),
        None => (
            "application/octet-stream",
            format!("attachment; filename=\"{hex}.bin\""),
        ),
    };
    let value = |v: &str| {
        header::HeaderValue::from_str(v).map_err(|e| ApiError::internal(format!("header: {e}")))
    };
    Ok((
        [
            (header::CONTENT_TYPE, value(content_type)?),
            (header::CONTENT_DISPOSITION, value(&disposition)?),
            (
                header::CACHE_CONTROL,
                header::HeaderValue::from_static(cache_control),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                header::HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                header::HeaderValue::from_static("sandbox; default-src 'none'"),
            ),
        ],
        bytes,
    )
        .into_response())
}
