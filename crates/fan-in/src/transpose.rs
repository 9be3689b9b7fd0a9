//! Matrix transposes: 8×8 AVX2 tiles where the CPU has them, the rest element by element. The
//! CPU kernels' feature-major layout and the sampled layers' weight layouts both use them.

/// The transpose `[cols, rows]` of the row-major `[rows, cols]` matrix `values`.
///
/// ```
/// let t = mcnn_fan_in::transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
/// assert_eq!(t, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
/// ```
///
/// # Panics
/// If `values` does not hold `rows · cols` floats.
pub fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    assert_eq!(
        values.len(),
        rows * cols,
        "transpose: {} values for {rows} × {cols}",
        values.len()
    );
    let mut out = vec![0.0; values.len()];
    let done = transpose_tiles(values, cols, &mut out, rows, rows, cols);
    transpose_rest(values, cols, &mut out, rows, rows, cols, done);
    out
}

/// `dst[c·dst_stride + r] = src[r·src_stride + c]` for `r < rows`, `c < cols`, except the
/// `done = (rows_done, cols_done)` corner that [`transpose_tiles`] already wrote.
pub(crate) fn transpose_rest(
    src: &[f32],
    src_stride: usize,
    dst: &mut [f32],
    dst_stride: usize,
    rows: usize,
    cols: usize,
    (rows_done, cols_done): (usize, usize),
) {
    const TILE: usize = 64;
    for c0 in (0..cols).step_by(TILE) {
        for r in 0..rows {
            let c_start = if r < rows_done { c0.max(cols_done) } else { c0 };
            for c in c_start..(c0 + TILE).min(cols) {
                dst[c * dst_stride + r] = src[r * src_stride + c];
            }
        }
    }
}

/// Transposes the whole 8×8 tiles of the `rows × cols` matrix at `src` into `dst` (see
/// [`transpose_rest`]) and returns how many rows and columns they covered; `(0, 0)` on a CPU
/// without AVX2.
#[cfg(target_arch = "x86_64")]
pub(crate) fn transpose_tiles(
    src: &[f32],
    src_stride: usize,
    dst: &mut [f32],
    dst_stride: usize,
    rows: usize,
    cols: usize,
) -> (usize, usize) {
    if !std::arch::is_x86_feature_detected!("avx2") {
        return (0, 0);
    }
    let (rows8, cols8) = (rows / 8 * 8, cols / 8 * 8);
    // SAFETY: AVX2 is available (checked above).
    unsafe { x86::tiles(src, src_stride, dst, dst_stride, rows8, cols8) };
    (rows8, cols8)
}

/// Without x86-64 there is no vector path: [`transpose_rest`] does all of the transpose.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn transpose_tiles(
    _: &[f32],
    _: usize,
    _: &mut [f32],
    _: usize,
    _: usize,
    _: usize,
) -> (usize, usize) {
    (0, 0)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m256, _mm256_loadu_ps, _mm256_permute2f128_ps, _mm256_shuffle_ps, _mm256_storeu_ps,
        _mm256_unpackhi_ps, _mm256_unpacklo_ps,
    };

    /// The 8 floats of `values` from `at` (bounds-checked).
    #[target_feature(enable = "avx2")]
    fn load(values: &[f32], at: usize) -> __m256 {
        let eight = &values[at..at + 8];
        // SAFETY: `eight` holds 8 floats; `loadu` has no alignment requirement.
        unsafe { _mm256_loadu_ps(eight.as_ptr()) }
    }

    /// Stores 8 floats into `values` from `at` (bounds-checked).
    #[target_feature(enable = "avx2")]
    fn store(values: &mut [f32], at: usize, v: __m256) {
        let eight = &mut values[at..at + 8];
        // SAFETY: `eight` holds 8 floats; `storeu` has no alignment requirement.
        unsafe { _mm256_storeu_ps(eight.as_mut_ptr(), v) }
    }

    /// The 8×8 tiles of `rows × cols` (both multiples of 8).
    #[target_feature(enable = "avx2")]
    pub(super) fn tiles(
        src: &[f32],
        src_stride: usize,
        dst: &mut [f32],
        dst_stride: usize,
        rows: usize,
        cols: usize,
    ) {
        for r in (0..rows).step_by(8) {
            for c in (0..cols).step_by(8) {
                let row = |i: usize| load(src, (r + i) * src_stride + c);
                let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
                let (r4, r5, r6, r7) = (row(4), row(5), row(6), row(7));
                let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
                let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
                let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
                let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
                let (s0, s1) = (
                    _mm256_shuffle_ps::<0x44>(t0, t2),
                    _mm256_shuffle_ps::<0xEE>(t0, t2),
                );
                let (s2, s3) = (
                    _mm256_shuffle_ps::<0x44>(t1, t3),
                    _mm256_shuffle_ps::<0xEE>(t1, t3),
                );
                let (s4, s5) = (
                    _mm256_shuffle_ps::<0x44>(t4, t6),
                    _mm256_shuffle_ps::<0xEE>(t4, t6),
                );
                let (s6, s7) = (
                    _mm256_shuffle_ps::<0x44>(t5, t7),
                    _mm256_shuffle_ps::<0xEE>(t5, t7),
                );
                let columns = [
                    _mm256_permute2f128_ps::<0x20>(s0, s4),
                    _mm256_permute2f128_ps::<0x20>(s1, s5),
                    _mm256_permute2f128_ps::<0x20>(s2, s6),
                    _mm256_permute2f128_ps::<0x20>(s3, s7),
                    _mm256_permute2f128_ps::<0x31>(s0, s4),
                    _mm256_permute2f128_ps::<0x31>(s1, s5),
                    _mm256_permute2f128_ps::<0x31>(s2, s6),
                    _mm256_permute2f128_ps::<0x31>(s3, s7),
                ];
                for (i, column) in columns.into_iter().enumerate() {
                    store(dst, (c + i) * dst_stride + r, column);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shapes with and without whole 8×8 tiles, and ragged edges on both sides.
    #[test]
    fn transposes_of_ragged_matrices_match_the_definition() {
        for (rows, cols) in [(1, 1), (7, 9), (8, 8), (17, 70), (33, 70), (64, 33)] {
            let src: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
            let dst = transpose(&src, rows, cols);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(
                        dst[c * rows + r],
                        src[r * cols + c],
                        "{rows}×{cols} at ({r}, {c})"
                    );
                }
            }
        }
    }
}
