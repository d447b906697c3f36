//! `GET /review/devices`: the roadside boxes — whether each is reporting, its cameras and what
//! waits in its outbox, as its last status said.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use maud::html;
use protocol::{CameraState, UtcTimestamp};

use super::{Desk, Lang, alert};
use crate::{db::devices, state::AppState};

/// A device not heard from for this long is shown as silent (its heartbeat is every 10 s by
/// default, and the broker reports a dropped device as offline by its last will).
const SILENT_AFTER_S: i64 = 60;

fn state_name(lang: Lang, state: Option<&str>, silent: bool) -> (&'static str, &'static str) {
    match (state, silent) {
        (None, _) => (lang.t("Chưa báo", "Never reported"), "unknown"),
        (Some("offline"), _) => (lang.t("Mất kết nối", "Offline"), "rejected"),
        (Some(_), true) => (lang.t("Không có tin", "Silent"), "rejected"),
        (Some("degraded"), _) => (lang.t("Hoạt động kém", "Degraded"), "pending_review"),
        (Some(_), false) => (lang.t("Hoạt động", "Online"), "approved"),
    }
}

pub async fn page(State(state): State<AppState>, desk: Desk) -> Response {
    let lang = desk.lang;
    let title = lang.t("Thiết bị hiện trường", "Roadside devices");
    let now = UtcTimestamp::now();
    let body = match devices::health(&state.db).await {
        Ok(items) => html! {
            h1 { (title) }
            table.queue #devices {
                thead { tr {
                    th { (lang.t("Thiết bị", "Device")) }
                    th { (lang.t("Trạng thái", "State")) }
                    th { (lang.t("Tin gần nhất", "Last heard")) }
                    th { "Camera" }
                    th.num { (lang.t("Chờ gửi", "Outbox")) }
                    th { (lang.t("Phiên bản", "Version")) }
                } }
                tbody {
                    @for d in &items {
                        @let silent = d.heard_at.is_some_and(|at| (now.unix_ms() - at.unix_ms()) / 1000 > SILENT_AFTER_S);
                        @let (name, class) = state_name(lang, d.state.as_deref(), silent);
                        tr data-device=(d.device_id) {
                            td { strong { (d.name) } br; code { (d.device_id) }
                                @if d.revoked { " " span.status.rejected { (lang.t("đã thu hồi", "revoked")) } } }
                            td { span class={ "status " (class) } { (name) } }
                            td { (d.heard_at.map(protocol::vi::local_time).unwrap_or_default()) }
                            td { @for c in &d.cameras {
                                div { code { (c.camera) } " "
                                    (match c.state {
                                        CameraState::Streaming => lang.t("đang truyền", "streaming"),
                                        CameraState::Reconnecting => lang.t("đang kết nối lại", "reconnecting"),
                                        CameraState::Down => lang.t("mất hình", "down"),
                                    })
                                    " · " (format!("{:.1}", c.detect_fps)) " fps"
                                    @if let Some(fault) = &c.signal_fault {
                                        br; span.status.rejected { (lang.t("Lỗi đèn tín hiệu", "Signal fault")) }
                                        " " small { (fault) }
                                    } }
                            } }
                            td.num { (d.outbox_depth.map(|n| n.to_string()).unwrap_or_default()) }
                            td { (d.software_version.as_deref().unwrap_or_default()) }
                        }
                    }
                }
            }
        },
        Err(e) => html! { h1 { (title) } (alert(lang, &e.into())) },
    };
    desk.page("/review/devices", title, body).into_response()
}
