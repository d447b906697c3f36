//! The renderer: the static scene drawn once (road, markings, buildings, the signal's pole),
//! then per frame the signal lamps, shadows, road users back to front, plates warped into
//! perspective, weather and sensor noise. Ground truth comes out of the same projection. The
//! drawing primitives are in `raster`, the static scene in `scene`.
//!
//! The per-frame drawing stays in one `impl` because each step (shadows, road users back to
//! front, plates, weather) draws into and reads the same frame and ids buffer.

use image::RgbImage;
use tiny_skia::{
    Color, FillRule, GradientStop, LinearGradient, Paint, PathBuilder, Pixmap, Point,
    RadialGradient, Shader, SpreadMode, Transform,
};

use crate::{
    camera::{Camera, Facing, NEAR_M},
    geom::{BoxPx, Homography, Px, Vec3, convex_hull, point_in_polygon},
    plate::render_plate,
    rng::Rng,
    scenario::{Direction, Phase, TimeOfDay},
    truth::{FrameTruth, ObjectTruth, PlateTruth},
    vehicle::{End, Material, ObjectClass, PlateMount},
    world::{Placed, World},
};

/// One rendered frame and what is in it.
#[derive(Debug, Clone)]
pub struct Frame {
    pub index: usize,
    pub image: RgbImage,
    pub truth: FrameTruth,
}

#[derive(Debug, Clone, Copy)]
struct Light {
    ambient: f32,
    sun: Vec3,
    sun_strength: f32,
    tint: [f32; 3],
    night: bool,
    shadow_alpha: f32,
}

impl Light {
    fn of(time: TimeOfDay) -> Self {
        match time {
            TimeOfDay::Day => Self {
                ambient: 0.58,
                sun: Vec3::new(0.45, -0.35, 0.82).normalized(),
                sun_strength: 0.5,
                tint: [1.0, 1.0, 1.0],
                night: false,
                shadow_alpha: 0.38,
            },
            TimeOfDay::Dusk => Self {
                ambient: 0.42,
                sun: Vec3::new(-0.8, 0.35, 0.35).normalized(),
                sun_strength: 0.35,
                tint: [1.05, 0.86, 0.72],
                night: false,
                shadow_alpha: 0.25,
            },
            TimeOfDay::Night => Self {
                ambient: 0.2,
                sun: Vec3::new(0.0, 0.0, 1.0),
                sun_strength: 0.08,
                tint: [0.8, 0.85, 1.0],
                night: true,
                shadow_alpha: 0.0,
            },
        }
    }

    fn shade(&self, colour: [u8; 3], normal: Vec3) -> [u8; 3] {
        let k = self.ambient + self.sun_strength * normal.dot(self.sun).max(0.0);
        let mut out = [0u8; 3];
        for i in 0..3 {
            out[i] = (f32::from(colour[i]) * k * self.tint[i]).clamp(0.0, 255.0) as u8;
        }
        out
    }
}

/// Renders the frames of one simulated world.
#[derive(Debug)]
pub struct Renderer<'w> {
    world: &'w World,
    background: Pixmap,
    /// Each actor's plate with its mip levels (halving), so small plates are not aliased.
    /// Drawn on first use: most road users of a long simulation are never in a rendered frame.
    plates: Vec<std::sync::OnceLock<Option<Vec<RgbImage>>>>,
    lamps: Vec<(Px, f32, Phase)>,
    light: Light,
    noise_table: [i16; 256],
}

impl<'w> Renderer<'w> {
    /// The world being drawn.
    pub fn world(&self) -> &'w World {
        self.world
    }

    /// The signal lamps: centre, radius (pixels) and the phase each shows.
    pub(crate) fn lamps(&self) -> &[(Px, f32, Phase)] {
        &self.lamps
    }

    pub fn new(world: &'w World) -> Self {
        let light = Light::of(world.spec.conditions.time_of_day);
        let mut rng = Rng::stream(world.seed, 7);
        let (background, lamps) = draw_background(world, &light, &mut rng);
        let plates = world
            .actors
            .iter()
            .map(|_| std::sync::OnceLock::new())
            .collect();
        let sigma = world.spec.conditions.noise * if light.night { 2.0 } else { 1.0 };
        let mut noise_table = [0i16; 256];
        for (i, n) in noise_table.iter_mut().enumerate() {
            let p = (i as f64 + 0.5) / 256.0;
            *n = (inverse_normal(p) * f64::from(sigma)).round() as i16;
        }
        Self {
            world,
            background,
            plates,
            lamps,
            light,
            noise_table,
        }
    }

    pub fn frame_count(&self) -> usize {
        self.world.frames.len()
    }

    pub fn camera(&self) -> &Camera {
        &self.world.camera
    }

    pub fn fps(&self) -> u32 {
        self.world.spec.fps
    }

    /// Renders frame `index` (0-based) with its ground truth.
    pub fn render(&self, index: usize) -> Frame {
        let world = self.world;
        let snap = &world.frames[index];
        let cam = &world.camera;
        let (w, h) = (cam.width() as f32, cam.height() as f32);
        let mut pm = self.background.clone();
        let light = &self.light;

        // Signal lamps.
        if let Some((phase, _)) = snap.phase {
            for (c, r, lamp) in &self.lamps {
                let on = *lamp == phase;
                let colour = match (lamp, on) {
                    (Phase::Red, true) => [255, 50, 40],
                    (Phase::Amber, true) => [255, 185, 20],
                    (Phase::Green, true) => [40, 255, 140],
                    _ => [45, 45, 45],
                };
                if on && light.night {
                    glow(&mut pm, *c, r * 4.0, colour, 0.5);
                }
                fill_circle(&mut pm, *c, *r, &paint(colour, 1.0, true));
            }
        }

        // Back to front.
        let mut order: Vec<&Placed> = snap.placed.iter().collect();
        order.sort_by(|a, b| cam.depth(b.pos).total_cmp(&cam.depth(a.pos)));

        if light.shadow_alpha > 0.0 && world.spec.conditions.shadows {
            for p in &order {
                self.draw_shadow(&mut pm, p);
            }
        }
        // Who is seen where: each road user drawn again, flat, in its own id, at half size.
        let mut ids = Ids::new(cam.width(), cam.height());
        let mut drawn: Vec<(usize, u32, Vec<Px>)> = Vec::with_capacity(order.len());
        let mut objects = Vec::new();
        for (k, p) in order.iter().enumerate() {
            let id = k as u32 + 1;
            let Some(outline) = self.draw_actor(&mut pm, &mut ids, id, p, index) else {
                continue;
            };
            drawn.push((p.actor, id, outline));
        }
        for (k, p) in order.iter().enumerate() {
            let Some((_, id, hull)) = drawn.iter().find(|(a, _, _)| *a == p.actor) else {
                continue;
            };
            if let Some(t) = self.truth_of(p, hull, &ids, *id, w, h) {
                objects.push((k, t));
            }
        }
        objects.sort_by_key(|(_, t)| t.track_id);

        self.weather_and_noise(&mut pm, index);
        let image = to_rgb(&pm);
        Frame {
            index,
            image,
            truth: FrameTruth {
                frame: index,
                t_s: snap.t,
                phase: snap.phase.map(|p| p.0),
                phase_elapsed_s: snap.phase.map(|p| p.1),
                objects: objects.into_iter().map(|(_, t)| t).collect(),
            },
        }
    }

    fn frame_of(&self, p: &Placed) -> (Vec3, Vec3) {
        let fwd = Vec3::new(p.heading[0], p.heading[1], 0.0);
        let right = Vec3::new(p.heading[1], -p.heading[0], 0.0);
        (fwd, right)
    }

    fn to_world(&self, p: &Placed, local: Vec3) -> Vec3 {
        let (fwd, right) = self.frame_of(p);
        p.pos + right * local.x + fwd * local.y + Vec3::new(0.0, 0.0, local.z)
    }

    fn draw_shadow(&self, pm: &mut Pixmap, p: &Placed) {
        let actor = &self.world.actors[p.actor];
        let (l, wd, ht) = actor.class.size_m();
        let s = self.light.sun;
        let off = [-s.x / s.z * ht * 0.8, -s.y / s.z * ht * 0.8];
        let mut ground = Vec::with_capacity(8);
        for (x, y) in [
            (-wd / 2.0, -l / 2.0),
            (wd / 2.0, -l / 2.0),
            (wd / 2.0, l / 2.0),
            (-wd / 2.0, l / 2.0),
        ] {
            let c = self.to_world(p, Vec3::new(x, y, 0.0));
            ground.push(c);
            ground.push(Vec3::new(c.x + off[0], c.y + off[1], 0.0));
        }
        let cam = &self.world.camera;
        let Some(pts) = ground
            .iter()
            .map(|g| cam.project(*g))
            .collect::<Option<Vec<Px>>>()
        else {
            return;
        };
        let hull = convex_hull(&pts);
        fill_poly(
            pm,
            &hull,
            &paint([10, 10, 15], self.light.shadow_alpha, true),
        );
    }

    /// Draws one road user; returns the outline of everything drawn (for occlusion), or
    /// `None` when nothing of it is in front of the camera.
    fn draw_actor(
        &self,
        pm: &mut Pixmap,
        ids: &mut Ids,
        id: u32,
        p: &Placed,
        frame: usize,
    ) -> Option<Vec<Px>> {
        let actor = &self.world.actors[p.actor];
        let cam = &self.world.camera;
        let light = &self.light;
        let shape = &actor.shape;
        let (fwd, right) = self.frame_of(p);
        let rot = |n: [f32; 3]| right * n[0] + fwd * n[1] + Vec3::new(0.0, 0.0, n[2]);
        let normals: [Vec3; 6] = FACES.map(|(_, n)| rot(n));

        let mut outline_pts: Vec<Px> = Vec::new();
        enum Item {
            Part(usize),
            Head(usize),
            Plate(usize),
        }
        let mut items: Vec<(f32, Item)> = Vec::new();
        for (i, part) in shape.parts.iter().enumerate() {
            let c = self.to_world(p, (part.min + part.max) * 0.5);
            items.push((cam.depth(c), Item::Part(i)));
        }
        for (i, head) in shape.heads.iter().enumerate() {
            items.push((cam.depth(self.to_world(p, head.centre)), Item::Head(i)));
        }
        for (i, mount) in shape.plates.iter().enumerate() {
            items.push((
                cam.depth(self.to_world(p, mount.centre)) - 0.05,
                Item::Plate(i),
            ));
        }
        items.sort_by(|a, b| b.0.total_cmp(&a.0));

        // A quick reject: every corner off-screen on the same side.
        let all: Vec<Px> = shape
            .parts
            .iter()
            .flat_map(|part| corners(part.min, part.max))
            .filter_map(|c| cam.project(self.to_world(p, c)))
            .collect();
        if all.is_empty() {
            return None;
        }
        let (w, h) = (cam.width() as f32, cam.height() as f32);
        if all.iter().all(|q| q[0] < 0.0)
            || all.iter().all(|q| q[0] > w)
            || all.iter().all(|q| q[1] < 0.0)
            || all.iter().all(|q| q[1] > h)
        {
            return None;
        }
        outline_pts.extend_from_slice(&all);

        for (_, item) in &items {
            match *item {
                Item::Part(i) => {
                    let part = &shape.parts[i];
                    let c = corners(part.min, part.max).map(|q| self.to_world(p, q));
                    for poly in draw_box(pm, cam, light, &c, &normals, part.colour, part.material) {
                        ids.poly(&poly, id);
                    }
                    if part.material == Material::Lamp && light.night {
                        let centre = (c[0] + c[6]) * 0.5;
                        let facing = normals[2].dot(cam.position() - centre) > 0.0
                            || normals[3].dot(cam.position() - centre) > 0.0;
                        if let (true, Some(px)) = (facing, cam.project(centre)) {
                            let r = cam.scale_at(centre) * 0.35;
                            glow(pm, px, r, part.colour, 0.55);
                        }
                    }
                }
                Item::Head(i) => {
                    let head = &shape.heads[i];
                    let centre = self.to_world(p, head.centre);
                    let Some(c) = cam.project(centre) else {
                        continue;
                    };
                    let r = head.radius * cam.scale_at(centre);
                    ids.circle(c, r, id);
                    outline_pts.extend([
                        [c[0] - r, c[1] - r],
                        [c[0] + r, c[1] + r],
                        [c[0] - r, c[1] + r],
                        [c[0] + r, c[1] - r],
                    ]);
                    match head.helmet {
                        Some(colour) => {
                            let up = Vec3::new(0.0, 0.0, 1.0);
                            fill_circle(
                                pm,
                                c,
                                r,
                                &paint(
                                    light.shade(
                                        colour,
                                        up * 0.6 + (cam.position() - centre).normalized() * 0.4,
                                    ),
                                    1.0,
                                    true,
                                ),
                            );
                            // The visor band and a highlight.
                            let band = [c[0], c[1] + r * 0.25];
                            fill_poly(
                                pm,
                                &[
                                    [band[0] - r * 0.9, band[1]],
                                    [band[0] + r * 0.9, band[1]],
                                    [band[0] + r * 0.75, band[1] + r * 0.35],
                                    [band[0] - r * 0.75, band[1] + r * 0.35],
                                ],
                                &paint(light.shade([30, 30, 35], up), 0.8, true),
                            );
                            fill_circle(
                                pm,
                                [c[0] - r * 0.35, c[1] - r * 0.45],
                                r * 0.22,
                                &paint([255, 255, 255], 0.45, true),
                            );
                        }
                        None => {
                            let skin = [210, 165, 130];
                            fill_circle(
                                pm,
                                c,
                                r,
                                &paint(light.shade(skin, Vec3::new(0.0, 0.0, 1.0)), 1.0, true),
                            );
                            let hair = light.shade([28, 22, 18], Vec3::new(0.0, 0.0, 1.0));
                            let toward = fwd.dot(cam.position() - centre) > 0.0;
                            let (dy, rr) = if toward { (-0.35, 0.8) } else { (-0.1, 0.95) };
                            fill_circle(pm, [c[0], c[1] + dy * r], rr * r, &paint(hair, 1.0, true));
                        }
                    }
                }
                Item::Plate(i) => {
                    let mount = &shape.plates[i];
                    if let (Some(levels), Some(quad)) =
                        (self.plate_texture(p.actor), self.plate_quad(p, mount))
                    {
                        let across = ((quad[1][0] - quad[0][0]).powi(2)
                            + (quad[1][1] - quad[0][1]).powi(2))
                        .sqrt();
                        let texture = levels
                            .iter()
                            .rev()
                            .find(|l| l.width() as f32 >= 1.5 * across)
                            .unwrap_or(&levels[0]);
                        let normal = if mount.end == End::Rear { -fwd } else { fwd };
                        let centre = self.to_world(p, mount.centre);
                        if normal.dot(cam.position() - centre) > 0.0 {
                            ids.poly(&quad, id);
                            let motion = self.motion_px(p, centre);
                            let lamp = if light.night { 0.55 } else { 0.0 };
                            let k = (light.ambient
                                + light.sun_strength * normal.dot(light.sun).max(0.0)
                                + lamp)
                                .min(1.1);
                            warp_texture(pm, texture, &quad, k, light.tint, motion, frame as u64);
                        }
                    }
                }
            }
        }
        Some(convex_hull(&outline_pts))
    }

    /// The actor's plate texture and its mip levels.
    fn plate_texture(&self, actor: usize) -> Option<&Vec<RgbImage>> {
        self.plates[actor]
            .get_or_init(|| {
                let a = &self.world.actors[actor];
                let mut rng = Rng::stream(a.look_seed, 3);
                a.plate
                    .as_ref()
                    .map(|p| mip_chain(render_plate(p, self.world.spec.plate_face, &mut rng)))
            })
            .as_ref()
    }

    /// Displacement of a point during the exposure, pixels.
    fn motion_px(&self, p: &Placed, at: Vec3) -> [f32; 2] {
        let cam = &self.world.camera;
        let shutter_ms = cam
            .spec()
            .shutter_ms
            .unwrap_or(self.world.spec.conditions.shutter_ms);
        let dt = shutter_ms / 1000.0;
        let d = Vec3::new(p.heading[0], p.heading[1], 0.0) * (p.speed_mps * dt);
        match (cam.project(at), cam.project(at + d)) {
            (Some(a), Some(b)) => [b[0] - a[0], b[1] - a[1]],
            _ => [0.0, 0.0],
        }
    }

    /// The plate's corners in reading order, pixels.
    fn plate_quad(&self, p: &Placed, mount: &PlateMount) -> Option<[Px; 4]> {
        let (_, right) = self.frame_of(p);
        // The reader faces the plate: for a rear plate the reader's right is the vehicle's.
        let r = if mount.end == End::Rear {
            right
        } else {
            -right
        };
        let c = self.to_world(p, mount.centre);
        let up = Vec3::new(0.0, 0.0, 1.0);
        let (hw, hh) = (mount.width_m / 2.0, mount.height_m / 2.0);
        let cam = &self.world.camera;
        Some([
            cam.project(c - r * hw + up * hh)?,
            cam.project(c + r * hw + up * hh)?,
            cam.project(c + r * hw - up * hh)?,
            cam.project(c - r * hw - up * hh)?,
        ])
    }

    fn truth_of(
        &self,
        p: &Placed,
        hull: &[Px],
        ids: &Ids,
        id: u32,
        w: f32,
        h: f32,
    ) -> Option<ObjectTruth> {
        let actor = &self.world.actors[p.actor];
        let full = BoxPx::around(hull)?;
        let bbox = full.clipped(w, h)?;
        if bbox.width() < 2.0 || bbox.height() < 2.0 {
            return None;
        }
        let truncated = bbox != full;
        // Hidden: something nearer was drawn over it (the background showing between a
        // motorbike's wheels does not count).
        let hidden = |q: Px| ids.at(q).is_some_and(|other| other != id);
        // Visibility: a grid of points inside the outline, inside the frame.
        let (mut covered, mut seen) = (0u32, 0u32);
        for i in 0..12 {
            for j in 0..12 {
                let q = [
                    bbox.x0 + (i as f32 + 0.5) / 12.0 * bbox.width(),
                    bbox.y0 + (j as f32 + 0.5) / 12.0 * bbox.height(),
                ];
                if point_in_polygon(q, hull) {
                    match ids.at(q) {
                        Some(x) if x == id => {
                            covered += 1;
                            seen += 1;
                        }
                        Some(_) => covered += 1,
                        None => {}
                    }
                }
            }
        }
        let visible = if covered == 0 {
            0.0
        } else {
            seen as f32 / covered as f32
        };
        let cam = &self.world.camera;
        let (fwd, _) = self.frame_of(p);
        let plate = actor.plate.as_ref().and_then(|spec| {
            // The plate the camera faces (rear, or front on cars coming toward it).
            let mount = [End::Rear, End::Front].into_iter().find_map(|end| {
                actor.shape.plates.iter().find(|m| {
                    m.end == end && {
                        let n = if end == End::Rear { -fwd } else { fwd };
                        n.dot(cam.position() - self.to_world(p, m.centre)) > 0.0
                    }
                })
            })?;
            let corners = self.plate_quad(p, mount)?;
            let in_frame = corners
                .iter()
                .all(|c| c[0] >= 0.0 && c[1] >= 0.0 && c[0] < w && c[1] < h);
            let occluded = face_hidden(&corners, hidden);
            let blur = self.motion_px(p, self.to_world(p, mount.centre));
            let width_px = ((corners[1][0] - corners[0][0]).powi(2)
                + (corners[1][1] - corners[0][1]).powi(2))
            .sqrt();
            Some(PlateTruth {
                text: spec.text.clone(),
                canonical: spec.canonical.clone(),
                layout: spec.layout,
                colour: spec.colour,
                corners,
                visible: in_frame && !occluded,
                width_px,
                blur_px: (blur[0].hypot(blur[1]) * 100.0).round() / 100.0,
            })
        });
        let heads = actor
            .shape
            .heads
            .iter()
            .filter(|_| actor.class == ObjectClass::Motorbike)
            .filter_map(|head| {
                let c = self.to_world(p, head.centre);
                let px = cam.project(c)?;
                let r = head.radius * cam.scale_at(c);
                Some(BoxPx {
                    x0: px[0] - r,
                    y0: px[1] - r,
                    x1: px[0] + r,
                    y1: px[1] + r,
                })
            })
            .collect();
        Some(ObjectTruth {
            track_id: actor.id,
            class: actor.class,
            bbox,
            truncated,
            visible,
            lane: p.lane,
            world_m: [p.pos.x, p.pos.y],
            speed_kmh: p.speed_mps * 3.6,
            plate,
            helmets: actor.helmets.clone(),
            heads,
        })
    }

    fn weather_and_noise(&self, pm: &mut Pixmap, frame: usize) {
        let cond = &self.world.spec.conditions;
        let (w, h) = (pm.width() as f32, pm.height() as f32);
        let mut rng = Rng::stream(self.world.seed ^ 0x5eed, frame as u64);
        if cond.rain > 0.0 {
            let n = (cond.rain * 500.0) as usize;
            let mut pb = PathBuilder::new();
            for _ in 0..n {
                let (x, y) = (rng.range(0.0, w), rng.range(0.0, h));
                let len = rng.range(12.0, 40.0);
                pb.move_to(x, y);
                pb.line_to(x - len * 0.15, y + len);
            }
            if let Some(path) = pb.finish() {
                let stroke = tiny_skia::Stroke {
                    width: 1.2,
                    ..Default::default()
                };
                pm.stroke_path(
                    &path,
                    &paint([200, 205, 215], 0.22, true),
                    &stroke,
                    Transform::identity(),
                    None,
                );
            }
        }
        let haze = (cond.rain * 0.25).min(0.5);
        let grey = 150.0 * haze;
        let keep = 1.0 - haze;
        let table = &self.noise_table;
        let data = pm.data_mut();
        let mut state = rng.next_u32() | 1;
        for px in data.chunks_exact_mut(4) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let r = state;
            for (k, c) in px[..3].iter_mut().enumerate() {
                let n = table[((r >> (8 * k)) & 0xff) as usize];
                let v = if haze > 0.0 {
                    f32::from(*c) * keep + grey
                } else {
                    f32::from(*c)
                };
                *c = (v as i16 + n).clamp(0, 255) as u8;
            }
        }
    }
}

mod raster;
mod scene;

use raster::*;
use scene::draw_background;
