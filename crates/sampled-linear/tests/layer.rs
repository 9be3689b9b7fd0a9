//! `SampledLinear` and the model mapper: the stored integers are the sampler's, the layer
//! equals the dense layer with the materialised weights on every backend (through the fan-in
//! kernels, not a fallback), reports, errors, and save/load.

use burn::config::Config;
use burn::module::{Module, Param, ParamId};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Distribution, Tensor, TensorData, Tolerance};
use mcnn_backends::{for_each_backend, fork_identical, host_device};
use mcnn_fan_in::probe::{self, Path};
use mcnn_sequences::counts::{Scheme, row_counts};
use sampled_linear::{
    Baseline, Budget, Granularity, Kernel, LayerKind, SampledLinear, SampledLinearConfig,
    SampledLinearError, SamplingConfig, SamplingScheme, apply_baseline, output_major,
    sample_weights,
};

/// A trained-looking layer: normal weights with a few large ones, drawn on the host.
fn linear(d_input: usize, d_output: usize, seed: u64) -> Linear {
    let host = host_device();
    host.seed(seed);
    mcnn_backends::materialize(LinearConfig::new(d_input, d_output).init(&host))
}

#[test]
fn stored_integers_and_scales_are_the_samplers() {
    let dense = linear(37, 23, 1);
    let config = SamplingConfig::new(Budget::Amount(0.5)).with_seed(9);
    let (layer, report) = SampledLinear::from_linear(&dense, &config, "fc").unwrap();

    // Independent expectation: transpose Burn's [in, out] weight by hand and sample the rows.
    let w = dense.weight.val().into_data().try_to_vec::<f32>().unwrap();
    let rows: Vec<f32> = (0..23)
        .flat_map(|o| (0..37).map(move |j| (o, j)))
        .map(|(o, j)| w[j * 23 + o])
        .collect();
    let expected = row_counts(&rows, 23, 37, 19, Scheme::Jittered, 9).unwrap();

    let ints = |t: Tensor<2, burn::tensor::Int>| {
        t.into_data().convert::<i64>().try_to_vec::<i64>().unwrap()
    };
    let (indices, counts) = layer.indices_and_counts();
    let (indices, counts) = (ints(indices), ints(counts));
    let k = layer.fan_in();
    let mut unpacked = vec![0i32; 23 * 37];
    for o in 0..23 {
        for slot in 0..k {
            unpacked[o * 37 + indices[o * k + slot] as usize] += counts[o * k + slot] as i32;
        }
    }
    assert_eq!(unpacked, expected.q);
    let scales = layer.scales.val().into_data().try_to_vec::<f32>().unwrap();
    let expected_scales: Vec<f32> = expected.summaries.iter().map(|s| s.scale).collect();
    assert_eq!(scales, expected_scales);
    // k is the largest row's number of non-zero counts.
    let widest = (0..23)
        .map(|o| expected.row(o).iter().filter(|&&q| q != 0).count())
        .max();
    assert_eq!(Some(k), widest);
    assert_eq!(
        report.nonzero,
        expected.q.iter().filter(|&&q| q != 0).count()
    );
    assert_eq!(report.samples_per_group, Some(19)); // ⌈0.5 · 37⌉
}

#[test]
fn equals_the_dense_layer_with_materialised_weights_on_every_backend() {
    let host = host_device();
    let dense = linear(64, 40, 2);
    let config = SamplingConfig::new(Budget::Amount(0.25)).with_seed(3);
    let (layer, _) = SampledLinear::from_linear(&dense, &config, "fc").unwrap();
    // A layer this small takes the dense kernel by default; this test is the sparse one's.
    let layer = layer.with_kernel(Kernel::Sparse);
    host.seed(5);
    let x = Tensor::<2>::random([9, 64], Distribution::Normal(0.0, 1.0), &host);

    // The materialised weight, built on the host from the stored integers alone.
    let (rows, _, _) = output_major(&layer.dense_weight());
    let weight = layer.dense_weight().into_data();
    let bias = dense.bias.as_ref().unwrap().val();
    for_each_backend(|kind, device| {
        let sampled = fork_identical(&layer, &device);
        let path = if kind.is_cpu() {
            Path::CpuForward
        } else {
            Path::CubeForward
        };
        let before = probe::count(path);
        let got = sampled.forward(x.clone().to_device(&device)).into_data();
        assert!(
            probe::count(path) > before,
            "{path:?} did not run on {kind}"
        );
        let w = Tensor::<2>::from_data(weight.clone(), &device);
        let expected =
            x.clone().to_device(&device).matmul(w) + bias.clone().to_device(&device).unsqueeze();
        got.assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-5));
    });
    // And the materialised weight is scale · q of the sampler, in Burn's layout.
    let q = sampled_linear::SampledWeights::sample(
        &output_major(&dense.weight.val()).0,
        40,
        64,
        &config,
        "fc",
    )
    .unwrap();
    assert_eq!(rows, q.dequantize());
}

#[test]
fn the_estimate_is_unbiased_over_seeds() {
    let dense = linear(12, 5, 4);
    let x = Tensor::<2>::random([3, 12], Distribution::Normal(0.0, 1.0), &host_device());
    let exact = dense.forward(x.clone());
    let seeds = 400;
    let mut mean = exact.zeros_like();
    for seed in 0..seeds {
        let config = SamplingConfig::new(Budget::PerNeuron(3))
            .with_seed(seed)
            .with_scheme(SamplingScheme::Iid);
        let (layer, _) = SampledLinear::from_linear(&dense, &config, "fc").unwrap();
        mean = mean + layer.forward(x.clone()) / seeds as f32;
    }
    // iid with 3 samples is very noisy per seed; the mean over 400 seeds is not.
    let error = (mean - exact.clone()).abs().max().into_scalar::<f32>();
    let size = exact.abs().max().into_scalar::<f32>();
    assert!(
        error < 0.1 * size,
        "mean error {error} against outputs of size {size}"
    );
}

#[test]
fn a_dead_neuron_outputs_its_bias_without_nan() {
    let host = host_device();
    let dense = linear(6, 3, 5);
    // Zero the weights of output 1 (column 1 of Burn's [in, out] weight).
    let mut w = dense.weight.val().into_data().try_to_vec::<f32>().unwrap();
    for j in 0..6 {
        w[j * 3 + 1] = 0.0;
    }
    let dense = Linear {
        weight: burn::module::Param::from_tensor(Tensor::from_data(
            TensorData::new(w, [6, 3]),
            &host,
        )),
        ..dense
    };
    let (layer, report) =
        SampledLinear::from_linear(&dense, &SamplingConfig::new(Budget::Amount(1.0)), "fc")
            .unwrap();
    let y = layer
        .forward(Tensor::<2>::ones([2, 6], &host))
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let b = dense
        .bias
        .as_ref()
        .unwrap()
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert!(y.iter().all(|v| v.is_finite()));
    assert_eq!((y[1], y[4]), (b[1], b[1]));
    assert_eq!(report.scales.unwrap().0, 0.0);
}

#[derive(Module, Debug)]
struct Net {
    fc1: Linear,
    blocks: Vec<Linear>,
    head: Linear,
}

fn net() -> Net {
    Net {
        fc1: linear(10, 8, 11),
        blocks: vec![linear(8, 8, 12), linear(8, 8, 13)],
        head: linear(8, 3, 14),
    }
}

fn weight(linear: &Linear) -> Vec<f32> {
    linear.weight.val().into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn the_model_mapper_samples_the_selected_linears_and_reports_each() {
    let original = net();
    let config = SamplingConfig::new(Budget::Amount(0.5))
        .with_granularity(Granularity::PerLayer)
        .with_scheme(SamplingScheme::Systematic)
        .with_seed(20);
    let (model, reports) =
        sample_weights(original.clone(), &[LayerKind::Linear], &config, |path| {
            path != "head"
        })
        .unwrap();
    let names: Vec<_> = reports.iter().map(|r| r.layer.as_str()).collect();
    assert_eq!(names, ["fc1", "blocks.0", "blocks.1"]);
    assert_eq!(weight(&model.head), weight(&original.head));
    // Layer i uses seed 20 + i; its weights are scale · q of that sampling, in Burn's layout.
    for (i, (got, before)) in [
        (&model.fc1, &original.fc1),
        (&model.blocks[0], &original.blocks[0]),
        (&model.blocks[1], &original.blocks[1]),
    ]
    .into_iter()
    .enumerate()
    {
        let (rows, d_output, d_input) = output_major(&before.weight.val());
        let expected = sampled_linear::SampledWeights::sample(
            &rows,
            d_output,
            d_input,
            &config.clone().with_seed(20 + i as u64),
            "x",
        )
        .unwrap();
        assert_eq!(
            output_major(&got.weight.val()).0,
            expected.dequantize(),
            "layer {i}"
        );
        assert_eq!(
            reports[i].nonzero,
            expected.q.iter().filter(|&&q| q != 0).count()
        );
        assert_eq!(
            weight(got).iter().filter(|&&w| w != 0.0).count(),
            reports[i].nonzero
        );
    }
    let table = sampled_linear::LayerReport::markdown(&reports);
    assert!(
        table.contains("| blocks.1 | systematic per layer, K = 0.5 | 8 × 8 | 32 |"),
        "{table}"
    );
}

#[test]
fn a_nan_weight_names_the_layer_by_its_path() {
    let mut model = net();
    let mut w = weight(&model.blocks[1]);
    w[2 * 8 + 5] = f32::NAN; // input 2, output 5
    model.blocks[1].weight = burn::module::Param::from_tensor(Tensor::from_data(
        TensorData::new(w, [8, 8]),
        &host_device(),
    ));
    for result in [
        sample_weights(
            model.clone(),
            &[LayerKind::Linear],
            &SamplingConfig::new(Budget::Amount(1.0)),
            |_| true,
        )
        .map(|_| ()),
        apply_baseline(
            model.clone(),
            &[LayerKind::Linear],
            Baseline::Ternary,
            |_| true,
        )
        .map(|_| ()),
    ] {
        let err = result.unwrap_err();
        assert!(
            matches!(&err, SampledLinearError::NonFiniteWeight { layer, output: 5, input: 2, .. } if layer == "blocks.1"),
            "{err}"
        );
    }
}

#[test]
fn baselines_go_through_the_same_mapper() {
    let original = net();
    let baseline = Baseline::Magnitude {
        keep: 0.25,
        granularity: Granularity::PerNeuron,
    };
    let (model, reports) =
        apply_baseline(original.clone(), &[LayerKind::Linear], baseline, |path| {
            path == "fc1"
        })
        .unwrap();
    assert_eq!(reports.len(), 1);
    // 10 inputs per neuron, 0.25 · 10 rounds to 3 kept (2.5 rounds away from 0).
    assert_eq!(reports[0].nonzero, 8 * 3);
    let (rows, _, _) = output_major(&model.fc1.weight.val());
    let (before, _, _) = output_major(&original.fc1.weight.val());
    for (row, orig) in rows.chunks(10).zip(before.chunks(10)) {
        let smallest_kept = row
            .iter()
            .filter(|w| **w != 0.0)
            .map(|w| w.abs())
            .fold(f32::INFINITY, f32::min);
        let largest_dropped = orig
            .iter()
            .zip(row)
            .filter(|(_, w)| **w == 0.0)
            .map(|(o, _)| o.abs())
            .fold(0.0, f32::max);
        assert!(smallest_kept >= largest_dropped);
    }
}

/// The configuration and the record alone rebuild the layer (no dense layer, no sampling):
/// identical outputs, through a file.
#[test]
fn save_and_load_round_trip_from_the_configuration() {
    let host = host_device();
    let (layer, _) = SampledLinear::from_linear(
        &linear(16, 6, 6),
        &SamplingConfig::new(Budget::Amount(1.0)).with_seed(1),
        "fc",
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("mcnn-sampled-linear-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let x = Tensor::<2>::random([3, 16], Distribution::Normal(0.0, 1.0), &host);
    let expected = layer.forward(x.clone()).into_data();
    layer.config().save(dir.join("fc.json")).unwrap();
    layer.clone().save_file(dir.join("fc.bpk")).unwrap();
    let config = SampledLinearConfig::load(dir.join("fc.json")).unwrap();
    let loaded = config.init(&host).load_file(dir.join("fc.bpk"));
    loaded.forward(x).into_data().assert_eq(&expected, true);
    assert_eq!(*loaded.rows.rows(), *layer.rows.rows());
    std::fs::remove_dir_all(&dir).ok();
}

/// A record made for 64 inputs is refused by a layer of 32 inputs of the same number of
/// outputs and non-zeros, at load time, naming `d_input`; a record of another number of
/// non-zeros names `nonzeros`.
#[test]
fn a_record_of_another_layer_is_refused_at_load_time() {
    let host = host_device();
    let sampled = |d_input: usize, per_neuron: usize| {
        SampledLinear::from_linear(
            &linear(d_input, 5, 3),
            &SamplingConfig::new(Budget::PerNeuron(per_neuron))
                .with_scheme(SamplingScheme::Systematic),
            "fc",
        )
        .unwrap()
        .0
    };
    let wide = sampled(64, 8);
    let narrow = sampled(32, 8);
    let mut layout = narrow.rows.layout.clone();
    layout.nonzeros = wide.rows.layout.nonzeros;
    layout.bits = wide.rows.layout.bits;
    let error = SampledLinearConfig::new(layout)
        .init(&host)
        .try_load_record(wide.clone().into_record())
        .unwrap_err()
        .to_string();
    assert!(error.contains("d_input: shape mismatch"), "{error}");
    let fewer = sampled(64, 3);
    let error = fewer
        .config()
        .init(&host)
        .try_load_record(wide.into_record())
        .unwrap_err()
        .to_string();
    assert!(error.contains("nonzeros: shape mismatch"), "{error}");
}

/// A layer built from its configuration says it awaits its record instead of computing with
/// zeros; a record whose stream does not read back is refused naming what is wrong.
#[test]
fn an_empty_or_corrupted_record_is_named() {
    let host = host_device();
    let (layer, _) = SampledLinear::from_linear(
        &linear(20, 4, 5),
        &SamplingConfig::new(Budget::Amount(0.5)),
        "fc",
    )
    .unwrap();
    let empty = layer.config().init(&host);
    let forward = |layer: &SampledLinear| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            layer.forward(Tensor::<2>::ones([1, 20], &host))
        }))
        .map_err(|panic| panic.downcast_ref::<String>().cloned().unwrap_or_default())
    };
    let message = forward(&empty).unwrap_err();
    assert!(message.contains("load its record first"), "{message}");
    // Every word of the stream set to all ones.
    let mut corrupted = layer.clone();
    corrupted.rows.packed = Param::initialized(
        ParamId::new(),
        corrupted.rows.packed.val().ones_like().neg(),
    );
    let message = forward(&corrupted).unwrap_err();
    assert!(
        message.contains("does not match its configuration"),
        "{message}"
    );
}

/// The bits the report gives are those of the record's packed stream, and the bytes on disk
/// are that stream, the scales and the bias, plus Burn's file header.
#[test]
fn stored_bits_match_the_report_and_the_file() {
    let dense = linear(300, 100, 8);
    let config = SamplingConfig::new(Budget::Amount(0.12)).with_seed(2);
    let (layer, report) = SampledLinear::from_linear(&dense, &config, "fc").unwrap();
    assert_eq!(report.stored_bits, Some(layer.rows.layout.bits));
    assert_eq!(layer.rows.layout.nonzeros, report.nonzero);
    let (value_bits, max_abs_q) = (layer.rows.layout.value_bits, report.max_abs_q.unwrap());
    assert_eq!(
        value_bits,
        1 + 32 - (max_abs_q - 1).leading_zeros(),
        "±{max_abs_q}"
    );
    let path = std::env::temp_dir().join(format!("mcnn-sampled-bytes-{}.bpk", std::process::id()));
    layer.clone().save_file(&path).unwrap();
    let bytes = std::fs::metadata(&path).unwrap().len() as usize;
    std::fs::remove_file(&path).ok();
    let stored = layer.stored_bytes();
    assert_eq!(stored, layer.rows.layout.words() * 4 + 2 * 100 * 4);
    assert!(
        bytes >= stored && bytes < stored + 2048,
        "{bytes} bytes on disk, {stored} stored"
    );
    // Far below the dense layer's 120 000 bytes of f32 weights.
    assert!(stored < 120_000 / 5, "{stored}");
}

/// The sparse and the dense kernel compute the same layer, on every backend (the integers
/// first, the scales on the output); the sparse one through the fan-in op. (Whether the dense
/// one skips it cannot be told from the process-wide probe while other tests run.)
#[test]
fn both_kernels_give_the_same_outputs_on_every_backend() {
    let host = host_device();
    let (layer, _) = SampledLinear::from_linear(
        &linear(48, 30, 4),
        &SamplingConfig::new(Budget::Amount(0.7)).with_seed(6),
        "fc",
    )
    .unwrap();
    host.seed(3);
    let x = Tensor::<2>::random([5, 48], Distribution::Normal(0.0, 1.0), &host);
    let expected = layer
        .clone()
        .with_kernel(Kernel::Sparse)
        .forward(x.clone())
        .into_data();
    for_each_backend(|kind, device| {
        for kernel in [Kernel::Sparse, Kernel::Dense, Kernel::Auto] {
            let on_device = fork_identical(&layer, &device).with_kernel(kernel);
            let before = probe::count(if kind.is_cpu() {
                Path::CpuForward
            } else {
                Path::CubeForward
            });
            let y = on_device.forward(x.clone().to_device(&device)).into_data();
            let ran = probe::count(if kind.is_cpu() {
                Path::CpuForward
            } else {
                Path::CubeForward
            }) > before;
            if kernel == Kernel::Sparse {
                assert!(ran, "{kind}: the sparse kernel did not run the fan-in op");
            }
            y.assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-4));
        }
    });
}

#[test]
fn display_and_bad_input() {
    let (layer, _) = SampledLinear::from_linear(
        &linear(8, 3, 7),
        &SamplingConfig::new(Budget::PerNeuron(2)),
        "fc",
    )
    .unwrap();
    let text = format!("{layer}");
    assert!(
        text.contains("d_input: 8") && text.contains("d_output: 3"),
        "{text}"
    );
    let err = SampledLinear::from_linear(
        &linear(8, 3, 7),
        &SamplingConfig::new(Budget::Amount(-0.5)),
        "fc",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid `budget` = Amount(-0.5): a finite sampling amount K > 0 (N = ⌈K·n⌉)"
    );
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        layer.forward(Tensor::<2>::ones([1, 9], &host_device()))
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("d_input = 8"), "{message}");
}
