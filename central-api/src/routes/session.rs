//! Sign-in and sign-out: `POST /api/v1/session`, `DELETE /api/v1/session`.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState};
use crate::{
    auth::{self, SESSION_COOKIE, Signed},
    db::officers,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    Json(body): Json<SignIn>,
) -> Result<Response, ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "wrong username or password",
        )
    };
    let found = officers::find(&state.db, &body.username).await?;
    // Hash even for an unknown user, so timing does not tell which usernames exist.
    let hash = found
        .as_ref()
        .map(|(_, hash)| hash.clone())
        .unwrap_or_else(|| state.review.dummy_hash.clone());
    let password = body.password;
    let matches = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .map_err(ApiError::internal)?;
    let Some((officer, _)) = found.filter(|_| matches) else {
        return Err(refused());
    };
    let token = protocol::random_token(32).map_err(ApiError::internal)?;
    let csrf = protocol::random_token(32).map_err(ApiError::internal)?;
    let ttl = time::Duration::seconds(state.review.settings.session_ttl_s as i64);
    officers::open_session(
        &state.db,
        &officer.username,
        &auth::token_digest(&token),
        &csrf,
        ttl,
    )
    .await?;
    state
        .audit
        .append(
            &officer.actor(),
            "officer.signed_in",
            &officer.actor(),
            json!({}),
        )
        .await?;
    let secure = if state.review.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        state.review.settings.session_ttl_s
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    let body = json!({
        "username": officer.username,
        "full_name": officer.full_name,
        "role": officer.role,
        "csrf_token": csrf,
        "token": token,
    });
    Ok((StatusCode::OK, headers, Json(body)).into_response())
}

pub async fn sign_out(
    State(state): State<AppState>,
    Signed(officer): Signed,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = auth::session_token(&headers).map(|(token, _)| token);
    if let Some(token) = token {
        officers::close_session(&state.db, &auth::token_digest(&token)).await?;
    }
    tracing::info!(officer = %officer.username, "signed out");
    let expired = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let mut out = HeaderMap::new();
    out.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&expired).map_err(ApiError::internal)?,
    );
    Ok((StatusCode::NO_CONTENT, out).into_response())
}
