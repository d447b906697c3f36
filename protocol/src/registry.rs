//! The vehicle registry service's HTTP contract: the registration of one plate, with the
//! vehicle and its owner. `GET /api/v1/registrations?plate={canonical}&colour={colour}` with a
//! bearer API key answers `200` with a [`Registration`], `404` when the plate (of that colour) is
//! not registered, `401` for a missing or wrong key.
//!
//! The population database ("Cơ sở dữ liệu quốc gia về dân cư") answers beside it, on the same
//! terms: `GET /api/v1/citizens/{citizen_id}` answers `200` with a [`RegisteredOwner`] (the
//! person as that database holds them), `404` when no citizen has that number.

use serde::{Deserialize, Serialize};

use crate::{CitizenId, Organisation, PlateColour, VehicleClass};

/// Where the service answers.
pub const PATH: &str = "/api/v1/registrations";

/// Where the population database answers, followed by `/{citizen_id}`.
pub const CITIZENS_PATH: &str = "/api/v1/citizens";

/// One plate's registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Canonical text, `51F12345`.
    pub plate: String,
    pub colour: PlateColour,
    pub vehicle: RegisteredVehicle,
    /// The person the registration names; for a vehicle registered to an organisation, the
    /// person who answers for it (its legal representative, "người đại diện theo pháp luật"),
    /// who signs in to the portal with their own identity.
    pub owner: RegisteredOwner,
    /// The organisation named on the registration certificate, when the vehicle is registered
    /// to one: it is the vehicle's owner (Decree 168/2024/NĐ-CP, Article 47 clause 6 point a).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<Organisation>,
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

/// The registered owner; also a person as the population database answers for them.
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
