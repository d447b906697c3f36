//! Planar homographies: a camera's calibrated road plane (four marked points on the road and
//! where they appear in the image), a plate's four corners, polygons. Pure arithmetic on points,
//! shared by everything that maps points between two planes; sampling pixels through them is
//! `vision::pixels`.

/// A point in a plane: pixels, or metres on the road.
pub type Point = [f32; 2];

/// A 3×3 planar homography, row-major, mapping `[x, y, 1]` to homogeneous points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography(pub [[f64; 3]; 3]);

impl Homography {
    /// The homography taking each `src[i]` to `dst[i]`, or `None` when the points are
    /// degenerate (three on a line).
    pub fn from_quads(src: &[Point; 4], dst: &[Point; 4]) -> Option<Self> {
        // The direct linear transform with h22 = 1: eight equations, eight unknowns.
        let mut a = [[0.0f64; 9]; 8];
        for i in 0..4 {
            let (x, y) = (f64::from(src[i][0]), f64::from(src[i][1]));
            let (u, v) = (f64::from(dst[i][0]), f64::from(dst[i][1]));
            a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        let h = solve8(a)?;
        Some(Self([
            [h[0], h[1], h[2]],
            [h[3], h[4], h[5]],
            [h[6], h[7], 1.0],
        ]))
    }

    /// Where `p` goes, or `None` at infinity.
    pub fn apply(&self, p: Point) -> Option<Point> {
        let m = &self.0;
        let (x, y) = (f64::from(p[0]), f64::from(p[1]));
        let w = m[2][0] * x + m[2][1] * y + m[2][2];
        if w.abs() < 1e-12 {
            return None;
        }
        let u = (m[0][0] * x + m[0][1] * y + m[0][2]) / w;
        let v = (m[1][0] * x + m[1][1] * y + m[1][2]) / w;
        Some([u as f32, v as f32])
    }

    pub fn inverse(&self) -> Option<Self> {
        let m = &self.0;
        let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        if det.abs() < 1e-15 {
            return None;
        }
        let k = 1.0 / det;
        Some(Self([
            [
                (m[1][1] * m[2][2] - m[1][2] * m[2][1]) * k,
                (m[0][2] * m[2][1] - m[0][1] * m[2][2]) * k,
                (m[0][1] * m[1][2] - m[0][2] * m[1][1]) * k,
            ],
            [
                (m[1][2] * m[2][0] - m[1][0] * m[2][2]) * k,
                (m[0][0] * m[2][2] - m[0][2] * m[2][0]) * k,
                (m[0][2] * m[1][0] - m[0][0] * m[1][2]) * k,
            ],
            [
                (m[1][0] * m[2][1] - m[1][1] * m[2][0]) * k,
                (m[0][1] * m[2][0] - m[0][0] * m[2][1]) * k,
                (m[0][0] * m[1][1] - m[0][1] * m[1][0]) * k,
            ],
        ]))
    }
}

/// The plate quad `corners` (top-left, top-right, bottom-right, bottom-left) with every side
/// moved outward by `margin` times the plate's width (the mean of its top and bottom edges),
/// along the plate's own axes: the crop a recognizer reads, so that corners placed a little
/// inside the plate (a detector's error) do not cut its first or last character. A degenerate
/// quad is returned as it is.
pub fn widen_quad(corners: &[Point; 4], margin: f32) -> [Point; 4] {
    let [tl, tr, br, bl] = *corners;
    let sub = |a: Point, b: Point| [a[0] - b[0], a[1] - b[1]];
    let len = |v: Point| v[0].hypot(v[1]);
    let (top, bottom) = (sub(tr, tl), sub(br, bl));
    let (left, right) = (sub(bl, tl), sub(br, tr));
    let across = [top[0] + bottom[0], top[1] + bottom[1]];
    let down = [left[0] + right[0], left[1] + right[1]];
    let m = margin * (len(top) + len(bottom)) / 2.0;
    if !(m.is_finite() && len(across) > 1e-6 && len(down) > 1e-6) {
        return *corners;
    }
    let ux = [across[0] / len(across) * m, across[1] / len(across) * m];
    let uy = [down[0] / len(down) * m, down[1] / len(down) * m];
    let shift = |p: Point, sx: f32, sy: f32| {
        [
            p[0] + sx * ux[0] + sy * uy[0],
            p[1] + sx * ux[1] + sy * uy[1],
        ]
    };
    [
        shift(tl, -1.0, -1.0),
        shift(tr, 1.0, -1.0),
        shift(br, 1.0, 1.0),
        shift(bl, -1.0, 1.0),
    ]
}

/// Whether `p` lies inside the polygon (even-odd rule): a lane, a zone, an outline.
pub fn point_in_polygon(p: Point, poly: &[Point]) -> bool {
    let mut inside = false;
    let n = poly.len();
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + 1) % n]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

/// Whether the segment `a`–`b` touches the polygon: an end inside it, or crossing an edge.
pub fn segment_meets_polygon(a: Point, b: Point, poly: &[Point]) -> bool {
    let cross = |o: Point, p: Point, q: Point| {
        (p[0] - o[0]) * (q[1] - o[1]) - (p[1] - o[1]) * (q[0] - o[0])
    };
    let crosses = |c: Point, d: Point| {
        let (d1, d2) = (cross(a, b, c), cross(a, b, d));
        let (d3, d4) = (cross(c, d, a), cross(c, d, b));
        (d1 * d2 <= 0.0) && (d3 * d4 <= 0.0) && !(d1 == 0.0 && d2 == 0.0 && d3 == 0.0)
    };
    point_in_polygon(a, poly)
        || point_in_polygon(b, poly)
        || (0..poly.len()).any(|i| crosses(poly[i], poly[(i + 1) % poly.len()]))
}

/// Gaussian elimination with partial pivoting on an 8×9 augmented matrix.
fn solve8(mut a: [[f64; 9]; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        for row in 0..8 {
            if row != col {
                let k = a[row][col] / a[col][col];
                if k != 0.0 {
                    let pivot_row = a[col];
                    for (x, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                        *x -= k * p;
                    }
                }
            }
        }
    }
    let mut x = [0.0; 8];
    for (i, xi) in x.iter_mut().enumerate() {
        *xi = a[i][8] / a[i][i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_meets_a_polygon_it_crosses_or_ends_in() {
        let lane = [
            [100.0, 100.0],
            [200.0, 100.0],
            [200.0, 300.0],
            [100.0, 300.0],
        ];
        // Across it, ending inside it, and beside it.
        assert!(segment_meets_polygon([0.0, 200.0], [300.0, 200.0], &lane));
        assert!(segment_meets_polygon([150.0, 200.0], [400.0, 200.0], &lane));
        assert!(!segment_meets_polygon([0.0, 400.0], [300.0, 400.0], &lane));
        assert!(!segment_meets_polygon([250.0, 0.0], [250.0, 500.0], &lane));
    }
    use proptest::prelude::*;

    #[test]
    fn maps_its_quads_and_inverts() {
        let src = [[0.0, 0.0], [160.0, 0.0], [160.0, 64.0], [0.0, 64.0]];
        let dst = [
            [310.5, 200.0],
            [402.0, 207.0],
            [398.0, 240.0],
            [305.0, 232.0],
        ];
        let h = Homography::from_quads(&src, &dst).unwrap();
        for (s, d) in src.iter().zip(&dst) {
            let p = h.apply(*s).unwrap();
            assert!(
                (p[0] - d[0]).abs() < 1e-3 && (p[1] - d[1]).abs() < 1e-3,
                "{p:?} {d:?}"
            );
        }
        let back = h
            .inverse()
            .unwrap()
            .apply(h.apply([40.0, 20.0]).unwrap())
            .unwrap();
        assert!((back[0] - 40.0).abs() < 1e-3 && (back[1] - 20.0).abs() < 1e-3);
    }

    #[test]
    fn degenerate_quads_have_none() {
        let line = [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]];
        assert!(Homography::from_quads(&line, &line).is_none());
    }

    proptest! {
        #[test]
        fn any_convex_quad_round_trips(dx in proptest::array::uniform4(-20.0f32..20.0), dy in proptest::array::uniform4(-20.0f32..20.0), x in 0.0f32..160.0, y in 0.0f32..64.0) {
            let src = [[0.0, 0.0], [160.0, 0.0], [160.0, 64.0], [0.0, 64.0]];
            let base = [[300.0, 200.0], [460.0, 200.0], [460.0, 264.0], [300.0, 264.0]];
            let dst: [Point; 4] = std::array::from_fn(|i| [base[i][0] + dx[i], base[i][1] + dy[i]]);
            let h = Homography::from_quads(&src, &dst).unwrap();
            let q = h.inverse().unwrap().apply(h.apply([x, y]).unwrap()).unwrap();
            prop_assert!((q[0] - x).abs() < 0.01 && (q[1] - y).abs() < 0.01);
        }
    }

    #[test]
    fn a_widened_quad_keeps_its_shape_and_grows_by_the_margin() {
        // An upright plate 100 × 40 px: 4 % of its width is 4 px on every side.
        let q = [[10.0, 20.0], [110.0, 20.0], [110.0, 60.0], [10.0, 60.0]];
        let w = widen_quad(&q, 0.04);
        let want = [[6.0, 16.0], [114.0, 16.0], [114.0, 64.0], [6.0, 64.0]];
        for (a, b) in w.iter().zip(&want) {
            assert!(
                (a[0] - b[0]).abs() < 1e-4 && (a[1] - b[1]).abs() < 1e-4,
                "{w:?}"
            );
        }
        // Rotated by 90°: the margin follows the plate's axes, not the image's.
        let r = [[60.0, 10.0], [60.0, 110.0], [20.0, 110.0], [20.0, 10.0]];
        let w = widen_quad(&r, 0.04);
        assert!(
            (w[0][0] - 64.0).abs() < 1e-4 && (w[0][1] - 6.0).abs() < 1e-4,
            "{w:?}"
        );
        assert!(
            (w[2][0] - 16.0).abs() < 1e-4 && (w[2][1] - 114.0).abs() < 1e-4,
            "{w:?}"
        );
        // No margin, or a quad with no extent: unchanged.
        assert_eq!(widen_quad(&q, 0.0), q);
        let flat = [[5.0, 5.0]; 4];
        assert_eq!(widen_quad(&flat, 0.04), flat);
    }
}
