//! The static scene, drawn once per world: sky, road, markings, kerbs, buildings, trees and
//! the signal's pole and heads.

use super::raster::*;
use super::*;

/// The static scene and where the signal's lamps are.
pub(super) fn draw_background(
    world: &World,
    light: &Light,
    rng: &mut Rng,
) -> (Pixmap, Vec<(Px, f32, Phase)>) {
    let cam = &world.camera;
    let spec = &world.spec;
    let road = &spec.road;
    let (w, h) = (cam.width(), cam.height());
    let mut pm = Pixmap::new(w, h).expect("the image size is validated");
    let night = light.night;
    let horizon = cam.horizon_row().clamp(-1.0, h as f32 + 1.0);

    // Sky and distant ground.
    let (sky_top, sky_low) = match spec.conditions.time_of_day {
        TimeOfDay::Day => ([110, 160, 215], [200, 215, 230]),
        TimeOfDay::Dusk => ([70, 70, 120], [235, 150, 100]),
        TimeOfDay::Night => ([8, 10, 22], [30, 32, 50]),
    };
    let ground = light.shade([110, 115, 100], Vec3::new(0.0, 0.0, 1.0));
    pm.fill(Color::from_rgba8(ground[0], ground[1], ground[2], 255));
    if horizon > 0.0 {
        let mut p = Paint::default();
        if let Some(shader) = LinearGradient::new(
            Point::from_xy(0.0, 0.0),
            Point::from_xy(0.0, horizon),
            vec![
                GradientStop::new(
                    0.0,
                    Color::from_rgba8(sky_top[0], sky_top[1], sky_top[2], 255),
                ),
                GradientStop::new(
                    1.0,
                    Color::from_rgba8(sky_low[0], sky_low[1], sky_low[2], 255),
                ),
            ],
            SpreadMode::Pad,
            Transform::identity(),
        ) {
            p.shader = shader;
        }
        fill_poly(
            &mut pm,
            &[
                [0.0, 0.0],
                [w as f32, 0.0],
                [w as f32, horizon],
                [0.0, horizon],
            ],
            &p,
        );
    }
    let _ = Shader::SolidColor(Color::BLACK);

    let up = Vec3::new(0.0, 0.0, 1.0);
    // The stretch of road drawn, and how far trees and street lights go: a camera looking back
    // sees the road behind it to the horizon.
    let (near, far) = cam.ground_span(road.far_m);
    let along = cam.spec().facing == Facing::Along;
    let (trees_end, lights_end) = if along {
        (far * 0.7, far * 0.6)
    } else {
        (far, far)
    };
    // Far things are drawn first: sort keys by y, reversed for a camera looking back.
    let farther = |a: f32, b: f32| {
        if along {
            b.total_cmp(&a)
        } else {
            a.total_cmp(&b)
        }
    };
    let half = road.width_m() / 2.0;
    let ground_quad = |x0: f32, x1: f32, y0: f32, y1: f32| {
        [
            Vec3::new(x0, y0, 0.0),
            Vec3::new(x1, y0, 0.0),
            Vec3::new(x1, y1, 0.0),
            Vec3::new(x0, y1, 0.0),
        ]
    };
    let fill_ground = |pm: &mut Pixmap, x0: f32, x1: f32, y0: f32, y1: f32, colour: [u8; 3]| {
        if let Some(poly) = project_poly(cam, &ground_quad(x0, x1, y0, y1)) {
            fill_poly(pm, &poly, &paint(light.shade(colour, up), 1.0, true));
        }
    };
    // Pavements, the road, the crossing road.
    let wet = spec.conditions.rain > 0.3;
    let asphalt = if wet { [62, 64, 68] } else { [92, 94, 98] };
    fill_ground(&mut pm, -half - 6.0, half + 6.0, near, far, [160, 155, 145]);
    fill_ground(&mut pm, -half - 0.3, half + 0.3, near, far, [200, 200, 195]);
    fill_ground(&mut pm, -half, half, near, far, asphalt);
    if let Some((y0, y1)) = road.junction_span() {
        fill_ground(&mut pm, -120.0, 120.0, y0 - 0.3, y1 + 0.3, [200, 200, 195]);
        fill_ground(&mut pm, -120.0, 120.0, y0, y1, asphalt);
    }
    // Texture of the asphalt: fixed speckle under the horizon.
    {
        let start = (horizon.max(0.0) as u32).min(h);
        let width = w as usize;
        let data = pm.data_mut();
        for y in start..h {
            for x in 0..width {
                let o = (y as usize * width + x) * 4;
                let n = (rng.next_u32() % 13) as i16 - 6;
                for c in &mut data[o..o + 3] {
                    *c = (i16::from(*c) + n).clamp(0, 255) as u8;
                }
            }
        }
    }
    let white = [235, 235, 230];
    let yellow = [230, 190, 40];
    let lane_w = road.lane_width_m;
    let mark = |pm: &mut Pixmap, x: f32, y0: f32, y1: f32, width: f32, colour: [u8; 3]| {
        if let Some(poly) =
            project_poly(cam, &ground_quad(x - width / 2.0, x + width / 2.0, y0, y1))
        {
            fill_poly(pm, &poly, &paint(light.shade(colour, up), 0.9, true));
        }
    };
    let junction = road.junction_span();
    let gaps = |y0: f32, y1: f32| -> Vec<(f32, f32)> {
        match junction {
            Some((j0, j1)) => vec![(y0, (j0 - 0.5).min(y1)), ((j1 + 0.5).max(y0), y1)],
            None => vec![(y0, y1)],
        }
    };
    for (a, b) in gaps(near, far) {
        mark(&mut pm, -half + 0.2, a, b, 0.15, white);
        mark(&mut pm, half - 0.2, a, b, 0.15, white);
    }
    for i in 1..road.lanes.len() {
        let x = -half + i as f32 * lane_w;
        let opposite = road.lanes[i - 1].direction != road.lanes[i].direction;
        for (a, b) in gaps(near, far) {
            if opposite {
                mark(&mut pm, x - 0.12, a, b, 0.12, yellow);
                mark(&mut pm, x + 0.12, a, b, 0.12, yellow);
            } else {
                let mut y = a;
                while y < b {
                    mark(&mut pm, x, y, (y + 3.0).min(b), 0.13, white);
                    y += 9.0;
                }
            }
        }
    }
    let mut lamps = Vec::new();
    if let Some(stop) = road.stop_line_m {
        for (i, lane) in road.lanes.iter().enumerate() {
            if lane.direction == Direction::Away {
                let x = road.lane_centre_x(i);
                if let Some(poly) = project_poly(
                    cam,
                    &ground_quad(x - lane_w / 2.0, x + lane_w / 2.0, stop, stop + 0.4),
                ) {
                    fill_poly(&mut pm, &poly, &paint(light.shade(white, up), 0.95, true));
                }
            }
        }
        // The crosswalk just beyond the stop line.
        let mut x = -half + 0.3;
        while x < half - 0.3 {
            if let Some(poly) = project_poly(cam, &ground_quad(x, x + 0.5, stop + 1.0, stop + 4.0))
            {
                fill_poly(&mut pm, &poly, &paint(light.shade(white, up), 0.85, true));
            }
            x += 1.0;
        }
        // The signal: a post on the right pavement just past the stop line, head facing us.
        let (px, py) = (half + 0.9, stop + 1.5);
        let post = corners(
            Vec3::new(px - 0.07, py - 0.07, 0.0),
            Vec3::new(px + 0.07, py + 0.07, 3.6),
        );
        let normals = FACES.map(|(_, n)| Vec3::new(n[0], n[1], n[2]));
        let _ = draw_box(
            &mut pm,
            cam,
            light,
            &post,
            &normals,
            [70, 72, 75],
            Material::Paint,
        );
        let head = corners(
            Vec3::new(px - 0.2, py - 0.25, 3.6),
            Vec3::new(px + 0.2, py, 4.75),
        );
        let _ = draw_box(
            &mut pm,
            cam,
            light,
            &head,
            &normals,
            [25, 25, 25],
            Material::Paint,
        );
        // The lamps face the traffic coming to the line: a camera looking back sees the head's back.
        for (k, phase) in [Phase::Red, Phase::Amber, Phase::Green]
            .into_iter()
            .enumerate()
            .filter(|_| along)
        {
            let c = Vec3::new(px, py - 0.26, 4.55 - k as f32 * 0.37);
            if let Some(q) = cam.project(c) {
                lamps.push((q, 0.14 * cam.scale_at(c), phase));
            }
        }
    }
    for zone in &road.no_stopping {
        let x = road.lane_centre_x(zone.lane);
        let (x0, x1) = (x - lane_w / 2.0 + 0.2, x + lane_w / 2.0 - 0.2);
        for (a, b) in [(x0, x0 + 0.15), (x1 - 0.15, x1)] {
            if let Some(poly) = project_poly(cam, &ground_quad(a, b, zone.from_m, zone.to_m)) {
                fill_poly(&mut pm, &poly, &paint(light.shade(yellow, up), 0.9, true));
            }
        }
        let mut y = zone.from_m;
        while y < zone.to_m - 1.0 {
            let poly = [
                Vec3::new(x0, y, 0.0),
                Vec3::new(x0 + 0.25, y, 0.0),
                Vec3::new(x1, y + 1.5, 0.0),
                Vec3::new(x1 - 0.25, y + 1.5, 0.0),
            ];
            if let Some(poly) = project_poly(cam, &poly) {
                fill_poly(&mut pm, &poly, &paint(light.shade(yellow, up), 0.85, true));
            }
            y += 2.0;
        }
    }

    // Buildings along both sides, far ones first, with windows; trees on the pavement.
    let mut buildings = Vec::new();
    for side in [-1.0f32, 1.0] {
        let mut y = near - 5.0;
        while y < far {
            let len = rng.range(7.0, 16.0);
            let gap = if rng.chance(0.2) {
                rng.range(2.0, 6.0)
            } else {
                0.0
            };
            let height = rng.range(7.0, 22.0);
            let depth = rng.range(8.0, 14.0);
            let inner = half + 6.0 + rng.range(0.0, 1.0);
            let colour = *rng.pick(&[
                [200, 190, 170],
                [180, 180, 185],
                [220, 210, 190],
                [170, 140, 120],
                [150, 170, 160],
                [230, 225, 215],
            ]);
            let in_junction = junction.is_some_and(|(j0, j1)| y + len > j0 - 2.0 && y < j1 + 2.0);
            if !in_junction {
                buildings.push((side, y, len, height, depth, inner, colour, rng.next_u64()));
            }
            y += len + gap;
        }
    }
    buildings.sort_by(|a, b| farther(a.1, b.1));
    let normals = FACES.map(|(_, n)| Vec3::new(n[0], n[1], n[2]));
    for (side, y, len, height, depth, inner, colour, seed) in buildings {
        let (x0, x1) = if side < 0.0 {
            (-inner - depth, -inner)
        } else {
            (inner, inner + depth)
        };
        let c = corners(Vec3::new(x0, y, 0.0), Vec3::new(x1, y + len, height));
        let _ = draw_box(&mut pm, cam, light, &c, &normals, colour, Material::Paint);
        // Windows on the face toward the road.
        let mut wr = Rng::new(seed);
        let xf = if side < 0.0 { x1 + 0.02 } else { x0 - 0.02 };
        let floors = (height / 3.2) as usize;
        let cols = (len / 2.6) as usize;
        for f in 0..floors {
            for k in 0..cols {
                let (wy0, wz0) = (y + 0.8 + k as f32 * 2.6, 1.0 + f as f32 * 3.2);
                let quad = [
                    Vec3::new(xf, wy0, wz0),
                    Vec3::new(xf, wy0 + 1.4, wz0),
                    Vec3::new(xf, wy0 + 1.4, wz0 + 1.6),
                    Vec3::new(xf, wy0, wz0 + 1.6),
                ];
                if let Some(poly) = project_poly(cam, &quad) {
                    let lit = night && wr.chance(0.35);
                    let colour = if lit {
                        [250, 215, 140]
                    } else {
                        light.shade([60, 70, 85], Vec3::new(-side, 0.0, 0.0))
                    };
                    fill_poly(&mut pm, &poly, &paint(colour, 1.0, true));
                }
            }
        }
    }
    let mut trees: Vec<(f32, f32)> = Vec::new();
    for side in [-1.0f32, 1.0] {
        let mut y = near + rng.range(0.0, 10.0);
        while y < trees_end {
            if junction.is_none_or(|(j0, j1)| y < j0 - 3.0 || y > j1 + 3.0) {
                trees.push((side * (half + 4.2), y));
            }
            y += rng.range(12.0, 25.0);
        }
    }
    trees.sort_by(|a, b| farther(a.1, b.1));
    for (x, y) in trees {
        let trunk = corners(
            Vec3::new(x - 0.15, y - 0.15, 0.0),
            Vec3::new(x + 0.15, y + 0.15, 3.0),
        );
        let _ = draw_box(
            &mut pm,
            cam,
            light,
            &trunk,
            &normals,
            [90, 70, 50],
            Material::Paint,
        );
        let c = Vec3::new(x, y, 4.2);
        if let Some(q) = cam.project(c) {
            let r = 2.0 * cam.scale_at(c);
            fill_circle(
                &mut pm,
                q,
                r,
                &paint(light.shade([50, 110, 50], up), 1.0, true),
            );
            fill_circle(
                &mut pm,
                [q[0] - r * 0.3, q[1] - r * 0.3],
                r * 0.6,
                &paint(light.shade([70, 140, 65], up), 0.8, true),
            );
        }
    }
    // Street lights pool on the road at night.
    if night {
        let mut y = near + 5.0;
        while y < lights_end {
            for x in [-half + 1.0, half - 1.0] {
                if let Some(q) = cam.project(Vec3::new(x, y, 0.0)) {
                    glow(
                        &mut pm,
                        q,
                        6.0 * cam.scale_at(Vec3::new(x, y, 0.0)),
                        [255, 200, 120],
                        0.35,
                    );
                }
                if let Some(q) = cam.project(Vec3::new(x + x.signum() * 1.5, y, 8.0)) {
                    glow(
                        &mut pm,
                        q,
                        0.8 * cam.scale_at(Vec3::new(x, y, 8.0)),
                        [255, 230, 180],
                        0.9,
                    );
                }
            }
            y += 25.0;
        }
    }
    (pm, lamps)
}
