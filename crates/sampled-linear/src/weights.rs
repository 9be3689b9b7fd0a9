//! Between Burn's `Linear` weight layout, `[d_input, d_output]`, and the output-major rows
//! that sampling works on (one row, one distribution, per output neuron).

use burn::tensor::{Device, Tensor, TensorData};
use mcnn_fan_in::transpose;

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
