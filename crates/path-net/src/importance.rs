//! Importance-sampled walks: paths that follow the magnitudes of a trained dense network.
//!
//! A path starts at an input neuron with probability proportional to the neuron's outgoing
//! mass `Σ_j |W_0[i, j]|`, and moves from neuron `i` of layer `l` to neuron `j` of layer
//! `l + 1` with probability `|W_l[i, j]| / Σ_j' |W_l[i, j']|` (section 4 of
//! `docs/algorithms.md`, tied to the importance sampling of section 2). The choices invert these
//! discrete distributions at the generator's coordinates, so Sobol' points give stratified
//! walks and random walks give iid ones. A neuron whose weights are all zero continues
//! uniformly.
//!
//! ```
//! # #[cfg(feature = "flex")] {
//! use burn::nn::LinearConfig;
//! use burn::tensor::Device;
//! use path_net::{PathGenerator, importance_paths};
//!
//! let device = Device::flex();
//! let dense = [LinearConfig::new(16, 8).init(&device), LinearConfig::new(8, 4).init(&device)];
//! let paths = importance_paths(&dense, 64, PathGenerator::Sobol).unwrap();
//! assert_eq!(paths.widths, vec![16, 8, 4]);
//! # }
//! ```

use burn::nn::Linear;

use crate::paths::{Coordinates, check_shape, dimensions, scale};
use crate::{PathError, PathGenerator, Paths};

/// `P` paths through the layers of a trained dense network (`dense[l]`: layer `l` to `l + 1`,
/// Burn's `[d_input, d_output]` weights), each step drawn proportionally to `|w|`.
///
/// # Errors
/// [`PathError`] naming `dense` (no layer; a layer whose inputs are not the previous layer's
/// outputs; a weight that is not finite, with its layer, row and column) or `paths`, as
/// [`generate_paths`](crate::generate_paths).
pub fn importance_paths(
    dense: &[Linear],
    paths: usize,
    generator: PathGenerator,
) -> Result<Paths, PathError> {
    let Some(first) = dense.first() else {
        return Err(PathError::new(
            "dense",
            "no layer",
            "at least one Linear layer",
        ));
    };
    let mut widths = vec![first.weight.dims()[0]];
    for (layer, linear) in dense.iter().enumerate() {
        let [d_input, d_output] = linear.weight.dims();
        if d_input != widths[layer] {
            return Err(PathError::new(
                "dense",
                format!("layer {layer} with {d_input} inputs"),
                format!(
                    "{} inputs, the outputs of layer {}",
                    widths[layer],
                    layer - 1
                ),
            ));
        }
        widths.push(d_output);
    }
    check_shape(&widths, paths)?;
    let coordinates = Coordinates::new(generator, dimensions(widths.len()))?;
    let magnitudes = dense
        .iter()
        .enumerate()
        .map(|(layer, linear)| magnitudes(linear, layer))
        .collect::<Result<Vec<_>, _>>()?;

    // The start: cumulative outgoing mass of the input neurons.
    let mut start = Cumulative::new(widths[0]);
    let first_layer = &magnitudes[0];
    let start_mass: Vec<f64> = first_layer
        .chunks(widths[1])
        .map(|row| row.iter().sum())
        .collect();
    start.reset(&start_mass);

    let mut neurons: Vec<Vec<u32>> = vec![Vec::with_capacity(paths); widths.len()];
    neurons[0] = (0..paths as u32)
        .map(|i| start.pick(coordinates.at(i, 0)))
        .collect();
    for (layer, weights) in magnitudes.iter().enumerate() {
        let n_out = widths[layer + 1];
        // One cumulative row per source neuron, built once.
        let rows: Vec<Cumulative> = weights
            .chunks(n_out)
            .map(|row| {
                let mut c = Cumulative::new(n_out);
                c.reset(row);
                c
            })
            .collect();
        neurons[layer + 1] = neurons[layer]
            .iter()
            .enumerate()
            .map(|(i, &from)| rows[from as usize].pick(coordinates.at(i as u32, layer + 1)))
            .collect();
    }
    Ok(Paths {
        widths,
        neurons,
        generator,
    })
}

/// `|W|` of a layer on the host, row-major `[d_input, d_output]`, checked finite.
fn magnitudes(linear: &Linear, layer: usize) -> Result<Vec<f64>, PathError> {
    let [_, d_output] = linear.weight.dims();
    let values = mcnn_backends::host_values(linear.weight.val());
    if let Some(at) = values.iter().position(|w| !w.is_finite()) {
        return Err(PathError::new(
            "dense",
            format!(
                "weight {} of layer {layer} at input {}, output {}",
                values[at],
                at / d_output,
                at % d_output
            ),
            "finite weights",
        ));
    }
    Ok(values.into_iter().map(|w| w.abs() as f64).collect())
}

/// A discrete distribution by its prefix sums, sampled by inversion.
struct Cumulative {
    sums: Vec<f64>,
}

impl Cumulative {
    fn new(n: usize) -> Self {
        Self {
            sums: Vec::with_capacity(n),
        }
    }

    fn reset(&mut self, masses: &[f64]) {
        self.sums.clear();
        let mut total = 0.0;
        self.sums.extend(masses.iter().map(|m| {
            total += m;
            total
        }));
    }

    /// The outcome at the 32-bit fraction `x`: the first `j` with `x · total < sums[j]`, so
    /// outcomes of zero mass are never drawn; uniform when the total is zero.
    fn pick(&self, x: u32) -> u32 {
        let n = self.sums.len();
        let total = self.sums[n - 1];
        if total <= 0.0 {
            return scale(x, n);
        }
        let target = (x as f64 + 0.5) / 2f64.powi(32) * total;
        (self.sums.partition_point(|&s| s <= target)).min(n - 1) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inversion_skips_zero_masses_and_is_uniform_without_mass() {
        let mut c = Cumulative::new(4);
        c.reset(&[1.0, 0.0, 3.0, 0.0]);
        // A quarter of [0, 1) goes to outcome 0, the rest to outcome 2.
        let at = |c: &Cumulative, f: f64| c.pick((f * 2f64.powi(32)) as u32);
        let picks = |c: &Cumulative, fs: [f64; 4]| fs.map(|f| at(c, f));
        assert_eq!(picks(&c, [0.0, 0.24, 0.26, 0.99]), [0, 0, 2, 2]);
        c.reset(&[0.0; 4]);
        assert_eq!(picks(&c, [0.1, 0.3, 0.6, 0.9]), [0, 1, 2, 3]);
    }
}
