//! Monte Carlo sampling of non-negative activations (MCQ): the input of a layer becomes
//! small non-negative integers times one scale per example, so that a sampled layer computes
//! an integer dot product times two scales.

use crate::config::SamplingConfig;
use crate::error::SampledLinearError;
use crate::sample::SampledWeights;
use burn::tensor::{Tensor, TensorData};

/// Samples the non-negative activations `input` (`[batch, features]`, e.g. after a ReLU):
/// per example (`Granularity::PerNeuron`: one distribution per row, `N` from the budget with
/// `n = features`) or per batch (`PerLayer`), draws `N` samples from `a / Σa` and returns the
/// estimate `(Σa / N) · c` with integer counts `c`, on the input's device. Unbiased; an
/// all-zero example stays zero. Reads the input to the host.
///
/// Mordido, Van Keirsbilck and Keller, *Monte Carlo Gradient Quantization* and *Instant
/// Quantization of Neural Networks using Monte Carlo Methods* (arXiv:1905.12253).
///
/// # Errors
/// A bad budget; [`SampledLinearError::InvalidConfig`] naming `input` for a negative or
/// non-finite activation (its example and feature).
pub fn sample_activations(
    input: Tensor<2>,
    config: &SamplingConfig,
) -> Result<Tensor<2>, SampledLinearError> {
    config.check()?;
    let [batch, features] = input.dims();
    let device = input.device();
    let values = mcnn_backends::host_values(input);
    if let Some(at) = values.iter().position(|a| !(a.is_finite() && *a >= 0.0)) {
        return Err(SampledLinearError::config(
            "input",
            format!(
                "{} at example {}, feature {}",
                values[at],
                at / features,
                at % features
            ),
            "non-negative finite activations (sample after a ReLU)",
        ));
    }
    if batch == 0 || features == 0 {
        return Err(SampledLinearError::config(
            "input",
            format!("shape [{batch}, {features}]"),
            "at least one example and one feature",
        ));
    }
    // One example is one "neuron" of the weight sampler: a row, its own distribution.
    let estimate =
        SampledWeights::sample(&values, batch, features, config, "activations")?.dequantize();
    Ok(Tensor::from_data(
        TensorData::new(estimate, [batch, features]),
        &device,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Budget, SamplingScheme};

    fn device() -> burn::tensor::Device {
        mcnn_backends::host_device()
    }

    fn values(t: Tensor<2>) -> Vec<f32> {
        mcnn_backends::host_values(t)
    }

    #[test]
    fn systematic_counts_by_hand_and_a_zero_example() {
        // Row 0: a = (0, 2, 2), Σa = 4, N = 4: counts (0, 2, 2), scale 1: exact.
        let x = Tensor::<2>::from_floats([[0.0, 2.0, 2.0], [0.0, 0.0, 0.0]], &device());
        let config =
            SamplingConfig::new(Budget::PerNeuron(4)).with_scheme(SamplingScheme::Systematic);
        assert_eq!(
            values(sample_activations(x, &config).unwrap()),
            vec![0.0, 2.0, 2.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn estimates_are_integers_times_one_scale_per_example() {
        let x = Tensor::<2>::from_floats([[0.5, 1.0, 0.0, 3.0], [2.0, 0.25, 0.25, 0.5]], &device());
        let config = SamplingConfig::new(Budget::Amount(1.0)).with_seed(3);
        let y = values(sample_activations(x, &config).unwrap());
        for (row, sum) in y.chunks(4).zip([4.5f32, 3.0]) {
            let scale = sum / 4.0; // N = 4 samples per example
            assert!(
                row.iter()
                    .all(|v| (v / scale - (v / scale).round()).abs() < 1e-5)
            );
            assert!(
                (row.iter().sum::<f32>() - sum).abs() < 1e-5,
                "Σ c = N keeps the sum"
            );
        }
    }

    #[test]
    fn negative_activations_are_refused_by_position() {
        let x = Tensor::<2>::from_floats([[0.5, 1.0], [2.0, -0.25]], &device());
        let err = sample_activations(x, &SamplingConfig::new(Budget::Amount(1.0))).unwrap_err();
        assert!(
            err.to_string().contains("-0.25 at example 1, feature 1"),
            "{err}"
        );
    }
}
