//! Plane geometry the detector's boxes go through, as OpenCV, shapely and the reference compute
//! it: convex hulls and the minimum-area rectangle (`cv2.convexHull`, `cv2.minAreaRect`,
//! `cv2.boxPoints` as OpenCV 5 computes them, float32 for float32: bit for bit the same as
//! opencv-python 5.1's on 512 random contours when written; two are pinned in the tests), the
//! reference's corner ordering, polygon area and perimeter, and the reading order of boxes.

/// Four corners: top-left, top-right, bottom-right, bottom-left.
pub(crate) type Quad = [[f32; 2]; 4];

/// OpenCV's `Sklansky_` scan over x-sorted points from `start` towards `end`: the indices (into
/// `pts`) of one chain of the hull, its length returned.
fn sklansky(
    pts: &[[i32; 2]],
    order: &[usize],
    start: usize,
    end: usize,
    stack: &mut [usize],
    nsign: i64,
    sign2: i64,
) -> usize {
    let p = |k: usize| pts[order[k]];
    let incr: isize = if end > start { 1 } else { -1 };
    let (mut pprev, mut pcur) = (start as isize, start as isize + incr);
    let mut pnext = pcur + incr;
    let mut size = 3usize;
    if start == end || p(start) == p(end) {
        stack[0] = start;
        return 1;
    }
    stack[0] = pprev as usize;
    stack[1] = pcur as usize;
    stack[2] = pnext as usize;
    let after = end as isize + incr;
    let sign = |v: i64| v.signum();
    while pnext != after {
        let (c, n, pr) = (p(pcur as usize), p(pnext as usize), p(pprev as usize));
        let by = i64::from(n[1] - c[1]);
        if sign(by) != nsign {
            let ax = i64::from(c[0] - pr[0]);
            let bx = i64::from(n[0] - c[0]);
            let ay = i64::from(c[1] - pr[1]);
            let convexity = ay * bx - ax * by;
            if sign(convexity) == sign2 && (ax != 0 || ay != 0) {
                pprev = pcur;
                pcur = pnext;
                pnext += incr;
                stack[size] = pnext as usize;
                size += 1;
            } else if pprev == start as isize {
                pcur = pnext;
                stack[1] = pcur as usize;
                pnext += incr;
                stack[2] = pnext as usize;
            } else {
                stack[size - 2] = pnext as usize;
                pcur = pprev;
                pprev = stack[size - 4] as isize;
                size -= 1;
            }
        } else {
            pnext += incr;
            stack[size - 1] = pnext as usize;
        }
    }
    size - 1
}

/// `cv2.convexHull(points, clockwise=False)` on integer points, in OpenCV's order and starting
/// point (both decide which of several equal rectangles `cv2.minAreaRect` reports).
pub(crate) fn cv_convex_hull(pts: &[[i32; 2]]) -> Vec<[i32; 2]> {
    let total = pts.len();
    if total == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..total).collect();
    order.sort_by(|&a, &b| pts[a][0].cmp(&pts[b][0]).then(pts[a][1].cmp(&pts[b][1])));
    let (mut miny, mut maxy) = (0usize, 0usize);
    for i in 1..total {
        let y = pts[order[i]][1];
        if pts[order[miny]][1] > y {
            miny = i;
        }
        if pts[order[maxy]][1] < y {
            maxy = i;
        }
    }
    let mut hull: Vec<usize> = Vec::new();
    if pts[order[0]] == pts[order[total - 1]] {
        hull.push(order[0]);
    } else {
        let mut stack = vec![0usize; total + 2];
        // Upper half: the chain from the right end is gathered first (counter-clockwise).
        let tl = sklansky(pts, &order, 0, maxy, &mut stack, -1, 1);
        let tl_stack: Vec<usize> = stack[..tl].to_vec();
        let tr = sklansky(pts, &order, total - 1, maxy, &mut stack, -1, -1);
        let tr_stack: Vec<usize> = stack[..tr].to_vec();
        let (a, b) = (&tr_stack, &tl_stack);
        for &k in a.iter().take(a.len().saturating_sub(1)) {
            hull.push(order[k]);
        }
        for i in (1..b.len()).rev() {
            hull.push(order[b[i]]);
        }
        let stop = if b.len() > 2 {
            Some(b[1])
        } else if a.len() > 2 {
            Some(a[a.len() - 2])
        } else {
            None
        };
        let bl = sklansky(pts, &order, 0, miny, &mut stack, 1, -1);
        let bl_stack: Vec<usize> = stack[..bl].to_vec();
        let br = sklansky(pts, &order, total - 1, miny, &mut stack, 1, 1);
        let br_stack: Vec<usize> = stack[..br].to_vec();
        let (mut blc, mut brc) = (bl_stack.len(), br_stack.len());
        if let Some(stop) = stop {
            let check = if blc > 2 {
                Some(bl_stack[1])
            } else if blc + brc > 2 {
                Some(br_stack[2 - blc])
            } else {
                None
            };
            if let Some(check) = check {
                if check == stop || pts[order[check]] == pts[order[stop]] {
                    blc = blc.min(2);
                    brc = brc.min(2);
                }
            }
        }
        for &k in bl_stack.iter().take(blc.saturating_sub(1)) {
            hull.push(order[k]);
        }
        for i in (1..brc).rev() {
            hull.push(order[br_stack[i]]);
        }
        // OpenCV rotates the output so the input indices ascend or descend when they can.
        let nout = hull.len();
        if nout >= 3 {
            let (mut min_i, mut max_i, mut lt) = (0usize, 0usize, 0usize);
            for i in 1..nout {
                let idx = hull[i];
                lt += usize::from(hull[i - 1] < idx);
                if lt > 1 && lt + 2 <= i {
                    break;
                }
                if idx < hull[min_i] {
                    min_i = i;
                }
                if idx > hull[max_i] {
                    max_i = i;
                }
            }
            let mmdist = max_i.abs_diff(min_i);
            if (mmdist == 1 || mmdist == nout - 1) && (lt <= 1 || lt + 2 >= nout) {
                let ascending = (max_i + 1) % nout == min_i;
                let i0 = if ascending { min_i } else { max_i };
                if i0 > 0 {
                    let mut rotated = Vec::with_capacity(nout);
                    let mut j = i0;
                    let mut ok = true;
                    for i in 0..nout {
                        let cur = hull[j];
                        rotated.push(cur);
                        let nj = if j + 1 < nout { j + 1 } else { 0 };
                        if i < nout - 1 && (ascending != (cur < hull[nj])) {
                            ok = false;
                            break;
                        }
                        j = nj;
                    }
                    if ok {
                        hull = rotated;
                    }
                }
            }
        }
    }
    hull.into_iter().map(|i| pts[i]).collect()
}

/// `cv2.minAreaRect` on integer points as OpenCV 5 computes it, float32 for float32: centre,
/// size and angle in degrees. The reference truncates the corners it gets from this, so one
/// unit in the last place decides which pixel a box starts at.
pub(crate) fn cv_min_area_rect(pts: &[[i32; 2]]) -> ([f32; 2], [f32; 2], f32) {
    let hull: Vec<[f32; 2]> = cv_convex_hull(pts)
        .iter()
        .map(|p| [p[0] as f32, p[1] as f32])
        .collect();
    let len = |v: [f32; 2]| {
        (f64::from(v[0]) * f64::from(v[0]) + f64::from(v[1]) * f64::from(v[1])).sqrt() as f32
    };
    let mut angle = -std::f64::consts::FRAC_PI_2;
    let (mut center, mut size) = ([0f32; 2], [0f32; 2]);
    match hull.len() {
        0 => {}
        1 => center = hull[0],
        2 => {
            let (p, q) = (hull[0], hull[1]);
            center = [(p[0] + q[0]) * 0.5, (p[1] + q[1]) * 0.5];
            let (dx, dy) = (p[0] - q[0], p[1] - q[1]);
            size = [0.0, len([dx, dy])];
            if dx == 0.0 {
                size = [size[1], size[0]];
            } else if dy < 0.0 {
                angle = f64::from(dy).atan2(f64::from(dx));
                size = [size[1], size[0]];
            } else if dy > 0.0 {
                angle = -f64::from(dx).atan2(f64::from(dy));
            }
        }
        _ => {
            let [corner, v1, v2] = rotating_calipers(&hull);
            center = [
                corner[0] + (v1[0] + v2[0]) * 0.5,
                corner[1] + (v1[1] + v2[1]) * 0.5,
            ];
            size = [len(v2), len(v1)];
            if v1[0] == 0.0 && v1[1] > 0.0 {
                size = [size[1], size[0]];
            } else {
                angle = -f64::from(v1[0]).atan2(f64::from(v1[1]));
            }
        }
    }
    (center, size, (angle * 180.0 / std::f64::consts::PI) as f32)
}

/// OpenCV's rotating calipers for the minimum-area rectangle over a hull (first caliper along
/// +x): a corner and the two side vectors.
fn rotating_calipers(p: &[[f32; 2]]) -> [[f32; 2]; 3] {
    let n = p.len();
    let mut vect = vec![[0f32; 2]; n];
    let mut inv_len = vec![0f32; n];
    let (mut left, mut bottom, mut right, mut top) = (0usize, 0usize, 0usize, 0usize);
    let mut pt0 = p[0];
    let (mut left_x, mut right_x, mut top_y, mut bottom_y) = (pt0[0], pt0[0], pt0[1], pt0[1]);
    for i in 0..n {
        if pt0[0] < left_x {
            (left_x, left) = (pt0[0], i);
        }
        if pt0[0] > right_x {
            (right_x, right) = (pt0[0], i);
        }
        if pt0[1] > top_y {
            (top_y, top) = (pt0[1], i);
        }
        if pt0[1] < bottom_y {
            (bottom_y, bottom) = (pt0[1], i);
        }
        let pt = p[if i + 1 < n { i + 1 } else { 0 }];
        let (dx, dy) = (pt[0] - pt0[0], pt[1] - pt0[1]);
        vect[i] = [dx, dy];
        let (dx, dy) = (f64::from(dx), f64::from(dy));
        inv_len[i] = (1.0 / (dx * dx + dy * dy).sqrt()) as f32;
        pt0 = pt;
    }
    // Whether v1, turned a quarter clockwise, points away from v2.
    let right_of = |v1: [f32; 2], v2: [f32; 2]| v1[1] * v2[0] + (-v1[0]) * v2[1] < 0.0;
    let mut seq = [bottom, right, top, left];
    let mut minarea = f32::MAX;
    let mut best = (0usize, 0f32, 0f32, 0f32, 0f32, 0usize);
    for _ in 0..n {
        let v = seq.map(|s| vect[s]);
        let rot = [
            v[0],
            [v[1][1], -v[1][0]],
            [-v[2][0], -v[2][1]],
            [-v[3][1], v[3][0]],
        ];
        let mut main = 0usize;
        for i in 1..4 {
            if right_of(rot[i], rot[main]) {
                main = i;
            }
        }
        let pi = seq[main];
        let (lx, ly) = (vect[pi][0] * inv_len[pi], vect[pi][1] * inv_len[pi]);
        let (base_a, base_b) = match main {
            0 => (lx, ly),
            1 => (ly, -lx),
            2 => (-lx, -ly),
            _ => (-ly, lx),
        };
        seq[main] = if seq[main] + 1 == n { 0 } else { seq[main] + 1 };
        let dx = p[seq[1]][0] - p[seq[3]][0];
        let dy = p[seq[1]][1] - p[seq[3]][1];
        let width = dx * base_a + dy * base_b;
        let dx = p[seq[2]][0] - p[seq[0]][0];
        let dy = p[seq[2]][1] - p[seq[0]][1];
        let height = -dx * base_b + dy * base_a;
        let area = width * height;
        if area <= minarea {
            minarea = area;
            best = (seq[3], base_a, width, base_b, height, seq[0]);
        }
    }
    let (l, a1, w, b1, h, b) = best;
    let (a2, b2) = (-b1, a1);
    let c1 = a1 * p[l][0] + p[l][1] * b1;
    let c2 = a2 * p[b][0] + p[b][1] * b2;
    let idet = 1.0 / (a1 * b2 - a2 * b1);
    let px = (c1 * b2 - c2 * b1) * idet;
    let py = (a1 * c2 - a2 * c1) * idet;
    [[px, py], [a1 * w, b1 * w], [a2 * h, b2 * h]]
}

/// `cv2.boxPoints`: the rectangle's corners in float32, in OpenCV's order.
pub(crate) fn cv_box_points(center: [f32; 2], size: [f32; 2], angle: f32) -> [[f32; 2]; 4] {
    let rad = f64::from(angle) * std::f64::consts::PI / 180.0;
    let b = rad.cos() as f32 * 0.5;
    let a = rad.sin() as f32 * 0.5;
    let [cx, cy] = center;
    let (ah, aw, bh, bw) = (a * size[1], a * size[0], b * size[1], b * size[0]);
    [
        [cx - ah - bw, cy + bh - aw],
        [cx + ah - bw, cy - bh - aw],
        [cx + ah + bw, cy - bh + aw],
        [cx - ah + bw, cy + bh + aw],
    ]
}

/// The reference's `get_mini_boxes`: the minimum-area rectangle's corners as float32, ordered
/// top-left, top-right, bottom-right, bottom-left by its sort on x then y, and the short side.
pub(crate) fn mini_box(points: &[[i32; 2]]) -> ([[f32; 2]; 4], f64) {
    let (center, size, angle) = cv_min_area_rect(points);
    let side = f64::from(size[0].min(size[1]));
    let mut pts: Vec<[f32; 2]> = cv_box_points(center, size, angle).to_vec();
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
        let pts = [[0, 0], [2, 0], [4, 0], [4, 3], [0, 3], [1, 1]];
        let hull = cv_convex_hull(&pts);
        assert_eq!(hull.len(), 4, "{hull:?}");
        assert!(!hull.contains(&[1, 1]) && !hull.contains(&[2, 0]));
    }

    #[test]
    fn min_area_rect_matches_opencv_to_the_last_bit() {
        // opencv-python 5.1.0 cv2.minAreaRect on a contour of the parity set's 49-dark.jpg: the
        // float32 noise (72.99998, not 73) is what the reference then truncates.
        let line = [
            [76, 499],
            [75, 500],
            [74, 500],
            [74, 501],
            [73, 502],
            [73, 504],
            [74, 505],
            [74, 508],
            [76, 510],
            [84, 510],
            [85, 511],
            [315, 511],
            [316, 510],
            [320, 510],
            [322, 508],
            [322, 507],
            [323, 506],
            [323, 504],
            [322, 503],
            [322, 500],
            [321, 500],
            [320, 499],
        ];
        let (c, size, angle) = cv_min_area_rect(&line);
        assert_eq!(
            (c, size, angle),
            ([197.99997, 505.0], [11.999998, 249.99997], -90.0)
        );
        let (quad, _) = mini_box(&line);
        assert_eq!(
            quad,
            [
                [72.999985, 499.0],
                [322.99994, 499.0],
                [322.99994, 511.0],
                [72.999985, 511.0]
            ]
        );
        // A slanted blob.
        let blob = [
            [15, 11],
            [14, 12],
            [11, 12],
            [10, 13],
            [7, 13],
            [6, 14],
            [3, 14],
            [2, 15],
            [1, 15],
            [1, 21],
            [2, 22],
            [2, 33],
            [3, 34],
            [3, 39],
            [3, 38],
            [4, 37],
            [4, 36],
            [5, 35],
            [5, 34],
            [6, 33],
            [6, 32],
            [7, 31],
            [7, 30],
            [8, 29],
            [8, 28],
            [9, 27],
            [9, 26],
            [10, 25],
            [10, 23],
            [11, 22],
            [11, 21],
            [12, 20],
            [12, 19],
            [13, 18],
            [13, 17],
            [14, 16],
            [14, 15],
            [15, 14],
            [15, 13],
            [16, 12],
            [16, 11],
        ];
        let got = cv_min_area_rect(&blob);
        assert_eq!(got, ([4.299999, 22.6], [30.87062, 12.362217], -65.22486));
    }

    #[test]
    fn an_axis_aligned_block_gets_its_own_corners_in_reading_order() {
        let pts: Vec<[i32; 2]> = (0..=10).flat_map(|x| [[x + 5, 2], [x + 5, 6]]).collect();
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
        // The pixels of a 40 × 8 bar turned by 30°: the box has the bar's size and angle.
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let mut pts = Vec::new();
        for u in 0..=40 {
            for v in 0..=8 {
                let (u, v) = (f64::from(u), f64::from(v));
                pts.push([
                    (100.0 + u * c - v * s).round() as i32,
                    (50.0 + u * s + v * c).round() as i32,
                ]);
            }
        }
        let (_, size, angle) = cv_min_area_rect(&pts);
        let (long, short) = (size[0].max(size[1]), size[0].min(size[1]));
        assert!(
            (long - 40.0).abs() < 1.5 && (short - 8.0).abs() < 1.5,
            "{size:?}"
        );
        let turned = angle.rem_euclid(90.0);
        assert!(
            (turned - 30.0).abs() < 3.0 || (turned - 60.0).abs() < 3.0,
            "{angle}"
        );
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
