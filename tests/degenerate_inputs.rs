//! Property tests over the workspace's public constructors, loaders and forwards with
//! degenerate shapes and values: zero-size axes, width 1, sizes whose products overflow,
//! NaN and infinities, extreme seeds and amounts. Each call either gives a correct result or
//! a clear error naming the parameter (an `Err`, or for the `init`s that panic like Burn's
//! own, a panic whose message names it); it never panics inside a dependency and never
//! overflows.
//!
//! Sizes are either small (the shapes are exercised) or beyond a documented limit (the
//! error is): a size within the limits but too large for this machine's memory is not a
//! degenerate input.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use burn::nn::LinearConfig;
use burn::tensor::{Device, Int, Tensor, TensorData};
use mcnn::datasets::{cifar, idx};
use mcnn::fan_in::{FanInLinearConfig, fan_in_reference, try_fan_in};
use mcnn::partition_dropout::{
    BernoulliDropoutConfig, MAX_PROB, MIN_PROB, Mode, PartitionDropoutConfig, Scope,
};
use mcnn::path_net::{PathGenerator, PathInit, PathLinearConfig, PathNetConfig, generate_paths};
use mcnn::sampled_linear::{
    Budget, Granularity, SampledLinear, SampledWeights, SamplingConfig, SamplingScheme,
};
use mcnn::sweep::{Experiment, Shard};
use mcnn_backends::host_device;
use proptest::prelude::*;

/// The value of `f`, or the message it panicked with.
fn outcome<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into())
    })
}

/// Asserts that `message` names one of `parameters`.
fn names_one_of(message: &str, parameters: &[&str]) -> Result<(), TestCaseError> {
    prop_assert!(
        parameters.iter().any(|p| message.contains(p)),
        "the error names none of {parameters:?}: {message}"
    );
    Ok(())
}

/// A size: small ones, and ones beyond every limit (products overflow).
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..6,
        1 => Just(usize::MAX),
        1 => Just(1usize << 40),
        1 => Just((1usize << 32) + 1),
    ]
}

/// A float: ordinary, zero, tiny, huge, NaN and infinities.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -3.0f32..3.0,
        1 => Just(0.0f32),
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(1e-42f32),
        1 => Just(3e38f32),
    ]
}

fn floats(device: &Device, values: Vec<f32>, dims: [usize; 2]) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, dims), device)
}

/// Whether two results agree: close where both are finite, non-finite where the other is
/// (sums that overflow may end at an infinity or NaN depending on the order and fusing of
/// their operations).
fn same(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| match (x.is_finite(), y.is_finite()) {
                (true, true) => (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                (finite_x, finite_y) => !finite_x && !finite_y,
            })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn fan_in_linear_configs(
        d_input in size(), d_output in size(), k in size(), seed in any::<u64>(),
    ) {
        let device = host_device();
        let config = FanInLinearConfig::new(d_input, d_output, k).with_seed(seed);
        match outcome(|| config.try_init(&device)) {
            Ok(Ok(layer)) => {
                prop_assert_eq!(layer.d_input.get(), d_input);
                prop_assert_eq!(layer.indices.dims(), [d_output, k]);
            }
            Ok(Err(error)) => names_one_of(&error.to_string(), &["d_input", "d_output", "fan_in"])?,
            Err(panic) => prop_assert!(false, "try_init panicked: {panic}"),
        }
    }

    /// The op against its plain-Burn reference on degenerate shapes and values.
    #[test]
    fn fan_in_op(
        batch in 0usize..3, d_input in 0usize..4, d_output in 0usize..3, k in 0usize..3,
        bad in 0u8..3, values in prop::collection::vec(value(), 64),
    ) {
        let device = host_device();
        let input = floats(&device, values[..batch * d_input].to_vec(), [batch, d_input]);
        let weight = floats(&device, values[32..32 + d_output * k].to_vec(), [d_output, k]);
        // Valid indices, or the first one out of range on either side.
        let mut indices: Vec<i64> = (0..d_output * k).map(|i| (i % d_input.max(1)) as i64).collect();
        if let Some(first) = indices.first_mut() {
            *first = match bad { 1 => -1, 2 => d_input as i64, _ => *first };
        }
        let in_range = indices.iter().all(|&j| (0..d_input as i64).contains(&j));
        let indices = Tensor::<2, Int>::from_data(TensorData::new(indices, [d_output, k]), &device);
        match outcome(|| try_fan_in(input.clone(), weight.clone(), indices.clone(), None)) {
            Ok(Ok(output)) => {
                prop_assert!(in_range || d_output * k == 0);
                prop_assert_eq!(output.dims(), [batch, d_output]);
                let expected = fan_in_reference(input, weight, indices);
                let (got, want) = (output.into_data(), expected.into_data());
                let (got, want) = (got.try_to_vec::<f32>().unwrap(), want.try_to_vec::<f32>().unwrap());
                prop_assert!(same(&got, &want), "{got:?} vs {want:?}");
            }
            Ok(Err(error)) => {
                prop_assert!(!in_range);
                names_one_of(&error.to_string(), &["indices"])?;
            }
            Err(panic) => prop_assert!(false, "try_fan_in panicked: {panic}"),
        }
    }

    #[test]
    fn partition_dropout_configs_and_forwards(
        partitions in prop_oneof![0usize..5, Just(usize::MAX), Just(1usize << 33)],
        seed in any::<u64>(),
        dims in prop::collection::vec(0usize..4, 2..=4),
        keep_one in any::<bool>(),
        scope in prop::sample::select(vec![Scope::PerSample, Scope::PerBatch, Scope::Channel]),
    ) {
        let config = PartitionDropoutConfig::new(partitions)
            .with_seed(seed)
            .with_scope(scope)
            .with_mode(if keep_one { Mode::KeepOne } else { Mode::DropOne });
        let dropout = match outcome(|| config.init()) {
            Ok(dropout) => dropout,
            Err(panic) => return names_one_of(&panic, &["partitions"]),
        };
        let device = host_device().autodiff();
        let run = || match dims.len() {
            2 => dropout.forward(Tensor::<2>::ones([dims[0], dims[1]], &device)).dims().to_vec(),
            3 => dropout.forward(Tensor::<3>::ones([dims[0], dims[1], dims[2]], &device)).dims().to_vec(),
            _ => dropout.forward(Tensor::<4>::ones([dims[0], dims[1], dims[2], dims[3]], &device)).dims().to_vec(),
        };
        match outcome(run) {
            Ok(out) => prop_assert_eq!(out, dims.clone()),
            Err(panic) => {
                prop_assert!(scope == Scope::Channel && dims.len() != 4, "{panic}");
                names_one_of(&panic, &["Scope::Channel"])?;
            }
        }
    }

    #[test]
    fn drop_rates(prob in prop_oneof![any::<f64>(), 0.0f64..1.0]) {
        match PartitionDropoutConfig::from_drop_rate(prob) {
            Ok((config, rate)) => {
                prop_assert!(config.partitions >= 2);
                prop_assert!((0.0..1.0).contains(&rate));
            }
            Err(error) => names_one_of(&error.to_string(), &["`prob`"])?,
        }
    }

    #[test]
    fn bernoulli_rates(prob in prop_oneof![any::<f64>(), 0.0f64..1.0, 0.0f64..1e-6]) {
        match BernoulliDropoutConfig::new(prob).try_init() {
            Ok(dropout) => prop_assert!(dropout.prob == 0.0 || (MIN_PROB..=MAX_PROB).contains(&dropout.prob)),
            Err(error) => names_one_of(&error.to_string(), &["`prob`"])?,
        }
    }

    /// Sampling a layer's weights: budgets and weights of every kind.
    #[test]
    fn sampled_weights(
        rows in prop::collection::vec(value(), 1..12),
        d_output in 1usize..4,
        budget in prop_oneof![
            (any::<f64>()).prop_map(Budget::Amount),
            (0.0f64..4.0).prop_map(Budget::Amount),
            Just(Budget::Amount(1e300)),
            (0usize..5).prop_map(Budget::PerNeuron),
            Just(Budget::PerNeuron(usize::MAX)),
        ],
        per_layer in any::<bool>(),
        scheme in prop::sample::select(vec![
            SamplingScheme::Jittered, SamplingScheme::Systematic, SamplingScheme::Iid,
            SamplingScheme::LowDiscrepancy,
        ]),
        seed in any::<u64>(),
    ) {
        let d_input = rows.len() / d_output;
        prop_assume!(d_input > 0);
        let rows = &rows[..d_output * d_input];
        let config = SamplingConfig::new(budget)
            .with_granularity(if per_layer { Granularity::PerLayer } else { Granularity::PerNeuron })
            .with_scheme(scheme)
            .with_seed(seed);
        match outcome(|| SampledWeights::sample(rows, d_output, d_input, &config, "fc")) {
            Ok(Ok(sampled)) => {
                prop_assert!(rows.iter().all(|w| w.is_finite()));
                prop_assert!(sampled.dequantize().iter().all(|w| w.is_finite()));
                // Zero weights are never sampled.
                for (w, q) in rows.iter().zip(&sampled.q) {
                    prop_assert!(*w != 0.0 || *q == 0);
                }
            }
            Ok(Err(error)) => names_one_of(&error.to_string(), &["budget", "`fc`", "d_input"])?,
            Err(panic) => prop_assert!(false, "sample panicked: {panic}"),
        }
    }

    /// Whole `Linear` layers of width 1 and more, through the sampled layer's forward.
    #[test]
    fn sampled_linear_layers(
        d_input in 1usize..5, d_output in 1usize..4, amount in 0.01f64..3.0, seed in any::<u64>(),
        batch in 0usize..3,
    ) {
        let device = host_device();
        device.seed(seed);
        let linear = LinearConfig::new(d_input, d_output).init(&device);
        let config = SamplingConfig::new(Budget::Amount(amount)).with_seed(seed);
        let (layer, report) = SampledLinear::from_linear(&linear, &config, "fc").unwrap();
        prop_assert!(report.nonzero <= d_input * d_output);
        let x = Tensor::<2>::ones([batch, d_input], &device);
        let y = layer.forward(x.clone());
        let reference = x.matmul(layer.dense_weight()) + linear.bias.unwrap().val().unsqueeze();
        let (y, reference) = (y.into_data(), reference.into_data());
        prop_assert!(same(&y.try_to_vec::<f32>().unwrap(), &reference.try_to_vec::<f32>().unwrap()));
    }

    #[test]
    fn path_configs(
        widths in prop::collection::vec(size(), 0..4),
        paths in prop_oneof![0usize..40, Just((1usize << 32) + 1), Just(usize::MAX)],
        random in any::<bool>(),
        seed in any::<u64>(),
        gain in prop_oneof![Just(1.0f64), Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), Just(0.0)],
    ) {
        // Sizes within the limits but too large for memory are not degenerate (see the
        // module docs): keep widths small unless they are beyond the limit.
        prop_assume!(widths.iter().all(|&w| !(6..=1 << 32).contains(&w)));
        let generator = if random { PathGenerator::RandomWalk { seed } } else { PathGenerator::Sobol };
        match outcome(|| generate_paths(&widths, paths, generator)) {
            Ok(Ok(generated)) => {
                prop_assert_eq!(generated.count(), paths);
                let config = PathNetConfig::new(widths.clone(), paths)
                    .with_generator(generator)
                    .with_layer(PathLinearConfig::new().with_init(PathInit::KaimingUniform { gain }));
                match outcome(|| config.try_init(&host_device())) {
                    Ok(Ok(net)) => prop_assert_eq!(net.d_input(), widths[0]),
                    Ok(Err(error)) => names_one_of(&error.to_string(), &["init"])?,
                    Err(panic) => prop_assert!(false, "try_init panicked: {panic}"),
                }
            }
            Ok(Err(error)) => names_one_of(&error.to_string(), &["widths", "paths"])?,
            Err(panic) => prop_assert!(false, "generate_paths panicked: {panic}"),
        }
    }

    /// Arbitrary bytes as IDX and CIFAR-10 files: parsed or refused, never a panic.
    #[test]
    fn data_files(bytes in prop::collection::vec(any::<u8>(), 0..64), rank in 0u8..5, header in any::<[u32; 4]>()) {
        let path = Path::new("bytes-given");
        prop_assert!(outcome(|| idx::parse(&bytes, rank, path)).is_ok());
        prop_assert!(outcome(|| cifar::parse(&bytes, path)).is_ok());
        // A well-formed magic number with arbitrary dimensions.
        let mut file = (0x0000_0800u32 | rank as u32).to_be_bytes().to_vec();
        for d in &header[..rank as usize] {
            file.extend_from_slice(&d.to_be_bytes());
        }
        file.extend_from_slice(&bytes);
        match outcome(|| idx::parse(&file, rank, path)) {
            Ok(Ok(array)) => prop_assert_eq!(array.data.len(), bytes.len()),
            Ok(Err(error)) => prop_assert!(error.to_string().contains("bytes-given")),
            Err(panic) => prop_assert!(false, "idx::parse panicked: {panic}"),
        }
    }

    /// Command-line values of the sweep: checked before anything runs.
    #[test]
    fn sweep_values(text in prop_oneof![
        "[0-9]{1,12}", "[0-9]{0,3}\\.[0-9]{0,3}(e[0-9]{1,3})?", "[a-z/-]{0,6}", "[0-9]{1,3}/[0-9]{1,3}",
    ]) {
        for experiment in Experiment::ALL {
            if let Err(error) = experiment.check_values(std::slice::from_ref(&text)) {
                names_one_of(&error.to_string(), &["setting"])?;
            }
        }
        if let Err(error) = Shard::parse(&text) {
            names_one_of(&error.to_string(), &["shard"])?;
        }
    }
}
