//! Four eyes: the changes one officer must not make alone wait for a second officer
//! ([`crate::db::requests`]). An administrator's officer creation, role or password change and
//! device registration or key change wait for another administrator; a supervisor's reversal of
//! a decision and cancellation of a disputed fine wait for another supervisor. Nobody confirms
//! their own request, nor a change to their own account; anybody allowed to confirm may refuse,
//! and the requester may withdraw. The
//! command line (the server's operator: the first officers and devices) makes its changes
//! directly, as before, and says so in the audit log (`admin:cli`).

use protocol::{DeviceId, DevicePublicKey, EventId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::{
    auth::{Officer, Role},
    db::{
        DbError, devices, disputes, officers,
        requests::{self, Confirmation, Kind, Request},
    },
    error::ServiceError,
    review,
    state::AppState,
};

/// A change that is made at once, or a request waiting for a second officer.
#[derive(Debug, Clone)]
pub enum Done<T> {
    Made(T),
    Requested(Box<Request>),
}

/// Whether officers of `role` may make (and so confirm or refuse) changes of `kind`.
pub fn may_confirm(role: Role, kind: Kind) -> bool {
    match kind {
        Kind::OfficerSave | Kind::DeviceRegister => role.administers(),
        Kind::ViolationReverse | Kind::FineCancel => role.supervises(),
    }
}

/// Stores, as `officer`'s, a request of `kind` on `subject` to make `payload`.
pub async fn request(
    state: &AppState,
    officer: &Officer,
    kind: Kind,
    subject: &str,
    payload: Value,
) -> Result<Request, ServiceError> {
    requests::open(
        &state.db,
        &state.audit,
        kind,
        subject,
        &payload,
        (&officer.username, &officer.actor()),
    )
    .await?
    .map_err(ServiceError::from)
}

/// The requests waiting that `officer` may confirm or refuse (every one for an auditor, who
/// reads them), oldest first; those of `subject` only when given.
pub async fn waiting_for(
    state: &AppState,
    officer: &Officer,
    subject: Option<&str>,
) -> Result<Vec<Request>, ServiceError> {
    let all = requests::waiting(&state.db, subject, OffsetDateTime::now_utc()).await?;
    Ok(all
        .into_iter()
        .filter(|r| {
            officer.role == Role::Auditor
                || r.kind().is_some_and(|k| may_confirm(officer.role, k))
                || r.requested_by == officer.username
        })
        .collect())
}

/// A request confirmed: the request as it now stands and what the change made (as its own
/// endpoint would have answered).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Confirmed {
    pub request: Request,
    #[schema(value_type = Object)]
    pub result: Value,
}

/// The request `id`, when `officer` may act on it (allowed to make its change, or its
/// requester), still waiting.
async fn waiting_one(
    state: &AppState,
    officer: &Officer,
    id: uuid::Uuid,
) -> Result<(Request, Kind), ServiceError> {
    let request = requests::get(&state.db, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("not_found", format!("no request {id}")))?;
    let kind = request.kind().ok_or_else(|| {
        ServiceError::from(DbError::Corrupt(format!("request {id}: unknown kind")))
    })?;
    if !may_confirm(officer.role, kind) && request.requested_by != officer.username {
        return Err(ServiceError::forbidden(
            "forbidden",
            format!(
                "the {} role may not decide on {}",
                officer.role.as_str(),
                request.kind
            ),
        ));
    }
    let now = OffsetDateTime::now_utc();
    if !request.waiting(now) {
        let state = if request.status == "pending" {
            "lapsed"
        } else {
            request.status.as_str()
        };
        return Err(settled(format!("request {id} is {state}")));
    }
    Ok((request, kind))
}

fn settled(message: String) -> ServiceError {
    ServiceError::conflict("request_settled", message)
}

/// `officer` confirms request `id`: the change it asks for is made as theirs, with the request
/// marked confirmed in the same transaction. Refused to its own requester.
pub async fn confirm(
    state: &AppState,
    officer: &Officer,
    id: uuid::Uuid,
) -> Result<Confirmed, ServiceError> {
    let (request, kind) = waiting_one(state, officer, id).await?;
    if !may_confirm(officer.role, kind) {
        return Err(ServiceError::forbidden(
            "forbidden",
            format!(
                "the {} role may not confirm {}",
                officer.role.as_str(),
                request.kind
            ),
        ));
    }
    if request.requested_by == officer.username {
        return Err(ServiceError::conflict(
            "second_officer_needed",
            format!(
                "{} asked for this change: another officer confirms it",
                request.requested_by
            ),
        ));
    }
    // Nor a change to one's own account (a password one would then know, a role one would hold).
    if request.subject == officer.actor() {
        return Err(ServiceError::conflict(
            "second_officer_needed",
            "this changes your own account: another officer confirms it",
        ));
    }
    let confirmation = Confirmation {
        request_id: id,
        requested_by: request.requested_by.clone(),
        by: officer.username.clone(),
    };
    let result = make(state, officer, kind, &request.payload, &confirmation).await?;
    let request = requests::get(&state.db, id)
        .await?
        .ok_or_else(|| ServiceError::from(DbError::Corrupt(format!("request {id} gone"))))?;
    Ok(Confirmed { request, result })
}

/// `officer` refuses request `id` (withdraws it, when it is theirs), saying why in `note`
/// (1–2000 characters).
pub async fn refuse(
    state: &AppState,
    officer: &Officer,
    id: uuid::Uuid,
    note: &str,
) -> Result<Request, ServiceError> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 2000 {
        return Err(ServiceError::bad_request(
            "note",
            "must be 1-2000 characters",
        ));
    }
    let (request, _) = waiting_one(state, officer, id).await?;
    let by = (officer.username.as_str(), officer.actor());
    if !requests::refuse(&state.db, &state.audit, &request, (by.0, &by.1), note).await? {
        return Err(settled(format!("request {id} no longer waits")));
    }
    requests::get(&state.db, id)
        .await?
        .ok_or_else(|| ServiceError::from(DbError::Corrupt(format!("request {id} gone"))))
}

/// What an officer request carries: the officer and their password's hash.
#[derive(Debug, Serialize, Deserialize)]
pub struct OfficerChange {
    pub username: String,
    pub full_name: String,
    pub role: String,
    pub password_hash: String,
}

/// What a device request carries.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeviceChange {
    pub id: String,
    pub public_key: String,
    pub name: String,
}

/// What a reversal or a cancellation carries.
#[derive(Debug, Serialize, Deserialize)]
pub struct CaseChange {
    pub event_id: EventId,
    /// The reason code a withdrawn approval is rejected with.
    #[serde(default)]
    pub reason: Option<String>,
    /// The note of a reversal, or the answer to the owner of a cancellation.
    pub note: String,
}

fn payload<T: serde::de::DeserializeOwned>(payload: &Value) -> Result<T, ServiceError> {
    serde_json::from_value(payload.clone())
        .map_err(|e| DbError::Corrupt(format!("request payload: {e}")).into())
}

/// Makes the change of a request of `kind` on `confirmation`.
async fn make(
    state: &AppState,
    officer: &Officer,
    kind: Kind,
    change: &Value,
    confirmation: &Confirmation,
) -> Result<Value, ServiceError> {
    let lapsed = || {
        settled(format!(
            "request {} no longer waits",
            confirmation.request_id
        ))
    };
    let actor = officer.actor();
    match kind {
        Kind::OfficerSave => {
            let c: OfficerChange = payload(change)?;
            let role = Role::parse(&c.role)
                .ok_or_else(|| ServiceError::from(DbError::Corrupt(format!("role {}", c.role))))?;
            let saved = Officer {
                username: c.username,
                full_name: c.full_name,
                role,
            };
            let db = &state.db;
            if !officers::save(
                db,
                &state.audit,
                &actor,
                &saved,
                &c.password_hash,
                Some(confirmation),
            )
            .await?
            {
                return Err(lapsed());
            }
            Ok(json!({ "username": saved.username, "full_name": saved.full_name, "role": c.role }))
        }
        Kind::DeviceRegister => {
            let c: DeviceChange = payload(change)?;
            let corrupt = |e: String| ServiceError::from(DbError::Corrupt(e));
            let id = DeviceId::parse(&c.id).map_err(|e| corrupt(e.to_string()))?;
            let key =
                DevicePublicKey::from_base64(&c.public_key).map_err(|e| corrupt(e.to_string()))?;
            let device = (&id, &key, c.name.as_str());
            if !devices::save(&state.db, &state.audit, &actor, device, Some(confirmation)).await? {
                return Err(lapsed());
            }
            Ok(json!({ "id": c.id }))
        }
        Kind::ViolationReverse => {
            let c: CaseChange = payload(change)?;
            let reason = c.reason.as_deref();
            let done =
                review::reverse_now(state, officer, &c.event_id, reason, &c.note, confirmation)
                    .await?;
            Ok(serde_json::to_value(done).map_err(ServiceError::internal)?)
        }
        Kind::FineCancel => {
            let c: CaseChange = payload(change)?;
            let resolution = disputes::resolve(
                &state.db,
                &state.audit,
                &c.event_id,
                (&officer.username, &actor),
                (protocol::DisputeOutcome::Cancelled, &c.note),
                Some(confirmation),
            )
            .await??;
            Ok(serde_json::to_value(resolution).map_err(ServiceError::internal)?)
        }
    }
}
