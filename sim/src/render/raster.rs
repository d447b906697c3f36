//! Drawing primitives of the renderer: filled shapes, projected boxes, the ids buffer that
//! says which road user covers a pixel, textures warped into perspective, glows and noise.

use super::*;

pub(super) fn paint(colour: [u8; 3], alpha: f32, aa: bool) -> Paint<'static> {
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

pub(super) fn fill_poly(pm: &mut Pixmap, pts: &[Px], paint: &Paint<'_>) {
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

pub(super) fn fill_circle(pm: &mut Pixmap, c: Px, r: f32, paint: &Paint<'_>) {
    if let Some(path) = PathBuilder::from_circle(c[0], c[1], r.max(0.3)) {
        pm.fill_path(&path, paint, FillRule::Winding, Transform::identity(), None);
    }
}

/// Projects a world polygon, clipped against the near plane.
pub(super) fn project_poly(cam: &Camera, poly: &[Vec3]) -> Option<Vec<Px>> {
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
pub(super) const FACES: [([usize; 4], [f32; 3]); 6] = [
    ([0, 1, 2, 3], [0.0, 0.0, -1.0]),
    ([4, 5, 6, 7], [0.0, 0.0, 1.0]),
    ([0, 1, 5, 4], [0.0, -1.0, 0.0]),
    ([3, 2, 6, 7], [0.0, 1.0, 0.0]),
    ([0, 3, 7, 4], [-1.0, 0.0, 0.0]),
    ([1, 2, 6, 5], [1.0, 0.0, 0.0]),
];

pub(super) fn corners(min: Vec3, max: Vec3) -> [Vec3; 8] {
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
pub(super) fn draw_box(
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

/// Whether any part of a plate's face is hidden: points across its whole width, to the
/// characters at either end (the centre among them), on three rows. A plate with one character
/// covered cannot be read whole, so it does not count as visible.
pub(super) fn face_hidden(corners: &[Px; 4], hidden: impl Fn(Px) -> bool) -> bool {
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
pub(super) fn mip_chain(img: RgbImage) -> Vec<RgbImage> {
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
pub(super) struct Ids {
    pm: Pixmap,
}

impl Ids {
    pub(super) const SCALE: f32 = 0.5;

    pub(super) fn new(w: u32, h: u32) -> Self {
        let pm = Pixmap::new((w / 2).max(1), (h / 2).max(1)).expect("the image size is validated");
        Self { pm }
    }

    pub(super) fn paint(id: u32) -> Paint<'static> {
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

    pub(super) fn poly(&mut self, poly: &[Px], id: u32) {
        let scaled: Vec<Px> = poly
            .iter()
            .map(|p| [p[0] * Self::SCALE, p[1] * Self::SCALE])
            .collect();
        fill_poly(&mut self.pm, &scaled, &Self::paint(id));
    }

    pub(super) fn circle(&mut self, c: Px, r: f32, id: u32) {
        fill_circle(
            &mut self.pm,
            [c[0] * Self::SCALE, c[1] * Self::SCALE],
            r * Self::SCALE,
            &Self::paint(id),
        );
    }

    /// The id seen at a full-resolution point; `None` for the background or outside.
    pub(super) fn at(&self, q: Px) -> Option<u32> {
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
pub(super) fn glow(pm: &mut Pixmap, c: Px, r: f32, colour: [u8; 3], alpha: f32) {
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
pub(super) fn warp_texture(
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

pub(super) fn bilinear(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    vision::pixels::bilinear_rgb(img.as_raw(), img.width(), img.height(), x, y)
}

pub(super) fn to_rgb(pm: &Pixmap) -> RgbImage {
    let mut out = Vec::with_capacity((pm.width() * pm.height() * 3) as usize);
    for px in pm.data().chunks_exact(4) {
        out.extend_from_slice(&px[..3]);
    }
    RgbImage::from_raw(pm.width(), pm.height(), out)
        .expect("the buffer has width × height × 3 bytes")
}

/// Acklam's rational approximation of the inverse normal CDF.
pub(super) fn inverse_normal(p: f64) -> f64 {
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
