//! The fan-in op on plain slices, in feature-major layout.
//!
//! The batch is cut into blocks of [`LANES`] samples. Within a block the activations are
//! transposed to `[features, LANES]`, so every edge `(o, k)` of the layer is one AXPY (or one
//! dot product) over 64 contiguous lanes that stay in SIMD registers: no `[batch, out, k]`
//! intermediate, and the index and weight of an edge are loaded once per 64 samples. The
//! transposes cost `O(batch · (in + out))`, the edges `O(batch · out · k)`.
//!
//! Parallelism is over batch blocks (forward, input gradient: each task owns its rows of the
//! output, so the scatter-add of the input gradient needs no atomics) and over output rows
//! (weight gradient), where a task gets at least [`MIN_TASK_WORK`](super::MIN_TASK_WORK) of work: a path network's
//! small layers run on the calling thread, as waking the pool costs more than they do. The
//! transposed blocks live in per-thread scratch buffers, reused from call to call: fresh
//! large buffers cost more in page faults than the edges cost in FMAs.

use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::avx2;
use super::layout::{LANES, blocks_to_feature_major, from_feature_major, lanes, lanes_mut};
use super::layout::{to_feature_major, with_scratch};
use super::min_items;
/// Output rows per task of the weight gradient.
const ROWS_PER_TASK: usize = 16;
/// Outputs whose results are gathered before they are written to the row-major output.
const GROUP: usize = 8;

/// An index type the kernels read in place (no conversion pass over `out · k` indices).
pub(crate) trait EdgeIndex: Copy + Send + Sync {
    fn position(self) -> usize;
}

impl EdgeIndex for i32 {
    #[inline(always)]
    fn position(self) -> usize {
        self as usize
    }
}

impl EdgeIndex for i64 {
    #[inline(always)]
    fn position(self) -> usize {
        self as usize
    }
}

/// The edges of a fan-in layer: `indices` and `weights` are `[out, k]`, row-major, every index
/// already checked to lie in `0..in_features`.
pub(crate) struct Edges<'a, I> {
    pub indices: &'a [I],
    pub weights: &'a [f32],
    pub out: usize,
    pub k: usize,
}

impl<I> Clone for Edges<'_, I> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I> Copy for Edges<'_, I> {}

impl<I> Edges<'_, I> {
    /// The work of one batch block of the forward or the input gradient: its edges' AXPYs and
    /// its transposes in and out.
    fn block_work(&self, in_features: usize) -> usize {
        LANES * (self.out * self.k + in_features + self.out)
    }
}

impl<I: EdgeIndex> Edges<'_, I> {
    fn row(&self, o: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let range = o * self.k..(o + 1) * self.k;
        self.indices[range.clone()]
            .iter()
            .zip(&self.weights[range])
            .map(|(&j, &w)| (j.position(), w))
    }
}

/// `y[b, o] = Σ_k w[o,k] · x[b, idx[o,k]]` for `x: [batch, in]`; returns `[batch, out]`.
pub(crate) fn forward<I: EdgeIndex>(
    x: &[f32],
    batch: usize,
    in_features: usize,
    edges: Edges<I>,
) -> Vec<f32> {
    let mut y = vec![0.0; batch * edges.out];
    if y.is_empty() {
        return y;
    }
    y.par_chunks_mut(LANES * edges.out)
        .with_min_len(min_items(edges.block_work(in_features)))
        .enumerate()
        .for_each(|(block, y_rows)| {
            let rows = y_rows.len() / edges.out;
            let x_rows = &x[block * LANES * in_features..][..rows * in_features];
            with_scratch(in_features * LANES, |xt| {
                to_feature_major(x_rows, rows, in_features, xt);
                forward_block(xt, edges, rows, y_rows);
            });
        });
    y
}

/// `dw[o, k] = Σ_b dy[b,o] · x[b, idx[o,k]]` for `x: [batch, in]`, `dy: [batch, out]`;
/// returns `[out, k]`.
pub(crate) fn weight_grad<I: EdgeIndex>(
    x: &[f32],
    dy: &[f32],
    batch: usize,
    in_features: usize,
    edges: Edges<I>,
) -> Vec<f32> {
    let mut dw = vec![0.0; edges.out * edges.k];
    if batch == 0 || dw.is_empty() {
        return dw;
    }
    let blocks = batch.div_ceil(LANES);
    with_scratch(blocks * LANES * (in_features + edges.out), |scratch| {
        let (xt, dyt) = scratch.split_at_mut(blocks * LANES * in_features);
        blocks_to_feature_major(x, batch, in_features, xt);
        blocks_to_feature_major(dy, batch, edges.out, dyt);
        weight_grad_blocked(xt, dyt, blocks, in_features, edges, &mut dw);
    });
    dw
}

/// [`weight_grad`] of feature-major `xt: [blocks, in, LANES]` and `dyt: [blocks, out,
/// LANES]`, into `dw: [out, k]`.
pub(crate) fn weight_grad_blocked<I: EdgeIndex>(
    xt: &[f32],
    dyt: &[f32],
    blocks: usize,
    in_features: usize,
    edges: Edges<I>,
    dw: &mut [f32],
) {
    if blocks == 0 || dw.is_empty() {
        return;
    }
    dw.par_chunks_mut(edges.k * ROWS_PER_TASK)
        .with_min_len(min_items(ROWS_PER_TASK * edges.k * blocks * LANES))
        .enumerate()
        .for_each(|(task, rows)| {
            let o0 = task * ROWS_PER_TASK;
            weight_grad_rows(xt, dyt, blocks, in_features, edges, o0, rows)
        });
}

/// The forward on feature-major `xt: [blocks, in, LANES]`; returns `[blocks, out, LANES]`.
pub(crate) fn forward_blocked<I: EdgeIndex>(
    xt: &[f32],
    blocks: usize,
    in_features: usize,
    edges: Edges<I>,
) -> Vec<f32> {
    let mut yt = vec![0.0; blocks * edges.out * LANES];
    if yt.is_empty() || in_features == 0 {
        return yt;
    }
    yt.par_chunks_mut(edges.out * LANES)
        .zip(xt.par_chunks(in_features * LANES))
        .with_min_len(min_items(LANES * edges.out * edges.k))
        .for_each(|(yt, xt)| forward_fm_block(xt, edges, yt));
    yt
}

/// The input gradient of feature-major `dyt: [blocks, out, LANES]`; returns `[blocks, in,
/// LANES]`.
pub(crate) fn input_grad_blocked<I: EdgeIndex>(
    dyt: &[f32],
    blocks: usize,
    in_features: usize,
    edges: Edges<I>,
) -> Vec<f32> {
    let mut dxt = vec![0.0; blocks * in_features * LANES];
    if dxt.is_empty() || edges.out == 0 {
        return dxt;
    }
    dxt.par_chunks_mut(in_features * LANES)
        .zip(dyt.par_chunks(edges.out * LANES))
        .with_min_len(min_items(LANES * edges.out * edges.k))
        .for_each(|(dxt, dyt)| input_grad_block(dyt, edges, dxt));
    dxt
}

/// `dx[b, j] = Σ_{idx[o,k] = j} w[o,k] · dy[b,o]` for `dy: [batch, out]`; returns
/// `[batch, in]`.
///
/// A scatter-add, conflict-free because each task owns a block of batch rows: it runs every
/// edge as an AXPY into its own feature-major buffer and writes its own rows of `dx`. No
/// atomics; the order of the sums is fixed, so the result is the same on every run.
pub(crate) fn input_grad<I: EdgeIndex>(
    dy: &[f32],
    batch: usize,
    in_features: usize,
    edges: Edges<I>,
) -> Vec<f32> {
    let mut dx = vec![0.0; batch * in_features];
    if dx.is_empty() || edges.out == 0 {
        return dx;
    }
    dx.par_chunks_mut(LANES * in_features)
        .with_min_len(min_items(edges.block_work(in_features)))
        .enumerate()
        .for_each(|(block, dx_rows)| {
            let rows = dx_rows.len() / in_features;
            let dy_rows = &dy[block * LANES * edges.out..][..rows * edges.out];
            with_scratch((edges.out + in_features) * LANES, |scratch| {
                let (dyt, dxt) = scratch.split_at_mut(edges.out * LANES);
                to_feature_major(dy_rows, rows, edges.out, dyt);
                dxt.fill(0.0);
                input_grad_block(dyt, edges, dxt);
                from_feature_major(dxt, rows, in_features, dx_rows);
            });
        });
    dx
}

#[inline(always)]
pub(super) fn fmadd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

fma_dispatched! {
    fn forward_block(xt: &[f32], edges: Edges<I>, rows: usize, y_rows: &mut [f32])
        = forward_block_generic;
}

#[inline(always)]
fn forward_block_generic<const FMA: bool, I: EdgeIndex>(
    xt: &[f32],
    edges: Edges<I>,
    rows: usize,
    y_rows: &mut [f32],
) {
    let out = edges.out;
    let mut results = [[0.0f32; LANES]; GROUP];
    for o0 in (0..out).step_by(GROUP) {
        let group = GROUP.min(out - o0);
        for (r, result) in results.iter_mut().enumerate().take(group) {
            // The accumulator stays in registers across the row's edges.
            let mut acc = [0.0f32; LANES];
            for (j, w) in edges.row(o0 + r) {
                let x = lanes(xt, j);
                for l in 0..LANES {
                    acc[l] = fmadd::<FMA>(x[l], w, acc[l]);
                }
            }
            *result = acc;
        }
        for (l, y_row) in y_rows.chunks_exact_mut(out).take(rows).enumerate() {
            for (r, y) in y_row[o0..o0 + group].iter_mut().enumerate() {
                *y = results[r][l];
            }
        }
    }
}

fma_dispatched! {
    fn forward_fm_block(xt: &[f32], edges: Edges<I>, yt: &mut [f32]) = forward_fm_block_generic;
}

/// One block's outputs, feature-major: `yt[o] = Σ_k w · xt[idx]`, lanes in registers.
#[inline(always)]
fn forward_fm_block_generic<const FMA: bool, I: EdgeIndex>(
    xt: &[f32],
    edges: Edges<I>,
    yt: &mut [f32],
) {
    for o in 0..edges.out {
        let mut acc = [0.0f32; LANES];
        for (j, w) in edges.row(o) {
            let x = lanes(xt, j);
            for l in 0..LANES {
                acc[l] = fmadd::<FMA>(x[l], w, acc[l]);
            }
        }
        *lanes_mut(yt, o) = acc;
    }
}

fma_dispatched! {
    fn weight_grad_rows(
        xt: &[f32],
        dyt: &[f32],
        blocks: usize,
        in_features: usize,
        edges: Edges<I>,
        o0: usize,
        rows: &mut [f32]
    ) = weight_grad_rows_generic;
}

#[inline(always)]
fn weight_grad_rows_generic<const FMA: bool, I: EdgeIndex>(
    xt: &[f32],
    dyt: &[f32],
    blocks: usize,
    in_features: usize,
    edges: Edges<I>,
    o0: usize,
    rows: &mut [f32],
) {
    // Eight edges at a time: eight independent FMA chains hide the FMA latency, and the
    // horizontal sums are paid once per edge, after every block.
    const EDGES: usize = 8;
    for (r, dw_row) in rows.chunks_exact_mut(edges.k).enumerate() {
        let o = o0 + r;
        let row = &edges.indices[o * edges.k..(o + 1) * edges.k];
        let mut groups = row.chunks_exact(EDGES);
        let mut dw_groups = dw_row.chunks_exact_mut(EDGES);
        for (js, dws) in (&mut groups).zip(&mut dw_groups) {
            let js: [I; EDGES] = js.try_into().expect("EDGES indices");
            let js = js.map(I::position);
            let sums = dots::<FMA, EDGES>(xt, dyt, blocks, in_features, edges.out, o, js);
            dws.copy_from_slice(&sums);
        }
        for (&j, dw) in groups.remainder().iter().zip(dw_groups.into_remainder()) {
            *dw = dots::<FMA, 1>(xt, dyt, blocks, in_features, edges.out, o, [j.position()])[0];
        }
    }
}

/// `Σ_b dy[b, o] · x[b, j]` for each `j` of `js`, over every batch block, in a fixed order (the
/// same result on every run on one machine).
#[inline(always)]
fn dots<const FMA: bool, const N: usize>(
    xt: &[f32],
    dyt: &[f32],
    blocks: usize,
    in_features: usize,
    out: usize,
    o: usize,
    js: [usize; N],
) -> [f32; N] {
    #[cfg(target_arch = "x86_64")]
    if FMA {
        // SAFETY: `FMA` is only true inside `with_fma`, compiled for (and run on) AVX2 + FMA.
        return unsafe { avx2::dots(xt, dyt, blocks, in_features, out, o, js) };
    }
    let mut acc = [0.0f32; N];
    for block in 0..blocks {
        let g = lanes(dyt, block * out + o);
        for (acc, &j) in acc.iter_mut().zip(&js) {
            let x = lanes(xt, block * in_features + j);
            *acc += g.iter().zip(x).map(|(g, x)| g * x).sum::<f32>();
        }
    }
    acc
}

fma_dispatched! {
    fn input_grad_block(dyt: &[f32], edges: Edges<I>, dxt: &mut [f32]) = input_grad_block_generic;
}

#[inline(always)]
fn input_grad_block_generic<const FMA: bool, I: EdgeIndex>(
    dyt: &[f32],
    edges: Edges<I>,
    dxt: &mut [f32],
) {
    for o in 0..edges.out {
        // The output's gradient stays in registers across the row's edges.
        let g = *lanes(dyt, o);
        for (j, w) in edges.row(o) {
            let dx = lanes_mut(dxt, j);
            for l in 0..LANES {
                dx[l] = fmadd::<FMA>(g[l], w, dx[l]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, written out with no layout tricks.
    fn naive_forward(x: &[f32], batch: usize, in_features: usize, e: Edges<i32>) -> Vec<f32> {
        let mut y = vec![0.0; batch * e.out];
        for b in 0..batch {
            for o in 0..e.out {
                y[b * e.out + o] = e.row(o).map(|(j, w)| w * x[b * in_features + j]).sum();
            }
        }
        y
    }

    fn assert_close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (i, (a, b)) in a.iter().zip(b).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "element {i}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn hand_computed_forward_and_gradients() {
        // out 0 reads x1 twice (a duplicate index) and x0; out 1 reads x2 and x0.
        let indices: [i32; 6] = [1, 1, 0, 2, 0, 0];
        let weights = [1.0, 2.0, 3.0, -1.0, 0.5, 0.0];
        let e = Edges {
            indices: &indices,
            weights: &weights,
            out: 2,
            k: 3,
        };
        let x = [1.0, 10.0, 100.0, 2.0, 20.0, 200.0]; // [2, 3]
        // y[b,0] = 3·x1 + 3·x0, y[b,1] = -x2 + 0.5·x0
        assert_eq!(forward(&x, 2, 3, e), vec![33.0, -99.5, 66.0, -199.0]);
        let dy = [1.0, 2.0, -1.0, 0.5]; // [2, 2]
        // dw[o,k] = Σ_b dy[b,o] x[b, idx[o,k]]
        let dw = weight_grad(&x, &dy, 2, 3, e);
        assert_eq!(dw, vec![-10.0, -10.0, -1.0, 300.0, 3.0, 3.0]);
        // dx[b,0] = 3·dy0 + 0.5·dy1, dx[b,1] = 3·dy0, dx[b,2] = -dy1
        let dx = input_grad(&dy, 2, 3, e);
        assert_eq!(dx, vec![4.0, 3.0, -2.0, -2.75, -3.0, -0.5]);
    }

    #[test]
    fn all_three_match_the_definition_across_block_and_task_boundaries() {
        // Two batch blocks (64 + 81 rows), groups and tasks with ragged ends.
        let (batch, in_features, out, k) = (145, 19, 53, 5);
        let indices: Vec<i32> = (0..out * k)
            .map(|i| ((i * 7 + 3) % in_features) as i32)
            .collect();
        let weights: Vec<f32> = (0..out * k).map(|i| (i % 11) as f32 * 0.25 - 1.0).collect();
        let x: Vec<f32> = (0..batch * in_features)
            .map(|i| ((i * 13) % 17) as f32 - 8.0)
            .collect();
        let dy: Vec<f32> = (0..batch * out)
            .map(|i| ((i * 5) % 7) as f32 - 3.0)
            .collect();
        let e = Edges {
            indices: &indices,
            weights: &weights,
            out,
            k,
        };
        assert_close(
            &forward(&x, batch, in_features, e),
            &naive_forward(&x, batch, in_features, e),
        );

        let mut dw = vec![0.0; out * k];
        let mut dx = vec![0.0; batch * in_features];
        for b in 0..batch {
            for o in 0..out {
                for (m, (j, w)) in e.row(o).enumerate() {
                    dw[o * k + m] += dy[b * out + o] * x[b * in_features + j];
                    dx[b * in_features + j] += w * dy[b * out + o];
                }
            }
        }
        assert_close(&weight_grad(&x, &dy, batch, in_features, e), &dw);
        assert_close(&input_grad(&dy, batch, in_features, e), &dx);
    }

    /// The same checks on the portable code (the other tests run the AVX2 code on a CPU that
    /// has it). Other tests running meanwhile may take the portable path too: both are right.
    #[test]
    fn the_portable_code_matches_the_definition_too() {
        use std::sync::atomic::Ordering;
        crate::cpu::tests::PORTABLE_ONLY.store(true, Ordering::Relaxed);
        let result = std::panic::catch_unwind(|| {
            hand_computed_forward_and_gradients();
            all_three_match_the_definition_across_block_and_task_boundaries();
        });
        crate::cpu::tests::PORTABLE_ONLY.store(false, Ordering::Relaxed);
        result.unwrap();
    }

    #[test]
    fn empty_shapes_give_empty_or_zero_results() {
        let e = Edges::<i32> {
            indices: &[],
            weights: &[],
            out: 3,
            k: 0,
        };
        assert_eq!(forward(&[1.0, 2.0], 1, 2, e), vec![0.0; 3]);
        assert_eq!(
            weight_grad(&[1.0, 2.0], &[1.0; 3], 1, 2, e),
            Vec::<f32>::new()
        );
        assert_eq!(input_grad(&[1.0; 3], 1, 2, e), vec![0.0; 2]);
        let none = Edges::<i64> {
            indices: &[],
            weights: &[],
            out: 0,
            k: 4,
        };
        assert_eq!(forward(&[], 0, 2, none), Vec::<f32>::new());
    }
}
