//! The messages central keeps that carry what the citizens table seals, sealed in the same way
//! ([`crate::sealed`], under `review.secrets_key_file`), each bound to its row: a value copied to
//! another row does not open there.
//!
//! - [`NOTICES`]: a notice of violation in the outbox carries the owner's phone and e-mail from
//!   the registry. It stays after delivery (the paper notice prints it), so it is kept sealed
//!   and opened only to send it and to print it. The outbox's other messages (penalty
//!   decisions, resolutions) carry what `fines` keeps in the clear anyway (the citizen's
//!   number, the amounts, the unit's answer) and are kept as they are.
//! - [`FINE_UPDATES`]: what citizen-notify reported, as it signed it: an owner's answer naming
//!   a driver or a buyer carries that person's name, number and licence, or the sale contract.
//!   Central keeps it as the record of what was answered, and reads a dispute's reason from it
//!   for the supervisor who answers it (`db::disputes`).
//! - [`TRANSFER_NAMES`], [`TRANSFER_LICENCES`], [`TRANSFER_CONTRACTS`]: the person an owner
//!   named, in the case moved to them, shown to the officers of that case
//!   (`db::review::fine_of`); their citizen's number stays in the clear beside them, as in the
//!   citizens table, to join the case to them.
//! - [`CORRECTION_REQUESTS`], [`CORRECTION_ANSWERS`], [`CORRECTION_EXTENSIONS`]: a citizen's
//!   request to correct their data, in their words, the answer they were given, and the reason
//!   they were told for a longer period (`db::corrections`).
//!
//! Where no key is configured the values are kept as they are, and a value kept in the clear by
//! an earlier version opens as it is; the next start seals both, and those sealed under a key
//! since rotated ([`reseal`]).

pub use service_kit::sealed::columns::{RowKey, SealedColumn, reseal};

use super::{Db, DbError};
use crate::sealed::{self, ResealCount, SealingKey};

/// Notices of violation in the outbox, keyed by their idempotency key (the case's id).
pub const NOTICES: SealedColumn = SealedColumn {
    table: "outbox",
    key: RowKey::Text("idempotency_key"),
    value: "payload",
    rows: "kind = 'violation_notice'",
    bound: "outbox:violation_notice",
    what: "notice",
};

/// What citizen-notify reported on a case, keyed by the update's id.
pub const FINE_UPDATES: SealedColumn = SealedColumn {
    table: "fine_updates",
    key: RowKey::Text("update_id"),
    value: "payload",
    rows: "TRUE",
    bound: "fine_update",
    what: "case update",
};

/// The person an owner named, in the case moved to them (`case_transfers`, keyed by the
/// owner's case): their name as their identity card gives it.
pub const TRANSFER_NAMES: SealedColumn = SealedColumn {
    table: "case_transfers",
    key: RowKey::Text("fine_id"),
    value: "full_name",
    rows: "TRUE",
    bound: "case_transfer:full_name",
    what: "person named",
};

/// A driver's licence number, in the case moved to them.
pub const TRANSFER_LICENCES: SealedColumn = SealedColumn {
    table: "case_transfers",
    key: RowKey::Text("fine_id"),
    value: "licence_no",
    rows: "licence_no IS NOT NULL",
    bound: "case_transfer:licence_no",
    what: "licence of the person named",
};

/// A buyer's contract of sale (its number and who signed it), in the case moved to them.
pub const TRANSFER_CONTRACTS: SealedColumn = SealedColumn {
    table: "case_transfers",
    key: RowKey::Text("fine_id"),
    value: "contract",
    rows: "contract IS NOT NULL",
    bound: "case_transfer:contract",
    what: "contract of the person named",
};

/// A citizen's request to correct their data (Decree 356/2025/NĐ-CP, Article 5 clause 3), in
/// their words, keyed by the request's id.
pub const CORRECTION_REQUESTS: SealedColumn = SealedColumn {
    table: "corrections",
    key: RowKey::Uuid("id"),
    value: "request",
    rows: "TRUE",
    bound: "correction:request",
    what: "correction request",
};

/// The answer given to a correction request.
pub const CORRECTION_ANSWERS: SealedColumn = SealedColumn {
    table: "corrections",
    key: RowKey::Uuid("id"),
    value: "answer",
    rows: "answer IS NOT NULL",
    bound: "correction:answer",
    what: "answer to a correction request",
};

/// The reason a correction's period was extended, told to the citizen (Decree 356/2025/NĐ-CP,
/// Article 5 clause 3): it speaks of their data.
pub const CORRECTION_EXTENSIONS: SealedColumn = SealedColumn {
    table: "corrections",
    key: RowKey::Uuid("id"),
    value: "extension_reason",
    rows: "extension_reason IS NOT NULL",
    bound: "correction:extension_reason",
    what: "reason a correction's period was extended",
};

/// The payload of an outbox row of `kind` keyed `row` as stored, opened under `key`: a notice
/// sealed as [`NOTICES`] seals it, a value in the clear as it is.
pub fn open_outbox(
    key: Option<&SealingKey>,
    kind: &str,
    row: &str,
    stored: String,
) -> Result<String, DbError> {
    sealed::opened(key, stored, &format!("outbox:{kind}:{row}"))
        .map_err(|e| DbError::Corrupt(format!("the outbox's {kind} {row}: {e}")))
}

/// [`reseal`] of every sealed column of this module.
pub async fn reseal_all(db: &Db, key: &SealingKey) -> Result<ResealCount, DbError> {
    let mut count = ResealCount::default();
    for column in [
        &NOTICES,
        &FINE_UPDATES,
        &TRANSFER_NAMES,
        &TRANSFER_LICENCES,
        &TRANSFER_CONTRACTS,
        &CORRECTION_REQUESTS,
        &CORRECTION_ANSWERS,
        &CORRECTION_EXTENSIONS,
    ] {
        count = count.plus(reseal(db, key, column).await?);
    }
    Ok(count)
}
