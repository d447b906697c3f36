//! Administration through the JSON API, for administrators only: officers (`GET`/`POST
//! /api/v1/officers`), devices (`POST /api/v1/devices`, `DELETE /api/v1/devices/{id}`) and their
//! cameras (`GET /api/v1/devices/{id}/cameras` for every officer, `PUT …/cameras/{camera}`). The
//! work is in [`crate::admin`], shared with the pages and the command line; every change is in
//! the audit log.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use service_kit::http::JsonBody;
use utoipa::ToSchema;

use super::{ApiError, openapi::ErrorBody};
use crate::{
    admin,
    auth::{Officer, Role, Signed},
    db::{officers, requests::Request},
};
use crate::{error::ServiceError, state::AppState};

/// An officer as administrators see them (never a password).
#[derive(Debug, Serialize, ToSchema)]
pub struct OfficerView {
    pub username: String,
    pub full_name: String,
    /// `reviewer`, `supervisor`, `admin` or `auditor`.
    pub role: String,
}

impl From<Officer> for OfficerView {
    fn from(o: Officer) -> Self {
        Self {
            username: o.username,
            full_name: o.full_name,
            role: o.role.as_str().into(),
        }
    }
}

/// The officers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Officers {
    pub items: Vec<OfficerView>,
}

#[utoipa::path(get, path = "/api/v1/officers", tag = "admin",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Every active officer", body = Officers),
        (status = 403, description = "Administrators only", body = ErrorBody)))]
pub async fn officers(
    State(state): State<AppState>,
    Signed(officer): Signed,
) -> Result<Json<Officers>, ApiError> {
    officer.require(Role::administers, "list officers")?;
    let items = officers::list(&state.db).await?;
    Ok(Json(Officers {
        items: items.into_iter().map(OfficerView::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOfficer {
    /// 3–64 characters of a–z, 0–9, `.`, `_`, `-`.
    pub username: String,
    pub full_name: String,
    /// `reviewer`, `supervisor`, `admin` or `auditor`.
    pub role: String,
    /// At least 12 characters; stored as an Argon2id hash.
    pub password: String,
}

#[utoipa::path(post, path = "/api/v1/officers", tag = "admin",
    request_body = NewOfficer,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 202, description = "Asked: another administrator confirms it (`POST /api/v1/requests/{id}/confirm`), and then the officer is saved (a new one, or a new name, role and password)", body = Request),
        (status = 409, description = "A request for the same officer already waits (`request_waiting`)", body = ErrorBody),
        (status = 400, description = "A field is not valid", body = ErrorBody),
        (status = 403, description = "Administrators only", body = ErrorBody)))]
pub async fn save_officer(
    State(state): State<AppState>,
    Signed(officer): Signed,
    JsonBody(body): JsonBody<NewOfficer>,
) -> Result<(StatusCode, Json<Request>), ApiError> {
    officer.require(Role::administers, "administer officers")?;
    let asked = admin::request_officer(
        &state.db,
        &state.audit,
        (&officer.username, &officer.actor()),
        &body.username,
        &body.full_name,
        &body.role,
        &body.password,
    )
    .await
    .map_err(ServiceError::from)?;
    Ok((StatusCode::ACCEPTED, Json(asked)))
}

#[utoipa::path(delete, path = "/api/v1/officers/{username}", tag = "admin",
    params(("username" = String, Path, description = "The officer's username")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Disabled: their sessions and tokens ended, no sign-in until saved again"),
        (status = 403, description = "Administrators only", body = ErrorBody),
        (status = 404, description = "No such active officer", body = ErrorBody)))]
pub async fn disable_officer(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    officer.require(Role::administers, "administer officers")?;
    let done = admin::disable_officer(&state.db, &state.audit, &officer.actor(), &username)
        .await
        .map_err(ServiceError::from)?;
    no_content_or_not_found(done, || format!("no active officer {username}"))
}

#[utoipa::path(post, path = "/api/v1/officers/{username}/unlock", tag = "admin",
    params(("username" = String, Path, description = "The officer's username")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Unlocked: the officer may sign in again"),
        (status = 403, description = "Administrators only", body = ErrorBody),
        (status = 404, description = "No such officer locked by failed sign-ins", body = ErrorBody)))]
pub async fn unlock_officer(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    officer.require(Role::administers, "administer officers")?;
    let done = admin::unlock_officer(&state.db, &state.audit, &officer.actor(), &username)
        .await
        .map_err(ServiceError::from)?;
    no_content_or_not_found(done, || format!("officer {username} is not locked"))
}

/// 204 when the change was made, else 404 saying what was not there.
fn no_content_or_not_found(
    done: bool,
    missing: impl FnOnce() -> String,
) -> Result<StatusCode, ApiError> {
    if done {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", missing()))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// The device id its events carry, e.g. `hcm-q1-001`.
    pub id: String,
    /// Its Ed25519 public key, base64 (`edge-agent public-key`).
    pub public_key: String,
    #[serde(default)]
    pub name: String,
}

/// A registered device.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    pub id: String,
}

#[utoipa::path(post, path = "/api/v1/devices", tag = "admin",
    request_body = NewDevice,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 202, description = "Asked: another administrator confirms it (`POST /api/v1/requests/{id}/confirm`), and then the device is registered or its key replaced", body = Request),
        (status = 409, description = "A request for the same device already waits (`request_waiting`)", body = ErrorBody),
        (status = 400, description = "A malformed id or key", body = ErrorBody),
        (status = 403, description = "Administrators only", body = ErrorBody)))]
pub async fn register_device(
    State(state): State<AppState>,
    Signed(officer): Signed,
    JsonBody(body): JsonBody<NewDevice>,
) -> Result<(StatusCode, Json<Request>), ApiError> {
    officer.require(Role::administers, "register devices")?;
    let asked = admin::request_device(
        &state.db,
        &state.audit,
        (&officer.username, &officer.actor()),
        &body.id,
        &body.public_key,
        &body.name,
    )
    .await
    .map_err(ServiceError::from)?;
    Ok((StatusCode::ACCEPTED, Json(asked)))
}

#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "admin",
    params(("id" = String, Path, description = "The device id")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Revoked: its events are refused from now on"),
        (status = 403, description = "Administrators only", body = ErrorBody),
        (status = 404, description = "Not registered, or already revoked", body = ErrorBody)))]
pub async fn revoke_device(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    officer.require(Role::administers, "revoke devices")?;
    let done = admin::revoke_device(&state.db, &state.audit, &officer.actor(), &id)
        .await
        .map_err(ServiceError::from)?;
    no_content_or_not_found(done, || format!("no active device {id}"))
}

/// A device's cameras as central keeps them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cameras {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<protocol::CameraSettings>,
}

#[utoipa::path(get, path = "/api/v1/devices/{id}/cameras", tag = "admin",
    params(("id" = String, Path, description = "The device id")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Each camera's site, geometry and limits", body = Cameras),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
pub async fn cameras(
    State(state): State<AppState>,
    Signed(_officer): Signed,
    Path(id): Path<String>,
) -> Result<Json<Cameras>, ApiError> {
    let id = protocol::DeviceId::parse(&id).map_err(|e| ServiceError::bad_request("id", e))?;
    Ok(Json(Cameras {
        items: crate::db::cameras::of_device(&state.db, &id).await?,
    }))
}

/// The configuration version a change made.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigVersion {
    pub version: u64,
}

#[utoipa::path(put, path = "/api/v1/devices/{id}/cameras/{camera}", tag = "admin",
    params(("id" = String, Path, description = "The device id"),
           ("camera" = String, Path, description = "The camera id, as the device names it")),
    request_body(content = Object, description = "The camera's settings: `camera` (as in the path), `site`, `geometry`, `speed_limit_kmh`, `speed_limits_kmh`, `red_grace_s` (schema tve.device_config)"),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Saved; the device's new configuration goes out retained on its config topic", body = ConfigVersion),
        (status = 400, description = "A setting is not valid", body = ErrorBody),
        (status = 403, description = "Administrators only", body = ErrorBody),
        (status = 404, description = "No active device", body = ErrorBody)))]
pub async fn save_camera(
    State(state): State<AppState>,
    Signed(officer): Signed,
    Path((id, camera)): Path<(String, String)>,
    JsonBody(settings): JsonBody<protocol::CameraSettings>,
) -> Result<Json<ConfigVersion>, ApiError> {
    officer.require(Role::administers, "configure cameras")?;
    if settings.camera.as_str() != camera {
        return Err(ServiceError::bad_request("camera", "must be the camera of the path").into());
    }
    let version = admin::save_camera(
        &state.db,
        &state.audit,
        &officer.actor(),
        &id,
        &settings,
        Default::default(),
    )
    .await
    .map_err(ServiceError::from)?;
    Ok(Json(ConfigVersion { version }))
}
