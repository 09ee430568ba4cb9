//! Growing a detected box outwards by a distance, as the reference does with pyclipper
//! (Clipper 6's `ClipperOffset`, round joins, closed polygon): corners truncated to whole
//! pixels first, arcs at the corners stepped by Clipper's arc tolerance, every output vertex
//! rounded to whole pixels. The reference takes the minimum-area rectangle of the result, so
//! the vertices are what must match, not their order.

/// Clipper's default arc tolerance, in pixels.
const ARC_TOLERANCE: f64 = 0.25;

fn clipper_round(v: f64) -> i64 {
    if v < 0.0 {
        (v - 0.5) as i64
    } else {
        (v + 0.5) as i64
    }
}

/// The vertices of `poly` offset outwards by `delta` pixels (empty when the polygon has fewer
/// than three distinct corners).
pub(crate) fn offset_polygon(poly: &[[f32; 2]], delta: f64) -> Vec<[i64; 2]> {
    // pyclipper converts coordinates to integers by truncation.
    let mut src: Vec<[i64; 2]> = Vec::with_capacity(poly.len());
    for p in poly {
        let q = [p[0] as i64, p[1] as i64];
        if src.last() != Some(&q) {
            src.push(q);
        }
    }
    while src.len() > 1 && src.first() == src.last() {
        src.pop();
    }
    if src.len() < 3 || delta <= 0.0 {
        return Vec::new();
    }
    // Clipper offsets polygons of positive orientation; it reverses the others.
    let twice_area: i64 = (0..src.len())
        .map(|i| {
            let (a, b) = (src[i], src[(i + 1) % src.len()]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum();
    if twice_area < 0 {
        src.reverse();
    }
    let n = src.len();
    let normals: Vec<[f64; 2]> = (0..n)
        .map(|j| {
            let (a, b) = (src[j], src[(j + 1) % n]);
            let (dx, dy) = ((b[0] - a[0]) as f64, (b[1] - a[1]) as f64);
            if dx == 0.0 && dy == 0.0 {
                return [0.0, 0.0];
            }
            let f = 1.0 / (dx * dx + dy * dy).sqrt();
            [dy * f, -dx * f]
        })
        .collect();
    let tol = if ARC_TOLERANCE > delta * ARC_TOLERANCE {
        delta * ARC_TOLERANCE
    } else {
        ARC_TOLERANCE
    };
    let mut steps = std::f64::consts::PI / (1.0 - tol / delta).acos();
    if steps > delta * std::f64::consts::PI {
        steps = delta * std::f64::consts::PI;
    }
    let (sin, cos) = (std::f64::consts::TAU / steps).sin_cos();
    let steps_per_rad = steps / std::f64::consts::TAU;
    let mut out = Vec::new();
    let push = |out: &mut Vec<[i64; 2]>, p: [i64; 2], n: [f64; 2]| {
        out.push([
            clipper_round(p[0] as f64 + n[0] * delta),
            clipper_round(p[1] as f64 + n[1] * delta),
        ]);
    };
    let mut k = n - 1;
    for j in 0..n {
        let (nk, nj, p) = (normals[k], normals[j], src[j]);
        let mut sin_a = nk[0] * nj[1] - nj[0] * nk[1];
        let cos_a = nk[0] * nj[0] + nk[1] * nj[1];
        if (sin_a * delta).abs() < 1.0 {
            if cos_a > 0.0 {
                push(&mut out, p, nk);
                k = j;
                continue;
            }
        } else {
            sin_a = sin_a.clamp(-1.0, 1.0);
        }
        if sin_a * delta < 0.0 {
            push(&mut out, p, nk);
            out.push(p);
            push(&mut out, p, nj);
        } else {
            let a = sin_a.atan2(cos_a);
            let count = (clipper_round(steps_per_rad * a.abs()) as i32).max(1);
            let (mut x, mut y) = (nk[0], nk[1]);
            for _ in 0..count {
                push(&mut out, p, [x, y]);
                let x2 = x;
                x = x * cos - sin * y;
                y = x2 * sin + y * cos;
            }
            push(&mut out, p, nj);
        }
        k = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_pyclipper_on_a_box_with_fractional_corners() {
        // pyclipper 1.4.0: PyclipperOffset().AddPath(box, JT_ROUND, ET_CLOSEDPOLYGON);
        // Execute(5.0) on [[10.7,5.9],[50.2,5.9],[50.2,20.6],[10.7,20.6]].
        let got = offset_polygon(&[[10.7, 5.9], [50.2, 5.9], [50.2, 20.6], [10.7, 20.6]], 5.0);
        let mut got = got.clone();
        got.sort();
        got.dedup();
        let mut want = vec![
            [53, 1],
            [55, 5],
            [55, 20],
            [54, 23],
            [50, 25],
            [10, 25],
            [7, 24],
            [5, 20],
            [5, 5],
            [6, 2],
            [10, 0],
            [50, 0],
        ];
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn orientation_does_not_change_the_result() {
        let a = [[0.0, 0.0], [30.0, 0.0], [30.0, 8.0], [0.0, 8.0]];
        let mut b = a;
        b.reverse();
        let (mut x, mut y) = (offset_polygon(&a, 3.2), offset_polygon(&b, 3.2));
        x.sort();
        y.sort();
        assert_eq!(x, y);
        assert!(x
            .iter()
            .all(|p| p[0] >= -4 && p[0] <= 34 && p[1] >= -4 && p[1] <= 12));
        assert!(x.iter().any(|p| p[1] <= -3), "grown upwards");
    }

    #[test]
    fn a_degenerate_polygon_gives_nothing() {
        assert!(offset_polygon(&[[1.0, 1.0], [5.0, 1.0], [1.2, 1.9]], 2.0).is_empty());
    }
}
