//! The vehicle registry service's HTTP contract: the registration of one plate, with the
//! vehicle and its owner. `GET /api/v1/registrations?plate={canonical}&colour={colour}` with a
//! bearer API key answers `200` with a [`Registration`], `404` when the plate (of that colour) is
//! not registered, `401` for a missing or wrong key.

use serde::{Deserialize, Serialize};

use crate::{CitizenId, PlateColour, VehicleClass};

/// Where the service answers.
pub const PATH: &str = "/api/v1/registrations";

/// One plate's registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Canonical text, `51F12345`.
    pub plate: String,
    pub colour: PlateColour,
    pub vehicle: RegisteredVehicle,
    pub owner: RegisteredOwner,
}

/// The vehicle as registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisteredVehicle {
    pub class: VehicleClass,
    pub make: String,
    pub model: String,
    /// The body colour, as on the registration certificate (`trắng`).
    pub colour: String,
}

/// The registered owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisteredOwner {
    pub citizen_id: CitizenId,
    pub full_name: String,
    pub address: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}
