//! The fan-in op on plain slices, in feature-major layout.
//!
//! With the activations transposed to `[features, batch]`, every edge `(o, k)` of the layer is
//! one AXPY (or one dot product) over the batch: contiguous, SIMD-friendly, and no
//! `[batch, out, k]` intermediate. The transposes cost `O(batch · (in + out))`, the edges
//! `O(batch · out · k)`.

use rayon::prelude::*;

/// Output rows per parallel task: enough work to amortise rayon's scheduling.
const ROWS_PER_TASK: usize = 16;
/// Side of the square tiles of the blocked transpose.
const TILE: usize = 32;

/// The edges of a fan-in layer: `indices` and `weights` are `[out, k]`, row-major, every index
/// already checked to be below the layer's input width.
#[derive(Clone, Copy)]
pub(crate) struct Edges<'a> {
    pub indices: &'a [u32],
    pub weights: &'a [f32],
    pub out: usize,
    pub k: usize,
}

impl Edges<'_> {
    fn row_indices(&self, o: usize) -> impl Iterator<Item = usize> + '_ {
        self.indices[o * self.k..(o + 1) * self.k]
            .iter()
            .map(|&j| j as usize)
    }

    fn row(&self, o: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let range = o * self.k..(o + 1) * self.k;
        self.indices[range.clone()]
            .iter()
            .zip(&self.weights[range])
            .map(|(&j, &w)| (j as usize, w))
    }
}

/// `y[b, o] = Σ_k w[o,k] · x[b, idx[o,k]]` for `x: [batch, in]`; returns `[batch, out]`.
pub(crate) fn forward(x: &[f32], batch: usize, in_features: usize, edges: Edges) -> Vec<f32> {
    if batch == 0 || edges.out == 0 {
        return vec![0.0; batch * edges.out];
    }
    let xt = transpose(x, batch, in_features);
    let mut yt = vec![0.0; edges.out * batch];
    yt.par_chunks_mut(batch * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(task, rows)| forward_rows(&xt, batch, edges, task * ROWS_PER_TASK, rows));
    transpose(&yt, edges.out, batch)
}

/// `dw[o, k] = Σ_b dy[b,o] · x[b, idx[o,k]]` for `x: [batch, in]`, `dy: [batch, out]`;
/// returns `[out, k]`.
pub(crate) fn weight_grad(
    x: &[f32],
    dy: &[f32],
    batch: usize,
    in_features: usize,
    edges: Edges,
) -> Vec<f32> {
    let mut dw = vec![0.0; edges.out * edges.k];
    if batch == 0 || dw.is_empty() {
        return dw;
    }
    let xt = transpose(x, batch, in_features);
    let dyt = transpose(dy, batch, edges.out);
    dw.par_chunks_mut(edges.k * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(task, rows)| {
            weight_grad_rows(&xt, &dyt, batch, edges, task * ROWS_PER_TASK, rows)
        });
    dw
}

/// `dx[b, j] = Σ_{idx[o,k] = j} w[o,k] · dy[b,o]` for `dy: [batch, out]`; returns
/// `[batch, in]`.
///
/// A scatter-add, made conflict-free by splitting the *batch*: each task owns a block of batch
/// rows, transposes its slice of `dy`, runs every edge as an AXPY into its own feature-major
/// buffer, and transposes that into its own rows of `dx`. No atomics, deterministic.
pub(crate) fn input_grad(dy: &[f32], batch: usize, in_features: usize, edges: Edges) -> Vec<f32> {
    let mut dx = vec![0.0; batch * in_features];
    if dx.is_empty() || edges.out == 0 {
        return dx;
    }
    let block = batch.div_ceil(rayon::current_num_threads()).max(8);
    dx.par_chunks_mut(block * in_features)
        .enumerate()
        .for_each(|(task, dx_rows)| {
            let b0 = task * block;
            let rows = dx_rows.len() / in_features;
            let dy_rows = &dy[b0 * edges.out..(b0 + rows) * edges.out];
            input_grad_block(dy_rows, rows, in_features, edges, dx_rows);
        });
    dx
}

/// The transpose of a row-major `[rows, cols]` matrix, in parallel over output rows.
pub(crate) fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut dst = vec![0.0; rows * cols];
    if dst.is_empty() {
        return dst;
    }
    dst.par_chunks_mut(rows * TILE)
        .enumerate()
        .for_each(|(task, part)| transpose_cols_into(src, rows, cols, task * TILE, part));
    dst
}

/// Writes columns `c0..` of `src: [rows, cols]` as the rows of `dst: [n, rows]`, tile by tile
/// so both sides stay in cache.
fn transpose_cols_into(src: &[f32], rows: usize, cols: usize, c0: usize, dst: &mut [f32]) {
    let n = dst.len() / rows;
    for rb in (0..rows).step_by(TILE) {
        let r_end = (rb + TILE).min(rows);
        for cb in (0..n).step_by(TILE) {
            for c in cb..(cb + TILE).min(n) {
                let dst_row = &mut dst[c * rows..(c + 1) * rows];
                for r in rb..r_end {
                    dst_row[r] = src[r * cols + c0 + c];
                }
            }
        }
    }
}

fma_dispatched! {
    fn forward_rows(xt: &[f32], batch: usize, edges: Edges, o0: usize, rows: &mut [f32])
        = forward_rows_generic;
}

#[inline(always)]
fn forward_rows_generic<const FMA: bool>(
    xt: &[f32],
    batch: usize,
    edges: Edges,
    o0: usize,
    rows: &mut [f32],
) {
    for (r, acc) in rows.chunks_exact_mut(batch).enumerate() {
        for (j, w) in edges.row(o0 + r) {
            axpy::<FMA>(w, &xt[j * batch..(j + 1) * batch], acc);
        }
    }
}

fma_dispatched! {
    fn weight_grad_rows(
        xt: &[f32],
        dyt: &[f32],
        batch: usize,
        edges: Edges,
        o0: usize,
        rows: &mut [f32]
    ) = weight_grad_rows_generic;
}

#[inline(always)]
fn weight_grad_rows_generic<const FMA: bool>(
    xt: &[f32],
    dyt: &[f32],
    batch: usize,
    edges: Edges,
    o0: usize,
    rows: &mut [f32],
) {
    for (r, dw_row) in rows.chunks_exact_mut(edges.k).enumerate() {
        let o = o0 + r;
        let g = &dyt[o * batch..(o + 1) * batch];
        for (dw, j) in dw_row.iter_mut().zip(edges.row_indices(o)) {
            *dw = dot::<FMA>(g, &xt[j * batch..(j + 1) * batch]);
        }
    }
}

fma_dispatched! {
    fn input_grad_block(
        dy_rows: &[f32],
        rows: usize,
        in_features: usize,
        edges: Edges,
        dx_rows: &mut [f32]
    ) = input_grad_block_generic;
}

#[inline(always)]
fn input_grad_block_generic<const FMA: bool>(
    dy_rows: &[f32],
    rows: usize,
    in_features: usize,
    edges: Edges,
    dx_rows: &mut [f32],
) {
    let mut dyt = vec![0.0; edges.out * rows];
    transpose_cols_into(dy_rows, rows, edges.out, 0, &mut dyt);
    let mut dxt = vec![0.0; in_features * rows];
    for o in 0..edges.out {
        let g = &dyt[o * rows..(o + 1) * rows];
        for (j, w) in edges.row(o) {
            axpy::<FMA>(w, g, &mut dxt[j * rows..(j + 1) * rows]);
        }
    }
    transpose_cols_into(&dxt, in_features, rows, 0, dx_rows);
}

/// `y += a · x`.
#[inline(always)]
fn axpy<const FMA: bool>(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = if FMA { x.mul_add(a, *y) } else { *y + a * x };
    }
}

/// `Σ a·b`, summed in 16 lanes so the compiler can vectorise it (a fixed order, so the result
/// is the same on every run).
#[inline(always)]
fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0.0f32; LANES];
    let (a_body, a_tail) = a.split_at(a.len() - a.len() % LANES);
    let (b_body, b_tail) = b.split_at(a_body.len());
    for (a, b) in a_body.chunks_exact(LANES).zip(b_body.chunks_exact(LANES)) {
        for l in 0..LANES {
            acc[l] = if FMA {
                a[l].mul_add(b[l], acc[l])
            } else {
                acc[l] + a[l] * b[l]
            };
        }
    }
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(a, b)| a * b).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, written out with no layout tricks.
    fn naive_forward(x: &[f32], batch: usize, in_features: usize, e: Edges) -> Vec<f32> {
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
    fn transpose_of_a_ragged_matrix() {
        let (rows, cols) = (37, 70);
        let src: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
        let t = transpose(&src, rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(t[c * rows + r], src[r * cols + c]);
            }
        }
    }

    #[test]
    fn hand_computed_forward_and_gradients() {
        // out 0 reads x1 twice (a duplicate index) and x0; out 1 reads x2 and x0.
        let indices = [1, 1, 0, 2, 0, 0];
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
    fn forward_matches_the_definition_across_task_boundaries() {
        let (batch, in_features, out, k) = (45, 19, 53, 5);
        let indices: Vec<u32> = (0..out * k)
            .map(|i| ((i * 7 + 3) % in_features) as u32)
            .collect();
        let weights: Vec<f32> = (0..out * k).map(|i| (i % 11) as f32 * 0.25 - 1.0).collect();
        let x: Vec<f32> = (0..batch * in_features)
            .map(|i| ((i * 13) % 17) as f32 - 8.0)
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
    }

    #[test]
    fn empty_shapes_give_empty_or_zero_results() {
        let e = Edges {
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
        let none = Edges {
            indices: &[],
            weights: &[],
            out: 0,
            k: 4,
        };
        assert_eq!(forward(&[], 0, 2, none), Vec::<f32>::new());
    }
}
