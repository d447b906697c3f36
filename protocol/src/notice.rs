//! What central-api and citizen-notify say to each other about a case, in the order the law
//! runs it (Circular 73/2024/TT-BCA; Law on Handling Administrative Violations 15/2012/QH13):
//! the [`ViolationNotice`] to the vehicle's owner once an officer confirms a camera event (no
//! amount, no decision: a notice only says what was seen and how to answer); the owner's answer
//! and the later payments, as [`FineUpdate`]s back; the answer to an explanation
//! ([`FineResolution`]); and the [`PenaltyDecision`] of an officer with sanctioning authority,
//! the only thing that is ever paid.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    answer_document::{AnswerDocument, MAX_DOCUMENTS},
    citizen::CitizenId,
    event::{EvidenceItem, Measurement, VehicleClass, ViolationKind},
    ids::EventId,
    organisation::Organisation,
    plate::PlateColour,
    time::UtcTimestamp,
    wire::{Invalid, Validate},
};

/// The notice of violation ("Thông báo vi phạm") to the vehicle's owner as registered on the
/// violation's day: what was seen, where and when, the provision it breaks, who handles it and
/// by when to come or answer. It names no amount and no decision number: those come only with
/// a [`PenaltyDecision`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ViolationNotice {
    /// The case's id, and the idempotency key: the same notice sent twice is one notice.
    pub fine_id: Uuid,
    pub event_id: EventId,
    /// The vehicle's owner ("chủ phương tiện"); for a vehicle an [`Self::organisation`] owns,
    /// the person who answers for it (its legal representative).
    pub citizen_id: CitizenId,
    /// The organisation that owns the vehicle, when one does: the notice is to it, answered by
    /// [`Self::citizen_id`] on its behalf. It must name who was driving; if it does not, it is
    /// sanctioned as the organisation that committed the violation (Decree 168/2024/NĐ-CP,
    /// Article 47 clause 8 point b).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<Organisation>,
    /// Display form, e.g. `51F-123.45`.
    pub plate: String,
    pub plate_colour: PlateColour,
    pub vehicle_class: VehicleClass,
    pub kind: ViolationKind,
    pub occurred_at: UtcTimestamp,
    pub place: String,
    pub address: String,
    /// What the camera measured: speed and limit, the signal and the time into red, the lane.
    #[serde(default)]
    pub measurement: Measurement,
    /// The provision the violation falls under (article, clause and point of the decree).
    pub legal_reference: String,
    /// The notice must reach the owner by this time (10 days from detection).
    pub notice_due: UtcTimestamp,
    /// The owner is to come to the handling unit, or answer online, by this time (20 days from
    /// the notice).
    pub answer_due: UtcTimestamp,
    pub issued_at: UtcTimestamp,
    /// The detecting and handling unit, with its address and contact phone.
    pub issuing_unit: String,
    /// The evidence the owner may see (the images and the clip), by content hash; the portal
    /// shows each through a signed link to central's store ([`crate::evidence_link`]).
    #[serde(default)]
    pub evidence: Vec<EvidenceItem>,
    /// How the owner may be reached besides the citizen app, from the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// On a notice to a person the vehicle's registered owner named — as the driver
    /// ([`FineChange::DriverNamed`]) or as the buyer of the vehicle ([`FineChange::VehicleSold`])
    /// —, which: the notice is theirs to answer, not the owner's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub named_as: Option<NamedAs>,
}

/// What the registered owner named the addressee of a notice as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NamedAs {
    /// The person driving: they answer for themselves and cannot name another.
    Driver,
    /// The person the vehicle was sold to before the violation: they answer as its owner (and
    /// may name the driver).
    Buyer,
}

impl NamedAs {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Driver => "driver",
            Self::Buyer => "buyer",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Driver, Self::Buyer]
            .into_iter()
            .find(|n| n.as_str() == text)
    }
}

/// A penalty decision ("Quyết định xử phạt vi phạm hành chính") on a case, issued by an officer
/// with sanctioning authority after the owner (or the driver) answered: the amount to pay, the
/// licence points deducted, and by when to pay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PenaltyDecision {
    /// Idempotency key: the same decision sent twice is one decision.
    pub decision_id: Uuid,
    /// The case ([`ViolationNotice::fine_id`]).
    pub fine_id: Uuid,
    /// `Số: 000123/QĐ-XPHC`.
    pub decision_number: String,
    /// The person sanctioned; for an [`Self::organisation`] sanctioned, the person who answers
    /// for it.
    pub citizen_id: CitizenId,
    /// The organisation sanctioned, when the case is an organisation's that named no driver
    /// (Decree 168/2024/NĐ-CP, Article 47 clause 8 point b): its fine is twice an individual's
    /// (Law 15/2012/QH13, Article 3 clause 1 point e) and, holding no licence, it loses no
    /// points (`points` 0, `points_left` 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<Organisation>,
    pub amount_vnd: u64,
    /// Licence points deducted ("Số điểm GPLX bị trừ").
    pub points: u8,
    /// Points left on the licence after this deduction (of 12).
    pub points_left: u8,
    pub legal_reference: String,
    /// The mitigating or aggravating circumstance that moved the amount from the middle of the
    /// range, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circumstance: Option<String>,
    /// Who decided: name and title.
    pub decided_by: String,
    pub decided_at: UtcTimestamp,
    /// To be paid by this time (10 days from the decision).
    pub pay_by: UtcTimestamp,
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

impl Validate for ViolationNotice {
    fn validate(&self) -> Result<(), Invalid> {
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
        if self.answer_due.as_datetime() <= self.issued_at.as_datetime() {
            return Err(Invalid::new("answer_due", "must be after issued_at"));
        }
        if let Some(o) = &self.organisation {
            o.validate("organisation")?;
        }
        Ok(())
    }
}

impl PenaltyDecision {
    /// The amount to pay at `at`: the fine, and after [`Self::pay_by`] 0.05 % of it for each
    /// day (begun) of delay (Law 15/2012/QH13 on Handling Administrative Violations, Article 78
    /// clause 1), rounded down to the đồng.
    pub fn amount_due(&self, at: UtcTimestamp) -> u64 {
        const DAY_MS: i64 = 86_400_000;
        let late_ms = at.unix_ms() - self.pay_by.unix_ms();
        if late_ms <= 0 {
            return self.amount_vnd;
        }
        let days = u64::try_from((late_ms + DAY_MS - 1) / DAY_MS).unwrap_or(0);
        self.amount_vnd + self.amount_vnd.saturating_mul(5).saturating_mul(days) / 10_000
    }
}

impl Validate for PenaltyDecision {
    fn validate(&self) -> Result<(), Invalid> {
        if self.decision_number.is_empty() || self.decision_number.len() > 64 {
            return Err(Invalid::new("decision_number", "must be 1-64 bytes"));
        }
        if self.amount_vnd == 0 {
            return Err(Invalid::new("amount_vnd", "must be positive"));
        }
        Invalid::check_safe_integer("amount_vnd", Some(self.amount_vnd))?;
        if self.points > 12 || self.points_left > 12 {
            return Err(Invalid::new("points", "a licence holds 12 points"));
        }
        if let Some(o) = &self.organisation {
            o.validate("organisation")?;
            if self.points != 0 {
                return Err(Invalid::new(
                    "points",
                    "an organisation holds no driving licence: no points are deducted",
                ));
            }
        }
        if self.legal_reference.is_empty() || self.decided_by.is_empty() {
            return Err(Invalid::new(
                "legal_reference",
                "legal_reference and decided_by are required",
            ));
        }
        if self.pay_by.as_datetime() <= self.decided_at.as_datetime() {
            return Err(Invalid::new("pay_by", "must be after decided_at"));
        }
        Ok(())
    }
}

/// What became of a case on the citizen's side, as citizen-notify reports it to central-api:
/// the notice delivered or not, the owner's answer, the payment of the decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FineUpdate {
    /// Idempotency key: the same update sent twice is one update.
    pub update_id: Uuid,
    pub fine_id: Uuid,
    /// When it happened.
    pub at: UtcTimestamp,
    pub change: FineChange,
    /// The documents attached to an answer (a sale contract, a police report, what supports an
    /// explanation), each sent to central before the update ([`crate::answer_document`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<AnswerDocument>,
}

/// The change an update reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FineChange {
    /// The notice reached the citizen through `channel` (e.g. `push`).
    NoticeDelivered { channel: String },
    /// Every attempt through `channel` failed: the notice must reach the owner another way.
    NoticeFailed { channel: String, error: String },
    /// The owner declared they were driving and acknowledged the violation.
    Confirmed,
    /// The owner explains or disagrees ("giải trình"), for this reason.
    Disputed { reason: String },
    /// The owner declares that another person was driving ("người điều khiển"): the case moves
    /// to that person, who is sent a notice of their own and answers in turn.
    DriverNamed { driver: NamedDriver },
    /// The registered owner had sold the vehicle before the violation (the registration not
    /// yet moved): the case moves to the buyer, who answers in turn.
    VehicleSold {
        buyer: Buyer,
        /// The day of the sale, `YYYY-MM-DD`.
        sold_on: String,
        /// What proves it: the sale contract's number, where it was notarised or certified.
        contract: String,
    },
    /// The vehicle had been stolen, as reported to the police: an explanation a supervisor
    /// verifies, like [`Self::Disputed`].
    VehicleStolen {
        /// The day the theft was reported, `YYYY-MM-DD`.
        reported_on: String,
        /// The police unit it was reported to, and the report's number.
        report: String,
    },
    /// The penalty decision was paid through the payment gateway.
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
            Self::DriverNamed { .. } => "driver_named",
            Self::VehicleSold { .. } => "vehicle_sold",
            Self::VehicleStolen { .. } => "vehicle_stolen",
            Self::Paid { .. } => "paid",
        }
    }
}

impl Validate for FineUpdate {
    fn validate(&self) -> Result<(), Invalid> {
        if !self.documents.is_empty() {
            let answer = matches!(
                self.change,
                FineChange::Disputed { .. }
                    | FineChange::DriverNamed { .. }
                    | FineChange::VehicleSold { .. }
                    | FineChange::VehicleStolen { .. }
            );
            if !answer {
                return Err(Invalid::new(
                    "documents",
                    "only an answer that explains, names a person or declares a sale or a theft carries documents",
                ));
            }
            if self.documents.len() > MAX_DOCUMENTS {
                return Err(Invalid::new(
                    "documents",
                    format!("at most {MAX_DOCUMENTS}"),
                ));
            }
            for (i, d) in self.documents.iter().enumerate() {
                d.validate(&format!("documents[{i}]"))?;
            }
        }
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
            FineChange::DriverNamed { driver } => {
                sized("change.driver.full_name", &driver.full_name, 100)?;
                if !NamedDriver::valid_licence(&driver.licence_no) {
                    return Err(Invalid::new(
                        "change.driver.licence_no",
                        "must be the licence's 12 digits",
                    ));
                }
                Ok(())
            }
            FineChange::VehicleSold {
                buyer,
                sold_on,
                contract,
            } => {
                sized("change.buyer.full_name", &buyer.full_name, 100)?;
                day("change.sold_on", sold_on)?;
                sized("change.contract", contract, 200)
            }
            FineChange::VehicleStolen {
                reported_on,
                report,
            } => {
                day("change.reported_on", reported_on)?;
                sized("change.report", report, 200)
            }
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

/// The person an owner names as the driver: as their citizen identity card and their driving
/// licence ("giấy phép lái xe") say. Central checks the name against the population database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedDriver {
    pub full_name: String,
    pub citizen_id: CitizenId,
    /// The driving licence's number: 12 digits (licences issued since 2013 carry the number of
    /// the PET card).
    pub licence_no: String,
}

/// The person an owner sold the vehicle to, as their citizen identity card says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Buyer {
    pub full_name: String,
    pub citizen_id: CitizenId,
}

/// `text` as a day, `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Option<time::Date> {
    time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// A day as a message carries it, or why not.
fn day(field: &'static str, text: &str) -> Result<(), Invalid> {
    parse_day(text)
        .map(|_| ())
        .ok_or_else(|| Invalid::new(field, "must be a day, YYYY-MM-DD"))
}

impl NamedDriver {
    /// Whether `number` is written as a driving licence number: 12 digits.
    pub fn valid_licence(number: &str) -> bool {
        number.len() == 12 && number.bytes().all(|b| b.is_ascii_digit())
    }

    /// `full_name` as compared with the population database's: words in lower case, single
    /// spaces (the diacritics kept: "Lê" and "Le" are different names).
    pub fn comparable_name(full_name: &str) -> String {
        full_name
            .split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// How a case came out other than by a penalty decision and its payment: the answer to an
/// owner's explanation, decided by a supervisor, or a case central closed itself (time-barred,
/// moved to the person the owner named). central-api sends it to citizen-notify, which shows it
/// to the person the case was against, and closes the case there.
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
    /// What the resolution answers; left out for the answer to an explanation.
    #[serde(default, skip_serializing_if = "ResolutionGround::is_dispute")]
    pub ground: ResolutionGround,
}

/// What a [`FineResolution`] answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionGround {
    /// The owner's explanation, considered by a supervisor.
    #[default]
    Dispute,
    /// Nothing: the case was not decided within the time limit for sanctioning (Law on Handling
    /// of Administrative Violations 15/2012/QH13, Article 6 clause 1 point a: one year), so no
    /// decision may be made and nothing is owed. Always `cancelled`.
    TimeBarred,
    /// The owner's declaration of who drove (or who had bought the vehicle before the
    /// violation), accepted: the case goes on against that person, and nothing is owed on this
    /// one. Always `cancelled`.
    Transferred,
}

impl ResolutionGround {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dispute => "dispute",
            Self::TimeBarred => "time_barred",
            Self::Transferred => "transferred",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Dispute, Self::TimeBarred, Self::Transferred]
            .into_iter()
            .find(|g| g.as_str() == text)
    }

    fn is_dispute(&self) -> bool {
        *self == Self::Dispute
    }
}

/// What the dispute came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisputeOutcome {
    /// The explanation is not accepted: the case goes on to a penalty decision (or, decided
    /// already, the decision stands).
    Upheld,
    /// The case is closed (or its decision cancelled): nothing is owed.
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
        if self.ground != ResolutionGround::Dispute && self.outcome != DisputeOutcome::Cancelled {
            return Err(Invalid::new(
                "outcome",
                "a case closed by central (time-barred, transferred) is always cancelled",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
