//! The renderer: the static scene drawn once (road, markings, buildings, the signal's pole),
//! then per frame the signal lamps, shadows, road users back to front, plates warped into
//! perspective, weather and sensor noise. Ground truth comes out of the same projection.

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

fn paint(colour: [u8; 3], alpha: f32, aa: bool) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color_rgba8(
        colour[0],
        colour[1],
        colour[2],
        (alpha.clamp(0.0, 1.0) * 255.0) as u8,
    );
    p.anti_alias = aa;
    p
}

fn fill_poly(pm: &mut Pixmap, pts: &[Px], paint: &Paint<'_>) {
    if pts.len() < 3 {
        return;
    }
    let mut pb = PathBuilder::new();
    pb.move_to(pts[0][0], pts[0][1]);
    for p in &pts[1..] {
        pb.line_to(p[0], p[1]);
    }
    pb.close();
    if let Some(path) = pb.finish() {
        pm.fill_path(&path, paint, FillRule::Winding, Transform::identity(), None);
    }
}

fn fill_circle(pm: &mut Pixmap, c: Px, r: f32, paint: &Paint<'_>) {
    if let Some(path) = PathBuilder::from_circle(c[0], c[1], r.max(0.3)) {
        pm.fill_path(&path, paint, FillRule::Winding, Transform::identity(), None);
    }
}

/// Projects a world polygon, clipped against the near plane.
fn project_poly(cam: &Camera, poly: &[Vec3]) -> Option<Vec<Px>> {
    let near = NEAR_M + 0.01;
    let mut clipped: Vec<Vec3> = Vec::with_capacity(poly.len() + 2);
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
        let (da, db) = (cam.depth(a), cam.depth(b));
        if da >= near {
            clipped.push(a);
        }
        if (da >= near) != (db >= near) {
            let k = (near - da) / (db - da);
            clipped.push(a + (b - a) * k);
        }
    }
    if clipped.len() < 3 {
        return None;
    }
    clipped.iter().map(|p| cam.project(*p)).collect()
}

/// A box in the world, given by its 8 corners and the outward normals of its faces.
const FACES: [([usize; 4], [f32; 3]); 6] = [
    ([0, 1, 2, 3], [0.0, 0.0, -1.0]),
    ([4, 5, 6, 7], [0.0, 0.0, 1.0]),
    ([0, 1, 5, 4], [0.0, -1.0, 0.0]),
    ([3, 2, 6, 7], [0.0, 1.0, 0.0]),
    ([0, 3, 7, 4], [-1.0, 0.0, 0.0]),
    ([1, 2, 6, 5], [1.0, 0.0, 0.0]),
];

fn corners(min: Vec3, max: Vec3) -> [Vec3; 8] {
    [
        Vec3::new(min.x, min.y, min.z),
        Vec3::new(max.x, min.y, min.z),
        Vec3::new(max.x, max.y, min.z),
        Vec3::new(min.x, max.y, min.z),
        Vec3::new(min.x, min.y, max.z),
        Vec3::new(max.x, min.y, max.z),
        Vec3::new(max.x, max.y, max.z),
        Vec3::new(min.x, max.y, max.z),
    ]
}

/// Draws a world box with shading, faces turned away culled.
fn draw_box(
    pm: &mut Pixmap,
    cam: &Camera,
    light: &Light,
    c: &[Vec3; 8],
    normals: &[Vec3; 6],
    colour: [u8; 3],
    material: Material,
) -> Vec<Vec<Px>> {
    let eye = cam.position();
    let mut filled = Vec::with_capacity(3);
    for (k, (idx, _)) in FACES.iter().enumerate() {
        let n = normals[k];
        let centre = (c[idx[0]] + c[idx[2]]) * 0.5;
        if n.dot(eye - centre) <= 0.0 {
            continue;
        }
        let Some(poly) = project_poly(cam, &[c[idx[0]], c[idx[1]], c[idx[2]], c[idx[3]]]) else {
            continue;
        };
        let lit = match material {
            Material::Lamp if light.night => colour,
            Material::Glass => {
                let base = light.shade(colour, n);
                let sky = light.shade([150, 165, 185], Vec3::new(0.0, 0.0, 1.0));
                let up = n.z.max(0.0) * 0.5 + 0.15;
                [0, 1, 2].map(|i| (f32::from(base[i]) * (1.0 - up) + f32::from(sky[i]) * up) as u8)
            }
            _ => light.shade(colour, n),
        };
        fill_poly(pm, &poly, &paint(lit, 1.0, true));
        filled.push(poly);
    }
    filled
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

/// Whether any part of a plate's face is hidden: points across its whole width, to the
/// characters at either end (the centre among them), on three rows. A plate with one character
/// covered cannot be read whole, so it does not count as visible.
fn face_hidden(corners: &[Px; 4], hidden: impl Fn(Px) -> bool) -> bool {
    let lerp = |a: Px, b: Px, t: f32| [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
    const COLUMNS: usize = 17;
    (0..COLUMNS).any(|i| {
        let u = 0.03 + 0.94 * i as f32 / (COLUMNS - 1) as f32;
        let top = lerp(corners[0], corners[1], u);
        let bottom = lerp(corners[3], corners[2], u);
        [0.2, 0.5, 0.8]
            .into_iter()
            .any(|v| hidden(lerp(top, bottom, v)))
    })
}

/// The image and its halvings down to about 24 pixels wide.
fn mip_chain(img: RgbImage) -> Vec<RgbImage> {
    let mut levels = vec![img];
    while let Some(last) = levels.last().filter(|l| l.width() >= 48 && l.height() >= 8) {
        let next = image::imageops::resize(
            last,
            last.width() / 2,
            last.height() / 2,
            image::imageops::FilterType::Triangle,
        );
        levels.push(next);
    }
    levels
}

/// Which road user is seen at each pixel, at half resolution: drawn flat in their ids.
struct Ids {
    pm: Pixmap,
}

impl Ids {
    const SCALE: f32 = 0.5;

    fn new(w: u32, h: u32) -> Self {
        let pm = Pixmap::new((w / 2).max(1), (h / 2).max(1)).expect("the image size is validated");
        Self { pm }
    }

    fn paint(id: u32) -> Paint<'static> {
        paint(
            [
                (id & 0xff) as u8,
                ((id >> 8) & 0xff) as u8,
                ((id >> 16) & 0xff) as u8,
            ],
            1.0,
            false,
        )
    }

    fn poly(&mut self, poly: &[Px], id: u32) {
        let scaled: Vec<Px> = poly
            .iter()
            .map(|p| [p[0] * Self::SCALE, p[1] * Self::SCALE])
            .collect();
        fill_poly(&mut self.pm, &scaled, &Self::paint(id));
    }

    fn circle(&mut self, c: Px, r: f32, id: u32) {
        fill_circle(
            &mut self.pm,
            [c[0] * Self::SCALE, c[1] * Self::SCALE],
            r * Self::SCALE,
            &Self::paint(id),
        );
    }

    /// The id seen at a full-resolution point; `None` for the background or outside.
    fn at(&self, q: Px) -> Option<u32> {
        let (x, y) = ((q[0] * Self::SCALE).floor(), (q[1] * Self::SCALE).floor());
        if x < 0.0 || y < 0.0 || x >= self.pm.width() as f32 || y >= self.pm.height() as f32 {
            return None;
        }
        let px = self.pm.pixel(x as u32, y as u32)?;
        let id = u32::from(px.red()) | (u32::from(px.green()) << 8) | (u32::from(px.blue()) << 16);
        (px.alpha() > 0 && id > 0).then_some(id)
    }
}

impl std::fmt::Debug for Ids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ids")
            .field("width", &self.pm.width())
            .finish()
    }
}

/// A soft round glow (lamps at night).
fn glow(pm: &mut Pixmap, c: Px, r: f32, colour: [u8; 3], alpha: f32) {
    let stops = vec![
        GradientStop::new(
            0.0,
            Color::from_rgba8(colour[0], colour[1], colour[2], (alpha * 255.0) as u8),
        ),
        GradientStop::new(1.0, Color::from_rgba8(colour[0], colour[1], colour[2], 0)),
    ];
    let Some(shader) = RadialGradient::new(
        Point::from_xy(c[0], c[1]),
        Point::from_xy(c[0], c[1]),
        r.max(1.0),
        stops,
        SpreadMode::Pad,
        Transform::identity(),
    ) else {
        return;
    };
    let p = Paint {
        shader,
        anti_alias: true,
        ..Paint::default()
    };
    fill_circle(pm, c, r.max(1.0), &p);
}

/// Warps `texture` onto the quad (reading-order corners) with 2×2 supersampling spread along
/// the motion during the exposure, lit by `k` and `tint`.
fn warp_texture(
    pm: &mut Pixmap,
    texture: &RgbImage,
    quad: &[Px; 4],
    k: f32,
    tint: [f32; 3],
    motion: [f32; 2],
    _frame: u64,
) {
    let (tw, th) = (texture.width() as f32, texture.height() as f32);
    let src = [[0.0, 0.0], [tw, 0.0], [tw, th], [0.0, th]];
    let Some(h) = Homography::from_quads(quad, &src) else {
        return;
    };
    let Some(bounds) = BoxPx::around(quad) else {
        return;
    };
    let (pw, ph) = (pm.width() as i32, pm.height() as i32);
    let x0 = ((bounds.x0 - motion[0].abs()).floor() as i32 - 1).max(0);
    let x1 = ((bounds.x1 + motion[0].abs()).ceil() as i32 + 1).min(pw);
    let y0 = ((bounds.y0 - motion[1].abs()).floor() as i32 - 1).max(0);
    let y1 = ((bounds.y1 + motion[1].abs()).ceil() as i32 + 1).min(ph);
    let subs: [(f32, f32, f32); 4] = [
        (0.25, 0.25, -0.375),
        (0.75, 0.25, -0.125),
        (0.25, 0.75, 0.125),
        (0.75, 0.75, 0.375),
    ];
    let stride = pm.width() as usize;
    let data = pm.data_mut();
    for y in y0..y1 {
        for x in x0..x1 {
            let mut acc = [0.0f32; 3];
            let mut n = 0;
            for (sx, sy, t) in subs {
                let q = [x as f32 + sx - motion[0] * t, y as f32 + sy - motion[1] * t];
                let Some(uv) = h.apply(q) else { continue };
                if uv[0] < 0.0 || uv[1] < 0.0 || uv[0] >= tw || uv[1] >= th {
                    continue;
                }
                let c = bilinear(texture, uv[0] - 0.5, uv[1] - 0.5);
                for i in 0..3 {
                    acc[i] += c[i];
                }
                n += 1;
            }
            if n == 0 {
                continue;
            }
            let cover = n as f32 / 4.0;
            let o = (y as usize * stride + x as usize) * 4;
            for i in 0..3 {
                let v = (acc[i] / n as f32 * k * tint[i]).min(255.0);
                data[o + i] = (f32::from(data[o + i]) * (1.0 - cover) + v * cover) as u8;
            }
        }
    }
}

fn bilinear(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    vision::pixels::bilinear_rgb(img.as_raw(), img.width(), img.height(), x, y)
}

fn to_rgb(pm: &Pixmap) -> RgbImage {
    let mut out = Vec::with_capacity((pm.width() * pm.height() * 3) as usize);
    for px in pm.data().chunks_exact(4) {
        out.extend_from_slice(&px[..3]);
    }
    RgbImage::from_raw(pm.width(), pm.height(), out)
        .expect("the buffer has width × height × 3 bytes")
}

/// Acklam's rational approximation of the inverse normal CDF.
fn inverse_normal(p: f64) -> f64 {
    let a = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    let b = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    let c = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    let d = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let plow = 0.02425;
    if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
            / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    } else if p > 1.0 - plow {
        -inverse_normal(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    }
}

/// The static scene and where the signal's lamps are.
fn draw_background(world: &World, light: &Light, rng: &mut Rng) -> (Pixmap, Vec<(Px, f32, Phase)>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    const PLATE: [Px; 4] = [[10.0, 10.0], [110.0, 10.0], [110.0, 32.0], [10.0, 32.0]];

    #[test]
    fn a_plate_with_an_end_character_covered_is_hidden() {
        assert!(!face_hidden(&PLATE, |_| false));
        // Something nearer covers the last character (the right 6 % of the face) or the first.
        assert!(face_hidden(&PLATE, |q| q[0] > 104.0));
        assert!(face_hidden(&PLATE, |q| q[0] < 15.0));
        // ... or only its centre ...
        assert!(face_hidden(&PLATE, |q| (q[0] - 60.0).abs() < 0.5
            && (q[1] - 21.0).abs() < 0.5));
        // ... or only the lower row of a two-line plate's characters.
        assert!(face_hidden(&PLATE, |q| q[1] > 26.0));
        // Covering what lies beside the plate hides nothing.
        assert!(!face_hidden(&PLATE, |q| q[0] > 111.0 || q[0] < 9.0));
    }
}
