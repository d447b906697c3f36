//! `GET /api/v1/devices`: every registered device with the latest status it reported.

use axum::{Json, extract::State};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, openapi::ErrorBody};
use crate::state::AppState;
use crate::{
    auth::Signed,
    db::devices::{self, DeviceHealth},
};

/// The devices.
#[derive(Debug, Serialize, ToSchema)]
pub struct Devices {
    pub items: Vec<DeviceHealth>,
}

#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Each device, its state, cameras and outbox as last reported", body = Devices),
        (status = 401, description = "Not signed in", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Signed(_officer): Signed,
) -> Result<Json<Devices>, ApiError> {
    Ok(Json(Devices {
        items: devices::health(&state.db).await?,
    }))
}
