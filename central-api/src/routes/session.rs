//! Sign-in and sign-out: `POST /api/v1/session`, `DELETE /api/v1/session`. The review pages
//! sign in through the same [`open`] and cookie.

use std::net::IpAddr;

use axum::{
    Extension, Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;
use service_kit::http::{ClientAddr, JsonBody};

use super::ApiError;
use crate::state::AppState;
use crate::{
    auth::{self, Officer, SESSION_COOKIE, Signed},
    db::officers,
    throttle::Refusal,
};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub username: String,
    pub password: String,
    /// The six-digit code of the officer's authenticator app, when they have a second factor.
    #[serde(default)]
    pub otp: Option<String>,
}

/// A session just opened: the officer, the token (for the cookie or a bearer header) and the
/// session's CSRF token.
#[derive(Debug)]
pub struct Opened {
    pub officer: Officer,
    pub token: String,
    pub csrf: String,
}

/// Appends `action` about `officer`'s own account to the audit log, as done by them.
async fn on_officer(
    state: &AppState,
    officer: &Officer,
    action: &str,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    state
        .audit
        .append(&officer.actor(), action, &officer.actor(), details)
        .await?;
    Ok(())
}

/// Checks the password and opens a session, recorded in the audit log. A wrong password, an
/// unknown username and a locked account are refused alike, after the same work; an attempt
/// at a username that failed too often lately, or from a client address (`client`, when known)
/// that did, waits (429), and one beyond the passwords checked at once is refused (503), before
/// any password is checked (see [`crate::throttle`]). Failures are audited with the address.
/// Each failure at a registered officer is audited, and the failures in a row that reach
/// `review.sign_in_lock_after` lock the account until an administrator unlocks it.
pub async fn open(
    state: &AppState,
    username: &str,
    password: &str,
    otp: Option<&str>,
    client: Option<IpAddr>,
) -> Result<Opened, ApiError> {
    let throttle = &state.review.throttle;
    let permit = throttle
        .admit(username, client)
        .map_err(|refusal| match refusal {
            Refusal::Wait(wait) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many failed sign-ins with this username or from this address: try again later",
            )
            .retry_after(wait.as_secs_f64().ceil() as u64),
            Refusal::Busy => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many sign-ins at once: try again in a moment",
            )
            .retry_after(1),
        })?;
    let found = officers::find(&state.db, username).await?;
    // Hash even for an unknown user or a locked account, so timing does not tell them apart.
    let hash = found
        .as_ref()
        .map(|f| f.password_hash.clone())
        .unwrap_or_else(|| state.review.dummy_hash.clone());
    let password = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .map_err(ApiError::internal)?;
    drop(permit);
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "wrong username, password or authentication code, or the account is locked",
        )
    };
    let Some(officers::Found {
        officer,
        locked,
        totp_secret,
        ..
    }) = found
    else {
        let failures = throttle.failed(username, client);
        tracing::warn!(username = %username.escape_debug(), failures, client = ?client, "sign-in refused: no such officer");
        return Err(refused());
    };
    // The second factor, once the password is right: a code good now, used once.
    let second_factor = match (&totp_secret, matches && !locked) {
        (Some(sealed), true) => {
            // A secret that does not open (no key, another key, a value moved from another
            // officer's row) is the server's fault, not the officer's: refused and logged.
            let owner = officers::totp_owner(&officer.username);
            let secret = state
                .review
                .sealing
                .as_ref()
                .ok_or(crate::sealed::Unsealable)
                .and_then(|key| key.open(sealed, &owner))
                .map_err(|e| {
                    tracing::error!(officer = %officer.username, "sign-in impossible: {e}");
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "second_factor_unavailable",
                        "the second factor cannot be checked now: tell an administrator",
                    )
                })?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let step = otp
                .zip(crate::totp::from_base32(&secret))
                .and_then(|(given, secret)| crate::totp::matching_step(&secret, given, now));
            match step {
                Some(step) => officers::use_totp_step(&state.db, &officer.username, step).await?,
                None => false,
            }
        }
        _ => true,
    };
    if !matches || locked || !second_factor {
        throttle.failed(username, client);
        let lock_after = state.review.settings.sign_in_lock_after;
        let reason = match (locked, matches) {
            (true, _) => "locked",
            (false, false) => "wrong_password",
            (false, true) => "wrong_second_factor",
        };
        let details = json!({ "reason": reason, "address": client });
        let (failures, locks) =
            officers::sign_in_failed(&state.db, &state.audit, username, lock_after, details)
                .await?
                .unwrap_or_default();
        tracing::warn!(officer = %officer.username, failures, reason, client = ?client, "sign-in refused");
        if locks {
            tracing::warn!(officer = %officer.username, failures, "account locked after failed sign-ins");
        }
        return Err(refused());
    }
    let required = &state.review.settings.second_factor_roles;
    if totp_secret.is_none() && required.iter().any(|r| r == officer.role.as_str()) {
        tracing::warn!(officer = %officer.username, "sign-in refused: no second factor enrolled");
        on_officer(
            state,
            &officer,
            "officer.sign_in_failed",
            json!({ "reason": "second_factor_not_enrolled", "address": client }),
        )
        .await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "second_factor_not_enrolled",
            "this role signs in only with a second factor: ask an administrator to enrol you",
        ));
    }
    throttle.succeeded(username);
    let token = protocol::random_token(32).map_err(ApiError::internal)?;
    let csrf = protocol::random_token(32).map_err(ApiError::internal)?;
    let ttl = time::Duration::seconds(state.review.settings.session_ttl_s as i64);
    officers::open_session(
        &state.db,
        &state.audit,
        &officer.username,
        (&auth::token_digest(&token), &csrf),
        ttl,
    )
    .await?;
    Ok(Opened {
        officer,
        token,
        csrf,
    })
}

/// The `Set-Cookie` header carrying a session token.
pub fn cookie(state: &AppState, token: &str) -> Result<HeaderMap, ApiError> {
    let secure = if state.review.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    set_cookie(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        state.review.settings.session_ttl_s
    ))
}

/// Closes the request's session, if it has one; the `Set-Cookie` header that removes the cookie.
pub async fn close(state: &AppState, headers: &HeaderMap) -> Result<HeaderMap, ApiError> {
    if let Some((token, _)) = auth::session_token(headers) {
        officers::close_session(&state.db, &auth::token_digest(&token)).await?;
    }
    set_cookie(&format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    ))
}

/// A `Set-Cookie` header of `value` (name, value and attributes).
pub fn set_cookie(value: &str) -> Result<HeaderMap, ApiError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(value).map_err(ApiError::internal)?,
    );
    Ok(headers)
}

/// A session just opened, as the API answers it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SessionOpened {
    pub username: String,
    pub full_name: String,
    /// `reviewer`, `supervisor`, `admin` or `auditor`.
    #[schema(value_type = String)]
    pub role: crate::auth::Role,
    /// Sent back in `x-csrf-token` with every request that changes something under the cookie.
    pub csrf_token: String,
    /// The session token, also usable as a bearer token.
    pub token: String,
}

#[utoipa::path(post, path = "/api/v1/session", tag = "session",
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in; the session cookie is set too", body = SessionOpened),
        (status = 401, description = "Wrong username, password or authentication code, or the account is locked", body = super::openapi::ErrorBody),
        (status = 403, description = "The officer's role signs in only with a second factor, and none is enrolled", body = super::openapi::ErrorBody),
        (status = 429, description = "Too many failed sign-ins with this username or from this address lately: try again after Retry-After seconds", body = super::openapi::ErrorBody),
        (status = 503, description = "Too many sign-ins at once: try again after Retry-After seconds", body = super::openapi::ErrorBody)))]
pub async fn sign_in(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddr>>,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    let client = client.map(|Extension(ClientAddr(a))| a);
    let opened = open(
        &state,
        &body.username,
        &body.password,
        body.otp.as_deref(),
        client,
    )
    .await?;
    let headers = cookie(&state, &opened.token)?;
    let o = opened.officer;
    let body = SessionOpened {
        username: o.username,
        full_name: o.full_name,
        role: o.role,
        csrf_token: opened.csrf,
        token: opened.token,
    };
    Ok((StatusCode::OK, headers, Json(body)).into_response())
}

#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Signed out; the cookie is removed"),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody)))]
pub async fn sign_out(
    State(state): State<AppState>,
    Signed(officer): Signed,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let out = close(&state, &headers).await?;
    tracing::info!(officer = %officer.username, "signed out");
    Ok((StatusCode::NO_CONTENT, out).into_response())
}
