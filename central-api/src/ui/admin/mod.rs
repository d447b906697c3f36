//! `GET /review/admin`: for administrators — the officers (and a form to add one or change one's
//! name, role and password), the devices (a form to register one or rotate its key, a button to
//! revoke one) with their cameras (each one's site, limits and geometry edited on its own page,
//! `/review/admin/camera`, which draws the geometry), and the fine schedule in force and to come
//! (a form to amend one rule from a coming day). The work is [`crate::admin`]'s, as for the API
//! and the command line; every form carries the session's CSRF token and every change goes to
//! the audit log.

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
    error::ServiceError,
    routes::ApiError,
    state::AppState,
};

mod camera;

pub use camera::{ask_snapshot, camera_page, save_camera, snapshot};

const HERE: &str = "/review/admin";
const CAMERA: &str = "/review/admin/camera";
const SCHEDULE: &str = "/review/admin/fine-schedule";
const SNAPSHOTS: &str = "/review/admin/snapshots";
const ASK_SNAPSHOT: &str = "/review/admin/camera/snapshot";

fn camera_href(device: &str, camera: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("device", device)
        .append_pair("camera", camera)
        .finish();
    format!("{CAMERA}?{query}")
}

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
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return desk.failure(e),
    };
    let waiting = match crate::four_eyes::waiting_for(state, &desk.officer, None).await {
        Ok(w) => w,
        Err(e) => return desk.failure(e),
    };
    let mut cameras = Vec::new();
    for d in &boxes {
        let id = protocol::DeviceId::parse(&d.device_id);
        let settings = match id {
            Ok(id) => match crate::db::cameras::of_device(&state.db, &id).await {
                Ok(s) => s,
                Err(e) => return desk.failure(e),
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
        (super::requests::waiting_box(lang, &waiting, &desk.officer, &desk.csrf))
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
                        td {
                            @for c in settings {
                                div.camera { a href=(camera_href(&d.device_id, c.camera.as_str())) { code { (c.camera) } }
                                    " · " (c.site.name) " · " (format!("{:.0} km/h", c.speed_limit_kmh)) }
                            }
                            @if !d.revoked {
                                form.inline.camera-open method="get" action=(CAMERA) {
                                    input type="hidden" name="device" value=(d.device_id);
                                    input name="camera" required placeholder=(lang.t("mã camera", "camera id")) size="10";
                                    button type="submit" { (lang.t("Thêm / sửa camera", "Add / edit a camera")) }
                                }
                            }
                        }
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
                "Vị trí, hình học và giới hạn tốc độ của camera (cũng qua PUT /api/v1/devices/{id}/cameras/{camera}); thiết bị nhận qua kênh cấu hình và áp dụng ngay.",
                "Camera sites, geometry and limits (also PUT /api/v1/devices/{id}/cameras/{camera}); devices receive them on their config topic and apply them at once.")) }
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
                            @if r.over_kmh_from.is_some() || r.zone_case.is_some() { " " (band_words(lang, r)) } }
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
            (schedule_form(lang, &desk.csrf))
            p.muted { (lang.t(
                "Quy định mới thay thế quy định cùng trường hợp từ ngày có hiệu lực; vi phạm trước ngày đó vẫn áp dụng quy định cũ (cũng qua POST /api/v1/fine-schedule).",
                "A new rule replaces the rule of the same case from its day; violations before that day keep the old rule (also POST /api/v1/fine-schedule).")) }
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
            p.muted { (lang.t("Một quản trị viên khác xác nhận thì mới lưu.", "Saved when another administrator confirms it.")) }
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
            p.muted { (lang.t("Một quản trị viên khác xác nhận thì mới đăng ký.", "Registered when another administrator confirms it.")) }
            button.primary type="submit" { (lang.t("Đăng ký thiết bị", "Register the device")) }
        }
    }
}

/// Runs one change for a form with CSRF token `csrf`, for administrators only: to `done` when
/// it is made, or `again` saying why not.
async fn change_then(
    desk: &Desk,
    csrf: &str,
    work: impl AsyncFnOnce() -> Result<(), admin::Refused>,
    done: &str,
    again: impl AsyncFnOnce(ApiError) -> Response,
) -> Response {
    if let Some(refused) = desk.forged(csrf) {
        return refused;
    }
    if let Err(e) = desk.officer.require(Role::administers, "administer") {
        return desk.failure(e);
    }
    match work().await {
        Ok(()) => Redirect::to(done).into_response(),
        Err(e) => again(ApiError::from(ServiceError::from(e))).await,
    }
}

/// A change made from the administration page: back to it when done, or the page again saying
/// why not.
async fn change(
    state: &AppState,
    desk: &Desk,
    csrf: &str,
    work: impl AsyncFnOnce() -> Result<(), admin::Refused>,
) -> Response {
    change_then(desk, csrf, work, HERE, async |e| {
        render(state, desk, Some(e)).await
    })
    .await
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
        admin::request_officer(
            &state.db,
            &state.audit,
            (&desk.officer.username, &desk.officer.actor()),
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
        admin::request_device(
            &state.db,
            &state.audit,
            (&desk.officer.username, &desk.officer.actor()),
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

fn schedule_form(lang: Lang, csrf: &str) -> Markup {
    let tomorrow = time::OffsetDateTime::now_utc()
        .to_offset(protocol::time::VIETNAM)
        .date()
        .next_day()
        .map(|d| d.to_string())
        .unwrap_or_default();
    html! {
        form.resolve #schedule-form method="post" action=(SCHEDULE) {
            input type="hidden" name="csrf" value=(csrf);
            label { (lang.t("Có hiệu lực từ ngày", "In force from"))
                input type="date" name="effective_from" required min=(tomorrow); }
            label { (lang.t("Hành vi", "Violation")) select name="kind" required {
                @for k in protocol::ViolationKind::ALL { option value=(k.as_str()) { (layout::kind_name(lang, k)) } }
            } }
            label { (lang.t("Phương tiện", "Vehicle")) select name="vehicle" required {
                option value="car" { (lang.t("Ô tô", "Car")) }
                option value="motorbike" { (lang.t("Xe máy", "Motorbike")) }
            } }
            label { (lang.t("Quá tốc độ: từ (km/h, chỉ với lỗi quá tốc độ)", "Speeding: over by from (km/h, speeding only)"))
                input type="number" name="over_kmh_from" min="0"; }
            label { input type="checkbox" name="over_kmh_from_excluded";
                " " (lang.t("không kể mức này (\"trên\")", "not counting this figure (\"above\")")) }
            label { (lang.t("đến (km/h, để trống nếu không giới hạn)", "to (km/h, empty for no upper end)"))
                input type="number" name="over_kmh_to" min="1"; }
            label { input type="checkbox" name="over_kmh_to_included";
                " " (lang.t("kể cả mức này (\"đến\"; để trống: \"dưới\")", "counting this figure (\"up to\"; unticked: \"under\")")) }
            label { (lang.t("Dừng, đỗ xe: nơi (chỉ với lỗi dừng, đỗ xe)", "Stopping or parking: where (illegal stopping only)"))
                select name="zone_case" {
                    option value="" { "—" }
                    @for case in protocol::camera::ZoneCase::ALL {
                        option value=(case.as_str()) { (lang.t(case.name_vi(), case.name_en())) }
                    }
                } }
            label { (lang.t("Mức phạt thấp nhất (₫)", "Lowest fine (₫)")) input type="number" name="min_vnd" required min="0" step="1000"; }
            label { (lang.t("Mức phạt cao nhất (₫)", "Highest fine (₫)")) input type="number" name="max_vnd" required min="0" step="1000"; }
            label { (lang.t("Điểm trừ giấy phép lái xe", "Licence points")) input type="number" name="points" required min="0" max="12" value="0"; }
            label { (lang.t("Căn cứ (điều, khoản, điểm)", "Reference (article, clause, point)"))
                input name="reference" required maxlength="300"; }
            button.primary type="submit" { (lang.t("Ban hành sửa đổi", "Amend the schedule")) }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ScheduleForm {
    csrf: String,
    effective_from: String,
    kind: String,
    vehicle: String,
    #[serde(default)]
    over_kmh_from: String,
    #[serde(default)]
    over_kmh_to: String,
    /// `on`: the lower bound is outside the band ("trên"); absent: inside ("từ").
    #[serde(default)]
    over_kmh_from_excluded: Option<String>,
    /// `on`: the upper bound is inside the band ("đến"); absent: outside ("dưới").
    #[serde(default)]
    over_kmh_to_included: Option<String>,
    /// Illegal stopping: what the zone forbids (empty: none).
    #[serde(default)]
    zone_case: String,
    min_vnd: String,
    max_vnd: String,
    points: String,
    reference: String,
}

/// A form's number: empty is none; anything else must read as one.
fn number<T: std::str::FromStr>(
    field: &'static str,
    text: &str,
) -> Result<Option<T>, admin::Refused> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| admin::Refused::Invalid(field, format!("`{text}` is not a number")))
}

fn required<T: std::str::FromStr>(field: &'static str, text: &str) -> Result<T, admin::Refused> {
    number(field, text)?.ok_or_else(|| admin::Refused::Invalid(field, "is required".into()))
}

impl ScheduleForm {
    fn rule(&self) -> Result<admin::NewRule, admin::Refused> {
        Ok(admin::NewRule {
            kind: self
                .kind
                .parse()
                .map_err(|e| admin::Refused::Invalid("kind", e))?,
            vehicle: crate::fines::VehicleCategory::parse(&self.vehicle)
                .ok_or_else(|| admin::Refused::Invalid("vehicle", "car or motorbike".into()))?,
            over_kmh_from: number("over_kmh_from", &self.over_kmh_from)?,
            over_kmh_to: number("over_kmh_to", &self.over_kmh_to)?,
            over_kmh_from_included: self.over_kmh_from_excluded.is_none(),
            over_kmh_to_included: self.over_kmh_to_included.is_some(),
            zone_case: match self.zone_case.trim() {
                "" => None,
                name => Some(
                    name.parse()
                        .map_err(|e| admin::Refused::Invalid("zone_case", e))?,
                ),
            },
            min_vnd: required("min_vnd", &self.min_vnd)?,
            max_vnd: required("max_vnd", &self.max_vnd)?,
            points: required("points", &self.points)?,
            reference: self.reference.clone(),
        })
    }
}

/// `POST /review/admin/fine-schedule`: one rule in force from a coming day.
pub async fn amend_schedule(
    State(state): State<AppState>,
    desk: Desk,
    Form(f): Form<ScheduleForm>,
) -> Response {
    change(&state, &desk, &f.csrf, async || {
        let rule = f.rule()?;
        admin::amend_schedule(
            &state.db,
            &state.audit,
            &desk.officer.actor(),
            &f.effective_from,
            &[rule],
        )
        .await
        .map(drop)
    })
    .await
}

/// A speeding band in the decree's words: "từ 10 km/h đến 20 km/h", "trên 35 km/h"; for
/// illegal stopping, the zone's case.
fn band_words(lang: Lang, r: &crate::fines::FineRule) -> String {
    if let Some(case) = r.zone_case {
        return lang.t(case.name_vi(), case.name_en()).to_owned();
    }
    let Some(from) = r.over_kmh_from else {
        return String::new();
    };
    let low = if r.over_kmh_from_included {
        lang.t("từ", "from")
    } else {
        lang.t("trên", "above")
    };
    match r.over_kmh_to {
        None => format!("{low} {from} km/h"),
        Some(to) => {
            let high = if r.over_kmh_to_included {
                lang.t("đến", "to")
            } else {
                lang.t("đến dưới", "to under")
            };
            format!("{low} {from} km/h {high} {to} km/h")
        }
    }
}
