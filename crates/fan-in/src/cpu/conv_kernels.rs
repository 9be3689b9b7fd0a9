//! The direct sparse convolution on plain slices, in Burn's NCHW layout.
//!
//! The forward computes the output plane of one (sample, filter) in tiles of up to 8 ×
//! [`COLS`] outputs that stay in registers while the filter's taps stream by: per tap, one
//! weight and one load of `COLS` neighbouring inputs per row (contiguous at stride 1). A plane that
//! is not a multiple of the tile ends with a tile shifted back over the previous one; the
//! outputs both compute are summed in the same order, so they are equal. The input gradient
//! runs every tap as AXPYs of the output gradient's rows into its sample's input plane (a task
//! owns whole samples: no atomics, a fixed order); the weight gradient is one dot product per
//! tap. Tasks get at least [`MIN_TASK_WORK`](super::MIN_TASK_WORK) multiply-adds.

use rayon::prelude::*;

use super::kernels::fmadd;
use super::min_items;

/// Output columns of a register tile: one AVX register of f32 (its rows: [`tile_rows`]).
const COLS: usize = 8;

/// The filters: `offsets` (where each tap reads, relative to the output position, in a
/// sample's flattened input) and `weights` are `[out, k]`, row-major.
#[derive(Clone, Copy)]
pub(crate) struct Filters<'a> {
    pub offsets: &'a [usize],
    pub weights: &'a [f32],
    pub out: usize,
    pub k: usize,
}

impl Filters<'_> {
    fn offsets(&self, o: usize) -> &[usize] {
        &self.offsets[o * self.k..(o + 1) * self.k]
    }

    fn weights(&self, o: usize) -> &[f32] {
        &self.weights[o * self.k..(o + 1) * self.k]
    }
}

/// The sliding window over one sample's flattened input: its size, the input step from one
/// output row (`row`) and column (`col`) to the next, and the output's `[height, width]`.
#[derive(Clone, Copy)]
pub(crate) struct Window {
    pub in_plane: usize,
    pub row: usize,
    pub col: usize,
    pub out: [usize; 2],
}

impl Window {
    fn positions(&self) -> usize {
        self.out[0] * self.out[1]
    }
}

/// `y[b, o, oy, ox] = Σ_m w[o,m] · x[b, offset[o,m] + oy·row + ox·col]`; returns
/// `[batch, out, h_out, w_out]`.
pub(crate) fn forward(x: &[f32], batch: usize, filters: Filters, window: Window) -> Vec<f32> {
    let plane = window.positions();
    let mut y = vec![0.0; batch * filters.out * plane];
    if y.is_empty() {
        return y;
    }
    y.par_chunks_mut(plane)
        .with_min_len(min_items(filters.k * plane))
        .enumerate()
        .for_each(|(bo, y_plane)| {
            let (b, o) = (bo / filters.out, bo % filters.out);
            let x = &x[b * window.in_plane..][..window.in_plane];
            forward_plane(x, filters.offsets(o), filters.weights(o), window, y_plane);
        });
    y
}

/// `dw[o, m] = Σ_{b, oy, ox} dy[b, o, oy, ox] · x[b, offset[o,m] + oy·row + ox·col]`; returns
/// `[out, k]`.
pub(crate) fn weight_grad(
    x: &[f32],
    dy: &[f32],
    batch: usize,
    filters: Filters,
    window: Window,
) -> Vec<f32> {
    let mut dw = vec![0.0; filters.out * filters.k];
    if dw.is_empty() || batch * window.positions() == 0 {
        return dw;
    }
    dw.par_chunks_mut(filters.k)
        .with_min_len(min_items(filters.k * batch * window.positions()))
        .enumerate()
        .for_each(|(o, dw_row)| weight_grad_row(x, dy, batch, filters, window, o, dw_row));
    dw
}

/// `dx[b, j] = Σ w[o,m] · dy[b, o, oy, ox]` over the taps and positions that read `j =
/// offset[o,m] + oy·row + ox·col`; returns `[batch, in_plane]`.
pub(crate) fn input_grad(dy: &[f32], batch: usize, filters: Filters, window: Window) -> Vec<f32> {
    let mut dx = vec![0.0; batch * window.in_plane];
    let sample = filters.out * window.positions();
    if dx.is_empty() || sample == 0 {
        return dx;
    }
    dx.par_chunks_mut(window.in_plane)
        .with_min_len(min_items(sample * filters.k))
        .enumerate()
        .for_each(|(b, dx)| input_grad_sample(&dy[b * sample..][..sample], filters, window, dx));
    dx
}

fma_dispatched! {
    plain fn forward_plane(
        x: &[f32],
        offsets: &[usize],
        weights: &[f32],
        window: Window,
        y: &mut [f32]
    ) = forward_plane_generic;
}

#[inline(always)]
fn forward_plane_generic<const FMA: bool>(
    x: &[f32],
    offsets: &[usize],
    weights: &[f32],
    window: Window,
    y: &mut [f32],
) {
    let [rows, cols] = window.out;
    // Every load of the tiles below stays within the furthest input the plane reads: checked
    // once here instead of at every load (the checks cost as much as the FMAs).
    let furthest = offsets.iter().max().map_or(0, |&offset| {
        offset + (rows - 1) * window.row + (cols - 1) * window.col
    });
    assert!(
        offsets.is_empty() || furthest < x.len(),
        "a tap reads past the input"
    );
    let args = (x, offsets, weights, window, y);
    let unit = window.col == 1;
    match (tile_rows(rows), cols >= COLS) {
        (8, true) if unit => tiles::<FMA, 8, COLS, true>(args),
        (8, true) => tiles::<FMA, 8, COLS, false>(args),
        (4, true) if unit => tiles::<FMA, 4, COLS, true>(args),
        (4, true) => tiles::<FMA, 4, COLS, false>(args),
        (_, true) if unit => tiles::<FMA, 1, COLS, true>(args),
        (_, true) => tiles::<FMA, 1, COLS, false>(args),
        (8, false) => tiles::<FMA, 8, 1, false>(args),
        (4, false) => tiles::<FMA, 4, 1, false>(args),
        (_, false) => tiles::<FMA, 1, 1, false>(args),
    }
}

/// The rows of a tile for a plane of `rows`: 8 or 4, whichever computes fewer rows in all
/// (the last tile overlaps its neighbour), 8 on a tie (fewer taps streamed per output); 1
/// below 4 rows.
fn tile_rows(rows: usize) -> usize {
    match rows {
        0..4 => 1,
        4..8 => 4,
        _ if rows.div_ceil(8) * 8 <= rows.div_ceil(4) * 4 => 8,
        _ => 4,
    }
}

/// The output plane in tiles of `R × C`; `UNIT` when neighbouring outputs read neighbouring
/// inputs (stride 1 along the width). The caller checked that every load lies within `x`.
#[inline(always)]
fn tiles<const FMA: bool, const R: usize, const C: usize, const UNIT: bool>(
    (x, offsets, weights, window, y): (&[f32], &[usize], &[f32], Window, &mut [f32]),
) {
    let [rows, cols] = window.out;
    for oy in tile_starts(rows, R) {
        for ox in tile_starts(cols, C) {
            let corner = oy * window.row + ox * window.col;
            let mut acc = [[0.0f32; C]; R];
            for (&offset, &w) in offsets.iter().zip(weights) {
                let at = corner + offset;
                for (r, acc) in acc.iter_mut().enumerate() {
                    // SAFETY: the furthest input any tap reads from any tile lies within `x`
                    // (checked by the caller); this load reads at most that far.
                    let v = unsafe { load::<C, UNIT>(x, at + r * window.row, window.col) };
                    for l in 0..C {
                        acc[l] = fmadd::<FMA>(v[l], w, acc[l]);
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                y[(oy + r) * cols + ox..][..C].copy_from_slice(acc);
            }
        }
    }
}

/// Where the tiles of `tile` start along an axis of `size ≥ tile`: every `tile`, the last
/// shifted back to end at `size`.
fn tile_starts(size: usize, tile: usize) -> impl Iterator<Item = usize> {
    (0..size.div_ceil(tile)).map(move |i| (i * tile).min(size - tile))
}

/// `C` inputs from `at`, `step` apart (`UNIT`: step 1, one contiguous load).
///
/// # Safety
/// `at + (C − 1) · step` must lie within `x`.
#[inline(always)]
unsafe fn load<const C: usize, const UNIT: bool>(x: &[f32], at: usize, step: usize) -> [f32; C] {
    debug_assert!(at + (C - 1) * step < x.len());
    // SAFETY: as the caller promised.
    unsafe {
        if UNIT {
            std::ptr::read_unaligned(x.as_ptr().add(at).cast::<[f32; C]>())
        } else {
            std::array::from_fn(|l| *x.get_unchecked(at + l * step))
        }
    }
}

fma_dispatched! {
    plain fn weight_grad_row(
        x: &[f32],
        dy: &[f32],
        batch: usize,
        filters: Filters,
        window: Window,
        o: usize,
        dw_row: &mut [f32]
    ) = weight_grad_row_generic;
}

#[inline(always)]
fn weight_grad_row_generic<const FMA: bool>(
    x: &[f32],
    dy: &[f32],
    batch: usize,
    filters: Filters,
    window: Window,
    o: usize,
    dw_row: &mut [f32],
) {
    let [rows, cols] = window.out;
    let plane = rows * cols;
    for (dw, &offset) in dw_row.iter_mut().zip(filters.offsets(o)) {
        // `COLS` independent sums hide the FMA latency and vectorise along the row.
        let mut acc = [0.0f32; COLS];
        for b in 0..batch {
            let x = &x[b * window.in_plane..][..window.in_plane];
            let g = &dy[(b * filters.out + o) * plane..][..plane];
            for (oy, g_row) in g.chunks_exact(cols).enumerate() {
                let at = offset + oy * window.row;
                for (chunk, gs) in g_row.chunks(COLS).enumerate() {
                    let from = at + chunk * COLS * window.col;
                    for (l, &g) in gs.iter().enumerate() {
                        acc[l] = fmadd::<FMA>(g, x[from + l * window.col], acc[l]);
                    }
                }
            }
        }
        *dw = acc.iter().sum();
    }
}

fma_dispatched! {
    plain fn input_grad_sample(dy: &[f32], filters: Filters, window: Window, dx: &mut [f32])
        = input_grad_sample_generic;
}

#[inline(always)]
fn input_grad_sample_generic<const FMA: bool>(
    dy: &[f32],
    filters: Filters,
    window: Window,
    dx: &mut [f32],
) {
    let cols = window.out[1];
    let plane = window.positions();
    for o in 0..filters.out {
        let g = &dy[o * plane..][..plane];
        for (&offset, &w) in filters.offsets(o).iter().zip(filters.weights(o)) {
            for (oy, g_row) in g.chunks_exact(cols).enumerate() {
                let at = offset + oy * window.row;
                if window.col == 1 {
                    for (dx, &g) in dx[at..at + cols].iter_mut().zip(g_row) {
                        *dx = fmadd::<FMA>(g, w, *dx);
                    }
                } else {
                    for (ox, &g) in g_row.iter().enumerate() {
                        let dx = &mut dx[at + ox * window.col];
                        *dx = fmadd::<FMA>(g, w, *dx);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::cpu::tests::PORTABLE_ONLY;

    /// The three ops by their definitions, one term at a time: `[y, dw, dx]`.
    fn naive(
        x: &[f32],
        dy: &[f32],
        batch: usize,
        filters: Filters,
        window: Window,
    ) -> [Vec<f32>; 3] {
        let [rows, cols] = window.out;
        let mut y = Vec::new();
        let mut dw = vec![0.0; filters.out * filters.k];
        let mut dx = vec![0.0; batch * window.in_plane];
        for b in 0..batch {
            for o in 0..filters.out {
                for oy in 0..rows {
                    for ox in 0..cols {
                        let at = b * window.in_plane + oy * window.row + ox * window.col;
                        let g = dy[y.len()];
                        let mut sum = 0.0;
                        for m in 0..filters.k {
                            let (t, w) = (filters.offsets(o)[m], filters.weights(o)[m]);
                            sum += w * x[at + t];
                            dw[o * filters.k + m] += g * x[at + t];
                            dx[at + t] += w * g;
                        }
                        y.push(sum);
                    }
                }
            }
        }
        [y, dw, dx]
    }

    #[test]
    fn tile_rows_compute_the_fewest_rows() {
        let rows: Vec<usize> = [1, 3, 4, 7, 8, 10, 16, 28, 30].map(tile_rows).into();
        assert_eq!(rows, [1, 1, 4, 4, 8, 4, 8, 4, 8]);
    }

    #[test]
    fn tiles_cover_every_output_and_overlap_only_at_the_end() {
        assert_eq!(tile_starts(8, 8).collect::<Vec<_>>(), [0]);
        assert_eq!(tile_starts(10, 4).collect::<Vec<_>>(), [0, 4, 6]);
        assert_eq!(tile_starts(3, 1).collect::<Vec<_>>(), [0, 1, 2]);
    }

    /// Every tile shape (wide and narrow planes, tall and short) and both kinds of stride,
    /// against the definitions. Values are small integers and quarters: every sum is exact,
    /// whatever its order, so the comparison is exact.
    fn all_three_equal_the_definitions() {
        // Input [height, width], output [rows, cols], stride along the width.
        for (height, width, rows, cols, col) in [
            (10, 12, 8, 10, 1),
            (10, 21, 8, 9, 2),
            (11, 4, 9, 2, 1),
            (6, 12, 4, 10, 1),
            (3, 12, 2, 9, 1),
            (6, 4, 4, 2, 1),
            (2, 3, 1, 1, 1),
            (6, 21, 4, 9, 2),
            (2, 21, 1, 9, 2),
        ] {
            let (channels, batch, out, k) = (2, 3, 2, 3);
            let in_plane = channels * height * width;
            let window = Window {
                in_plane,
                row: width,
                col,
                out: [rows, cols],
            };
            let x: Vec<f32> = (0..batch * in_plane)
                .map(|i| ((i * 37) % 23) as f32 - 11.0)
                .collect();
            let dy: Vec<f32> = (0..batch * out * rows * cols)
                .map(|i| ((i * 11) % 7) as f32 - 3.0)
                .collect();
            // Taps (channel, ky, kx) of a 3 × 3 kernel, clamped to fit the input; filter 1
            // reads one tap twice.
            let taps = [
                (0, 0, 0),
                (1, 1, 2),
                (0, 2, 1),
                (1, 0, 0),
                (1, 2, 2),
                (1, 0, 0),
            ];
            let offsets: Vec<usize> = taps
                .iter()
                .map(|&(c, ky, kx): &(usize, usize, usize)| {
                    let ky = ky.min(height - rows);
                    let kx = kx.min(width - (cols - 1) * col - 1);
                    (c * height + ky) * width + kx
                })
                .collect();
            let weights = [1.5, -2.0, 0.25, 3.0, -0.5, 0.75];
            let filters = Filters {
                offsets: &offsets,
                weights: &weights,
                out,
                k,
            };
            let [y, dw, dx] = naive(&x, &dy, batch, filters, window);
            let case = format!("{height}×{width} → {rows}×{cols} by {col}");
            assert_eq!(forward(&x, batch, filters, window), y, "{case}");
            assert_eq!(weight_grad(&x, &dy, batch, filters, window), dw, "{case}");
            assert_eq!(input_grad(&dy, batch, filters, window), dx, "{case}");
        }
    }

    #[test]
    fn the_kernels_equal_the_definitions() {
        all_three_equal_the_definitions();
    }

    /// The same on the portable code. Other tests running meanwhile may take the portable
    /// path too: both are right.
    #[test]
    fn the_portable_kernels_equal_the_definitions() {
        PORTABLE_ONLY.store(true, Ordering::Relaxed);
        let result = std::panic::catch_unwind(all_three_equal_the_definitions);
        PORTABLE_ONLY.store(false, Ordering::Relaxed);
        result.unwrap();
    }

    #[test]
    fn empty_shapes_give_empty_or_zero_results() {
        let window = Window {
            in_plane: 4,
            row: 2,
            col: 1,
            out: [1, 1],
        };
        let none = Filters {
            offsets: &[],
            weights: &[],
            out: 2,
            k: 0,
        };
        assert_eq!(forward(&[1.0; 4], 1, none, window), vec![0.0; 2]);
        assert!(weight_grad(&[1.0; 4], &[1.0; 2], 1, none, window).is_empty());
        assert_eq!(input_grad(&[1.0; 2], 1, none, window), vec![0.0; 4]);
        assert!(forward(&[], 0, none, window).is_empty());
    }
}
