//! Between Burn's `Linear` weight layout, `[d_input, d_output]`, and the output-major rows
//! that sampling works on (one row, one distribution, per output neuron).

use burn::tensor::{Device, Tensor, TensorData};

/// A `[d_input, d_output]` weight (Burn's `Linear` layout) read to the host as output-major
/// rows: returns `(rows, d_output, d_input)` with `rows[o · d_input + j] = weight[j, o]`.
pub fn output_major(weight: &Tensor<2>) -> (Vec<f32>, usize, usize) {
    let [d_input, d_output] = weight.dims();
    // Read as stored (a fresh copy, which reads back fast: `host_values`), then transposed on
    // the host.
    let values = mcnn_backends::host_values(weight.clone());
    (transpose(&values, d_input, d_output), d_output, d_input)
}

/// Output-major rows `[d_output, d_input]` as a `[d_input, d_output]` tensor on `device`.
pub fn input_major_tensor(
    rows: &[f32],
    d_output: usize,
    d_input: usize,
    device: &Device,
) -> Tensor<2> {
    assert_eq!(rows.len(), d_output * d_input, "input_major_tensor: shape");
    let values = transpose(rows, d_output, d_input);
    Tensor::from_data(TensorData::new(values, [d_input, d_output]), device)
}

/// The transpose `[cols, rows]` of a row-major `[rows, cols]` matrix, in blocks of 32 output
/// rows: each input row gives 32 contiguous reads, written to 32 output rows at the same
/// column, so that both sides stream through cache. One thread: for a layer's weights, waking
/// a second one costs more than it saves on 2 cores.
pub(crate) fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const BLOCK: usize = 32;
    assert_eq!(values.len(), rows * cols, "transpose: shape");
    let mut out = vec![0.0; values.len()];
    for c0 in (0..cols).step_by(BLOCK) {
        let width = (cols - c0).min(BLOCK);
        for (r, row) in values.chunks_exact(cols).enumerate() {
            for (c, &value) in row[c0..c0 + width].iter().enumerate() {
                out[(c0 + c) * rows + r] = value;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_by_hand_across_tile_edges() {
        let (rows, cols) = (33, 70);
        let values: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let t = transpose(&values, rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(t[c * rows + r], values[r * cols + c]);
            }
        }
    }
}
