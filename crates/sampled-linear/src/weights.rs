//! Between Burn's `Linear` weight layout, `[d_input, d_output]`, and the output-major rows
//! that sampling works on (one row, one distribution, per output neuron).

use burn::tensor::{Device, Tensor, TensorData};

/// A `[d_input, d_output]` weight (Burn's `Linear` layout) read to the host as output-major
/// rows: returns `(rows, d_output, d_input)` with `rows[o · d_input + j] = weight[j, o]`.
pub fn output_major(weight: &Tensor<2>) -> (Vec<f32>, usize, usize) {
    let [d_input, d_output] = weight.dims();
    // The backend's own transpose, read back once: cheaper than a copy and a host transpose.
    let data = weight.clone().transpose().into_data().convert::<f32>();
    let rows = data.try_into_vec::<f32>().expect("f32 after convert");
    (rows, d_output, d_input)
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

/// The transpose of a row-major `[rows, cols]` matrix, in 32 × 32 tiles so that both the
/// reads and the writes stay in cache.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let mut out = vec![0.0; values.len()];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = values[r * cols + c];
                }
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
