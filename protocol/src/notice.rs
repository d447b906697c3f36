//! The fine notice central-api sends to citizen-notify once an officer approves a violation:
//! everything the citizen must be told (DOMAIN.md, the process, step 3).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    citizen::CitizenId,
    event::{VehicleClass, ViolationKind},
    ids::EventId,
    plate::PlateColour,
    time::UtcTimestamp,
    wire::{Invalid, Validate},
};

/// One issued fine, as the citizen is to be notified of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FineNotice {
    /// Idempotency key: the same notice sent twice is one notice.
    pub fine_id: Uuid,
    pub decision_number: String,
    pub event_id: EventId,
    pub citizen_id: CitizenId,
    /// Display form, e.g. `51F-123.45`.
    pub plate: String,
    pub plate_colour: PlateColour,
    pub vehicle_class: VehicleClass,
    pub kind: ViolationKind,
    pub occurred_at: UtcTimestamp,
    pub place: String,
    pub address: String,
    pub amount_vnd: u64,
    pub points: u8,
    pub legal_reference: String,
    /// The notice must reach the owner by this time (10 days from detection).
    pub notice_due: UtcTimestamp,
    pub issued_at: UtcTimestamp,
    /// The detecting and handling unit, with its contact phone.
    pub issuing_unit: String,
}

impl Validate for FineNotice {
    fn validate(&self) -> Result<(), Invalid> {
        if self.decision_number.is_empty() || self.decision_number.len() > 64 {
            return Err(Invalid::new("decision_number", "must be 1-64 bytes"));
        }
        if self.amount_vnd == 0 {
            return Err(Invalid::new("amount_vnd", "must be positive"));
        }
        Invalid::check_safe_integer("amount_vnd", Some(self.amount_vnd))?;
        if self.plate.is_empty() || self.legal_reference.is_empty() {
            return Err(Invalid::new(
                "plate",
                "plate and legal_reference are required",
            ));
        }
        Ok(())
    }
}
