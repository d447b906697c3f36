//! Why the service layer refused or could not take a step, in the domain's terms: a field not
//! valid, a role that may not, a case or request in a state that refuses the step, something
//! purged, a registry out of reach. No HTTP here: the service modules ([`crate::review`],
//! [`crate::four_eyes`], [`crate::stats`], [`crate::auth`]'s role checks) return a
//! [`ServiceError`], and `routes::error` alone says which HTTP status each kind is. The `code`
//! each carries is the machine-readable reason clients read (`not_pending`, `time_barred`…),
//! part of the API's contract.

use crate::db::{
    DbError, decisions::NotDecided, disputes::NotOpen, requests::NotRequested, review::Refused,
};

/// A refusal or failure of a step on a case, a request or a query.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// What was asked is not valid as given (a field, a filter, a note).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// The officer's role may not take this step.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// There is no such case, request or record (or none the officer may see).
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The state of the case or request refuses the step (already decided, still waiting for
    /// evidence, time-barred…).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// It was there and has been purged under a retention rule.
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// A system the step depends on (the vehicle registry) did not answer.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// Storage failed (or its disk is full).
    #[error(transparent)]
    Db(#[from] DbError),
    /// A failure of ours, logged in full where it is turned into an answer.
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    /// A field of the request that is not valid: `` `field`: message `` (`bad_request`).
    pub fn bad_request(field: &str, message: impl std::fmt::Display) -> Self {
        Self::Invalid {
            code: "bad_request",
            message: format!("`{field}`: {message}"),
        }
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn gone(code: &'static str, message: impl Into<String>) -> Self {
        Self::Gone {
            code,
            message: message.into(),
        }
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unavailable {
            code,
            message: message.into(),
        }
    }

    /// A failure of ours (a value that would not serialize, a stored row that does not read).
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}

impl From<Refused> for ServiceError {
    fn from(r: Refused) -> Self {
        let message = r.to_string();
        match r {
            Refused::NotFound(_) => Self::not_found("not_found", message),
            Refused::NotPending(_) => Self::conflict("not_pending", message),
            Refused::NoOwner => Self::conflict("no_owner", message),
            Refused::OwnCorrection(_) => Self::conflict("second_officer_needed", message),
            Refused::NoFine(_) => Self::conflict("no_fine", message),
            Refused::Settled => Self::conflict("request_settled", message),
            Refused::TimeBarred(_) => Self::conflict("time_barred", message),
        }
    }
}

impl From<NotDecided> for ServiceError {
    fn from(e: NotDecided) -> Self {
        let code = match e {
            NotDecided::NoCase => "no_case",
            NotDecided::Already(_) => "decided",
            NotDecided::NotAnswered(_) => "not_answered",
            NotDecided::Final(_) => "case_final",
            NotDecided::ExplanationPeriod(_) => "explanation_period",
            NotDecided::Amount(_) => "amount",
        };
        Self::conflict(code, e.to_string())
    }
}

/// A refusal to answer or withdraw a dispute.
impl From<NotOpen> for ServiceError {
    fn from(e: NotOpen) -> Self {
        let code = match e {
            NotOpen::NoFine => "no_fine_issued",
            NotOpen::NotDisputed(_) => "not_disputed",
            NotOpen::Disputed => "disputed",
            NotOpen::Final(_) => "fine_final",
            NotOpen::Settled => "request_settled",
        };
        Self::conflict(code, e.to_string())
    }
}

/// An administrator's change refused ([`crate::admin`]).
impl From<crate::admin::Refused> for ServiceError {
    fn from(e: crate::admin::Refused) -> Self {
        use crate::admin::Refused;
        match e {
            Refused::Invalid(field, message) => Self::bad_request(field, message),
            Refused::NotFound(message) => Self::not_found("not_found", message),
            Refused::Conflict(message) => Self::conflict("changed", message),
            Refused::Waiting(message) => Self::conflict("request_waiting", message),
            Refused::Db(e) => Self::Db(e),
            Refused::Other(e) => Self::internal(format!("{e:#}")),
        }
    }
}

/// A change that waits for a second officer asked again while the first request waits.
impl From<NotRequested> for ServiceError {
    fn from(e: NotRequested) -> Self {
        Self::conflict("request_waiting", e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_keeps_the_code_clients_read() {
        let e = ServiceError::from(Refused::NoOwner);
        assert!(
            matches!(
                e,
                ServiceError::Conflict {
                    code: "no_owner",
                    ..
                }
            ),
            "{e:?}"
        );
        let e = ServiceError::bad_request("plate", "not a plate");
        assert_eq!(e.to_string(), "`plate`: not a plate");
    }
}
