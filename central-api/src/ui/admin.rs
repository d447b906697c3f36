//! `GET /review/admin`: for administrators — the officers (and a form to add one or change one's
//! name, role and password), the devices (a form to register one or rotate its key, a button to
//! revoke one) with their cameras (each one's site, limits and geometry edited on its own page,
//! `/review/admin/camera`, which draws the geometry), and the fine schedule in force and to come
//! (a form to amend one rule from a coming day). The work is [`crate::admin`]'s, as for the API
//! and the command line; every form carries the session's CSRF token and every change goes to
//! the audit log.

use axum::{
    Form,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Desk, Lang, alert, layout};
use crate::{
    admin,
    auth::Role,
    db::{devices, fines, officers, snapshots::SnapshotRow},
    routes::{ApiError, admin::refused},
    state::AppState,
};

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
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return desk.failure(ApiError::from(e)),
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
                Err(e) => return desk.failure(ApiError::from(e)),
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
                            @if r.over_kmh_from.is_some() { " " (band_words(lang, r)) } }
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
        Err(e) => again(refused(e)).await,
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

#[derive(Debug, Deserialize)]
pub struct CameraQuery {
    device: String,
    camera: String,
}

/// `GET /review/admin/camera?device&camera`: a camera's settings to edit, as central keeps them
/// (a camera central has none for starts from blanks).
pub async fn camera_page(
    State(state): State<AppState>,
    desk: Desk,
    Query(q): Query<CameraQuery>,
) -> Response {
    let shot = Shot::latest(&state, &q.device, &q.camera).await;
    render_camera(&desk, CameraForm::for_camera(&state, &q).await, None, &shot)
}

/// The latest picture asked of a camera, and the latest one that came (its file arrived); the
/// same for the frames as the device judges them, with the configuration version central
/// issued the device last.
#[derive(Debug, Clone)]
struct Shot {
    request: Option<SnapshotRow>,
    picture: Option<SnapshotRow>,
    live_request: Option<SnapshotRow>,
    live: Option<SnapshotRow>,
    /// How many frames of the latest live request came.
    live_taken: i64,
    issued_version: Option<u64>,
}

impl Shot {
    async fn latest(state: &AppState, device: &str, camera: &str) -> Self {
        use crate::db::snapshots::{frames_taken, latest};
        use protocol::snapshot::SnapshotView::{Frame, Judged};
        // What cannot be read now is shown as not there: the page still serves its form.
        let db = &state.db;
        let at = (device, camera);
        let live_request = latest(db, at, Judged, false).await.ok().flatten();
        let live_taken = match &live_request {
            Some(r) => frames_taken(db, &r.id).await.unwrap_or(0),
            None => 0,
        };
        Self {
            request: latest(db, at, Frame, false).await.ok().flatten(),
            picture: latest(db, at, Frame, true).await.ok().flatten(),
            live_request,
            live: latest(db, at, Judged, true).await.ok().flatten(),
            live_taken,
            issued_version: crate::db::cameras::config_version(db, device)
                .await
                .ok()
                .flatten(),
        }
    }

    /// The picture's id, address and size, once it can be shown.
    fn picture(&self) -> Option<Picture> {
        let row = self.picture.as_ref()?;
        Some(Picture {
            id: row.id.clone(),
            href: format!("{SNAPSHOTS}/{}", row.id),
            width: u32::try_from(row.width?).ok()?,
            height: u32::try_from(row.height?).ok()?,
        })
    }
}

/// A picture from the camera, as the page draws on it.
#[derive(Debug, Clone)]
struct Picture {
    id: String,
    href: String,
    width: u32,
    height: u32,
}

#[derive(Debug, Deserialize)]
pub struct SnapshotForm {
    csrf: String,
    device: String,
    camera: String,
    /// `judged`: the frames as the device judges them, [`LIVE_FRAMES`] of them; else one frame
    /// as it came.
    #[serde(default)]
    view: String,
}

/// The frames a live check asks for, one a second.
const LIVE_FRAMES: u8 = 15;

/// `POST /review/admin/camera/snapshot`: asks the device for a picture of the camera; back to
/// the camera's page, which shows it once it has come.
pub async fn ask_snapshot(
    State(state): State<AppState>,
    desk: Desk,
    Form(f): Form<SnapshotForm>,
) -> Response {
    use protocol::snapshot::SnapshotView;
    let (view, frames, anchor) = if f.view == SnapshotView::Judged.as_str() {
        (SnapshotView::Judged, LIVE_FRAMES, "live")
    } else {
        (SnapshotView::Frame, 1, "snapshot")
    };
    let back = format!("{}#{anchor}", camera_href(&f.device, &f.camera));
    change_then(
        &desk,
        &f.csrf,
        async || {
            admin::ask_snapshot(
                &state.db,
                &state.audit,
                &desk.officer.actor(),
                (&f.device, &f.camera),
                (view, frames),
            )
            .await
            .map(drop)
        },
        &back,
        async |e| {
            let q = CameraQuery {
                device: f.device.clone(),
                camera: f.camera.clone(),
            };
            let shot = Shot::latest(&state, &f.device, &f.camera).await;
            render_camera(
                &desk,
                CameraForm::for_camera(&state, &q).await,
                Some(e),
                &shot,
            )
        },
    )
    .await
}

/// `GET /review/admin/snapshots/{id}`: the picture a camera sent, to an administrator.
pub async fn snapshot(
    State(state): State<AppState>,
    desk: Desk,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = desk.officer.require(Role::administers, "administer") {
        return desk.failure(e);
    }
    let found = async {
        let not_found = || {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "no such picture",
            )
        };
        let row = crate::db::snapshots::get(&state.db, &id)
            .await?
            .ok_or_else(not_found)?;
        let sha = crate::db::snapshots::digest_of(&row).ok_or_else(not_found)?;
        crate::routes::evidence::blob(&state, &sha, "image/jpeg", "private, no-store").await
    };
    match found.await {
        Ok(response) => response,
        Err(e) => desk.failure(e),
    }
}

/// The camera form, as sent or as filled in from the settings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CameraForm {
    #[serde(default)]
    csrf: String,
    device: String,
    camera: String,
    site_name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    direction: String,
    latitude: String,
    longitude: String,
    speed_limit_kmh: String,
    #[serde(default)]
    limit_car: String,
    #[serde(default)]
    limit_motorbike: String,
    #[serde(default)]
    limit_bus: String,
    #[serde(default)]
    limit_truck: String,
    red_grace_s: String,
    #[serde(default)]
    geometry: String,
    /// Four points of the road clicked on the picture and their places in road metres, as the
    /// drawing tool writes them: `{"image": [[x, y] ×4], "road": [[x, y] ×4]}`. The speed is
    /// then measured through the homography they make.
    #[serde(default)]
    calibration: String,
    /// The picture from the camera the set-up was drawn on.
    #[serde(default)]
    snapshot: String,
    /// The camera's revision the form was opened on.
    #[serde(default)]
    base: String,
    /// A fixed-time signal plan: the phases in seconds (all blank: none) ...
    #[serde(default)]
    plan_green_s: String,
    #[serde(default)]
    plan_amber_s: String,
    #[serde(default)]
    plan_red_s: String,
    /// ... and when red was seen to begin, `HH:MM:SS[.s]` in Vietnam's time, the last 24 hours
    /// (blank: the offset saved before, `plan_offset_s`, stands).
    #[serde(default)]
    plan_red_at: String,
    #[serde(default)]
    plan_offset_s: String,
}

/// Four road points on the picture and on the road.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Calibration {
    image: [protocol::geometry::Point; 4],
    road: [protocol::geometry::Point; 4],
}

impl CameraForm {
    async fn for_camera(state: &AppState, q: &CameraQuery) -> Result<Self, ApiError> {
        let id = protocol::DeviceId::parse(&q.device)
            .map_err(|e| crate::review::bad_request("device", e))?;
        let saved = crate::db::cameras::of_device(&state.db, &id)
            .await?
            .into_iter()
            .find(|c| c.camera.as_str() == q.camera);
        let mut form = match saved {
            Some(s) => Self::from_settings(&s),
            None => Self {
                speed_limit_kmh: "50".into(),
                red_grace_s: "0.5".into(),
                geometry: "{}".into(),
                ..Self::default()
            },
        };
        form.device = q.device.clone();
        form.camera = q.camera.clone();
        form.base = crate::db::cameras::revision(&state.db, &q.device, &q.camera)
            .await?
            .to_string();
        Ok(form)
    }

    fn from_settings(s: &protocol::CameraSettings) -> Self {
        use protocol::VehicleClass;
        let limit = |class| {
            s.speed_limits_kmh
                .get(&class)
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        Self {
            camera: s.camera.to_string(),
            site_name: s.site.name.clone(),
            address: s.site.address.clone(),
            direction: s.site.direction.clone(),
            latitude: s.site.latitude.to_string(),
            longitude: s.site.longitude.to_string(),
            speed_limit_kmh: s.speed_limit_kmh.to_string(),
            limit_car: limit(VehicleClass::Car),
            limit_motorbike: limit(VehicleClass::Motorbike),
            limit_bus: limit(VehicleClass::Bus),
            limit_truck: limit(VehicleClass::Truck),
            red_grace_s: s.red_grace_s.to_string(),
            geometry: serde_json::to_string_pretty(&s.geometry).unwrap_or_default(),
            plan_green_s: s
                .signal_plan
                .map(|p| p.green_s.to_string())
                .unwrap_or_default(),
            plan_amber_s: s
                .signal_plan
                .map(|p| p.amber_s.to_string())
                .unwrap_or_default(),
            plan_red_s: s
                .signal_plan
                .map(|p| p.red_s.to_string())
                .unwrap_or_default(),
            plan_offset_s: s
                .signal_plan
                .map(|p| format!("{:.3}", p.offset_s))
                .unwrap_or_default(),
            ..Self::default()
        }
    }

    /// The fixed-time plan the form says: none when its phases are blank; the offset from when
    /// red was seen to begin, else the one saved before.
    fn signal_plan(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<Option<protocol::device_config::SignalPlan>, admin::Refused> {
        use protocol::device_config::SignalPlan;
        let phases = [
            ("plan_green_s", &self.plan_green_s),
            ("plan_amber_s", &self.plan_amber_s),
            ("plan_red_s", &self.plan_red_s),
        ];
        if phases.iter().all(|(_, v)| v.trim().is_empty()) {
            return Ok(None);
        }
        let mut values = [0.0; 3];
        for (value, (field, text)) in values.iter_mut().zip(phases) {
            *value = required(field, text)?;
        }
        let [green_s, amber_s, red_s] = values;
        let plan = if !self.plan_red_at.trim().is_empty() {
            let red = red_began(self.plan_red_at.trim(), now).ok_or_else(|| {
                admin::Refused::Invalid(
                    "plan_red_at",
                    "expected the time red began, HH:MM:SS, in the last 24 hours".into(),
                )
            })?;
            SignalPlan::with_red_at(green_s, amber_s, red_s, red)
        } else if let Some(offset_s) = number::<f64>("plan_offset_s", &self.plan_offset_s)? {
            SignalPlan {
                green_s,
                amber_s,
                red_s,
                offset_s: offset_s.rem_euclid((green_s + amber_s + red_s).max(1e-9)),
            }
        } else {
            return Err(admin::Refused::Invalid(
                "plan_red_at",
                "mark when red begins: the plan is set by it".into(),
            ));
        };
        plan.validate()
            .map_err(|e| admin::Refused::Invalid("signal_plan", e.reason))?;
        Ok(Some(plan))
    }

    /// The settings the form says, or the field at fault; drawn on a picture (its size in pixels), every point of
    /// the geometry lies on it.
    fn settings(
        &self,
        picture: Option<(u32, u32)>,
    ) -> Result<protocol::CameraSettings, admin::Refused> {
        use protocol::VehicleClass;
        let camera = protocol::CameraId::parse(&self.camera)
            .map_err(|e| admin::Refused::Invalid("camera", e.to_string()))?;
        let mut geometry: protocol::camera::CameraGeometry = if self.geometry.trim().is_empty() {
            protocol::camera::CameraGeometry::default()
        } else {
            serde_json::from_str(&self.geometry)
                .map_err(|e| admin::Refused::Invalid("geometry", e.to_string()))?
        };
        if !self.calibration.trim().is_empty() {
            geometry.speed = Some(calibrated(&self.calibration)?);
        }
        if let Some(size) = picture {
            on_picture(&geometry, size)?;
        }
        let mut speed_limits_kmh = std::collections::BTreeMap::new();
        for (class, field, text) in [
            (VehicleClass::Car, "limit_car", &self.limit_car),
            (
                VehicleClass::Motorbike,
                "limit_motorbike",
                &self.limit_motorbike,
            ),
            (VehicleClass::Bus, "limit_bus", &self.limit_bus),
            (VehicleClass::Truck, "limit_truck", &self.limit_truck),
        ] {
            if let Some(limit) = number(field, text)? {
                speed_limits_kmh.insert(class, limit);
            }
        }
        Ok(protocol::CameraSettings {
            camera,
            site: protocol::Site {
                name: self.site_name.trim().to_owned(),
                latitude: required("latitude", &self.latitude)?,
                longitude: required("longitude", &self.longitude)?,
                address: self.address.trim().to_owned(),
                direction: self.direction.trim().to_owned(),
            },
            geometry,
            speed_limit_kmh: required("speed_limit_kmh", &self.speed_limit_kmh)?,
            speed_limits_kmh,
            red_grace_s: required("red_grace_s", &self.red_grace_s)?,
            signal_plan: self.signal_plan(time::OffsetDateTime::now_utc())?,
        })
    }
}

/// `HH:MM:SS.s` of `t` in Vietnam's time, as the signal plan's field takes it.
fn clock_time(t: time::OffsetDateTime) -> String {
    t.to_offset(protocol::time::VIETNAM)
        .format(time::macros::format_description!(
            "[hour]:[minute]:[second].[subsecond digits:1]"
        ))
        .unwrap_or_default()
}

/// Unix seconds of `HH:MM:SS[.s]` in Vietnam's time, the latest such moment not after `now`
/// (give or take a minute of clocks apart).
fn red_began(text: &str, now: time::OffsetDateTime) -> Option<f64> {
    let mut parts = text.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (h, m): (u8, u8) = (h.trim().parse().ok()?, m.trim().parse().ok()?);
    let s: f64 = s.trim().replace(',', ".").parse().ok()?;
    if h > 23 || m > 59 || !(0.0..60.0).contains(&s) {
        return None;
    }
    let local = now.to_offset(protocol::time::VIETNAM);
    let day_start = local.replace_time(time::Time::MIDNIGHT);
    let mut at =
        day_start.unix_timestamp() as f64 + f64::from(h) * 3600.0 + f64::from(m) * 60.0 + s;
    if at > now.unix_timestamp() as f64 + 60.0 {
        at -= 86_400.0;
    }
    Some(at)
}

/// The speed trap four clicked road points make: the homography from road metres to the
/// picture's pixels, refused when the points are degenerate (three on one line, two the same).
fn calibrated(text: &str) -> Result<protocol::camera::SpeedTrapSpec, admin::Refused> {
    let bad = |why: String| admin::Refused::Invalid("calibration", why);
    let c: Calibration = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if c.road
        .iter()
        .flatten()
        .chain(c.image.iter().flatten())
        .any(|v| !v.is_finite())
    {
        return Err(bad("every point needs both its numbers".into()));
    }
    let h = protocol::geometry::Homography::from_quads(&c.road, &c.image).ok_or_else(|| {
        bad(
            "the four points are degenerate: no three on one line, on the road and on the picture"
                .into(),
        )
    })?;
    // Each road point must come back where it was clicked (a fold of the plane does not).
    for (r, i) in c.road.iter().zip(&c.image) {
        let back = h
            .apply(*r)
            .ok_or_else(|| bad("a point maps to infinity".into()))?;
        if (back[0] - i[0]).hypot(back[1] - i[1]) > 1.0 {
            return Err(bad(
                "the four points do not make one view of the road".into()
            ));
        }
    }
    Ok(protocol::camera::SpeedTrapSpec::Homography(h.0))
}

/// Whether every point of `g` lies on `picture`: a stop line, lane or lamp off it was placed
/// on another camera's frame, or at another resolution.
fn on_picture(
    g: &protocol::camera::CameraGeometry,
    (width, height): (u32, u32),
) -> Result<(), admin::Refused> {
    use protocol::camera::SpeedTrapSpec;
    let (w, h) = (width as f32, height as f32);
    let mut named: Vec<(&'static str, protocol::geometry::Point)> = Vec::new();
    if let Some(l) = g.stop_line {
        named.extend([
            ("stop_line", l.a),
            ("stop_line", l.b),
            ("stop_line", l.before),
        ]);
    }
    if let Some(SpeedTrapSpec::Lines { entry, exit, .. }) = &g.speed {
        named.extend(
            [entry, exit]
                .iter()
                .flat_map(|l| [("speed", l.a), ("speed", l.b)]),
        );
    }
    named.extend(
        g.lanes
            .iter()
            .flat_map(|l| l.polygon.iter().map(|p| ("lanes", *p))),
    );
    named.extend(
        g.no_stopping
            .iter()
            .flat_map(|z| z.polygon.iter().map(|p| ("no_stopping", *p))),
    );
    if let Some(s) = g.signal_head {
        named.extend([
            ("signal_head", s.red),
            ("signal_head", s.amber),
            ("signal_head", s.green),
        ]);
    }
    match named
        .iter()
        .find(|(_, p)| !(0.0..=w).contains(&p[0]) || !(0.0..=h).contains(&p[1]))
    {
        Some((field, p)) => Err(admin::Refused::Invalid(
            "geometry",
            format!(
                "{field}: the point ({}, {}) is off the picture ({} × {} px)",
                p[0], p[1], width, height
            ),
        )),
        None => Ok(()),
    }
}

/// `POST /review/admin/camera`: saves the camera's settings; back to the administration page, or
/// the form again as sent, saying why not.
pub async fn save_camera(
    State(state): State<AppState>,
    desk: Desk,
    Form(f): Form<CameraForm>,
) -> Response {
    let done = format!("{HERE}#admin-devices");
    change_then(
        &desk,
        &f.csrf,
        async || {
            // The picture it was drawn on, and its size.
            let size = if f.snapshot.is_empty() {
                None
            } else {
                let row = crate::db::snapshots::get(&state.db, &f.snapshot).await?;
                let size = row.and_then(|r| Some((r.width?, r.height?)));
                let (w, h) = size.ok_or_else(|| {
                    admin::Refused::Invalid("snapshot", format!("no picture {}", f.snapshot))
                })?;
                Some((u32::try_from(w).unwrap_or(0), u32::try_from(h).unwrap_or(0)))
            };
            let settings = f.settings(size)?;
            let edit = crate::db::cameras::Edit {
                base: f.base.parse().ok(),
                snapshot: size.map(|_| f.snapshot.as_str()),
            };
            admin::save_camera(
                &state.db,
                &state.audit,
                &desk.officer.actor(),
                &f.device,
                &settings,
                edit,
            )
            .await
            .map(drop)
        },
        &done,
        async |e| {
            let shot = Shot::latest(&state, &f.device, &f.camera).await;
            let mut f = f.clone();
            // Saved by another administrator meanwhile: what this one drew stays on the page,
            // and saving it again (having seen the message) replaces theirs.
            if e.status == axum::http::StatusCode::CONFLICT
                && let Ok(revision) =
                    crate::db::cameras::revision(&state.db, &f.device, &f.camera).await
            {
                f.base = revision.to_string();
            }
            render_camera(&desk, Ok(f), Some(e), &shot)
        },
    )
    .await
}

fn render_camera(
    desk: &Desk,
    form: Result<CameraForm, ApiError>,
    error: Option<ApiError>,
    shot: &Shot,
) -> Response {
    let lang = desk.lang;
    if let Err(e) = desk.officer.require(Role::administers, "administer") {
        return desk.failure(e);
    }
    let f = match form {
        Ok(f) => f,
        Err(e) => return desk.failure(e),
    };
    let title = format!("Camera {} · {}", f.camera, f.device);
    let geometry: Option<protocol::camera::CameraGeometry> = serde_json::from_str(&f.geometry).ok();
    let picture = shot.picture();
    let body = html! {
        h1 { (title) }
        p { a href={ (HERE) "#admin-devices" } { "← " (lang.t("Quản trị", "Administration")) } }
        @if let Some(e) = &error { (alert(lang, e)) }
        form.resolve #camera-form method="post" action=(CAMERA) {
            input type="hidden" name="csrf" value=(desk.csrf);
            input type="hidden" name="device" value=(f.device);
            input type="hidden" name="camera" value=(f.camera);
            input type="hidden" name="base" value=(f.base);
            @if let Some(p) = &picture { input type="hidden" name="snapshot" value=(p.id); }
            input type="hidden" name="calibration" value=(f.calibration);
            fieldset {
                legend { (lang.t("Vị trí (in trên chứng cứ)", "Site (as the evidence names it)")) }
                label { (lang.t("Tên", "Name")) input name="site_name" required maxlength="200" value=(f.site_name); }
                label { (lang.t("Địa chỉ", "Address")) input name="address" maxlength="300" value=(f.address); }
                label { (lang.t("Hướng lưu thông camera giám sát", "Direction of travel watched")) input name="direction" maxlength="200" value=(f.direction); }
                label { (lang.t("Vĩ độ (WGS 84)", "Latitude (WGS 84)")) input name="latitude" required inputmode="decimal" value=(f.latitude); }
                label { (lang.t("Kinh độ (WGS 84)", "Longitude (WGS 84)")) input name="longitude" required inputmode="decimal" value=(f.longitude); }
            }
            fieldset {
                legend { (lang.t("Giới hạn", "Limits")) }
                label { (lang.t("Tốc độ tối đa của đường (km/h)", "Speed limit of the road (km/h)")) input name="speed_limit_kmh" required inputmode="decimal" value=(f.speed_limit_kmh); }
                @for (name, vi, en, value) in [
                    ("limit_car", "Riêng ô tô (km/h)", "Cars only (km/h)", &f.limit_car),
                    ("limit_motorbike", "Riêng xe máy (km/h)", "Motorbikes only (km/h)", &f.limit_motorbike),
                    ("limit_bus", "Riêng xe khách (km/h)", "Buses only (km/h)", &f.limit_bus),
                    ("limit_truck", "Riêng xe tải (km/h)", "Trucks only (km/h)", &f.limit_truck),
                ] {
                    label { (lang.t(vi, en)) input name=(name) inputmode="decimal" value=(value); }
                }
                label { (lang.t("Thời gian chờ sau khi đèn đỏ bật (giây)", "Grace after red onset (s)")) input name="red_grace_s" required inputmode="decimal" value=(f.red_grace_s); }
            }
            fieldset #signal-plan {
                legend { (lang.t("Chu kỳ đèn cố định", "Fixed-time signal plan")) }
                p.muted { (lang.t(
                    "Chỉ khi thiết bị không đọc được đèn (đèn ngoài khung hình, không có tín hiệu từ tủ điều khiển); để trống nếu không dùng. Nhập thời gian mỗi pha, rồi đánh dấu lúc đèn đỏ bật: bấm “Đèn đỏ vừa bật” đúng lúc nhìn thấy (đồng hồ của máy này phải đúng), hoặc “Đèn đỏ bật ở khung này” trên khung hình đầu tiên có đèn đỏ khi xem trực tiếp.",
                    "Only where the device cannot read the lamps (the head out of view, no controller feed); leave blank otherwise. Enter each phase's length, then mark when red begins: press “Red just began” as you see it (this computer's clock must be right), or “Red began at this frame” on the first red frame while watching live.")) }
                label { (lang.t("Xanh (giây)", "Green (s)")) input name="plan_green_s" inputmode="decimal" value=(f.plan_green_s); }
                label { (lang.t("Vàng (giây)", "Amber (s)")) input name="plan_amber_s" inputmode="decimal" value=(f.plan_amber_s); }
                label { (lang.t("Đỏ (giây)", "Red (s)")) input name="plan_red_s" inputmode="decimal" value=(f.plan_red_s); }
                label { (lang.t("Đèn đỏ bật lúc (giờ Việt Nam, HH:MM:SS)", "Red began at (Vietnam time, HH:MM:SS)"))
                    input #plan-red-at name="plan_red_at" value=(f.plan_red_at) placeholder="07:15:32.5"; }
                button type="button" #red-now { (lang.t("Đèn đỏ vừa bật", "Red just began")) }
                input type="hidden" name="plan_offset_s" value=(f.plan_offset_s);
                @if !f.plan_offset_s.is_empty() {
                    p.muted #plan-saved { (lang.t("Đã lưu: chu kỳ bắt đầu (đèn xanh) ở giây ", "Saved: the cycle starts (green) at second ")) (f.plan_offset_s)
                        (lang.t(" của mỗi chu kỳ tính từ 1970 (UTC); để trống ô trên thì giữ nguyên.", " of each cycle counted from 1970 (UTC); leave the field above blank to keep it.")) }
                }
            }
            fieldset {
                legend { (lang.t("Hình học (điểm ảnh của khung hình camera)", "Geometry (pixels of the camera's frame)")) }
                p.muted { (lang.t(
                    "Vẽ trên ảnh từ camera (chụp ở cuối trang): chọn một công cụ rồi nhấp lên ảnh; kéo các điểm để sửa. Hình học được ghi vào ô JSON bên dưới, có thể sửa tay: stop_line {a, b, before}, speed {lines: {entry, exit, distance_m}} hoặc {homography}, lanes [{name, polygon, direction, allowed}], no_stopping [{polygon, max_dwell_s}], signal_head {red, amber, green, radius_px}.",
                    "Draw on the picture from the camera (taken at the foot of the page): choose a tool, then click on the picture; drag the points to correct them. The geometry is written into the JSON field below, which may be edited by hand: stop_line {a, b, before}, speed {lines: {entry, exit, distance_m}} or {homography}, lanes [{name, polygon, direction, allowed}], no_stopping [{polygon, max_dwell_s}], signal_head {red, amber, green, radius_px}.")) }
                (editor(lang, picture.as_ref()))
                @if let Some(g) = &geometry { (preview(lang, g, picture.as_ref())) }
                textarea name="geometry" rows="14" spellcheck="false" { (f.geometry) }
            }
            button.primary type="submit" { (lang.t("Lưu và gửi tới thiết bị", "Save and send to the device")) }
        }
        (snapshot_section(desk, &f, shot))
        (live_section(desk, &f, shot))
        script src="/review/assets/camera.js" defer {}
    };
    let status = error.map(|e| e.status).unwrap_or_default();
    (status, desk.page(HERE, &title, body)).into_response()
}

/// The picture from the camera: a button to ask for one, and what became of the last request.
fn snapshot_section(desk: &Desk, f: &CameraForm, shot: &Shot) -> Markup {
    use crate::db::snapshots::SnapshotState;
    let lang = desk.lang;
    let now = time::OffsetDateTime::now_utc();
    let at = |t: time::OffsetDateTime| {
        protocol::vi::local_time(protocol::UtcTimestamp::from_datetime(t))
    };
    html! {
        section #snapshot {
            h2 { (lang.t("Ảnh từ camera", "Picture from the camera")) }
            p.muted { (lang.t(
                "Thiết bị gửi khung hình hiện tại qua máy chủ MQTT (không cần kết nối vào thiết bị); hình học ở trên được vẽ lên ảnh.",
                "The device sends its current frame through the MQTT broker (no connection into the box is needed); the geometry above is drawn on it.")) }
            @if let Some(row) = &shot.request {
                @let arrived = shot.picture.as_ref().is_some_and(|p| p.id == row.id);
                p #snapshot-state data-state=(match row.state(now) {
                    SnapshotState::Waiting => "waiting",
                    SnapshotState::Taken if arrived => "taken",
                    SnapshotState::Taken => "arriving",
                    SnapshotState::Expired => "expired",
                }) {
                    @match row.state(now) {
                        SnapshotState::Waiting => {
                            (lang.t("Đã yêu cầu lúc ", "Asked at ")) (at(row.requested_at))
                            (lang.t(" — đang chờ thiết bị; tải lại trang sau vài giây.", " — waiting for the device; reload the page in a few seconds."))
                        }
                        SnapshotState::Taken => {
                            (lang.t("Chụp lúc ", "Taken at ")) (row.taken_at.map(at).unwrap_or_default())
                            (lang.t(" (giờ của thiết bị)", " (the device's clock)"))
                            @if let (Some(w), Some(h)) = (row.width, row.height) { ", " (w) "×" (h) " px" }
                            @if !arrived { (lang.t(" — tệp ảnh đang được tải lên.", " — the file is still being uploaded.")) }
                        }
                        SnapshotState::Expired => {
                            (lang.t(
                                "Thiết bị không trả lời yêu cầu lúc ",
                                "The device did not answer the request of "))
                            (at(row.requested_at))
                            (lang.t(
                                " trong 2 phút: thiết bị có kết nối không, camera có đang chạy không (trang Thiết bị)?",
                                " within 2 minutes: is the device connected and the camera running (the Devices page)?"))
                        }
                    }
                }
            }
            form method="post" action=(ASK_SNAPSHOT) {
                input type="hidden" name="csrf" value=(desk.csrf);
                input type="hidden" name="device" value=(f.device);
                input type="hidden" name="camera" value=(f.camera);
                button type="submit" { (lang.t("Chụp ảnh từ camera", "Take a picture from the camera")) }
            }
        }
    }
}

/// Checking the set-up live: a button asking the device for [`LIVE_FRAMES`] frames as it judges
/// them, one a second, and the latest that came — the set-up in force, the vehicles tracked
/// with their speeds and lanes, the signal read — with the configuration version the device
/// judged by beside the one central issued last. While frames are still coming the section says
/// so (`data-running`), and the page's script fetches it again every second or two.
fn live_section(desk: &Desk, f: &CameraForm, shot: &Shot) -> Markup {
    use crate::db::snapshots::SnapshotState;
    let lang = desk.lang;
    let now = time::OffsetDateTime::now_utc();
    let at = |t: time::OffsetDateTime| {
        protocol::vi::local_time(protocol::UtcTimestamp::from_datetime(t))
    };
    let running = shot
        .live_request
        .as_ref()
        .is_some_and(|r| r.state(now) != SnapshotState::Expired && shot.live_taken < r.frames);
    let judged = shot.live.as_ref().and_then(|r| Some((r, r.judged()?)));
    html! {
        section #live data-running=[running.then_some("1")] {
            h2 { (lang.t("Kiểm tra trực tiếp", "Checking it live")) }
            p.muted { (lang.t(
                "Sau khi lưu: thiết bị gửi mỗi giây một khung hình như nó đang xét — hình học đang áp dụng, từng xe nó theo dõi với số hiệu, loại xe, làn và tốc độ đo được, trạng thái đèn nó đọc — để kiểm tra trước khi rời cột.",
                "After saving: the device sends a frame a second as it judges it — the set-up in force, each vehicle it tracks with its number, class, lane and the speed it measures, the signal it reads — to check before leaving the pole.")) }
            @if let Some(r) = &shot.live_request {
                p #live-state data-state=(if running { "running" } else if shot.live_taken > 0 { "done" } else { "expired" }) {
                    (lang.t("Yêu cầu lúc ", "Asked at ")) (at(r.requested_at)) ": "
                    (shot.live_taken) "/" (r.frames) (lang.t(" khung hình đã đến", " frames arrived"))
                    @if running { (lang.t(" — đang nhận…", " — receiving…")) }
                    @else if shot.live_taken == 0 {
                        (lang.t(
                            " — thiết bị không trả lời: thiết bị có kết nối không, camera có đang chạy không?",
                            " — the device did not answer: is it connected and the camera running?"))
                    }
                }
            }
            @if let Some((row, j)) = &judged {
                figure.live {
                    img #live-picture src={ (SNAPSHOTS) "/" (row.id) } alt=(lang.t("Khung hình thiết bị đã xét", "A frame as the device judged it"))
                        width=[row.width] height=[row.height];
                    figcaption.muted {
                        (lang.t("Chụp lúc ", "Taken at ")) (row.taken_at.map(at).unwrap_or_default())
                        (lang.t(" (giờ của thiết bị), khung ", " (the device's clock), frame ")) (row.seq + 1) "/" (row.frames)
                    }
                    @if let Some(t) = row.taken_at {
                        button type="button" .red-at-frame data-taken-at=(clock_time(t)) {
                            (lang.t("Đèn đỏ bật ở khung này", "Red began at this frame"))
                        }
                    }
                }
                dl.facts #live-facts {
                    dt { (lang.t("Cấu hình thiết bị đang áp dụng", "Configuration the device judges by")) }
                    dd #live-version data-version=(j.config_version) data-current=(if shot.issued_version.is_some_and(|v| v == j.config_version) { "yes" } else { "no" }) {
                        "v" (j.config_version)
                        @match shot.issued_version {
                            Some(v) if v == j.config_version => { (lang.t(" — bản mới nhất đã lưu", " — the latest saved")) }
                            Some(v) => {
                                (lang.t(" — bản mới nhất đã lưu là v", " — the latest saved is v")) (v)
                                (lang.t(": thiết bị chưa nhận; chờ vài giây rồi kiểm tra lại.", ": the device has not taken it yet; wait a few seconds and check again."))
                            }
                            None => { (lang.t(" — chưa lưu cấu hình nào cho thiết bị", " — no configuration saved for the device yet")) }
                        }
                    }
                    dt { (lang.t("Đèn tín hiệu", "Signal")) }
                    dd #live-signal data-signal=(j.signal.map(|s| format!("{s:?}").to_lowercase()).unwrap_or_default()) {
                        @match j.signal {
                            Some(state) => { (layout::signal_name(lang, state)) }
                            None => { (lang.t("không có nguồn tín hiệu", "no signal source")) }
                        }
                        @if let Some(fault) = &j.signal_fault { " — " (fault) }
                    }
                }
                table #live-vehicles {
                    thead { tr {
                        th { (lang.t("Xe", "Track")) }
                        th { (lang.t("Loại", "Class")) }
                        th { (lang.t("Làn", "Lane")) }
                        th { (lang.t("Tốc độ đo được", "Speed measured")) }
                    } }
                    tbody {
                        @for v in &j.vehicles {
                            tr {
                                td { "#" (v.track) }
                                td { (layout::class_name(lang, v.class)) }
                                td { (v.lane.as_deref().unwrap_or("—")) }
                                td { @match v.speed_kmh { Some(k) => { (format!("{k:.0}")) " km/h" } None => "—" } }
                            }
                        }
                        @if j.vehicles.is_empty() {
                            tr { td colspan="4" { (lang.t("Không có xe trong khung hình.", "No vehicle in the frame.")) } }
                        }
                    }
                }
            }
            form method="post" action=(ASK_SNAPSHOT) {
                input type="hidden" name="csrf" value=(desk.csrf);
                input type="hidden" name="device" value=(f.device);
                input type="hidden" name="camera" value=(f.camera);
                input type="hidden" name="view" value="judged";
                button type="submit" { (lang.t("Xem thiết bị xét trong 15 giây", "Watch the device judge for 15 seconds")) }
            }
        }
    }
}

/// The geometry drawn to scale over the camera's picture when there is one (else a blank of
/// the geometry's extent): lanes, no-stopping zones, the stop line with the side traffic comes
/// from, the speed lines, the signal head.
fn preview(lang: Lang, g: &protocol::camera::CameraGeometry, picture: Option<&Picture>) -> Markup {
    use protocol::camera::SpeedTrapSpec;
    let mut points: Vec<protocol::geometry::Point> = Vec::new();
    points.extend(g.lanes.iter().flat_map(|l| l.polygon.iter().copied()));
    points.extend(g.no_stopping.iter().flat_map(|z| z.polygon.iter().copied()));
    let mut lines = Vec::new();
    if let Some(l) = g.stop_line {
        lines.push(("stop", l));
    }
    if let Some(SpeedTrapSpec::Lines { entry, exit, .. }) = &g.speed {
        lines.push(("speed", *entry));
        lines.push(("speed", *exit));
    }
    points.extend(lines.iter().flat_map(|(_, l)| [l.a, l.b, l.before]));
    let (width, height) = match picture {
        Some(p) => (p.width as f32, p.height as f32),
        None => (
            points.iter().map(|p| p[0]).fold(1920.0f32, f32::max),
            points.iter().map(|p| p[1]).fold(1080.0f32, f32::max),
        ),
    };
    let path = |polygon: &[protocol::geometry::Point]| {
        polygon
            .iter()
            .map(|p| format!("{},{}", p[0], p[1]))
            .collect::<Vec<_>>()
            .join(" ")
    };
    html! {
        figure.geometry {
            svg #geometry-view viewBox=(format!("0 0 {width} {height}")) role="img" aria-label=(lang.t("Hình học của camera", "The camera's geometry")) {
                defs {
                    marker #arrow viewBox="0 0 10 10" refX="8" refY="5" markerWidth="4" markerHeight="4" orient="auto-start-reverse" {
                        path d="M 0 0 L 10 5 L 0 10 z" fill="#cfe0ff" {}
                    }
                }
                rect x="0" y="0" width=(width) height=(height) fill="#20252b" {}
                @if let Some(p) = picture {
                    image #snapshot-picture href=(p.href) x="0" y="0" width=(width) height=(height) {}
                }
                @if let Some(SpeedTrapSpec::Homography(m)) = &g.speed {
                    g #road-grid { (road_grid(m, width, height)) }
                }
                g #geometry-shapes {
                @for l in &g.lanes {
                    polygon points=(path(&l.polygon)) fill="#2f6fdb" fill-opacity="0.25" stroke="#6fa0ff" stroke-width="3" {}
                    @if let Some(p) = l.polygon.first() {
                        text x=(p[0] + 12.0) y=(p[1] - 12.0) fill="#cfe0ff" font-size="36" { (l.name) }
                    }
                }
                @for z in &g.no_stopping {
                    polygon points=(path(&z.polygon)) fill="#e8a200" fill-opacity="0.25" stroke="#ffc94d" stroke-width="3" stroke-dasharray="16 10" {}
                }
                @for (what, l) in &lines {
                    line x1=(l.a[0]) y1=(l.a[1]) x2=(l.b[0]) y2=(l.b[1])
                        stroke=(if *what == "stop" { "#ff4040" } else { "#ffe14d" }) stroke-width="6" {}
                    @if *what == "stop" { circle cx=(l.before[0]) cy=(l.before[1]) r="10" fill="#ff4040" {} }
                }
                @if let Some(h) = &g.signal_head {
                    @for (p, colour) in [(h.red, "#ff4040"), (h.amber, "#ffb000"), (h.green, "#30d060")] {
                        circle cx=(p[0]) cy=(p[1]) r=(h.radius_px.max(4.0)) fill="none" stroke=(colour) stroke-width="4" {}
                    }
                }
                }
            }
            figcaption.muted { (lang.t(
                "Làn (xanh), vùng cấm dừng (vàng), vạch dừng (đỏ, chấm đỏ: phía xe đến), vạch đo tốc độ (vàng), đèn tín hiệu; với hiệu chỉnh 4 điểm, lưới mặt đường suy ra từ nó, mỗi mét một vạch (trắng): thẳng và cách đều dọc đường khi số đo đúng.",
                "Lanes (blue), no-stopping zones (amber), stop line (red; the red dot: the side traffic comes from), speed lines (yellow), signal head; with a four-point calibration, the road grid it implies, a line every metre (white): straight and evenly spaced along the road when the measurements are right.")) }
        }
    }
}

/// The drawing tools over the picture (shown by `camera.js`; the JSON field works without it).
fn editor(lang: Lang, picture: Option<&Picture>) -> Markup {
    let (width, height) = picture.map_or((1920, 1080), |p| (p.width, p.height));
    let tool = |name: &str,
                vi: &'static str,
                en: &'static str,
                hint_vi: &'static str,
                hint_en: &'static str| {
        html! {
            button type="button" data-tool=(name) aria-pressed="false" data-hint=(lang.t(hint_vi, hint_en)) { (lang.t(vi, en)) }
        }
    };
    html! {
        div #geometry-editor hidden data-width=(width) data-height=(height)
            data-lane-word=(lang.t("làn", "lane"))
            data-direction-hint=(lang.t("Nhấp hai điểm theo chiều xe được đi trong làn.", "Click two points along the way traffic may go in the lane."))
            data-bad-json=(lang.t("Ô JSON không đọc được: sửa nó, hoặc xóa trống để vẽ lại từ đầu.", "The JSON field cannot be read: correct it, or empty it to draw afresh.")) {
            @if picture.is_none() {
                p.muted { (lang.t("Chưa có ảnh từ camera: các hình được vẽ trên khung trống kích thước 1920 × 1080.", "No picture from the camera yet: shapes are drawn on a blank 1920 × 1080 frame.")) }
            }
            div.tools role="toolbar" {
                (tool("stop", "Vạch dừng", "Stop line",
                    "Nhấp hai đầu vạch dừng, rồi một điểm phía xe đến.",
                    "Click the stop line's two ends, then a point on the side traffic comes from."))
                (tool("lane", "Làn", "Lane",
                    "Nhấp các góc của làn, rồi «Xong hình» (hoặc Enter).",
                    "Click the lane's corners, then «Shape done» (or Enter)."))
                (tool("zone", "Vùng cấm dừng", "No-stopping zone",
                    "Nhấp các góc của vùng, rồi «Xong hình» (hoặc Enter).",
                    "Click the zone's corners, then «Shape done» (or Enter)."))
                (tool("lines", "Hai vạch đo tốc độ", "Two speed lines",
                    "Nhấp hai đầu vạch vào, rồi hai đầu vạch ra; ghi khoảng cách giữa chúng (m).",
                    "Click the entry line's two ends, then the exit line's; give the distance between them (m)."))
                (tool("calibrate", "Hiệu chỉnh 4 điểm", "Four-point calibration",
                    "Nhấp bốn điểm trên mặt đường (góc vạch sơn, nắp hố ga…) theo thứ tự P1–P4, và ghi vị trí đo được của từng điểm trên mặt đường (m).",
                    "Click four points on the road (paint corners, manhole covers…) in order P1–P4, and give each one's measured place on the road (m)."))
                (tool("signal", "Đèn tín hiệu", "Signal lamps",
                    "Nhấp tâm đèn đỏ, đèn vàng, rồi đèn xanh.",
                    "Click the centre of the red lamp, the amber, then the green."))
                button type="button" data-action="done" { (lang.t("Xong hình", "Shape done")) }
                button type="button" data-action="delete" disabled { (lang.t("Xóa hình đã chọn", "Delete the shape chosen")) }
            }
            p #editor-hint aria-live="polite" {}
            div data-fields="lane" hidden {
                label { (lang.t("Tên làn", "Lane name")) input name="lane_name" form="" maxlength="40"; }
                fieldset.inline {
                    legend { (lang.t("Loại xe được đi (không chọn: mọi loại)", "Classes allowed (none: all)")) }
                    @for (class, vi, en) in [("car", "ô tô", "car"), ("motorbike", "xe máy", "motorbike"), ("bus", "xe khách", "bus"), ("truck", "xe tải", "truck")] {
                        label { input type="checkbox" name="allowed" form="" value=(class); " " (lang.t(vi, en)) }
                    }
                }
            }
            div data-fields="zone" hidden {
                label { (lang.t("Dừng quá (giây) thì vi phạm", "Stopped longer than (s) is a violation")) input name="max_dwell_s" form="" inputmode="decimal" value="60"; }
            }
            div data-fields="lines" hidden {
                label { (lang.t("Khoảng cách giữa hai vạch (m)", "Distance between the lines (m)")) input name="distance_m" form="" inputmode="decimal" value="10"; }
            }
            div data-fields="calibrate" hidden {
                p.muted { (lang.t("Vị trí trên mặt đường, mét: x ngang đường, y dọc đường.", "Places on the road, metres: x across the road, y along it.")) }
                @for i in 1..=4 {
                    label { "P" (i) " x" input name=(format!("road_x{i}")) form="" inputmode="decimal"; }
                    label { "y" input name=(format!("road_y{i}")) form="" inputmode="decimal"; }
                }
            }
        }
    }
}

/// The road grid a homography (road metres → pixels) implies, a line every metre over the
/// part of the road the picture shows: straight, evenly spaced lines when the calibration is
/// right, a fan or a fold when a measurement is wrong.
fn road_grid(m: &[[f64; 3]; 3], width: f32, height: f32) -> Markup {
    let Some(inverse) = protocol::geometry::Homography(*m).inverse() else {
        return html! {};
    };
    // Where a road point falls on the picture, if it lies in front of the camera (the side of
    // the horizon the picture's lower part is on) and near the picture.
    let side = |p: [f64; 2]| m[2][0] * p[0] + m[2][1] * p[1] + m[2][2];
    let Some(centre) = inverse.apply([width / 2.0, height * 0.9]) else {
        return html! {};
    };
    let front = side([f64::from(centre[0]), f64::from(centre[1])]).signum();
    let (w, h) = (f64::from(width), f64::from(height));
    let on_picture = |p: [f64; 2]| -> Option<(f64, f64)> {
        let s = side(p);
        if s.signum() != front || s.abs() < 1e-9 {
            return None;
        }
        let u = (m[0][0] * p[0] + m[0][1] * p[1] + m[0][2]) / s;
        let v = (m[1][0] * p[0] + m[1][1] * p[1] + m[1][2]) / s;
        ((-w..=2.0 * w).contains(&u) && (-h..=2.0 * h).contains(&v)).then_some((u, v))
    };
    // The road under the picture's lower two thirds (above it lies the horizon, or near it).
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for i in 0..=8 {
        for j in 0..=8 {
            let p = [
                width * i as f32 / 8.0,
                height * (1.0 / 3.0 + 2.0 / 3.0 * j as f32 / 8.0),
            ];
            if let Some(r) = inverse.apply(p) {
                xs.push(f64::from(r[0]));
                ys.push(f64::from(r[1]));
            }
        }
    }
    if xs.is_empty() {
        return html! {};
    }
    let span = |v: &[f64]| {
        let lo = v
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .floor()
            .max(-100.0);
        let hi = v
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil()
            .min(200.0);
        (lo, hi)
    };
    let ((x0, x1), (y0, y1)) = (span(&xs), span(&ys));
    let trace = |from: [f64; 2], to: [f64; 2]| {
        let points: Vec<String> = (0..=40)
            .filter_map(|k| {
                let t = f64::from(k) / 40.0;
                on_picture([
                    from[0] + (to[0] - from[0]) * t,
                    from[1] + (to[1] - from[1]) * t,
                ])
            })
            .map(|(u, v)| format!("{u:.1},{v:.1}"))
            .collect();
        (points.len() >= 2).then(|| points.join(" "))
    };
    // At most 300 lines each way: a calibration off by a factor still draws in a moment.
    let across = (0..300).map(|i| x0 + f64::from(i)).take_while(|x| *x <= x1);
    let along = (0..300).map(|i| y0 + f64::from(i)).take_while(|y| *y <= y1);
    let lines: Vec<String> = across
        .filter_map(|x| trace([x, y0], [x, y1]))
        .chain(along.filter_map(|y| trace([x0, y], [x1, y])))
        .collect();
    html! {
        @for points in &lines {
            polyline points=(points) fill="none" stroke="#ffffff" stroke-opacity="0.45" stroke-width="2" {}
        }
    }
}

/// A speeding band in the decree's words: "từ 10 km/h đến 20 km/h", "trên 35 km/h".
fn band_words(lang: Lang, r: &crate::fines::FineRule) -> String {
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
