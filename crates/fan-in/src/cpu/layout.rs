//! The feature-major layout of a batch block, the transposes into and out of it, and the
//! per-thread scratch buffers that hold it.

use std::cell::RefCell;

use rayon::prelude::*;

use crate::transpose::{transpose_rest, transpose_tiles};

/// Samples per batch block: 64 f32 lanes are 8 AVX registers.
pub(crate) use crate::feature_major::LANES;

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's scratch buffer of at least `len` floats, with stale contents.
/// (A nested call, e.g. from a rayon task stolen while the buffer is lent, gets a fresh one.)
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
            f(&mut buffer[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// `dst[j·LANES + l] = src[l·width + j]` for the `rows ≤ LANES` rows of `src`; lanes past
/// `rows` are zero.
pub(crate) fn to_feature_major(src: &[f32], rows: usize, width: usize, dst: &mut [f32]) {
    let done = transpose_tiles(src, width, dst, LANES, rows, width);
    transpose_rest(src, width, dst, LANES, rows, width, done);
    if rows < LANES {
        for lanes in dst[..width * LANES].chunks_exact_mut(LANES) {
            lanes[rows..].fill(0.0);
        }
    }
}

/// The inverse of [`to_feature_major`]: `dst[l·width + j] = src[j·LANES + l]` for `l < rows`.
pub(crate) fn from_feature_major(src: &[f32], rows: usize, width: usize, dst: &mut [f32]) {
    let done = transpose_tiles(src, LANES, dst, width, width, rows);
    transpose_rest(src, LANES, dst, width, width, rows, done);
}

/// Every batch block of `src: [batch, width]` in feature-major layout, block after block.
pub(crate) fn blocks_to_feature_major(src: &[f32], batch: usize, width: usize, dst: &mut [f32]) {
    dst.par_chunks_mut(width * LANES)
        .zip(src.par_chunks(width * LANES))
        .with_min_len(super::min_items(width * LANES))
        .enumerate()
        .for_each(|(block, (dst, src))| {
            let rows = (batch - block * LANES).min(LANES);
            to_feature_major(src, rows, width, dst);
        });
}

pub(crate) fn lanes(values: &[f32], row: usize) -> &[f32; LANES] {
    values[row * LANES..(row + 1) * LANES]
        .try_into()
        .expect("LANES floats")
}

pub(crate) fn lanes_mut(values: &mut [f32], row: usize) -> &mut [f32; LANES] {
    (&mut values[row * LANES..(row + 1) * LANES])
        .try_into()
        .expect("LANES floats")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_major_blocks_round_trip_and_pad_with_zeros() {
        let (rows, width) = (37, 70);
        let src: Vec<f32> = (0..rows * width).map(|v| v as f32 + 1.0).collect();
        let mut fm = vec![f32::NAN; width * LANES];
        to_feature_major(&src, rows, width, &mut fm);
        for j in 0..width {
            for l in 0..LANES {
                let expected = if l < rows { src[l * width + j] } else { 0.0 };
                assert_eq!(fm[j * LANES + l], expected);
            }
        }
        let mut back = vec![0.0; rows * width];
        from_feature_major(&fm, rows, width, &mut back);
        assert_eq!(back, src);
    }
}
