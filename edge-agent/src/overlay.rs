//! The configured geometry drawn on a frame: what an installer checks when setting a camera up.

use image::{Rgb, RgbImage};
use protocol::{
    camera::{CameraGeometry, SpeedTrapSpec},
    geometry::Point,
};

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
