//! The fine notice central-api sends to citizen-notify once an officer approves a violation:
//! everything the citizen must be told (DOMAIN.md, the process, step 3); and the updates
//! citizen-notify sends back about it (delivered, answered, paid).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    citizen::CitizenId,
    event::{EvidenceItem, VehicleClass, ViolationKind},
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
    /// The evidence the owner may see (the images and the clip), by content hash; the portal
    /// shows each through a signed link to central's store ([`crate::evidence_link`]).
    #[serde(default)]
    pub evidence: Vec<EvidenceItem>,
    /// How the owner may be reached besides the citizen app, from the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}

/// The owner's contact details on record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// A Vietnamese mobile number, `0` and nine digits or `+84` and nine digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Contact {
    /// Whether `phone` is a Vietnamese mobile number as written here.
    pub fn valid_phone(phone: &str) -> bool {
        let digits = phone
            .strip_prefix("+84")
            .or_else(|| phone.strip_prefix('0'))
            .unwrap_or("");
        digits.len() == 9 && digits.bytes().all(|b| b.is_ascii_digit())
    }
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
        if let Some(phone) = self.contact.as_ref().and_then(|c| c.phone.as_deref())
            && !Contact::valid_phone(phone)
        {
            return Err(Invalid::new(
                "contact.phone",
                "must be 0 or +84 and nine digits",
            ));
        }
        if self.evidence.len() > 16 {
            return Err(Invalid::new("evidence", "at most 16 files"));
        }
        if self.plate.is_empty() || self.legal_reference.is_empty() {
            return Err(Invalid::new(
                "plate",
                "plate and legal_reference are required",
            ));
        }
        Ok(())
    }
}

/// What became of an issued fine on the citizen's side, as citizen-notify reports it to
/// central-api: the notice delivered or not, the owner's answer, the payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FineUpdate {
    /// Idempotency key: the same update sent twice is one update.
    pub update_id: Uuid,
    pub fine_id: Uuid,
    /// When it happened.
    pub at: UtcTimestamp,
    pub change: FineChange,
}

/// The change an update reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FineChange {
    /// The notice reached the citizen through `channel` (e.g. `push`).
    NoticeDelivered { channel: String },
    /// Every attempt through `channel` failed: the notice must reach the owner another way.
    NoticeFailed { channel: String, error: String },
    /// The owner confirmed the violation.
    Confirmed,
    /// The owner disputed it, for this reason.
    Disputed { reason: String },
    /// The fine was paid through the payment gateway.
    Paid {
        amount_vnd: u64,
        /// The gateway's transaction number.
        transaction_no: String,
        paid_at: UtcTimestamp,
    },
}

impl FineChange {
    /// Its `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NoticeDelivered { .. } => "notice_delivered",
            Self::NoticeFailed { .. } => "notice_failed",
            Self::Confirmed => "confirmed",
            Self::Disputed { .. } => "disputed",
            Self::Paid { .. } => "paid",
        }
    }
}

impl Validate for FineUpdate {
    fn validate(&self) -> Result<(), Invalid> {
        let sized = |field: &'static str, text: &str, max: usize| {
            if text.trim().is_empty() || text.chars().count() > max {
                Err(Invalid::new(field, format!("must be 1-{max} characters")))
            } else {
                Ok(())
            }
        };
        match &self.change {
            FineChange::NoticeDelivered { channel } => sized("change.channel", channel, 32),
            FineChange::NoticeFailed { channel, error } => {
                sized("change.channel", channel, 32)?;
                sized("change.error", error, 1000)
            }
            FineChange::Confirmed => Ok(()),
            FineChange::Disputed { reason } => sized("change.reason", reason, 2000),
            FineChange::Paid {
                amount_vnd,
                transaction_no,
                ..
            } => {
                if *amount_vnd == 0 {
                    return Err(Invalid::new("change.amount_vnd", "must be positive"));
                }
                Invalid::check_safe_integer("change.amount_vnd", Some(*amount_vnd))?;
                sized("change.transaction_no", transaction_no, 64)
            }
        }
    }
}

/// The answer to an owner's dispute of a fine, decided by a supervisor: central-api sends it to
/// citizen-notify, which shows it to the owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FineResolution {
    /// Idempotency key: the same resolution sent twice is one resolution.
    pub resolution_id: Uuid,
    pub fine_id: Uuid,
    pub decided_at: UtcTimestamp,
    pub outcome: DisputeOutcome,
    /// The answer to the owner, in the handling unit's words.
    pub answer: String,
}

/// What the dispute came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisputeOutcome {
    /// The fine stands; the owner pays it.
    Upheld,
    /// The penalty decision is cancelled: nothing is owed.
    Cancelled,
}

impl DisputeOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upheld => "upheld",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Upheld, Self::Cancelled]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

impl Validate for FineResolution {
    fn validate(&self) -> Result<(), Invalid> {
        if self.answer.trim().is_empty() || self.answer.chars().count() > 2000 {
            return Err(Invalid::new("answer", "must be 1-2000 characters"));
        }
        Ok(())
    }
}
