//! `GET /review/admin/camera`: one camera's set-up drawn on its picture — the picture asked of
//! the box through the broker (a snapshot, or live judged frames while an installer watches),
//! the stop line, lanes, zones, the speed calibration and the signal head drawn on it, the road
//! grid the calibration implies drawn back, validation at the point, and the save as the
//! device's next configuration version (refused when another administrator saved first).

use axum::{
    Form,
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Desk, Lang, alert, layout};
use crate::{admin, auth::Role, db::snapshots::SnapshotRow, routes::ApiError, state::AppState};

use super::*;

mod drawing;
mod form;

use drawing::*;
use form::*;

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
    /// The latest clip asked for, and the latest that came.
    clip_request: Option<SnapshotRow>,
    clip: Option<SnapshotRow>,
    issued_version: Option<u64>,
}

impl Shot {
    async fn latest(state: &AppState, device: &str, camera: &str) -> Self {
        use crate::db::snapshots::{frames_taken, latest};
        use protocol::snapshot::SnapshotView::{Clip, Frame, Judged};
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
            clip_request: latest(db, at, Clip, false).await.ok().flatten(),
            clip: latest(db, at, Clip, true).await.ok().flatten(),
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
    /// `judged`: the frames as the device judges them, [`LIVE_FRAMES`] of them; `clip`: a clip
    /// of [`CLIP_S`] seconds; else one frame as it came.
    #[serde(default)]
    view: String,
}

/// The frames a live check asks for, one a second.
const LIVE_FRAMES: u8 = 15;

/// The length of the clip an administrator asks for, seconds.
const CLIP_S: u8 = protocol::snapshot::MAX_CLIP_S;

/// `POST /review/admin/camera/snapshot`: asks the device for a picture of the camera; back to
/// the camera's page, which shows it once it has come.
pub async fn ask_snapshot(
    State(state): State<AppState>,
    desk: Desk,
    Form(f): Form<SnapshotForm>,
) -> Response {
    use crate::db::snapshots::Asked;
    use protocol::snapshot::SnapshotView;
    let (asked, anchor) = if f.view == SnapshotView::Judged.as_str() {
        (Asked::burst(SnapshotView::Judged, LIVE_FRAMES), "live")
    } else if f.view == SnapshotView::Clip.as_str() {
        (Asked::clip(CLIP_S), "clip")
    } else {
        (Asked::picture(SnapshotView::Frame), "snapshot")
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
                asked,
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

/// `GET /review/admin/snapshots/{id}`: the picture (or clip) a camera sent, to an administrator.
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
        crate::routes::evidence::blob(
            &state,
            &sha,
            row.content_type(),
            "private, no-store",
            crate::routes::evidence::Serve::Inline,
        )
        .await
    };
    match found.await {
        Ok(response) => response,
        Err(e) => desk.failure(e),
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
            let mut f = f.clone().with_neighbours(&state).await;
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
                    "Vẽ trên ảnh từ camera (chụp ở cuối trang): chọn một công cụ rồi nhấp lên ảnh; kéo các điểm để sửa; «Hoàn tác» (Ctrl+Z) bỏ thay đổi vừa làm. Hình học được ghi vào ô JSON bên dưới, có thể sửa tay: stop_line {a, b, before}, speed {lines: {entry, exit, distance_m}} hoặc calibration {image: bốn điểm trên ảnh, road: vị trí của chúng trên mặt đường, mét} (phép biến đổi phối cảnh speed {homography} được tính từ đó), lanes [{name, polygon, direction, allowed}], no_stopping [{polygon, max_dwell_s, case}], signal_head {red, amber, green, radius_px}.",
                    "Draw on the picture from the camera (taken at the foot of the page): choose a tool, then click on the picture; drag the points to correct them; «Undo» (Ctrl+Z) takes the last change back. The geometry is written into the JSON field below, which may be edited by hand: stop_line {a, b, before}, speed {lines: {entry, exit, distance_m}} or calibration {image: four points on the picture, road: their places on the road, metres} (the homography speed {homography} is made from it), lanes [{name, polygon, direction, allowed}], no_stopping [{polygon, max_dwell_s, case}], signal_head {red, amber, green, radius_px}.")) }
                (editor(lang, picture.as_ref(), &f.neighbours))
                @if let Some(g) = &geometry { (preview(lang, g, picture.as_ref())) }
                textarea name="geometry" rows="14" spellcheck="false" { (f.geometry) }
            }
            button.primary type="submit" { (lang.t("Lưu và gửi tới thiết bị", "Save and send to the device")) }
        }
        (snapshot_section(desk, &f, shot))
        (live_section(desk, &f, shot))
        (clip_section(desk, &f, shot))
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
                p #snapshot-state data-state=(state_name(row, arrived, now)) {
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
            (ask_form(desk, f, None, lang.t("Chụp ảnh từ camera", "Take a picture from the camera")))
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
            (ask_form(desk, f, Some("judged"), lang.t("Xem thiết bị xét trong 15 giây", "Watch the device judge for 15 seconds")))
        }
    }
}

/// A clip of the camera's own video, [`CLIP_S`] seconds from when the device takes the
/// request: what passed through the set-up, vehicles moving and the signal changing, seen as
/// the camera recorded it (its H.264, not encoded again).
fn clip_section(desk: &Desk, f: &CameraForm, shot: &Shot) -> Markup {
    use crate::db::snapshots::SnapshotState;
    let lang = desk.lang;
    let now = time::OffsetDateTime::now_utc();
    let at = |t: time::OffsetDateTime| {
        protocol::vi::local_time(protocol::UtcTimestamp::from_datetime(t))
    };
    html! {
        section #clip {
            h2 { (lang.t("Đoạn phim từ camera", "A clip from the camera")) }
            p.muted { (lang.t(
                "Thiết bị gửi 10 giây video của chính camera, bắt đầu từ lúc nhận yêu cầu, qua máy chủ MQTT và kênh tải chứng cứ.",
                "The device sends 10 seconds of the camera's own video, from when it takes the request, through the MQTT broker and the evidence upload.")) }
            @if let Some(row) = &shot.clip_request {
                @let arrived = shot.clip.as_ref().is_some_and(|c| c.id == row.id);
                p #clip-state data-state=(state_name(row, arrived, now)) {
                    @match row.state(now) {
                        SnapshotState::Waiting => {
                            (lang.t("Đã yêu cầu lúc ", "Asked at ")) (at(row.requested_at))
                            (lang.t(" — thiết bị đang quay; tải lại trang sau khoảng 15 giây.", " — the device is recording; reload the page in about 15 seconds."))
                        }
                        SnapshotState::Taken => {
                            (lang.t("Quay từ ", "Recorded from ")) (row.taken_at.map(at).unwrap_or_default())
                            (lang.t(" (giờ của thiết bị), ", " (the device's clock), "))
                            (format!("{:.1}", row.duration_ms.unwrap_or(0) as f64 / 1000.0)) " s"
                            @if !arrived { (lang.t(" — tệp đang được tải lên.", " — the file is still being uploaded.")) }
                        }
                        SnapshotState::Expired => {
                            (lang.t("Thiết bị không gửi đoạn phim yêu cầu lúc ", "The device sent no clip for the request of "))
                            (at(row.requested_at))
                            (lang.t(": thiết bị có kết nối không, camera có đang chạy không?", ": is it connected and the camera running?"))
                        }
                    }
                }
            }
            @if let Some(row) = &shot.clip {
                video #clip-video controls preload="metadata" src={ (SNAPSHOTS) "/" (row.id) }
                    width=[row.width] height=[row.height] {}
            }
            (ask_form(desk, f, Some("clip"), lang.t("Quay 10 giây từ camera", "Record 10 seconds from the camera")))
        }
    }
}

/// The button asking the device for a picture of the camera in `view` (`None`: one frame as it
/// came).
fn ask_form(desk: &Desk, f: &CameraForm, view: Option<&str>, label: &str) -> Markup {
    html! {
        form method="post" action=(ASK_SNAPSHOT) {
            input type="hidden" name="csrf" value=(desk.csrf);
            input type="hidden" name="device" value=(f.device);
            input type="hidden" name="camera" value=(f.camera);
            @if let Some(view) = view { input type="hidden" name="view" value=(view); }
            button type="submit" { (label) }
        }
    }
}

/// What became of a request, as the page's `data-state` names it: `arrived` says whether its
/// file came.
fn state_name(row: &SnapshotRow, arrived: bool, now: time::OffsetDateTime) -> &'static str {
    use crate::db::snapshots::SnapshotState;
    match row.state(now) {
        SnapshotState::Waiting => "waiting",
        SnapshotState::Taken if arrived => "taken",
        SnapshotState::Taken => "arriving",
        SnapshotState::Expired => "expired",
    }
}
