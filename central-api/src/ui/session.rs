//! Signing in and out on the review pages.

use axum::{
    Extension, Form,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use service_kit::http::ClientAddr;

use super::{Desk, Lang, alert, layout};
use crate::{
    routes::{ApiError, session},
    state::AppState,
};

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

fn form_page(lang: Lang, next: &str, username: &str, error: Option<&ApiError>) -> Markup {
    let body = html! {
        section.signin {
            h1 { (lang.t("Đăng nhập", "Sign in")) }
            @if let Some(e) = error { (alert(lang, e)) }
            form method="post" action="/review/login" {
                input type="hidden" name="next" value=(next);
                label for="username" { (lang.t("Tên đăng nhập", "Username")) }
                input #username type="text" name="username" value=(username) autocomplete="username" required autofocus;
                label for="password" { (lang.t("Mật khẩu", "Password")) }
                input #password type="password" name="password" autocomplete="current-password" required;
                label for="otp" { (lang.t("Mã xác thực (nếu tài khoản có)", "Authentication code (if the account has one)")) }
                input #otp type="text" name="otp" autocomplete="one-time-code" inputmode="numeric" pattern="[0-9 ]{6,7}" maxlength="7";
                button.primary #sign-in type="submit" { (lang.t("Đăng nhập", "Sign in")) }
            }
        }
    };
    layout::page(
        lang,
        None,
        "/review/login",
        lang.t("Đăng nhập", "Sign in"),
        body,
    )
}

/// `GET /review/login`.
pub async fn form(lang: Lang, Query(q): Query<Next>) -> Html<String> {
    let next = layout::local_path(q.next.as_deref());
    Html(form_page(lang, next, "", None).into_string())
}

#[derive(Debug, Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
    #[serde(default)]
    otp: String,
    next: Option<String>,
}

/// `POST /review/login`: opens the session and goes where the officer was headed.
pub async fn submit(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    client: Option<Extension<ClientAddr>>,
    Form(c): Form<Credentials>,
) -> Response {
    let next = layout::local_path(c.next.as_deref()).to_owned();
    // A sign-in posted from another site is someone else's doing.
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return (StatusCode::FORBIDDEN, "cross-site sign-in refused").into_response();
    }
    let client = client.map(|Extension(ClientAddr(a))| a);
    let otp = Some(c.otp.trim()).filter(|o| !o.is_empty());
    let opened = match session::open(&state, c.username.trim(), &c.password, otp, client).await {
        Ok(o) => o,
        Err(e) => {
            let page = form_page(lang, &next, &c.username, Some(&e));
            return e.with_headers((e.status, Html(page.into_string())).into_response());
        }
    };
    match session::cookie(&state, &opened.token) {
        Ok(cookie) => (cookie, Redirect::to(&next)).into_response(),
        Err(e) => (
            e.status,
            Html(form_page(lang, &next, "", Some(&e)).into_string()),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct Csrf {
    csrf: String,
}

/// `POST /review/logout`.
pub async fn sign_out(
    State(state): State<AppState>,
    desk: Desk,
    headers: HeaderMap,
    Form(f): Form<Csrf>,
) -> Response {
    if let Some(refused) = desk.forged(&f.csrf) {
        return refused;
    }
    match session::close(&state, &headers).await {
        Ok(cookie) => (cookie, Redirect::to("/review/login")).into_response(),
        Err(e) => desk.failure(e),
    }
}
