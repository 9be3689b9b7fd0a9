//! Explicit AVX2 code where the compiler does not find it: the weight-gradient dot products
//! (left to itself it vectorises across the edges instead of along the batch, at a quarter of
//! the speed) and 8×8 transposes. On other architectures only the transpose entry point
//! exists, and it leaves everything to the portable code.

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::*;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_permute2f128_ps, _mm256_setzero_ps,
        _mm256_shuffle_ps, _mm256_storeu_ps, _mm256_unpackhi_ps, _mm256_unpacklo_ps,
    };

    use crate::cpu::layout::{LANES, lanes};

    const VECTOR: usize = 8;

    /// The 8 floats of `values` from `at` (bounds-checked).
    #[target_feature(enable = "avx2")]
    fn load(values: &[f32], at: usize) -> __m256 {
        let eight = &values[at..at + VECTOR];
        // SAFETY: `eight` holds 8 floats; `loadu` has no alignment requirement.
        unsafe { _mm256_loadu_ps(eight.as_ptr()) }
    }

    /// Stores 8 floats into `values` from `at` (bounds-checked).
    #[target_feature(enable = "avx2")]
    fn store(values: &mut [f32], at: usize, v: __m256) {
        let eight = &mut values[at..at + VECTOR];
        // SAFETY: `eight` holds 8 floats; `storeu` has no alignment requirement.
        unsafe { _mm256_storeu_ps(eight.as_mut_ptr(), v) }
    }

    /// See `kernels::dots`.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn dots<const N: usize>(
        xt: &[f32],
        dyt: &[f32],
        blocks: usize,
        in_features: usize,
        out: usize,
        o: usize,
        js: [usize; N],
    ) -> [f32; N] {
        let mut acc = [_mm256_setzero_ps(); N];
        for block in 0..blocks {
            let g = lanes(dyt, block * out + o);
            let xs = js.map(|j| lanes(xt, block * in_features + j));
            for c in (0..LANES).step_by(VECTOR) {
                let g = load(g, c);
                for (acc, x) in acc.iter_mut().zip(&xs) {
                    *acc = _mm256_fmadd_ps(g, load(*x, c), *acc);
                }
            }
        }
        acc.map(|v| {
            let mut parts = [0.0f32; VECTOR];
            store(&mut parts, 0, v);
            let [a, b, c, d, e, f, g, h] = parts;
            ((a + b) + (c + d)) + ((e + f) + (g + h))
        })
    }

    /// Transposes the whole 8×8 tiles of the `rows × cols` matrix at `src` into `dst` (see
    /// `layout::transpose_rest`) and returns how many rows and columns they covered; `(0, 0)`
    /// on a CPU without AVX2.
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
        let (rows8, cols8) = (rows / VECTOR * VECTOR, cols / VECTOR * VECTOR);
        // SAFETY: AVX2 is available (checked above).
        unsafe { tiles(src, src_stride, dst, dst_stride, rows8, cols8) };
        (rows8, cols8)
    }

    #[target_feature(enable = "avx2")]
    fn tiles(
        src: &[f32],
        src_stride: usize,
        dst: &mut [f32],
        dst_stride: usize,
        rows: usize,
        cols: usize,
    ) {
        for r in (0..rows).step_by(VECTOR) {
            for c in (0..cols).step_by(VECTOR) {
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

/// Without x86-64 there is no vector path: the portable code does all of the transpose.
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
