//! `GET /review/admin`: for administrators — the officers (and a form to add one or change one's
//! name, role and password), and the devices (a form to register one or rotate its key, a button
//! to revoke one). The work is [`crate::admin`]'s, as for the API and the command line; every
//! form carries the session's CSRF token and every change goes to the audit log.

use axum::{
    Form,
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Desk, Lang, alert, layout};
use crate::{
    admin,
    auth::Role,
    db::{devices, officers},
    routes::{ApiError, AppState, admin::refused},
};

const HERE: &str = "/review/admin";

pub async fn page(State(state): State<AppState>, desk: Desk) -> Response {
    render(&state, &desk, None).await
}

async fn render(state: &AppState, desk: &Desk, error: Option<ApiError>) -> Response {
    let lang = desk.lang;
    let title = lang.t("Quản trị", "Administration");
    if let Err(e) = desk.officer.require(Role::administers, "administer") {
        return desk.failure(e);
    }
    let (people, boxes) = match (
        officers::list(&state.db).await,
        devices::health(&state.db).await,
    ) {
        (Ok(p), Ok(d)) => (p, d),
        (Err(e), _) | (_, Err(e)) => return desk.failure(e.into()),
    };
    let body = html! {
        h1 { (title) }
        @if let Some(e) = &error { (alert(lang, e)) }
        section.box #officers {
            h2 { (lang.t("Cán bộ", "Officers")) }
            table.queue {
                thead { tr { th { (lang.t("Tên đăng nhập", "Username")) } th { (lang.t("Họ tên", "Name")) } th { (lang.t("Vai trò", "Role")) } } }
                tbody { @for o in &people {
                    tr data-officer=(o.username) { td { code { (o.username) } } td { (o.full_name) } td { (layout::role_name(lang, o.role)) } }
                } }
            }
            (officer_form(lang, &desk.csrf))
        }
        section.box #admin-devices {
            h2 { (lang.t("Thiết bị", "Devices")) }
            table.queue {
                thead { tr { th { (lang.t("Thiết bị", "Device")) } th {} } }
                tbody { @for d in &boxes {
                    tr data-device=(d.device_id) {
                        td { strong { (d.name) } br; code { (d.device_id) } }
                        td { @if d.revoked { span.status.rejected { (lang.t("đã thu hồi", "revoked")) } } @else {
                            form.inline method="post" action={ "/review/admin/devices/" (d.device_id) "/revoke" } {
                                input type="hidden" name="csrf" value=(desk.csrf);
                                button.danger type="submit" { (lang.t("Thu hồi", "Revoke")) }
                            }
                        } }
                    }
                } }
            }
            (device_form(lang, &desk.csrf))
        }
    };
    let status = error.map(|e| e.status).unwrap_or_default();
    (status, desk.page(HERE, title, body)).into_response()
}

fn officer_form(lang: Lang, csrf: &str) -> Markup {
    html! {
        form.resolve #officer-form method="post" action="/review/admin/officers" {
            input type="hidden" name="csrf" value=(csrf);
            label { (lang.t("Tên đăng nhập", "Username")) input name="username" required pattern="[a-z0-9._-]{3,64}"; }
            label { (lang.t("Họ tên", "Full name")) input name="full_name" required maxlength="200"; }
            label { (lang.t("Vai trò", "Role")) select name="role" required {
                @for r in Role::ALL { option value=(r.as_str()) { (layout::role_name(lang, r)) } }
            } }
            label { (lang.t("Mật khẩu (ít nhất 12 ký tự)", "Password (12 characters or more)"))
                input type="password" name="password" required minlength="12" autocomplete="new-password"; }
            button.primary type="submit" { (lang.t("Lưu cán bộ", "Save the officer")) }
        }
    }
}

fn device_form(lang: Lang, csrf: &str) -> Markup {
    html! {
        form.resolve #device-form method="post" action="/review/admin/devices" {
            input type="hidden" name="csrf" value=(csrf);
            label { (lang.t("Mã thiết bị", "Device id")) input name="id" required; }
            label { (lang.t("Tên", "Name")) input name="name"; }
            label { (lang.t("Khóa công khai (edge-agent public-key)", "Public key (edge-agent public-key)"))
                input name="public_key" required; }
            button.primary type="submit" { (lang.t("Đăng ký thiết bị", "Register the device")) }
        }
    }
}

/// Runs one change for a form with CSRF token `csrf`: back to the page when done, or the page
/// again saying why not.
async fn change(
    state: &AppState,
    desk: &Desk,
    csrf: &str,
    work: impl AsyncFnOnce() -> Result<(), admin::Refused>,
) -> Response {
    if let Some(refused) = desk.forged(csrf) {
        return refused;
    }
    if let Err(e) = desk.officer.require(Role::administers, "administer") {
        return desk.failure(e);
    }
    match work().await {
        Ok(()) => Redirect::to(HERE).into_response(),
        Err(e) => render(state, desk, Some(refused(e))).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct OfficerForm {
    csrf: String,
    username: String,
    full_name: String,
    role: String,
    password: String,
}

/// `POST /review/admin/officers`.
pub async fn save_officer(
    State(state): State<AppState>,
    desk: Desk,
    Form(f): Form<OfficerForm>,
) -> Response {
    change(&state, &desk, &f.csrf, async || {
        admin::save_officer(
            &state.db,
            &state.audit,
            &desk.officer.actor(),
            &f.username,
            &f.full_name,
            &f.role,
            &f.password,
        )
        .await
        .map(drop)
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct DeviceForm {
    csrf: String,
    id: String,
    #[serde(default)]
    name: String,
    public_key: String,
}

/// `POST /review/admin/devices`.
pub async fn register_device(
    State(state): State<AppState>,
    desk: Desk,
    Form(f): Form<DeviceForm>,
) -> Response {
    change(&state, &desk, &f.csrf, async || {
        admin::register_device(
            &state.db,
            &state.audit,
            &desk.officer.actor(),
            &f.id,
            &f.public_key,
            &f.name,
        )
        .await
        .map(drop)
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /review/admin/devices/{id}/revoke`.
pub async fn revoke_device(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    change(&state, &desk, &f.csrf, async || {
        admin::revoke_device(&state.db, &state.audit, &desk.officer.actor(), &id)
            .await
            .map(drop)
    })
    .await
}
