//! What citizen-notify keeps of a citizen, sealed at rest ([`service_kit::sealed`]) under the
//! key of `sealing.key_file`, each value bound to its row: a copied disk, a backup or a replica
//! of the database names no one, and a value moved to another row does not open there.
//!
//! - [`NOTICES`]: a notice of violation carries the owner's phone and e-mail as the registry
//!   gave them, the plate, where and when the vehicle was seen, and the organisation that owns
//!   it;
//! - [`DECISIONS`]: a penalty decision holds the sanction of a person, the points left on their
//!   licence and the circumstances weighed;
//! - [`REPORTS`]: what is reported to central of an answer names a driver or a buyer (name,
//!   number, licence) or carries a dispute's reason;
//! - [`RESPONSES`]: the owner's answer as the portal shows it back (the reason, the person
//!   named, the theft report);
//! - [`DOCUMENTS`]: the documents attached to an answer (a contract of sale, a police report);
//! - [`RESOLUTION_ANSWERS`], [`RESOLUTIONS`]: central's answer to the owner's dispute, which
//!   answers what they wrote;
//! - [`SESSIONS`]: the name of a citizen signed in to the portal, as the identity provider gave
//!   it, kept while the session lives.
//!
//! What stays in the clear is what the service looks rows up by or counts: the citizen's
//! number (their notices are found by it at sign-in), the case's id, kinds, states, times,
//! amounts and each payload's SHA-256. A value an earlier version kept in
//! the clear opens as it is and is sealed at the next start, as is one sealed under a key
//! since rotated ([`reseal_all`]).

pub use service_kit::sealed::columns::{RowKey, SealedColumn};
use service_kit::sealed::{
    ResealCount, SealingKey,
    columns::{reseal, reseal_bytes},
};

use super::{Db, DbError};

/// Notices of violation, keyed by the case's id (a purged notice's payload is empty).
pub const NOTICES: SealedColumn = SealedColumn {
    table: "notices",
    key: RowKey::Text("fine_id"),
    value: "payload",
    rows: "payload <> ''",
    bound: "notice",
    what: "notice",
};

/// Penalty decisions, keyed by the case's id.
pub const DECISIONS: SealedColumn = SealedColumn {
    table: "decisions",
    key: RowKey::Text("fine_id"),
    value: "payload",
    rows: "TRUE",
    bound: "decision",
    what: "penalty decision",
};

/// Reports to central, keyed by the update's id.
pub const REPORTS: SealedColumn = SealedColumn {
    table: "reports",
    key: RowKey::Text("update_id"),
    value: "payload",
    rows: "TRUE",
    bound: "report",
    what: "report",
};

/// The owner's answers, keyed by the case's id.
pub const RESPONSES: SealedColumn = SealedColumn {
    table: "responses",
    key: RowKey::Text("fine_id"),
    value: "reason",
    rows: "TRUE",
    bound: "response",
    what: "answer",
};

/// Documents attached to answers, keyed by their report's id and their SHA-256.
pub const DOCUMENTS: SealedColumn = SealedColumn {
    table: "answer_documents",
    key: RowKey::Text("update_id || ':' || sha256"),
    value: "body",
    rows: "TRUE",
    bound: "answer_document",
    what: "document",
};

/// Central's answers to the owner's disputes, keyed by the resolution's id: the words the unit
/// answered with, and the message as central signed it.
pub const RESOLUTION_ANSWERS: SealedColumn = SealedColumn {
    table: "resolutions",
    key: RowKey::Text("resolution_id"),
    value: "answer",
    rows: "TRUE",
    bound: "resolution:answer",
    what: "answer to a dispute",
};

/// The messages of [`RESOLUTION_ANSWERS`]' rows, as central signed them.
pub const RESOLUTIONS: SealedColumn = SealedColumn {
    table: "resolutions",
    key: RowKey::Text("resolution_id"),
    value: "payload",
    rows: "TRUE",
    bound: "resolution",
    what: "resolution",
};

/// The names of citizens signed in, keyed by their session token's digest.
pub const SESSIONS: SealedColumn = SealedColumn {
    table: "sessions",
    key: RowKey::Text("token_sha256"),
    value: "name",
    rows: "TRUE",
    bound: "session",
    what: "session",
};

/// The sealed text columns (beside [`DOCUMENTS`], of bytes).
pub const TEXT: [&SealedColumn; 7] = [
    &NOTICES,
    &DECISIONS,
    &REPORTS,
    &RESPONSES,
    &SESSIONS,
    &RESOLUTION_ANSWERS,
    &RESOLUTIONS,
];

/// The key of a document's row in [`DOCUMENTS`].
pub fn document_row(update_id: &str, sha256: &str) -> String {
    format!("{update_id}:{sha256}")
}

/// Seals every value of this module's columns kept in the clear, or under a former key, under
/// `key`; what opens under no configured key is counted and left.
pub async fn reseal_all(db: &Db, key: &SealingKey) -> Result<ResealCount, DbError> {
    let mut count = ResealCount::default();
    for column in TEXT {
        count = count.plus(reseal(db, key, column).await?);
    }
    Ok(count.plus(reseal_bytes(db, key, &DOCUMENTS).await?))
}
