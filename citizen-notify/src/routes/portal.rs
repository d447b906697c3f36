//! The citizen portal: sign in through the identity provider, see the notices of violation of
//! one's vehicles, open one with its evidence, answer it ([`super::answers`]), and, once an
//! officer with sanctioning authority decides, see the penalty decision and pay it — a notice
//! is never paid. A fine that is not the signed-in citizen's
//! answers exactly as one that does not exist (404), on every route.
//!
//! Sessions: a random token in an `HttpOnly`, `SameSite=Lax` cookie (the provider's redirect
//! back is a cross-site navigation), stored as its SHA-256; every form carries the session's
//! CSRF token. A sign-in is bound to the browser that began it: `/login` leaves its `state` in
//! a cookie the callback must be sent with, so a callback address made in one browser (login
//! CSRF: someone else's sign-in slipped to a citizen) signs nobody in in another.

use std::collections::BTreeMap;

use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use maud::Markup;
use protocol::ViolationNotice as FineNotice;
use serde::Deserialize;

use service_kit::http::cookie;

use super::AppState;
use crate::{
    db::{self, CitizenSession, DbError},
    pages::{self, home, layout, local_time, message},
    payment::{self, PaymentError},
};

pub const SESSION_COOKIE: &str = "tve_citizen";
/// The sign-in in flight in this browser: its `state`, for the callback only.
pub const SIGN_IN_COOKIE: &str = "tve_sign_in";

/// A portal cookie's `Set-Cookie` value: `HttpOnly`, `SameSite=Lax` (the provider's redirect
/// back is a cross-site navigation), for `max_age_s` (0 removes it), `Secure` when `secure`.
fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age_s: u64,
    secure: bool,
) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite=Lax; Path={path}; Max-Age={max_age_s}{secure}"
    ))
    .ok()
}

/// The sign-in cookie: `Some(state)` for ten minutes (as long as the sign-in lasts), `None` to
/// remove it.
fn sign_in_cookie(state: Option<&str>, secure: bool) -> Option<HeaderValue> {
    let (value, age) = state.map_or(("", 0), |s| (s, 600));
    set_cookie(SIGN_IN_COOKIE, value, "/auth/callback", age, secure)
}

pub(super) fn html(status: StatusCode, title: &str, body: Markup) -> Response {
    (status, Html(layout(title, body).into_string())).into_response()
}

pub(super) fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// Any address the portal does not have: its own "not found" page, not an empty answer.
pub async fn unknown() -> Response {
    not_found()
}

fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "Không tìm thấy",
        message(
            "Không tìm thấy",
            "Not found.",
            Some(("/", "Về trang chính")),
        ),
    )
}

pub(super) fn failure(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "portal");
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Lỗi hệ thống",
        maud::html! {
            h1 { "Lỗi hệ thống" }
            p { "Vui lòng thử lại sau." }
            p.en { "Something went wrong; please try again later." }
        },
    )
}

fn token_digest(token: &str) -> String {
    protocol::Sha256Digest::of(token.as_bytes()).to_hex()
}

/// The signed-in citizen of a request, if any.
pub(super) async fn citizen(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<CitizenSession>, DbError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(token) => db::session(&state.db, &state.sealing, &token_digest(token)).await,
        None => Ok(None),
    }
}

/// `GET /`: the signed-in citizen's fines, or the way to sign in.
pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let who = match citizen(&state, &headers).await {
        Ok(w) => w,
        Err(e) => return failure(&e),
    };
    let Some(who) = who else {
        return html(StatusCode::OK, "Tra cứu vi phạm", home::signed_out());
    };
    let notices = match db::notices_of(&state.db, &state.sealing, &who.citizen_id).await {
        Ok(n) => n,
        Err(e) => return failure(&e),
    };
    let mut items = Vec::with_capacity(notices.len());
    for n in &notices {
        let id = n.fine_id.hyphenated().to_string();
        let paid = matches!(db::paid_payment_of(&state.db, &id).await, Ok(Some(_)));
        let standing = match db::decision_of(&state.db, &state.sealing, &id).await {
            Ok(Some(d)) => home::Standing::Decided {
                number: d.decision_number,
                amount_vnd: d.amount_vnd,
            },
            Ok(None) => match db::answer_of(&state.db, &state.sealing, &id).await {
                Ok(Some((answer, _))) => home::Standing::Answered(answer),
                Ok(None) => home::Standing::AnswerBy(local_time(n.answer_due)),
                Err(e) => return failure(&e),
            },
            Err(e) => return failure(&e),
        };
        let cancelled = matches!(
            db::resolution_of(&state.db, &state.sealing, &id).await,
            Ok(Some(r)) if r.cancelled()
        );
        items.push(home::Item {
            fine_id: id,
            kind: n.kind.label_vi(),
            plate: n.plate.clone(),
            occurred: local_time(n.occurred_at),
            standing,
            paid,
            cancelled,
        });
    }
    html(
        StatusCode::OK,
        "Vi phạm của tôi",
        home::page(&who.name, &who.csrf, &items),
    )
}

/// `GET /my-data.json`: everything the portal holds about the signed-in citizen, as a file to
/// keep ([`crate::export`]); the export is recorded first.
pub async fn my_data_json(State(state): State<AppState>, headers: HeaderMap) -> Response {
    my_data(&state, &headers, "json").await
}

/// `GET /my-data.pdf`: the same on A4 pages.
pub async fn my_data_pdf(State(state): State<AppState>, headers: HeaderMap) -> Response {
    my_data(&state, &headers, "pdf").await
}

async fn my_data(state: &AppState, headers: &HeaderMap, format: &'static str) -> Response {
    let who = match citizen(state, headers).await {
        Ok(Some(w)) => w,
        Ok(None) => return see_other("/login"),
        Err(e) => return failure(&e),
    };
    let now = time::OffsetDateTime::now_utc();
    let export = match crate::export::export(
        &state.db,
        &state.sealing,
        &who.citizen_id,
        &who.name,
        format,
        now,
    )
    .await
    {
        Ok(e) => e,
        Err(e) => return failure(&e),
    };
    let (content_type, body) = match format {
        "pdf" => ("application/pdf", crate::export::pdf(&export)),
        _ => (
            "application/json",
            serde_json::to_vec_pretty(&export).map_err(|e| e.to_string()),
        ),
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return failure(&e),
    };
    tracing::info!(format, "citizen took their data away");
    let day = protocol::vi::local_time(export.exported_at);
    let day = day.split(' ').next().unwrap_or_default().replace('/', "-");
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"du-lieu-cua-toi-{day}.{format}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /login`: off to the identity provider.
pub async fn sign_in(State(state): State<AppState>) -> Response {
    let tokens = (
        protocol::random_token(24),
        protocol::random_token(24),
        protocol::random_token(48),
    );
    let (Ok(st), Ok(nonce), Ok(verifier)) = tokens else {
        return failure(&"no randomness");
    };
    if let Err(e) = db::begin_sign_in(&state.db, &st, &nonce, &verifier).await {
        return failure(&e);
    }
    match state.oidc.authorize_url(&st, &nonce, &verifier).await {
        Ok(url) => {
            let mut response = see_other(&url);
            let secure = state.oidc.settings().secure_cookies;
            if let Some(v) = sign_in_cookie(Some(&st), secure) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        Err(e) => failure(&e),
    }
}

/// `GET /auth/callback`: the provider sends the browser back with a code (or an error).
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<BTreeMap<String, String>>,
) -> Response {
    let secure = state.oidc.settings().secure_cookies;
    let refused = |why: &str| {
        let mut response = html(
            StatusCode::BAD_REQUEST,
            "Đăng nhập không thành công",
            message(
                "Đăng nhập không thành công",
                &format!("Sign-in failed: {why}"),
                Some(("/login", "Thử lại / Try again")),
            ),
        );
        if let Some(v) = sign_in_cookie(None, secure) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        response
    };
    let field = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    // Only the browser that began this sign-in may finish it.
    let begun_here = cookie(&headers, SIGN_IN_COOKIE)
        .is_some_and(|begun| !begun.is_empty() && protocol::same_token(field("state"), begun));
    if !begun_here {
        tracing::warn!("sign-in refused: its callback came to a browser that did not begin it");
        return refused("this sign-in was not begun in this browser");
    }
    let taken = match db::take_sign_in(&state.db, field("state")).await {
        Ok(t) => t,
        Err(e) => return failure(&e),
    };
    let Some((nonce, verifier)) = taken else {
        return refused("unknown or used sign-in");
    };
    if !field("error").is_empty() {
        return refused(field("error"));
    }
    let signed = match state.oidc.finish(field("code"), &verifier, &nonce).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "sign-in refused");
            return refused("the identity provider's answer did not verify");
        }
    };
    let (Ok(token), Ok(csrf)) = (protocol::random_token(32), protocol::random_token(24)) else {
        return failure(&"no randomness");
    };
    let settings = state.oidc.settings();
    let session = CitizenSession {
        citizen_id: signed.citizen_id.as_str().to_owned(),
        name: signed.name,
        csrf,
    };
    let ttl = time::Duration::minutes(i64::from(settings.session_minutes));
    if let Err(e) = db::open_session(
        &state.db,
        &state.sealing,
        &token_digest(&token),
        &session,
        ttl,
    )
    .await
    {
        return failure(&e);
    }
    tracing::info!("citizen signed in");
    let age = u64::from(settings.session_minutes) * 60;
    let mut response = see_other("/");
    if let Some(v) = set_cookie(SESSION_COOKIE, &token, "/", age, secure) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    if let Some(v) = sign_in_cookie(None, secure) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    pub(super) reason: String,
    /// The driver the owner names: full name, identity number, licence number.
    #[serde(default)]
    pub(super) driver_name: String,
    #[serde(default)]
    pub(super) driver_id: String,
    #[serde(default)]
    pub(super) licence_no: String,
    /// A day the form gives: of a sale, of a theft's report.
    #[serde(default)]
    pub(super) day: String,
    /// The document that proves it: a sale contract, a police report.
    #[serde(default)]
    pub(super) document: String,
}

/// The citizen behind a form post, when its CSRF token is theirs.
pub(super) async fn poster(
    state: &AppState,
    headers: &HeaderMap,
    form: &CsrfForm,
) -> Result<Option<CitizenSession>, Response> {
    let who = citizen(state, headers).await.map_err(|e| failure(&e))?;
    match who {
        None => Ok(None),
        Some(w) if protocol::same_token(&form.csrf, &w.csrf) => Ok(Some(w)),
        Some(_) => Err(html(
            StatusCode::FORBIDDEN,
            "Yêu cầu không hợp lệ",
            message(
                "Yêu cầu không hợp lệ",
                "The form's token does not match your session; reload the page.",
                None,
            ),
        )),
    }
}

/// `POST /logout`.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    match poster(&state, &headers, &form).await {
        Ok(Some(_)) => {}
        Ok(None) => return see_other("/"),
        Err(r) => return r,
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = db::close_session(&state.db, &token_digest(token)).await
    {
        return failure(&e);
    }
    let mut response = see_other("/");
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("tve_citizen=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"),
    );
    response
}

/// The signed-in citizen's own fine, or the response to give instead (sign in, 404).
pub(super) async fn own_fine(
    state: &AppState,
    who: Option<CitizenSession>,
    fine_id: &str,
) -> Result<(CitizenSession, FineNotice), Response> {
    let Some(who) = who else {
        return Err(see_other("/login"));
    };
    match db::notice_of(&state.db, &state.sealing, fine_id, &who.citizen_id).await {
        Ok(Some(n)) => Ok((who, n)),
        Ok(None) => Err(not_found()),
        Err(e) => Err(failure(&e)),
    }
}

/// `GET /fines/{id}`.
pub async fn fine(
    State(state): State<AppState>,
    Path(fine_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let who = match citizen(&state, &headers).await {
        Ok(w) => w,
        Err(e) => return failure(&e),
    };
    let (who, n) = match own_fine(&state, who, &fine_id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (paid, answer, resolution, decision) = match (
        db::paid_payment_of(&state.db, &fine_id).await,
        db::answer_of(&state.db, &state.sealing, &fine_id).await,
        db::resolution_of(&state.db, &state.sealing, &fine_id).await,
        db::decision_of(&state.db, &state.sealing, &fine_id).await,
    ) {
        (Ok(p), Ok(a), Ok(r), Ok(d)) => (p, a, r, d),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => return failure(&e),
    };
    let refused = match db::refused_answer_of(&state.db, &fine_id).await {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let documents = match db::documents_of_answer(&state.db, &fine_id).await {
        Ok(d) => d,
        Err(e) => return failure(&e),
    };
    let cancelled = resolution
        .as_ref()
        .is_some_and(db::CaseResolution::cancelled);
    let view = pages::fine::FineView {
        fine_id: &fine_id,
        notice: &n,
        csrf: &who.csrf,
        answer: answer.as_ref(),
        documents: &documents,
        refused: refused.as_ref().map(|(_, code)| code.as_str()),
        resolution: resolution.as_ref(),
        decision: decision.as_ref(),
        paid: paid.as_ref(),
        cancelled,
        settings: state.oidc.settings(),
    };
    html(
        StatusCode::OK,
        "Thông báo vi phạm",
        pages::fine::page(&view),
    )
}

/// `POST /fines/{id}/pay`: off to the payment gateway.
pub async fn pay(
    State(state): State<AppState>,
    Path(fine_id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let who = match poster(&state, &headers, &form).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let (who, _) = match own_fine(&state, who, &fine_id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // The citizen's address as the reverse proxy in front of the portal saw it.
    let ip = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    match payment::start(
        &state.db,
        &state.sealing,
        &state.payment,
        &fine_id,
        &who.citizen_id,
        &ip,
    )
    .await
    {
        Ok(url) => see_other(&url),
        Err(PaymentError::NotFound) => not_found(),
        Err(PaymentError::AlreadyPaid | PaymentError::Cancelled | PaymentError::NotDecided) => {
            see_other(&format!("/fines/{fine_id}"))
        }
        Err(e) => failure(&e),
    }
}
