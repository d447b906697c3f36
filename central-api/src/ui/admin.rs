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
    db::{devices, fines, officers},
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
    let (people, boxes, schedule) = match (
        officers::list(&state.db).await,
        devices::health(&state.db).await,
        fines::load_schedule(&state.db).await,
    ) {
        (Ok(p), Ok(d), Ok(s)) => (p, d, s),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return desk.failure(e.into()),
    };
    let mut cameras = Vec::new();
    for d in &boxes {
        let id = protocol::DeviceId::parse(&d.device_id);
        let settings = match id {
            Ok(id) => match crate::db::cameras::of_device(&state.db, &id).await {
                Ok(s) => s,
                Err(e) => return desk.failure(e.into()),
            },
            Err(_) => Vec::new(),
        };
        cameras.push(settings);
    }
    // The rules in force today and those that start later, by case.
    let today = time::OffsetDateTime::now_utc()
        .to_offset(protocol::time::VIETNAM)
        .date();
    let mut rules: Vec<&crate::fines::FineRule> = schedule
        .rules
        .iter()
        .filter(|r| r.effective_to.is_none_or(|to| to > today))
        .collect();
    rules.sort_by_key(|r| {
        (
            r.kind.as_str(),
            r.vehicle.as_str(),
            r.over_kmh_from,
            r.effective_from,
        )
    });
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
                thead { tr { th { (lang.t("Thiết bị", "Device")) } th { "Camera" } th {} } }
                tbody { @for (d, settings) in boxes.iter().zip(&cameras) {
                    tr data-device=(d.device_id) {
                        td { strong { (d.name) } br; code { (d.device_id) } }
                        td { @for c in settings {
                            div.camera { code { (c.camera) } " · " (c.site.name) " · "
                                (format!("{:.0} km/h", c.speed_limit_kmh)) }
                        } }
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
            p.muted { (lang.t(
                "Vị trí, hình học và giới hạn tốc độ của camera: PUT /api/v1/devices/{id}/cameras/{camera}; thiết bị nhận qua kênh cấu hình.",
                "Camera sites, geometry and limits: PUT /api/v1/devices/{id}/cameras/{camera}; devices receive them on their config topic.")) }
        }
        section.box #schedule {
            h2 { (lang.t("Biểu mức phạt đang và sắp áp dụng", "Fine schedule in force and to come")) }
            table.queue {
                thead { tr {
                    th { (lang.t("Hành vi", "Violation")) } th { (lang.t("Phương tiện", "Vehicle")) }
                    th.num { (lang.t("Mức phạt (₫)", "Fine (₫)")) } th.num { (lang.t("Điểm", "Points")) }
                    th { (lang.t("Căn cứ", "Reference")) } th { (lang.t("Hiệu lực", "In force")) }
                } }
                tbody { @for r in &rules {
                    tr.rule {
                        td { (layout::kind_name(lang, r.kind))
                            @if let Some(from) = r.over_kmh_from { " +" (from) @if let Some(to) = r.over_kmh_to { "–" (to) } " km/h" } }
                        td { (match r.vehicle {
                            crate::fines::VehicleCategory::Car => lang.t("Ô tô", "Car"),
                            crate::fines::VehicleCategory::Motorbike => lang.t("Xe máy", "Motorbike"),
                        }) }
                        td.num { (protocol::vi::vnd(r.min_vnd)) "–" (protocol::vi::vnd(r.max_vnd)) }
                        td.num { (r.points) }
                        td { (r.reference) }
                        td { (lang.t("từ", "from")) " " (r.effective_from)
                            @if let Some(to) = r.effective_to { " " (lang.t("đến trước", "until")) " " (to) } }
                    }
                } }
            }
            p.muted { (lang.t(
                "Sửa đổi có hiệu lực từ một ngày sắp tới: POST /api/v1/fine-schedule.",
                "Amendments from a coming day: POST /api/v1/fine-schedule.")) }
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
