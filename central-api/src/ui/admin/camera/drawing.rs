//! What the set-up page draws: the geometry over the camera's picture (SVG), the drawing tools'
//! canvas, and the road grid the calibration implies drawn back on the image, so a wrong
//! measurement shows at once.

use maud::{Markup, html};

use super::Lang;

use super::*;

/// The geometry drawn to scale over the camera's picture when there is one (else a blank of
/// the geometry's extent): lanes, no-stopping zones, the stop line with the side traffic comes
/// from, the speed lines, the signal head, the calibration's four road points.
pub(super) fn preview(
    lang: Lang,
    g: &protocol::camera::CameraGeometry,
    picture: Option<&Picture>,
) -> Markup {
    use protocol::camera::SpeedTrapSpec;
    let mut points: Vec<protocol::geometry::Point> = Vec::new();
    points.extend(g.lanes.iter().flat_map(|l| l.polygon.iter().copied()));
    points.extend(g.no_stopping.iter().flat_map(|z| z.polygon.iter().copied()));
    let mut lines = Vec::new();
    if let Some(l) = g.stop_line {
        lines.push(("stop", l));
    }
    points.extend(g.calibration.iter().flat_map(|c| c.image));
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
                    @if let (Some(case), Some(p)) = (z.case, z.polygon.first()) {
                        text x=(p[0] + 12.0) y=(p[1] - 12.0) fill="#ffc94d" font-size="30" { (lang.t(case.name_vi(), case.name_en())) }
                    }
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
                @if let Some(c) = &g.calibration {
                    @for (i, (p, road)) in c.image.iter().zip(&c.road).enumerate() {
                        circle cx=(p[0]) cy=(p[1]) r="12" fill="none" stroke="#ff7ad9" stroke-width="4" {}
                        text x=(p[0] + 14.0) y=(p[1] - 14.0) fill="#ff7ad9" font-size="30" {
                            "P" (i + 1) " (" (road[0]) ", " (road[1]) " m)"
                        }
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
/// `neighbours`: the device's other cameras calibrated on road points, offered to the
/// calibration tool, so that a second camera of the same road is calibrated on the same ones.
pub(super) fn editor(
    lang: Lang,
    picture: Option<&Picture>,
    neighbours: &[(String, protocol::camera::GroundPoints)],
) -> Markup {
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
                button type="button" data-action="undo" disabled title="Ctrl+Z" { (lang.t("Hoàn tác", "Undo")) }
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
                label { (lang.t("Biển báo hoặc nơi cấm (quyết định điểm, khoản phạt)", "The sign or the place (decides the decree's point)"))
                    select name="zone_case" form="" {
                        @for case in protocol::camera::ZoneCase::ALL {
                            option value=(case.as_str()) { (lang.t(case.name_vi(), case.name_en())) }
                        }
                    }
                }
            }
            div data-fields="lines" hidden {
                label { (lang.t("Khoảng cách giữa hai vạch (m)", "Distance between the lines (m)")) input name="distance_m" form="" inputmode="decimal" value="10"; }
            }
            div data-fields="calibrate" hidden {
                p.muted { (lang.t("Vị trí trên mặt đường, mét: x ngang đường, y dọc đường.", "Places on the road, metres: x across the road, y along it.")) }
                @if !neighbours.is_empty() {
                    label { (lang.t("Cùng các điểm mặt đường với camera", "The same road points as camera"))
                        select name="shared_points" form="" {
                            option value="" { "—" }
                            @for (camera, points) in neighbours {
                                option value=(camera) data-road=(serde_json::to_string(&points.road).unwrap_or_default()) { (camera) }
                            }
                        }
                    }
                    p.muted { (lang.t(
                        "Camera đọc biển số và camera tổng quan của cùng một hướng phải được hiệu chỉnh trên cùng bốn điểm: chọn camera kia, rồi nhấp đúng bốn điểm đó (P1–P4, theo thứ tự) trên ảnh này.",
                        "A plate camera and the overview camera of its approach must be calibrated on the same four points: choose the other camera, then click those four points (P1–P4, in order) on this picture.")) }
                }
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
pub(super) fn road_grid(m: &[[f64; 3]; 3], width: f32, height: f32) -> Markup {
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
