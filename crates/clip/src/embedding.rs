//! Vector maths on CLIP embeddings: unit length, cosine, the mean direction of several. One
//! place for it, so the encoders, search, tagging and duplicate finding agree on every number.

/// `v` scaled to length 1 (a zero vector stays zero).
pub fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

/// `v` scaled to length 1 with the norm taken in f64, or `None` when it has no direction (all
/// zero, or not finite): an encoder's raw output, which must not pass as an embedding then.
pub(crate) fn unit_checked(mut v: Vec<f32>) -> Option<Vec<f32>> {
    let norm = v
        .iter()
        .map(|x| (*x as f64) * (*x as f64))
        .sum::<f64>()
        .sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return None;
    }
    for x in &mut v {
        *x = (*x as f64 / norm) as f32;
    }
    Some(v)
}

/// Cosine of two unit vectors, summed in sixteen lanes: one running sum is a chain of dependent
/// additions the compiler may not reorder (float addition is not associative), and exact
/// re-scoring of thousands of candidates per search waits on it.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..LANES {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The unit mean of the directions of `vs` (each made unit first, so a long vector does not
/// outweigh the others); `None` when there are none or their widths differ.
pub fn mean_direction(vs: &[Vec<f32>]) -> Option<Vec<f32>> {
    let first = vs.first()?;
    let mut acc = vec![0f32; first.len()];
    for v in vs {
        if v.len() != acc.len() {
            return None;
        }
        for (a, x) in acc.iter_mut().zip(unit(v.clone())) {
            *a += x;
        }
    }
    Some(unit(acc))
}

/// Smallest row-wise cosine between two batches of embeddings laid end to end (raw outputs,
/// any length; NaN when the batches do not split into `rows` rows alike): how far an fp16 or
/// batched copy of a graph strays from the original.
pub(crate) fn min_row_cosine(a: &[f32], b: &[f32], rows: usize) -> f32 {
    if rows == 0 || a.len() != b.len() || !a.len().is_multiple_of(rows) {
        return f32::NAN;
    }
    let dim = a.len() / rows;
    a.chunks(dim)
        .zip(b.chunks(dim))
        .map(|(x, y)| {
            let dot: f64 = x.iter().zip(y).map(|(p, q)| *p as f64 * *q as f64).sum();
            let nx: f64 = x.iter().map(|p| (*p as f64).powi(2)).sum::<f64>().sqrt();
            let ny: f64 = y.iter().map(|q| (*q as f64).powi(2)).sum::<f64>().sqrt();
            (dot / (nx * ny)) as f32
        })
        .fold(f32::INFINITY, f32::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_gives_length_one_and_leaves_zero_alone() {
        let v = unit(vec![3.0, 4.0]);
        assert_eq!(v, vec![0.6, 0.8]);
        assert_eq!(unit(vec![0.0, 0.0]), vec![0.0, 0.0]);
        assert!((dot(&v, &v) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn dot_sums_every_coordinate_whatever_the_length() {
        // Lengths below, at and past the lanes, with a tail: the sum in f64, one term at a time.
        for n in [0usize, 1, 7, 16, 17, 512, 515] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 37 % 11) as f32 - 5.0) / 7.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 53 % 13) as f32 - 6.0) / 5.0).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) as f64 - want).abs() < 1e-4, "length {n}");
        }
        // Unequal lengths: the shorter one's.
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[1.0, 1.0]), 3.0);
    }

    #[test]
    fn unit_checked_refuses_what_has_no_direction() {
        assert_eq!(unit_checked(vec![0.0, 0.0]), None);
        assert_eq!(unit_checked(vec![f32::NAN, 1.0]), None);
        assert_eq!(unit_checked(vec![f32::INFINITY, 1.0]), None);
        assert_eq!(unit_checked(vec![0.0, -2.0]), Some(vec![0.0, -1.0]));
    }

    #[test]
    fn the_mean_direction_weighs_each_vector_alike() {
        // A long vector along x and a short one along y: 45 degrees, not mostly x.
        let m = mean_direction(&[vec![10.0, 0.0], vec![0.0, 0.1]]).unwrap();
        assert!((m[0] - m[1]).abs() < 1e-6 && (dot(&m, &m) - 1.0).abs() < 1e-6);
        assert_eq!(mean_direction(&[]), None);
        assert_eq!(mean_direction(&[vec![1.0], vec![1.0, 0.0]]), None);
    }

    #[test]
    fn the_smallest_row_cosine_is_found_and_bad_shapes_are_nan() {
        let a = [1.0, 0.0, 0.0, 2.0];
        let b = [2.0, 0.0, 1.0, 1.0];
        let c = min_row_cosine(&a, &b, 2);
        assert!((c - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6, "{c}");
        assert!(min_row_cosine(&a, &b[..3], 1).is_nan());
        assert!(min_row_cosine(&a, &b, 3).is_nan());
        assert!(min_row_cosine(&a, &b, 0).is_nan());
    }
}
