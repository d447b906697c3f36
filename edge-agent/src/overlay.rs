//! The configured geometry drawn on a frame, and a frame as the camera judged it: what an
//! installer checks when setting a camera up.

use image::{Rgb, RgbImage};
use protocol::{
    camera::{CameraGeometry, SpeedTrapSpec},
    geometry::Point,
    messages::SignalState,
};
use vision::BoxF;

use crate::camera::JudgedView;

fn line(img: &mut RgbImage, a: Point, b: Point, colour: [u8; 3]) {
    let steps = ((b[0] - a[0]).abs().max((b[1] - a[1]).abs()).ceil() as usize).max(1);
    for i in 0..=steps {
        let k = i as f32 / steps as f32;
        let (x, y) = (a[0] + (b[0] - a[0]) * k, a[1] + (b[1] - a[1]) * k);
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let (px, py) = (x as i64 + dx, y as i64 + dy);
            if px >= 0 && py >= 0 && px < i64::from(img.width()) && py < i64::from(img.height()) {
                img.put_pixel(px as u32, py as u32, Rgb(colour));
            }
        }
    }
}

fn polygon(img: &mut RgbImage, points: &[Point], colour: [u8; 3]) {
    for (i, a) in points.iter().enumerate() {
        line(img, *a, points[(i + 1) % points.len()], colour);
    }
}

/// `frame` with the stop line (red), speed lines (blue), lanes (green, with their direction),
/// no-stopping zones (amber) and the signal lamps (white rings).
pub fn draw_geometry(frame: &RgbImage, g: &CameraGeometry) -> RgbImage {
    let mut img = frame.clone();
    for lane in &g.lanes {
        polygon(&mut img, &lane.polygon, [40, 220, 90]);
        let n = lane.polygon.len() as f32;
        let c = lane
            .polygon
            .iter()
            .fold([0.0, 0.0], |s, p| [s[0] + p[0] / n, s[1] + p[1] / n]);
        line(
            &mut img,
            c,
            [
                c[0] + lane.direction[0] * 40.0,
                c[1] + lane.direction[1] * 40.0,
            ],
            [40, 220, 90],
        );
    }
    for z in &g.no_stopping {
        polygon(&mut img, &z.polygon, [255, 190, 30]);
    }
    if let Some(s) = &g.stop_line {
        line(&mut img, s.a, s.b, [255, 40, 40]);
    }
    if let Some(SpeedTrapSpec::Lines { entry, exit, .. }) = &g.speed {
        line(&mut img, entry.a, entry.b, [60, 120, 255]);
        line(&mut img, exit.a, exit.b, [60, 120, 255]);
    }
    if let Some(h) = &g.signal_head {
        for c in [h.red, h.amber, h.green] {
            let r = h.radius_px + 2.0;
            let ring: Vec<Point> = (0..16)
                .map(|i| {
                    let a = i as f32 / 16.0 * std::f32::consts::TAU;
                    [c[0] + r * a.cos(), c[1] + r * a.sin()]
                })
                .collect();
            polygon(&mut img, &ring, [255, 255, 255]);
        }
    }
    img
}

/// A dark band at (`x`, `top`) with `text` on it in white, `size` pixels high.
fn label(img: &mut RgbImage, text: &str, x: f32, top: f32, size: f32) {
    let width = (text.chars().count() as f32 * size * 0.56 + size * 0.5).min(img.width() as f32);
    let x = x.clamp(0.0, (img.width() as f32 - width).max(0.0));
    let top = top.clamp(0.0, (img.height() as f32 - size * 1.3).max(0.0));
    let (x0, y0) = (x as u32, top as u32);
    let (x1, y1) = (
        ((x + width) as u32).min(img.width()),
        ((top + size * 1.3) as u32).min(img.height()),
    );
    for y in y0..y1 {
        for px in x0..x1 {
            let p = img.get_pixel_mut(px, y);
            p.0 = p.0.map(|c| c / 4);
        }
    }
    crate::evidence::draw_text(img, text, x + size * 0.25, top + size, size);
}

/// The signal as the page and the picture name it.
fn signal_name(s: Option<SignalState>) -> &'static str {
    match s {
        None => "không có nguồn tín hiệu",
        Some(SignalState::Red) => "đèn ĐỎ",
        Some(SignalState::Amber) => "đèn VÀNG",
        Some(SignalState::Green) => "đèn XANH",
        Some(SignalState::FlashingAmber) => "đèn vàng nhấp nháy",
        Some(SignalState::Off) => "đèn tắt",
        Some(SignalState::Unknown) => "đèn: không rõ",
    }
}

/// A frame as the camera judged it, for the installer checking a set-up live: the set-up in
/// force ([`draw_geometry`]), each vehicle tracked boxed with its track number, class, measured
/// speed and lane, and along the top the signal read and the configuration judged by.
pub fn draw_judged(view: &JudgedView, config_version: u64) -> RgbImage {
    let mut img = draw_geometry(view.image.rgb(), &view.camera.geometry);
    let size = (img.height() as f32 / 36.0).clamp(12.0, 40.0);
    for v in &view.vehicles {
        let b = BoxF {
            x0: v.bbox.x as f32,
            y0: v.bbox.y as f32,
            x1: (v.bbox.x + v.bbox.width) as f32,
            y1: (v.bbox.y + v.bbox.height) as f32,
        };
        let colour = if v.speed_kmh.is_some() {
            [60, 200, 255]
        } else {
            [255, 220, 60]
        };
        crate::evidence::outline(&mut img, b, 2, colour);
        let mut text = format!("#{} {}", v.track, short_class(v.class));
        if let Some(kmh) = v.speed_kmh {
            text.push_str(&format!(" {kmh:.0} km/h"));
        }
        if let Some(lane) = &v.lane {
            text.push_str(&format!(" · {lane}"));
        }
        label(&mut img, &text, b.x0, b.y0 - size * 1.35, size * 0.8);
    }
    let mut top = format!(
        "{} · {} · cấu hình v{config_version}",
        view.camera.id,
        signal_name(view.signal)
    );
    if let Some(fault) = &view.signal_fault {
        top.push_str(&format!(" · {fault}"));
    }
    label(&mut img, &top, 0.0, 0.0, size);
    img
}

/// A class as a label over a box says it, short ([`protocol::vi::vehicle_class`] is the
/// registration's name).
fn short_class(c: protocol::VehicleClass) -> &'static str {
    match c {
        protocol::VehicleClass::Car => "ô tô",
        protocol::VehicleClass::Motorbike => "xe máy",
        protocol::VehicleClass::Bus => "xe khách",
        protocol::VehicleClass::Truck => "xe tải",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_judged_frame_boxes_each_vehicle_and_names_the_signal() {
        let camera: crate::config::CameraConfig = toml::from_str(
            "id = \"cam-1\"\nsource = \"rtsp://127.0.0.1/x\"\n[site]\nname = \"Ngã tư\"\nlatitude = 10.8\nlongitude = 106.7\naddress = \"\"\ndirection = \"\"\n",
        )
        .unwrap();
        let view = JudgedView {
            frame: 1,
            taken_at: protocol::UtcTimestamp::now(),
            image: std::sync::Arc::new(vision::Picture::from_rgb(RgbImage::from_pixel(
                640,
                360,
                image::Rgb([90, 90, 90]),
            ))),
            camera: std::sync::Arc::new(camera),
            signal: Some(SignalState::Red),
            signal_fault: None,
            vehicles: vec![protocol::snapshot::JudgedVehicle {
                track: 7,
                class: protocol::VehicleClass::Car,
                bbox: protocol::VehicleBox {
                    x: 300,
                    y: 200,
                    width: 120,
                    height: 80,
                },
                speed_kmh: Some(42.0),
                lane: None,
            }],
        };
        let img = draw_judged(&view, 3);
        // The box is drawn in the measured colour on all four sides.
        for (x, y) in [(300, 240), (419, 240), (360, 200), (360, 279)] {
            assert_eq!(img.get_pixel(x, y).0, [60, 200, 255], "({x}, {y})");
        }
        // Its label and the top line are written: lit text on darkened bands.
        let lit = |y0: u32, y1: u32| {
            (y0..y1)
                .flat_map(|y| (0..640).map(move |x| (x, y)))
                .filter(|&(x, y)| img.get_pixel(x, y).0[0] > 200)
                .count()
        };
        assert!(lit(0, 16) > 100, "the signal line");
        assert!(lit(186, 200) > 40, "the vehicle's label");
        // Inside the box the frame is untouched.
        assert_eq!(img.get_pixel(360, 240).0, [90, 90, 90]);
    }
}
