//! The forms the violation page posts: decisions, the plate corrected, a dispute resolved, a
//! case reversed or held; and the evidence and documents it links to. After a decision the
//! officer goes straight on to the next violation pending review.

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use protocol::{PlateColour, Sha256Digest};
use serde::Deserialize;

use super::{Desk, Flash};
use crate::error::ServiceError;
use crate::{
    db::{evidence as db_evidence, review as db_review},
    fines::process::Circumstance,
    four_eyes::Done,
    review::{self, event_id},
    routes::{ApiError, evidence},
    state::AppState,
};

use super::*;

#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    csrf: String,
    outcome: String,
    answer: String,
}

/// `POST /review/violations/{id}/resolve`: a supervisor answers the owner's dispute, then back to
/// the disputes.
pub async fn resolve(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<ResolveForm>,
) -> Response {
    decide(
        &state,
        &desk,
        &id,
        &f.csrf,
        async |id| match review::resolve(&state, &desk.officer, id, &f.outcome, &f.answer).await? {
            Done::Made(done) => Ok((
                "/review/disputes".to_owned(),
                Some(Flash::resolved(id, done.outcome)),
            )),
            Done::Requested(_) => Ok((
                format!("/review/violations/{id}"),
                Some(Flash::requested(id)),
            )),
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct HoldForm {
    csrf: String,
    reason: Option<String>,
    lift: Option<String>,
}

/// `POST /review/violations/{id}/hold`: a supervisor sets (`reason`) or lifts (`lift`) the
/// legal hold, then sees the violation again.
pub async fn hold(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<HoldForm>,
) -> Response {
    decide(&state, &desk, &id, &f.csrf, async |id| {
        let reason = match f.lift {
            Some(_) => None,
            None => Some(f.reason.as_deref().unwrap_or("")),
        };
        review::legal_hold(&state, &desk.officer, id, reason).await?;
        Ok((format!("/review/violations/{id}"), None))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct ReverseForm {
    csrf: String,
    reason: Option<String>,
    note: String,
}

/// `POST /review/violations/{id}/reverse`: a supervisor withdraws an approval or reopens a
/// rejection, then sees the violation again.
pub async fn reverse(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<ReverseForm>,
) -> Response {
    decide(&state, &desk, &id, &f.csrf, async |id| {
        let reason = f.reason.as_deref().filter(|r| !r.is_empty());
        review::reverse(&state, &desk.officer, id, reason, &f.note).await?;
        Ok((
            format!("/review/violations/{id}"),
            Some(Flash::requested(id)),
        ))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct PlateForm {
    csrf: String,
    plate: String,
    colour: Option<PlateColour>,
}

/// `POST /review/violations/{id}/plate`: corrects the plate, then shows the violation again.
pub async fn plate(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<PlateForm>,
) -> Response {
    decide(&state, &desk, &id, &f.csrf, async |id| {
        review::correct_plate(&state, &desk.officer, id, &f.plate, f.colour).await?;
        Ok((format!("/review/violations/{id}"), None))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /review/violations/{id}/approve`: issues the fine, then on to the next violation.
pub async fn approve(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    decide(&state, &desk, &id, &f.csrf, async |id| {
        review::approve(&state, &desk.officer, id).await?;
        Ok((next(&state, id).await?, Some(Flash::approved(id))))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    csrf: String,
    amount_vnd: Option<String>,
    circumstance: Option<String>,
    circumstance_note: Option<String>,
}

/// `POST /review/violations/{id}/decision`: an officer with sanctioning authority decides the
/// answered case, then sees it again.
pub async fn decision(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    decide(&state, &desk, &id, &f.csrf, async |id| {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|t| !t.is_empty())
        }
        let amount_vnd = given(&f.amount_vnd)
            .map(|a| a.parse::<u64>())
            .transpose()
            .map_err(|_| ServiceError::bad_request("amount_vnd", "a whole number of đồng"))?;
        let circumstance = given(&f.circumstance)
            .map(|c| {
                Circumstance::parse(c)
                    .ok_or_else(|| ServiceError::bad_request("circumstance", "unknown"))
            })
            .transpose()?;
        let asked = review::DecisionRequest {
            amount_vnd,
            circumstance,
            circumstance_note: given(&f.circumstance_note).map(str::to_owned),
        };
        let done = review::decide(&state, &desk.officer, id, &asked).await?;
        Ok((
            format!("/review/violations/{id}"),
            Some(Flash::decided(id, &done.decision_number)),
        ))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct RejectForm {
    csrf: String,
    reason: String,
    note: Option<String>,
}

/// `POST /review/violations/{id}/reject`: rejects with a reason, then on to the next violation.
pub async fn reject(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<RejectForm>,
) -> Response {
    decide(&state, &desk, &id, &f.csrf, async |id| {
        review::reject(&state, &desk.officer, id, &f.reason, f.note.as_deref()).await?;
        Ok((next(&state, id).await?, Some(Flash::rejected(id))))
    })
    .await
}

/// Runs one decision on the violation `id` for a form with CSRF token `csrf`: on success goes
/// where the decision says, with what was done for the next page to say; otherwise shows the
/// violation again with the reason.
pub(super) async fn decide(
    state: &AppState,
    desk: &Desk,
    id: &str,
    csrf: &str,
    work: impl AsyncFnOnce(&protocol::EventId) -> Result<(String, Option<Flash>), ApiError>,
) -> Response {
    if let Some(refused) = desk.forged(csrf) {
        return refused;
    }
    let id = match event_id(id) {
        Ok(id) => id,
        Err(e) => return desk.failure(e),
    };
    match work(&id).await {
        Ok((to, flash)) => match flash.map(|f| f.cookie()) {
            Some(Ok(cookie)) => (cookie, Redirect::to(&to)).into_response(),
            Some(Err(e)) => desk.failure(e),
            None => Redirect::to(&to).into_response(),
        },
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => desk.failure(e),
        Err(e) => match review::detail(state, &desk.officer, &id).await {
            Ok(d) => render(desk, &d, Some(&e)),
            Err(_) => desk.failure(e),
        },
    }
}

/// Where to go after deciding on `id`: the next violation pending review, or the queue.
pub(super) async fn next(state: &AppState, id: &protocol::EventId) -> Result<String, ApiError> {
    Ok(match db_review::next_pending(&state.db, id).await? {
        Some(next) => format!("/review/violations/{next}"),
        None => "/review".to_owned(),
    })
}

/// `GET /review/violations/{id}/next`: the violation after this one in the queue.
pub async fn skip(State(state): State<AppState>, desk: Desk, Path(id): Path<String>) -> Response {
    let id = match event_id(&id) {
        Ok(id) => id,
        Err(e) => return desk.failure(e),
    };
    match db_review::next_pending(&state.db, &id).await {
        Ok(Some(next)) => Redirect::to(&format!("/review/violations/{next}")).into_response(),
        Ok(None) => Redirect::to("/review").into_response(),
        Err(e) => desk.failure(e),
    }
}

/// `GET /review/evidence/{sha256}`: one evidence file, to a signed-in officer.
pub async fn evidence(
    State(state): State<AppState>,
    desk: Desk,
    Path(sha256): Path<String>,
) -> Response {
    let found = async {
        let sha256 = Sha256Digest::parse(&sha256)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e))?;
        let content_type = db_evidence::content_type(&state.db, &sha256)
            .await?
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file"))?;
        evidence::blob(
            &state,
            &sha256,
            &content_type,
            "private, max-age=3600",
            evidence::Serve::Inline,
        )
        .await
    };
    match found.await {
        Ok(response) => response,
        Err(e) => desk.failure(e),
    }
}

/// `GET /review/documents/{sha256}`: a document attached to an answer, to the officers (each
/// read on record, as the case's page is), always as a download.
pub async fn document(
    State(state): State<AppState>,
    desk: Desk,
    Path(sha256): Path<String>,
) -> Response {
    let found = async {
        let sha256 = Sha256Digest::parse(&sha256)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e))?;
        let (content_type, event) = crate::db::fine_updates::document(&state.db, &sha256)
            .await?
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file"))?;
        crate::review::record_read(
            &state,
            &desk.officer,
            "document.viewed",
            serde_json::json!({ "violation": event, "sha256": sha256 }),
        )
        .await?;
        evidence::blob(
            &state,
            &sha256,
            &content_type,
            "private, no-store",
            evidence::Serve::Download,
        )
        .await
    };
    match found.await {
        Ok(response) => response,
        Err(e) => desk.failure(e),
    }
}
