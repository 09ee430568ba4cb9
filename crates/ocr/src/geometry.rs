//! Plane geometry the detector's boxes go through, as OpenCV, shapely and the reference compute
//! it: convex hulls, the minimum-area rectangle (`cv2.minAreaRect` + `boxPoints` + the
//! reference's corner ordering), polygon area and perimeter, corner ordering and the reading
//! order of boxes.

/// A point in pixels, `[x, y]`.
pub(crate) type Point = [f64; 2];
/// Four corners: top-left, top-right, bottom-right, bottom-left.
pub(crate) type Quad = [[f32; 2]; 4];

fn cross(o: Point, a: Point, b: Point) -> f64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// The convex hull of `points` (Andrew's monotone chain), counter-clockwise in a y-up frame,
/// collinear points dropped.
pub(crate) fn convex_hull(points: &[Point]) -> Vec<Point> {
    let mut pts: Vec<Point> = points.to_vec();
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let mut hull: Vec<Point> = Vec::with_capacity(pts.len() * 2);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &Point>> = if pass == 0 {
            Box::new(pts.iter())
        } else {
            Box::new(pts.iter().rev())
        };
        for &p in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

/// The smallest rectangle around `points` (any rotation): its four corners in no particular
/// order and its shorter side, like `cv2.minAreaRect` followed by `cv2.boxPoints`.
pub(crate) fn min_area_rect(points: &[Point]) -> ([Point; 4], f64) {
    let hull = convex_hull(points);
    match hull.len() {
        0 => ([[0.0; 2]; 4], 0.0),
        1 => ([hull[0]; 4], 0.0),
        2 => {
            let (a, b) = (hull[0], hull[1]);
            ([a, b, b, a], 0.0)
        }
        n => {
            let mut best: Option<(f64, [Point; 4], f64)> = None;
            for i in 0..n {
                let (a, b) = (hull[i], hull[(i + 1) % n]);
                let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
                let len = (dx * dx + dy * dy).sqrt();
                if len == 0.0 {
                    continue;
                }
                let u = [dx / len, dy / len];
                let v = [-u[1], u[0]];
                let (mut umin, mut umax, mut vmin, mut vmax) =
                    (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
                for p in &hull {
                    let pu = (p[0] - a[0]) * u[0] + (p[1] - a[1]) * u[1];
                    let pv = (p[0] - a[0]) * v[0] + (p[1] - a[1]) * v[1];
                    umin = umin.min(pu);
                    umax = umax.max(pu);
                    vmin = vmin.min(pv);
                    vmax = vmax.max(pv);
                }
                let area = (umax - umin) * (vmax - vmin);
                if best.as_ref().is_none_or(|b| area < b.0 - 1e-9) {
                    let at =
                        |s: f64, t: f64| [a[0] + u[0] * s + v[0] * t, a[1] + u[1] * s + v[1] * t];
                    let corners = [
                        at(umin, vmin),
                        at(umax, vmin),
                        at(umax, vmax),
                        at(umin, vmax),
                    ];
                    best = Some((area, corners, (umax - umin).min(vmax - vmin)));
                }
            }
            best.map_or(([[0.0; 2]; 4], 0.0), |(_, c, s)| (c, s))
        }
    }
}

/// The reference's `get_mini_boxes`: the minimum-area rectangle's corners as float32, ordered
/// top-left, top-right, bottom-right, bottom-left by its sort on x then y, and the short side.
pub(crate) fn mini_box(points: &[Point]) -> ([[f32; 2]; 4], f64) {
    let (corners, side) = min_area_rect(points);
    let mut pts: Vec<[f32; 2]> = corners.iter().map(|p| [p[0] as f32, p[1] as f32]).collect();
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let (i1, i4) = if pts[1][1] > pts[0][1] {
        (0, 1)
    } else {
        (1, 0)
    };
    let (i2, i3) = if pts[3][1] > pts[2][1] {
        (2, 3)
    } else {
        (3, 2)
    };
    ([pts[i1], pts[i2], pts[i3], pts[i4]], side)
}

/// Area and perimeter of a simple polygon (shapely's `Polygon.area` and `.length`).
pub(crate) fn area_and_perimeter(poly: &[[f32; 2]]) -> (f64, f64) {
    let n = poly.len();
    let (mut twice, mut len) = (0.0, 0.0);
    for i in 0..n {
        let a = poly[i].map(f64::from);
        let b = poly[(i + 1) % n].map(f64::from);
        twice += a[0] * b[1] - b[0] * a[1];
        len += ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
    }
    (twice.abs() / 2.0, len)
}

/// The reference's `order_points_clockwise`: the two leftmost corners (by x, ties kept in
/// order) become top-left and bottom-left by y, the other two top-right and bottom-right.
pub(crate) fn order_clockwise(q: &Quad) -> Quad {
    let mut idx = [0usize, 1, 2, 3];
    idx.sort_by(|&a, &b| q[a][0].total_cmp(&q[b][0]));
    let mut left = [q[idx[0]], q[idx[1]]];
    let mut right = [q[idx[2]], q[idx[3]]];
    left.sort_by(|a, b| a[1].total_cmp(&b[1]));
    right.sort_by(|a, b| a[1].total_cmp(&b[1]));
    [left[0], right[0], right[1], left[1]]
}

/// The reference's `sorted_boxes`: top to bottom by the first corner, then a bubble pass that
/// puts boxes whose tops differ by less than 10 pixels left to right.
pub(crate) fn reading_order(mut boxes: Vec<Quad>) -> Vec<Quad> {
    boxes.sort_by(|a, b| {
        a[0][1]
            .total_cmp(&b[0][1])
            .then(a[0][0].total_cmp(&b[0][0]))
    });
    for i in 0..boxes.len().saturating_sub(1) {
        for j in (0..=i).rev() {
            if (boxes[j + 1][0][1] - boxes[j][0][1]).abs() < 10.0
                && boxes[j + 1][0][0] < boxes[j][0][0]
            {
                boxes.swap(j, j + 1);
            } else {
                break;
            }
        }
    }
    boxes
}

/// Euclidean distance in float32, as the reference's `np.linalg.norm` on float32 corners.
pub(crate) fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1])).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f32; 2], b: [f32; 2]) -> bool {
        (a[0] - b[0]).abs() < 1e-3 && (a[1] - b[1]).abs() < 1e-3
    }

    #[test]
    fn the_hull_drops_inner_and_collinear_points() {
        let pts = [
            [0.0, 0.0],
            [2.0, 0.0],
            [4.0, 0.0],
            [4.0, 3.0],
            [0.0, 3.0],
            [1.0, 1.0],
        ];
        let hull = convex_hull(&pts);
        assert_eq!(hull.len(), 4, "{hull:?}");
        assert!(!hull.contains(&[1.0, 1.0]) && !hull.contains(&[2.0, 0.0]));
    }

    #[test]
    fn an_axis_aligned_block_gets_its_own_corners_in_reading_order() {
        let pts: Vec<Point> = (0..=10)
            .flat_map(|x| [[f64::from(x) + 5.0, 2.0], [f64::from(x) + 5.0, 6.0]])
            .collect();
        let (q, side) = mini_box(&pts);
        assert!((side - 4.0).abs() < 1e-9, "{side}");
        for (got, want) in q
            .iter()
            .zip([[5.0, 2.0], [15.0, 2.0], [15.0, 6.0], [5.0, 6.0]])
        {
            assert!(close(*got, want), "{q:?}");
        }
    }

    #[test]
    fn a_rotated_rectangle_is_found_at_its_angle() {
        // A 20 × 4 rectangle turned by 30°: the minimum box is the rectangle itself.
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let corners = [[0.0, 0.0], [20.0, 0.0], [20.0, 4.0], [0.0, 4.0]];
        let pts: Vec<Point> = corners
            .iter()
            .map(|p| [100.0 + p[0] * c - p[1] * s, 50.0 + p[0] * s + p[1] * c])
            .collect();
        let (rect, side) = min_area_rect(&pts);
        assert!((side - 4.0).abs() < 1e-6, "{side}");
        let (area, _) = area_and_perimeter(&rect.map(|p| [p[0] as f32, p[1] as f32]));
        assert!((area - 80.0).abs() < 1e-3, "{area}");
    }

    #[test]
    fn area_and_perimeter_of_a_rectangle() {
        let (a, l) = area_and_perimeter(&[[0.0, 0.0], [10.0, 0.0], [10.0, 3.0], [0.0, 3.0]]);
        assert_eq!((a, l), (30.0, 26.0));
    }

    #[test]
    fn corners_are_ordered_top_left_first_clockwise() {
        let q = [[10.0, 8.0], [0.0, 1.0], [9.0, 0.0], [1.0, 9.0]];
        assert_eq!(
            order_clockwise(&q),
            [[0.0, 1.0], [9.0, 0.0], [10.0, 8.0], [1.0, 9.0]]
        );
    }

    #[test]
    fn boxes_on_one_line_read_left_to_right_then_lines_top_to_bottom() {
        let at = |x: f32, y: f32| [[x, y], [x + 5.0, y], [x + 5.0, y + 5.0], [x, y + 5.0]];
        let sorted = reading_order(vec![
            at(50.0, 100.0),
            at(80.0, 3.0),
            at(10.0, 7.0),
            at(0.0, 60.0),
        ]);
        let firsts: Vec<[f32; 2]> = sorted.iter().map(|b| b[0]).collect();
        assert_eq!(
            firsts,
            vec![[10.0, 7.0], [80.0, 3.0], [0.0, 60.0], [50.0, 100.0]]
        );
    }
}
