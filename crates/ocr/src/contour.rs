//! Borders of the text regions in a binary map, as `cv2.findContours(RETR_LIST, ...)` finds
//! them: every outer border and every hole border (Suzuki & Abe's border following), pixels
//! outside the map counting as background. Each border is returned with all its pixels; only
//! their convex hull matters downstream, so OpenCV's chain compression is not needed.

/// Neighbour offsets `(dy, dx)` counter-clockwise on screen, starting east.
const DIRS: [(i64, i64); 8] = [
    (0, 1),
    (-1, 1),
    (-1, 0),
    (-1, -1),
    (0, -1),
    (1, -1),
    (1, 0),
    (1, 1),
];

/// The borders of the non-zero pixels of a `width` × `height` map, as lists of `[x, y]`.
pub(crate) fn find_contours(mask: &[u8], width: usize, height: usize) -> Vec<Vec<[i32; 2]>> {
    // Padded by one background pixel on every side, so no border touches the edge.
    let (w, h) = (width + 2, height + 2);
    let mut f = vec![0i32; w * h];
    for y in 0..height {
        for x in 0..width {
            if mask.get(y * width + x).is_some_and(|&v| v != 0) {
                f[(y + 1) * w + x + 1] = 1;
            }
        }
    }
    let at = |y: i64, x: i64| (y as usize) * w + x as usize;
    let mut contours = Vec::new();
    let mut nbd: i32 = 1;
    for i in 1..(h - 1) as i64 {
        for j in 1..(w - 1) as i64 {
            let v = f[at(i, j)];
            let from = if v == 1 && f[at(i, j - 1)] == 0 {
                Some((i, j - 1))
            } else if v >= 1 && f[at(i, j + 1)] == 0 {
                Some((i, j + 1))
            } else {
                None
            };
            let Some(from) = from else { continue };
            nbd += 1;
            contours.push(follow(&mut f, w, (i, j), from, nbd));
        }
    }
    contours
}

fn dir_of(center: (i64, i64), p: (i64, i64)) -> usize {
    let d = (p.0 - center.0, p.1 - center.1);
    DIRS.iter().position(|&x| x == d).unwrap_or(0)
}

/// Follows one border from its first pixel `start`, entered from the background pixel `from`.
fn follow(f: &mut [i32], w: usize, start: (i64, i64), from: (i64, i64), nbd: i32) -> Vec<[i32; 2]> {
    let at = |p: (i64, i64)| (p.0 as usize) * w + p.1 as usize;
    let px = |p: (i64, i64)| [(p.1 - 1) as i32, (p.0 - 1) as i32];
    // 3.1: clockwise from `from`, the first non-zero neighbour.
    let d0 = dir_of(start, from);
    let mut first = None;
    for k in 0..8 {
        let d = (d0 + 8 - k) % 8;
        let q = (start.0 + DIRS[d].0, start.1 + DIRS[d].1);
        if f[at(q)] != 0 {
            first = Some(q);
            break;
        }
    }
    let Some(p1) = first else {
        f[at(start)] = -nbd;
        return vec![px(start)];
    };
    let mut points = Vec::new();
    let (mut p2, mut p3) = (p1, start);
    loop {
        points.push(px(p3));
        // 3.3: counter-clockwise from the one after p2, the first non-zero neighbour of p3.
        let d2 = dir_of(p3, p2);
        let mut east_zero = false;
        let mut p4 = p3;
        for k in 1..=8 {
            let d = (d2 + k) % 8;
            let q = (p3.0 + DIRS[d].0, p3.1 + DIRS[d].1);
            if f[at(q)] != 0 {
                p4 = q;
                break;
            }
            if d == 0 {
                east_zero = true;
            }
        }
        // 3.4: mark the pixel.
        if east_zero {
            f[at(p3)] = -nbd;
        } else if f[at(p3)] == 1 {
            f[at(p3)] = nbd;
        }
        // 3.5: back at the start, about to repeat the first step.
        if p4 == start && p3 == p1 {
            break;
        }
        p2 = p3;
        p3 = p4;
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(rows: &[&str]) -> (Vec<u8>, usize, usize) {
        let w = rows[0].len();
        let data = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| u8::from(b == b'#')))
            .collect();
        (data, w, rows.len())
    }

    #[test]
    fn a_block_has_one_border_through_its_corners() {
        let (m, w, h) = map(&["......", ".####.", ".####.", ".####.", "......"]);
        let c = find_contours(&m, w, h);
        assert_eq!(c.len(), 1);
        for corner in [[1, 1], [4, 1], [4, 3], [1, 3]] {
            assert!(c[0].contains(&corner), "{:?}", c[0]);
        }
        assert!(
            !c[0].contains(&[2, 2]),
            "an inner pixel is not on the border"
        );
    }

    #[test]
    fn a_ring_has_an_outer_and_a_hole_border_and_islands_count() {
        let (m, w, h) = map(&["#####..#", "#...#...", "#.#.#...", "#...#...", "#####..."]);
        let c = find_contours(&m, w, h);
        // ring outer, ring hole, the island in the hole, the lone pixel top right.
        assert_eq!(c.len(), 4, "{c:?}");
        assert!(c.iter().any(|b| b == &vec![[2, 2]]));
        assert!(c.iter().any(|b| b == &vec![[7, 0]]));
    }

    #[test]
    fn regions_touching_the_map_edge_are_closed_by_the_edge() {
        let (m, w, h) = map(&["##", "##"]);
        let c = find_contours(&m, w, h);
        assert_eq!(c.len(), 1);
        let mut pts = c[0].clone();
        pts.sort();
        assert_eq!(pts, vec![[0, 0], [0, 1], [1, 0], [1, 1]]);
    }

    #[test]
    fn diagonal_neighbours_are_one_region() {
        let (m, w, h) = map(&["#..", ".#.", "..#"]);
        assert_eq!(find_contours(&m, w, h).len(), 1);
    }
}
