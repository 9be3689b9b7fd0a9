//! Explicit AVX2 code where the compiler does not find it: the weight-gradient dot products
//! (left to itself it vectorises across the edges instead of along the batch, at a quarter of
//! the speed). The 8×8 transposes are in [`crate::transpose`].

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::*;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps,
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
}
